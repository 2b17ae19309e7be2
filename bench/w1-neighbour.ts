/**
 * What any work on the other core costs W1 on this machine, the archiver aside: W1 (native,
 * sync never, 256 B events in batches of 1000) alone, then beside a second process at low CPU
 * priority that only counts (`cpu`) or only copies 64 MiB buffers (`memcpy`). The archiver's
 * shipping thread runs at lower priority too (ts/archive/ship-worker.ts), so this is the floor
 * of its cost on the appends: whatever the neighbour does, the scheduler cannot give it less.
 * Interleaved run by run; medians, and each neighbour's ratio to "alone" from this run.
 *
 *   node --import=tsx bench/w1-neighbour.ts [--runs 7] [--records 2000000] [--nice 19]
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Log } from '../ts/index.ts'
import { binaryPayloads } from './data.ts'
import { fmt, summarize } from './stats.ts'

const { values: args } = parseArgs({ options: { runs: { type: 'string' }, records: { type: 'string' }, nice: { type: 'string' } } })
const runs = Number(args.runs ?? 7)
const records = Number(args.records ?? 2_000_000)
const niceness = String(args.nice ?? 19)

const neighbours = {
  alone: null,
  cpu: 'let x = 0; for (;;) x++',
  memcpy: 'const a = Buffer.alloc(64 << 20, 1), b = Buffer.alloc(64 << 20); for (;;) a.copy(b)',
} as const

async function w1(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'chainlog-bench-neighbour-'))
  const log = await Log.open(dir, { backend: 'native', sync: 'never' })
  const batch = binaryPayloads(1000, 256)
  const t0 = process.hrtime.bigint()
  for (let done = 0; done < records; done += batch.length) await log.append('w1', batch)
  const rate = records / (Number(process.hrtime.bigint() - t0) / 1e9)
  await log.close()
  rmSync(dir, { recursive: true, force: true })
  execFileSync('sync') // no run's writeback lands in the next one's window
  return rate
}

await w1() // warm-up
const results: Record<string, number[]> = Object.fromEntries(Object.keys(neighbours).map((k) => [k, []]))
for (let r = 0; r < runs; r++) {
  for (const [name, code] of Object.entries(neighbours)) {
    const child = code === null ? null : spawn('nice', ['-n', niceness, process.execPath, '-e', code], { stdio: 'ignore' })
    if (child !== null) await new Promise((ok) => setTimeout(ok, 300)) // running before the clock starts
    try {
      results[name].push(await w1())
    } finally {
      child?.kill('SIGKILL')
    }
  }
  process.stderr.write(`run ${r + 1}/${runs} done\n`)
}
const alone = summarize(results.alone).median
console.log(`| W1 ${records} records, native | median | min | max | / alone |\n|---|---|---|---|---|`)
for (const [name, v] of Object.entries(results)) {
  const s = summarize(v)
  console.log(`| ${name === 'alone' ? 'alone' : `beside a nice ${niceness} ${name} loop`} | ${fmt(s.median)}/s | ${fmt(s.min)} | ${fmt(s.max)} | ${(s.median / alone).toFixed(3)} |`)
}
