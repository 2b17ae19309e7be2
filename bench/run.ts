/**
 * `npm run bench`: the workloads W1–W6 of SPEC §5 on the native core, the JS core, the peers and
 * the raw-disk baseline. Every figure is the median of `--runs` (default 5, 3 under --quick) runs, each in a fresh
 * worker process after a warm-up, with min and max; the subjects are interleaved run by run so
 * drift on this shared machine hits all of them alike, and every ratio compares medians from
 * this one invocation. Prints a Markdown table and writes JSON under bench/results/ (a dated
 * file, and latest.json or latest-quick.json for a run of every workload).
 *
 *   npm run bench                    the full suite
 *   npm run bench -- --quick         smaller sizes, under 2 minutes
 *   npm run bench -- --only W1,W3    some workloads
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { fmt, summarize, type Summary } from './stats.ts'
import { WORKLOADS, type Workload } from './workloads.ts'
import type { RunResult } from './worker.ts'

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean' }, only: { type: 'string' }, runs: { type: 'string' } },
})
const quick = args.quick ?? false
// --quick is a smoke run (its W1–W3 runs last tens of milliseconds): 3 runs each, not 5, keep it
// near its two-minute budget; timed at 5 runs on a loaded host it took over 9 minutes.
const runs = Number(args.runs ?? (quick ? 3 : 5))
const only = args.only?.split(',')
const workloads = WORKLOADS.filter((w) => (!only || only.includes(w.id) || only.includes(w.id.split('-')[0])) && (!quick || w.quickSubjects?.length !== 0))

// The worker and W6's appender are bundled once (esbuild, our modules only) and run by plain node:
// starting each of the ~150 worker processes through tsx cost ~0.4 s more, most of --quick's time.
// The bundle sits in bench/.build/, inside the package, so the native loader finds native/.
const BUILD = new URL('./.build/', import.meta.url).pathname
await build({
  entryPoints: ['worker.ts', 'appender.ts'].map((f) => new URL(`./${f}`, import.meta.url).pathname),
  outdir: BUILD, outExtension: { '.js': '.mjs' }, bundle: true, packages: 'external',
  platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning',
})
const WORKER = join(BUILD, 'worker.mjs')

interface Variant {
  workload: Workload
  subject: string
  codec?: string
  label: string
}

interface Row {
  workload: string
  label: string
  rate?: Summary
  mbPerSec?: number
  p50?: number
  p99?: number
  ms?: Summary
  ratio?: number
  diskRatio?: number
  rssMB: number
  notes: string[]
  error?: string
}

function worker(argv: string[]): RunResult {
  const out = execFileSync(process.execPath, [WORKER, ...argv, ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024,
  })
  return JSON.parse(out.trim().split('\n').pop()!)
}

const median = (xs: number[]) => summarize(xs).median

/** Prepared stores, shared by the workloads that read the same data (W5-read and W5-get). */
const prepared = new Map<string, string>()
function preparedDir(w: Workload, subject: string): string {
  const key = `${w.id.split('-')[0]}:${subject}`
  let dir = prepared.get(key)
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), `chainlog-bench-prep-${subject}-`))
    worker(['--workload', w.id, '--subject', subject, '--dir', dir, '--prepare'])
    prepared.set(key, dir)
  }
  return dir
}

const rows: Row[] = []
const started = Date.now()
for (const w of workloads) {
  const variants: Variant[] = w.codecs
    ? w.subjects.flatMap((subject) => w.codecs!.map((codec) => ({ workload: w, subject, codec, label: `${subject} ${codec}` })))
      .filter((v) => v.codec !== 'zstd-dict' || v.subject === 'native') // the JS core does not write form 4
    : (quick && w.quickSubjects ? w.quickSubjects : w.subjects).map((subject) => ({ workload: w, subject, label: subject }))
  const results = new Map<string, RunResult[]>(variants.map((v) => [v.label, []]))
  const errors = new Map<string, string>()
  process.stderr.write(`${w.id}: ${w.title} `)
  const workloadStarted = Date.now()
  const workloadRuns = quick && w.quickRuns !== undefined ? Math.min(runs, w.quickRuns) : runs
  for (let run = 0; run < workloadRuns; run++) {
    // Rotate the order each run, so no subject always goes first on a cold cache.
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + run) % variants.length]
      if (errors.has(v.label)) continue
      try {
        const argv = ['--workload', w.id, '--subject', v.subject, ...(v.codec ? ['--codec', v.codec] : [])]
        if (w.prepared) argv.push('--dir', preparedDir(w, v.subject))
        results.get(v.label)!.push(worker(argv))
      } catch (err) {
        errors.set(v.label, String((err as Error).message).split('\n')[0])
      }
      process.stderr.write('.')
    }
  }
  process.stderr.write(` ${((Date.now() - workloadStarted) / 1000).toFixed(0)} s\n`)
  for (const v of variants) {
    const rs = results.get(v.label)!
    const pick = (f: (r: RunResult) => number | undefined) => rs.map(f).filter((x): x is number => x !== undefined)
    const notes = [...new Set(rs.map((r) => r.note).filter((n): n is string => !!n))]
    rows.push({
      workload: w.id, label: v.label,
      rate: pick((r) => r.rate).length ? summarize(pick((r) => r.rate)) : undefined,
      mbPerSec: pick((r) => r.mbPerSec).length ? median(pick((r) => r.mbPerSec)) : undefined,
      p50: pick((r) => r.p50).length ? median(pick((r) => r.p50)) : undefined,
      p99: pick((r) => r.p99).length ? median(pick((r) => r.p99)) : undefined,
      ms: pick((r) => r.ms).length ? summarize(pick((r) => r.ms)) : undefined,
      ratio: pick((r) => r.ratio).length ? median(pick((r) => r.ratio)) : undefined,
      diskRatio: pick((r) => r.diskRatio).length ? median(pick((r) => r.diskRatio)) : undefined,
      rssMB: Math.max(0, ...pick((r) => r.rssMB)),
      notes, error: errors.get(v.label),
    })
  }
}
for (const dir of prepared.values()) rmSync(dir, { recursive: true, force: true })

