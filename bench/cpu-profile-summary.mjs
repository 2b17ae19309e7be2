#!/usr/bin/env node
// Where a process's CPU went, from a V8 .cpuprofile (node --cpu-prof): self time grouped by
// where the code lives, so the archiver's share (ts/archive, the AWS SDK, Node's HTTP) can be set
// against the appends' (engine, storage, core) in one run of bench/archive.ts.
//
//   node --cpu-prof --cpu-prof-dir=DIR --import=tsx bench/archive.ts --runs 1
//   node bench/cpu-profile-summary.mjs DIR/*.cpuprofile
//
// `--functions N`: self time by function instead (name, file:line), in µs per unit of work when
// the profile covers N of them (bench/w1-engine.ts --profile: N = 1000 batches).
import { readFileSync } from 'node:fs'

const GROUPS = [
  ['archiver (ts/archive)', (u) => u.includes('/ts/archive/')],
  ['AWS SDK (@aws-sdk, @smithy)', (u) => u.includes('@aws-sdk') || u.includes('@smithy') || u.includes('fast-xml-parser')],
  ['node http/net/tls/stream', (u) => /^node:(_http|http|https|net|tls|stream|internal\/streams|internal\/http|_stream)/.test(u) || /node:internal\/(streams|http|net)/.test(u)],
  ['engine/storage/read (ts/engine, ts/storage, ts/read, ts/log.ts)', (u) => /\/ts\/(engine|storage|read)\/|\/ts\/log\.ts/.test(u)],
  ['core (ts/core, native calls)', (u) => u.includes('/ts/core/') || u.endsWith('.node')],
  ['bench and test helpers', (u) => u.includes('/bench/') || u.includes('/__test__/')],
]

const functionsAt = process.argv.indexOf('--functions')
const units = functionsAt > 0 ? Number(process.argv[functionsAt + 1]) : 0
const files = process.argv.slice(2).filter((_, i) => functionsAt < 2 || (i !== functionsAt - 2 && i !== functionsAt - 1))

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'))
  if (units > 0) {
    byFunction(file, p, units)
    continue
  }
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const totals = new Map()
  let all = 0
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i])
    const dt = p.timeDeltas[i] ?? 0
    const { url, functionName } = node.callFrame
    let group = url === '' ? `(${functionName || 'anonymous'})` : 'other JS'
    for (const [name, test] of GROUPS) if (url !== '' && test(url)) { group = name; break }
    totals.set(group, (totals.get(group) ?? 0) + dt)
    all += dt
  }
  const busy = all - (totals.get('(idle)') ?? 0)
  console.log(`${file}: ${(all / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle`)
  for (const [g, t] of [...totals].sort((a, b) => b[1] - a[1])) {
    if (g === '(idle)') continue
    console.log(`  ${g.padEnd(66)} ${(t / 1e6).toFixed(2).padStart(7)} s  ${((100 * t) / busy).toFixed(1).padStart(5)}% of busy`)
  }
}

/** Self time per function (µs per unit of work), the largest first, down to 1 µs. */
function byFunction(file, p, units) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const totals = new Map()
  let all = 0
  for (let i = 0; i < p.samples.length; i++) {
    const { url, functionName, lineNumber } = byId.get(p.samples[i]).callFrame
    const dt = p.timeDeltas[i] ?? 0
    const key = url === '' ? `(${functionName || 'anonymous'})` : `${functionName || '(anonymous)'} ${url.replace(/^.*\/(ts|bench|node_modules)\//, '$1/')}:${lineNumber + 1}`
    totals.set(key, (totals.get(key) ?? 0) + dt)
    all += dt
  }
  console.log(`${file}: ${(all / units).toFixed(0)} µs sampled per unit, ${((all - (totals.get('(idle)') ?? 0)) / units).toFixed(0)} not idle`)
  for (const [key, t] of [...totals].sort((a, b) => b[1] - a[1])) {
    if (t / units < 1) break
    console.log(`  ${(t / units).toFixed(1).padStart(7)} µs  ${key}`)
  }
}
