import test from 'ava'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import zlib from 'node:zlib'
import { blake3 } from '@noble/hashes/blake3'
import { BACKENDS, core } from './helpers/cores.ts'
import { batchInput, ZERO_HASH } from './helpers/batch.ts'
import { CODEC_ZSTD, FORM_NONE, KIND_CHECKPOINT, KIND_DATA, type HashAlgorithm } from '../ts/core/interface.ts'
import { decodeIndex, encodeIndex, PositionList } from '../ts/storage/offset-index.ts'

/** spec/vectors.json: the vectors of docs/format.md, shared with crates/chainlog-core/tests/core.rs. */
interface Vectors {
  chain: {
    stream: string
    records: { offset: number; timestamp: number; kind: number; payload: string }[]
    positions: number[]
  } & Record<HashAlgorithm, { commitment0: string; hashes: string[] }>
  framing: { hash: HashAlgorithm; stream: string; offset: number; timestamp: number; kind: number; form: number; payload: string; bytes: string; crc32: string }
  checkpoint: { stream: string; offset: number; timestamp: number } & Record<HashAlgorithm, { prevHash: string; payload: string; bytes: string; hash: string }>
  crc32: { text: string; crc32: string }[]
  offsetIndex: { positions: number[]; bytes: string }[]
  batch: { stream: string; batchEnds: number[]; records: { offset: number; timestamp: number; kind: number; payload: string }[] } & Record<HashAlgorithm, { hashes: string[]; bytes: string }>
}

const V: Vectors = JSON.parse(readFileSync(new URL('../spec/vectors.json', import.meta.url), 'utf8'))
const HASHES = ['blake3', 'sha256'] as const
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const crcHex = (n: number) => n.toString(16).padStart(8, '0')

test('spec/vectors.json is what implementations nobody here wrote compute (@noble/hashes, node:crypto, zlib)', (t) => {
  const H: Record<HashAlgorithm, (b: Uint8Array) => Buffer> = {
    blake3: (b) => Buffer.from(blake3(b)),
    sha256: (b) => createHash('sha256').update(b).digest(),
  }
  const u64 = (n: number) => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt(n))
    return b
  }
  const u32 = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n >>> 0)
    return b
  }
  const chainHash = (h: HashAlgorithm, stream: string, prev: Buffer, offset: number, ts: number, kind: number, payload: Buffer) => {
    const name = Buffer.from(stream)
    const len = Buffer.alloc(2)
    len.writeUInt16LE(name.length)
    return H[h](Buffer.concat([Buffer.from('chainlog:record:v1'), len, name, prev, u64(offset), u64(ts), Buffer.of(kind), u64(payload.length), H[h](payload)]))
  }
  const frame = (offset: number, ts: number, prev: Buffer, kind: number, form: number, stored: Buffer) => {
    const head = Buffer.concat([u32(0xbadc0ffe), u64(offset), u64(ts), prev, Buffer.of(kind, form), u32(stored.length), stored])
    return Buffer.concat([head, u32(zlib.crc32(head)), u32(0xc0ffee42)])
  }

  for (const h of HASHES) {
    t.is(hex(H[h](Buffer.from(V.chain.records[0].payload))), V.chain[h].commitment0, `${h} commitment0`)
    let prev: Buffer = Buffer.alloc(32)
    for (const [i, r] of V.chain.records.entries()) {
      prev = chainHash(h, V.chain.stream, prev, r.offset, r.timestamp, r.kind, Buffer.from(r.payload))
      t.is(hex(prev), V.chain[h].hashes[i], `${h} h${i}`)
    }
    const cp = V.checkpoint
    t.is(cp[h].prevHash, hex(prev), `${h}: the checkpoint follows the chain vector`)
    const payload = Buffer.concat([prev, u64(cp.offset)])
    t.is(hex(payload), cp[h].payload)
    t.is(hex(frame(cp.offset, cp.timestamp, prev, KIND_CHECKPOINT, FORM_NONE, payload)), cp[h].bytes)
    t.is(hex(chainHash(h, cp.stream, prev, cp.offset, cp.timestamp, KIND_CHECKPOINT, payload)), cp[h].hash)
  }
  const f = V.framing
  const framed = frame(f.offset, f.timestamp, Buffer.alloc(32), f.kind, f.form, Buffer.from(f.payload))
  t.is(hex(framed), f.bytes)
  t.is(crcHex(zlib.crc32(framed.subarray(0, framed.length - 8))), f.crc32)
  let at = 0
  for (const [i, r] of V.chain.records.entries()) {
    t.is(V.chain.positions[i], at, `position of record ${i}`)
    at += 66 + Buffer.byteLength(r.payload)
  }
  // The batch vector: bit 7 on every record of the append but its last.
  t.deepEqual(V.batch.records.map((r) => r.kind), [0x80, 0x80, 0])
  for (const h of HASHES) {
    let prev: Buffer = Buffer.alloc(32)
    const parts: Buffer[] = []
    for (const [i, r] of V.batch.records.entries()) {
      parts.push(frame(r.offset, r.timestamp, prev, r.kind, FORM_NONE, Buffer.from(r.payload)))
      prev = chainHash(h, V.batch.stream, prev, r.offset, r.timestamp, r.kind, Buffer.from(r.payload))
      t.is(hex(prev), V.batch[h].hashes[i], `batch ${h} h${i}`)
    }
    t.is(hex(Buffer.concat(parts)), V.batch[h].bytes, `batch ${h} bytes`)
  }
  for (const c of V.crc32) t.is(crcHex(zlib.crc32(Buffer.from(c.text))), c.crc32, JSON.stringify(c.text))
  for (const x of V.offsetIndex) {
    const head = Buffer.concat([Buffer.from('VDXI'), Buffer.of(1, 0, 0, 0), u64(x.positions.length), ...x.positions.map(u64)])
    t.is(hex(Buffer.concat([head, u32(zlib.crc32(head))])), x.bytes)
  }
})

