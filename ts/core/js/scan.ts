/**
 * scanSegment (docs/scan-rules.md §4): walk a chunk of a segment record by record, deciding for the
 * first record that is not valid whether it is partial, torn, corrupt, a chain break, or
 * unresolved until more bytes are seen.
 */
import { ChainlogError } from '../../errors.ts'
import type { ScanInput, ScanResult, ScanStop } from '../interface.ts'
import { AT_FORM, AT_KIND, AT_LENGTH, AT_OFFSET, AT_PREV_HASH, AT_TIMESTAMP, CHECKPOINT_PAYLOAD_BYTES, HASH_BYTES, HEADER_BYTES, MAX_CHECKPOINT_NOTE_BYTES, MAX_PAYLOAD_BYTES, MAX_SAFE, RECORD_OVERHEAD } from '../format.ts'
import { FORM_NONE, FORM_REDACTED, KIND_CHECKPOINT } from '../interface.ts'
import {
  asBuffer, checkBytes, checkHashName, checkNullableHash32, checkNullableSafeIndex, checkSafeIndex, checkStream, checkStreamName, invalid,
  isAllZero,
} from './args.ts'
import { findValid } from './find.ts'
import { checkFrame, FRAME_VALID, readU32, startsLikeStart } from './frame.ts'
import { chainHasherFor, equal32, readU64, type Digests } from './hash.ts'
import { payloadOf, redactedCommitmentAt, redactedLength } from './payload.ts'

/** Growable per-record result columns; sized by what the data can hold, at most. */
class Columns {
  positions: Float64Array
  offsets: Float64Array
  timestamps: Float64Array
  kinds: Uint8Array
  count = 0

  constructor(capacity: number) {
    this.positions = new Float64Array(capacity)
    this.offsets = new Float64Array(capacity)
    this.timestamps = new Float64Array(capacity)
    this.kinds = new Uint8Array(capacity)
  }

  push(position: number, offset: number, timestamp: number, kind: number): void {
    if (this.count === this.positions.length) this.grow()
    const k = this.count++
    this.positions[k] = position
    this.offsets[k] = offset
    this.timestamps[k] = timestamp
    this.kinds[k] = kind
  }

  private grow(): void {
    const n = Math.max(16, this.positions.length * 2)
    const p = new Float64Array(n), o = new Float64Array(n), t = new Float64Array(n), k = new Uint8Array(n)
    p.set(this.positions), o.set(this.offsets), t.set(this.timestamps), k.set(this.kinds)
    this.positions = p, this.offsets = o, this.timestamps = t, this.kinds = k
  }
}

/** Initial column capacity: enough for typical chunks without sizing by the worst case. */
const INITIAL_CAPACITY = 1024

