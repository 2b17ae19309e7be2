import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { events, openLog, readSegment, segmentNumbers, tempDir, writeSegment } from './helpers/log-dir.ts'
import { int, rng, seedFromEnv } from './helpers/random.ts'
import { Log } from '../ts/index.ts'

const SEED = seedFromEnv(31337)
const FLIPS = 40

for (const backend of BACKENDS) {
  test(`${backend}: a bit flipped anywhere in a store is detected (recovery, a failed read or verify), never returned as data`, async (t) => {
    const rand = rng(SEED)
    const source = tempDir(t)
    const log = await Log.open(source, { backend, checkpointEvery: 4, maxSegmentBytes: 600, compression: 'lz4' })
    for (let i = 0; i < 24; i += 3) await log.append('s', events(i, i + 3).map((e) => e + ' '.repeat(i * 3)))
    await log.close()
    const nums = segmentNumbers(source, 's')
    const original = await (async () => {
      const ro = await Log.open(source, { backend, readOnly: true })
      const r = (await ro.read('s', { verify: 'genesis' })).map((x) => x.payload.toString())
      await ro.close()
      return r
    })()
    for (let k = 0; k < FLIPS; k++) {
      const dir = tempDir(t)
      const { cpSync } = await import('node:fs')
      cpSync(source, dir, { recursive: true })
      const num = nums[int(rand, 0, nums.length - 1)]
      const seg = readSegment(dir, 's', num)
      const at = int(rand, 0, seg.length - 1)
      seg[at] ^= 1 << int(rand, 0, 7)
      writeSegment(dir, 's', num, seg)
      const flipped = await openLog(t, backend, dir)
      let detected = flipped.recovered.length > 0
      try {
        const got = (await flipped.read('s', { verify: 'genesis' })).map((x) => x.payload.toString())
        if (JSON.stringify(got) !== JSON.stringify(original)) detected = true
        t.true(detected || JSON.stringify(got) === JSON.stringify(original), `flip at ${num}:${at} returned altered data unnoticed`)
      } catch (err) {
        t.true(['ERR_CORRUPT', 'ERR_CHAIN_BROKEN'].includes((err as { code: string }).code), String(err))
        detected = true
      }
      const report = await flipped.verify('s')
      t.true(detected, `flip at segment ${num} byte ${at}`)
      t.true(!report.ok || flipped.recovered.length > 0, `verify misses the flip at segment ${num} byte ${at}`)
      await flipped.close()
    }
  })
}
