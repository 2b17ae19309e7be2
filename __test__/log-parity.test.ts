import test from 'ava'
import { readdirSync, readFileSync } from 'node:fs'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'
import { int, payload, rng, seedFromEnv } from './helpers/random.ts'
import type { LogOptions } from '../ts/index.ts'

const SEED = seedFromEnv(9090)

/** Every file of a store except chainlog.json (its creation time differs) and LOCK. */
function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const stream of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    for (const name of readdirSync(`${dir}/${stream.name}`)) out.set(`${stream.name}/${name}`, readFileSync(`${dir}/${stream.name}/${name}`))
  }
  return out
}

for (const compression of ['none', 'lz4', 'zstd'] as const) {
  test(`the same appends write byte-identical stores on the ${BACKENDS.join(' and ')} cores (compression ${compression})`, async (t) => {
    const options: LogOptions = { compression, checkpointEvery: 5, maxSegmentBytes: 4096 }
    const stores = await Promise.all(
      BACKENDS.map(async (backend) => {
        const rand = rng(SEED)
        const dir = tempDir(t, `parity-${backend}`)
        const log = await openLog(t, backend, dir, options)
        let ts = 1_700_000_000_000
        for (let i = 0; i < 60; i++) {
          ts += int(rand, 0, 3)
          const events = Array.from({ length: int(rand, 1, 4) }, () => payload(rand, int(rand, 0, 500)))
          await log.append(int(rand, 0, 2) === 0 ? 'b' : 'a', events, { timestamp: ts })
          if (i % 17 === 0) await log.checkpoint('a')
        }
        const heads = [(await log.head('a')).hash.toString('hex'), (await log.head('b')).hash.toString('hex')]
        await log.close()
        return { files: files(dir), heads }
      }),
    )
    const [first, ...rest] = stores
    for (const other of rest) {
      t.deepEqual(other.heads, first.heads)
      t.deepEqual([...other.files.keys()].sort(), [...first.files.keys()].sort())
      for (const [name, bytes] of first.files) t.true(bytes.equals(other.files.get(name)!), name)
    }
  })
}
