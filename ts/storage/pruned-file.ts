/**
 * `<stream>/pruned.json` (SPEC §9): where a pruned stream now starts. Not a cache: it is the only
 * record of the chain hash and timestamp of the last pruned record, which the first kept record
 * links to, and of the segment the stream's files start at. Written atomically (temporary file,
 * fsync, rename, directory fsync) before any segment is deleted.
 */
import { join } from 'node:path'
import type { Storage } from './storage.ts'

export const PRUNED_FILE = 'pruned.json'
/** A pruned.json holds four small fields; anything far larger is not ours. */
const MAX_PRUNED_FILE_BYTES = 64 * 1024
const HASH_HEX = /^[0-9a-f]{64}$/

/** Where a pruned stream starts: its first kept offset and segment, and the record before them. */
export interface PrunedState {
  firstOffset: number
  firstSegment: number
  /** Chain hash of record firstOffset − 1 (the last pruned one). */
  prevHash: Buffer
  /** Timestamp of record firstOffset − 1. */
  prevTimestamp: number
}

export type PrunedRead = { state: PrunedState | null; problem: null } | { state: null; problem: string }

/** The stream's pruned.json: null state when absent; a problem when it exists but cannot be used. */
export async function readPruned(storage: Storage, streamDir: string): Promise<PrunedRead> {
  const path = join(streamDir, PRUNED_FILE)
  let text: string
  try {
    const size = await storage.fileSize(path)
    if (size === null) return { state: null, problem: null }
    if (size > MAX_PRUNED_FILE_BYTES) return { state: null, problem: `${PRUNED_FILE} is ${size} bytes, expected at most ${MAX_PRUNED_FILE_BYTES}` }
    text = (await storage.readFile(path)).toString('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: null, problem: null }
    return { state: null, problem: `${PRUNED_FILE}: cannot read: ${(err as Error).message}` }
  }
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return { state: null, problem: `${PRUNED_FILE} is not JSON` }
  }
  const o = v as Record<string, unknown>
  const count = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
  if (typeof v !== 'object' || v === null || !count(o.firstOffset) || !count(o.firstSegment) || !count(o.prevTimestamp) || typeof o.prevHash !== 'string' || !HASH_HEX.test(o.prevHash)) {
    return { state: null, problem: `${PRUNED_FILE} does not hold { firstOffset, firstSegment, prevHash (64 hex digits), prevTimestamp }` }
  }
  if ((o.firstOffset as number) === 0 || (o.firstSegment as number) === 0) {
    return { state: null, problem: `${PRUNED_FILE} says firstOffset ${String(o.firstOffset)}, firstSegment ${String(o.firstSegment)}; a prune keeps neither at 0` }
  }
  return {
    state: { firstOffset: o.firstOffset as number, firstSegment: o.firstSegment as number, prevHash: Buffer.from(o.prevHash, 'hex'), prevTimestamp: o.prevTimestamp as number },
    problem: null,
  }
}

/** Replaces pruned.json atomically and durably. */
export async function writePruned(storage: Storage, streamDir: string, state: PrunedState): Promise<void> {
  const text = JSON.stringify({ firstOffset: state.firstOffset, firstSegment: state.firstSegment, prevHash: state.prevHash.toString('hex'), prevTimestamp: state.prevTimestamp }) + '\n'
  await storage.writeFileAtomic(join(streamDir, PRUNED_FILE), text)
}
