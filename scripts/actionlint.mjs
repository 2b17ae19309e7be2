#!/usr/bin/env node
// Lints .github/workflows/*.yml with actionlint (part of `npm test`). actionlint is a Go module:
// it is built once with `go install` into .cache/actionlint/<version>/ and reused. Where `go` is
// not on PATH, the check is reported as skipped (exit 0 with a line saying so), not passed.
//
//   node scripts/actionlint.mjs
//
// Prints "N passed, N failed[, N skipped]" (one per workflow file) for scripts/test.mjs to count.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const VERSION = 'v1.7.12'
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN_DIR = join(ROOT, '.cache', 'actionlint', VERSION)
const BIN = join(BIN_DIR, process.platform === 'win32' ? 'actionlint.exe' : 'actionlint')
const WORKFLOWS = join(ROOT, '.github', 'workflows')
const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).map((f) => join('.github', 'workflows', f))

if (!existsSync(BIN)) {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) {
    console.log(`actionlint: skipped, no go on PATH to build it (go install github.com/rhysd/actionlint/cmd/actionlint@${VERSION})`)
    console.log(`0 passed, 0 failed, ${files.length} skipped`)
    process.exit(0)
  }
  mkdirSync(BIN_DIR, { recursive: true })
  console.log(`building actionlint ${VERSION} into ${BIN_DIR}`)
  execFileSync('go', ['install', `github.com/rhysd/actionlint/cmd/actionlint@${VERSION}`], { env: { ...process.env, GOBIN: BIN_DIR }, stdio: 'inherit' })
}

let failed = 0
for (const file of files) {
  const r = spawnSync(BIN, ['-no-color', file], { cwd: ROOT, encoding: 'utf8' })
  if (r.status === 0) console.log(`ok ${file}`)
  else { failed++; console.log(`not ok ${file}\n${r.stdout}${r.stderr}`) }
}
console.log(`${files.length - failed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
