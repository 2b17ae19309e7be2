import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCore } from '../ts/core/load.ts'
import { CORE_ABI } from '../ts/core/interface.ts'

const ROOT = new URL('..', import.meta.url).pathname

/** Runs a snippet in a fresh process, where the native binary is looked for in `nativeDir` only. */
function probe(nativeDir: string | undefined, code: string): string {
  const env = { ...process.env }
  if (nativeDir === undefined) delete env.CHAINLOG_NATIVE_DIR
  else env.CHAINLOG_NATIVE_DIR = nativeDir
  return execFileSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { cwd: ROOT, env, encoding: 'utf8' }).trim()
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

test('an unknown backend name is ERR_INVALID_ARGUMENT', async (t) => {
  const err = await t.throwsAsync(loadCore('wasm' as 'js'))
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT')
})
