/**
 * The native core: wraps the napi-rs binding built from crates/chainlog-node (found and loaded by
 * native-loader.ts) as a ChainlogCore.
 *
 * The Rust side checks every value (safe integers, ranges, lengths, hash names, shared memory)
 * and reports failures as errors carrying `code`, `position` and `offset` as properties; this
 * file checks JS types with the argument's name, reads each input field exactly once, passes the
 * values by position (the binding takes no input objects: see crates/chainlog-node/src/lib.rs),
 * and turns the binding's error into a ChainlogError.
 */
import { Buffer, constants as bufferConstants } from 'node:buffer'
import { ChainlogError, isErrorCode, type ChainlogErrorDetails } from '../errors.ts'
import { HASH_BYTES, RECORD_OVERHEAD } from './format.ts'
import { loadNativeBinding } from './native-loader.ts'
import type * as Generated from './native-binding.d.ts'
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
  treeOutBytes,
  INTO_OVERLAP,
  overlapsInput,
} from './interface.ts'

const BUFFER_MAX_LENGTH = bufferConstants.MAX_LENGTH

/**
 * The raw binding: the `#[napi]` functions as `napi build` declares them (native-binding.d.ts,
 * rewritten by every `npm run build:native`, so a changed Rust signature fails the type-check
 * here), and the plain Node-API callbacks registered beside them (raw_api.rs), which napi-rs
 * cannot describe.
 */
type RawBinding = typeof Generated & {
  /** encodeBatch with every output in a buffer made here (crates/chainlog-node/src/record_encoder.rs); returns the bytes written into `into`. */
  encodeInto(
    hash: string, stream: string, firstOffset: number, prevHash: Uint8Array, kind: number, codec: number, level: number,
    payloads: Uint8Array, lengths: Uint32Array, timestamps: Float64Array,
    into: Uint8Array, positionsOut: Float64Array, lastHashOut: Buffer, hashesOut: Buffer | undefined, dictionaryId: number | undefined, batchEnds: Uint32Array | undefined,
    treeFrontier: Uint8Array | undefined, treeOut: Buffer | undefined,
  ): number
  /** A stream's single-record decoder (its chain hasher and buffers kept between calls; see decodeOne). */
  recordDecoder(hash: string, stream: string): RecordDecoder
  decodeOneInto(decoder: RecordDecoder, data: Uint8Array, basePosition: number, position: number, expectPrevHash: Uint8Array | undefined, maxPayloadBytes: number, out: Uint8Array): number
}
type RawScanResult = Generated.ScanResult

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

/**
 * A binding error as a ChainlogError. The binding sets `code`, `position` and `offset` as the
 * error's properties (crates/chainlog-node/src/js_error.rs); an error without one of our codes
 * is napi-rs refusing an argument's type before our code ran.
 */
