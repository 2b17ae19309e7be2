/**
 * LZ4 block format for the JS core.
 *
 * `compressBlock` is a faithful port of lz4_flex 0.14.0's `block::compress` (safe-encode, no
 * dictionary, 64-bit target) so that both cores write the same bytes: the same hash table by
 * input size (4K × u16 with a 4-byte hash below 65535 bytes, 4K × u32 with a 5-byte hash from
 * there on), the same match search with its step-up skip heuristic, backtracking, match
 * extension that stops END_OFFSET bytes before the end, and the same last-literals rules.
 *
 * `decompressBlock` is an independent, bounds-checked decoder: it never reads or writes outside
 * the given ranges and reports failure instead of throwing.
 */

/** A match must start at least this many bytes before the end of the block. */
const MFLIMIT = 12
/** Matches stop this many bytes before the end (lz4_flex: LAST_LITERALS + 1). */
const END_OFFSET = 6
/** Inputs shorter than this are written as literals only. */
const LZ4_MIN_LENGTH = MFLIMIT + 1
const MINMATCH = 4
const MAX_DISTANCE = 0xffff
/** Below this input length lz4_flex uses its u16 table with the 4-byte hash. */
const U16_TABLE_LIMIT = 0xffff
const INCREASE_STEPSIZE_BITSHIFT = 5
const HASHTABLE_SIZE = 4096

/** lz4_flex `get_maximum_output_size`: the most a block of `n` input bytes can take. */
export function maxCompressedSize(n: number): number {
  return 16 + 4 + Math.floor((n * 110) / 100)
}

// One table per process: compression is synchronous, so it is never shared. lz4_flex's u16
// table (inputs under 64 KiB) only ever holds positions below 65535, so a u32 table holds the
// same values; one element type keeps the loop monomorphic.
const table = new Uint32Array(HASHTABLE_SIZE)

// 889523592379 (lz4_flex hash5 prime) split into 32-bit halves.
const P_HI = 207
const P_LO = 465362107

function read32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)
}

/** lz4_flex `hash(get_batch) >> 4`: 4-byte multiplicative hash to 12 bits. */
function hash4(b: Uint8Array, i: number): number {
  return Math.imul(read32(b, i), 0x9e3779b1) >>> 20
}

/**
 * lz4_flex `hash5(get_batch_arch) >> 4` on a little-endian 64-bit target:
 * `((u64 << 24) * 889523592379) >> 48`, which depends on bytes i..i+4 only; the top 32 bits of
 * the 64-bit product are computed from 32-bit halves.
 */
function hash5(b: Uint8Array, i: number): number {
  const b0 = b[i]
  const xHi = b[i + 1] | (b[i + 2] << 8) | (b[i + 3] << 16) | (b[i + 4] << 24)
  const xLo = b0 << 24
  const hi = (Math.imul(xHi, P_LO) + Math.imul(xLo, P_HI) + Math.floor((b0 * P_LO) / 256)) | 0
  return hi >>> 20
}

function writeInteger(out: Uint8Array, op: number, n: number): number {
  while (n >= 0xff) {
    n -= 0xff
    out[op++] = 0xff
  }
  out[op++] = n
  return op
}

function lastLiterals(out: Uint8Array, op: number, input: Uint8Array, start: number, end: number): number {
  const litLen = end - start
  out[op++] = litLen < 0xf ? litLen << 4 : 0xf0
  if (litLen >= 0xf) op = writeInteger(out, op, litLen - 0xf)
  out.set(input.subarray(start, end), op)
  return op + litLen
}

/**
 * Compresses `input` as one raw LZ4 block into `out` at `op` (which must have room for
 * maxCompressedSize(input.length) bytes). Returns the position after the block.
 */
