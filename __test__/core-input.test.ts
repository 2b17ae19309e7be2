import test from 'ava'
import { BACKENDS, core } from './helpers/cores.ts'
import { batchInput, ZERO_HASH } from './helpers/batch.ts'
import type { EncodeBatchInput } from '../ts/core/interface.ts'
import { ChainlogError } from '../ts/errors.ts'

// Every bad argument is a ChainlogError with ERR_INVALID_ARGUMENT: never a crash, never partial output.
const ONE = Buffer.alloc(32, 1)
const BAD_ENCODES: [string, Partial<EncodeBatchInput>][] = [
  ['an empty batch', { payloads: Buffer.alloc(0), lengths: new Uint32Array(0), timestamps: new Float64Array(0) }],
  ['a negative offset', { firstOffset: -1, prevHash: ONE }],
  ['a fractional offset', { firstOffset: 1.5, prevHash: ONE }],
  ['a NaN offset', { firstOffset: NaN, prevHash: ONE }],
  ['an offset past 2^53', { firstOffset: 2 ** 53, prevHash: ONE }],
  ['offsets that would pass 2^53 − 1', { firstOffset: Number.MAX_SAFE_INTEGER, prevHash: ONE, payloads: Buffer.from('ab'), lengths: Uint32Array.of(1, 1), timestamps: Float64Array.of(1, 1) }],
  ['a short prev hash', { prevHash: Buffer.alloc(31) }],
  ['a zero prev hash after offset 0', { firstOffset: 5, prevHash: ZERO_HASH }],
  ['a non-zero prev hash at offset 0', { firstOffset: 0, prevHash: ONE }],
  ['lengths that do not add up', { lengths: Uint32Array.of(3) }],
  ['fewer timestamps than payloads', { timestamps: new Float64Array(0) }],
  ['a negative timestamp', { timestamps: Float64Array.of(-1) }],
  ['a fractional timestamp', { timestamps: Float64Array.of(1.25) }],
  ['decreasing timestamps', { payloads: Buffer.from('ab'), lengths: Uint32Array.of(1, 1), timestamps: Float64Array.of(5, 4) }],
  ['an unknown kind', { kind: 3 }],
  ['an unknown codec', { codec: 3 }],
  ['a zstd level out of range', { codec: 2, level: 99 }],
  ['a stream name over 65535 bytes', { stream: 'x'.repeat(65536) }],
]

