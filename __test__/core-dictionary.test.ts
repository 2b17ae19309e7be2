/**
 * Form 4, zstd with a stream's dictionary, at the core boundary on both cores: the vector of
 * spec/vectors.json (read by both; decoded also by @bokuweb/zstd-wasm's own decompressUsingDict
 * and its chain hash recomputed with @noble/hashes), the native core's writes byte for byte, the
 * JS core's documented refusal to write, and bad input.
 */
import test from 'ava'
import { readFileSync } from 'node:fs'
import { blake3 } from '@noble/hashes/blake3'
import { createDCtx, decompressUsingDict, init as zstdInit } from '@bokuweb/zstd-wasm'
import { BACKENDS, core } from './helpers/cores.ts'
import { CODEC_LZ4, CODEC_ZSTD, FORM_ZSTD_DICT, KIND_DATA } from '../ts/core/interface.ts'
import { batchInput } from './helpers/batch.ts'

interface DictionaryVector {
  dictionaryId: number
  dictionary: string
  payload: string
  level: number
  frame: string
  record: { hash: 'blake3'; stream: string; offset: number; timestamp: number; kind: number; form: number; bytes: string; chainHash: string }
}
const V: DictionaryVector = JSON.parse(readFileSync(new URL('../spec/vectors.json', import.meta.url), 'utf8')).zstdDictionary
const dict = Buffer.from(V.dictionary, 'hex')
const frame = Buffer.from(V.frame, 'hex')
const record = Buffer.from(V.record.bytes, 'hex')
const payload = Buffer.from(V.payload)

test('the form-4 vector: zstd-wasm\'s own decompressUsingDict and @noble/hashes agree with it', async (t) => {
  await zstdInit()
  t.deepEqual(Buffer.from(decompressUsingDict(createDCtx(), frame, dict)), payload)
  t.is(frame.readUInt32LE(5), V.dictionaryId, 'the frame header names the dictionary')
  t.is(dict.readUInt32LE(4), V.dictionaryId)
  const u64 = (n: number) => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt(n))
    return b
  }
  const name = Buffer.from(V.record.stream)
  const len = Buffer.alloc(2)
  len.writeUInt16LE(name.length)
  const h = blake3(Buffer.concat([Buffer.from('chainlog:record:v1'), len, name, Buffer.alloc(32), u64(V.record.offset), u64(V.record.timestamp), Buffer.of(V.record.kind), u64(payload.length), blake3(payload)]))
  t.is(Buffer.from(h).toString('hex'), V.record.chainHash)
  t.is(record[53], FORM_ZSTD_DICT)
  t.deepEqual(record.subarray(58, 58 + frame.length), frame)
})

for (const backend of BACKENDS) {
  test(`${backend}: reads the form-4 vector with its dictionary loaded`, async (t) => {
    const c = await core(backend)
    t.is(c.loadDictionary(dict), V.dictionaryId)
    try {
      t.deepEqual(c.decompress(FORM_ZSTD_DICT, frame, 1 << 20), payload)
      const r = c.decodeRecords({ hash: 'blake3', stream: V.record.stream, data: record, basePosition: 0, positions: Float64Array.of(0), expectPrevHash: Buffer.alloc(32), payloadsFrom: 0, maxPayloadBytes: 1 << 20 })
      t.deepEqual(r.payloads, payload)
      t.is(r.forms[0], FORM_ZSTD_DICT)
      t.is(r.hashes.toString('hex'), V.record.chainHash)
      const s = c.scanSegment({ hash: 'blake3', stream: V.record.stream, data: record, basePosition: 0, firstOffset: 0, prevHash: Buffer.alloc(32), prevTimestamp: null, verifyChain: true, final: true })
      t.is(s.stop, 'end', s.reason)
      t.is(s.lastHash?.toString('hex'), V.record.chainHash)
    } finally {
      c.unloadDictionary(V.dictionaryId)
    }
  })

  test(`${backend}: a frame whose dictionary is not loaded is ERR_CORRUPT naming it; bad dictionaries are refused`, async (t) => {
    const c = await core(backend)
    // The vector's frame re-labelled with a dictionary ID nothing loads.
    const other = Buffer.from(frame)
    other.writeUInt32LE(V.dictionaryId + 1, 5)
    const e = t.throws(() => c.decompress(FORM_ZSTD_DICT, other, 1 << 20))
    t.is((e as { code?: string }).code, 'ERR_CORRUPT')
    t.regex(e!.message, new RegExp(`dictionary ${V.dictionaryId + 1}`))
    const bad = Buffer.from(record)
    bad.writeUInt32LE(V.dictionaryId + 1, 58 + 5)
    // CRC no longer matches: fix it so the frame itself is what the decoder judges.
    const { crc32 } = await import('node:zlib')
    bad.writeUInt32LE(crc32(bad.subarray(0, bad.length - 8)), bad.length - 8)
    const s = c.scanSegment({ hash: 'blake3', stream: V.record.stream, data: bad, basePosition: 0, firstOffset: 0, prevHash: Buffer.alloc(32), prevTimestamp: null, verifyChain: true, final: true })
    t.is(s.stop, 'corrupt')
    t.throws(() => c.decodeRecords({ hash: 'blake3', stream: V.record.stream, data: bad, basePosition: 0, positions: Float64Array.of(0), expectPrevHash: null, payloadsFrom: 0, maxPayloadBytes: 1 << 20 }), { code: 'ERR_CORRUPT' })
    // A plain zstd frame stored as form 4 names no dictionary.
    t.throws(() => c.decompress(FORM_ZSTD_DICT, c.compress(CODEC_ZSTD, 3, payload), 1 << 20), { code: 'ERR_CORRUPT' })
    for (const junk of [Buffer.alloc(0), Buffer.alloc(300), Buffer.concat([dict.subarray(0, 4), Buffer.alloc(300)])]) {
      t.throws(() => c.loadDictionary(junk), { code: 'ERR_CORRUPT' })
    }
    t.throws(() => c.loadDictionary('not bytes' as unknown as Uint8Array), { code: 'ERR_INVALID_ARGUMENT' })
    const foreign = Buffer.from(dict)
    foreign[foreign.length - 1] ^= 1
    t.is(c.loadDictionary(dict), V.dictionaryId)
    try {
      t.throws(() => c.loadDictionary(foreign), { code: 'ERR_CORRUPT', message: /another zstd dictionary/ })
    } finally {
      c.unloadDictionary(V.dictionaryId)
    }
    t.throws(() => c.unloadDictionary(7), { code: 'ERR_INVALID_ARGUMENT' })
  })
}

