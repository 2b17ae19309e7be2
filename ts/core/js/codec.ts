/**
 * Stored payload forms (docs/scan-rules.md §7): compress for codecs none/lz4/zstd, and the capped
 * inverse. Output is never allocated beyond the cap, whatever the stored bytes claim.
 */
import { ChainlogError } from '../../errors.ts'
import { CODEC_LZ4, CODEC_NONE, CODEC_ZSTD, FORM_LZ4, FORM_NONE, FORM_ZSTD, FORM_ZSTD_DICT } from '../interface.ts'
import { checkZstdLevel, invalid } from './args.ts'
import { compressBlock, decompressBlock, maxCompressedSize } from './lz4.ts'
import { zstdCompress, zstdDecompress, zstdDecompressWithDictionary } from './zstd.ts'

/** u32 LE uncompressed length before the raw LZ4 block. */
const LZ4_PREFIX_BYTES = 4
/**
 * An LZ4 block decodes to at most 255 bytes per byte: a sequence of 3 + k bytes (token, offset,
 * k length bytes) yields at most 19 + 255·k, and literals copy one for one.
 */
const LZ4_MAX_EXPANSION = 255

/** The LZ4 stored form (u32 length ‖ block) of `data` into `out` at `op`; returns its end. */
export function lz4StoreInto(data: Uint8Array, out: Uint8Array, op: number): number {
  const n = data.length
  out[op] = n
  out[op + 1] = n >>> 8
  out[op + 2] = n >>> 16
  out[op + 3] = n >>> 24
  return compressBlock(data, out, op + LZ4_PREFIX_BYTES)
}

export function lz4StoredBound(n: number): number {
  return LZ4_PREFIX_BYTES + maxCompressedSize(n)
}

export function compressStored(codec: number, level: number, data: Uint8Array): Buffer {
  if (codec === CODEC_NONE) return Buffer.from(data)
  if (codec === CODEC_LZ4) {
    const out = Buffer.allocUnsafe(lz4StoredBound(data.length))
    const end = lz4StoreInto(data, out, 0)
    return Buffer.from(out.subarray(0, end))
  }
  if (codec === CODEC_ZSTD) {
    const frame = zstdCompress(data, checkZstdLevel(level))
    return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
  }
  throw invalid(`codec must be 0 (none), 1 (lz4) or 2 (zstd), got ${String(codec)}`)
}

/** The uncompressed length an LZ4 stored form claims, checked against the cap. */
export function lz4ClaimedLength(stored: Uint8Array, start: number, end: number, maxBytes: number): number {
  if (end - start < LZ4_PREFIX_BYTES) throw new ChainlogError('ERR_CORRUPT', `lz4 payload of ${end - start} bytes has no length prefix`)
  const n = (stored[start] | (stored[start + 1] << 8) | (stored[start + 2] << 16) | (stored[start + 3] << 24)) >>> 0
  if (n > maxBytes) throw new ChainlogError('ERR_CORRUPT', `lz4 payload claims ${n} bytes, over the cap of ${maxBytes}`)
  const blockLength = end - start - LZ4_PREFIX_BYTES
  if (n > LZ4_MAX_EXPANSION * blockLength) {
    // Refused before allocating: no block of this length can decode to that much.
    throw new ChainlogError('ERR_CORRUPT', `lz4 payload claims ${n} bytes from a ${blockLength}-byte block`)
  }
  return n
}

/** Decodes the LZ4 stored form in stored[start..end) into out[op..op+n), n its claimed length. */
export function lz4DecodeInto(stored: Uint8Array, start: number, end: number, out: Uint8Array, op: number, n: number): void {
  const got = decompressBlock(stored, start + LZ4_PREFIX_BYTES, end, out, op, op + n)
  if (got !== n) {
    throw new ChainlogError('ERR_CORRUPT', got < 0 ? 'lz4 block is malformed or decodes past its claimed length' : `lz4 block decodes to ${got} bytes, claimed ${n}`)
  }
}

export function decompressStored(form: number, stored: Uint8Array, maxBytes: number): Buffer {
  if (form === FORM_NONE) {
    if (stored.length > maxBytes) throw new ChainlogError('ERR_CORRUPT', `payload of ${stored.length} bytes is over the cap of ${maxBytes}`)
    return Buffer.from(stored)
  }
  if (form === FORM_LZ4) {
    const n = lz4ClaimedLength(stored, 0, stored.length, maxBytes)
    const out = Buffer.alloc(n)
    lz4DecodeInto(stored, 0, stored.length, out, 0, n)
    return out
  }
  if (form === FORM_ZSTD) return zstdDecompress(stored, maxBytes)
  if (form === FORM_ZSTD_DICT) return zstdDecompressWithDictionary(stored, maxBytes)
  throw invalid(`form must be 0 (none), 1 (lz4), 2 (zstd) or 4 (zstd with a dictionary) to decompress, got ${String(form)}`)
}
