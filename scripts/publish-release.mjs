#!/usr/bin/env node
// Publishes what scripts/stage-release.mjs laid out: every platform package first, then chainlog
// (whose optionalDependencies name them), each with `npm publish <dir>`. A version already on the
// registry is skipped, so a release that failed half-way can be run again.
//
//   node scripts/publish-release.mjs <staged>
//
// The registry and its credentials come from npm's own configuration (the release workflow's
// .npmrc with NODE_AUTH_TOKEN; in __test__/registry.test.ts, npm_config_registry and
// npm_config_userconfig pointing at a local verdaccio).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const staged = process.argv[2] && resolve(process.argv[2])
if (!staged) {
  console.error('usage: node scripts/publish-release.mjs <staged>')
  process.exit(2)
}
const npm = (args, options = {}) => execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { encoding: 'utf8', shell: process.platform === 'win32', ...options })
function isPublished(name, version) {
  try {
    return npm(['view', `${name}@${version}`, 'version'], { stdio: ['ignore', 'pipe', 'ignore'] }).trim() === version
  } catch {
    return false // E404: not published yet
  }
}

const dirs = readdirSync(staged).filter((d) => d !== 'chainlog').map((d) => join(staged, d))
for (const dir of [...dirs, join(staged, 'chainlog')]) {
  const { name, version, optionalDependencies = {} } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  // A chainlog naming an unpublished platform package breaks every user's `npm ci` (npm leaves
  // the unresolvable optional dependency out of their lock, then refuses the lock).
  const missing = Object.entries(optionalDependencies).filter(([n, v]) => !isPublished(n, v))
  if (missing.length) throw new Error(`${name}@${version} not published: ${missing.map(([n, v]) => `${n}@${v}`).join(', ')} is not on the registry`)
  if (isPublished(name, version)) {
    console.log(`${name}@${version} is already published`)
    continue
  }
  // Scripts are not run: the staged directory holds built files only (no scripts/, no sources).
  npm(['publish', dir, '--ignore-scripts', '--access', 'public'], { stdio: ['ignore', 'inherit', 'inherit'] })
}
