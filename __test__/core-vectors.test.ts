import test from 'ava'
import { BACKENDS, core } from './helpers/cores.ts'
import { batchInput, ZERO_HASH } from './helpers/batch.ts'
import { KIND_CHECKPOINT, KIND_DATA, FORM_NONE } from '../ts/core/interface.ts'

// shared/SPEC.md §2: stream `orders`, `event-0..2` at offsets 0..2, timestamps 1700000000000 + offset.
const VECTORS = {
  blake3: {
    commitment0: '3a7124163d2269693abd877bc3dd4ba687a2b634d7ac01755978c7960802c698',
    h: [
      '16ef6ccfc9f4f43b2d8019548ab1b489088d54e6a7a98d3e3272dca3217ab710',
      '9571c21be9cde4afdcfd90f3b6a27b396719618dd2eb10c9520adc62dfbd04ba',
      'd1a475c078e6d9b0f80be6ba1e4fa66a1c465dd0d77c4c82c0d95d7305f01916',
    ],
  },
  sha256: {
    commitment0: '23352a67ac7ffc4b5d98023dc1a54ee507d4bf95dc1c4154045c5e2bbde73317',
    h: [
      '81e8d947abde1bb6765535282e0b70bd3a7bd94899112a61f8c59743c2e7fbb2',
      '8e4d40111fe3c35c964af127d133eb4cef7b73ca10757945a7239d9abd8f32a3',
      '3102256b67cb23b322aee8f4f5936c7e21153d8ad68efdfb8026f4672e26b2a2',
    ],
  },
} as const

const FRAMING_VECTOR =
  'fe0fdcba' + '0000000000000000' + '0068e5cf8b010000' + '00'.repeat(32) + '00' + '00' + '07000000' +
  '6576656e742d30' + 'ca7ae720' + '42eeffc0'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

for (const backend of BACKENDS) {
  for (const hash of ['blake3', 'sha256'] as const) {
    test(`${backend}: ${hash} commitment and chain hashes match the SPEC vectors`, async (t) => {
      const c = await core(backend)
      t.is(hex(c.commitment(hash, Buffer.from('event-0'))), VECTORS[hash].commitment0)
      let prev: Uint8Array = ZERO_HASH
      for (let i = 0; i < 3; i++) {
        const payload = Buffer.from(`event-${i}`)
        const h = c.recordHash(hash, {
          stream: 'orders', prevHash: prev, offset: i, timestamp: 1700000000000 + i, kind: KIND_DATA,
          payloadLength: payload.length, commitment: c.commitment(hash, payload),
        })
        t.is(hex(h), VECTORS[hash].h[i], `h${i}`)
        prev = h
      }
    })

    test(`${backend}: ${hash} encodeBatch of the SPEC events gives h0..h2, in one batch or three`, async (t) => {
      const c = await core(backend)
      const one = c.encodeBatch(batchInput({ hash, payloads: ['event-0', 'event-1', 'event-2'] }))
      t.deepEqual([0, 1, 2].map((i) => hex(one.hashes!.subarray(i * 32, i * 32 + 32))), [...VECTORS[hash].h])
      t.is(hex(one.lastHash), VECTORS[hash].h[2])
      t.deepEqual([...one.positions], [0, 73, 146])
      t.is(one.bytes.length, 3 * 73)

      let prev: Uint8Array = ZERO_HASH
      const parts: Buffer[] = []
      for (let i = 0; i < 3; i++) {
        const r = c.encodeBatch(batchInput({ hash, payloads: [`event-${i}`], firstOffset: i, prevHash: prev }))
        t.is(hex(r.lastHash), VECTORS[hash].h[i])
        parts.push(r.bytes)
        prev = r.lastHash
      }
      t.true(Buffer.concat(parts).equals(one.bytes), 'three batches give the same bytes as one')
    })
  }

  test(`${backend}: the framing vector is byte-exact (73 bytes, CRC 0x20E77ACA)`, async (t) => {
    const c = await core(backend)
    const r = c.encodeBatch(batchInput({ payloads: ['event-0'] }))
    t.is(r.bytes.toString('hex'), FRAMING_VECTOR)
    t.is(c.crc32(r.bytes.subarray(0, 65)), 0x20e77aca)
  })

  test(`${backend}: crc32 is zlib's CRC-32`, async (t) => {
    const c = await core(backend)
    t.is(c.crc32(Buffer.alloc(0)), 0)
    t.is(c.crc32(Buffer.from('123456789')), 0xcbf43926)
    t.is(c.crc32(Buffer.from('a')), 0xe8b7be43)
    t.is(c.crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339)
  })

  test(`${backend}: a checkpoint record carries prev_hash ‖ u64 offset and the previous timestamp`, async (t) => {
    const c = await core(backend)
    const data = c.encodeBatch(batchInput({ payloads: ['event-0', 'event-1', 'event-2'] }))
    const payload = Buffer.alloc(40)
    data.lastHash.copy(payload, 0)
    payload.writeBigUInt64LE(3n, 32)
    const cp = c.encodeBatch(batchInput({
      payloads: [payload], firstOffset: 3, prevHash: data.lastHash, kind: KIND_CHECKPOINT,
      codec: 2, level: 3, timestamps: [1700000000002],
    }))
    t.is(cp.bytes.length, 66 + 40)
    t.is(cp.bytes[52], KIND_CHECKPOINT)
    t.is(cp.bytes[53], FORM_NONE, 'a checkpoint is never compressed')
    const seg = Buffer.concat([data.bytes, cp.bytes])
    const scan = c.scanSegment({
      hash: 'blake3', stream: 'orders', data: seg, basePosition: 0, firstOffset: 0, prevHash: ZERO_HASH,
      prevTimestamp: null, verifyChain: true, final: true,
    })
    t.is(scan.stop, 'end', scan.reason)
    t.is(scan.count, 4)
    t.deepEqual([...scan.kinds], [0, 0, 0, 1])
    t.true(scan.lastHash!.equals(cp.lastHash))
  })
}
