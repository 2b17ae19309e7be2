/**
 * encodeBatch (docs/scan-rules.md §6): frame a batch of payloads as consecutive records of one
 * stream, chained from prevHash, into one output buffer.
 */
import { crc32 } from 'node:zlib'
import type { EncodeBatchInput, EncodeBatchResult } from '../interface.ts'
import { CODEC_LZ4, CODEC_NONE, CODEC_ZSTD, FORM_LZ4, FORM_NONE, FORM_ZSTD, KIND_BATCH_CONTINUES, KIND_CHECKPOINT, KIND_DATA, INTO_OVERLAP, overlapsInput } from '../interface.ts'
import { AT_FORM, AT_KIND, AT_LENGTH, AT_OFFSET, AT_PREV_HASH, AT_TIMESTAMP, HASH_BYTES, HEADER_BYTES, MAX_KIND, MAX_PAYLOAD_BYTES, MAX_SAFE, RECORD_END, RECORD_OVERHEAD, RECORD_START } from '../format.ts'
import {
  checkBytes, checkUnshared, checkHash32, checkHashName, checkSafeIndex, checkStream, checkStreamName, checkZstdLevel, invalid, isAllZero, isSafeIndex,
} from './args.ts'
import { lz4StoreInto, lz4StoredBound } from './codec.ts'
import { refuseDictionaryWrite } from './dictionary.ts'

import { chainHasherFor, copy32, writeU64, type Digests } from './hash.ts'
import { checkTreeFrontier, extendTree } from './tree.ts'
import { zstdCompress } from './zstd.ts'

/** Reused LZ4 output; a compressed form is copied into the batch only when it is smaller. */
let lz4Scratch = Buffer.alloc(lz4StoredBound(64 * 1024))
const MAX_KEPT_SCRATCH = 16 * 1024 * 1024

function validate(input: EncodeBatchInput) {
  if (input === null || typeof input !== 'object') throw invalid('encodeBatch needs an input object')
  const algorithm = checkHashName(input.hash)
  const stream = checkStreamName(input.stream)
  const payloads = checkBytes(input.payloads, 'payloads')
  const lengths = input.lengths
  if (!(lengths instanceof Uint32Array)) throw invalid('lengths must be a Uint32Array')
  checkUnshared(lengths, 'lengths')
  const n = lengths.length
  if (n < 1) throw invalid('a batch needs at least one record')
  let sum = 0
  let maxLength = 0
  for (let k = 0; k < n; k++) {
    const l = lengths[k]
    if (l > MAX_PAYLOAD_BYTES) throw invalid(`lengths[${k}] = ${l} exceeds ${MAX_PAYLOAD_BYTES} bytes`)
    sum += l
    if (l > maxLength) maxLength = l
  }
  if (sum !== payloads.length) throw invalid(`lengths add up to ${sum} bytes, payloads has ${payloads.length}`)
  const timestamps = input.timestamps
  if (!(timestamps instanceof Float64Array)) throw invalid('timestamps must be a Float64Array')
  checkUnshared(timestamps, 'timestamps')
  if (timestamps.length !== n) throw invalid(`${timestamps.length} timestamps for ${n} payloads`)
  for (let k = 0; k < n; k++) {
    const t = timestamps[k]
    if (!isSafeIndex(t)) throw invalid(`timestamps[${k}] must be a non-negative safe integer, got ${t}`)
    if (k > 0 && t < timestamps[k - 1]) throw invalid(`timestamps[${k}] = ${t} is before timestamps[${k - 1}] = ${timestamps[k - 1]}`)
  }
  const firstOffset = checkSafeIndex(input.firstOffset, 'firstOffset')
  if (firstOffset > MAX_SAFE - (n - 1)) throw invalid(`offsets ${firstOffset}..+${n - 1} pass 2^53 − 1`)
  const prevHash = checkHash32(input.prevHash, 'prevHash')
  if ((firstOffset === 0) !== isAllZero(prevHash)) {
    throw invalid(firstOffset === 0 ? 'prevHash must be all zeros at offset 0' : `prevHash must not be all zeros at offset ${firstOffset}`)
  }
  const kind = input.kind
  if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > MAX_KIND) throw invalid(`kind must be 0..2, got ${String(kind)}`)
  const codec = input.codec
  if (codec !== CODEC_NONE && codec !== CODEC_LZ4 && codec !== CODEC_ZSTD) throw invalid(`codec must be 0, 1 or 2, got ${String(codec)}`)
  const level = codec === CODEC_ZSTD ? checkZstdLevel(input.level) : 0
  const dictionaryId = input.dictionaryId ?? 0
  if (typeof dictionaryId !== 'number' || !Number.isInteger(dictionaryId) || dictionaryId < 0 || dictionaryId > 0xffffffff) {
    throw invalid(`dictionaryId must be 0..2^32 − 1, got ${String(dictionaryId)}`)
  }
  if (dictionaryId !== 0 && codec !== CODEC_ZSTD) throw invalid(`a dictionary compresses with codec 2 (zstd), got codec ${codec}`)
  if (dictionaryId !== 0) refuseDictionaryWrite()
  const wantHashes = input.wantHashes ?? false
  if (typeof wantHashes !== 'boolean') throw invalid('wantHashes must be a boolean')
  const batchEnds = checkBatchEnds(input.batchEnds, n, kind)
  const into = input.into === undefined ? undefined : checkBytes(input.into, 'into')
  const treeFrontier = input.treeFrontier === undefined ? null : checkTreeFrontier(input.treeFrontier, firstOffset)
  if (into !== undefined && overlapsInput(into, input)) throw invalid(INTO_OVERLAP)
  return { algorithm, stream, payloads, lengths, n, sum, maxLength, timestamps, firstOffset, prevHash, kind, codec, level, wantHashes, into, batchEnds, treeFrontier }
}

