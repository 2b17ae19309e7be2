/**
 * The offset index of a segment (SPEC §2, `.idx`): the byte position of every record, so a read
 * seeks in O(1). It is a cache: written atomically, loaded only after its size, magic, version,
 * CRC and every entry are checked against the segment, and rebuilt from the segment when missing,
 * stale or bad. Entry i is the record at offset segment.firstOffset + i.
 *
 *   0  "VDXI" | 4  version 1 | 5  3 zero bytes | 8  u64 count N | 16  N × u64 position | CRC-32
 */
import { endianness } from 'node:os'
import { RECORD_OVERHEAD } from '../core/format.ts'
import { ioError } from './durable.ts'
import type { Storage, StorageFile } from './storage.ts'

const INDEX_MAGIC = 'VDXI'
const INDEX_VERSION = 1
export const INDEX_HEADER_BYTES = 16
export const INDEX_CRC_BYTES = 4
export const INDEX_ENTRY_BYTES = 8

/** A growable list of record positions (a Float64Array: positions are safe integers). */
export class PositionList {
  private data: Float64Array
  length = 0
  /**
   * Entries [0, encodedCount) as the file stores them (u64 LE, after the header), kept by fileBytes(true): the
   * active segment's index is saved again and again as it grows, and re-encoding every entry on
   * each save cost W1 about 6% (docs/perf-notes.md). truncate and set move encodedCount back.
   */
  private encoded: Buffer | null = null
  private encodedCount = 0

  constructor(capacity = 64) {
    this.data = new Float64Array(Math.max(capacity, 8))
  }

  static from(values: ArrayLike<number>): PositionList {
    const list = new PositionList(values.length)
    for (let i = 0; i < values.length; i++) list.push(values[i])
    return list
  }

  push(position: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.length++] = position
  }

  /** Appends every entry of `positions` plus `base` (one encodeBatch call's records). */
  pushShifted(positions: Float64Array, base: number): void {
    const need = this.length + positions.length
    if (need > this.data.length) {
      const bigger = new Float64Array(Math.max(need, this.data.length * 2))
      bigger.set(this.data.subarray(0, this.length))
      this.data = bigger
    }
    const d = this.data
    for (let k = 0, at = this.length; k < positions.length; k++, at++) d[at] = base + positions[k]
    this.length = need
  }

  at(i: number): number {
    return this.data[i]
  }

  set(i: number, position: number): void {
    this.data[i] = position
    if (i < this.encodedCount) this.encodedCount = i
  }

  last(): number {
    return this.data[this.length - 1]
  }

  truncate(length: number): void {
    this.length = Math.min(this.length, length)
    this.encodedCount = Math.min(this.encodedCount, this.length)
  }

  /**
   * The index file's bytes with entries [0, length) encoded (u64 LE from INDEX_HEADER_BYTES) and
   * room for the header and the CRC, which encodeIndex writes. `keep` (the active segment's saves,
   * one at a time): the list's own bytes, so the next call encodes only the entries added (or
   * changed) since and a save copies nothing (copying a multi-MiB index per save cost W1 ~30 µs of
   * main thread per batch, docs/perf-notes.md); valid until the next call. Otherwise a buffer of
   * the caller's own (a sealed list is saved once, and an archiver may encode it while the
   * stream's last save of the kept bytes is still being written), and the kept bytes are released.
   */
  fileBytes(keep: boolean): Buffer {
    const n = this.length
    const size = INDEX_HEADER_BYTES + n * INDEX_ENTRY_BYTES + INDEX_CRC_BYTES
    let bytes = this.encoded
    if (bytes === null || bytes.length < size || !keep) {
      // allocUnsafeSlow: offset 0, so the entries (at a multiple of 4) may use a Uint32Array view.
      const grown = Buffer.allocUnsafeSlow(keep ? Math.max(size, 2 * (bytes?.length ?? 0), 4096) : size)
      if (bytes !== null) grown.set(bytes.subarray(0, INDEX_HEADER_BYTES + this.encodedCount * INDEX_ENTRY_BYTES))
      bytes = grown
    }
    encodeEntries(this.data, this.encodedCount, n, bytes.subarray(INDEX_HEADER_BYTES))
    this.encoded = keep ? bytes : null
    this.encodedCount = keep ? n : 0
    return bytes.subarray(0, size)
  }

  /** A view of entries [from, to); valid until the next push. */
  slice(from: number, to: number): Float64Array {
    return this.data.subarray(from, to)
  }

  /** Largest j in (i, limit] with at(j) − at(i) ≤ bytes, where at(length) is `end`; at least i + 1. */
  chunkEnd(i: number, limit: number, end: number, bytes: number): number {
    const pos = (k: number) => (k >= this.length ? end : this.data[k])
    const start = this.data[i]
    let lo = i + 1
    let hi = limit
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2)
      if (pos(mid) - start <= bytes) lo = mid
      else hi = mid - 1
    }
    return lo
  }
}

