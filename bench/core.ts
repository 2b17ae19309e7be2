/**
 * Core-level throughput: encodeBatch, scanSegment (chain verified) and decodeRecords over the
 * same records on each core. No files are involved: this isolates the boundary and the hashing.
 * Each figure is the median of several runs after a warm-up; ratios come from the same process run.
 */
import type { ChainlogCore, HashAlgorithm } from '../ts/core/interface.ts'
import { CODEC_NONE } from '../ts/core/interface.ts'
import { MAX_PAYLOAD_BYTES } from '../ts/core/format.ts'
import { measureRate, type Summary } from './stats.ts'

export interface CoreBenchResult {
  core: string
  op: string
  records: number
  recordsPerSec: Summary
  mbPerSec: number
}

const ZERO = Buffer.alloc(32)

export async function benchCore(core: ChainlogCore, opts: { records: number; size: number; batch: number; runs: number; hash: HashAlgorithm }): Promise<CoreBenchResult[]> {
  const { records, size, batch, runs, hash } = opts
  const payloads = Buffer.alloc(size * batch, 0x61)
  for (let i = 0; i < payloads.length; i += 7) payloads[i] = i & 0xff
  const lengths = new Uint32Array(batch).fill(size)
  const timestamps = new Float64Array(batch).fill(1700000000000)

  const chunks: Buffer[] = []
  const encodeAll = () => {
    chunks.length = 0
    let prev: Uint8Array = ZERO
    for (let off = 0; off < records; off += batch) {
      const r = core.encodeBatch({ hash, stream: 'bench', firstOffset: off, prevHash: prev, kind: 0, codec: CODEC_NONE, level: 0, payloads, lengths, timestamps })
      chunks.push(r.bytes)
      prev = r.lastHash
    }
  }
  const encode = await measureRate(runs, records, encodeAll)
  const segment = Buffer.concat(chunks)

  const CHUNK = 8 * 1024 * 1024
  const scanAll = () => {
    let pos = 0
    let prevHash: Uint8Array | null = ZERO
    let firstOffset: number | null = 0
    let prevTimestamp: number | null = null
    let count = 0
    while (pos < segment.length) {
      const end = Math.min(segment.length, pos + CHUNK)
      const r = core.scanSegment({ hash, stream: 'bench', data: segment.subarray(pos, end), basePosition: pos, firstOffset, prevHash, prevTimestamp, verifyChain: true, final: end === segment.length })
      count += r.count
      if (r.stop !== 'end' && r.stop !== 'partial') throw new Error(`scan stopped: ${r.stop} ${r.reason}`)
      pos = r.stopPosition
      prevHash = r.lastHash
      firstOffset = r.nextOffset
      prevTimestamp = r.lastTimestamp
    }
    if (count !== records) throw new Error(`scan found ${count} of ${records} records`)
  }
  const scan = await measureRate(runs, records, scanAll)

  const recordBytes = size + 66
  const decodeAll = () => {
    let prev: Uint8Array = ZERO
    for (let first = 0; first < records; first += batch) {
      const positions = new Float64Array(batch)
      for (let i = 0; i < batch; i++) positions[i] = (first + i) * recordBytes
      const base = first * recordBytes
      const d = core.decodeRecords({ hash, stream: 'bench', data: segment.subarray(base, base + batch * recordBytes), basePosition: base, positions, expectPrevHash: prev, payloadsFrom: 0, maxPayloadBytes: MAX_PAYLOAD_BYTES })
      prev = d.hashes.subarray((batch - 1) * 32)
    }
  }
  const decode = await measureRate(runs, records, decodeAll)

  const mb = (s: Summary) => (s.median * size) / 1e6
  return [
    { core: core.name, op: `encode ${hash}`, records, recordsPerSec: encode, mbPerSec: mb(encode) },
    { core: core.name, op: `scan+verify ${hash}`, records, recordsPerSec: scan, mbPerSec: mb(scan) },
    { core: core.name, op: `decode+verify ${hash}`, records, recordsPerSec: decode, mbPerSec: mb(decode) },
  ]
}
