#!/usr/bin/env node
// `npm run test:faults`: the long fault suite (crashes, torn tails, lost unsynced writes,
// corruption, tampering, fuzzing, bad input) on both cores, then its figures. `npm test` runs a
// short share of the same tests. CHAINLOG_FAULTS=long sets the sizes (__test__/helpers/faults.ts);
// each test process writes what it did to .tmp/faults/, summed here.
//   npm run test:faults               everything (the native addon must be built: npm run build:native)
//   npm run test:faults -- crash      only the ava files matching fault-<name>*, no Rust fuzzing
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const FIGURES = join(ROOT, '.tmp', 'faults')
const only = process.argv.slice(2)
const env = { ...process.env, CHAINLOG_FAULTS: 'long' }

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d) })
    child.on('close', (code) => resolve({ code: code ?? 1, out }))
  })
}

rmSync(FIGURES, { recursive: true, force: true })
mkdirSync(FIGURES, { recursive: true })
const started = Date.now()
let failed = false
let rustInputs = 0

if (only.length === 0) {
  console.log('== Rust core fuzzing (proptest, CHAINLOG_FAULTS=long)')
  const r = await run('cargo', ['test', '--release', '-p', 'chainlog-core', '--test', 'fuzz', '--', '--nocapture'])
  for (const m of r.out.matchAll(/^FUZZ (\S+): (\d+) inputs$/gm)) rustInputs += Number(m[2])
  if (r.code !== 0) failed = true
}

const files = only.length === 0 ? ['__test__/fault-*.test.ts'] : only.map((n) => `__test__/fault-${n}*.test.ts`)
console.log(`\n== ava, long fault suite: ${files.join(' ')}`)
// Two files at a time (this machine has 2 CPUs; the crash file limits its own children).
const a = await run('npx', ['ava', '--concurrency=2', '--timeout=60m', ...files])
if (a.code !== 0) failed = true

const total = {}
for (const name of readdirSync(FIGURES)) {
  if (!name.endsWith('.json')) continue
  const { long, areas } = JSON.parse(readFileSync(join(FIGURES, name), 'utf8'))
  if (!long) continue // a short run (npm test) that ran meanwhile
  for (const [area, figures] of Object.entries(areas)) {
    total[area] ??= {}
    for (const [k, v] of Object.entries(figures)) total[area][k] = (total[area][k] ?? 0) + v
  }
}
if (rustInputs > 0) total.fuzz = { ...(total.fuzz ?? {}), 'rust inputs (proptest)': rustInputs }
const minutes = ((Date.now() - started) / 60000).toFixed(1)
console.log(`\n== Fault suite figures (CHAINLOG_FAULTS=long, ${minutes} min)`)
for (const [area, figures] of Object.entries(total)) {
  console.log(`${area}:`)
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${v.toLocaleString('en-US')}`)
}
writeFileSync(join(FIGURES, 'summary.txt'), JSON.stringify({ minutes: Number(minutes), failed, total }, null, 2) + '\n')
console.log(failed ? '\nfault suite: FAILED' : '\nfault suite: passed')
process.exit(failed ? 1 : 0)
