/**
 * The native core: wraps the napi-rs binding built from crates/chainlog-node (found and loaded by
 * native-loader.ts) as a ChainlogCore.
 *
 * The Rust side checks every value (safe integers, ranges, lengths, hash names) and reports
 * failures as errors whose message starts with the code ("ERR_CORRUPT: …"); this file checks
 * only JS types, which the binding cannot see before napi's conversion, and turns the code
 * prefix back into a ChainlogError.
 */
import { Buffer, constants as bufferConstants } from 'node:buffer'
import { ChainlogError, isErrorCode } from '../errors.ts'
import { HASH_BYTES, RECORD_OVERHEAD } from './format.ts'
import { loadNativeBinding } from './native-loader.ts'
import {
  type ChainlogCore,
  type DecodedRecord,
  type DecodeInput,
  type DecodeOneInput,
  type DecodeResult,
  type EncodeBatchInput,
  type EncodeBatchResult,
  type FindValidRecordInput,
  type FindValidRecordResult,
  type HashAlgorithm,
  type RecordHashInput,
  type ScanInput,
  type ScanResult,
  type ScanStop,
  INTO_OVERLAP,
  overlapsInput,
} from './interface.ts'

const BUFFER_MAX_LENGTH = bufferConstants.MAX_LENGTH

/** The raw binding (crates/chainlog-node/src/lib.rs). Nullable results come back as undefined. */
interface RawScanResult extends Omit<ScanResult, 'nextOffset' | 'lastTimestamp' | 'lastHash' | 'stopOffset' | 'stop'> {
  nextOffset?: number
  lastTimestamp?: number
  lastHash?: Buffer
  stopOffset?: number
  stop: string
}

interface RawBinding {
  abiVersion(): number
  /** encodeBatch with every output in a buffer made here (crates/chainlog-node/src/record_encoder.rs); returns the bytes written into `into`. */
  encodeInto(
    hash: string, stream: string, firstOffset: number, prevHash: Uint8Array, kind: number, codec: number, level: number,
    payloads: Uint8Array, lengths: Uint32Array, timestamps: Float64Array,
    into: Uint8Array, positionsOut: Float64Array, lastHashOut: Buffer, hashesOut: Buffer | undefined,
  ): number
  scanSegment(input: ScanInput): RawScanResult
  scanSegmentAsync(input: ScanInput): Promise<RawScanResult>
  findValidRecord(input: FindValidRecordInput): { state: string; position: number; needBytes: number }
  /** Packed into one array (see unpackDecode): one napi allocation per call, not nine. */
  decodeRecords(input: DecodeInput): Float64Array
  decodeRecordsAsync(input: DecodeInput): Promise<Float64Array>
  /** A stream's single-record decoder (its chain hasher and buffers kept between calls; see decodeOne). */
  recordDecoder(hash: string, stream: string): RecordDecoder
  decodeOneInto(decoder: RecordDecoder, data: Uint8Array, basePosition: number, position: number, expectPrevHash: Uint8Array | undefined, maxPayloadBytes: number, out: Uint8Array): number
  commitment(hash: string, payload: Uint8Array): Buffer
  recordHash(hash: string, input: RecordHashInput): Buffer
  crc32(data: Uint8Array): number
  compress(codec: number, level: number, data: Uint8Array): Buffer
  decompress(form: number, stored: Uint8Array, maxBytes: number): Buffer
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err)
}

/** Loads the native core (found and ABI-checked by native-loader.ts), or says why it could not. */
export function loadNativeCore(): { core: ChainlogCore } | { error: string } {
  const loaded = loadNativeBinding()
  return 'binding' in loaded ? { core: wrap(loaded.binding as RawBinding) } : loaded
}

// ---- the wrapper -------------------------------------------------------------------------------

function invalid(message: string): ChainlogError {
  return new ChainlogError('ERR_INVALID_ARGUMENT', message)
}

/** Turns a binding error ("ERR_CODE: message") into a ChainlogError; anything else is napi refusing a type. */
function toChainlogError(err: unknown): ChainlogError {
  if (err instanceof ChainlogError) return err
  const message = describe(err)
  const m = /^(ERR_[A-Z_]+): /.exec(message)
  if (m && isErrorCode(m[1])) {
    // Where, as the JS core reports it: "record at position P (offset O)", "no valid record at position P".
    const details: { position?: number; offset?: number } = {}
    const position = /\bposition (\d+)/.exec(message)
    const offset = /\(offset (\d+)\)/.exec(message)
    if (position) details.position = Number(position[1])
    if (offset && Number(offset[1]) <= Number.MAX_SAFE_INTEGER) details.offset = Number(offset[1])
    return new ChainlogError(m[1], message.slice(m[0].length), details)
  }
  return new ChainlogError('ERR_INVALID_ARGUMENT', `native core refused its arguments: ${message}`, { cause: err })
}

