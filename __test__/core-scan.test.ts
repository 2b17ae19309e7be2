import test from 'ava'
import { BACKENDS, core } from './helpers/cores.ts'
import { int, payload, rng, seedFromEnv } from './helpers/random.ts'
import { ZERO_HASH } from './helpers/batch.ts'
import type { ChainlogCore, ScanInput, ScanResult } from '../ts/core/interface.ts'
import { CODEC_LZ4, CODEC_NONE, CODEC_ZSTD } from '../ts/core/interface.ts'

const SEED = seedFromEnv(424242)

interface Segment {
  bytes: Buffer
  /** Start of every record, plus the end of the segment. */
  bounds: number[]
  hashes: Buffer[]
}

/** A segment of several batches in mixed codecs, as both cores would write it. */
function buildSegment(c: ChainlogCore, rand: () => number, records = 12): Segment {
  const parts: Buffer[] = []
  const bounds: number[] = []
  const hashes: Buffer[] = []
  let prev: Buffer = ZERO_HASH
  let offset = 0
  let pos = 0
  while (offset < records) {
    const n = Math.min(records - offset, int(rand, 1, 4))
    const payloads = Array.from({ length: n }, () => payload(rand, int(rand, 0, 300)))
    const r = c.encodeBatch({
      hash: 'blake3', stream: 's', firstOffset: offset, prevHash: prev, kind: 0,
      codec: [CODEC_NONE, CODEC_LZ4, CODEC_ZSTD][int(rand, 0, 2)], level: 3,
      payloads: Buffer.concat(payloads), lengths: Uint32Array.from(payloads.map((p) => p.length)),
      timestamps: Float64Array.from(payloads.map((_, i) => 1000 + offset + i)), wantHashes: true,
    })
    for (let i = 0; i < n; i++) {
      bounds.push(pos + r.positions[i])
      hashes.push(Buffer.from(r.hashes!.subarray(i * 32, i * 32 + 32)))
    }
    parts.push(r.bytes)
    pos += r.bytes.length
    prev = r.lastHash
    offset += n
  }
  bounds.push(pos)
  return { bytes: Buffer.concat(parts), bounds, hashes }
}

function scan(c: ChainlogCore, data: Uint8Array, over: Partial<ScanInput> = {}): ScanResult {
  return c.scanSegment({
    hash: 'blake3', stream: 's', data, basePosition: 0, firstOffset: 0, prevHash: ZERO_HASH,
    prevTimestamp: null, verifyChain: false, final: true, ...over,
  })
}

/** The parts of a result that must agree across cores (reason texts may be worded differently). */
function comparable(r: ScanResult) {
  const { reason: _reason, ...rest } = r
  return {
    ...rest,
    positions: [...r.positions], offsets: [...r.offsets], timestamps: [...r.timestamps], kinds: [...r.kinds],
    lastHash: r.lastHash?.toString('hex') ?? null,
  }
}

function recordIndexAt(seg: Segment, p: number): number {
  let k = 0
  while (seg.bounds[k + 1] <= p) k++
  return k
}

