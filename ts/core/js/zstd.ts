/**
 * zstd for the JS core: compression with @bokuweb/zstd-wasm (libzstd's ZSTD_compress, so the
 * frame carries its content size and no checksum, as the native core writes it), decompression
 * with fzstd into one buffer of exactly the frame's declared content size.
 *
 * Before anything is allocated the frame is walked: the header must declare a content size no
 * larger than the cap, the input must be exactly one zstd frame (no skippable frames, nothing
 * after it), and block sizes must be possible for that content size.
 */
import { compress as wasmCompress, compressUsingDict, createCCtx, init as wasmInit } from '@bokuweb/zstd-wasm'
import { decompress as fzstdDecompress } from 'fzstd'
import { createXXHash64, type IHasher } from 'hash-wasm'
import { ChainlogError } from '../../errors.ts'
import { DEFAULT_ZSTD_LEVEL } from '../format.ts'

const ZSTD_MAGIC = 0xfd2fb528
/** zstd Block_Maximum_Size: no block decodes to more than this. */
const MAX_BLOCK_BYTES = 128 * 1024
const BLOCK_RAW = 0
const BLOCK_RLE = 1
const BLOCK_COMPRESSED = 2
/**
 * Largest input compressed in the zstd WebAssembly heap (2 GiB at most, holding input and output
 * side by side). @bokuweb/zstd-wasm does not check its mallocs, so a failed one would write over
 * the module's memory: larger inputs are refused before they get there.
 */
export const MAX_ZSTD_WASM_INPUT = 512 * 1024 * 1024

let ready: Promise<void> | undefined
/**
 * One compression context reused for every call: ZSTD_compress builds and frees a context per
 * call, ZSTD_compress_usingDict with an empty dictionary on a kept context writes the same frame
 * (libzstd's ZSTD_compressCCtx is exactly that call) without the setup cost. Checked at load.
 */
let cctx = 0
const NO_DICT = new Uint8Array(0)
/** XXH64 for frames that carry a content checksum (fzstd skips it; libzstd checks it). */
let xxh64: IHasher | undefined

/** Loads the zstd WebAssembly module once. */
export function initZstd(): Promise<void> {
  ready ??= Promise.all([wasmInit(), createXXHash64()]).then(([, hasher]) => {
    xxh64 = hasher
    const ctx = createCCtx()
    if (ctx !== 0 && reusedContextAgrees(ctx)) cctx = ctx
  })
  return ready
}

function reusedContextAgrees(ctx: number): boolean {
  for (const size of [0, 1, 100, 5000, 70000]) {
    const data = new Uint8Array(size)
    for (let i = 0; i < size; i++) data[i] = (i * i + (i >>> 5)) & 0x3f
    for (const level of [1, 3, 19]) {
      if (Buffer.compare(wasmCompress(data, level), compressUsingDict(ctx, data, NO_DICT, level)) !== 0) return false
    }
  }
  return true
}

/** One zstd frame of `data` at `level` (0 means DEFAULT_ZSTD_LEVEL). */
export function zstdCompress(data: Uint8Array, level: number): Uint8Array {
  const lv = level === 0 ? DEFAULT_ZSTD_LEVEL : level
  if (data.length > MAX_ZSTD_WASM_INPUT) {
    throw new ChainlogError('ERR_UNSUPPORTED', `the JS core compresses at most ${MAX_ZSTD_WASM_INPUT} bytes with zstd, got ${data.length}`)
  }
  try {
    return cctx !== 0 ? compressUsingDict(cctx, data, NO_DICT, lv) : wasmCompress(data, lv)
  } catch (cause) {
    throw new ChainlogError('ERR_UNSUPPORTED', `zstd compression of ${data.length} bytes failed: ${String(cause)}`, { cause })
  }
}

function corrupt(message: string): ChainlogError {
  return new ChainlogError('ERR_CORRUPT', `zstd payload: ${message}`)
}

/**
 * The declared content size of the single frame that `src` must be, after checking the frame's
 * structure as far as it can be checked without decoding. Throws ERR_CORRUPT otherwise.
 */
export function zstdFrameContentSize(src: Uint8Array, maxBytes: number): number {
  return walkFrame(src, maxBytes).contentSize
}

interface FrameInfo {
  contentSize: number
  /** Position of the 4-byte content checksum, or -1 when the frame has none. */
  checksumAt: number
}

