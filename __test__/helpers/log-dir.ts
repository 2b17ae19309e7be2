import type { ExecutionContext } from 'ava'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { Log, RECOVERY_WARNING, type LogOptions } from '../../ts/index.ts'
import type { BackendName } from '../../ts/core/interface.ts'

/** Recovery warnings emitted in this process (collected, not printed). */
export const recoveryWarnings: Error[] = []

// Recovery warns by design and these tests recover on purpose hundreds of times: keep Node's
// default printer for every other warning, collect ours.
const printers = process.listeners('warning')
process.removeAllListeners('warning')
process.on('warning', (w) => {
  if ((w as Error & { code?: string }).code === RECOVERY_WARNING) recoveryWarnings.push(w)
  else for (const p of printers) p(w)
})

/** A fresh directory, removed when the test ends. */
export function tempDir(t: ExecutionContext, label = 'log'): string {
  const dir = mkdtempSync(join(tmpdir(), `chainlog-${label}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Opens a Log on `dir` with the test's backend; closed (errors ignored) when the test ends. */
export async function openLog(t: ExecutionContext, backend: BackendName, dir: string, options: LogOptions = {}): Promise<Log> {
  const log = await Log.open(dir, { backend, ...options })
  t.teardown(() => log.close().catch(() => {}))
  return log
}

/** The stores the public-API suites run on: a directory, and memory (Log.memory). */
export const STORES = ['disk', 'memory'] as const
export type StoreKind = (typeof STORES)[number]

/** A test's case name: the core, and the store when it is not the disk ('native', 'js/memory'). */
export function caseName(backend: BackendName, store: StoreKind): string {
  return store === 'disk' ? backend : `${backend}/${store}`
}

/** A fresh, empty log on `store` with the test's backend; closed (errors ignored) when the test ends. */
export async function freshLog(t: ExecutionContext, backend: BackendName, store: StoreKind, options: LogOptions = {}): Promise<Log> {
  if (store === 'disk') return openLog(t, backend, tempDir(t), options)
  const log = await Log.memory({ backend, ...options })
  t.teardown(() => log.close().catch(() => {}))
  return log
}

export function segmentFile(dir: string, stream: string, num = 0): string {
  return join(dir, stream, `segment_${String(num).padStart(6, '0')}.log`)
}

export function readSegment(dir: string, stream: string, num = 0): Buffer {
  return readFileSync(segmentFile(dir, stream, num))
}

export function writeSegment(dir: string, stream: string, num: number, bytes: Uint8Array): void {
  writeFileSync(segmentFile(dir, stream, num), bytes)
}

export function segmentSize(dir: string, stream: string, num = 0): number {
  return statSync(segmentFile(dir, stream, num)).size
}

export function segmentNumbers(dir: string, stream: string): number[] {
  return readdirSync(join(dir, stream))
    .map((n) => /^segment_(\d+)\.log$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b)
}

/** Payload strings of records. */
export function texts(records: { payload: Buffer }[]): string[] {
  return records.map((r) => r.payload.toString())
}

/** The events event-<from>..event-<to-1>. */
export function events(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `event-${from + i}`)
}

/** Code of a thrown ChainlogError (or undefined). */
export function codeOf(err: unknown): string | undefined {
  return (err as { code?: string } | undefined)?.code
}

/**
 * Leaves a Log as a crash would (no closing checkpoint, no final index or manifest write) but
 * without leaking its file handles or its LOCK within this test process.
 */
export async function abandon(log: Log): Promise<void> {
  const internals = log as unknown as { lock: { release(): Promise<void> }; streamSet: { opened(): Array<{ closeHandles(): Promise<void> }> } }
  for (const s of internals.streamSet.opened()) await s.closeHandles()
  await internals.lock.release()
}

/** Every file under `dir` whose name is not in `skip`, by path relative to `dir`, with its bytes. */
export function filesIn(dir: string, skip: readonly string[] = ['LOCK']): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || skip.includes(e.name)) continue
    const path = join(e.parentPath, e.name)
    out.set(relative(dir, path), readFileSync(path))
  }
  return out
}

/** Every file under `dir` (but those in `skip`) with its SHA-256: the whole store's state, to show a call changed nothing. */
export function fileHashes(dir: string, skip: readonly string[] = ['LOCK']): Record<string, string> {
  return Object.fromEntries([...filesIn(dir, skip)].map(([path, bytes]) => [path, createHash('sha256').update(bytes).digest('hex')]))
}

/**
 * The checkpoint records of a stream's segment files as the bytes hold them (SPEC §2): offset,
 * payload length, the 40-byte prefix and the note after it (null: an unsigned checkpoint).
 */
export function checkpointRecords(dir: string, stream: string): Array<{ offset: number; length: number; prefix: Buffer; note: string | null }> {
  const out: Array<{ offset: number; length: number; prefix: Buffer; note: string | null }> = []
  for (const num of segmentNumbers(dir, stream)) {
    const seg = readSegment(dir, stream, num)
    for (let p = 0; p + 66 <= seg.length; ) {
      const length = seg.readUInt32LE(p + 54)
      if ((seg[p + 52] & 0x7f) === 1) {
        const payload = seg.subarray(p + 58, p + 58 + length)
        out.push({ offset: Number(seg.readBigUInt64LE(p + 4)), length, prefix: Buffer.from(payload.subarray(0, 40)), note: length > 40 ? payload.subarray(40).toString('utf8') : null })
      }
      p += 66 + length
    }
  }
  return out
}