for (const backend of BACKENDS) {
  test(`${backend}: a whole segment scans to a clean end in both modes`, async (t) => {
    const c = await core(backend)
    const seg = buildSegment(c, rng(SEED))
    for (const verifyChain of [false, true]) {
      const r = scan(c, seg.bytes, { verifyChain })
      t.is(r.stop, 'end', r.reason)
      t.is(r.count, 12)
      t.deepEqual([...r.positions], seg.bounds.slice(0, -1))
      t.deepEqual([...r.offsets], [...Array(12).keys()])
      t.is(r.validLength, seg.bytes.length)
      t.is(r.nextOffset, 12)
      t.is(r.lastTimestamp, 1011)
      if (verifyChain) t.true(r.lastHash!.equals(seg.hashes[11]))
      else t.is(r.lastHash, null)
    }
  })

  test(`${backend}: a segment cut at any byte scans to its last whole record ('end' on a boundary, else 'torn')`, async (t) => {
    const c = await core(backend)
    const seg = buildSegment(c, rng(SEED + 1), 6)
    for (let cut = 0; cut < seg.bytes.length; cut++) {
      const r = scan(c, seg.bytes.subarray(0, cut), { verifyChain: cut % 2 === 0 })
      const k = recordIndexAt(seg, cut)
      const onBoundary = seg.bounds[k] === cut
      t.is(r.stop, onBoundary ? 'end' : 'torn', `cut ${cut}: ${r.reason}`)
      t.is(r.count, k, `cut ${cut}`)
      t.is(r.validLength, seg.bounds[k], `cut ${cut}`)
      t.is(r.stopPosition, seg.bounds[k], `cut ${cut}`)
    }
  })

  test(`${backend}: a cut segment scanned as a non-final chunk asks for the rest of the record`, async (t) => {
    const c = await core(backend)
    const seg = buildSegment(c, rng(SEED + 2), 5)
    for (let cut = 1; cut < seg.bytes.length; cut++) {
      const k = recordIndexAt(seg, cut)
      if (seg.bounds[k] === cut) continue
      const r = scan(c, seg.bytes.subarray(0, cut), { final: false })
      t.is(r.stop, 'partial', `cut ${cut}: ${r.reason}`)
      t.is(r.stopPosition, seg.bounds[k])
      const recordLength = seg.bounds[k + 1] - seg.bounds[k]
      if (cut - seg.bounds[k] >= 58) t.is(r.needBytes, recordLength, `cut ${cut}`)
      else t.true(r.needBytes >= 66 && r.needBytes <= recordLength, `cut ${cut}: needBytes ${r.needBytes}`)
    }
  })

  test(`${backend}: scanning in random chunks finds the same records as one scan`, async (t) => {
    const c = await core(backend)
    const rand = rng(SEED + 3)
    const seg = buildSegment(c, rand, 40)
    for (let trial = 0; trial < 20; trial++) {
      let pos = 0
      let prevHash: Buffer | null = ZERO_HASH
      let firstOffset: number | null = 0
      let prevTimestamp: number | null = null
      const positions: number[] = []
      for (;;) {
        const end = Math.min(seg.bytes.length, pos + int(rand, 1, 900))
        const final = end === seg.bytes.length
        const r = scan(c, seg.bytes.subarray(pos, end), { basePosition: pos, final, verifyChain: true, prevHash, firstOffset, prevTimestamp })
        positions.push(...r.positions)
        t.true(r.stop === 'end' || r.stop === 'partial', r.reason)
        pos = r.stopPosition
        prevHash = r.lastHash
        firstOffset = r.nextOffset
        prevTimestamp = r.lastTimestamp
        if (final) break
      }
      t.deepEqual(positions, seg.bounds.slice(0, -1))
      t.true(prevHash!.equals(seg.hashes[39]))
    }
  })

  test(`${backend}: a flipped byte is corruption in the middle of a segment and a torn tail in its last record`, async (t) => {
    const c = await core(backend)
    const rand = rng(SEED + 4)
    const seg = buildSegment(c, rand, 10)
    const last = seg.bounds[9]
    for (let trial = 0; trial < 400; trial++) {
      const p = int(rand, 0, seg.bytes.length - 1)
      const bad = Buffer.from(seg.bytes)
      bad[p] ^= 1 << int(rand, 0, 7)
      const k = recordIndexAt(seg, p)
      const r = scan(c, bad, { verifyChain: trial % 2 === 0 })
      t.is(r.stopPosition, seg.bounds[k], `flip at ${p}`)
      t.is(r.count, k)
      if (p >= last) {
        t.is(r.stop, 'torn', `flip at ${p}: ${r.reason}`)
      } else {
        t.is(r.stop, 'corrupt', `flip at ${p}: ${r.reason}`)
        t.is(r.nextValidPosition, seg.bounds[k + 1])
      }
    }
  })

  test(`${backend}: a rewritten payload with a fixed CRC breaks the chain at the next record`, async (t) => {
    const c = await core(backend)
    const seg = buildSegment(c, rng(SEED + 5), 6)
    for (let k = 0; k < 5; k++) {
      const bad = Buffer.from(seg.bytes)
      const at = seg.bounds[k]
      const len = bad.readUInt32LE(at + 54)
      if (len === 0 || bad[at + 53] !== 0) continue // only uncompressed, non-empty payloads
      bad[at + 58] ^= 0xff
      bad.writeUInt32LE(c.crc32(bad.subarray(at, at + 58 + len)), at + 58 + len)
      t.is(scan(c, bad).stop, 'end', 'CRC-only scan cannot see tampering')
      const r = scan(c, bad, { verifyChain: true })
      t.is(r.stop, 'chain', r.reason)
      t.is(r.stopPosition, seg.bounds[k + 1])
      t.is(r.stopOffset, k + 1)
      t.pass()
    }
  })

  test(`${backend}: a rewritten offset with a fixed CRC is corruption`, async (t) => {
    const c = await core(backend)
    const seg = buildSegment(c, rng(SEED + 6), 4)
    const bad = Buffer.from(seg.bytes)
    const at = seg.bounds[2]
    const len = bad.readUInt32LE(at + 54)
    bad.writeBigUInt64LE(7n, at + 4)
    bad.writeUInt32LE(c.crc32(bad.subarray(at, at + 58 + len)), at + 58 + len)
    const r = scan(c, bad)
    t.is(r.stop, 'corrupt', r.reason)
    t.is(r.stopPosition, at)
    t.is(r.count, 2)
  })

  test(`${backend}: a zero-filled or garbage tail after the records is a torn tail`, async (t) => {
    const c = await core(backend)
    const rand = rng(SEED + 7)
    const seg = buildSegment(c, rand, 5)
    for (const tail of [Buffer.alloc(4096), payload(rand, 3000), Buffer.from([0xfe, 0x0f, 0xdc, 0xba, 1, 2, 3])]) {
      const r = scan(c, Buffer.concat([seg.bytes, tail]), { verifyChain: true })
      t.is(r.stop, 'torn', r.reason)
      t.is(r.stopPosition, seg.bytes.length)
      t.is(r.count, 5)
    }
  })

  test(`${backend}: a crafted length field never allocates or hangs`, async (t) => {
    const c = await core(backend)
    const seg = buildSegment(c, rng(SEED + 8), 3)
    for (const len of [0xffffffff, 0x7fffffff, 1024 * 1024 * 1024 + 1, seg.bytes.length]) {
      const bad = Buffer.from(seg.bytes)
      bad.writeUInt32LE(len, seg.bounds[2] + 54)
      const r = scan(c, bad)
      t.is(r.stop, 'torn', `length ${len}: ${r.reason}`)
      t.is(r.count, 2)
      const mid = Buffer.from(seg.bytes)
      mid.writeUInt32LE(len, seg.bounds[1] + 54)
      const m = scan(c, mid, { final: false })
      t.true(m.stop === 'corrupt' || m.stop === 'unresolved' || m.stop === 'partial', `length ${len}: ${m.stop}`)
      t.is(m.count, 1)
    }
  })

  test(`${backend}: findValidRecord skips garbage to the next valid record`, async (t) => {
    const c = await core(backend)
    const rand = rng(SEED + 9)
    const seg = buildSegment(c, rand, 3)
    const garbage = Buffer.concat([payload(rand, 500), Buffer.from([0xfe, 0x0f, 0xdc, 0xba]), Buffer.alloc(70)])
    const data = Buffer.concat([garbage, seg.bytes])
    t.deepEqual(c.findValidRecord({ data, basePosition: 1000, final: true }), { state: 'found', position: 1000 + garbage.length, needBytes: 0 })
    const none = c.findValidRecord({ data: garbage, basePosition: 0, final: true })
    t.is(none.state, 'none')
    const cut = data.subarray(0, garbage.length + 30)
    const more = c.findValidRecord({ data: cut, basePosition: 0, final: false })
    t.is(more.state, 'more')
    t.is(more.position, garbage.length)
    t.true(more.needBytes > 30)
  })
}

test('native and js scan random damage to the same result', async (t) => {
  const native = await core('native')
  const js = await core('js')
  const rand = rng(SEED + 10)
  const seg = buildSegment(js, rand, 30)
  for (let trial = 0; trial < 500; trial++) {
    const bad = Buffer.from(seg.bytes)
    const action = int(rand, 0, 2)
    let data: Buffer = bad
    if (action === 0) data = bad.subarray(0, int(rand, 0, bad.length))
    else if (action === 1) for (let f = int(rand, 1, 4); f > 0; f--) bad[int(rand, 0, bad.length - 1)] ^= int(rand, 1, 255)
    else bad.fill(0, int(rand, 0, bad.length - 1), bad.length)
    const over = { verifyChain: rand() < 0.5, final: rand() < 0.7 }
    t.deepEqual(comparable(scan(native, data, over)), comparable(scan(js, data, over)), `trial ${trial} action ${action}`)
  }
})
