/**
 * The portable JS core: the ChainlogCore contract (ts/core/interface.ts) in TypeScript, with
 * WebAssembly only for BLAKE3 (hash-wasm) and zstd (@bokuweb/zstd-wasm's libzstd). It writes
 * the same bytes and hashes as the native core, following docs/scan-rules.md step by step.
 *
 * Module map, one job each:
 *   args         argument checks (ERR_INVALID_ARGUMENT), shared by every entry point
 *   hash         BLAKE3 / SHA-256 digests and the SPEC §2 chain hash (ChainHasher)
 *   blake3-wasm  direct binding to hash-wasm's BLAKE3 module (checked against its public API)
 *   lz4          port of lz4_flex 0.14.0 block::compress, and a bounds-checked block decoder
 *   zstd         libzstd (wasm) compress/decompress with frame checks; fzstd fallback
 *   codec        stored forms: compress / capped decompress by codec and form number
 *   dictionary   the loaded zstd dictionaries (form 4 is read, not written, by this core)
 *   frame        the frame check of docs/scan-rules.md §2 and record field offsets
 *   find         findValidRecord (§3)
 *   payload      a record's uncompressed payload or redacted prefix, for hashing
 *   scan         scanSegment (§4)      decode  decodeRecords (§5)      encode  encodeBatch (§6)
 */
import { crc32 } from 'node:zlib'
import { CORE_ABI, KIND_BATCH_CONTINUES, type ChainlogCore, type RecordHashInput } from '../interface.ts'
import { HASH_BYTES, MAX_KIND } from '../format.ts'
import {
  asBuffer, checkBytes, checkHash32, checkHashName, checkMaxPayloadBytes, checkSafeIndex, checkStream, invalid,
} from './args.ts'
import { compressStored, decompressStored } from './codec.ts'
import { decodeOne, decodeRecords } from './decode.ts'
import { loadDictionary, refuseDictionaryWrite, unloadDictionary } from './dictionary.ts'
import { encodeBatch } from './encode.ts'
import { findValid } from './find.ts'
import { ChainHasher, createDigests } from './hash.ts'
import { scanSegment } from './scan.ts'
import { initZstd } from './zstd.ts'


/** Runs a synchronous body as a promise: its errors become rejections. */
function later<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body())
  } catch (err) {
    return Promise.reject(err)
  }
}

export async function createJsCore(): Promise<ChainlogCore> {
  const [digests] = await Promise.all([createDigests(), initZstd()])

  const core = {
    name: 'js',
    abiVersion: () => CORE_ABI,

    encodeBatch: (input) => encodeBatch(digests, input),
    scanSegment: (input) => scanSegment(digests, input),
    decodeRecords: (input) => decodeRecords(digests, input),
    decodeOne: (input) => decodeOne(digests, input),
    scanSegmentAsync: (input) => later(() => scanSegment(digests, input)),
    decodeRecordsAsync: (input) => later(() => decodeRecords(digests, input)),

    findValidRecord(input) {
      if (input === null || typeof input !== 'object') throw invalid('findValidRecord needs an input object')
      const data = checkBytes(input.data, 'data')
      const base = checkSafeIndex(input.basePosition, 'basePosition')
      if (typeof input.final !== 'boolean') throw invalid('final must be a boolean')
      if (base > Number.MAX_SAFE_INTEGER - data.length) throw invalid(`basePosition ${base} + ${data.length} bytes passes 2^53 − 1`)
      const d = asBuffer(data)
      return findValid(d, 0, d.length, base, input.final)
    },

    commitment(hash, payload) {
      const digest = digests[checkHashName(hash)]
      const out = Buffer.alloc(HASH_BYTES)
      digest(checkBytes(payload, 'payload'), out, 0)
      return out
    },

    recordHash(hash, input: RecordHashInput) {
      const algorithm = checkHashName(hash)
      if (input === null || typeof input !== 'object') throw invalid('recordHash needs an input object')
      const hasher = new ChainHasher(digests, algorithm, checkStream(input.stream))
      const prev = checkHash32(input.prevHash, 'prevHash')
      const offset = checkSafeIndex(input.offset, 'offset')
      const timestamp = checkSafeIndex(input.timestamp, 'timestamp')
      const kind = input.kind
      // 0x80: a data record whose batch continues (SPEC §2).
      if (kind !== KIND_BATCH_CONTINUES && (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > MAX_KIND)) {
        throw invalid(`kind must be 0..2, got ${String(kind)}`)
      }
      const payloadLength = checkSafeIndex(input.payloadLength, 'payloadLength')
      hasher.setCommitment(checkHash32(input.commitment, 'commitment'), 0)
      const out = Buffer.alloc(HASH_BYTES)
      hasher.chain(prev, 0, offset, timestamp, kind, payloadLength, out, 0)
      return out
    },

    crc32(data) {
      return crc32(checkBytes(data, 'data'))
    },

    compress(codec, level, data) {
      return compressStored(codec, level, checkBytes(data, 'data'))
    },

    decompress(form, stored, maxBytes) {
      const cap = checkMaxPayloadBytes(maxBytes)
      return decompressStored(form, checkBytes(stored, 'stored'), cap)
    },

    loadDictionary: (bytes) => loadDictionary(checkBytes(bytes, 'bytes')),
    unloadDictionary: (id) => unloadDictionary(id),
    trainDictionary: () => later(refuseDictionaryWrite),
    compressWithDictionary: () => refuseDictionaryWrite(),
  } satisfies ChainlogCore

  return core
}

