/**
 * The frame check of docs/scan-rules.md §2 and the field readers of a framed record (SPEC §2).
 */
import { crc32 } from 'node:zlib'
import { AT_FORM, AT_KIND, AT_LENGTH, HEADER_BYTES, MAX_FORM, kindIsValid, MAX_PAYLOAD_BYTES, RECORD_END, RECORD_OVERHEAD, RECORD_START } from '../format.ts'

export const FRAME_VALID = 0
const FRAME_INVALID = -1
const START_0 = RECORD_START & 0xff // 0xFE
const START_1 = (RECORD_START >>> 8) & 0xff
const START_2 = (RECORD_START >>> 16) & 0xff
const START_3 = RECORD_START >>> 24

export function readU32(d: Uint8Array, i: number): number {
  return (d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (d[i + 3] << 24)) >>> 0
}

/** True if the first min(4, len − i) bytes at i match the start of START. */
export function startsLikeStart(d: Uint8Array, i: number, len: number): boolean {
  const avail = len - i
  if (avail <= 0) return false
  if (d[i] !== START_0) return false
  if (avail > 1 && d[i + 1] !== START_1) return false
  if (avail > 2 && d[i + 2] !== START_2) return false
  if (avail > 3 && d[i + 3] !== START_3) return false
  return true
}

/**
 * Frame check of the candidate at i in d[0..len): FRAME_VALID, FRAME_INVALID, or (> 0) the
 * number of bytes from i needed to decide (undecided). The caller maps undecided to invalid
 * when the data is final.
 */
export function checkFrame(d: Uint8Array, i: number, len: number): number {
  const avail = len - i
  if (avail < HEADER_BYTES) return startsLikeStart(d, i, len) ? RECORD_OVERHEAD : FRAME_INVALID
  if (d[i] !== START_0 || d[i + 1] !== START_1 || d[i + 2] !== START_2 || d[i + 3] !== START_3) return FRAME_INVALID
  const payloadLength = readU32(d, i + AT_LENGTH)
  if (!kindIsValid(d[i + AT_KIND]) || d[i + AT_FORM] > MAX_FORM || payloadLength > MAX_PAYLOAD_BYTES) return FRAME_INVALID
  if (avail < RECORD_OVERHEAD + payloadLength) return RECORD_OVERHEAD + payloadLength
  const crcAt = i + HEADER_BYTES + payloadLength
  // END before CRC: the same outcome, and the cheap test first.
  if (readU32(d, crcAt + 4) !== RECORD_END) return FRAME_INVALID
  if (crc32(d.subarray(i, crcAt)) !== readU32(d, crcAt)) return FRAME_INVALID
  return FRAME_VALID
}
