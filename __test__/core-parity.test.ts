import test from 'ava'
import { core } from './helpers/cores.ts'
import { int, payload, rng, seedFromEnv } from './helpers/random.ts'
import { CODEC_LZ4, CODEC_NONE, CODEC_ZSTD, type EncodeBatchInput } from '../ts/core/interface.ts'
import { MAX_PAYLOAD_BYTES } from '../ts/core/format.ts'

// Both cores must write the same bytes: same framing, same hashes, same compressed forms.
const BATCHES_PER_TEST = 250
const TESTS = 8 // 2,000 random batches in all
const BASE_SEED = seedFromEnv(20261124)

function randomBatch(rand: () => number): { input: EncodeBatchInput; payloads: Buffer[] } {
  const n = int(rand, 1, 8)
  const payloads: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const r = rand()
    const size = r < 0.1 ? 0 : r < 0.6 ? int(rand, 1, 512) : r < 0.9 ? int(rand, 513, 8192) : int(rand, 8193, 65536)
    payloads.push(payload(rand, size))
  }
  const codec = [CODEC_NONE, CODEC_LZ4, CODEC_ZSTD][int(rand, 0, 2)]
  const small = payloads.every((p) => p.length <= 8192)
  const level = codec !== CODEC_ZSTD ? 0 : small && rand() < 0.1 ? 19 : int(rand, 0, 9)
  const firstOffset = rand() < 0.3 ? 0 : rand() < 0.9 ? int(rand, 1, 1_000_000) : Number.MAX_SAFE_INTEGER - n - int(rand, 0, 5)
  const prevHash = Buffer.alloc(32)
  if (firstOffset > 0) for (let i = 0; i < 32; i++) prevHash[i] = int(rand, 0, 255)
  if (firstOffset > 0 && prevHash.every((b) => b === 0)) prevHash[0] = 1
  let ts = rand() < 0.5 ? 1700000000000 + int(rand, 0, 1e9) : int(rand, 0, 2 ** 40)
  const timestamps = payloads.map(() => (ts += rand() < 0.5 ? 0 : int(rand, 1, 1000)))
  const names = ['orders', 'a', 'x'.repeat(128), '42', 'user.events-v2_', '0']
  return {
    payloads,
    input: {
      hash: rand() < 0.5 ? 'blake3' : 'sha256',
      stream: names[int(rand, 0, names.length - 1)],
      firstOffset, prevHash, kind: 0, codec, level,
      payloads: Buffer.concat(payloads),
      lengths: Uint32Array.from(payloads.map((p) => p.length)),
      timestamps: Float64Array.from(timestamps),
      wantHashes: true,
    },
  }
}

for (let k = 0; k < TESTS; k++) {
  const seed = BASE_SEED + k
  test(`native and js encode ${BATCHES_PER_TEST} random batches to identical bytes and hashes (seed ${seed})`, async (t) => {
    const native = await core('native')
    const js = await core('js')
    const rand = rng(seed)
    let compressed = 0
    for (let b = 0; b < BATCHES_PER_TEST; b++) {
      const { input, payloads } = randomBatch(rand)
      const a = native.encodeBatch(input)
      const j = js.encodeBatch(input)
      const where = `batch ${b} (codec ${input.codec}, level ${input.level}, ${input.hash})`
      if (!a.bytes.equals(j.bytes)) {
        t.fail(`${where}: bytes differ (${a.bytes.length} vs ${j.bytes.length})`)
        return
      }
      t.deepEqual([...a.positions], [...j.positions], where)
      if (b % 5 === 0) {
        // Into a caller's buffer (as the engine encodes): the same bytes, at the buffer's start.
        const into = Buffer.alloc(input.payloads.length + 66 * input.lengths.length + 3)
        for (const c of [native, js]) {
          const r = c.encodeBatch({ ...input, into })
          if (r.bytes.buffer !== into.buffer || !r.bytes.equals(a.bytes)) {
            t.fail(`${where}: ${c.name} encoding into a buffer differs`)
            return
          }
        }
      }
      t.true(a.hashes!.equals(j.hashes!), `${where}: hashes differ`)
      t.true(a.lastHash.equals(j.lastHash), `${where}: last hash differs`)
      for (let i = 0; i < payloads.length; i++) if (a.bytes[a.positions[i] + 53] !== 0) compressed++

      // What one core wrote, both read back: same payloads, same hashes, chain intact.
      for (const c of [native, js]) {
        const d = c.decodeRecords({
          hash: input.hash, stream: input.stream, data: a.bytes, basePosition: 0, positions: a.positions,
          expectPrevHash: input.prevHash, payloadsFrom: 0, maxPayloadBytes: MAX_PAYLOAD_BYTES,
        })
        t.is(d.count, payloads.length)
        t.true(d.hashes.equals(a.hashes!), `${c.name} ${where}: decoded hashes`)
        t.true(d.payloads.equals(input.payloads), `${c.name} ${where}: decoded payloads`)
        t.deepEqual([...d.timestamps], [...input.timestamps])
        const s = c.scanSegment({
          hash: input.hash, stream: input.stream, data: a.bytes, basePosition: 0, firstOffset: input.firstOffset,
          prevHash: input.prevHash, prevTimestamp: null, verifyChain: true, final: true,
        })
        t.is(s.stop, 'end', `${c.name} ${where}: ${s.reason}`)
        t.is(s.count, payloads.length)
      }
    }
    t.true(compressed > 0, 'some records were stored compressed')
  })
}

test('native and js compress to identical lz4 and zstd bytes, and each decompresses the other', async (t) => {
  const native = await core('native')
  const js = await core('js')
  const rand = rng(BASE_SEED + 100)
  const sizes = [0, 1, 12, 13, 64, 4096, 65535, 65536, 65537, 200_000]
  for (const size of sizes) {
    for (let rep = 0; rep < 4; rep++) {
      const data = payload(rand, size)
      for (const [codec, level] of [[CODEC_LZ4, 0], [CODEC_ZSTD, 1], [CODEC_ZSTD, 3], [CODEC_ZSTD, 9]]) {
        const a = native.compress(codec, level, data)
        const j = js.compress(codec, level, data)
        t.true(a.equals(j), `codec ${codec} level ${level} size ${size}`)
        t.true(native.decompress(codec, j, MAX_PAYLOAD_BYTES).equals(data))
        t.true(js.decompress(codec, a, MAX_PAYLOAD_BYTES).equals(data))
      }
    }
  }
})