function toChainlogError(err: unknown): ChainlogError {
  if (err instanceof ChainlogError) return err
  const fields = err as { code?: unknown; position?: unknown; offset?: unknown }
  if (err instanceof Error && isErrorCode(fields.code)) {
    const details: ChainlogErrorDetails = {}
    if (typeof fields.position === 'number') details.position = fields.position
    if (typeof fields.offset === 'number' && fields.offset <= Number.MAX_SAFE_INTEGER) details.offset = fields.offset
    return new ChainlogError(fields.code, err.message, details)
  }
  return new ChainlogError('ERR_INVALID_ARGUMENT', `native core refused its arguments: ${describe(err)}`, { cause: err })
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

// JS types only, each value read once by the caller: the values (safe integers, ranges,
// lengths, shared memory) are checked in Rust.
function object(v: unknown, what: string): void {
  if (v === null || typeof v !== 'object') throw invalid(`${what} needs an input object`)
}
function number(v: unknown, what: string): number {
  if (typeof v !== 'number') throw invalid(`${what} must be a number, got ${typeof v}`)
  return v
}
/** napi's Option<T> reads null and undefined alike; undefined is what is passed on. */
function nullableNumber(v: unknown, what: string): number | undefined {
  return v === null || v === undefined ? undefined : number(v, what)
}
function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array`)
  return v
}
function nullableBytes(v: unknown, what: string): Uint8Array | undefined {
  return v === null || v === undefined ? undefined : bytes(v, what)
}
function string(v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalid(`${what} must be a string`)
  return v
}
function boolean(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw invalid(`${what} must be a boolean`)
  return v
}
function float64s(v: unknown, what: string): Float64Array {
  if (!(v instanceof Float64Array)) throw invalid(`${what} must be a Float64Array`)
  return v
}

/** scanSegment's positional arguments, each field of the input read once. */
function scanArgs(input: ScanInput): Parameters<RawBinding['scanSegment']> {
  object(input, 'scanSegment')
  const { hash, stream, data, basePosition, firstOffset, prevHash, prevTimestamp, verifyChain, final } = input
  return [
    string(hash, 'hash'), string(stream, 'stream'), bytes(data, 'data'), number(basePosition, 'basePosition'),
    nullableNumber(firstOffset, 'firstOffset'), nullableBytes(prevHash, 'prevHash'), nullableNumber(prevTimestamp, 'prevTimestamp'),
    boolean(verifyChain, 'verifyChain'), boolean(final, 'final'),
  ]
}

/** decodeRecords's positional arguments, each field of the input read once. */
function decodeArgs(input: DecodeInput): Parameters<RawBinding['decodeRecords']> {
  object(input, 'decodeRecords')
  const { hash, stream, data, basePosition, positions, expectPrevHash, payloadsFrom, maxPayloadBytes } = input
  return [
    string(hash, 'hash'), string(stream, 'stream'), bytes(data, 'data'), number(basePosition, 'basePosition'),
    float64s(positions, 'positions'), nullableBytes(expectPrevHash, 'expectPrevHash'),
    number(payloadsFrom, 'payloadsFrom'), number(maxPayloadBytes, 'maxPayloadBytes'),
  ]
}

/**
 * The views of a packed decode result (crates/chainlog-node pack_decode): f64 words [N, P,
 * offsets, timestamps, payload ends], then bytes: prev hashes, hashes, kinds, forms, payloads
 * (P bytes). N is the result's own count, not the caller's input read again.
 */
function unpackDecode(f: Float64Array): DecodeResult {
  const buf = f.buffer
  const n = f[0]
  const p = f[1]
  let at = f.byteOffset + (2 + 3 * n) * 8
  const prevHashes = Buffer.from(buf, at, HASH_BYTES * n)
  at += HASH_BYTES * n
  const hashes = Buffer.from(buf, at, HASH_BYTES * n)
  at += HASH_BYTES * n
  const kinds = new Uint8Array(buf, at, n)
  const forms = new Uint8Array(buf, at + n, n)
  const payloads = Buffer.from(buf, at + 2 * n, p)
  return {
    count: n,
    offsets: f.subarray(2, 2 + n),
    timestamps: f.subarray(2 + n, 2 + 2 * n),
    kinds, forms, prevHashes, hashes, payloads,
    payloadEnds: f.subarray(2 + 2 * n, 2 + 3 * n),
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

function recordDecoder(decoders: RecordDecoders, hash: string, stream: string): RecordDecoder {
  let decoder = decoders.last
  if (decoder === null || decoders.lastStream !== stream || decoders.lastHash !== hash) {
    const key = `${hash}/${stream}`
    decoder = decoders.byKey.get(key) ?? null
    if (decoder === null) {
      if (decoders.byKey.size >= MAX_RECORD_DECODERS) decoders.byKey.clear()
      const made = call(() => decoders.make(hash, stream))
      decoders.byKey.set(key, made)
      decoder = made
    }
    decoders.last = decoder
    decoders.lastStream = stream
    decoders.lastHash = hash
  }
  return decoder
}

/**
 * decodeOne through a RecordDecoder of the stream (its hasher kept between calls) writing into
 * the result's buffer: no input object, strings or result vectors cross per call, and nothing is
 * copied after. The result's buffers are views of that one buffer, which is its own (outside
 * Node's shared Buffer pool: a view's `.buffer` exposes nothing else).
 */
function decodeOneNative(decoders: RecordDecoders, input: DecodeOneInput): DecodedRecord {
  object(input, 'decodeOne')
  const { hash, stream, data, basePosition, position, expectPrevHash, maxPayloadBytes } = input
  string(hash, 'hash')
  string(stream, 'stream')
  bytes(data, 'data')
  number(basePosition, 'basePosition')
  number(position, 'position')
  const expect = nullableBytes(expectPrevHash, 'expectPrevHash')
  number(maxPayloadBytes, 'maxPayloadBytes')
  const decoder = recordDecoder(decoders, hash, stream)
  // Decoded straight into the result's own buffer, sized for a record stored as is (the payload
  // is the stored bytes: the record's length less the framing); a larger payload (a compressed
  // record) says how much it needs, and is decoded again into a buffer of that size. No closure
  // per call: this runs once per random get.
  let out = Buffer.allocUnsafeSlow(ONE_HEAD_BYTES + Math.max(0, data.length - RECORD_OVERHEAD))
  let n: number
  try {
    n = decoders.decodeInto(decoder, data, basePosition, position, expect, maxPayloadBytes, out)
    if (n < 0) {
      out = Buffer.allocUnsafeSlow(-n)
      n = decoders.decodeInto(decoder, data, basePosition, position, expect, maxPayloadBytes, out)
    }
  } catch (err) {
    throw toChainlogError(err)
  }
  // The same record into a buffer of the size it asked for: anything else is a binding bug, and
  // `out` must never be read as a record then (it holds uninitialised memory).
  if (n < 0) throw invalid(`the native core asked twice for a larger buffer (${-n} bytes) decoding position ${position}`)
  return {
    offset: out.readDoubleLE(0), timestamp: out.readDoubleLE(8), kind: out[16], form: out[17],
    prevHash: out.subarray(24, 24 + HASH_BYTES), hash: out.subarray(24 + HASH_BYTES, ONE_HEAD_BYTES), payload: out.subarray(ONE_HEAD_BYTES, ONE_HEAD_BYTES + n),
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

/** Batches of at most this many records take their positions and hashes from the OutputSlab. */
const SLAB_MAX_RECORDS = 16
/** Node's own Buffer pool size: what a kept 32-byte view can hold alive at the most. */
const SLAB_BYTES = 8 * 1024

/**
 * encodeBatch's small outputs, carved from one off-heap ArrayBuffer after another. A typed array
 * of up to 64 bytes lives on V8's heap, and one made per call (a Float64Array of a few positions,
 * a 32-byte Buffer.allocUnsafeSlow) cost more to make and hand to Node-API (a backing store each:
 * malloc, a registry lock, a sweep later) than hashing a 256 B record: a group of one append is
 * the common case with many streams (docs/perf-notes.md, "W3m with the journal: what a round
 * costs"). Carved views share a slab only with one another, never with a caller's input, and
 * never overlap: the binding's overlap checks hold as before.
 */
class OutputSlab {
  private slab = new ArrayBuffer(SLAB_BYTES)
  private used = 0

  positions(n: number): Float64Array {
    const at = this.take(n * 8)
    return new Float64Array(this.slab, at, n)
  }

  bytes(n: number): Buffer {
    const at = this.take(n)
    return Buffer.from(this.slab, at, n)
  }

  /** The offset of `bytes` fresh bytes in this.slab (which it may replace: read it after), 8-aligned (a Float64Array's elements must be). */
  private take(bytes: number): number {
    if (this.used + bytes > SLAB_BYTES) {
      this.slab = new ArrayBuffer(SLAB_BYTES)
      this.used = 0
    }
    const at = this.used
    this.used += (bytes + 7) & ~7
    return at
  }
}

function wrap(native: RawBinding): ChainlogCore {
  const outputSlab = new OutputSlab()
  const encodeInto = native.encodeInto
  const decoders: RecordDecoders = { make: native.recordDecoder, decodeInto: native.decodeOneInto, byKey: new Map(), last: null, lastStream: '', lastHash: '' }
  const core = {
    name: 'native',
    abiVersion: () => native.abiVersion(),

    encodeBatch(input: EncodeBatchInput): EncodeBatchResult {
      object(input, 'encodeBatch')
      const { hash, stream, firstOffset, prevHash, kind, codec, level, payloads, lengths, timestamps, wantHashes, into, dictionaryId, batchEnds, treeFrontier } = input
      string(hash, 'hash')
      string(stream, 'stream')
      number(firstOffset, 'firstOffset')
      bytes(prevHash, 'prevHash')
      number(kind, 'kind')
      number(codec, 'codec')
      number(level, 'level')
      bytes(payloads, 'payloads')
      if (!(lengths instanceof Uint32Array)) throw invalid('lengths must be a Uint32Array')
      float64s(timestamps, 'timestamps')
      if (wantHashes !== undefined) boolean(wantHashes, 'wantHashes')
      if (dictionaryId !== undefined) number(dictionaryId, 'dictionaryId')
      if (batchEnds !== undefined && !(batchEnds instanceof Uint32Array)) throw invalid('batchEnds must be a Uint32Array')
      if (treeFrontier !== undefined) bytes(treeFrontier, 'treeFrontier')
      if (into !== undefined) {
        bytes(into, 'into')
        if (overlapsInput(into, { payloads, prevHash, lengths, timestamps, batchEnds } as EncodeBatchInput)) throw invalid(INTO_OVERLAP)
      }
      // Every output is made here and filled by the call: no object or new buffer crosses back.
      // Outside Node's shared Buffer pool, so no caller's view can share memory with one; sized
      // only when the batch's own sizes agree, else the core reports the mismatch first.
      const n = lengths.length
      const bound = payloads.length + n * RECORD_OVERHEAD
      const sized = timestamps.length === n && bound <= BUFFER_MAX_LENGTH
      const target = into !== undefined && into.length >= bound ? into : Buffer.allocUnsafeSlow(sized ? bound : 0)
      const small = sized && n <= SLAB_MAX_RECORDS
      const positions = small ? outputSlab.positions(n) : new Float64Array(sized ? n : 0)
      const lastHash = small ? outputSlab.bytes(HASH_BYTES) : Buffer.allocUnsafeSlow(HASH_BYTES)
      const hashes = wantHashes === true ? (small ? outputSlab.bytes(n * HASH_BYTES) : Buffer.allocUnsafeSlow(sized ? n * HASH_BYTES : 0)) : undefined
      const tree = treeFrontier !== undefined ? Buffer.allocUnsafeSlow(sized && Number.isSafeInteger(firstOffset) && firstOffset >= 0 ? treeOutBytes(firstOffset, n) : 0) : undefined
      const length = call(() => encodeInto(hash, stream, firstOffset, prevHash, kind, codec, level, payloads, lengths, timestamps, target, positions, lastHash, hashes, dictionaryId, batchEnds, treeFrontier, tree))
      let out = Buffer.from(target.buffer, target.byteOffset, length)
      // A buffer made here for the bound, much larger than the (compressed) records: keep only them.
      if (target !== into && length < bound / 2) out = Buffer.from(out)
      return { bytes: out, positions, lastHash, hashes: hashes ?? null, tree: tree ?? null }
    },

    scanSegment(input: ScanInput): ScanResult {
      const args = scanArgs(input)
      return scanResult(call(() => native.scanSegment(...args)))
    },

    async scanSegmentAsync(input: ScanInput): Promise<ScanResult> {
      const args = scanArgs(input)
      return scanResult(await callAsync(() => native.scanSegmentAsync(...args)))
    },

    findValidRecord(input: FindValidRecordInput): FindValidRecordResult {
      object(input, 'findValidRecord')
      const { data, basePosition, final } = input
      const r = call(() => native.findValidRecord(bytes(data, 'data'), number(basePosition, 'basePosition'), boolean(final, 'final')))
      return { state: r.state as FindValidRecordResult['state'], position: r.position, needBytes: r.needBytes }
    },

    decodeRecords(input: DecodeInput): DecodeResult {
      const args = decodeArgs(input)
      return unpackDecode(call(() => native.decodeRecords(...args)))
    },

    decodeOne(input: DecodeOneInput): DecodedRecord {
      return decodeOneNative(decoders, input)
    },

    async decodeRecordsAsync(input: DecodeInput): Promise<DecodeResult> {
      const args = decodeArgs(input)
      return unpackDecode(await callAsync(() => native.decodeRecordsAsync(...args)))
    },

    commitment(hash: HashAlgorithm, payload: Uint8Array): Buffer {
      string(hash, 'hash')
      bytes(payload, 'payload')
      return call(() => native.commitment(hash, payload))
    },

    recordHash(hash: HashAlgorithm, input: RecordHashInput): Buffer {
      string(hash, 'hash')
      object(input, 'recordHash')
      const { stream, prevHash, offset, timestamp, kind, payloadLength, commitment } = input
      const args = [
        string(stream, 'stream'), bytes(prevHash, 'prevHash'), number(offset, 'offset'), number(timestamp, 'timestamp'),
        number(kind, 'kind'), number(payloadLength, 'payloadLength'), bytes(commitment, 'commitment'),
      ] as const
      return call(() => native.recordHash(hash, ...args))
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

    loadDictionary(dictionary: Uint8Array): number {
      bytes(dictionary, 'bytes')
      return call(() => native.loadDictionary(dictionary))
    },

    unloadDictionary(id: number): void {
      number(id, 'id')
      call(() => native.unloadDictionary(id))
    },

    trainDictionary(samples: Uint8Array, lengths: Uint32Array, maxBytes: number): Promise<Buffer> {
      return callAsync(() => {
        bytes(samples, 'samples')
        if (!(lengths instanceof Uint32Array)) throw invalid('lengths must be a Uint32Array')
        number(maxBytes, 'maxBytes')
        return native.trainDictionaryAsync(samples, lengths, maxBytes)
      })
    },

    compressWithDictionary(id: number, level: number, data: Uint8Array): Buffer {
      number(id, 'id')
      number(level, 'level')
      bytes(data, 'data')
      return call(() => native.compressWithDictionary(id, level, data))
    },

    datasyncMany: process.platform === 'win32' ? undefined : (fds: number[]) => callAsync(() => native.datasyncMany(fds)),
  } satisfies ChainlogCore
  return core
}
