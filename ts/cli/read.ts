/**
 * `chainlog read <dir> <stream>` streams records to stdout (bounded memory on any stream);
 * `chainlog tail <dir> <stream>` prints the last few and then follows new appends (polling).
 * Both open the store read-only and verify as they read (the engine's checkpoint mode).
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Log, LogRecord, VerifyMode } from '../index.ts'
import { EXIT_OK } from './exit-codes.ts'
import { recordJson, recordLine } from './output.ts'
import { requireStream, withStore } from './store-dir.ts'

/** Records printed per write to stdout. */
const PAGE_RECORDS = 1000

export interface ReadCommandOptions {
  from?: number
  fromTime?: number
  limit?: number
  json?: boolean
  verify?: VerifyMode
}

export async function readCommand(dir: string, stream: string, opts: ReadCommandOptions): Promise<number> {
  await withStore(dir, { readOnly: true }, async (log) => {
    await requireStream(log, dir, stream)
    const limit = opts.limit ?? Infinity
    if (limit === 0) return
    // The engine's read() seeks by time; iterate() then streams from there with bounded memory
    // and verifies the chain once along the way (paging with read() would re-verify from the
    // nearest checkpoint on every page).
    // Without --from, a pruned stream is read from its first kept offset.
    let from = opts.from ?? (await log.head(stream)).firstOffset
    if (opts.fromTime !== undefined) {
      const first = await log.read(stream, { from, fromTime: opts.fromTime, limit: 1, verify: opts.verify })
      if (first.length === 0) return
      from = first[0].offset
    }
    const page: LogRecord[] = []
    let count = 0
    try {
      for await (const record of log.iterate(stream, { from, verify: opts.verify })) {
        page.push(record)
        if (++count >= limit) break
        if (page.length >= PAGE_RECORDS) await print(page.splice(0), opts.json)
      }
    } finally {
      // Everything read before a damaged record is printed before its error is reported.
      if (page.length > 0) await print(page, opts.json)
    }
  })
  return EXIT_OK
}

export interface TailCommandOptions {
  lines?: number
  from?: number
  json?: boolean
}

/** How often tail looks for new records. */
const TAIL_POLL_MS = 250
/** Every this many polls tail looks again even when the files seem unchanged. */
const TAIL_RECHECK_POLLS = 8

/**
 * Prints from `from`, or the last `lines` records, then follows until SIGINT or SIGTERM.
 *
 * The writer is usually another process, and the engine's `iterate({ follow: true })` wakes only
 * on appends made through the same Log. So tail polls instead: when the stream's segment files
 * change size, it opens the store read-only again (which sees every append made before it opened)
 * and iterates from the next offset it has not printed yet.
 */
export async function tailCommand(dir: string, stream: string, opts: TailCommandOptions): Promise<number> {
  let stopped = false
  let wake = () => {}
  const stop = () => { stopped = true; wake() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    let seen = segmentSizes(dir, stream)
    let next = await withStore(dir, { readOnly: true }, async (log) => {
      if (!(await log.streams()).includes(String(stream))) process.stderr.write(`chainlog: no stream named ${JSON.stringify(stream)} yet; waiting for it\n`)
      return printFrom(log, stream, opts.from ?? (await startOfLast(log, stream, opts.lines ?? 10)), opts.json)
    })
    for (let polls = 1; !stopped; polls++) {
      await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, TAIL_POLL_MS) })
      const now = segmentSizes(dir, stream)
      // Now and then even without a change: a look taken while a batch was half written ends
      // before it (SPEC §2), and the files may not change again once it is whole.
      if (stopped || (now === seen && polls % TAIL_RECHECK_POLLS !== 0)) continue
      seen = now
      next = await withStore(dir, { readOnly: true }, (log) => printFrom(log, stream, next, opts.json))
    }
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
  return EXIT_OK
}

/** Prints every record from `from` on; returns the offset after the last one printed. */
async function printFrom(log: Log, stream: string, from: number, json: boolean | undefined): Promise<number> {
  let next = from
  for await (const record of log.iterate(stream, { from })) {
    await print([record], json)
    next = record.offset + 1
  }
  return next
}

/** A cheap fingerprint of the stream's segment files (names and sizes): changes on every append. */
function segmentSizes(dir: string, stream: string): string {
  const streamDir = join(dir, stream)
  try {
    return readdirSync(streamDir).filter((f) => f.endsWith('.log')).sort().map((f) => `${f}:${statSync(join(streamDir, f)).size}`).join(',')
  } catch {
    return '' // not created yet
  }
}

/** The offset from which the last `lines` data records start (checkpoints leave gaps in offsets). */
async function startOfLast(log: Log, stream: string, lines: number): Promise<number> {
  const { nextOffset } = await log.head(stream)
  if (lines === 0) return nextOffset
  // Go back far enough to cover `lines` data records plus any checkpoints between them.
  let from = Math.max(0, nextOffset - lines)
  for (;;) {
    const records = await log.read(stream, { from, verify: 'none' })
    if (records.length >= lines || from === 0) return records.length > lines ? records[records.length - lines].offset : from
    from = Math.max(0, from - lines)
  }
}

/** Writes records to stdout, waiting for the pipe to drain (`| head` closes it early: exit quietly). */
async function print(records: LogRecord[], json: boolean | undefined): Promise<void> {
  const text = records.map((r) => (json ? JSON.stringify(recordJson(r)) : recordLine(r))).join('\n') + '\n'
  if (!process.stdout.write(text)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve))
}
