import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBuilt, ROOT } from './helpers/dist.ts'
import { cleanEnv, hostPlatform, npm, stageRelease } from './helpers/release.ts'

// The package as npm users get it: `npm pack`, installed from the tarball into a fresh project,
// used through `import` and `require`, on the native core and then without any binary.
//
// How the binary reaches the installed package: exactly as on a user's machine, through its
// platform package, staged as the release stages it (scripts/stage-release.mjs: npm/<platform>/
// plus the locally built prebuilds/<platform>-<arch>/chainlog.napi….node), packed, and installed
// next to chainlog's tarball. (The published chainlog lists the platform packages as
// optionalDependencies, npm installs the one matching the machine: __test__/registry.test.ts
// installs it that way from a registry.)

const HOST = hostPlatform()
let work = ''
let app = ''
let packed: { files: Array<{ path: string }>; filename: string }

// A script a user might write, once per module system: append (zstd, so the WebAssembly codec
// runs on the JS core), read back, verify, and catch a ChainlogError by class and code.
const USAGE = (load: string) => `${load}
const dir = process.argv[2]
const log = await Log.open(dir, { backend: 'auto', compression: 'zstd' })
const second = await Log.open(dir + '-b', { backend: 'auto' }) // the fallback warning comes once per process
const big = 'chainlog '.repeat(200)
const appended = await log.append('orders', ['placed', 'paid', big])
const records = await log.read('orders')
const got = await log.get('orders', 1)
const report = await log.verify()
let error = null
try { await log.append('../escape', 'x') } catch (e) { error = (e instanceof ChainlogError) + ' ' + e.code }
console.log(JSON.stringify({
  backend: log.backend, backendB: second.backend, lastOffset: appended.lastOffset, hash: appended.hash.length,
  payloads: records.map((r) => r.payload.toString()).map((p) => (p.length > 20 ? p.length : p)),
  got: got.payload.toString(), ok: report.ok, error,
}))
await second.close()
await log.close()
`
const ESM = USAGE(`import { Log, ChainlogError } from 'chainlog'`)
const CJS = `(async () => {\n${USAGE(`const { Log, ChainlogError } = require('chainlog')`)}})().catch((e) => { console.error(e); process.exit(1) })\n`

// An archive where @aws-sdk/client-s3 is not installed (this app has none): the shipping thread
// starts from the installed package (dist/archive-ship-worker.js, found next to the bundle, not
// from the cwd) and answers what to install. A missing worker file would be ERR_IO instead.
const ARCHIVE_USAGE = (load: string) => `${load}
const log = await Log.open(process.argv[2])
await log.append('s', 'x')
let error = null
try { await Archiver.start(log, { url: 's3://some-bucket/p', client: { endpoint: 'http://127.0.0.1:9' } }) } catch (e) { error = { chainlog: e instanceof ChainlogError, code: e.code, message: e.message } }
await log.close()
console.log(JSON.stringify(error))
`
const ARCHIVE_ESM = ARCHIVE_USAGE(`import { Log, Archiver, ChainlogError } from 'chainlog'`)
const ARCHIVE_CJS = `(async () => {\n${ARCHIVE_USAGE(`const { Log, Archiver, ChainlogError } = require('chainlog')`)}})().catch((e) => { console.error(e); process.exit(1) })\n`

// The \`chainlog/tlog\` subpath, imported by name from the installed package: a signed checkpoint
// and a proof made by a store, checked with the store-free toolkit only.
const TLOG_USAGE = (load: string) => `${load}
const dir = process.argv[2]
const key = generateKey('example.com/pack')
const log = await Log.open(dir, { hash: 'sha256', tlog: { origin: 'example.com/pack', signer: key.skey } })
await log.append('orders', ['placed', 'paid'])
const cp = await log.checkpoint('orders')
const proof = await log.prove('orders', 1)
const verified = verifyProof(proof.text, { vkey: log.vkey('orders'), origin: 'example.com/pack', hash: 'sha256', payload: Buffer.from('paid') })
let error = null
try { verifyProof(proof.text.replace('index 1', 'index 0'), { vkey: log.vkey('orders'), origin: 'example.com/pack', hash: 'sha256' }) } catch (e) { error = e.code }
await log.close()
console.log(JSON.stringify({ treeSize: cp.treeSize, index: verified.index, proven: verified.treeSize, stream: verified.stream, error }))
`
const TLOG_ESM = TLOG_USAGE(`import { Log } from 'chainlog'\nimport { generateKey, verifyProof } from 'chainlog/tlog'`)
const TLOG_CJS = `(async () => {\n${TLOG_USAGE(`const { Log } = require('chainlog')\nconst { generateKey, verifyProof } = require('chainlog/tlog')`)}})().catch((e) => { console.error(e); process.exit(1) })\n`

