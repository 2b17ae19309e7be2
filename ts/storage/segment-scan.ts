/**
 * Scans a byte range of a segment file in bounded chunks with core.scanSegment, resolving the
 * interface's 'partial' and 'unresolved' stops, and decides what a bad record is: 'torn' only if
 * no valid record starts anywhere after it up to end of file, 'corrupt' otherwise. Used by open-
 * time recovery, index rebuilds and verify. Memory stays at about one chunk (or one record).
 */
import type { StorageFile } from './storage.ts'
import type { ChainlogCore, HashAlgorithm, ScanResult } from '../core/interface.ts'

/** Bytes read per scan step. A larger record is read whole, but never past end of file. */
export const SCAN_CHUNK_BYTES = 4 * 1024 * 1024

export interface RangeScanInput {
  hash: HashAlgorithm
  stream: string
  /** Absolute position of the first record to scan. */
  start: number
  /** Bytes of the file to consider: the scan treats `end` as end of file. */
  end: number
  firstOffset: number | null
  prevHash: Uint8Array | null
  prevTimestamp: number | null
  verifyChain: boolean
  /** Called with every chunk's result that counted records (positions, offsets, kinds…), and the chunk's bytes (`data[0]` at `basePosition`). */
  onRecords?: (r: ScanResult, data: Buffer, basePosition: number) => void
  /** Called after each chunk with the absolute position reached. */
  onProgress?: (position: number) => void
}

export interface RangeScan {
  /** 'end': clean to `end`. 'torn' / 'corrupt' / 'chain': a bad record at stopPosition. */
  outcome: 'end' | 'torn' | 'corrupt' | 'chain'
  count: number
  /** End of the last valid record. */
  validEnd: number
  nextOffset: number | null
  lastTimestamp: number | null
  lastHash: Buffer | null
  /** Position of the bad record (= validEnd), offset from its header if readable. */
  stopPosition: number
  stopOffset: number | null
  reason: string
  /** 'corrupt' after a framing failure: where the next valid record starts, else -1. */
  nextValidPosition: number
}

export async function scanRange(core: ChainlogCore, handle: StorageFile, input: RangeScanInput): Promise<RangeScan> {
  const { end } = input
  let pos = input.start
  let firstOffset = input.firstOffset
  let prevHash: Uint8Array | null = input.prevHash
  let prevTimestamp = input.prevTimestamp
  let lastHash: Buffer | null = input.prevHash === null ? null : Buffer.from(input.prevHash)
  let count = 0
  let want = SCAN_CHUNK_BYTES
  const result = (outcome: RangeScan['outcome'], stopOffset: number | null, reason: string, nextValidPosition = -1): RangeScan => ({
    outcome, count, validEnd: pos, nextOffset: firstOffset, lastTimestamp: prevTimestamp,
    lastHash: input.verifyChain ? lastHash : null, stopPosition: pos, stopOffset, reason, nextValidPosition,
  })

  while (pos < end) {
    const length = Math.min(want, end - pos)
    const data = await handle.read(pos, length)
    if (data.length < length) {
      // The file is shorter than the caller said: what is missing cannot hold a valid record.
      return result('torn', null, `expected ${end - pos} bytes at position ${pos}, the file ends after ${data.length}`)
    }
    const final = pos + length === end
    const r = await core.scanSegmentAsync({
      hash: input.hash, stream: input.stream, data, basePosition: pos, firstOffset, prevHash, prevTimestamp,
      verifyChain: input.verifyChain, final,
    })
    if (r.count > 0) {
      count += r.count
      input.onRecords?.(r, data, pos)
      firstOffset = r.nextOffset
      prevTimestamp = r.lastTimestamp
      if (input.verifyChain) {
        lastHash = r.lastHash
        prevHash = r.lastHash
      } else {
        prevHash = null // links are only checked in verify mode
      }
    }
    pos = r.stopPosition
    input.onProgress?.(pos)
    switch (r.stop) {
      case 'end':
        want = SCAN_CHUNK_BYTES
        continue
      case 'partial':
        if (pos + r.needBytes > end) {
          // The record claims bytes past end of file: it is incomplete, so it is bad. Torn only
          // if nothing valid follows it.
          return decide(core, handle, end, pos + 1, (next) =>
            next < 0
              ? result('torn', r.stopOffset, `record at position ${pos} needs ${r.needBytes} bytes, only ${end - pos} remain`)
              : result('corrupt', r.stopOffset, `record at position ${pos} is incomplete but a valid record starts at ${next}`, next),
          )
        }
        // Never less than the record needs; never more than the file holds (checked above).
        want = Math.max(SCAN_CHUNK_BYTES, r.needBytes)
        continue
      case 'torn':
        return result('torn', r.stopOffset, r.reason)
      case 'corrupt':
        return result('corrupt', r.stopOffset, r.reason, r.nextValidPosition)
      case 'chain':
        return result('chain', r.stopOffset, r.reason)
      case 'unresolved':
        return decide(core, handle, end, r.searchFrom, (next) =>
          next < 0 ? result('torn', r.stopOffset, r.reason) : result('corrupt', r.stopOffset, `${r.reason}; a valid record starts at ${next}`, next),
        )
    }
  }
  return result('end', null, '')
}

async function decide<T>(core: ChainlogCore, handle: StorageFile, end: number, from: number, then: (next: number) => T): Promise<T> {
  return then(await findValidAfter(core, handle, from, end))
}

/**
 * Position of the first valid record (START, CRC, END all right) at or after `from` and wholly
 * before `end`, or -1. Bounded chunks; a candidate that would run past `end` is not valid.
 */
async function findValidAfter(core: ChainlogCore, handle: StorageFile, from: number, end: number): Promise<number> {
  let pos = from
  let want = SCAN_CHUNK_BYTES
  while (pos < end) {
    const length = Math.min(want, end - pos)
    const data = await handle.read(pos, length)
    const final = pos + data.length >= end || data.length < length
    const f = core.findValidRecord({ data, basePosition: pos, final })
    if (f.state === 'found') return f.position
    if (f.state === 'none') {
      if (final) return -1
      if (f.position > pos) {
        pos = f.position
        want = SCAN_CHUNK_BYTES
      } else {
        want = length * 2 // no progress: look at a wider window
      }
      continue
    }
    // 'more': the candidate at f.position needs more bytes than this chunk held.
    if (f.position + f.needBytes > end) {
      pos = f.position + 1 // it cannot be complete before end of file
      want = SCAN_CHUNK_BYTES
    } else {
      want = Math.max(SCAN_CHUNK_BYTES, f.needBytes)
      pos = f.position
    }
  }
  return -1
}
