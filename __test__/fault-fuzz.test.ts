/**
 * Fault suite, part 6 (the JS side; the Rust core has crates/chainlog-core/tests/fuzz.rs):
 * fast-check properties over the core interface, run on the JS core and, as a parity oracle,
 * the native core: scanSegment, findValidRecord, decodeRecords and decompress on encoded
 * segments that are flipped, cut, spliced and crafted, and the offset-index decoder on crafted
 * files. No input may throw anything but a ChainlogError, take long, or make a Buffer allocation
 * beyond a bound set by the input's size (never by a length or count the input claims).
 */
import test from 'ava'
import fc from 'fast-check'
import { BACKENDS, core } from './helpers/cores.ts'
import { count, faultSize } from './helpers/faults.ts'
import { batchInput } from './helpers/batch.ts'
import { ChainlogError } from '../ts/index.ts'
import { decodeIndex, encodeIndex, PositionList } from '../ts/storage/offset-index.ts'
import type { ChainlogCore, ScanResult } from '../ts/core/interface.ts'

const SEED = Number(process.env.CHAINLOG_TEST_SEED ?? 9001)
/** Runs per property per core: a share in `npm test`, 100,000 in the long run (1,000,000 in all; the Rust properties add 1,000,000 more). */
const RUNS = faultSize(300, 100_000)
const MAX_PAYLOAD = 2 ** 30
/** Slowest acceptable run: inputs are a few KiB. */
const RUN_MS = 2000
/** Largest Buffer one run may allocate (inputs are at most a few KiB; claims go up to 2^64). */
const ALLOC_BOUND = 8 * 1024 * 1024

// Watch Buffer allocations (the cores size their outputs with these).
let largest = 0
for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
  const original = Buffer[name] as (size: number, ...rest: unknown[]) => Buffer
  ;(Buffer as unknown as Record<string, unknown>)[name] = (size: number, ...rest: unknown[]) => {
    if (size > largest) largest = size
    return original.call(Buffer, size, ...rest)
  }
}

/** Runs `body` under the time and allocation bounds; only ChainlogErrors may come out. */
function bounded<T>(what: string, body: () => T): T | ChainlogError {
  largest = 0
  const t0 = performance.now()
  let out: T | ChainlogError
  try {
    out = body()
  } catch (err) {
    if (!(err instanceof ChainlogError)) throw new Error(`${what}: threw a non-ChainlogError: ${err}`)
    out = err
  }
  const ms = performance.now() - t0
  if (ms > RUN_MS) throw new Error(`${what}: took ${ms.toFixed(0)} ms`)
  if (largest > ALLOC_BOUND) throw new Error(`${what}: allocated ${largest} bytes`)
  return out
}

const damage = fc.oneof(
  fc.record({ t: fc.constant('xor' as const), i: fc.nat(), b: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ t: fc.constant('cut' as const), i: fc.nat() }),
  fc.record({ t: fc.constant('insert' as const), i: fc.nat(), v: fc.uint8Array({ minLength: 1, maxLength: 80 }) }),
  fc.record({ t: fc.constant('start' as const), i: fc.nat(), len: fc.oneof(fc.constantFrom(0, 40, 2 ** 30, 2 ** 30 + 1, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 })) }),
  fc.record({ t: fc.constant('length' as const), i: fc.nat(), len: fc.oneof(fc.constantFrom(2 ** 30, 2 ** 30 + 1, 2 ** 32 - 1), fc.nat(300)) }),
)
type Damage = typeof damage extends fc.Arbitrary<infer D> ? D : never

function apply(data: Buffer, d: Damage): Buffer {
  const n = data.length
  switch (d.t) {
    case 'xor':
      if (n > 0) data[d.i % n] ^= d.b
      return data
    case 'cut':
      return data.subarray(0, d.i % (n + 1))
    case 'insert': {
      const at = d.i % (n + 1)
      return Buffer.concat([data.subarray(0, at), d.v, data.subarray(at)])
    }
    case 'start': {
      const at = d.i % (n + 1)
      const h = Buffer.alloc(58)
      h.writeUInt32LE(0xbadc0ffe, 0)
      h.writeUInt32LE(d.len, 54)
      return Buffer.concat([data.subarray(0, at), h, data.subarray(at)])
    }
    case 'length':
      if (n >= 58) data.writeUInt32LE(d.len, (d.i % (n - 57)) + 54)
      return data
  }
}

const payloads = fc.array(fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.tuple(fc.nat(600), fc.nat(255)).map(([n, b]) => new Uint8Array(n).fill(b))), { minLength: 1, maxLength: 8 })