const TYPES_MTS = `import { Log, ChainlogError, type LogRecord, type TreeHead, type InclusionProof, type ConsistencyProof, type TlogOptions } from 'chainlog'
import { verifyProof, type VerifiedProof } from 'chainlog/tlog'
const tlog: TlogOptions = { origin: 'example.com/t', signer: 'PRIVATE+KEY+x' }
export async function proven(l: Log): Promise<[TreeHead, InclusionProof, ConsistencyProof, VerifiedProof]> {
  const p = await l.prove('s', 0)
  return [await l.treeHead('s'), p, await l.consistency('s', 0), verifyProof(p.text!, { vkey: l.vkey('s'), origin: tlog.origin, hash: 'sha256' })]
}
const log: Log = await Log.open('x', { compression: 'zstd', backend: 'auto' })
const r: { firstOffset: number; hash: Buffer } = await log.append('s', ['a'])
const records: LogRecord[] = await log.read('s', { from: r.firstOffset, verify: 'checkpoint' })
const code: string = new ChainlogError('ERR_IO', 'x').code
export { records, code }
`
const TYPES_CTS = `import chainlog = require('chainlog')
async function main(): Promise<boolean> {
  const log = await chainlog.Log.open('x', { readOnly: true })
  const report = await log.verify(undefined, { onProgress: ({ bytesDone, bytesTotal }) => void (bytesDone / bytesTotal) })
  return report.ok
}
export = main
`

test.before(() => {
  ensureBuilt()
  work = mkdtempSync(join(tmpdir(), 'chainlog-pack-'))
  // The package: scripts are skipped (prepack would rebuild dist/ under the feet of the other
  // test files); npm test has just built it, and ensureBuilt rebuilt it if ts/ changed since.
  packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], ROOT))[0]

  // This machine's platform package, as the release publishes it.
  const { platformDir } = stageRelease(join(work, 'stage'), HOST.platform)
  const platformTgz = JSON.parse(npm(['pack', '--json', '--pack-destination', work], platformDir))[0].filename

  app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  writeFileSync(join(app, 'esm.mjs'), ESM)
  writeFileSync(join(app, 'cjs.cjs'), CJS)
  writeFileSync(join(app, 'tlog.mjs'), TLOG_ESM)
  writeFileSync(join(app, 'archive.mjs'), ARCHIVE_ESM)
  writeFileSync(join(app, 'archive.cjs'), ARCHIVE_CJS)
  writeFileSync(join(app, 'tlog.cjs'), TLOG_CJS)
  writeFileSync(join(app, 'types.mts'), TYPES_MTS)
  writeFileSync(join(app, 'types.cts'), TYPES_CTS)
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true,
      types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
    },
    files: ['types.mts', 'types.cts'],
  }))
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed.filename), join(work, platformTgz)], app)
})

test.after.always(() => { if (work) rmSync(work, { recursive: true, force: true }) })

function run(file: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(work, 'store-'))
  const r = spawnSync(process.execPath, [file, join(dir, 'log')], { cwd: app, env: cleanEnv(env), encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`${file} exited ${r.status}: ${r.stderr}`)
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr }
}

const EXPECTED = { lastOffset: 2, hash: 32, payloads: ['placed', 'paid', 1800], got: 'paid', ok: true, error: 'true ERR_INVALID_ARGUMENT' }

