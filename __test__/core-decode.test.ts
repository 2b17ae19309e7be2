import test from 'ava'
import { BACKENDS, core } from './helpers/cores.ts'
import { batchInput, ZERO_HASH } from './helpers/batch.ts'
import { CODEC_LZ4, CODEC_ZSTD, FORM_LZ4, FORM_NONE, FORM_ZSTD } from '../ts/core/interface.ts'
import { MAX_PAYLOAD_BYTES } from '../ts/core/format.ts'
import { ChainlogError } from '../ts/errors.ts'

const MiB = 1024 * 1024

for (const backend of BACKENDS) {
  test(`${backend}: decodeRecords returns payloads, metadata and hashes of the records asked for`, async (t) => {
    const c = await core(backend)
    const payloads = ['alpha', 'x'.repeat(5000), '', 'omega'.repeat(100)]
    const enc = c.encodeBatch(batchInput({ payloads, codec: CODEC_LZ4, timestamps: [5, 5, 6, 9] }))
    const d = c.decodeRecords({
      hash: 'blake3', stream: 'orders', data: enc.bytes, basePosition: 0, positions: enc.positions,
      expectPrevHash: ZERO_HASH, payloadsFrom: 0, maxPayloadBytes: MAX_PAYLOAD_BYTES,
    })
    t.is(d.count, 4)
    t.deepEqual([...d.offsets], [0, 1, 2, 3])
    t.deepEqual([...d.timestamps], [5, 5, 6, 9])
    t.deepEqual([...d.kinds], [0, 0, 0, 0])
    t.deepEqual([...d.forms], [FORM_NONE, FORM_LZ4, FORM_NONE, FORM_LZ4])
    t.true(d.hashes.equals(enc.hashes!))
    t.true(d.prevHashes.subarray(0, 32).equals(ZERO_HASH))
    t.true(d.prevHashes.subarray(32, 64).equals(enc.hashes!.subarray(0, 32)))
    let start = 0
    payloads.forEach((p, i) => {
      t.is(d.payloads.subarray(start, d.payloadEnds[i]).toString(), p)
      start = d.payloadEnds[i]
    })
  })

  test(`${backend}: decodeRecords at a base position decodes one record in the middle, with payloadsFrom`, async (t) => {
    const c = await core(backend)
    const enc = c.encodeBatch(batchInput({ payloads: ['a', 'bb', 'ccc'] }))
    const one = enc.bytes.subarray(enc.positions[1], enc.positions[2])
    const d = c.decodeRecords({
      hash: 'blake3', stream: 'orders', data: one, basePosition: 1000 + enc.positions[1],
      positions: Float64Array.of(1000 + enc.positions[1]), expectPrevHash: null, payloadsFrom: 0, maxPayloadBytes: 100,
    })
    t.is(d.payloads.toString(), 'bb')
    t.deepEqual([...d.offsets], [1])
    const skip = c.decodeRecords({
      hash: 'blake3', stream: 'orders', data: enc.bytes, basePosition: 0, positions: enc.positions,
      expectPrevHash: ZERO_HASH, payloadsFrom: 2, maxPayloadBytes: 100,
    })
    t.is(skip.payloads.toString(), 'ccc')
    t.deepEqual([...skip.payloadEnds], [0, 0, 3])
  })

  test(`${backend}: decodeRecords reports a broken link as ERR_CHAIN_BROKEN and a damaged record as ERR_CORRUPT`, async (t) => {
    const c = await core(backend)
    const enc = c.encodeBatch(batchInput({ payloads: ['a', 'bb', 'ccc'] }))
    const base = {
      hash: 'blake3' as const, stream: 'orders', basePosition: 0, positions: enc.positions, payloadsFrom: 0,
      maxPayloadBytes: 100,
    }
    const wrongStart = c.decodeRecords.bind(c, { ...base, data: enc.bytes, expectPrevHash: Buffer.alloc(32, 1) })
    t.is(t.throws(wrongStart, { instanceOf: ChainlogError })!.code, 'ERR_CHAIN_BROKEN')
    const otherStream = () => c.decodeRecords({ ...base, stream: 'other', data: enc.bytes, expectPrevHash: ZERO_HASH })
    t.is(t.throws(otherStream, { instanceOf: ChainlogError })!.code, 'ERR_CHAIN_BROKEN', 'the stream name is in the hash')
    const flipped = Buffer.from(enc.bytes)
    flipped[enc.positions[1] + 58] ^= 1
    const damaged = () => c.decodeRecords({ ...base, data: flipped, expectPrevHash: ZERO_HASH })
    t.is(t.throws(damaged, { instanceOf: ChainlogError })!.code, 'ERR_CORRUPT')
    const outside = () => c.decodeRecords({ ...base, data: enc.bytes.subarray(0, 100), expectPrevHash: null })
    t.is(t.throws(outside, { instanceOf: ChainlogError })!.code, 'ERR_CORRUPT')
  })

  test(`${backend}: decompression is capped: an lz4 prefix or zstd frame over the cap is ERR_CORRUPT`, async (t) => {
    const c = await core(backend)
    const lz4Claim = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00])
    t.is(t.throws(() => c.decompress(FORM_LZ4, lz4Claim, MAX_PAYLOAD_BYTES), { instanceOf: ChainlogError })!.code, 'ERR_CORRUPT')
    t.is(t.throws(() => c.decompress(FORM_LZ4, Buffer.from([1, 0]), 100), { instanceOf: ChainlogError })!.code, 'ERR_CORRUPT')
    const zeros = Buffer.alloc(64 * MiB)
    const bomb = c.compress(CODEC_ZSTD, 3, zeros)
    t.true(bomb.length < MiB)
    t.is(t.throws(() => c.decompress(FORM_ZSTD, bomb, MiB), { instanceOf: ChainlogError })!.code, 'ERR_CORRUPT')
    t.is(c.decompress(FORM_ZSTD, bomb, 64 * MiB).length, 64 * MiB, 'exactly the cap is allowed')
    const lz4 = c.compress(CODEC_LZ4, 0, zeros.subarray(0, 2 * MiB))
    t.is(t.throws(() => c.decompress(FORM_LZ4, lz4, MiB), { instanceOf: ChainlogError })!.code, 'ERR_CORRUPT')
    for (const form of [FORM_LZ4, FORM_ZSTD]) {
      const good = c.compress(form, 3, Buffer.from('hello hello hello hello hello'))
      for (let cut = 0; cut < good.length; cut++) {
        t.throws(() => c.decompress(form, good.subarray(0, cut), 1000), { instanceOf: ChainlogError }, `form ${form} cut ${cut}`)
      }
    }
  })

  test(`${backend}: decodeRecords refuses a record whose decompressed payload exceeds maxPayloadBytes`, async (t) => {
    const c = await core(backend)
    const enc = c.encodeBatch(batchInput({ payloads: [Buffer.alloc(10000)], codec: CODEC_ZSTD, level: 3 }))
    t.is(enc.bytes[53], FORM_ZSTD)
    const big = () => c.decodeRecords({
      hash: 'blake3', stream: 'orders', data: enc.bytes, basePosition: 0, positions: enc.positions,
      expectPrevHash: null, payloadsFrom: 0, maxPayloadBytes: 9999,
    })
    t.is(t.throws(big, { instanceOf: ChainlogError })!.code, 'ERR_CORRUPT')
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: decodeOne gives the record decodeRecords gives in a batch, for every form, size and error`, async (t) => {
    const c = await core(backend)
    const big = Buffer.alloc(200 * 1024) // past the native one-record scratch (64 KiB): the general path
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251
    const payloads = ['a', 'x'.repeat(5000), '', big, 'tail'.repeat(30), Buffer.alloc(256, 5)]
    for (const [codec, hash] of [[0, 'blake3'], [CODEC_LZ4, 'blake3'], [CODEC_ZSTD, 'sha256'], [0, 'sha256']] as const) {
      const enc = c.encodeBatch(batchInput({ payloads, codec, hash, timestamps: [1, 2, 2, 3, 8, 9], firstOffset: 40, prevHash: Buffer.alloc(32, 3) }))
      const all = c.decodeRecords({
        hash, stream: 'orders', data: enc.bytes, basePosition: 0, positions: enc.positions,
        expectPrevHash: Buffer.alloc(32, 3), payloadsFrom: 0, maxPayloadBytes: MAX_PAYLOAD_BYTES,
      })
      for (let k = 0; k < payloads.length; k++) {
        const at = enc.positions[k]
        const end = k + 1 < payloads.length ? enc.positions[k + 1] : enc.bytes.length
        for (const expectPrevHash of [all.prevHashes.subarray(k * 32, k * 32 + 32), null]) {
          const one = c.decodeOne({
            hash, stream: 'orders', data: enc.bytes.subarray(at, end), basePosition: 500 + at, position: 500 + at,
            expectPrevHash, maxPayloadBytes: MAX_PAYLOAD_BYTES,
          })
          const what = `codec ${codec}, ${hash}, record ${k}, expectPrevHash ${expectPrevHash === null ? 'null' : 'given'}`
          t.deepEqual([one.offset, one.timestamp, one.kind, one.form], [all.offsets[k], all.timestamps[k], all.kinds[k], all.forms[k]], what)
          t.true(one.hash.equals(all.hashes.subarray(k * 32, k * 32 + 32)), what)
          t.true(one.prevHash.equals(all.prevHashes.subarray(k * 32, k * 32 + 32)), what)
          t.true(one.payload.equals(all.payloads.subarray(k === 0 ? 0 : all.payloadEnds[k - 1], all.payloadEnds[k])), what)
        }
      }
      // Errors: a wrong expected prev_hash, a cap below the payload, a position off the record,
      // a damaged byte, a fractional position, a stream name of another type.
      const at = enc.positions[1]
      const rec = Buffer.from(enc.bytes.subarray(at, enc.positions[2]))
      const input = { hash, stream: 'orders', data: rec, basePosition: 0, position: 0, expectPrevHash: all.prevHashes.subarray(32, 64), maxPayloadBytes: MAX_PAYLOAD_BYTES }
      const code = (f: () => unknown) => t.throws(f, { instanceOf: ChainlogError })!.code
      t.is(code(() => c.decodeOne({ ...input, expectPrevHash: Buffer.alloc(32, 9) })), 'ERR_CHAIN_BROKEN')
      t.is(code(() => c.decodeOne({ ...input, maxPayloadBytes: 10 })), 'ERR_CORRUPT')
      t.is(code(() => c.decodeOne({ ...input, position: 1 })), 'ERR_CORRUPT')
      t.is(code(() => c.decodeOne({ ...input, position: 0.5 })), 'ERR_INVALID_ARGUMENT')
      t.is(code(() => c.decodeOne({ ...input, stream: 7 as unknown as string })), 'ERR_INVALID_ARGUMENT')
      rec[70] ^= 1
      t.is(code(() => c.decodeOne(input)), 'ERR_CORRUPT')
    }
  })
}
