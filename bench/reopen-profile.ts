/**
 * W6's reopen after kill -9, the timed part alone (docs/perf-notes.md, "The W5/W6 drop after
 * c75cf45"): on a store prepared for W6, `--runs` times a child appends (bench/appender.ts) until
 * killed with SIGKILL, then Log.open is timed; prints each open's ms and the median. With
 * PROF=prefix, a CPU profile of each timed open only (node:inspector, 50 µs sampling), written to
 * prefix-<run>.cpuprofile. Only the public API is used, so the same file runs on older commits.
 *
 *   node --import=tsx bench/worker.ts --workload W6 --subject native --dir DIR --prepare
 *   PROF=/tmp/w6 node --import=tsx bench/reopen-profile.ts DIR native 5
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Log } from '../ts/index.ts'
import { appendUntilKilled } from './crash-appender.ts'
import { startCpuProfile } from './cpu-profile.ts'

const [dir, backendArg, runsArg] = process.argv.slice(2)
if (dir === undefined) throw new Error('usage: reopen-profile.ts DIR [native|js] [runs] (a store prepared for W6)')
const backend = (backendArg ?? 'native') as 'native' | 'js'
const runs = Number(runsArg ?? 5)
const profileTo = process.env.PROF

// As bench/worker.ts: load the core and warm the open path on a scratch store first.
const warm = mkdtempSync(join(tmpdir(), 'chainlog-reopen-warm-'))
await (await Log.open(warm, { backend })).close()
rmSync(warm, { recursive: true, force: true })

const times: number[] = []
for (let run = 0; run < runs; run++) {
  await appendUntilKilled(dir, backend)

  const profile = profileTo === undefined ? null : await startCpuProfile(50)
  const t0 = process.hrtime.bigint()
  const log = await Log.open(dir, { backend })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (profileTo !== undefined) await profile?.stop(`${profileTo}-${run}.cpuprofile`)
  const recovered = log.recovered
  await log.close()
  times.push(ms)
  console.log(JSON.stringify({ run, ms: Number(ms.toFixed(2)), recovered }))
}
const sorted = [...times].sort((a, b) => a - b)
console.log(JSON.stringify({ medianMs: Number(sorted[Math.floor(sorted.length / 2)].toFixed(2)), minMs: Number(sorted[0].toFixed(2)), maxMs: Number(sorted.at(-1)!.toFixed(2)) }))