test.serial('the tarball holds the compiled builds, the types and the CLI, and no sources or binaries', (t) => {
  const files = packed.files.map((f) => f.path).sort()
  for (const f of ['package.json', 'index.d.ts', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.cts', 'dist/cli.js', 'dist/archive-ship-worker.js', 'README.md', 'LICENSE']) {
    t.true(files.includes(f), `${f} is packed`)
  }
  const stray = files.filter((f) => /^(ts|__test__|crates|target|bench|scripts|npm|native)\//.test(f) || /\.(ts|node)$/.test(f) && !f.endsWith('.d.ts'))
  t.deepEqual(stray, [], 'no TypeScript sources, tests, Rust, benchmarks or binaries')
  const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'chainlog', 'package.json'), 'utf8'))
  t.deepEqual(Object.keys(pkg.exports['.']), ['import', 'require'])
  t.is(pkg.bin.chainlog, 'dist/cli.js')
  t.truthy(pkg.engines.node)
})

test.serial('import and require both append, read and verify on the native core from the platform package', (t) => {
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    const { result, stderr } = run(file)
    t.like(result, { backend: 'native', backendB: 'native', ...EXPECTED }, file)
    t.notRegex(stderr, /Warning/, `${file}: no warning when the native core loads`)
  }
})

test.serial('an archive without the optional @aws-sdk/client-s3: the shipping thread loads from the package, for import and require, and says what to install', (t) => {
  for (const file of ['archive.mjs', 'archive.cjs']) {
    const { result } = run(file)
    t.like(result, { chainlog: true, code: 'ERR_UNSUPPORTED' }, file)
    t.regex(result.message, /npm install @aws-sdk\/client-s3/, file)
  }
})

test.serial('chainlog/tlog resolves by name for import and require, and checks a store\'s proof with the store-free toolkit', (t) => {
  for (const file of ['tlog.mjs', 'tlog.cjs']) {
    const { result } = run(file)
    t.deepEqual(result, { treeSize: 2, index: 1, proven: 2, stream: 'orders', error: 'ERR_CHAIN_BROKEN' }, file)
  }
})

test.serial('the types resolve for import and for require', (t) => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], { cwd: app, encoding: 'utf8' })
  t.is(r.status, 0, r.stdout + r.stderr)
})