const TWO_32 = 2 ** 32
const TWO_21 = 2 ** 21
const LITTLE_ENDIAN = endianness() === 'LE'

/** Writes entries [from, to) of `data` into `out` (entry i at byte 8i) as u64 LE. */
function encodeEntries(data: Float64Array, from: number, to: number, out: Buffer): void {
  // Two u32 halves, not a BigInt per entry: positions are safe integers (< 2^53). Through a
  // Uint32Array view when the host is little-endian (`out` starts at offset 0 of its memory).
  if (LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
    const words = new Uint32Array(out.buffer, out.byteOffset, to * 2)
    for (let i = from; i < to; i++) {
      const p = data[i]
      words[2 * i] = p >>> 0
      words[2 * i + 1] = Math.floor(p / TWO_32)
    }
  } else {
    for (let i = from, at = from * INDEX_ENTRY_BYTES; i < to; i++, at += INDEX_ENTRY_BYTES) {
      const p = data[i]
      out.writeUInt32LE(p >>> 0, at)
      out.writeUInt32LE(Math.floor(p / TWO_32), at + 4)
    }
  }
}

/**
 * The index file of `positions`. `keepEncoded`: the list keeps its encoded entries for the next
 * save (the active segment's index, saved as it grows), and the result is the list's own bytes:
 * written before the list is encoded again; see PositionList.fileBytes.
 */
export function encodeIndex(positions: PositionList, crc32: (data: Uint8Array) => number, keepEncoded = false): Buffer {
  const n = positions.length
  const buf = positions.fileBytes(keepEncoded)
  buf.write(INDEX_MAGIC, 0, 'latin1')
  buf[4] = INDEX_VERSION
  buf.fill(0, 5, 8)
  buf.writeBigUInt64LE(BigInt(n), 8)
  const body = INDEX_HEADER_BYTES + n * INDEX_ENTRY_BYTES
  buf.writeUInt32LE(crc32(buf.subarray(0, body)) >>> 0, body)
  return buf
}

export type IndexCheck = { ok: true; positions: PositionList } | { ok: false; reason: string }

/**
 * Decodes and checks an index against the segment it describes: every entry must be a position
 * inside the first `validLength` bytes, starting at 0 and at least a record apart. Entries past
 * the validated length are dropped, never trusted.
 */