for (const backend of BACKENDS) {
  for (const hash of HASHES) {
    const want = V.chain[hash]
    const payloads = V.chain.records.map((r) => r.payload)
    const timestamps = V.chain.records.map((r) => r.timestamp)

    test(`${backend}: ${hash} commitment and chain hashes match the vectors`, async (t) => {
      const c = await core(backend)
      t.is(hex(c.commitment(hash, Buffer.from(payloads[0]))), want.commitment0)
      let prev: Uint8Array = ZERO_HASH
      for (const [i, r] of V.chain.records.entries()) {
        const payload = Buffer.from(r.payload)
        const h = c.recordHash(hash, {
          stream: V.chain.stream, prevHash: prev, offset: r.offset, timestamp: r.timestamp, kind: r.kind,
          payloadLength: payload.length, commitment: c.commitment(hash, payload),
        })
        t.is(hex(h), want.hashes[i], `h${i}`)
        prev = h
      }
    })

    test(`${backend}: ${hash} encodeBatch of the vector events gives h0..h2, in one batch or three`, async (t) => {
      const c = await core(backend)
      const one = c.encodeBatch(batchInput({ hash, stream: V.chain.stream, payloads, timestamps }))
      t.deepEqual([0, 1, 2].map((i) => hex(one.hashes!.subarray(i * 32, i * 32 + 32))), want.hashes)
      t.is(hex(one.lastHash), want.hashes[2])
      t.deepEqual([...one.positions], V.chain.positions)
      t.is(one.bytes.length, payloads.reduce((n, p) => n + 66 + Buffer.byteLength(p), 0))

      let prev: Uint8Array = ZERO_HASH
      const parts: Buffer[] = []
      for (const [i, r] of V.chain.records.entries()) {
        const b = c.encodeBatch(batchInput({ hash, stream: V.chain.stream, payloads: [r.payload], firstOffset: r.offset, prevHash: prev, timestamps: [r.timestamp] }))
        t.is(hex(b.lastHash), want.hashes[i])
        parts.push(b.bytes)
        prev = b.lastHash
      }
      t.true(Buffer.concat(parts).equals(one.bytes), 'three batches give the same bytes as one')
    })

    test(`${backend}: ${hash} encodeBatch with batchEnds writes the batch vector byte for byte, and scan and decode read its kinds`, async (t) => {
      const c = await core(backend)
      const b = V.batch
      const input = {
        ...batchInput({ hash, stream: b.stream, payloads: b.records.map((r) => r.payload), timestamps: b.records.map((r) => r.timestamp) }),
        batchEnds: Uint32Array.from(b.batchEnds),
      }
      const out = c.encodeBatch(input)
      t.is(out.bytes.toString('hex'), b[hash].bytes)
      t.deepEqual([0, 1, 2].map((i) => hex(out.hashes!.subarray(i * 32, i * 32 + 32))), b[hash].hashes)
      const scan = c.scanSegment({ hash, stream: b.stream, data: out.bytes, basePosition: 0, firstOffset: 0, prevHash: ZERO_HASH, prevTimestamp: null, verifyChain: true, final: true })
      t.deepEqual([...scan.kinds], [0x80, 0x80, 0])
      t.is(scan.count, 3)
      // recordHash takes the kind byte 0x80 too (a proof of a record inside a batch needs it).
      const r0 = c.recordHash(hash, { stream: b.stream, prevHash: ZERO_HASH, offset: 0, timestamp: b.records[0].timestamp, kind: 0x80, payloadLength: 7, commitment: c.commitment(hash, Buffer.from('event-0')) })
      t.is(hex(r0), b[hash].hashes[0])
      for (const bad of [[2], [0, 3], [2, 2, 3], [4], [3, 4]]) {
        const err = t.throws(() => c.encodeBatch({ ...input, batchEnds: Uint32Array.from(bad) }))
        t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT', JSON.stringify(bad))
      }
      t.is((t.throws(() => c.encodeBatch({ ...input, batchEnds: [3] as unknown as Uint32Array })) as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
      t.is((t.throws(() => c.encodeBatch({ ...input, kind: KIND_CHECKPOINT })) as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
      // Bit 7 on a checkpoint, or a kind past 2 under it, is an invalid frame for both cores.
      for (const kind of [0x81, 0x82, 0x83, 0x03]) {
        const bytes = Buffer.from(out.bytes)
        bytes[52] = kind
        const end = out.positions[1] - 8
        bytes.writeUInt32LE(zlib.crc32(bytes.subarray(0, end)), end)
        const s = c.scanSegment({ hash, stream: b.stream, data: bytes, basePosition: 0, firstOffset: 0, prevHash: ZERO_HASH, prevTimestamp: null, verifyChain: false, final: true })
        t.is(s.count, 0, `kind ${kind}`)
      }
    })

    test(`${backend}: ${hash} checkpoint record after the vector events: prev_hash ‖ u64 offset, the previous timestamp, never compressed`, async (t) => {
      const c = await core(backend)
      const cpv = V.checkpoint[hash]
      const data = c.encodeBatch(batchInput({ hash, stream: V.chain.stream, payloads, timestamps }))
      t.is(hex(data.lastHash), cpv.prevHash)
      const cp = c.encodeBatch(batchInput({
        hash, stream: V.checkpoint.stream, payloads: [Buffer.from(cpv.payload, 'hex')], firstOffset: V.checkpoint.offset,
        prevHash: data.lastHash, kind: KIND_CHECKPOINT, codec: CODEC_ZSTD, level: 3, timestamps: [V.checkpoint.timestamp],
      }))
      t.is(cp.bytes.toString('hex'), cpv.bytes, 'byte-exact, and asking for zstd changes nothing')
      t.is(hex(cp.lastHash), cpv.hash)
      t.is(cp.bytes[52], KIND_CHECKPOINT)
      t.is(cp.bytes[53], FORM_NONE)
      const seg = Buffer.concat([data.bytes, cp.bytes])
      const scan = c.scanSegment({
        hash, stream: V.chain.stream, data: seg, basePosition: 0, firstOffset: 0, prevHash: ZERO_HASH,
        prevTimestamp: null, verifyChain: true, final: true,
      })
      t.is(scan.stop, 'end', scan.reason)
      t.is(scan.count, 4)
      t.deepEqual([...scan.kinds], [KIND_DATA, KIND_DATA, KIND_DATA, KIND_CHECKPOINT])
      t.is(hex(scan.lastHash!), cpv.hash)
    })
  }

  test(`${backend}: the framing vector is byte-exact`, async (t) => {
    const c = await core(backend)
    const f = V.framing
    const r = c.encodeBatch(batchInput({ hash: f.hash, stream: f.stream, payloads: [f.payload], firstOffset: f.offset, kind: f.kind, timestamps: [f.timestamp] }))
    t.is(r.bytes.toString('hex'), f.bytes)
    t.is(crcHex(c.crc32(r.bytes.subarray(0, r.bytes.length - 8))), f.crc32)
  })

  test(`${backend}: crc32 is zlib's CRC-32`, async (t) => {
    const c = await core(backend)
    for (const v of V.crc32) t.is(crcHex(c.crc32(Buffer.from(v.text))), v.crc32, JSON.stringify(v.text))
  })

  test(`${backend}: the offset index vectors encode and decode byte-exact`, async (t) => {
    const c = await core(backend)
    const crc = (d: Uint8Array) => c.crc32(d)
    for (const v of V.offsetIndex) {
      t.is(encodeIndex(PositionList.from(v.positions), crc).toString('hex'), v.bytes)
      const r = decodeIndex(Buffer.from(v.bytes, 'hex'), 1000, crc)
      t.true(r.ok)
      if (r.ok) t.deepEqual([...r.positions.slice(0, r.positions.length)], v.positions)
    }
  })
}