/** A damaged segment: clean records in one codec, 0–4 damages; or raw random bytes. */
const segmentArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ hash: fc.constantFrom('blake3' as const, 'sha256' as const), payloads, codec: fc.integer({ min: 0, max: 2 }), damages: fc.array(damage, { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ hash: fc.constantFrom('blake3' as const, 'sha256' as const), raw: fc.uint8Array({ maxLength: 2048 }) }) },
)

let encoder: ChainlogCore
function materialize(s: { hash: 'blake3' | 'sha256'; payloads?: Uint8Array[]; codec?: number; damages?: Damage[]; raw?: Uint8Array }): { data: Buffer; clean: boolean; positions: Float64Array } {
  if (s.raw !== undefined) return { data: Buffer.from(s.raw), clean: false, positions: new Float64Array() }
  const enc = encoder.encodeBatch(batchInput({ payloads: s.payloads!, hash: s.hash, codec: s.codec, level: 1 }))
  let data: Buffer = Buffer.from(enc.bytes)
  for (const d of s.damages!) data = apply(data, d)
  return { data, clean: s.damages!.length === 0, positions: enc.positions }
}

/** Every field but `reason` (docs/scan-rules.md: the cores agree on all of them). */
function comparable(r: ScanResult) {
  return { ...r, reason: undefined, positions: Array.from(r.positions), offsets: Array.from(r.offsets), timestamps: Array.from(r.timestamps), kinds: Array.from(r.kinds), lastHash: r.lastHash?.toString('hex') ?? null }
}

