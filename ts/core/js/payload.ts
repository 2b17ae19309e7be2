/**
 * Reading a stored payload back for hashing: decompression under a cap, and the redacted
 * form's stored length and commitment (SPEC §2). Shared by scan and decode.
 */
import { ChainlogError } from '../../errors.ts'
import { CHECKPOINT_PAYLOAD_BYTES, HEADER_BYTES } from '../format.ts'
import { FORM_LZ4, FORM_NONE, FORM_REDACTED, FORM_ZSTD, FORM_ZSTD_DICT } from '../interface.ts'
import { lz4ClaimedLength, lz4DecodeInto } from './codec.ts'
import { readU64 } from './hash.ts'
import { zstdDecompress, zstdDecompressWithDictionary } from './zstd.ts'

/** Reused output for LZ4 payloads; grows on demand up to MAX_KEPT_SCRATCH. */
let scratch = Buffer.alloc(64 * 1024)
/** Larger payloads get a buffer of their own, so one huge record does not pin memory. */
const MAX_KEPT_SCRATCH = 16 * 1024 * 1024

function scratchOf(n: number): Buffer {
  if (n > MAX_KEPT_SCRATCH) return Buffer.alloc(n)
  if (scratch.length < n) scratch = Buffer.alloc(Math.min(MAX_KEPT_SCRATCH, Math.max(n, scratch.length * 2)))
  return scratch
}

/**
 * The uncompressed payload of the record at i (form 0/1/2/4) — a view of `d` for form 0, of a
 * reused scratch buffer (valid until the next call) or a new buffer otherwise — or, for form 3,
 * null (the caller reads the redacted prefix). Throws ERR_CORRUPT over `cap` or if undecodable.
 */
export function payloadOf(d: Uint8Array, i: number, form: number, storedLength: number, cap: number): Uint8Array | null {
  const start = i + HEADER_BYTES
  const end = start + storedLength
  if (form === FORM_NONE) {
    if (storedLength > cap) throw new ChainlogError('ERR_CORRUPT', `payload of ${storedLength} bytes is over the cap of ${cap}`)
    return d.subarray(start, end)
  }
  if (form === FORM_LZ4) {
    const n = lz4ClaimedLength(d, start, end, cap)
    const out = scratchOf(n)
    lz4DecodeInto(d, start, end, out, 0, n)
    return out.subarray(0, n)
  }
  if (form === FORM_ZSTD) return zstdDecompress(d.subarray(start, end), cap)
  if (form === FORM_ZSTD_DICT) return zstdDecompressWithDictionary(d.subarray(start, end), cap)
  if (form === FORM_REDACTED) return null
  throw new ChainlogError('ERR_CORRUPT', `unknown payload form ${form}`)
}

/** The original payload length of a redacted record at i, checked against `cap`. */
export function redactedLength(d: Uint8Array, i: number, storedLength: number, cap: number): number {
  if (storedLength !== CHECKPOINT_PAYLOAD_BYTES) {
    throw new ChainlogError('ERR_CORRUPT', `redacted payload must be ${CHECKPOINT_PAYLOAD_BYTES} bytes, got ${storedLength}`)
  }
  const n = readU64(d, i + HEADER_BYTES)
  if (n > cap) throw new ChainlogError('ERR_CORRUPT', `redacted payload claims ${n} bytes, over the cap of ${cap}`)
  return n
}

/** Position of a redacted record's stored commitment. */
export function redactedCommitmentAt(i: number): number {
  return i + HEADER_BYTES + 8
}
