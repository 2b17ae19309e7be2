/**
 * Segment files: naming, listing, and byte-range I/O through file handles. A read never loads a
 * whole segment: callers ask for ranges, and chunked readers keep ranges bounded.
 */
import fs, { promises as fsp, type BigIntStats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { ioError } from './durable.ts'

const SEGMENT_PREFIX = 'segment_'
const SEGMENT_SUFFIX = '.log'
export const INDEX_SUFFIX = '.idx'
/** Segment numbers are zero-padded to this width (wider past 999999, as in the seed). */
const SEGMENT_NUMBER_WIDTH = 6
const SEGMENT_NAME = /^segment_(\d{6,})\.log$/

export function segmentFileName(num: number): string {
  return `${SEGMENT_PREFIX}${String(num).padStart(SEGMENT_NUMBER_WIDTH, '0')}${SEGMENT_SUFFIX}`
}

function parseSegmentFileName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name)
  if (m === null) return null
  const num = Number(m[1])
  // One spelling per number: "segment_0000001.log" is not segment 1.
  return Number.isSafeInteger(num) && segmentFileName(num) === name ? num : null
}

export function segmentPath(streamDir: string, num: number): string {
  return join(streamDir, segmentFileName(num))
}

/** Segment numbers present in a stream directory, ascending. */
export async function listSegmentNumbers(streamDir: string): Promise<number[]> {
  let names: string[]
  try {
    names = await fsp.readdir(streamDir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw ioError(err, `cannot list the stream directory ${streamDir}`)
  }
  const nums: number[] = []
  for (const name of names) {
    const num = parseSegmentFileName(name)
    if (num !== null) nums.push(num)
  }
  return nums.sort((a, b) => a - b)
}

/** Reads up to `length` bytes at `position`; shorter only at end of file. */
export async function readRange(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done === length ? buf : buf.subarray(0, done)
}

/**
 * Writes of up to this many bytes are a synchronous write on the event loop: copying 1 MiB into the
 * page cache takes about as long as the thread-pool round trip of an async write (docs/perf-notes.md),
 * and most groups are far smaller. Larger writes go through the pool, so a big batch never stalls
 * the event loop for long.
 */
export const SYNC_WRITE_MAX_BYTES = 1024 * 1024

/** Writes all of `data` at `position` (fs writes may be partial). */
export async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0
  if (data.length <= SYNC_WRITE_MAX_BYTES) {
    // fs.writeSync through the module object (not a named import), so a test can fail it.
    while (done < data.length) done += fs.writeSync(handle.fd, data, done, data.length - done, position + done)
    return
  }
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done)
    done += bytesWritten
  }
}

/** Opens a segment for reading, runs `fn`, and closes it. */
export async function withSegmentReader<T>(path: string, fn: (handle: FileHandle) => Promise<T>): Promise<T> {
  let handle: FileHandle
  try {
    handle = await fsp.open(path, 'r')
  } catch (err) {
    throw ioError(err, `cannot open the segment ${path}`)
  }
  try {
    return await fn(handle)
  } finally {
    await handle.close()
  }
}

export async function fileSize(handle: FileHandle): Promise<number> {
  const st = (await handle.stat({ bigint: true })) as BigIntStats
  return Number(st.size)
}