test.serial('ESM and CommonJS builds export the same values, and index.d.ts declares exactly those', (t) => {
  const script = `const esm = Object.keys(await import('chainlog')).sort()
    const cjs = Object.keys((await import('node:module')).createRequire(import.meta.url)('chainlog')).sort()
    console.log(JSON.stringify({ esm, cjs }))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env: cleanEnv(), encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  const { esm, cjs } = JSON.parse(r.stdout)
  t.deepEqual(esm, cjs)
  const dts = readFileSync(join(app, 'node_modules', 'chainlog', 'index.d.ts'), 'utf8')
  const declared = [...dts.matchAll(/^export declare (?:const|class|function|let|var) (\w+)/gm)].map((m) => m[1]).sort()
  t.deepEqual(declared, esm.filter((k: string) => k !== 'default'))
  t.true(esm.includes('Log') && esm.includes('ChainlogError'))
  t.is(readFileSync(join(app, 'node_modules', 'chainlog', 'dist', 'index.d.cts'), 'utf8'), dts, 'the CommonJS types are the same declarations')
})

test.serial('the installed chainlog command verifies a store, and bench says where it runs', (t) => {
  const dir = mkdtempSync(join(work, 'cli-'))
  const bin = join(app, 'node_modules', '.bin', process.platform === 'win32' ? 'chainlog.cmd' : 'chainlog')
  const cli = (args: string[], input?: string) =>
    spawnSync(bin, args, { cwd: app, env: cleanEnv(), encoding: 'utf8', input, shell: process.platform === 'win32', timeout: 60_000 })
  t.is(cli(['append', dir, 'events'], 'one\ntwo\n').status, 0)
  const v = cli(['verify', dir])
  t.is(v.status, 0, v.stderr)
  t.regex(v.stdout, /verify: ok/)
  const b = cli(['bench'])
  t.is(b.status, 2)
  t.regex(b.stderr, /source checkout/)
})

test.serial('with the platform package removed, auto falls back to the JS core and says so once', (t) => {
  rmSync(join(app, 'node_modules', HOST.name), { recursive: true, force: true })
  const empty = mkdtempSync(join(work, 'no-native-'))
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    const { result, stderr } = run(file, { CHAINLOG_NATIVE_DIR: empty })
    t.like(result, { backend: 'js', backendB: 'js', ...EXPECTED }, file)
    const warnings = stderr.match(/CHAINLOG_NATIVE_UNAVAILABLE/g) ?? []
    t.is(warnings.length, 1, `${file}: one warning per process; stderr: ${stderr}`)
    t.regex(stderr, /falling back to the JavaScript core/)
  }
})

test('npm/ platform packages match package.json napi.targets (names, version, os/cpu/libc, binary path)', (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'platform-packages.mjs'), '--check'], { encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  // Written out here rather than derived, so a change to the naming or the layout shows in review.
  const expected: Record<string, { platform: string; os: string; cpu: string; libc?: string; file: string }> = {
    'x86_64-unknown-linux-gnu': { platform: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc', file: 'linux-x64/chainlog.napi.glibc.node' },
    'x86_64-unknown-linux-musl': { platform: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl', file: 'linux-x64/chainlog.napi.musl.node' },
    'aarch64-unknown-linux-gnu': { platform: 'linux-arm64-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc', file: 'linux-arm64/chainlog.napi.glibc.node' },
    'x86_64-apple-darwin': { platform: 'darwin-x64', os: 'darwin', cpu: 'x64', file: 'darwin-x64/chainlog.napi.node' },
    'aarch64-apple-darwin': { platform: 'darwin-arm64', os: 'darwin', cpu: 'arm64', file: 'darwin-arm64/chainlog.napi.node' },
    'x86_64-pc-windows-msvc': { platform: 'win32-x64-msvc', os: 'win32', cpu: 'x64', file: 'win32-x64/chainlog.napi.node' },
  }
  t.deepEqual([...root.napi.targets].sort(), Object.keys(expected).sort())
  for (const triple of root.napi.targets as string[]) {
    const e = expected[triple]
    const pkg = JSON.parse(readFileSync(join(ROOT, 'npm', e.platform, 'package.json'), 'utf8'))
    t.is(pkg.name, `@chainlog/${e.platform}`)
    t.is(pkg.version, root.version)
    t.deepEqual(pkg.files, [`prebuilds/${e.file}`])
    t.deepEqual([pkg.os, pkg.cpu, pkg.libc], [[e.os], [e.cpu], e.libc ? [e.libc] : undefined])
  }
})

test.serial('without a binary the installed chainlog command says so once, on stderr, in its own words', (t) => {
  const dir = mkdtempSync(join(work, 'cli-js-'))
  const bin = join(app, 'node_modules', '.bin', process.platform === 'win32' ? 'chainlog.cmd' : 'chainlog')
  const env = cleanEnv({ CHAINLOG_NATIVE_DIR: mkdtempSync(join(work, 'no-native-')) })
  const cli = (args: string[], input?: string) => spawnSync(bin, args, { cwd: app, env, encoding: 'utf8', input, shell: process.platform === 'win32', timeout: 60_000 })
  for (const args of [['append', dir, 'events'], ['verify', dir], ['inspect', dir]]) {
    const r = cli(args, 'one\ntwo\n')
    t.is(r.status, 0, r.stderr)
    const notes = r.stderr.split('\n').filter((line) => /JavaScript core|native/.test(line))
    t.deepEqual(notes, [`chainlog: note: running on the JavaScript core (same results, slower); the native binary did not load: no chainlog binary for ${process.platform}-${process.arch}${process.platform === 'linux' ? ` (${HOST.binary.includes('musl') ? 'musl' : 'glibc'})` : ''} in CHAINLOG_NATIVE_DIR=${env.CHAINLOG_NATIVE_DIR}`], args[0])
    t.notRegex(r.stderr, /\(node:\d+\)|Warning/, `${args[0]}: not Node's warning format`)
  }
})