for (const backend of BACKENDS) {
  for (const [what, over] of BAD_ENCODES) {
    test(`${backend}: encodeBatch refuses ${what} with ERR_INVALID_ARGUMENT`, async (t) => {
      const c = await core(backend)
      const input = { ...batchInput({ payloads: ['e'] }), ...over }
      const err = t.throws(() => c.encodeBatch(input), { instanceOf: ChainlogError })
      t.is(err!.code, 'ERR_INVALID_ARGUMENT', err!.message)
    })
  }

  test(`${backend}: encodeBatch writes into \`into\` when it is large enough, and refuses one that overlaps an input`, async (t) => {
    const c = await core(backend)
    const input = batchInput({ payloads: ['first', 'second event', ''] })
    const plain = c.encodeBatch(input)
    const into = Buffer.alloc(plain.bytes.length + 100, 0xee)
    const r = c.encodeBatch({ ...input, into })
    t.is(r.bytes.buffer, into.buffer, 'bytes is a view of into')
    t.is(r.bytes.byteOffset, into.byteOffset)
    t.true(r.bytes.equals(plain.bytes))
    t.deepEqual([...r.positions], [...plain.positions])
    t.true(r.lastHash.equals(plain.lastHash))
    // At an offset inside a larger buffer (the engine encodes a group's parts end to end).
    const at = into.subarray(7)
    const r2 = c.encodeBatch({ ...input, into: at })
    t.is(r2.bytes.byteOffset, into.byteOffset + 7)
    t.true(r2.bytes.equals(plain.bytes))
    // Too short for the bound: a buffer of its own, `into` untouched.
    const short = Buffer.alloc(plain.bytes.length - 1, 0xee) // uncompressed, the bytes are exactly the bound
    const r3 = c.encodeBatch({ ...input, into: short })
    t.not(r3.bytes.buffer, short.buffer)
    t.true(r3.bytes.equals(plain.bytes))
    t.true(short.every((b) => b === 0xee))
    // Overlap with payloads or prevHash: refused, nothing written.
    const shared = Buffer.alloc(4096, 0xee)
    const payloads = shared.subarray(0, input.payloads.length)
    payloads.set(input.payloads)
    for (const bad of [{ payloads, into: shared.subarray(2) }, { payloads, into: shared }]) {
      const err = t.throws(() => c.encodeBatch({ ...input, ...bad }), { instanceOf: ChainlogError })
      t.is(err!.code, 'ERR_INVALID_ARGUMENT')
    }
    t.true(shared.subarray(payloads.length).every((b) => b === 0xee), 'nothing written on refusal')
    const prev = Buffer.alloc(4096, 1)
    const err = t.throws(() => c.encodeBatch({ ...input, firstOffset: 3, prevHash: prev.subarray(100, 132), into: prev }), { instanceOf: ChainlogError })
    t.is(err!.code, 'ERR_INVALID_ARGUMENT')
    t.is(t.throws(() => c.encodeBatch({ ...input, into: 'x' as unknown as Uint8Array }), { instanceOf: ChainlogError })!.code, 'ERR_INVALID_ARGUMENT')
    // Nor lengths or timestamps (read while `into` is written).
    const arena = new ArrayBuffer(8192)
    const lengths = new Uint32Array(arena, 4096, input.lengths.length)
    lengths.set(input.lengths)
    const timestamps = new Float64Array(arena, 6144, input.timestamps.length)
    timestamps.set(input.timestamps)
    for (const bad of [{ lengths }, { timestamps }]) {
      const e = t.throws(() => c.encodeBatch({ ...input, ...bad, into: new Uint8Array(arena) }), { instanceOf: ChainlogError, message: /into must not overlap/ })
      t.is(e!.code, 'ERR_INVALID_ARGUMENT')
    }
    t.true(c.encodeBatch({ ...input, lengths, timestamps }).bytes.equals(plain.bytes), 'the same views, with no into, are fine')
  })

  test(`${backend}: encodeBatch takes a view over Node's whole Buffer pool: its own outputs are never refused as overlapping the caller's memory`, async (t) => {
    const c = await core(backend)
    // A common slip: a view of a small Buffer's whole ArrayBuffer (Node's shared pool slab). Its
    // unallocated part may be handed out meanwhile, so only the framing is checked, not the bytes.
    const slab = new Uint8Array(Buffer.allocUnsafe(8).buffer)
    const r = c.encodeBatch({ ...batchInput({ payloads: ['x'] }), payloads: slab, lengths: Uint32Array.of(slab.length), wantHashes: true })
    t.is(r.bytes.length, slab.length + 66)
    t.deepEqual([...r.positions], [0])
    t.true(r.lastHash.equals(r.hashes!))
  })

  test(`${backend}: a batch whose framed size would pass Buffer's limit is refused with a ChainlogError, not a RangeError`, async (t) => {
    const c = await core(backend)
    // 2^26 empty payloads frame to 66 × 2^26 bytes (over 4 GiB); one timestamp for them.
    const input = batchInput({ payloads: ['x'] })
    const err = t.throws(() => c.encodeBatch({ ...input, payloads: Buffer.alloc(0), lengths: new Uint32Array(2 ** 26), timestamps: Float64Array.of(1) }))
    t.true(err instanceof ChainlogError, String(err))
    t.is((err as ChainlogError).code, 'ERR_INVALID_ARGUMENT')
  })

  test(`${backend}: scan and decode refuse bad positions and a bad hash name`, async (t) => {
    const c = await core(backend)
    const enc = c.encodeBatch(batchInput({ payloads: ['e'] }))
    const scan = { hash: 'blake3' as const, stream: 's', data: enc.bytes, basePosition: 0, firstOffset: 0, prevHash: ZERO_HASH, prevTimestamp: null, verifyChain: true, final: true }
    for (const over of [{ basePosition: -1 }, { basePosition: 0.5 }, { firstOffset: NaN }, { prevHash: Buffer.alloc(3) }, { hash: 'md5' as 'blake3' }, { prevTimestamp: -5 }]) {
      const err = t.throws(() => c.scanSegment({ ...scan, ...over }), { instanceOf: ChainlogError }, JSON.stringify(over))
      t.is(err!.code, 'ERR_INVALID_ARGUMENT')
    }
    const decode = { hash: 'blake3' as const, stream: 's', data: enc.bytes, basePosition: 0, positions: Float64Array.of(0), expectPrevHash: null, payloadsFrom: 0, maxPayloadBytes: 100 }
    for (const over of [{ positions: Float64Array.of(-1) }, { positions: Float64Array.of(0.5) }, { maxPayloadBytes: 2 ** 31 }, { payloadsFrom: -1 }]) {
      const err = t.throws(() => c.decodeRecords({ ...decode, ...over }), { instanceOf: ChainlogError }, JSON.stringify(over, (_k, v) => (v instanceof Float64Array ? [...v] : v)))
      t.true(err!.code === 'ERR_INVALID_ARGUMENT' || err!.code === 'ERR_CORRUPT', err!.code)
    }
    t.is(t.throws(() => c.commitment('md5' as 'blake3', Buffer.alloc(1)), { instanceOf: ChainlogError })!.code, 'ERR_INVALID_ARGUMENT')
    t.is(t.throws(() => c.compress(9, 0, Buffer.alloc(1)), { instanceOf: ChainlogError })!.code, 'ERR_INVALID_ARGUMENT')
    t.is(t.throws(() => c.decompress(9, Buffer.alloc(1), 10), { instanceOf: ChainlogError })!.code, 'ERR_INVALID_ARGUMENT')
  })

  test(`${backend}: async scan and decode give the same results as the sync calls`, async (t) => {
    const c = await core(backend)
    const enc = c.encodeBatch(batchInput({ payloads: ['a', 'bb', 'ccc'] }))
    const scan = { hash: 'blake3' as const, stream: 'orders', data: enc.bytes, basePosition: 0, firstOffset: 0, prevHash: ZERO_HASH, prevTimestamp: null, verifyChain: true, final: true }
    t.deepEqual(await c.scanSegmentAsync(scan), c.scanSegment(scan))
    const decode = { hash: 'blake3' as const, stream: 'orders', data: enc.bytes, basePosition: 0, positions: enc.positions, expectPrevHash: ZERO_HASH, payloadsFrom: 0, maxPayloadBytes: 100 }
    t.deepEqual(await c.decodeRecordsAsync(decode), c.decodeRecords(decode))
    const bad = Buffer.from(enc.bytes)
    bad[60] ^= 1
    const err = await t.throwsAsync(c.decodeRecordsAsync({ ...decode, data: bad }), { instanceOf: ChainlogError })
    t.is(err!.code, 'ERR_CORRUPT')
  })
}
