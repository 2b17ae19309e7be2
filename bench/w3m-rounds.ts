/**
 * W3m's durability rounds, timed (docs/perf-notes.md, "W3m: what a durable append costs"): 256
 * producers of single 256 B appends under sync 'always' over S streams, native core, with the
 * core's datasyncMany wrapped to time each round (its call to its settlement). Prints one JSON
 * line: appends/s, latency p50/p99, rounds, files per round, appends per fdatasync, the share of
 * wall time inside rounds, and the process's CPU (all threads, kernel included) per append.
 *
 *   node --import=tsx bench/w3m-rounds.ts 16 [appends] [--journal]
 *
 * --journal: the store journal on (LogOptions.journal); `journalRounds` is then its rounds (one
 * write and one fdatasync of journal.wal each) and `rounds` the checkpoints' datasyncMany rounds;
 * `fdatasyncsPerAppend` counts both.
 */
import { rmSync } from 'node:fs'
import { loadCore } from '../ts/core/load.ts'
import { openW3mStore } from './w3m-store.ts'

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const journal = process.argv.includes('--journal')
const streams = Number(positional[0] ?? 16)
const appends = Number(positional[1] ?? 10_000)
const core = await loadCore('native')
if (core.datasyncMany === undefined) throw new Error('this core has no datasyncMany')
const datasyncMany = core.datasyncMany.bind(core)
let rounds: Array<{ files: number; start: number; end: number }> = []
core.datasyncMany = async (fds: number[]) => {
  const round = { files: fds.length, start: performance.now(), end: 0 }
  rounds.push(round)
  try {
    return await datasyncMany(fds)
  } finally {
    round.end = performance.now()
  }
}

const { dir, log, names, event, journalRounds } = await openW3mStore('chainlog-w3m-rounds-', streams, journal)
rounds = []
const journalRounds0 = journalRounds()
let issued = 0
const latencies: number[] = []
const t0 = performance.now()
const cpu0 = process.cpuUsage()
await Promise.all(
  Array.from({ length: 256 }, async () => {
    while (issued < appends) {
      const k = issued++
      const a = performance.now()
      await log.append(names[k % streams], [event])
      latencies.push(performance.now() - a)
    }
  }),
)
const seconds = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
const journaled = journalRounds() - journalRounds0
await log.close()
rmSync(dir, { recursive: true, force: true })

const inRounds = rounds.reduce((a, r) => a + r.end - r.start, 0)
const files = rounds.reduce((a, r) => a + r.files, 0)
latencies.sort((a, b) => a - b)
console.log(
  JSON.stringify({
    streams,
    journal,
    appendsPerSec: Math.round(appends / seconds),
    p50: +latencies[latencies.length >> 1].toFixed(2),
    p99: +latencies[Math.floor(latencies.length * 0.99)].toFixed(2),
    rounds: rounds.length,
    filesPerRound: +(files / Math.max(1, rounds.length)).toFixed(1),
    // A round of one file is that file's own datasync(), not counted here (W3m-1).
    appendsPerFdatasync: files === 0 ? null : +(appends / files).toFixed(1),
    journalRounds: journaled,
    // Rounds of one file (the default path's own datasync()) are not counted: exact for 16+ busy streams.
    fdatasyncsPerAppend: +((files + journaled) / appends).toFixed(4),
    roundMsMean: +(inRounds / Math.max(1, rounds.length)).toFixed(2),
    shareOfTimeInRounds: +(inRounds / (seconds * 1000)).toFixed(2),
    cpuCores: +((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2),
    cpuMicrosPerAppend: +((cpu.user + cpu.system) / appends).toFixed(1),
  }),
)