export function compressBlock(input: Uint8Array, out: Uint8Array, op: number): number {
  const n = input.length
  if (n < LZ4_MIN_LENGTH) return lastLiterals(out, op, input, 0, n)

  const small = n < U16_TABLE_LIMIT
  table.fill(0)

  const endPosCheck = n - MFLIMIT
  let literalStart = 0
  // A block cannot start with a match: seed the table with position 0 and start at 1.
  table[small ? hash4(input, 0) : hash5(input, 0)] = 0
  let cur = 1

  for (;;) {
    let nonMatchCount = 1 << INCREASE_STEPSIZE_BITSHIFT
    let nextCur = cur
    let candidate: number
    // Search for a 4-byte match, stepping faster after runs of misses.
    for (;;) {
      const stepSize = nonMatchCount >>> INCREASE_STEPSIZE_BITSHIFT
      nonMatchCount++
      cur = nextCur
      nextCur += stepSize
      if (cur > endPosCheck) return lastLiterals(out, op, input, literalStart, n)
      const h = small ? hash4(input, cur) : hash5(input, cur)
      candidate = table[h]
      table[h] = cur
      if (cur - candidate > MAX_DISTANCE) continue
      if (read32(input, candidate) === read32(input, cur)) break
    }
    const offset = cur - candidate

    // Extend the match backwards over equal bytes, not past the pending literals.
    while (candidate > 0 && cur > literalStart && input[cur - 1] === input[candidate - 1]) {
      cur--
      candidate--
    }
    const litLen = cur - literalStart

    cur += MINMATCH
    candidate += MINMATCH
    // Count further equal bytes, never into the last END_OFFSET bytes of the input.
    const limit = n - END_OFFSET - cur
    let dup = 0
    while (dup + 4 <= limit && read32(input, cur + dup) === read32(input, candidate + dup)) dup += 4
    while (dup < limit && input[cur + dup] === input[candidate + dup]) dup++
    cur += dup

    table[small ? hash4(input, cur - 2) : hash5(input, cur - 2)] = cur - 2

    out[op++] = (litLen < 0xf ? litLen << 4 : 0xf0) | (Math.min(dup , 0xf))
    if (litLen >= 0xf) op = writeInteger(out, op, litLen - 0xf)
    out.set(input.subarray(literalStart, literalStart + litLen), op)
    op += litLen
    out[op++] = offset & 0xff
    out[op++] = offset >>> 8
    if (dup >= 0xf) op = writeInteger(out, op, dup - 0xf)
    literalStart = cur
  }
}

/**
 * Decodes the raw LZ4 block `src[sp..send)` into `dst[dp..dend)`. Returns the number of bytes
 * written, or -1 if the block is malformed or would write past `dend`. Never throws.
 */
export function decompressBlock(src: Uint8Array, sp: number, send: number, dst: Uint8Array, dp: number, dend: number): number {
  const d0 = dp
  for (;;) {
    if (sp >= send) return -1
    const token = src[sp++]
    let litLen = token >>> 4
    if (litLen === 0xf) {
      let b: number
      do {
        if (sp >= send) return -1
        b = src[sp++]
        litLen += b
      } while (b === 0xff)
    }
    if (litLen > send - sp || litLen > dend - dp) return -1
    if (litLen > 0) {
      if (litLen < 32) {
        for (let k = 0; k < litLen; k++) dst[dp + k] = src[sp + k]
      } else {
        dst.set(src.subarray(sp, sp + litLen), dp)
      }
      sp += litLen
      dp += litLen
    }
    if (sp >= send) break // the last sequence holds literals only

    if (send - sp < 2) return -1
    const offset = src[sp] | (src[sp + 1] << 8)
    sp += 2
    let matchLen = token & 0xf
    if (matchLen === 0xf) {
      let b: number
      do {
        if (sp >= send) return -1
        b = src[sp++]
        matchLen += b
      } while (b === 0xff)
    }
    matchLen += MINMATCH
    if (offset === 0 || offset > dp - d0 || matchLen > dend - dp) return -1
    let from = dp - offset
    if (offset >= matchLen && matchLen >= 32) {
      dst.copyWithin(dp, from, from + matchLen)
      dp += matchLen
    } else {
      const stop = dp + matchLen
      while (dp < stop) dst[dp++] = dst[from++]
    }
  }
  return dp - d0
}
