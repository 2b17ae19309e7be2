/**
 * Interleaved A/B of one workload between two checkouts of chainlog (say, a worktree of an old
 * commit and this one) on the same host in the same session: each checkout's own bench worker
 * (bundled as bench/run.ts bundles it) runs the workload once per subject per round, the two
 * checkouts alternating run by run (the order flips each round), so drift on a shared machine
 * hits both alike. Prints medians (min–max) per checkout and subject, and new/old ratios of the
 * medians; the peers (level, hypercore, raw) show how much of a change is the host.
 *
 *   node --import=tsx bench/ab.ts --workload W5-get --old /work/wt-old --new . --subjects native,js,level --rounds 5
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { summarize } from './stats.ts'

const { values: args } = parseArgs({
  options: {
    workload: { type: 'string' }, old: { type: 'string' }, new: { type: 'string' }, subjects: { type: 'string' }, rounds: { type: 'string' },
  },
})
if (args.workload === undefined || args.old === undefined || args.new === undefined || args.subjects === undefined) {
  throw new Error('usage: ab.ts --workload W --old DIR --new DIR --subjects a,b [--rounds 5]')
}
const workload = args.workload
const subjects = args.subjects.split(',')
const rounds = Number(args.rounds ?? 5)
const checkouts = { old: resolve(args.old), new: resolve(args.new) }
const PREPARED = new Set(['W5-read', 'W5-get', 'W6'])

/** Bundles a checkout's worker and appender into its bench/.build/, as bench/run.ts does. */
async function bundle(root: string): Promise<string> {
  const out = join(root, 'bench', '.build')
  await build({
    entryPoints: ['worker.ts', 'appender.ts'].map((f) => join(root, 'bench', f)),
    outdir: out, outExtension: { '.js': '.mjs' }, bundle: true, packages: 'external',
    platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning',
  })
  return join(out, 'worker.mjs')
}

interface RunResult {
  rate?: number
  ms?: number
}

function run(worker: string, argv: string[]): RunResult {
  const out = execFileSync(process.execPath, [worker, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024 })
  return JSON.parse(out.trim().split('\n').pop()!) as RunResult
}

const workers = { old: await bundle(checkouts.old), new: await bundle(checkouts.new) }
const versions = ['old', 'new'] as const
const dirs = new Map<string, string>()
const results = new Map<string, number[]>()
try {
  for (const v of versions) {
    for (const subject of subjects) {
      results.set(`${v} ${subject}`, [])
      if (!PREPARED.has(workload)) continue
      const dir = mkdtempSync(join(tmpdir(), `chainlog-ab-${v}-${subject}-`))
      dirs.set(`${v} ${subject}`, dir)
      run(workers[v], ['--workload', workload, '--subject', subject, '--dir', dir, '--prepare'])
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const subject of subjects) {
      const order = round % 2 === 0 ? versions : ([...versions].reverse() as unknown as typeof versions)
      for (const v of order) {
        const dir = dirs.get(`${v} ${subject}`)
        const r = run(workers[v], ['--workload', workload, '--subject', subject, ...(dir ? ['--dir', dir] : [])])
        results.get(`${v} ${subject}`)!.push(r.rate ?? r.ms!)
        process.stderr.write('.')
      }
    }
  }
} finally {
  for (const dir of dirs.values()) rmSync(dir, { recursive: true, force: true })
}
process.stderr.write('\n')

const unit = workload === 'W6' ? 'ms' : '/s'
const fmt = (x: number) => (unit === 'ms' ? `${x.toFixed(1)} ms` : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(1)}k`)
console.log(`${workload}, ${rounds} rounds, old = ${checkouts.old}, new = ${checkouts.new}`)
console.log('| subject | old median (min–max) | new median (min–max) | new/old |')
console.log('|---|---|---|---|')
for (const subject of subjects) {
  const o = summarize(results.get(`old ${subject}`)!)
  const n = summarize(results.get(`new ${subject}`)!)
  console.log(`| ${subject} | ${fmt(o.median)} (${fmt(o.min)}–${fmt(o.max)}) | ${fmt(n.median)} (${fmt(n.min)}–${fmt(n.max)}) | ${(n.median / o.median).toFixed(2)}× |`)
}
console.log(JSON.stringify(Object.fromEntries(results)))
