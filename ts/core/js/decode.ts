/**
 * decodeRecords (docs/scan-rules.md §5): payloads, metadata and recomputed chain hashes of records at
 * known positions, optionally checking that they link up.
 */
import { ChainlogError } from '../../errors.ts'
import { FORM_LZ4, type DecodedRecord, type DecodeInput, type DecodeOneInput, type DecodeResult } from '../interface.ts'
import { AT_FORM, AT_KIND, AT_LENGTH, AT_OFFSET, AT_PREV_HASH, AT_TIMESTAMP, HASH_BYTES, MAX_SAFE } from '../format.ts'
import {
  asBuffer, checkBytes, checkUnshared, checkHashName, checkMaxPayloadBytes, checkNullableHash32, checkSafeIndex, checkStream, checkStreamName, invalid,
} from './args.ts'
import { checkFrame, FRAME_VALID, readU32 } from './frame.ts'
import { chainHasherFor, readU64, type Digests } from './hash.ts'
import { payloadOf, redactedCommitmentAt, redactedLength } from './payload.ts'

/** decodeOne: decodeRecords of one record (the JS core has no per-call cost worth a path of its own). */
export function decodeOne(digests: Digests, input: DecodeOneInput): DecodedRecord {
  if (input === null || typeof input !== 'object') throw invalid('decodeOne needs an input object')
  if (typeof input.position !== 'number') throw invalid('position must be a number')
  const d = decodeRecords(digests, {
    hash: input.hash, stream: input.stream, data: input.data, basePosition: input.basePosition, positions: Float64Array.of(input.position),
    expectPrevHash: input.expectPrevHash, payloadsFrom: 0, maxPayloadBytes: input.maxPayloadBytes,
  })
  return {
    offset: d.offsets[0], timestamp: d.timestamps[0], kind: d.kinds[0], form: d.forms[0],
    prevHash: d.prevHashes.subarray(0, HASH_BYTES), hash: d.hashes.subarray(0, HASH_BYTES), payload: d.payloads,
  }
}

export function decodeRecords(digests: Digests, input: DecodeInput): DecodeResult {
  if (input === null || typeof input !== 'object') throw invalid('decodeRecords needs an input object')
  const algorithm = checkHashName(input.hash)
  const stream = checkStreamName(input.stream)
  const data = checkBytes(input.data, 'data')
  const base = checkSafeIndex(input.basePosition, 'basePosition')
  const positions = input.positions
  if (!(positions instanceof Float64Array)) throw invalid('positions must be a Float64Array')
  checkUnshared(positions, 'positions')
  for (let k = 0; k < positions.length; k++) checkSafeIndex(positions[k], `positions[${k}]`)
  const expectPrev = checkNullableHash32(input.expectPrevHash, 'expectPrevHash')
  const payloadsFrom = checkSafeIndex(input.payloadsFrom, 'payloadsFrom')
  const cap = checkMaxPayloadBytes(input.maxPayloadBytes)

  const d = asBuffer(data)
  const len = d.length
  const n = positions.length
  const hasher = chainHasherFor(digests, algorithm, stream, checkStream)
  const offsets = new Float64Array(n)
  const timestamps = new Float64Array(n)
  const kinds = new Uint8Array(n)
  const forms = new Uint8Array(n)
  // Outside Node's shared Buffer pool: the result's views outlive the call (see unpooledConcat).
  const prevHashes = Buffer.allocUnsafeSlow(n * HASH_BYTES)
  const hashes = Buffer.allocUnsafeSlow(n * HASH_BYTES)
  const payloadEnds = new Float64Array(n)
  const parts: Uint8Array[] = []
  let total = 0

  for (let k = 0; k < n; k++) {
    const position = positions[k]
    const i = position - base
    if (i < 0 || i >= len || checkFrame(d, i, len) !== FRAME_VALID) {
      throw new ChainlogError('ERR_CORRUPT', `no valid record at position ${position}`, { position })
    }
    const offset = readU64(d, i + AT_OFFSET)
    const form = d[i + AT_FORM]
    const storedLength = readU32(d, i + AT_LENGTH)
    offsets[k] = offset
    timestamps[k] = readU64(d, i + AT_TIMESTAMP)
    kinds[k] = d[i + AT_KIND]
    forms[k] = form
    d.copy(prevHashes, k * HASH_BYTES, i + AT_PREV_HASH, i + AT_PREV_HASH + HASH_BYTES)

    let payload: Uint8Array | null
    let payloadLength: number
    try {
      payload = payloadOf(d, i, form, storedLength, cap)
      if (payload === null) {
        payloadLength = redactedLength(d, i, storedLength, cap)
        hasher.setCommitment(d, redactedCommitmentAt(i))
      } else {
        payloadLength = payload.length
        hasher.commit(payload)
      }
    } catch (err) {
      if (err instanceof ChainlogError) {
        throw new ChainlogError(err.code, `record at position ${position} (offset ${offset}): ${err.message}`, { position, offset: offset <= MAX_SAFE ? offset : undefined, cause: err })
      }
      throw err
    }
    hasher.chainOfRecord(d, i, payloadLength, hashes, k * HASH_BYTES)

    if (expectPrev !== null) {
      const expected = k === 0 ? expectPrev : hashes.subarray((k - 1) * HASH_BYTES, k * HASH_BYTES)
      if (d.compare(expected, 0, HASH_BYTES, i + AT_PREV_HASH, i + AT_PREV_HASH + HASH_BYTES) !== 0) {
        throw new ChainlogError('ERR_CHAIN_BROKEN', `record at position ${position} (offset ${offset}) does not link to ${k === 0 ? 'the expected prev_hash' : 'the record before it'}`, { position, offset })
      }
    }

    if (k >= payloadsFrom && payload !== null && payload.length > 0) {
      // Views of `data` stay valid; LZ4 output lives in a reused scratch buffer: copy it.
      parts.push(form === FORM_LZ4 ? Buffer.from(payload) : payload)
      total += payload.length
    }
    payloadEnds[k] = total
  }

  return {
    count: n,
    offsets, timestamps, kinds, forms, prevHashes, hashes,
    payloads: unpooledConcat(parts, total),
    payloadEnds,
  }
}

/**
 * Buffer.concat into a buffer of its own: a small Buffer.concat is a view of Node's shared pool,
 * whose `.buffer` would hand the caller whatever else the process keeps there.
 */
function unpooledConcat(parts: Uint8Array[], total: number): Buffer {
  const out = Buffer.allocUnsafeSlow(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
