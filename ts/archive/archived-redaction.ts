/**
 * Redaction reaching the archive (SPEC §9, §10): a redacted record's original payload must leave
 * the bucket too. Objects are never overwritten, so a segment a redaction rewrote is uploaded again
 * under a new generation (layout.ts: `seg/<N>.<gen>.log`, `tail/<N>.<gen>/…`), HEAD.json names the
 * generation (If-Match), and only then are the objects HEAD no longer names deleted. A crash
 * between any two steps leaves HEAD naming complete objects: at worst garbage, which the next
 * sweep deletes (the first pass after a restart sweeps).
 *
 * The archiver notices a redaction by the tombstones in the bytes it ships (every redaction
 * appends one, after its target) and by the active segment's records having moved under the
 * shipped tail (a redacted record changes size). HEAD never advances past a tombstone before the
 * archived copy of its target is redacted, so nothing needs remembering across a restart.
 * Under S3 Object Lock (compliance or governance retention) the old objects cannot be deleted:
 * the original payload then stays in the bucket until the lock expires.
 */
import { randomBytes } from 'node:crypto'
import { AT_FORM, AT_KIND, AT_LENGTH, HEADER_BYTES, RECORD_OVERHEAD } from '../core/format.ts'
import { FORM_REDACTED, KIND_MASK, KIND_TOMBSTONE } from '../core/interface.ts'
import type { Stream } from '../engine/stream.ts'
import { type ArchiveHead, sealedGeneration, segmentIndexKey, segmentKey, segmentMetaKey, tailFolder } from './layout.ts'
import { pickTailChunks } from './remote-stream.ts'
import type { ObjectAccess } from './s3.ts'

/** Bytes of a tombstone payload naming its target: u64 offset (engine/redaction.ts). */
const TOMBSTONE_TARGET_BYTES = 8

/** A new generation for objects HEAD with `seq` will name first; the random part keeps an attempt cut short from colliding with a later one. */
export const newGeneration = (seq: number): string => `g${seq}-${randomBytes(4).toString('hex')}`

/** Targets of the tombstones among whole records `bytes` (record-aligned, as shipped). */
export function tombstoneTargets(bytes: Uint8Array): number[] {
  const targets: number[] = []
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let at = 0; at + HEADER_BYTES <= view.length; at += RECORD_OVERHEAD + view.readUInt32LE(at + AT_LENGTH)) {
    if ((view[at + AT_KIND] & KIND_MASK) !== KIND_TOMBSTONE || view.readUInt32LE(at + AT_LENGTH) < TOMBSTONE_TARGET_BYTES) continue
    targets.push(Number(view.readBigUInt64LE(at + HEADER_BYTES)))
  }
  return targets
}

/** The targets of the tombstones starting at `positions` (found by the segment's upload), read from the local segment (rare: one small read each). */
export async function tombstoneTargetsAt(positions: number[], read: (position: number, length: number) => Promise<Buffer>): Promise<number[]> {
  const out: number[] = []
  for (const p of positions) {
    const header = await read(p, HEADER_BYTES + TOMBSTONE_TARGET_BYTES)
    if ((header[AT_KIND] & KIND_MASK) === KIND_TOMBSTONE && header.readUInt32LE(AT_LENGTH) >= TOMBSTONE_TARGET_BYTES) out.push(Number(header.readBigUInt64LE(HEADER_BYTES)))
  }
  return out
}

/** Whether the local record at `offset` is stored redacted (form 3): the local rewrite is done. */
export async function redactedLocally(s: Stream, offset: number): Promise<boolean> {
  const loc = await s.locate(offset)
  if (loc === null) return false
  return (await s.readSegment(loc.segment, loc.position + AT_FORM, 1))[0] === FORM_REDACTED
}

/**
 * Crash tests set CHAINLOG_TEST_ARCHIVE_KILL_AT to 'generation-uploaded' (new objects up, HEAD not
 * yet naming them) or 'head-written' (HEAD names them, the old objects not yet deleted): the
 * process SIGKILLs itself there, as kill -9 would if it could be timed into that window.
 */
const KILL_AT = process.env.CHAINLOG_TEST_ARCHIVE_KILL_AT
export function reachedArchiveStep(step: 'generation-uploaded' | 'head-written'): void {
  if (KILL_AT === step) process.kill(process.pid, 'SIGKILL')
}

/**
 * Deletes the stream's segment and tail objects HEAD does not name: generations a redaction
 * replaced, tail chunks of segments now sealed, of an older tail generation or off HEAD's path
 * through the live tail, and leftovers of an attempt cut short (uploaded, HEAD never written).
 * Sealed segments past HEAD in the original keys are kept: they are history a stopped archiver
 * uploaded (remote-stream.ts reads them), and this one uploads the same bytes again.
 */
export async function sweepUnnamed(objects: ObjectAccess, stream: string, head: ArchiveHead): Promise<number> {
  const named = new Set<string>()
  for (const n of head.sealed) {
    const gen = sealedGeneration(head, n)
    for (const key of [segmentKey(stream, n, gen), segmentMetaKey(stream, n, gen), segmentIndexKey(stream, n, gen)]) named.add(key)
  }
  const { keys } = await objects.list(`${stream}/`)
  const tail = head.tail
  if (tail !== null) {
    const folder = tailFolder(stream, tail.num, tail.gen)
    for (const key of pickTailChunks(keys.map((k) => k.key).filter((k) => k.startsWith(folder)), tail.end) ?? []) named.add(key)
  }
  let removed = 0
  for (const { key } of keys) {
    if (named.has(key)) continue
    const seg = /^[^/]+\/seg\/(\d{1,15})(\.[^./]+)?\.(?:log|json|log\.idx)$/.exec(key)
    // The original keys past HEAD are kept (see above); any other segment or tail object HEAD does not name goes.
    if (seg !== null ? seg[2] === undefined && Number(seg[1]) >= head.sealed.length : !key.startsWith(`${stream}/tail/`)) continue
    await objects.remove(key)
    removed++
  }
  return removed
}
