import type { EncodeBatchInput, HashAlgorithm } from '../../ts/core/interface.ts'
import { KIND_DATA, CODEC_NONE } from '../../ts/core/interface.ts'

export const ZERO_HASH = Buffer.alloc(32)

/** An EncodeBatchInput from plain values, with the defaults most tests want. */
export function batchInput(opts: {
  payloads: (string | Uint8Array)[]
  stream?: string
  hash?: HashAlgorithm
  firstOffset?: number
  prevHash?: Uint8Array
  kind?: number
  codec?: number
  level?: number
  timestamps?: number[]
  wantHashes?: boolean
}): EncodeBatchInput {
  const bufs = opts.payloads.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))
  const firstOffset = opts.firstOffset ?? 0
  return {
    hash: opts.hash ?? 'blake3',
    stream: opts.stream ?? 'orders',
    firstOffset,
    prevHash: opts.prevHash ?? ZERO_HASH,
    kind: opts.kind ?? KIND_DATA,
    codec: opts.codec ?? CODEC_NONE,
    level: opts.level ?? 0,
    payloads: Buffer.concat(bufs),
    lengths: Uint32Array.from(bufs.map((b) => b.length)),
    timestamps: Float64Array.from(opts.timestamps ?? bufs.map((_, i) => 1700000000000 + firstOffset + i)),
    wantHashes: opts.wantHashes ?? true,
  }
}
