#!/usr/bin/env node
// `npm run test:valgrind`: runs hostile-caller probes (__test__/helpers/hostile-probe.mjs) against
// the built native binding under valgrind, and fails on any invalid read or write whose stack
// passes through chainlog's binary (V8's own reports, if any, are counted but not failed on).
// Installs Debian's valgrind when it is missing (apt-get, as root or through sudo).
// Build first: npm run build:native.
import { spawn, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const PROBE = join(ROOT, '__test__', 'helpers', 'hostile-probe.mjs')
// The probes that hand the binding memory that moves, shrinks, is shared or is wrong; the ones
// that only repeat a call thousands of times add nothing here but hours.
const PROBES = ['async-resize', 'async-transfer', 'async-writes', 'shared', 'wrong-types', 'error-fields', 'encode-no-partial-write']

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

function ensureValgrind() {
  if (have('valgrind')) return
  const root = process.getuid?.() === 0
  if (!root && !have('sudo')) throw new Error('valgrind is missing and apt-get needs root (no sudo here): apt-get install -y valgrind')
  for (const args of [['update'], ['install', '-y', 'valgrind']]) {
    const [cmd, argv] = root ? ['apt-get', args] : ['sudo', ['apt-get', ...args]]
    console.log(`$ ${cmd} ${argv.join(' ')}`)
    const r = spawnSync(cmd, argv, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status})`)
  }
  if (!have('valgrind')) throw new Error('apt-get installed valgrind, but it is not on PATH')
}

function run(probe) {
  return new Promise((resolve) => {
    const args = ['--smc-check=all-non-file', '--error-limit=no', '--num-callers=40', process.execPath, '--expose-gc', PROBE, probe]
    const child = spawn('valgrind', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOSTILE_QUICK: '1' } })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('close', (code, signal) => resolve({ code, signal, out }))
  })
}

/** valgrind's invalid-access reports: the heading line and its stack, as blocks of text. */
function invalidAccesses(out) {
  const blocks = []
  let current = null
  for (const line of out.split('\n')) {
    const body = line.replace(/^==\d+== ?/, '')
    if (/^Invalid (read|write) of size \d+/.test(body)) {
      current = [body]
      blocks.push(current)
    } else if (current && body.trim() !== '') {
      current.push(body)
    } else {
      current = null
    }
  }
  return blocks
}

ensureValgrind()
let failed = 0
for (const probe of PROBES) {
  const started = Date.now()
  const { code, signal, out } = await run(probe)
  const blocks = invalidAccesses(out)
  const ours = blocks.filter((b) => b.some((l) => /chainlog/.test(l)))
  const ok = code === 0 && signal === null && ours.length === 0 && new RegExp(`^ok ${probe}$`, 'm').test(out)
  const secs = ((Date.now() - started) / 1000).toFixed(0)
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${probe} (${secs} s): exit ${code}${signal ? ` ${signal}` : ''}, ${ours.length} invalid accesses in chainlog frames, ${blocks.length - ours.length} elsewhere`)
  if (!ok) {
    failed++
    for (const b of ours) console.log(b.map((l) => `    ${l}`).join('\n'))
    if (ours.length === 0) console.log(out.split('\n').slice(-40).join('\n'))
  }
}
console.log(`\n${PROBES.length - failed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
