import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The directory of the chainlog package this code runs from: the source checkout when run from
 * ts/cli/ through tsx, the installed package when run from dist/. Found by walking up to the
 * package.json named "chainlog", so it does not depend on how deep the built file sits.
 */
export function packageRoot(): { dir: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'chainlog') return { dir, version: pkg.version ?? '0.0.0' }
    }
    const up = dirname(dir)
    if (up === dir) throw new Error(`package.json of chainlog not found above ${fileURLToPath(import.meta.url)}`)
    dir = up
  }
}