for (const backend of BACKENDS) {
  const other = backend === 'js' ? 'native' : 'js'

  test(`${backend}: fuzzed scanSegment keeps its invariants, agrees with the ${other} core, and stays in bounds`, async (t) => {
    const c = await core(backend)
    const o = await core(other)
    encoder = await core('js')
    fc.assert(
      fc.property(segmentArb, fc.boolean(), fc.boolean(), fc.constantFrom(null, 0, 5), fc.nat(2 ** 40), (s, verifyChain, final, firstOffset, base) => {
        const { data, clean } = materialize(s)
        const input = { hash: s.hash, stream: 'orders', data, basePosition: base, firstOffset, prevHash: firstOffset === 0 ? Buffer.alloc(32) : null, prevTimestamp: null, verifyChain, final }
        const r = bounded('scanSegment', () => c.scanSegment(input))
        if (r instanceof ChainlogError) throw r // valid arguments: a scan reports damage, never throws
        if (r.positions.length !== r.count || r.stopPosition !== base + r.validLength || r.validLength > data.length) throw new Error('bad result shape')
        if (r.stop === 'end' && r.validLength !== data.length) throw new Error('end before the end')
        if (clean && final && firstOffset !== 5 && r.stop !== 'end') throw new Error(`clean data stopped: ${r.reason}`)
        if ((r.stop === 'torn') !== (final && r.stop === 'torn')) throw new Error('torn without final')
        const p = o.scanSegment(input)
        t.deepEqual(comparable(r), comparable(p))
      }),
      { numRuns: RUNS, seed: SEED },
    )
    count('fuzz', 'inputs', RUNS)
    count('fuzz', `js-side scanSegment (${backend})`, RUNS)
  })

  test(`${backend}: fuzzed findValidRecord finds the first valid frame and agrees with the ${other} core`, async (t) => {
    const c = await core(backend)
    const o = await core(other)
    encoder = await core('js')
    fc.assert(
      fc.property(segmentArb, fc.boolean(), fc.nat(2 ** 40), (s, final, base) => {
        const { data } = materialize(s)
        const r = bounded('findValidRecord', () => c.findValidRecord({ data, basePosition: base, final }))
        if (r instanceof ChainlogError) throw r
        if (r.position < base || r.position > base + data.length) throw new Error('position out of range')
        if (r.state === 'found') {
          const at = r.position - base
          const one = c.scanSegment({ hash: s.hash, stream: 'x', data: data.subarray(at), basePosition: 0, firstOffset: null, prevHash: null, prevTimestamp: null, verifyChain: false, final: true })
          if (one.count === 0 && one.stop !== 'corrupt' && one.stop !== 'chain') throw new Error(`found no frame at ${at}`)
        }
        t.deepEqual(r, o.findValidRecord({ data, basePosition: base, final }))
      }),
      { numRuns: RUNS, seed: SEED + 1 },
    )
    count('fuzz', 'inputs', RUNS)
  })

  test(`${backend}: fuzzed decodeRecords returns the appended payloads for clean data and a ChainlogError otherwise`, async (t) => {
    const c = await core(backend)
    encoder = await core('js')
    fc.assert(
      fc.property(segmentArb, fc.array(fc.nat(5000), { maxLength: 5 }), fc.boolean(), (s, extra, chain) => {
        const { data, clean, positions } = materialize(s)
        const pos = Float64Array.from([...(clean ? positions : positions.filter((p) => p < data.length)), ...extra])
        const r = bounded('decodeRecords', () =>
          c.decodeRecords({ hash: s.hash, stream: 'orders', data, basePosition: 0, positions: pos, expectPrevHash: chain ? Buffer.alloc(32) : null, payloadsFrom: 0, maxPayloadBytes: MAX_PAYLOAD }),
        )
        if (clean && extra.length === 0) {
          if (r instanceof ChainlogError) throw r
          t.true(Buffer.from(r.payloads).equals(Buffer.concat((s as { payloads: Uint8Array[] }).payloads)))
        }
        if (r instanceof ChainlogError && !['ERR_CORRUPT', 'ERR_CHAIN_BROKEN', 'ERR_INVALID_ARGUMENT'].includes(r.code)) throw r
      }),
      { numRuns: RUNS, seed: SEED + 2 },
    )
    count('fuzz', 'inputs', RUNS)
  })

  test(`${backend}: fuzzed decompress never returns more than its cap and round-trips compress`, async (t) => {
    const c = await core(backend)
    const crafted = fc.oneof(
      fc.tuple(fc.constant(1), fc.nat({ max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 300 })).map(([f, n, b]) => {
        const h = Buffer.alloc(4)
        h.writeUInt32LE(n)
        return [f, Buffer.concat([h, b])] as const
      }),
      fc.tuple(fc.integer({ min: 1, max: 2 }), fc.uint8Array({ maxLength: 800 }), fc.array(damage, { maxLength: 3 })).map(([codec, d, ds]) => {
        let v = c.compress(codec, 1, d)
        for (const x of ds) v = apply(v, x)
        return [codec, v] as const
      }),
      fc.uint8Array({ maxLength: 64 }).map((b) => [2, Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), b])] as const),
      fc.tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 300 })).map(([f, b]) => [f, Buffer.from(b)] as const),
    )
    fc.assert(
      fc.property(crafted, fc.oneof(fc.constant(MAX_PAYLOAD), fc.constant(2 ** 20), fc.nat(5000)), fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: 2 }), ([form, stored], cap, plain, codec) => {
        const r = bounded('decompress', () => c.decompress(form, stored, cap))
        if (!(r instanceof ChainlogError) && r.length > cap) throw new Error('over the cap')
        const z = c.compress(codec, 1, plain)
        t.true(c.decompress(codec, z, MAX_PAYLOAD).equals(Buffer.from(plain)))
        if (plain.length > 0) t.true(bounded('decompress', () => c.decompress(codec, z, plain.length - 1)) instanceof ChainlogError)
      }),
      { numRuns: RUNS, seed: SEED + 3 },
    )
    count('fuzz', 'inputs', RUNS)
  })

  test(`${backend}: fuzzed offset-index files decode to entries inside the data or are refused, never trusted past it`, async (t) => {
    const c = await core(backend)
    const crc = (d: Uint8Array) => c.crc32(d)
    const indexArb = fc.oneof(
      fc.tuple(fc.array(fc.integer({ min: 66, max: 500 }), { maxLength: 20 }), fc.array(damage, { maxLength: 3 }), fc.boolean()).map(([gaps, ds, fix]) => {
        const list = new PositionList()
        let p = 0
        for (const g of gaps) {
          list.push(p)
          p += g
        }
        let b = encodeIndex(list, crc)
        for (const d of ds) b = apply(b, d)
        if (fix && b.length >= 20) b.writeUInt32LE(crc(b.subarray(0, b.length - 4)) >>> 0, b.length - 4) // a forger who fixes the CRC
        return b
      }),
      fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.uint8Array({ maxLength: 200 })).map(([n, rest]) => {
        const h = Buffer.from('VDXI\x01\0\0\0' + '\0'.repeat(8), 'latin1')
        h.writeBigUInt64LE(n, 8)
        return Buffer.concat([h, rest])
      }),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    )
    fc.assert(
      fc.property(indexArb, fc.nat(20000), (bytes, validLength) => {
        const r = bounded('decodeIndex', () => decodeIndex(bytes, validLength, crc))
        if (r instanceof ChainlogError) throw r
        if (r.ok) {
          let prev = -66
          for (let i = 0; i < r.positions.length; i++) {
            const p = r.positions.at(i)
            if (p >= validLength || p - prev < 66 || (i === 0 && p !== 0)) throw new Error(`entry ${i} = ${p} trusted`)
            prev = p
          }
        }
        t.pass()
      }),
      { numRuns: RUNS, seed: SEED + 4 },
    )
    count('fuzz', 'inputs', RUNS)
  })
}
