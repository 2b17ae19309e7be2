/**
 * Finds and loads the native addon, and refuses a stale one (abiVersion ≠ CORE_ABI).
 *
 * Binaries are laid out as prebuildify does it, `prebuilds/<platform>-<arch>/chainlog.napi[.glibc|.musl].node`,
 * and resolved by node-gyp-build, which picks the file matching this process's platform, arch
 * and libc from such a directory. Search order:
 *   1. $CHAINLOG_NATIVE_DIR only, when set (a directory in that layout);
 *   2. each installed platform package of the published chainlog (@chainlog/<platform>, see
 *      npm/README.md; npm installs the one whose os/cpu/libc match the machine);
 *   3. the package root's own prebuilds/ (`npm run build:native` writes there).
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CORE_ABI } from './interface.ts'

/**
 * The platform packages, named by scripts/platform-packages.mjs from package.json napi.targets and
 * written into dist/ by scripts/build.mjs (esbuild `define`). Run from ts/ (tests, benchmarks),
 * there is no such list and only the package root's prebuilds/ is searched.
 */
declare const CHAINLOG_PLATFORM_PACKAGES: readonly string[] | undefined

/** node-gyp-build's resolver: the best matching binary in `dir`, or an Error saying what it looked for. */
type ResolveBinary = (dir: string) => string

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err)
}

/** The nearest directory above this file with a package.json: the repo root from ts/core/, the
 * package root from the bundled dist/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let up = 0; up < 3; up++) {
    if (existsSync(join(dir, 'package.json'))) break
    dir = dirname(dir)
  }
  return dir
}

/** Directories to hand to node-gyp-build, best first. */
function searchDirs(require: NodeRequire): string[] {
  const override = process.env.CHAINLOG_NATIVE_DIR
  if (override) return [override]
  const packages = typeof CHAINLOG_PLATFORM_PACKAGES === 'undefined' ? [] : CHAINLOG_PLATFORM_PACKAGES
  const installed = packages.flatMap((name) => {
    try {
      return [dirname(require.resolve(`${name}/package.json`))]
    } catch {
      return [] // not installed: npm skips the platform packages that do not match this machine
    }
  })
  return [...installed, packageRoot()]
}

/** Loads the raw binding of the first binary that loads and has this chainlog's ABI, or says why none did. */
export function loadNativeBinding(): { binding: unknown } | { error: string } {
  const require = createRequire(import.meta.url)
  const resolveBinary = (require('node-gyp-build') as { path: ResolveBinary }).path
  const tried: string[] = []
  const empty: string[] = []
  let wanted = ''
  for (const dir of searchDirs(require)) {
    let file: string
    try {
      file = resolveBinary(dir)
    } catch (err) {
      // "No native build was found for platform=linux arch=x64 runtime=node … libc=glibc node=20.20.2"
      const target = /platform=(\S+) arch=(\S+).* libc=(\S+)/.exec(describe(err))
      wanted = target ? `${target[1]}-${target[2]}${target[1] === 'linux' ? ` (${target[3]})` : ''}` : describe(err)
      empty.push(dir)
      continue
    }
    let binding: { abiVersion?: unknown }
    try {
      binding = require(file) as { abiVersion?: unknown }
    } catch (err) {
      tried.push(`${file}: ${describe(err)}`)
      continue
    }
    let abi: unknown
    try {
      abi = typeof binding?.abiVersion === 'function' ? binding.abiVersion() : undefined
    } catch (err) {
      abi = `unreadable (${describe(err)})`
    }
    if (abi !== CORE_ABI) {
      tried.push(`${file}: ABI version ${String(abi)}, this chainlog needs ${CORE_ABI} (a stale or foreign binary)`)
      continue
    }
    return { binding }
  }
  if (empty.length) {
    const where = process.env.CHAINLOG_NATIVE_DIR ? `CHAINLOG_NATIVE_DIR=${process.env.CHAINLOG_NATIVE_DIR}` : empty.join(', ')
    tried.push(`no chainlog binary for ${wanted || `${process.platform}-${process.arch}`} in ${where}`)
  }
  return { error: tried.join('; ') }
}