function call<T>(body: () => T): T {
  try {
    return body()
  } catch (err) {
    throw toChainlogError(err)
  }
}

async function callAsync<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (err) {
    throw toChainlogError(err)
  }
}

// JS types only: the values (safe integers, ranges, lengths) are checked in Rust.
function object(v: unknown, what: string): void {
  if (v === null || typeof v !== 'object') throw invalid(`${what} needs an input object`)
}
function number(v: unknown, what: string): void {
  if (typeof v !== 'number') throw invalid(`${what} must be a number, got ${typeof v}`)
}
function nullableNumber(v: unknown, what: string): void {
  if (v !== null && v !== undefined) number(v, what)
}
function bytes(v: unknown, what: string): void {
  if (!(v instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array`)
}
function nullableBytes(v: unknown, what: string): void {
  if (v !== null && v !== undefined) bytes(v, what)
}
function string(v: unknown, what: string): void {
  if (typeof v !== 'string') throw invalid(`${what} must be a string`)
}
function boolean(v: unknown, what: string): void {
  if (typeof v !== 'boolean') throw invalid(`${what} must be a boolean`)
}

/** napi's Option<T> takes undefined, not null: nullable fields are passed as undefined. */
// Built field by field, not with a spread: a spread copy costs more than the call on small inputs.
function rawScan(i: ScanInput): ScanInput {
  return {
    hash: i.hash, stream: i.stream, data: i.data, basePosition: i.basePosition, firstOffset: i.firstOffset ?? undefined,
    prevHash: i.prevHash ?? undefined, prevTimestamp: i.prevTimestamp ?? undefined, verifyChain: i.verifyChain, final: i.final,
  } as unknown as ScanInput
}

function rawDecode(i: DecodeInput): DecodeInput {
  return {
    hash: i.hash, stream: i.stream, data: i.data, basePosition: i.basePosition, positions: i.positions,
    expectPrevHash: i.expectPrevHash ?? undefined, payloadsFrom: i.payloadsFrom, maxPayloadBytes: i.maxPayloadBytes,
  } as unknown as DecodeInput
}

/** The fields of every input that reads segment bytes. */
function checkSegmentInput(input: { hash: string; stream: string; data: Uint8Array; basePosition: number }, what: string): void {
  object(input, what)
  string(input.hash, 'hash')
  string(input.stream, 'stream')
  bytes(input.data, 'data')
  number(input.basePosition, 'basePosition')
}

function checkScan(input: ScanInput): void {
  checkSegmentInput(input, 'scanSegment')
  nullableNumber(input.firstOffset, 'firstOffset')
  nullableBytes(input.prevHash, 'prevHash')
  nullableNumber(input.prevTimestamp, 'prevTimestamp')
  boolean(input.verifyChain, 'verifyChain')
  boolean(input.final, 'final')
}

function checkDecodeOne(input: DecodeOneInput): void {
  checkSegmentInput(input, 'decodeOne')
  number(input.position, 'position')
  nullableBytes(input.expectPrevHash, 'expectPrevHash')
  number(input.maxPayloadBytes, 'maxPayloadBytes')
}

function checkDecode(input: DecodeInput): void {
  checkSegmentInput(input, 'decodeRecords')
  if (!(input.positions instanceof Float64Array)) throw invalid('positions must be a Float64Array')
  nullableBytes(input.expectPrevHash, 'expectPrevHash')
  number(input.payloadsFrom, 'payloadsFrom')
  number(input.maxPayloadBytes, 'maxPayloadBytes')
}

/**
 * The views of a packed decode result (crates/chainlog-node decode_result): f64 words [P, offsets,
 * timestamps, payload ends], then bytes: prev hashes, hashes, kinds, forms, payloads (P bytes).
 */
function unpackDecode(f: Float64Array, n: number): DecodeResult {
  const buf = f.buffer
  const p = f[0]
  let at = f.byteOffset + (1 + 3 * n) * 8
  const prevHashes = Buffer.from(buf, at, HASH_BYTES * n)
  at += HASH_BYTES * n
  const hashes = Buffer.from(buf, at, HASH_BYTES * n)
  at += HASH_BYTES * n
  const kinds = new Uint8Array(buf, at, n)
  const forms = new Uint8Array(buf, at + n, n)
  const payloads = Buffer.from(buf, at + 2 * n, p)
  return {
    count: n,
    offsets: f.subarray(1, 1 + n),
    timestamps: f.subarray(1 + n, 1 + 2 * n),
    kinds, forms, prevHashes, hashes, payloads,
    payloadEnds: f.subarray(1 + 2 * n, 1 + 3 * n),
  }
}

/** decodeOneInto's output: f64 offset, f64 timestamp, kind, form, 6 zero bytes, prev hash, hash, payload. */
const ONE_HEAD_BYTES = 24 + 2 * HASH_BYTES
/** Decoders kept (one per store hash and stream); past this many the cache starts over. */
const MAX_RECORD_DECODERS = 64

/** The native RecordDecoder, an opaque external handle. */
declare const recordDecoderBrand: unique symbol
type RecordDecoder = { readonly [recordDecoderBrand]: true }

/**
 * Decoders by hash and stream, and the one used last (gets of one stream skip the key and
 * lookup); the binding's two functions held directly, not looked up on the binding per call.
 */
interface RecordDecoders {
  make: RawBinding['recordDecoder']
  decodeInto: RawBinding['decodeOneInto']
  byKey: Map<string, RecordDecoder>
  last: RecordDecoder | null
  lastStream: string
  lastHash: string
}

/**
 * decodeOne through a RecordDecoder of the stream (its hasher kept between calls) writing into
 * the result's buffer: no input object, strings or result vectors cross per call, and nothing is
 * copied after. The result's buffers are views of that one buffer.
 */
function decodeOneNative(decoders: RecordDecoders, input: DecodeOneInput): DecodedRecord {
  let decoder = decoders.last
  if (decoder === null || decoders.lastStream !== input.stream || decoders.lastHash !== input.hash) {
    const key = `${input.hash}/${input.stream}`
    decoder = decoders.byKey.get(key) ?? null
    if (decoder === null) {
      if (decoders.byKey.size >= MAX_RECORD_DECODERS) decoders.byKey.clear()
      const made = call(() => decoders.make(input.hash, input.stream))
      decoders.byKey.set(key, made)
      decoder = made
    }
    decoders.last = decoder
    decoders.lastStream = input.stream
    decoders.lastHash = input.hash
  }
  // Decoded straight into the result's own buffer, sized for a record stored as is (the payload
  // is the stored bytes: the record's length less the framing); a larger payload (a compressed
  // record) says how much it needs, and is decoded again into a buffer of that size.
  let out = Buffer.allocUnsafe(ONE_HEAD_BYTES + Math.max(0, input.data.length - RECORD_OVERHEAD))
  let n = decodeOneInto(decoders, decoder, input, out)
  if (n < 0) {
    out = Buffer.allocUnsafe(-n)
    n = decodeOneInto(decoders, decoder, input, out)
  }
  return {
    offset: out.readDoubleLE(0), timestamp: out.readDoubleLE(8), kind: out[16], form: out[17],
    prevHash: out.subarray(24, 24 + HASH_BYTES), hash: out.subarray(24 + HASH_BYTES, ONE_HEAD_BYTES), payload: out.subarray(ONE_HEAD_BYTES, ONE_HEAD_BYTES + n),
  }
}

function decodeOneInto(decoders: RecordDecoders, decoder: RecordDecoder, input: DecodeOneInput, out: Buffer): number {
  try {
    return decoders.decodeInto(decoder, input.data, input.basePosition, input.position, input.expectPrevHash ?? undefined, input.maxPayloadBytes, out)
  } catch (err) {
    throw toChainlogError(err)
  }
}

function scanResult(r: RawScanResult): ScanResult {
  return {
    count: r.count,
    positions: r.positions,
    offsets: r.offsets,
    timestamps: r.timestamps,
    kinds: r.kinds,
    validLength: r.validLength,
    nextOffset: r.nextOffset ?? null,
    lastTimestamp: r.lastTimestamp ?? null,
    lastHash: r.lastHash ?? null,
    stop: r.stop as ScanStop,
    stopPosition: r.stopPosition,
    stopOffset: r.stopOffset ?? null,
    reason: r.reason,
    needBytes: r.needBytes,
    nextValidPosition: r.nextValidPosition,
    searchFrom: r.searchFrom,
  }
}

function wrap(native: RawBinding): ChainlogCore {
  const encodeInto = native.encodeInto
  const decoders: RecordDecoders = { make: native.recordDecoder, decodeInto: native.decodeOneInto, byKey: new Map(), last: null, lastStream: '', lastHash: '' }
  const core = {
    name: 'native',
    abiVersion: () => native.abiVersion(),

    encodeBatch(input: EncodeBatchInput): EncodeBatchResult {
      object(input, 'encodeBatch')
      string(input.hash, 'hash')
      string(input.stream, 'stream')
      number(input.firstOffset, 'firstOffset')
      bytes(input.prevHash, 'prevHash')
      number(input.kind, 'kind')
      number(input.codec, 'codec')
      number(input.level, 'level')
      bytes(input.payloads, 'payloads')
      if (!(input.lengths instanceof Uint32Array)) throw invalid('lengths must be a Uint32Array')
      if (!(input.timestamps instanceof Float64Array)) throw invalid('timestamps must be a Float64Array')
      if (input.wantHashes !== undefined) boolean(input.wantHashes, 'wantHashes')
      const into = input.into
      if (into !== undefined) {
        bytes(into, 'into')
        if (overlapsInput(into, input)) throw invalid(INTO_OVERLAP)
      }
      // Every output is made here and filled by the call: no object or new buffer crosses back.
      // Outside Node's shared Buffer pool, so no caller's view can share memory with one; sized
      // only when the batch's own sizes agree, else the core reports the mismatch first.
      const n = input.lengths.length
      const bound = input.payloads.length + n * RECORD_OVERHEAD
      const sized = input.timestamps.length === n && bound <= BUFFER_MAX_LENGTH
      const target = into !== undefined && into.length >= bound ? into : Buffer.allocUnsafeSlow(sized ? bound : 0)
      const positions = new Float64Array(sized ? n : 0)
      const lastHash = Buffer.allocUnsafeSlow(HASH_BYTES)
      const hashes = input.wantHashes === true ? Buffer.allocUnsafeSlow(sized ? n * HASH_BYTES : 0) : undefined
      const { hash, stream, firstOffset, prevHash, kind, codec, level, payloads, lengths, timestamps } = input
      const length = call(() => encodeInto(hash, stream, firstOffset, prevHash, kind, codec, level, payloads, lengths, timestamps, target, positions, lastHash, hashes))
      let out = Buffer.from(target.buffer, target.byteOffset, length)
      // A buffer made here for the bound, much larger than the (compressed) records: keep only them.
      if (target !== into && length < bound / 2) out = Buffer.from(out)
      return { bytes: out, positions, lastHash, hashes: hashes ?? null }
    },

    scanSegment(input: ScanInput): ScanResult {
      checkScan(input)
      return scanResult(call(() => native.scanSegment(rawScan(input))))
    },

    async scanSegmentAsync(input: ScanInput): Promise<ScanResult> {
      checkScan(input)
      return scanResult(await callAsync(() => native.scanSegmentAsync(rawScan(input))))
    },

    findValidRecord(input: FindValidRecordInput): FindValidRecordResult {
      object(input, 'findValidRecord')
      bytes(input.data, 'data')
      number(input.basePosition, 'basePosition')
      boolean(input.final, 'final')
      const r = call(() => native.findValidRecord(input))
      return { state: r.state as FindValidRecordResult['state'], position: r.position, needBytes: r.needBytes }
    },

    decodeRecords(input: DecodeInput): DecodeResult {
      checkDecode(input)
      return unpackDecode(call(() => native.decodeRecords(rawDecode(input))), input.positions.length)
    },

    decodeOne(input: DecodeOneInput): DecodedRecord {
      checkDecodeOne(input)
      return decodeOneNative(decoders, input)
    },

    async decodeRecordsAsync(input: DecodeInput): Promise<DecodeResult> {
      checkDecode(input)
      return unpackDecode(await callAsync(() => native.decodeRecordsAsync(rawDecode(input))), input.positions.length)
    },

    commitment(hash: HashAlgorithm, payload: Uint8Array): Buffer {
      string(hash, 'hash')
      bytes(payload, 'payload')
      return call(() => native.commitment(hash, payload))
    },

    recordHash(hash: HashAlgorithm, input: RecordHashInput): Buffer {
      string(hash, 'hash')
      object(input, 'recordHash')
      string(input.stream, 'stream')
      bytes(input.prevHash, 'prevHash')
      number(input.offset, 'offset')
      number(input.timestamp, 'timestamp')
      number(input.kind, 'kind')
      number(input.payloadLength, 'payloadLength')
      bytes(input.commitment, 'commitment')
      return call(() => native.recordHash(hash, input))
    },

    crc32(data: Uint8Array): number {
      bytes(data, 'data')
      return call(() => native.crc32(data))
    },

    compress(codec: number, level: number, data: Uint8Array): Buffer {
      number(codec, 'codec')
      number(level, 'level')
      bytes(data, 'data')
      return call(() => native.compress(codec, level, data))
    },

    decompress(form: number, stored: Uint8Array, maxBytes: number): Buffer {
      number(form, 'form')
      bytes(stored, 'stored')
      number(maxBytes, 'maxBytes')
      return call(() => native.decompress(form, stored, maxBytes))
    },
  } satisfies ChainlogCore
  return core
}
