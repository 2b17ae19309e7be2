#!/usr/bin/env node
// Builds versitygw (an S3-compatible server nobody here wrote) for the archive tests, once per
// machine: `go install` from the Go module proxy into .cache/versitygw/<version>/bin, with its own
// module and build caches beside it so a rebuild after a failed run reuses what was fetched.
//
//   node scripts/install-versitygw.mjs           prints the binary's path; exit 2 when `go` is missing
//   node scripts/install-versitygw.mjs --if-go   the same, but exit 0 (saying why) when `go` is missing:
//                                                `npm test` builds it before the suites, which then skip
//
// The tests call versitygwBinary() from __test__/helpers/versitygw.ts, which runs this script.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const VERSION = 'v1.8.0'
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = join(ROOT, '.cache', 'versitygw')
const BIN_DIR = join(CACHE, VERSION, 'bin')
const BIN = join(BIN_DIR, process.platform === 'win32' ? 'versitygw.exe' : 'versitygw')

if (existsSync(BIN)) {
  console.log(BIN)
  process.exit(0)
}
const go = spawnSync('go', ['version'], { encoding: 'utf8' })
if (go.status !== 0) {
  console.error(`versitygw: no \`go\` on PATH (${go.error?.message ?? go.stderr?.trim()}); install Go to build github.com/versity/versitygw/cmd/versitygw@${VERSION}; the archive tests skip`)
  process.exit(process.argv.includes('--if-go') ? 0 : 2)
}
// Built into a scratch GOBIN and renamed, so a killed build never leaves a half-written binary.
const scratch = join(CACHE, VERSION, `tmp-${process.pid}`)
mkdirSync(scratch, { recursive: true })
const started = Date.now()
console.error(`building versitygw ${VERSION} with ${go.stdout.trim()} into ${BIN_DIR}`)
const built = spawnSync('go', ['install', `github.com/versity/versitygw/cmd/versitygw@${VERSION}`], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    GOBIN: scratch,
    GOMODCACHE: join(CACHE, 'gomod'),
    GOCACHE: join(CACHE, 'gobuild'),
    // -modcacherw: the module cache stays deletable with a plain `rm -rf .cache`.
    GOFLAGS: '-modcacherw -buildvcs=false',
    CGO_ENABLED: '0',
  },
})
if (built.status !== 0) {
  rmSync(scratch, { recursive: true, force: true })
  console.error(`versitygw: go install failed (exit ${built.status}${built.error ? `, ${built.error.message}` : ''})`)
  process.exit(1)
}
mkdirSync(BIN_DIR, { recursive: true })
renameSync(join(scratch, 'versitygw'), BIN)
rmSync(scratch, { recursive: true, force: true })
console.error(`versitygw ${VERSION} built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
console.log(BIN)
