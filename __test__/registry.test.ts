import test from 'ava'
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ensureBuilt, ROOT } from './helpers/dist.ts'
import { allPlatformNames, cleanEnv, hostPlatform, npm, stageRelease } from './helpers/release.ts'

// The release dry-run: chainlog installed the way users will get it, from a registry. A real
// verdaccio runs on 127.0.0.1 with its storage in a temporary directory; this machine's platform
// package and chainlog are staged and published to it by the release's own scripts
// (stage-release.mjs, publish-release.mjs), chainlog listing the platform package as an
// optional dependency (a release lists all of napi.targets, every one published before chainlog:
// an unpublished one breaks users' `npm ci`, see stage-release.mjs). Then, in fresh projects, `npm install chainlog` must pick
// the platform package and run on the native core, `--omit=optional` must give the JS core with
// one warning, `npx chainlog` must work, and a lockfile made there must reinstall with `npm ci`.
// Other packages (chainlog's dependencies) come through verdaccio from the registry npm is
// configured with.
//
// With CHAINLOG_DRY_RUN_ALL_PLATFORMS=1 (the release workflow, with every target's binary in
// prebuilds/), every platform package is staged and published, as the release then does.

const HOST = hostPlatform()
const ALL_PLATFORMS = process.env.CHAINLOG_DRY_RUN_ALL_PLATFORMS === '1'
let work = ''
let registry: ChildProcess | undefined
let url = ''
/** npm's configuration for the projects here: the local registry, its token, a cache of their own. */
let npmEnv: Record<string, string> = {}

const USAGE = `import { Log } from 'chainlog'
const log = await Log.open(process.argv[2], { backend: 'auto' })
const second = await Log.open(process.argv[2] + '-b', { backend: 'auto' })
await log.append('orders', ['placed', 'paid'])
const report = await log.verify()
console.log(JSON.stringify({ backend: log.backend, backendB: second.backend, ok: report.ok, records: (await log.read('orders')).length }))
await second.close()
await log.close()
`

/** Starts scripts/registry-server.mjs and waits for its "registry {…}" line. */
async function startRegistry(dir: string, uplink: string): Promise<{ url: string; token: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'registry-server.mjs'), dir, uplink], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'inherit'] })
  registry = child
  const lines = createInterface({ input: child.stdout! })
  const started = new Promise<{ url: string; token: string }>((resolve, reject) => {
    lines.on('line', (line) => { if (line.startsWith('registry ')) resolve(JSON.parse(line.slice('registry '.length))) })
    child.once('exit', (code) => reject(new Error(`the registry exited (${code}) before it listened`)))
  })
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the registry did not start within 60 s')), 60_000).unref())
  return Promise.race([started, timeout])
}

function project(name: string): string {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  writeFileSync(join(dir, 'usage.mjs'), USAGE)
  return dir
}

function run(app: string, file: string) {
  const dir = mkdtempSync(join(work, 'store-'))
  const r = spawnSync(process.execPath, [file, join(dir, 'log')], { cwd: app, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`${file} exited ${r.status}: ${r.stderr}`)
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr }
}

/** `npx chainlog …` in the project, as a user runs it. */
function npx(app: string, args: string[], input?: string) {
  return spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--no-install', 'chainlog', ...args], {
    cwd: app, env: cleanEnv(npmEnv), encoding: 'utf8', input, shell: process.platform === 'win32', timeout: 60_000,
  })
}

const EXPECTED = { ok: true, records: 2 }

test.before(async () => {
  ensureBuilt()
  work = mkdtempSync(join(tmpdir(), 'chainlog-registry-'))
  const uplink = npm(['config', 'get', 'registry'], work).trim()
  const started = await startRegistry(join(work, 'registry'), uplink)
  url = started.url
  const npmrc = join(work, 'npmrc')
  const host = url.replace(/^https?:/, '')
  writeFileSync(npmrc, `registry=${url}\n${host}:_authToken=${started.token}\n`)
  npmEnv = { npm_config_userconfig: npmrc, npm_config_registry: url, npm_config_cache: join(work, 'npm-cache'), npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }

  const { chainlogDir } = stageRelease(join(work, 'stage'), ALL_PLATFORMS ? 'all' : HOST.platform)
  const pkg = JSON.parse(readFileSync(join(chainlogDir, 'package.json'), 'utf8'))
  if (!pkg.optionalDependencies?.[HOST.name]) throw new Error(`the staged chainlog does not list ${HOST.name}`)
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'publish-release.mjs'), join(work, 'stage')], { cwd: work, env: cleanEnv(npmEnv), stdio: ['ignore', 'pipe', 'pipe'] })
})

