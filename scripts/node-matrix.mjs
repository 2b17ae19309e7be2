#!/usr/bin/env node
// `npm run test:node-matrix`: the test suites under each supported Node major (20, 22, 24), with
// Node itself installed from the npm registry (the node-<platform>-<arch> packages carry the
// official binaries) into .cache/node-matrix/<major>/, reused on later runs.
//
//   npm run test:node-matrix                     core, engine, pack and registry suites
//   npm run test:node-matrix -- --all            every ava suite
//   npm run test:node-matrix -- --majors 22,24   only these majors
//   npm run test:node-matrix -- --suites core,pack   only these suites
//
// The native addon and dist/ are built once (npm test or npm run build:native && npm run build
// first); the same N-API binary serves every Node version. Each Node runs ava itself, first on
// PATH so that the npm and node the pack and registry tests start are run by it too. Prints a
// table of passed/failed per Node version and suite and writes it to .cache/node-matrix/results.json.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = join(ROOT, '.cache', 'node-matrix')
const args = process.argv.slice(2)
const majorsArg = args[args.indexOf('--majors') + 1]
const MAJORS = args.includes('--majors') ? majorsArg.split(',') : ['20', '22', '24']
const tests = readdirSync(join(ROOT, '__test__')).filter((f) => f.endsWith('.test.ts')).map((f) => `__test__/${f}`)
const SUITES = {
  core: tests.filter((f) => /\/(core-.*|backend-select)\.test\.ts$/.test(f)),
  engine: tests.filter((f) => /\/log-.*\.test\.ts$/.test(f)),
  pack: ['__test__/pack.test.ts'],
  registry: ['__test__/registry.test.ts'],
  ...(args.includes('--all') ? { cli: ['__test__/cli.test.ts'], faults: tests.filter((f) => /\/fault-/.test(f)), other: ['__test__/verified-hashes.test.ts'] } : {}),
}

if (args.includes('--suites')) {
  const wanted = args[args.indexOf('--suites') + 1].split(',')
  for (const name of Object.keys(SUITES)) if (!wanted.includes(name)) delete SUITES[name]
}

/** node-<platform>-<arch>@<major> from the registry, installed once; the path of its node binary. */
function installNode(major) {
  const dir = join(CACHE, major)
  const bin = join(dir, 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node')
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true })
    console.log(`installing node-${process.platform}-${process.arch}@${major} into ${dir}`)
    execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node-${process.platform}-${process.arch}@${major}`], { stdio: 'inherit' })
  }
  return bin
}

function count(out, label) {
  return Number(out.match(new RegExp(`^# ${label} (\\d+)$`, 'm'))?.[1] ?? 0)
}

const results = []
for (const major of MAJORS) {
  const node = installNode(major)
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
  const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH}` }
  for (const [suite, files] of Object.entries(SUITES)) {
    const started = Date.now()
    const r = spawnSync(node, [join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--tap', ...files], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 1 << 28 })
    const row = { node: version, suite, files: files.length, passed: count(r.stdout, 'pass'), failed: count(r.stdout, 'fail'), skipped: count(r.stdout, 'skip') + count(r.stdout, 'todo'), exit: r.status, seconds: Math.round((Date.now() - started) / 1000) }
    if (r.status !== 0 && row.failed === 0) row.failed = 1 // ava itself failed (crash, no summary)
    results.push(row)
    console.log(`${version} ${suite}: ${row.passed} passed, ${row.failed} failed (${row.seconds} s)`)
    if (r.status !== 0) {
      const failures = r.stdout.split('\n').filter((l) => /^not ok/.test(l)).slice(0, 20)
      console.log([...failures, r.stderr.split('\n').slice(-15).join('\n')].join('\n'))
    }
  }
}
mkdirSync(CACHE, { recursive: true })
writeFileSync(join(CACHE, 'results.json'), JSON.stringify(results, null, 2) + '\n')
console.log('\n| node | suite | passed | failed | seconds |\n|---|---|---|---|---|')
for (const r of results) console.log(`| ${r.node} | ${r.suite} | ${r.passed} | ${r.failed} | ${r.seconds} |`)
const passed = results.reduce((n, r) => n + r.passed, 0)
const failed = results.reduce((n, r) => n + r.failed, 0)
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)
