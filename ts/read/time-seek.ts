/** Time seek: the first offset whose timestamp is at or after a time (timestamps never decrease in a stream). */
import { AT_OFFSET, AT_TIMESTAMP } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import type { Stream } from '../engine/stream.ts'
import { segmentFileName } from '../storage/segment-file.ts'

/** Bytes of a record header read to learn its timestamp (START, offset, timestamp). */
const TIMESTAMP_PROBE_BYTES = AT_TIMESTAMP + 8

/** First offset whose timestamp is ≥ `time` (nextOffset if none): binary search, O(log n) header reads. */
export async function offsetAtTime(s: Stream, time: number): Promise<number> {
  let lo = s.firstOffset // after a prune, an earlier time starts at the first kept record
  let hi = s.nextOffset
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if ((await timestampAt(s, mid)) >= time) hi = mid
    else lo = mid + 1
  }
  return lo
}

async function timestampAt(s: Stream, offset: number): Promise<number> {
  const at = await s.locate(offset)
  if (at === null) {
    throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: offset ${offset} is not readable in ${segmentFileName(s.segmentFor(offset).num)}`, { stream: s.name, offset })
  }
  const header = await s.readSegment(at.segment, at.position, TIMESTAMP_PROBE_BYTES)
  const found = header.readBigUInt64LE(AT_OFFSET)
  if (found !== BigInt(offset)) {
    throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: the record at position ${at.position} has offset ${found}, expected ${offset}`, { stream: s.name, offset })
  }
  return Number(header.readBigUInt64LE(AT_TIMESTAMP))
}