export function scanSegment(digests: Digests, input: ScanInput): ScanResult {
  if (input === null || typeof input !== 'object') throw invalid('scanSegment needs an input object')
  const algorithm = checkHashName(input.hash)
  const stream = checkStreamName(input.stream)
  const data = checkBytes(input.data, 'data')
  const base = checkSafeIndex(input.basePosition, 'basePosition')
  if (base > MAX_SAFE - data.length) throw invalid(`basePosition ${base} + ${data.length} bytes passes 2^53 − 1`)
  const firstOffset = checkNullableSafeIndex(input.firstOffset, 'firstOffset')
  const prevHash = checkNullableHash32(input.prevHash, 'prevHash')
  const prevTimestamp = checkNullableSafeIndex(input.prevTimestamp, 'prevTimestamp')
  if (typeof input.verifyChain !== 'boolean') throw invalid('verifyChain must be a boolean')
  if (typeof input.final !== 'boolean') throw invalid('final must be a boolean')
  const verify = input.verifyChain
  const final = input.final

  const d = asBuffer(data)
  const len = d.length
  const cols = new Columns(Math.min(INITIAL_CAPACITY, Math.floor(len / RECORD_OVERHEAD) + 1))
  const hasher = verify ? chainHasherFor(digests, algorithm, stream, checkStream) : null
  // Hash of the last counted record (verify mode); its 32 bytes are the expected prev_hash.
  let last: Buffer | null = prevHash === null ? null : Buffer.from(prevHash)
  let expOffset = firstOffset
  let prevTs = prevTimestamp

  let i = 0
  let stop: ScanStop = 'end'
  let reason = ''
  let needBytes = 0
  let nextValidPosition = -1
  let searchFrom = -1

  while (i < len) {
    const check = checkFrame(d, i, len)
    if (check !== FRAME_VALID) {
      if (check > 0 && !final) {
        stop = 'partial'
        needBytes = check
        reason = `record at position ${base + i} needs ${check} bytes, ${len - i} available`
        break
      }
      const found = findValid(d, i + 1, len, base, final)
      if (found.state === 'found') {
        stop = 'corrupt'
        nextValidPosition = found.position
        reason = `bad record at position ${base + i}; a valid record follows at ${found.position}`
      } else if (found.state === 'more') {
        stop = 'unresolved'
        searchFrom = found.position
        reason = `bad record at position ${base + i}; a candidate at ${found.position} needs more bytes`
      } else if (final) {
        stop = 'torn'
        reason = `bad or incomplete record at position ${base + i} and no valid record after it: torn tail`
      } else {
        stop = 'unresolved'
        searchFrom = base + len
        reason = `bad record at position ${base + i}; no valid record in the rest of the chunk`
      }
      break
    }

    const offset = readU64(d, i + AT_OFFSET)
    const timestamp = readU64(d, i + AT_TIMESTAMP)
    const kind = d[i + AT_KIND]
    const form = d[i + AT_FORM]
    const storedLength = readU32(d, i + AT_LENGTH)
    const at = base + i
    // Rules 1–5 (both modes), then 6–7 (verify mode), in the order of docs/scan-rules.md §4.
    if (offset > MAX_SAFE || (expOffset !== null && offset !== expOffset)) {
      stop = 'corrupt'
      reason = `record at position ${at} has offset ${offset}, expected ${expOffset ?? 'a safe integer'}`
      break
    }
    if (timestamp > MAX_SAFE || (prevTs !== null && timestamp < prevTs)) {
      stop = 'corrupt'
      reason = `record at position ${at} (offset ${offset}) has timestamp ${timestamp}, before ${prevTs ?? 'a safe integer'}`
      break
    }
    if (
      (kind === KIND_CHECKPOINT && (form !== FORM_NONE || storedLength < CHECKPOINT_PAYLOAD_BYTES || storedLength > CHECKPOINT_PAYLOAD_BYTES + MAX_CHECKPOINT_NOTE_BYTES)) ||
      (form === FORM_REDACTED && storedLength !== CHECKPOINT_PAYLOAD_BYTES)
    ) {
      stop = 'corrupt'
      reason = `record at position ${at} (offset ${offset}) has kind ${kind}, form ${form} and length ${storedLength}, which do not go together`
      break
    }
    const zeroPrev = isAllZero(d, i + AT_PREV_HASH, i + AT_PREV_HASH + HASH_BYTES)
    if ((offset === 0) !== zeroPrev) {
      stop = 'chain'
      reason = offset === 0
        ? `record at position ${at} has offset 0 but a non-zero prev_hash`
        : `record at position ${at} (offset ${offset}) has a zero prev_hash`
      break
    }
    if (kind === KIND_CHECKPOINT) {
      const p = i + HEADER_BYTES
      if (!equal32(d, i + AT_PREV_HASH, d, p) || readU64(d, p + HASH_BYTES) !== offset) {
        stop = 'chain'
        reason = `checkpoint at position ${at} (offset ${offset}) does not carry its prev_hash and offset`
        break
      }
    }
    if (hasher !== null) {
      if (last !== null && !equal32(last, 0, d, i + AT_PREV_HASH)) {
        stop = 'chain'
        reason = `record at position ${at} (offset ${offset}) does not link to the hash of the record before it`
        break
      }
      let payloadLength: number
      try {
        const payload = payloadOf(d, i, form, storedLength, MAX_PAYLOAD_BYTES)
        if (payload === null) {
          payloadLength = redactedLength(d, i, storedLength, MAX_PAYLOAD_BYTES)
          hasher.setCommitment(d, redactedCommitmentAt(i))
        } else {
          payloadLength = payload.length
          hasher.commit(payload)
        }
      } catch (err) {
        if (!(err instanceof ChainlogError)) throw err
        stop = 'corrupt'
        reason = `record at position ${at} (offset ${offset}): ${err.message}`
        break
      }
      last ??= Buffer.alloc(HASH_BYTES)
      hasher.chainOfRecord(d, i, payloadLength, last, 0)
    }
    cols.push(at, offset, timestamp, kind)
    expOffset = offset + 1
    prevTs = timestamp
    i += RECORD_OVERHEAD + storedLength
  }

  const count = cols.count
  let stopOffset: number | null = null
  if (stop !== 'end' && len - i >= 12 && startsLikeStart(d, i, len)) {
    const o = readU64(d, i + AT_OFFSET)
    if (o <= MAX_SAFE) stopOffset = o
  }
  return {
    count,
    positions: cols.positions.slice(0, count),
    offsets: cols.offsets.slice(0, count),
    timestamps: cols.timestamps.slice(0, count),
    kinds: cols.kinds.slice(0, count),
    validLength: i,
    nextOffset: expOffset,
    lastTimestamp: prevTs,
    lastHash: verify ? last : null,
    stop,
    stopPosition: base + i,
    stopOffset,
    reason,
    needBytes,
    nextValidPosition,
    searchFrom,
  }
}
