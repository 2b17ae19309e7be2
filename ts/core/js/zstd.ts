/**
 * zstd for the JS core. Compression: @bokuweb/zstd-wasm (libzstd's ZSTD_compress on a kept
 * context, so the frame carries its content size and no checksum, as the native core writes it).
 * Decompression: the same libzstd build, so damaged frames are accepted or refused as the native
 * core's libzstd does; fzstd (pure JS) only for frames over 64 MiB or when the wasm heap is full.
 *
 * Before anything is allocated the frame is walked: the header must declare a content size no
 * larger than the cap, the input must be exactly one zstd frame (no skippable frames, nothing
 * after it), and its blocks must be able to add up to the declared size. The output is exactly
 * the declared size.
 */
import { compress as wasmCompress, compressUsingDict, createCCtx, init as wasmInit } from '@bokuweb/zstd-wasm'
import { decompress as fzstdDecompress } from 'fzstd'
import { createXXHash64, type IHasher } from 'hash-wasm'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { ChainlogError } from '../../errors.ts'
import { DEFAULT_ZSTD_LEVEL } from '../format.ts'
import { dictionaryFor } from './dictionary.ts'

/** The Emscripten module behind @bokuweb/zstd-wasm: the exports its decompress() wrapper uses. */
interface ZstdModule {
  HEAPU8: Uint8Array
  _malloc(size: number): number
  _free(ptr: number): void
  _ZSTD_createDCtx(): number
  _ZSTD_decompress_usingDict(dctx: number, dst: number, dstCap: number, src: number, srcSize: number, dict: number, dictSize: number): number
  _ZSTD_isError(code: number): number
}

/**
 * Largest frame (input or output) decoded inside the zstd WebAssembly heap, which never shrinks;
 * larger ones are decoded by fzstd in JS memory.
 */
const MAX_LIBZSTD_DECODE = 64 * 1024 * 1024

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
const MAX_ZSTD_WASM_INPUT = 512 * 1024 * 1024

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
let zstdModule: ZstdModule | null = null
/** One decompression context reused for every call. */
let dctx = 0

/**
 * @bokuweb/zstd-wasm's public decompress() mallocs without checking the result; the module
 * itself is used instead, with checked allocations. Same instance as the package's own.
 */
function loadZstdModule(): ZstdModule | null {
  try {
    // The package exports only its entry point; its module.js sits beside it (same cache entry).
    const require = createRequire(import.meta.url)
    const entry = require.resolve('@bokuweb/zstd-wasm')
    const m = require(join(dirname(entry), 'module.js')).Module as ZstdModule
    const ok = typeof m?._malloc === 'function' && typeof m._ZSTD_decompress_usingDict === 'function' &&
      typeof m._ZSTD_createDCtx === 'function' && typeof m._ZSTD_isError === 'function' && m.HEAPU8 instanceof Uint8Array
    return ok ? m : null
  } catch {
    return null
  }
}

/** Loads the zstd WebAssembly module once. */
export function initZstd(): Promise<void> {
  ready ??= Promise.all([wasmInit(), createXXHash64()]).then(([, hasher]) => {
    xxh64 = hasher
    zstdModule = loadZstdModule()
    if (zstdModule !== null) {
      dctx = zstdModule._ZSTD_createDCtx()
      if (dctx !== 0 && !libzstdRoundTrips()) dctx = 0
    }
    const ctx = createCCtx()
    if (ctx !== 0 && reusedContextAgrees(ctx)) cctx = ctx
  })
  return ready
}