// --- ratios and targets, from the medians of this invocation ---------------------------------
const row = (w: string, label: string) => rows.find((r) => r.workload === w && r.label === label)
const rate = (w: string, label: string) => row(w, label)?.rate?.median
const ratio = (a?: number, b?: number) => (a && b ? a / b : undefined)
const ratios = {
  'W1 native/raw': ratio(rate('W1', 'native'), rate('W1', 'raw')),
  'W1 floor/raw': ratio(rate('W1', 'floor'), rate('W1', 'raw')),
  'W1 native/floor': ratio(rate('W1', 'native'), rate('W1', 'floor')),
  'W1 native+tree/floor': ratio(rate('W1', 'native+tree'), rate('W1', 'floor')),
  'W1 native+tree/floor+tree': ratio(rate('W1', 'native+tree'), rate('W1', 'floor+tree')),
  'W1 native/js': ratio(rate('W1', 'native'), rate('W1', 'js')),
  'W1 native/hypercore': ratio(rate('W1', 'native'), rate('W1', 'hypercore')),
  'W1 native/level': ratio(rate('W1', 'native'), rate('W1', 'level')),
  'W2 native/raw': ratio(rate('W2', 'native'), rate('W2', 'raw')),
  'W2 floor/raw': ratio(rate('W2', 'floor'), rate('W2', 'raw')),
  'W2 native/js': ratio(rate('W2', 'native'), rate('W2', 'js')),
  'W3 native/js': ratio(rate('W3', 'native'), rate('W3', 'js')),
  'W4s native zstd-dict/zstd': ratio(rate('W4s', 'native zstd-dict'), rate('W4s', 'native zstd')),
  'W5-read native/js': ratio(rate('W5-read', 'native'), rate('W5-read', 'js')),
  'W5-get native/js': ratio(rate('W5-get', 'native'), rate('W5-get', 'js')),
  'W3m-16 native / W3m-1 native': ratio(rate('W3m-16', 'native'), rate('W3m-1', 'native')),
  'W3m-256 native / W3m-1 native': ratio(rate('W3m-256', 'native'), rate('W3m-1', 'native')),
  'W3m-skew native / W3m-1 native': ratio(rate('W3m-skew', 'native'), rate('W3m-1', 'native')),
  'W3m-16 native/level': ratio(rate('W3m-16', 'native'), rate('W3m-16', 'level')),
  'W3m-16 native+journal / W3m-1 native': ratio(rate('W3m-16', 'native+journal'), rate('W3m-1', 'native')),
  'W3m-256 native+journal / W3m-1 native': ratio(rate('W3m-256', 'native+journal'), rate('W3m-1', 'native')),
}
const targets: [string, number | undefined, (x: number) => boolean, string][] = [
  // Issue 17 retired "W1 ≥ 60% of raw" (the format's own floor sits below it) for native/floor.
  ['W1 native ≥ 0.85× floor (same run)', ratios['W1 native/floor'], (x) => x >= 0.85, 'ratio'],
  ['W1 native ≥ 0.85× floor, the Merkle tree on (same run)', ratios['W1 native+tree/floor'], (x) => x >= 0.85, 'ratio'],
  ['W1 native ≥ 15× hypercore', ratios['W1 native/hypercore'], (x) => x >= 15, 'ratio'],
  ['W1 native ≥ 3× JS core', ratios['W1 native/js'], (x) => x >= 3, 'ratio'],
  ['W3 native ≥ 250,000 records/s', rate('W3', 'native'), (x) => x >= 250_000, 'records/s'],
  ['W3 native p99 ≤ 10 ms', row('W3', 'native')?.p99, (x) => x <= 10, 'ms'],
  ['W4s zstd+dictionary size ratio ≥ 2.5×', row('W4s', 'native zstd-dict')?.ratio, (x) => x >= 2.5, 'ratio'],
  ['W4s native zstd+dictionary ≥ 1,000,000 records/s', rate('W4s', 'native zstd-dict'), (x) => x >= 1_000_000, 'records/s'],
  ['W5 verified read ≥ 2,000,000 records/s', rate('W5-read', 'native'), (x) => x >= 2_000_000, 'records/s'],
  ['W5 random get ≥ 400,000/s', rate('W5-get', 'native'), (x) => x >= 400_000, 'gets/s'],
  ['W6 reopen ≤ 50 ms', row('W6', 'native')?.ms?.median, (x) => x <= 50, 'ms'],
  ['W3m 16 streams ≥ 0.8× 1 stream', ratios['W3m-16 native / W3m-1 native'], (x) => x >= 0.8, 'ratio'],
  ['W3m 16 streams ≥ 250,000 records/s', rate('W3m-16', 'native'), (x) => x >= 250_000, 'records/s'],
  ['W3m 256 streams ≥ 0.5× 1 stream', ratios['W3m-256 native / W3m-1 native'], (x) => x >= 0.5, 'ratio'],
  ['W3m 16 streams p99 ≤ 10 ms', row('W3m-16', 'native')?.p99, (x) => x <= 10, 'ms'],
  ['W3m 256 streams p99 ≤ 10 ms', row('W3m-256', 'native')?.p99, (x) => x <= 10, 'ms'],
]