export function decodeIndex(bytes: Uint8Array, validLength: number, crc32: (data: Uint8Array) => number): IndexCheck {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < INDEX_HEADER_BYTES + INDEX_CRC_BYTES) {
    return { ok: false, reason: `expected at least ${INDEX_HEADER_BYTES + INDEX_CRC_BYTES} bytes, found ${buf.length}` }
  }
  if (buf.toString('latin1', 0, 4) !== INDEX_MAGIC) return { ok: false, reason: `expected magic ${INDEX_MAGIC}, found ${buf.toString('hex', 0, 4)}` }
  if (buf[4] !== INDEX_VERSION) return { ok: false, reason: `expected version ${INDEX_VERSION}, found ${buf[4]}` }
  if (buf[5] !== 0 || buf[6] !== 0 || buf[7] !== 0) return { ok: false, reason: 'expected 3 zero bytes after the version' }
  const count = buf.readBigUInt64LE(8)
  // The count is checked against the file size before it sizes anything.
  const expectedSize = BigInt(INDEX_HEADER_BYTES + INDEX_CRC_BYTES) + count * BigInt(INDEX_ENTRY_BYTES)
  if (expectedSize !== BigInt(buf.length)) {
    return { ok: false, reason: `count ${count} needs ${expectedSize} bytes, the file has ${buf.length}` }
  }
  const n = Number(count)
  const body = INDEX_HEADER_BYTES + n * INDEX_ENTRY_BYTES
  const stored = buf.readUInt32LE(body)
  const actual = crc32(buf.subarray(0, body)) >>> 0
  if (stored !== actual) return { ok: false, reason: `CRC mismatch: stored ${hex32(stored)}, computed ${hex32(actual)}` }
  const positions = new PositionList(n)
  let prev = -RECORD_OVERHEAD
  const aligned = LITTLE_ENDIAN && buf.byteOffset % 4 === 0
  const words = aligned ? new Uint32Array(buf.buffer, buf.byteOffset + INDEX_HEADER_BYTES, n * 2) : null
  for (let i = 0; i < n; i++) {
    const at = INDEX_HEADER_BYTES + i * INDEX_ENTRY_BYTES
    const hi = words !== null ? words[2 * i + 1] : buf.readUInt32LE(at + 4)
    // hi ≥ 2^21 is a value ≥ 2^53, past any validated length; below that, p is exact.
    const p = hi >= TWO_21 ? Infinity : hi * TWO_32 + (words !== null ? words[2 * i] : buf.readUInt32LE(at))
    if (p >= validLength) break // past the validated bytes: not trusted
    if ((i === 0 && p !== 0) || p - prev < RECORD_OVERHEAD) {
      return { ok: false, reason: `entry ${i} (${p}) is not a record position after ${prev < 0 ? 'the start' : prev}` }
    }
    positions.push(p)
    prev = p
  }
  return { ok: true, positions }
}

/**
 * Loads `path` if it exists and checks out against a segment of `validLength` bytes; null when
 * missing or bad (the caller rebuilds). An index larger than a segment of that length could need
 * is refused before it is read.
 */
export async function loadIndex(storage: Storage, path: string, validLength: number, crc32: (data: Uint8Array) => number): Promise<IndexCheck | null> {
  let handle: StorageFile
  try {
    handle = await storage.open(path, 'read')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    return { ok: false, reason: `cannot open: ${(err as Error).message}` }
  }
  try {
    const size = await handle.size()
    const maxEntries = Math.floor(validLength / RECORD_OVERHEAD) + 1
    const maxSize = INDEX_HEADER_BYTES + INDEX_CRC_BYTES + maxEntries * INDEX_ENTRY_BYTES
    // A stale index of a longer (since truncated) segment may be a little larger; allow slack of
    // one segment's worth but never more than a segment could need.
    if (size > maxSize * 2 + 1024) return { ok: false, reason: `${size} bytes is more than a ${validLength}-byte segment can need` }
    return decodeIndex(await handle.read(0, size), validLength, crc32)
  } catch (err) {
    return { ok: false, reason: `cannot read: ${(err as Error).message}` }
  } finally {
    await handle.close()
  }
}

export async function saveIndex(storage: Storage, path: string, positions: PositionList, crc32: (data: Uint8Array) => number, keepEncoded = false): Promise<void> {
  try {
    await storage.writeFileAtomic(path, encodeIndex(positions, crc32, keepEncoded))
  } catch (err) {
    throw ioError(err, `cannot write the index ${path}`)
  }
}

function hex32(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0')
}
