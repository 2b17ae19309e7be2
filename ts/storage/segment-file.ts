/**
 * Segment files: naming, listing, and opening them for reads. A read never loads a whole
 * segment: callers ask for ranges, and chunked readers keep ranges bounded.
 */
import { join } from 'node:path'
import { ioError } from './durable.ts'
import type { Storage, StorageFile } from './storage.ts'

const SEGMENT_PREFIX = 'segment_'
const SEGMENT_SUFFIX = '.log'
export const INDEX_SUFFIX = '.idx'
/** Segment numbers are zero-padded to this width (wider past 999999). */
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
export async function listSegmentNumbers(storage: Storage, streamDir: string): Promise<number[]> {
  let entries: Awaited<ReturnType<Storage['list']>>
  try {
    entries = await storage.list(streamDir)
  } catch (err) {
    throw ioError(err, `cannot list the stream directory ${streamDir}`)
  }
  const nums: number[] = []
  for (const { name } of entries ?? []) {
    const num = parseSegmentFileName(name)
    if (num !== null) nums.push(num)
  }
  return nums.sort((a, b) => a - b)
}

/** Opens a segment for reading, runs `fn`, and closes it. */
export async function withSegmentReader<T>(storage: Storage, path: string, fn: (file: StorageFile) => Promise<T>): Promise<T> {
  let handle: StorageFile
  try {
    handle = await storage.open(path, 'read')
  } catch (err) {
    throw ioError(err, `cannot open the segment ${path}`)
  }
  try {
    return await fn(handle)
  } finally {
    await handle.close()
  }
}
