import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CLI = join(ROOT, 'dist', 'cli.js')

const OUTPUTS = ['dist/index.js', 'dist/index.cjs', 'dist/cli.js', 'dist/index.d.cts', 'index.d.ts'].map((f) => join(ROOT, f))
/** Held while one test process builds, so parallel test files do not build at once. */
const LOCK = join(ROOT, '.tmp', 'build.lock')
const LOCK_STALE_MS = 120_000

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

function isFresh(): boolean {
  if (!OUTPUTS.every((f) => existsSync(f))) return false
  return Math.min(...OUTPUTS.map((f) => statSync(f).mtimeMs)) >= newestMtime(join(ROOT, 'ts'))
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * The CLI and pack tests run the built package (dist/, index.d.ts), as users get it. `npm test`
 * builds it just before; a test file run on its own rebuilds it when it is missing or older than
 * ts/, rather than testing old code. One process builds at a time; the build replaces each file
 * atomically.
 */
export function ensureBuilt(): void {
  if (isFresh()) return
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  const deadline = Date.now() + LOCK_STALE_MS
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const held = statSync(LOCK, { throwIfNoEntry: false })
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) rmdirSync(LOCK, { recursive: false })
      if (Date.now() > deadline) throw new Error(`${LOCK} held for over ${LOCK_STALE_MS} ms`)
      sleep(100)
    }
  }
  try {
    if (!isFresh()) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' })
  } finally {
    rmdirSync(LOCK)
  }
}
