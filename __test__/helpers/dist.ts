import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CLI = join(ROOT, 'dist', 'cli.js')

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/**
 * The CLI and pack tests run the built package (dist/), as users get it. `npm test` builds it
 * first; a test run on its own against a missing or stale build fails here with what to do,
 * rather than testing old code.
 */
export function assertBuilt(): void {
  const built = ['dist/index.js', 'dist/index.cjs', 'dist/cli.js', 'dist/index.d.cts', 'index.d.ts'].map((f) => join(ROOT, f))
  const missing = built.filter((f) => !existsSync(f))
  if (missing.length) throw new Error(`not built: ${missing.join(', ')} (run npm run build)`)
  const oldest = Math.min(...built.map((f) => statSync(f).mtimeMs))
  if (newestMtime(join(ROOT, 'ts')) > oldest) throw new Error('dist/ is older than ts/ (run npm run build)')
}
