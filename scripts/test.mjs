#!/usr/bin/env node
// `npm test`: builds the native addon, checks its declarations are committed, checks Rust format
// and lints, type-checks, lints the TypeScript and checks the layer rule and unused exports
// (scripts/check-structure.mjs) — a failed check is counted, and the run goes on — builds the
// package (dist/, index.d.ts), runs the Rust tests and every ava suite (each against both cores,
// then the CLI and pack tests on the built package), then prints one closing line
// "N passed, N failed" that CI reads.
// ava's own summary is not in that form, so ava runs with --tap and its counts are parsed here.
import { spawn } from 'node:child_process'

const steps = [
  { name: 'build the native addon', cmd: 'npm', args: ['run', '--silent', 'build:native'] },
  // build:native rewrites the binding's declarations (ts/core/native-binding.d.ts, which types
  // ts/core/native.ts): a difference from the committed file is a Rust change not carried over.
  { name: 'binding declarations committed', cmd: 'git', args: ['diff', '--exit-code', '--', 'ts/core/native-binding.d.ts'], check: true },
  { name: 'Rust format', cmd: 'cargo', args: ['fmt', '--all', '--check'], check: true },
  { name: 'Rust lints', cmd: 'cargo', args: ['clippy', '--all-targets', '--', '-D', 'warnings'], check: true },
  { name: 'type-check', cmd: 'npm', args: ['run', '--silent', 'typecheck'] },
  // Checks: a failure counts as a failed test but does not stop the suites after it.
  { name: 'lint (biome)', cmd: 'npm', args: ['run', '--silent', 'lint'], check: true },
  { name: 'layers and unused exports', cmd: 'npm', args: ['run', '--silent', 'check:structure'], check: true },
  // The CLI and pack tests run the built package (dist/, index.d.ts), so it is built first.
  { name: 'build the package', cmd: 'npm', args: ['run', '--silent', 'build'] },
  { name: 'Rust tests', cmd: 'cargo', args: ['test', '--profile', 'checked', '--workspace'], parse: parseCargo },
  // Skipped, and counted as skipped, where no go is on PATH to build actionlint.
  { name: 'lint the workflows (actionlint)', cmd: 'node', args: ['scripts/actionlint.mjs'], parse: parsePlain },
  // The archive suite's S3 server, built once per machine (minutes on a cold cache, so here and
  // not inside a test's time limit); without go the archive tests skip and say why.
  { name: 'build versitygw (archive tests)', cmd: 'node', args: ['scripts/install-versitygw.mjs', '--if-go'] },
  { name: 'ava (both cores)', cmd: 'npx', args: ['ava', '--tap', ...process.argv.slice(2)], parse: parseTap },
]

function parseCargo(out) {
  let passed = 0, failed = 0, skipped = 0
  for (const m of out.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/g)) {
    passed += Number(m[1]); failed += Number(m[2]); skipped += Number(m[3])
  }
  return { passed, failed, skipped }
}

function parsePlain(out) {
  const m = out.match(/^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/m)
  return { passed: Number(m?.[1] ?? 0), failed: Number(m?.[2] ?? 0), skipped: Number(m?.[3] ?? 0) }
}

function parseTap(out) {
  const count = (label) => Number(out.match(new RegExp(`^# ${label} (\\d+)$`, 'm'))?.[1] ?? 0)
  return { passed: count('pass'), failed: count('fail'), skipped: count('skip') + count('todo') }
}

function run({ cmd, args }) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d) })
    child.on('close', (code, signal) => resolve({ code: code ?? 1, signal, out }))
  })
}

const total = { passed: 0, failed: 0, skipped: 0 }
let broken = false
for (const step of steps) {
  console.log(`\n== ${step.name}: ${step.cmd} ${step.args.join(' ')}`)
  const { code, signal, out } = await run(step)
  if (step.parse) {
    const r = step.parse(out)
    total.passed += r.passed; total.failed += r.failed; total.skipped += r.skipped
    if (code !== 0 && r.failed === 0) total.failed++ // the runner itself failed (crash, timeout, no summary)
  } else if (code !== 0) {
    total.failed++
  }
  if (code !== 0) {
    broken = true
    console.log(`== ${step.name} failed (exit ${code}${signal ? `, ${signal}` : ''})`)
    if (!step.parse && !step.check) break // nothing after a failed build is meaningful
  }
}
const skipped = total.skipped ? `, ${total.skipped} skipped` : ''
console.log(`\n${total.passed} passed, ${total.failed} failed${skipped}`)
process.exit(broken || total.failed > 0 ? 1 : 0)
