/**
 * W6 by stream count: how long Log.open takes on a store of 1, 256 and 10,000 streams (one
 * event each), after a clean close and after a kill -9 of the
 * writer (every stream then recovered at open). Medians of --runs opens of the same store.
 *   npm run bench:open-streams [-- --runs 5 --counts 1,256,10000 --backend native]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Log } from '../ts/index.ts'
import { summarize } from './stats.ts'

const { values: args } = parseArgs({
  options: { runs: { type: 'string' }, counts: { type: 'string' }, backend: { type: 'string' }, child: { type: 'string' }, dir: { type: 'string' } },
})
const backend = (args.backend ?? 'native') as 'native' | 'js'

/** Child mode: fill `dir` with `child` streams, say so, and wait to be killed. */
async function fill(dir: string, streams: number, close: boolean): Promise<void> {
  const log = await Log.open(dir, { backend, sync: 'never' })
  for (let i = 0; i < streams; i += 500) await Promise.all(Array.from({ length: Math.min(500, streams - i) }, (_, k) => log.append(`s${i + k}`, 'x')))
  await log.flush() // the data is durable; a kill only skips close()'s work
  if (close) {
    await log.close()
    return
  }
  process.stdout.write('ready\n')
  setInterval(() => {}, 1000)
}

if (args.child !== undefined) {
  await fill(args.dir!, Number(args.child), false)
} else {
  const runs = Number(args.runs ?? 5)
  const counts = (args.counts ?? '1,256,10000').split(',').map(Number)
  const msOpen = async (dir: string) => {
    const t0 = process.hrtime.bigint()
    const log = await Log.open(dir, { backend })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    await log.close()
    return ms
  }
  console.log(`${backend}: Log.open on N streams of one event, median (min–max) of ${runs} opens`)
  for (const n of counts) {
    const clean = mkdtempSync(join(tmpdir(), 'chainlog-bench-open-'))
    const killed = mkdtempSync(join(tmpdir(), 'chainlog-bench-open-'))
    try {
      await fill(clean, n, true)
      const cleanMs: number[] = []
      for (let r = 0; r < runs; r++) cleanMs.push(await msOpen(clean))
      // After a kill: a writer filled the store and was killed before close; each open then
      // recovers every stream, and (being a clean close itself) the next open would not: the
      // store is refilled by a killed writer before each measured open.
      const killedMs: number[] = []
      for (let r = 0; r < runs; r++) {
        rmSync(killed, { recursive: true, force: true })
        await new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, '--child', String(n), '--dir', killed, '--backend', backend], { stdio: ['ignore', 'pipe', 'inherit'] })
          child.stdout.on('data', (d: Buffer) => {
            if (d.toString().includes('ready')) child.kill('SIGKILL')
          })
          child.on('exit', () => resolve())
          child.on('error', reject)
        })
        const t0 = process.hrtime.bigint()
        const log = await Log.open(killed, { backend })
        killedMs.push(Number(process.hrtime.bigint() - t0) / 1e6)
        await log.close()
      }
      const f = (v: number[]) => {
        const s = summarize(v)
        return `${s.median.toFixed(1)} ms (${s.min.toFixed(1)}–${s.max.toFixed(1)})`
      }
      console.log(`  ${String(n).padStart(6)} streams: after a clean close ${f(cleanMs)}; after a kill ${f(killedMs)}`)
    } finally {
      rmSync(clean, { recursive: true, force: true })
      rmSync(killed, { recursive: true, force: true })
    }
  }
}