function libzstdRoundTrips(): boolean {
  try {
    const data = new Uint8Array(70000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251
    const out = libzstdDecompress(wasmCompress(data, 3), data.length)
    return out?.equals(data) === true
  } catch {
    return false
  }
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

interface FrameInfo {
  contentSize: number
  /** Position of the 4-byte content checksum, or -1 when the frame has none. */
  checksumAt: number
  /** Largest output one block may have: min(128 KiB, window size). */
  blockMax: number
  /** Output of the raw and RLE blocks, whose sizes the block headers give. */
  knownOutput: number
  compressedBlocks: number
  /** A block header claims more than the block maximum. */
  oversizedBlock: boolean
  /** The dictionary the frame header names; 0 for none. */
  dictId: number
}

/**
 * Structural checks of the one frame `src` must be: magic, header, a declared content size
 * within the cap, a dictionary ID only if `withDictionary`, block headers that stay inside src, and the frame ending
 * exactly at the end of src (no second frame, skippable or not).
 */
function walkFrame(src: Uint8Array, maxBytes: number, withDictionary: boolean): FrameInfo {
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
  if (dictId !== 0 && !withDictionary) throw corrupt(`frame needs dictionary ${dictId}`)
  if (dictId === 0 && withDictionary) throw corrupt('payload of form 4 names no dictionary')
  let contentSize = 0
  for (let k = 0; k < fcsBytes; k++) contentSize += src[p + k] * 2 ** (8 * k)
  if (fcsBytes === 2) contentSize += 256
  p += fcsBytes
  if (contentSize > maxBytes) throw corrupt(`declared content size ${contentSize} exceeds the cap of ${maxBytes} bytes`)
  if (singleSegment) windowSize = contentSize
  const blockMax = Math.min(MAX_BLOCK_BYTES, Math.max(windowSize, 1))

  let knownOutput = 0
  let compressedBlocks = 0
  let oversizedBlock = false
  for (;;) {
    if (p + 3 > len) throw corrupt('truncated block header')
    const header = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16)
    p += 3
    const last = header & 1
    const type = (header >>> 1) & 3
    const size = header >>> 3
    if (size > blockMax) oversizedBlock = true
    if (type === BLOCK_RAW) {
      p += size
      knownOutput += size
    } else if (type === BLOCK_RLE) {
      p += 1
      knownOutput += size
    } else if (type === BLOCK_COMPRESSED) {
      p += size
      compressedBlocks++
    } else {
      throw corrupt('reserved block type')
    }
    if (p > len) throw corrupt('truncated block')
    if (last) break
  }
  const checksumAt = checksum ? p : -1
  if (checksum) p += 4
  if (p !== len) throw corrupt(p > len ? 'truncated frame checksum' : `${len - p} bytes after the frame (exactly one frame expected)`)
  return { contentSize, checksumAt, blockMax, knownOutput, compressedBlocks, oversizedBlock, dictId }
}

/**
 * Decompresses the single frame `src` into a new buffer of its declared size (≤ maxBytes).
 * libzstd (the same decoder as the native core's) decides what decodes; fzstd is the fallback
 * for outputs too large for the WebAssembly heap.
 */
export function zstdDecompress(src: Uint8Array, maxBytes: number): Buffer {
  return decompressFrame(src, maxBytes, false)
}

/**
 * Decompresses a form-4 frame with the loaded dictionary its header names. Only libzstd decodes
 * with a dictionary here (fzstd cannot): frames over 64 MiB are ERR_UNSUPPORTED in the JS core.
 */
export function zstdDecompressWithDictionary(src: Uint8Array, maxBytes: number): Buffer {
  return decompressFrame(src, maxBytes, true)
}

function decompressFrame(src: Uint8Array, maxBytes: number, withDictionary: boolean): Buffer {
  const frame = walkFrame(src, maxBytes, withDictionary)
  const dict = withDictionary ? dictionaryFor(frame.dictId) : NO_DICT
  // Before allocating: no block regenerates more than 128 KiB, so blocks that cannot add up to
  // the declared size are refused here (libzstd would refuse them after the allocation).
  const size = frame.contentSize
  if (frame.knownOutput > size || frame.knownOutput + frame.compressedBlocks * MAX_BLOCK_BYTES < size) {
    throw corrupt(`blocks cannot decode to the declared ${size} bytes`)
  }
  if (frame.contentSize <= MAX_LIBZSTD_DECODE && src.length <= MAX_LIBZSTD_DECODE) {
    const out = libzstdDecompress(src, frame.contentSize, dict)
    if (out !== null) return out
  }
  if (withDictionary) {
    throw new ChainlogError('ERR_UNSUPPORTED', `the JS core decodes zstd frames with a dictionary only in libzstd's heap (up to ${MAX_LIBZSTD_DECODE} bytes); this one holds ${frame.contentSize}`)
  }
  return fzstdDecompressFrame(src, frame)
}

/** null when the WebAssembly heap cannot hold input and output (the caller falls back). */
function libzstdDecompress(src: Uint8Array, size: number, dict: Uint8Array = NO_DICT): Buffer | null {
  const m = zstdModule
  if (m === null || dctx === 0) return null
  const srcPtr = m._malloc(Math.max(1, src.length + dict.length))
  if (srcPtr === 0) return null
  const dstPtr = m._malloc(Math.max(1, size))
  if (dstPtr === 0) {
    m._free(srcPtr)
    return null
  }
  try {
    // The dictionary sits right after the frame in one allocation.
    m.HEAPU8.set(src, srcPtr)
    m.HEAPU8.set(dict, srcPtr + src.length)
    const dictPtr = dict.length === 0 ? 0 : srcPtr + src.length
    const result = m._ZSTD_decompress_usingDict(dctx, dstPtr, size, srcPtr, src.length, dictPtr, dict.length)
    if (m._ZSTD_isError(result)) throw corrupt(`libzstd error ${-(result | 0)} while decoding`)
    if (result >>> 0 !== size) throw corrupt(`decoded ${result >>> 0} bytes, the frame declares ${size}`)
    return Buffer.from(m.HEAPU8.subarray(dstPtr, dstPtr + size))
  } finally {
    m._free(dstPtr)
    m._free(srcPtr)
  }
}

function fzstdDecompressFrame(src: Uint8Array, frame: FrameInfo): Buffer {
  const size = frame.contentSize
  // fzstd does not report how much it wrote: refuse what cannot add up before decoding.
  if (frame.oversizedBlock) throw corrupt(`a block exceeds the block maximum of ${frame.blockMax} bytes`)
  const possible = frame.compressedBlocks === 0
    ? frame.knownOutput === size
    : frame.knownOutput <= size && frame.knownOutput + frame.compressedBlocks * frame.blockMax >= size
  if (!possible) throw corrupt(`blocks cannot decode to the declared ${size} bytes`)
  const out = Buffer.alloc(size)
  try {
    // fzstd decodes straight into `out`; with an output buffer given it allocates no window.
    fzstdDecompress(src, new Uint8Array(out.buffer, out.byteOffset, size))
  } catch (cause) {
    throw new ChainlogError('ERR_CORRUPT', `zstd payload does not decode: ${String((cause as Error)?.message ?? cause)}`, { cause })
  }
  if (frame.checksumAt >= 0 && xxh64 !== undefined) {
    // The checksum is the low 32 bits of XXH64(content), stored little-endian; digest() is big-endian.
    const at = frame.checksumAt
    const digest = xxh64.init().update(out).digest('binary')
    if (src[at] !== digest[7] || src[at + 1] !== digest[6] || src[at + 2] !== digest[5] || src[at + 3] !== digest[4]) {
      throw corrupt('content checksum does not match')
    }
  }
  return out
}
