/**
 * `npm run bench:cores`: the two cores side by side on the same records, with no files involved
 * (encode, verified scan, verified decode). This isolates the boundary and the hashing; the
 * storage workloads W1–W6 are `npm run bench`. Flags: --quick (fewer records and runs).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { loadCore } from '../ts/core/load.ts'
import { benchCore, type CoreBenchResult } from './core.ts'
import { fmt } from './stats.ts'

const quick = process.argv.includes('--quick')
const opts = { records: quick ? 100_000 : 1_000_000, size: 256, batch: 1000, runs: quick ? 3 : 5 }

const native = await loadCore('native')
const js = await loadCore('js')
const results: CoreBenchResult[] = []
for (const hash of ['blake3', 'sha256'] as const) {
  // Interleave the cores so drift on this shared machine hits both alike.
  results.push(...(await benchCore(native, { ...opts, hash })))
  results.push(...(await benchCore(js, { ...opts, hash })))
}

console.log(`\nchainlog core benchmark — ${opts.records.toLocaleString()} × ${opts.size} B records, batches of ${opts.batch}, median of ${opts.runs} runs (min–max)`)
console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`)
console.log('| operation | core | records/s (median) | min–max | MB/s | native/js |')
console.log('|---|---|---|---|---|---|')
for (const r of results) {
  const twin = results.find((o) => o.op === r.op && o.core !== r.core)!
  const ratio = r.core === 'native' ? `${(r.recordsPerSec.median / twin.recordsPerSec.median).toFixed(2)}×` : ''
  console.log(`| ${r.op} | ${r.core} | ${fmt(r.recordsPerSec.median)} | ${fmt(r.recordsPerSec.min)}–${fmt(r.recordsPerSec.max)} | ${r.mbPerSec.toFixed(0)} | ${ratio} |`)
}

mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
const file = new URL(`./results/core-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url)
writeFileSync(file, JSON.stringify({ machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version }, opts, results }, null, 2))
console.log(`\nwritten to ${file.pathname}`)
