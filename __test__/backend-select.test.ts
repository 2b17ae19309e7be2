import test from 'ava'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { loadCore } from '../ts/core/load.ts'
import { CORE_ABI } from '../ts/core/interface.ts'

const ROOT = new URL('..', import.meta.url).pathname

const require = createRequire(import.meta.url)
/** node-gyp-build's resolver, as the loader uses it: the binary for this machine in a prebuildify layout. */
const resolveBinary = (require('node-gyp-build') as { path(dir: string): string }).path

/** The locally built addon (npm run build:native), below ts/core/native.ts: its raw functions as exported. */
function rawBinding<T>(): T | undefined {
  let file: string
  try {
    file = resolveBinary(ROOT)
  } catch {
    return undefined
  }
  return require(file) as T
}

/** Runs a snippet in a fresh process, where the native binary is looked for in `nativeDir` only. */
function probe(nativeDir: string | undefined, code: string, extraEnv: Record<string, string> = {}): string {
  const env = { ...process.env, ...extraEnv }
  if (nativeDir === undefined) delete env.CHAINLOG_NATIVE_DIR
  else env.CHAINLOG_NATIVE_DIR = nativeDir
  return execFileSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { cwd: ROOT, env, encoding: 'utf8' }).trim()
}

/** Which core 'auto' picks in a fresh process, and why the native one did not load. */
const WHICH_CORE = `
  import { loadCore } from './ts/core/load.ts'
  import { loadNativeBinding } from './ts/core/native-loader.ts'
  const auto = await loadCore('auto')
  const loaded = loadNativeBinding()
  console.log(JSON.stringify({ auto: auto.name, error: 'error' in loaded ? loaded.error : null }))`

/** A directory in the prebuildify layout holding `binary` under the file name `name`, for this platform and arch. */
function layout(binary: string, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'chainlog-layout-'))
  const tuple = join(dir, 'prebuilds', `${process.platform}-${process.arch}`)
  mkdirSync(tuple, { recursive: true })
  copyFileSync(binary, join(tuple, name))
  return dir
}

test('the built native core loads and reports its name and ABI', async (t) => {
  const c = await loadCore('auto')
  t.is(c.name, 'native')
  t.is(c.abiVersion(), CORE_ABI)
  t.is((await loadCore('native')).name, 'native')
  t.is((await loadCore('js')).name, 'js')
})

test('with no native binary, auto picks the JS core and native fails with ERR_UNSUPPORTED', (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'chainlog-nonative-'))
  try {
    const code = `
      import { loadCore } from './ts/core/load.ts'
      const auto = await loadCore('auto')
      let native = 'loaded'
      try { await loadCore('native') } catch (e) { native = e.name + ' ' + e.code }
      console.log(JSON.stringify({ auto: auto.name, native }))`
    t.deepEqual(JSON.parse(probe(empty, code)), { auto: 'js', native: 'ChainlogError ERR_UNSUPPORTED' })
  } finally {
    rmSync(empty, { recursive: true, force: true })
  }
})

test('the local build sits in the prebuildify layout, where node-gyp-build finds it', (t) => {
  const file = resolveBinary(ROOT)
  const tuple = `${process.platform}-${process.arch}`
  t.is(dirname(file), join(ROOT, 'prebuilds', tuple))
  t.regex(file, process.platform === 'linux' ? /\/chainlog\.napi\.(glibc|musl)\.node$/ : /\/chainlog\.napi\.node$/)
})

