import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative, sep } from 'node:path'
import { ROOT } from './dist.ts'

// What the pack and registry tests share: this machine's platform package, staged as the release
// stages it (scripts/stage-release.mjs), and npm run in a clean environment.

export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** The environment for child npm and node processes, without what `npm test` put in ours. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'CHAINLOG_NATIVE_DIR' && k !== 'NODE_OPTIONS'))
  return { ...env, ...extra }
}

export function npm(args: string[], cwd: string, env: Record<string, string> = {}): string {
  return execFileSync(NPM, args, { cwd, env: cleanEnv(env), encoding: 'utf8', shell: process.platform === 'win32', stdio: ['ignore', 'pipe', 'pipe'] })
}

/**
 * This machine's platform package: the one under npm/ whose binary is the file node-gyp-build
 * picks from the local build (npm run build:native), so no libc or platform is guessed here.
 */
export function hostPlatform(): { platform: string; name: string; binary: string } {
  const resolveBinary = (createRequire(import.meta.url)('node-gyp-build') as { path(dir: string): string }).path
  const binary = relative(ROOT, resolveBinary(ROOT)).split(sep).join('/')
  for (const platform of readdirSync(join(ROOT, 'npm'))) {
    if (platform.endsWith('.md')) continue
    const pkg = JSON.parse(readFileSync(join(ROOT, 'npm', platform, 'package.json'), 'utf8')) as { name: string; files: string[] }
    if (pkg.files.includes(binary)) return { platform, name: pkg.name, binary }
  }
  throw new Error(`no package under npm/ carries ${binary}`)
}

/**
 * Stages a platform package (or, with 'all', every one of napi.targets, whose binaries must all be
 * in prebuilds/) and chainlog in `out` with scripts/stage-release.mjs; returns their directories.
 */
export function stageRelease(out: string, platform: string | 'all'): { platformDir: string; chainlogDir: string } {
  const which = platform === 'all' ? ['--all'] : ['--platform', platform]
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'stage-release.mjs'), out, ...which], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  return { platformDir: join(out, platform), chainlogDir: join(out, 'chainlog') }
}

/** The names of every platform package under npm/. */
export function allPlatformNames(): string[] {
  return readdirSync(join(ROOT, 'npm')).filter((d) => !d.endsWith('.md'))
    .map((d) => (JSON.parse(readFileSync(join(ROOT, 'npm', d, 'package.json'), 'utf8')) as { name: string }).name)
}
