/**
 * Hashing for the JS core: BLAKE3 through one reused hash-wasm hasher, SHA-256 through
 * node:crypto, and the SPEC §2 chain hash built in one reusable preimage buffer.
 */
import { hash as cryptoHash } from 'node:crypto'
import { createBLAKE3, type IHasher } from 'hash-wasm'
import type { HashAlgorithm } from '../interface.ts'
import { loadWasmBlake3 } from './blake3-wasm.ts'
import { HASH_BYTES, HASH_DOMAIN } from '../format.ts'

export type Digest = (data: Uint8Array, out: Uint8Array, outOffset: number) => void

export interface Digests {
  blake3: Digest
  sha256: Digest
}

/** Inputs on which the direct BLAKE3 binding must agree with hash-wasm's public API. */
const SELF_TEST_SIZES = [0, 1, 64, 1023, 1024, 1025, 16383, 16384, 16385, 70000]

/** Loads the WebAssembly BLAKE3 once; the returned digests are synchronous. */
export async function createDigests(): Promise<Digests> {
  const hasher: IHasher = await createBLAKE3(256)
  const viaApi: Digest = (data, out, outOffset) => {
    hasher.init()
    hasher.update(data)
    out.set(hasher.digest('binary'), outOffset)
  }
  const direct = await loadWasmBlake3().catch(() => null)
  const blake3 = direct !== null && agrees(direct, viaApi) ? direct : viaApi
  return {
    blake3,
    sha256(data, out, outOffset) {
      out.set(cryptoHash('sha256', data, 'buffer'), outOffset)
    },
  }
}

function agrees(a: Digest, b: Digest): boolean {
  const x = Buffer.alloc(HASH_BYTES)
  const y = Buffer.alloc(HASH_BYTES)
  for (const size of SELF_TEST_SIZES) {
    const data = Buffer.alloc(size)
    for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff
    a(data, x, 0)
    b(data, y, 0)
    if (!x.equals(y)) return false
  }
  return true
}

const DOMAIN = Buffer.from(HASH_DOMAIN, 'ascii')
/** prev_hash ‖ offset u64 ‖ timestamp u64 ‖ kind u8 ‖ u64 len(payload) ‖ commitment. */
const TAIL_BYTES = HASH_BYTES + 8 + 8 + 1 + 8 + HASH_BYTES

/**
 * The chain hash of one stream under one algorithm. The preimage
 * `"chainlog:record:v1" ‖ u16 len(stream) ‖ stream ‖ prev ‖ offset ‖ ts ‖ kind ‖ u64 len ‖ commitment`
 * is kept in one buffer: the stream prefix is written once, the per-record fields in place.
 */
export class ChainHasher {
  readonly digest: Digest
  private readonly pre: Buffer
  private readonly prevAt: number
  /** Where the commitment sits in the preimage: commitInto() writes it there directly. */
  private readonly commitAt: number

  constructor(digests: Digests, algorithm: HashAlgorithm, streamBytes: Uint8Array) {
    this.digest = digests[algorithm]
    const prefix = DOMAIN.length + 2 + streamBytes.length
    this.pre = Buffer.alloc(prefix + TAIL_BYTES)
    DOMAIN.copy(this.pre, 0)
    this.pre.writeUInt16LE(streamBytes.length, DOMAIN.length)
    this.pre.set(streamBytes, DOMAIN.length + 2)
    this.prevAt = prefix
    this.commitAt = prefix + TAIL_BYTES - HASH_BYTES
  }

  /** H(payload) into the preimage's commitment slot. */
  commit(payload: Uint8Array): void {
    this.digest(payload, this.pre, this.commitAt)
  }

  /** Set the commitment slot from 32 given bytes (a redacted record's stored commitment). */
  setCommitment(bytes: Uint8Array, at: number): void {
    copy32(bytes, at, this.pre, this.commitAt)
  }