/** batchEnds: strictly increasing record counts ending at n, data records only (the same rule and messages as the Rust core). */
function checkBatchEnds(batchEnds: unknown, n: number, kind: number): Uint32Array | null {
  if (batchEnds === undefined || batchEnds === null) return null
  if (!(batchEnds instanceof Uint32Array)) throw invalid('batchEnds must be a Uint32Array')
  if (batchEnds.length === 0) return null
  if (kind !== KIND_DATA) throw invalid('batchEnds is for data records only')
  let before = 0
  for (const end of batchEnds) {
    if (end <= before || end > n) throw invalid(`batchEnds must increase strictly within 1..${n}, got ${end} after ${before}`)
    before = end
  }
  if (before !== n) throw invalid(`batchEnds must end at the batch's ${n} records, ends at ${before}`)
  return batchEnds
}

export function encodeBatch(digests: Digests, input: EncodeBatchInput): EncodeBatchResult {
  const v = validate(input)
  const { payloads, lengths, n, timestamps, kind } = v
  // A checkpoint is never compressed.
  const codec = kind === KIND_CHECKPOINT ? CODEC_NONE : v.codec
  const hasher = chainHasherFor(digests, v.algorithm, v.stream, checkStream)
  // Compressed forms are kept only when strictly smaller, so this bounds the output.
  const bound = RECORD_OVERHEAD * n + v.sum
  const out = v.into !== undefined && v.into.length >= bound ? Buffer.from(v.into.buffer, v.into.byteOffset, v.into.byteLength) : Buffer.allocUnsafe(bound)
  const positions = new Float64Array(n)
  // The tree's leaves are the chain hashes.
  const hashes = v.wantHashes || v.treeFrontier !== null ? Buffer.allocUnsafe(n * HASH_BYTES) : null
  const cur = Buffer.alloc(HASH_BYTES)
  let lz4Out = lz4Scratch
  if (codec === CODEC_LZ4 && lz4Out.length < lz4StoredBound(v.maxLength)) {
    lz4Out = Buffer.alloc(lz4StoredBound(v.maxLength))
    // Keep a grown buffer for the next batch, unless it is too big to pin.
    if (lz4Out.length <= MAX_KEPT_SCRATCH) lz4Scratch = lz4Out
  }

  // The hash of the record before: prevHash, then each record's hash in turn.
  let prev: Uint8Array = v.prevHash
  let prevAt = 0
  let op = 0
  let p = 0
  let nextEnd = 0
  for (let k = 0; k < n; k++) {
    // Bit 7 on every record of a call's batch but its last.
    let recordKind = kind
    if (v.batchEnds !== null) {
      if (v.batchEnds[nextEnd] === k + 1) nextEnd++
      else recordKind |= KIND_BATCH_CONTINUES
    }
    const length = lengths[k]
    const payload = payloads.subarray(p, p + length)
    p += length
    const offset = v.firstOffset + k
    const timestamp = timestamps[k]
    const at = op
    positions[k] = at

    out.writeUInt32LE(RECORD_START, at)
    writeU64(out, offset, at + AT_OFFSET)
    writeU64(out, timestamp, at + AT_TIMESTAMP)
    copy32(prev, prevAt, out, at + AT_PREV_HASH)
    out[at + AT_KIND] = recordKind

    let form = FORM_NONE
    let stored = length
    const body = at + HEADER_BYTES
    if (codec === CODEC_LZ4) {
      const end = lz4StoreInto(payload, lz4Out, 0)
      if (end < length) {
        out.set(lz4Out.subarray(0, end), body)
        form = FORM_LZ4
        stored = end
      }
    } else if (codec === CODEC_ZSTD) {
      const frame = zstdCompress(payload, v.level)
      if (frame.length < length) {
        out.set(frame, body)
        form = FORM_ZSTD
        stored = frame.length
      }
    }
    if (form === FORM_NONE) out.set(payload, body)
    out[at + AT_FORM] = form
    out.writeUInt32LE(stored, at + AT_LENGTH)
    const crcAt = body + stored
    out.writeUInt32LE(crc32(out.subarray(at, crcAt)), crcAt)
    out.writeUInt32LE(RECORD_END, crcAt + 4)
    op = crcAt + 8

    hasher.commit(payload)
    const hashOut = hashes ?? cur
    const hashAt = hashes === null ? 0 : k * HASH_BYTES
    hasher.chain(prev, prevAt, offset, timestamp, recordKind, length, hashOut, hashAt)
    prev = hashOut
    prevAt = hashAt
  }

  const lastHash = Buffer.from(prev.subarray(prevAt, prevAt + HASH_BYTES))
  return {
    // Compression may leave the buffer partly unused: hand back only the framed bytes.
    bytes: op === out.length ? out : out.subarray(0, op),
    positions,
    lastHash,
    hashes: v.wantHashes ? hashes : null,
    tree: v.treeFrontier === null ? null : extendTree(v.treeFrontier, v.firstOffset, hashes!),
  }
}
