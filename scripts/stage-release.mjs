#!/usr/bin/env node
// Lays out what a release publishes, each package in a directory ready for `npm publish <dir>`:
//
//   <out>/<platform>/  npm/<platform>/ (package.json, README.md) plus its binary, copied from the
//                      package root's prebuilds/ (where build:native and the release's downloaded
//                      artifacts put it) to the same path inside the package
//   <out>/chainlog/    the files `npm pack` takes from the root (run `npm run build` first), with
//                      the platform packages staged beside it wired in as optionalDependencies at
//                      the root's exact version (all of napi.targets for a release)
//
//   node scripts/stage-release.mjs <out> --all                  every platform (the release)
//   node scripts/stage-release.mjs <out> --platform linux-x64-gnu [--platform …]
//
// chainlog names only platform packages published with it: npm leaves an optional dependency
// it cannot resolve out of the user's package-lock.json, and `npm ci` then refuses that lock as
// out of sync ("Missing: @chainlog/darwin-arm64@ from lock file", seen in the registry dry-run
// before this rule). For the same reason the optionalDependencies are written only into the
// staged copy, never into the committed package.json (whose own lock `npm ci` reads). Used by the release workflow and by
// __test__/registry.test.ts, which publishes the result to a local registry.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { platforms, ROOT, rootPackage } from './platform-packages.mjs'

const args = process.argv.slice(2)
const out = args[0] && !args[0].startsWith('--') ? resolve(args[0]) : undefined
const all = args.includes('--all')
const chosen = args.flatMap((a, i) => (args[i - 1] === '--platform' ? [a] : []))
if (!out || (all === chosen.length > 0)) {
  console.error('usage: node scripts/stage-release.mjs <out> (--all | --platform <platform>…)')
  process.exit(2)
}

const root = rootPackage()
const known = platforms(root)
for (const name of chosen) {
  if (!known.some((p) => p.platform === name)) throw new Error(`${name} is not a platform of package.json napi.targets (${known.map((p) => p.platform).join(', ')})`)
}
const staged = all ? known : known.filter((p) => chosen.includes(p.platform))
rmSync(out, { recursive: true, force: true })

for (const p of staged) {
  const binary = join(ROOT, p.binary)
  if (!existsSync(binary)) throw new Error(`${p.platform}: no binary at ${p.binary} (npm run build:native -- --target ${p.triple})`)
  const dir = join(out, p.platform)
  mkdirSync(dirname(join(dir, p.binary)), { recursive: true })
  for (const f of ['package.json', 'README.md']) copyFileSync(join(ROOT, p.dir, f), join(dir, f))
  copyFileSync(binary, join(dir, p.binary))
}

// npm's own list of what the root package publishes ("files", plus package.json, README, LICENSE).
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const listed = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', shell: process.platform === 'win32' }))[0].files
const chainlog = join(out, 'chainlog')
for (const { path } of listed) {
  mkdirSync(dirname(join(chainlog, path)), { recursive: true })
  copyFileSync(join(ROOT, path), join(chainlog, path))
}
const wired = Object.fromEntries(staged.map((p) => [p.name, root.version]))
writeFileSync(join(chainlog, 'package.json'), JSON.stringify({ ...root, optionalDependencies: wired }, null, 2) + '\n')

console.log(`staged in ${out}: ${staged.map((p) => `${p.name}@${root.version}`).join(', ')}, chainlog@${root.version} (optionalDependencies: ${Object.keys(wired).join(', ')})`)