function walkFrame(src: Uint8Array, maxBytes: number): FrameInfo {
  const len = src.length
  if (len < 6) throw corrupt(`${len} bytes is shorter than a frame header`)
  const magic = (src[0] | (src[1] << 8) | (src[2] << 16) | (src[3] << 24)) >>> 0
  if (magic !== ZSTD_MAGIC) throw corrupt(`bad magic 0x${magic.toString(16)} (exactly one zstd frame expected)`)
  const fhd = src[4]
  const fcsFlag = fhd >>> 6
  const singleSegment = (fhd >>> 5) & 1
  const checksum = (fhd >>> 2) & 1
  const dictFlag = fhd & 3
  if (fhd & 8) throw corrupt('reserved frame header bit set')
  let p = 5
  let windowSize = 0
  if (!singleSegment) {
    const wd = src[p++]
    const windowBase = 2 ** (10 + (wd >>> 3))
    windowSize = windowBase + (windowBase / 8) * (wd & 7)
  }
  const dictBytes = dictFlag === 3 ? 4 : dictFlag
  let dictId = 0
  for (let k = 0; k < dictBytes; k++) dictId += src[p + k] * 2 ** (8 * k)
  p += dictBytes
  const fcsBytes = fcsFlag === 0 ? singleSegment : 1 << fcsFlag
  if (fcsBytes === 0) throw corrupt('the frame header does not declare a content size')
  if (p + fcsBytes > len) throw corrupt('truncated frame header')
  if (dictId !== 0) throw corrupt(`frame needs dictionary ${dictId}`)
  let contentSize = 0
  for (let k = 0; k < fcsBytes; k++) contentSize += src[p + k] * 2 ** (8 * k)
  if (fcsBytes === 2) contentSize += 256
  p += fcsBytes
  if (contentSize > maxBytes) throw corrupt(`declared content size ${contentSize} exceeds the cap of ${maxBytes} bytes`)
  if (singleSegment) windowSize = contentSize
  const blockMax = Math.min(MAX_BLOCK_BYTES, Math.max(windowSize, 1))

  // Walk the blocks: the frame must end exactly at the end of src.
  let known = 0 // output of raw and RLE blocks
  let compressedBlocks = 0
  for (;;) {
    if (p + 3 > len) throw corrupt('truncated block header')
    const header = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16)
    p += 3
    const last = header & 1
    const type = (header >>> 1) & 3
    const size = header >>> 3
    if (size > blockMax) throw corrupt(`block of ${size} bytes exceeds the block maximum ${blockMax}`)
    if (type === BLOCK_RAW) {
      p += size
      known += size
    } else if (type === BLOCK_RLE) {
      p += 1
      known += size
    } else if (type === BLOCK_COMPRESSED) {
      p += size
      compressedBlocks++
    } else {
      throw corrupt('reserved block type')
    }
    if (p > len) throw corrupt('truncated block')
    if (known > contentSize) throw corrupt(`blocks decode to more than the declared ${contentSize} bytes`)
    if (last) break
  }
  const checksumAt = checksum ? p : -1
  if (checksum) p += 4
  if (p !== len) throw corrupt(p > len ? 'truncated frame checksum' : `${len - p} bytes after the frame (exactly one frame expected)`)
  if (compressedBlocks === 0 ? known !== contentSize : known + compressedBlocks * blockMax < contentSize) {
    throw corrupt(`blocks cannot decode to the declared ${contentSize} bytes`)
  }
  return { contentSize, checksumAt }
}

/** Decompresses the single frame `src` into a new buffer of its declared size (≤ maxBytes). */
export function zstdDecompress(src: Uint8Array, maxBytes: number): Buffer {
  const { contentSize: size, checksumAt } = walkFrame(src, maxBytes)
  const out = Buffer.alloc(size)
  try {
    // fzstd decodes straight into `out`; with an output buffer given it allocates no window.
    fzstdDecompress(src, new Uint8Array(out.buffer, out.byteOffset, size))
  } catch (cause) {
    throw new ChainlogError('ERR_CORRUPT', `zstd payload does not decode: ${String((cause as Error)?.message ?? cause)}`, { cause })
  }
  if (checksumAt >= 0 && xxh64 !== undefined) {
    // The checksum is the low 32 bits of XXH64(content), stored little-endian; digest() is big-endian.
    const digest = xxh64.init().update(out).digest('binary')
    if (src[checksumAt] !== digest[7] || src[checksumAt + 1] !== digest[6] || src[checksumAt + 2] !== digest[5] || src[checksumAt + 3] !== digest[4]) {
      throw corrupt('content checksum does not match')
    }
  }
  return out
}