test('CHAINLOG_NATIVE_DIR in the prebuildify layout loads the native core; a file for another libc is not taken', (t) => {
  if (process.platform !== 'linux') return t.pass('libc tags are Linux only')
  const built = resolveBinary(ROOT)
  const asMusl = layout(built, 'chainlog.napi.musl.node')
  const asGlibc = layout(built, 'chainlog.napi.glibc.node')
  try {
    t.deepEqual(JSON.parse(probe(asGlibc, WHICH_CORE, { LIBC: 'glibc' })), { auto: 'native', error: null })
    // node-gyp-build tells the libc apart by its tag (LIBC overrides its detection, as on Alpine).
    t.deepEqual(JSON.parse(probe(asMusl, WHICH_CORE, { LIBC: 'musl' })), { auto: 'native', error: null })
    const refused = JSON.parse(probe(asMusl, WHICH_CORE, { LIBC: 'glibc' }))
    t.is(refused.auto, 'js')
    t.is(refused.error, `no chainlog binary for linux-${process.arch} (glibc) in CHAINLOG_NATIVE_DIR=${asMusl}`)
  } finally {
    rmSync(asMusl, { recursive: true, force: true })
    rmSync(asGlibc, { recursive: true, force: true })
  }
})

test('a foreign binary in the layout (another addon, no abiVersion) is refused by the ABI check, and auto falls back to JS', (t) => {
  // classic-level (a devDependency) ships real N-API prebuilds for this platform.
  const foreign = resolveBinary(dirname(require.resolve('classic-level/package.json')))
  const libc = process.platform === 'linux' ? '.glibc' : ''
  const dir = layout(foreign, `chainlog.napi${libc}.node`)
  try {
    const r = JSON.parse(probe(dir, WHICH_CORE, { LIBC: 'glibc' }))
    t.is(r.auto, 'js')
    t.regex(r.error, /chainlog\.napi.*\.node: ABI version undefined, this chainlog needs \d+ \(a stale or foreign binary\)$/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('an unknown backend name is ERR_INVALID_ARGUMENT', async (t) => {
  const err = await t.throwsAsync(loadCore('wasm' as 'js'))
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
})

test('the native binding\'s single-record decoder refuses what is not its own decoder, not bytes, or an output overlapping its input, without crashing', (t) => {
  const binding = rawBinding<{
    recordDecoder(hash: string, stream: string): object
    decodeOneInto(...args: unknown[]): number
  }>()
  if (binding === undefined) return t.fail('no native binary in prebuilds/ (npm run build:native)')
  const out = Buffer.alloc(512)
  const data = Buffer.alloc(100)
  for (const notOurs of [{}, Buffer.alloc(8), undefined, null, 7, 'x']) {
    t.throws(() => binding.decodeOneInto(notOurs, data, 0, 0, undefined, 1 << 20, out), { message: /recordDecoder|argument|external|object/i }, String(notOurs))
  }
  const decoder = binding.recordDecoder('blake3', 's')
  t.throws(() => binding.decodeOneInto(decoder, new Float64Array(4), 0, 0, undefined, 1 << 20, out))
  t.throws(() => binding.decodeOneInto(decoder, data, 0, 0, undefined, 1 << 20, 'not bytes'))
  t.throws(() => binding.decodeOneInto(decoder, data, 0, 0, undefined, 1 << 20, new Float64Array(64)), { message: /Uint8Array/ })
  // `out` is written while `data` is read: views of one buffer that overlap are refused.
  const shared = Buffer.alloc(1024)
  t.throws(() => binding.decodeOneInto(decoder, shared.subarray(0, 400), 0, 0, undefined, 1 << 20, shared.subarray(300, 800)), { message: /overlap/ })
  t.throws(() => binding.decodeOneInto(decoder, data, 0, 0, shared.subarray(0, 32), 1 << 20, shared.subarray(16, 600)), { message: /overlap/ })
  t.throws(() => binding.decodeOneInto(decoder, data, 0, 0, undefined, 1 << 20, out), { code: 'ERR_CORRUPT' })
  t.throws(() => binding.recordDecoder('md5', 's'), { code: 'ERR_INVALID_ARGUMENT' })
  // Decoders are freed when collected: making many and dropping them is fine.
  for (let i = 0; i < 10_000; i++) binding.recordDecoder('sha256', `s${i}`)
  t.pass()
})

test('the native binding\'s encodeInto refuses outputs of the wrong type or size, or sharing memory with an input or another output, without crashing', (t) => {
  const binding = rawBinding<{ encodeInto(...args: unknown[]): number }>()
  if (binding === undefined) return t.fail('no native binary in prebuilds/ (npm run build:native)')
  const payloads = Buffer.from('abcdef')
  const lengths = Uint32Array.of(2, 4)
  const timestamps = Float64Array.of(5, 6)
  const zero = Buffer.alloc(32)
  // hash, stream, firstOffset, prevHash, kind, codec, level, payloads, lengths, timestamps, then the outputs.
  const encode = (into: unknown, positions: unknown, lastHash: unknown, hashes?: unknown, inputs: unknown[] = [payloads, lengths, timestamps]) =>
    binding.encodeInto('blake3', 's', 0, zero, 0, 0, 0, ...inputs, into, positions, lastHash, hashes)
  const into = Buffer.alloc(256)
  const positions = new Float64Array(2)
  const lastHash = Buffer.alloc(32)
  const hashes = Buffer.alloc(64)
  t.is(encode(into, positions, lastHash, hashes), 6 + 2 * 66)
  t.deepEqual([...positions], [0, 68])
  t.deepEqual(lastHash, hashes.subarray(32))

  t.throws(() => encode('not bytes', positions, lastHash), { message: /into/ })
  t.throws(() => encode(into, new Uint8Array(16), lastHash), { message: /positionsOut must be a Float64Array/ })
  t.throws(() => encode(into, new Float64Array(3), lastHash), { message: /positionsOut of 2 entries/ })
  t.throws(() => encode(into, positions, Buffer.alloc(31)), { message: /lastHashOut of 32 bytes/ })
  t.throws(() => encode(into, positions, lastHash, Buffer.alloc(32)), { message: /hashesOut of 2 × 32 bytes/ })
  t.throws(() => encode(Buffer.alloc(100), positions, lastHash), { code: 'ERR_INVALID_ARGUMENT', message: /^into must hold at least 138 bytes/ })
  t.throws(() => encode(into, positions, lastHash, undefined, [payloads, Float64Array.of(2, 4), timestamps]), { message: /Uint32Array|Expected/ })
  // Outputs are written while the inputs are read: views of one buffer that overlap are refused.
  const shared = Buffer.alloc(1024)
  t.throws(() => encode(shared.subarray(0, 300), positions, lastHash, undefined, [shared.subarray(290, 296), lengths, timestamps]), { message: /overlap/ })
  t.throws(() => encode(shared.subarray(0, 300), positions, shared.subarray(280, 312)), { message: /overlap/ })
  t.throws(() => encode(into, new Float64Array(shared.buffer, 0, 2), lastHash, undefined, [payloads, lengths, new Float64Array(shared.buffer, 8, 2)]), { message: /overlap/ })
  t.notThrows(() => encode(into, positions, shared.subarray(0, 32), shared.subarray(32, 96)), 'adjacent views do not overlap')
  // Empty and detached outputs (their memory may be a null pointer) are errors, not a crash.
  t.throws(() => encode(new Uint8Array(0), positions, lastHash), { message: /into must hold at least/ })
  t.throws(() => encode(new Uint8Array(0), new Float64Array(0), lastHash, new Uint8Array(0), [Buffer.alloc(0), new Uint32Array(0), new Float64Array(0)]), { code: 'ERR_INVALID_ARGUMENT', message: /^a batch needs at least one payload/ })
  const moved = new ArrayBuffer(256)
  const detached = new Uint8Array(moved)
  structuredClone(moved, { transfer: [moved] })
  t.is(detached.length, 0)
  t.throws(() => encode(detached, positions, lastHash), { message: /into must hold at least/ })
  t.throws(() => encode(into, positions, detached), { message: /lastHashOut of 32 bytes/ })
})
