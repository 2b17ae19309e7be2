/**
 * W5's random gets on a prepared store, the timed part alone (docs/perf-notes.md, "W5 random
 * get"): 10,000 warm-up gets, then 100,000 timed, printing gets/s and CPU per get; with PROF=file
 * a CPU profile of the timed gets only (node:inspector, 100 µs sampling).
 *
 *   node --import=tsx bench/worker.ts --workload W5-get --subject native --dir DIR --prepare
 *   PROF=/tmp/get.cpuprofile node --import=tsx bench/get-profile.ts DIR
 */
import { Log } from '../ts/index.ts'
import { RANDOM_GETS, workload } from './workloads.ts'
import { startCpuProfile } from './cpu-profile.ts'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: get-profile.ts DIR (a store prepared for W5-get)')
const records = workload('W5-get').full
const gets = RANDOM_GETS.full
const log = await Log.open(dir, { backend: 'native', sync: 'never' })
let seed = 99 // the bench worker's sequence
const nextIndex = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  return seed % records
}
for (let i = 0; i < gets / 10; i++) await log.get('bench', nextIndex())
const profileTo = process.env.PROF
const profile = profileTo === undefined ? null : await startCpuProfile(100)
const cpu0 = process.cpuUsage()
const t0 = process.hrtime.bigint()
for (let i = 0; i < gets; i++) await log.get('bench', nextIndex())
const ns = Number(process.hrtime.bigint() - t0) / gets
const cpu = process.cpuUsage(cpu0)
if (profileTo !== undefined) await profile?.stop(profileTo)
await log.close()
console.log(JSON.stringify({ getsPerSec: Math.round(1e9 / ns), userNsPerGet: Math.round((cpu.user * 1000) / gets), systemNsPerGet: Math.round((cpu.system * 1000) / gets) }))