test('native: writes the vector\'s frame and record byte for byte; trains deterministically', async (t) => {
  const c = await core('native')
  c.loadDictionary(dict)
  try {
    t.is(c.compressWithDictionary(V.dictionaryId, V.level, payload).toString('hex'), V.frame)
    const input = { ...batchInput({ payloads: [payload], stream: V.record.stream, codec: CODEC_ZSTD, level: V.level, timestamps: [V.record.timestamp] }), dictionaryId: V.dictionaryId }
    const out = c.encodeBatch(input)
    t.is(out.bytes.toString('hex'), V.record.bytes)
    t.throws(() => c.encodeBatch({ ...input, codec: CODEC_LZ4 }), { code: 'ERR_INVALID_ARGUMENT' })
    t.throws(() => c.encodeBatch({ ...input, dictionaryId: V.dictionaryId + 1 }), { code: 'ERR_INVALID_ARGUMENT' })
    t.throws(() => c.encodeBatch({ ...input, dictionaryId: -1 }), { code: 'ERR_INVALID_ARGUMENT' })
  } finally {
    c.unloadDictionary(V.dictionaryId)
  }
  const samples = Array.from({ length: 2000 }, (_, i) => Buffer.from(JSON.stringify({ seq: i, kind: ['a', 'b', 'c'][i % 3], value: (i * 7919) % 1000 })))
  const all = Buffer.concat(samples)
  const lengths = Uint32Array.from(samples.map((s) => s.length))
  const a = await c.trainDictionary(all, lengths, 2048)
  t.deepEqual(await c.trainDictionary(all, lengths, 2048), a)
  t.true(a.length <= 2048)
  await t.throwsAsync(c.trainDictionary(all.subarray(0, 30), Uint32Array.of(10, 10, 10), 2048), { code: 'ERR_INVALID_ARGUMENT' })
  await t.throwsAsync(c.trainDictionary(all, Uint32Array.of(1), 2048), { code: 'ERR_INVALID_ARGUMENT' })
  await t.throwsAsync(c.trainDictionary(all, lengths, 1), { code: 'ERR_INVALID_ARGUMENT' })
  await t.throwsAsync(c.trainDictionary(all, [1] as unknown as Uint32Array, 2048), { code: 'ERR_INVALID_ARGUMENT' })
})

test('js: refuses to write form 4 or to train (ERR_UNSUPPORTED), as documented', async (t) => {
  const c = await core('js')
  c.loadDictionary(dict)
  try {
    t.throws(() => c.compressWithDictionary(V.dictionaryId, 3, payload), { code: 'ERR_UNSUPPORTED' })
    const input = { ...batchInput({ payloads: [payload], codec: CODEC_ZSTD }), dictionaryId: V.dictionaryId, kind: KIND_DATA }
    t.throws(() => c.encodeBatch(input), { code: 'ERR_UNSUPPORTED' })
    t.throws(() => c.encodeBatch({ ...input, codec: CODEC_LZ4 }), { code: 'ERR_INVALID_ARGUMENT' })
    await t.throwsAsync(c.trainDictionary(payload, Uint32Array.of(payload.length), 2048), { code: 'ERR_UNSUPPORTED' })
  } finally {
    c.unloadDictionary(V.dictionaryId)
  }
})