  /**
   * The chain hash with the commitment currently in the slot; `prev` is read from
   * prevBytes[prevAt..prevAt+32]. Writes 32 bytes to out[outOffset..].
   */
  chain(
    prevBytes: Uint8Array, prevAt: number, offset: number, timestamp: number, kind: number,
    payloadLength: number, out: Uint8Array, outOffset: number,
  ): void {
    const pre = this.pre
    let p = this.prevAt
    copy32(prevBytes, prevAt, pre, p)
    p += HASH_BYTES
    p = writeU64(pre, offset, p)
    p = writeU64(pre, timestamp, p)
    pre[p++] = kind
    writeU64(pre, payloadLength, p)
    this.digest(pre, out, outOffset)
  }

  /**
   * The chain hash of the framed record at rec[i..], its fields taken byte for byte from the
   * record (prev_hash, offset, timestamp, kind), with the commitment currently in the slot.
   */
  chainOfRecord(rec: Uint8Array, i: number, payloadLength: number, out: Uint8Array, outOffset: number): void {
    const pre = this.pre
    let p = this.prevAt
    copy32(rec, i + 20, pre, p) // prev_hash
    p += HASH_BYTES
    for (let k = 0; k < 16; k++) pre[p + k] = rec[i + 4 + k] // offset ‖ timestamp
    p += 16
    pre[p++] = rec[i + 52] // kind
    writeU64(pre, payloadLength, p)
    this.digest(pre, out, outOffset)
  }
}

/** Chain hashers by stream name, per algorithm: a read of one record should not rebuild one. */
const MAX_CACHED_HASHERS = 256
const hasherCache = new WeakMap<Digests, Map<string, ChainHasher>>()

/**
 * The ChainHasher of `stream` under `algorithm`, cached. `streamBytes` validates and encodes the
 * name; it is only called for a name not seen before.
 */
export function chainHasherFor(digests: Digests, algorithm: HashAlgorithm, stream: string, streamBytes: (s: unknown) => Uint8Array): ChainHasher {
  let byName = hasherCache.get(digests)
  if (byName === undefined) hasherCache.set(digests, (byName = new Map()))
  const key = algorithm === 'blake3' ? 'b' + stream : 's' + stream
  let hasher = byName.get(key)
  if (hasher === undefined) {
    hasher = new ChainHasher(digests, algorithm, streamBytes(stream))
    if (byName.size >= MAX_CACHED_HASHERS) byName.clear()
    byName.set(key, hasher)
  }
  return hasher
}

/** Copies 32 bytes; for a hash-sized copy a loop beats creating a view to set() from. */
export function copy32(src: Uint8Array, from: number, dst: Uint8Array, to: number): void {
  for (let k = 0; k < HASH_BYTES; k++) dst[to + k] = src[from + k]
}

/** True if a[ai..ai+32) equals b[bi..bi+32). */
export function equal32(a: Uint8Array, ai: number, b: Uint8Array, bi: number): boolean {
  for (let k = 0; k < HASH_BYTES; k++) if (a[ai + k] !== b[bi + k]) return false
  return true
}

/** Writes a non-negative safe integer as u64 LE; returns the position after it. */
export function writeU64(buf: Uint8Array, value: number, at: number): number {
  const lo = value >>> 0
  const hi = (value - lo) / 4294967296
  buf[at] = lo
  buf[at + 1] = lo >>> 8
  buf[at + 2] = lo >>> 16
  buf[at + 3] = lo >>> 24
  buf[at + 4] = hi
  buf[at + 5] = hi >>> 8
  buf[at + 6] = hi >>> 16
  buf[at + 7] = hi >>> 24
  return at + 8
}

/** Reads a u64 LE as a number: exact up to MAX_SAFE, larger values come back > MAX_SAFE. */
export function readU64(buf: Uint8Array, at: number): number {
  const lo = (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0
  const hi = (buf[at + 4] | (buf[at + 5] << 8) | (buf[at + 6] << 16) | (buf[at + 7] << 24)) >>> 0
  return hi * 4294967296 + lo
}