test.after.always(async () => {
  if (registry && registry.exitCode === null) {
    const exited = new Promise((resolve) => registry!.once('exit', resolve))
    registry.kill('SIGTERM')
    await exited
  }
  if (work) rmSync(work, { recursive: true, force: true })
})

test.serial('the registry holds this machine\'s platform package and chainlog, wired to the platform packages', (t) => {
  const view = (spec: string) => JSON.parse(npm(['view', spec, '--json'], work, npmEnv))
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const chainlog = view(`chainlog@${root.version}`)
  t.is(chainlog.version, root.version)
  t.is(chainlog.optionalDependencies[HOST.name], root.version)
  t.deepEqual(Object.keys(chainlog.optionalDependencies).sort(), ALL_PLATFORMS ? allPlatformNames().sort() : [HOST.name])
  t.is(chainlog.dependencies['node-gyp-build'], root.dependencies['node-gyp-build'])
  const platform = view(`${HOST.name}@${root.version}`)
  t.is(platform.version, root.version)
  t.true(platform.dist.tarball.startsWith(url), 'served by the local registry')
})

test.serial('npm install chainlog from the registry runs on the native core, with no warning; npx chainlog verifies', (t) => {
  const app = project('app-native')
  npm(['install', 'chainlog'], app, npmEnv)
  t.true(existsSync(join(app, 'node_modules', ...HOST.name.split('/'), ...HOST.binary.split('/'))), `npm installed ${HOST.name} with its binary`)
  const { result, stderr } = run(app, 'usage.mjs')
  t.like(result, { backend: 'native', backendB: 'native', ...EXPECTED })
  t.notRegex(stderr, /Warning|CHAINLOG_NATIVE_UNAVAILABLE/)

  const store = join(work, 'npx-native')
  const append = npx(app, ['append', store, 'events'], 'one\ntwo\n')
  t.is(append.status, 0, append.stderr)
  const verify = npx(app, ['verify', store])
  t.is(verify.status, 0, verify.stderr)
  t.regex(verify.stdout, /verify: ok/)
  t.notRegex(verify.stderr + append.stderr, /JavaScript core|Warning/, 'the CLI runs on the native core')

  // The lockfile made here, reinstalled from scratch with npm ci: still the native core.
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'))
  const locked = lock.packages[`node_modules/${HOST.name}`]
  t.truthy(locked, `the lock lists ${HOST.name}`)
  t.true(locked.optional && locked.resolved.startsWith(url), `${HOST.name} is locked as optional, from the registry`)
  rmSync(join(app, 'node_modules'), { recursive: true, force: true })
  npm(['ci'], app, npmEnv)
  const again = run(app, 'usage.mjs')
  t.like(again.result, { backend: 'native', backendB: 'native', ...EXPECTED })
  t.notRegex(again.stderr, /Warning|CHAINLOG_NATIVE_UNAVAILABLE/)
})

test.serial('npm install --omit=optional chainlog runs on the JS core and says so once; npx chainlog still verifies', (t) => {
  const app = project('app-js')
  npm(['install', '--omit=optional', 'chainlog'], app, npmEnv)
  t.false(existsSync(join(app, 'node_modules', ...HOST.name.split('/'))), 'no platform package')
  const { result, stderr } = run(app, 'usage.mjs')
  t.like(result, { backend: 'js', backendB: 'js', ...EXPECTED })
  t.is((stderr.match(/CHAINLOG_NATIVE_UNAVAILABLE/g) ?? []).length, 1, `one warning per process; stderr: ${stderr}`)

  const store = join(work, 'npx-js')
  t.is(npx(app, ['append', store, 'events'], 'one\ntwo\n').status, 0)
  const verify = npx(app, ['verify', store])
  t.is(verify.status, 0, verify.stderr)
  t.regex(verify.stdout, /verify: ok/)
  const notes = verify.stderr.split('\n').filter((line) => line.includes('JavaScript core'))
  t.is(notes.length, 1, verify.stderr)
  t.regex(notes[0], /^chainlog: note: running on the JavaScript core/)
})