// --- report ----------------------------------------------------------------------------------
const disk = (() => {
  try {
    return execFileSync('df', ['-h', '--output=source,size', tmpdir()], { encoding: 'utf8' }).trim().split('\n').pop()!.replace(/\s+/g, ' ')
  } catch {
    return 'unknown'
  }
})()
const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}`, disk }
const lines: string[] = []
lines.push(`chainlog benchmark${quick ? ' (quick)' : ''} — median of ${runs} runs (min–max), each after a warm-up in a fresh process`)
lines.push(`${machine.cpus} × ${machine.model}, ${machine.memGiB} GiB, Node ${machine.node}, ${machine.platform}, disk ${machine.disk}`)
lines.push('')
lines.push('| workload | subject | records/s | min–max | MB/s | p50 / p99 ms | reopen ms | size ratio | peak RSS MB |')
lines.push('|---|---|---|---|---|---|---|---|---|')
for (const r of rows) {
  if (r.error) {
    lines.push(`| ${r.workload} | ${r.label} | failed: ${r.error} | | | | | | |`)
    continue
  }
  lines.push([
    '', r.workload, r.label,
    r.rate ? fmt(r.rate.median) : '', r.rate ? `${fmt(r.rate.min)}–${fmt(r.rate.max)}` : '',
    r.mbPerSec !== undefined ? r.mbPerSec.toFixed(0) : '',
    r.p50 !== undefined ? `${r.p50.toFixed(2)} / ${r.p99!.toFixed(2)}` : '',
    r.ms ? `${r.ms.median.toFixed(1)} (${r.ms.min.toFixed(1)}–${r.ms.max.toFixed(1)})` : '',
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '',
    r.rssMB.toFixed(0), '',
  ].join(' | ').trim())
}
lines.push('')
for (const w of workloads) if (w.note) lines.push(`${w.id}: ${w.note}.`)
for (const r of rows) for (const n of r.notes) lines.push(`${r.workload} ${r.label}: ${n}.`)
for (const r of rows) if (r.diskRatio !== undefined) lines.push(`${r.workload} ${r.label}: on disk (framing and checkpoints included) ${r.diskRatio.toFixed(2)}×.`)
lines.push('')
lines.push('| ratio (same run) | value |')
lines.push('|---|---|')
for (const [k, v] of Object.entries(ratios)) if (v !== undefined) lines.push(`| ${k} | ${v.toFixed(2)}× |`)
lines.push('')
lines.push('| target | measured | met |')
lines.push('|---|---|---|')
for (const [name, value, ok, unit] of targets) {
  if (value === undefined) continue
  const shown = unit === 'ratio' ? `${value.toFixed(2)}×` : unit === 'ms' ? `${value.toFixed(2)} ms` : `${fmt(value)} ${unit}`
  lines.push(`| ${name} | ${shown} | ${ok(value) ? 'yes' : 'NO'} |`)
}
lines.push('')
lines.push(`took ${((Date.now() - started) / 1000).toFixed(0)} s`)
console.log(lines.join('\n'))

const dir = new URL('./results/', import.meta.url)
mkdirSync(dir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const json = JSON.stringify({ machine, quick, runs, rows, ratios, table: lines }, null, 2)
writeFileSync(new URL(`bench-${quick ? 'quick-' : ''}${stamp}.json`, dir), json)
// latest.json / latest-quick.json hold whole runs only: a partial one (--only) would clobber them.
if (!only) writeFileSync(new URL(`latest${quick ? '-quick' : ''}.json`, dir), json)
if (rows.some((r) => r.error)) process.exitCode = 1
