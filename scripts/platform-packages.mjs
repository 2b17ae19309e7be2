#!/usr/bin/env node
// The per-platform binary packages under npm/ (napi-rs layout): one package per target, each
// carrying `chainlog.<platform>.node`, wired into the published root package as
// optionalDependencies at the root's exact version. npm installs only the one whose os/cpu/libc
// match the machine.
//
//   node scripts/platform-packages.mjs          write npm/*/package.json and README.md from the
//                                               table below and the root package.json
//   node scripts/platform-packages.mjs --check  exit 1 if any of them is out of date (tests)
//   node scripts/platform-packages.mjs --wire   add the optionalDependencies to package.json
//                                               (the release job only, right before publishing)
//
// Run by `npm version` (the "version" script), so a release bumps every package together.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Scope of the platform packages; ts/core/native.ts builds the same names. */
export const SCOPE = '@chainlog'

/** platform (napi-rs "platformArchABI") → Rust target and npm's os/cpu/libc fields. */
export const PLATFORMS = {
  'linux-x64-gnu': { triple: 'x86_64-unknown-linux-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' },
  'linux-x64-musl': { triple: 'x86_64-unknown-linux-musl', os: 'linux', cpu: 'x64', libc: 'musl' },
  'linux-arm64-gnu': { triple: 'aarch64-unknown-linux-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'darwin-x64': { triple: 'x86_64-apple-darwin', os: 'darwin', cpu: 'x64' },
  'darwin-arm64': { triple: 'aarch64-apple-darwin', os: 'darwin', cpu: 'arm64' },
  'win32-x64-msvc': { triple: 'x86_64-pc-windows-msvc', os: 'win32', cpu: 'x64' },
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'))
const json = (value) => JSON.stringify(value, null, 2) + '\n'

function platformFiles(root) {
  const files = {}
  for (const [platform, t] of Object.entries(PLATFORMS)) {
    const binary = `chainlog.${platform}.node`
    const pkg = {
      name: `${SCOPE}/${platform}`,
      version: root.version,
      description: `The ${t.triple} binary of chainlog (installed by chainlog itself; do not depend on it directly)`,
      license: root.license,
      ...(root.repository ? { repository: root.repository } : {}),
      main: binary,
      files: [binary],
      os: [t.os],
      cpu: [t.cpu],
      ...(t.libc ? { libc: [t.libc] } : {}),
      engines: root.engines,
      publishConfig: { access: 'public' },
    }
    files[join('npm', platform, 'package.json')] = json(pkg)
    files[join('npm', platform, 'README.md')] =
      `# \`${SCOPE}/${platform}\`\n\nThe prebuilt **${t.triple}** binary (\`${binary}\`) of [\`chainlog\`](https://www.npmjs.com/package/chainlog).\n` +
      `Installed automatically as an optional dependency of \`chainlog\` on matching machines; do not install it directly.\n`
  }
  return files
}

/** The root's optionalDependencies as published: every platform package at the root's exact version. */
export function optionalDependencies(version) {
  return Object.fromEntries(Object.keys(PLATFORMS).map((p) => [`${SCOPE}/${p}`, version]))
}

const args = process.argv.slice(2)
const rootFile = join(ROOT, 'package.json')

if (args.includes('--wire')) {
  // Publish time only. The platform packages of a new version do not exist on the registry until
  // the release publishes them, and npm leaves unresolvable optional dependencies out of
  // package-lock.json, after which `npm ci` refuses the lock as out of sync. So, like
  // `napi prepublish`, the release job adds them to its own throwaway checkout right before
  // `npm publish`; they are never committed. Re-reads package.json right before writing it.
  const root = readJson(rootFile)
  writeFileSync(rootFile, json({ ...root, optionalDependencies: optionalDependencies(root.version) }))
  console.log(`optionalDependencies wired: ${Object.keys(PLATFORMS).map((p) => `${SCOPE}/${p}@${root.version}`).join(', ')}`)
  process.exit(0)
}

const check = args.includes('--check')
const stale = []
for (const [rel, text] of Object.entries(platformFiles(readJson(rootFile)))) {
  const file = join(ROOT, rel)
  if (existsSync(file) && readFileSync(file, 'utf8') === text) continue
  stale.push(rel)
  if (!check) { mkdirSync(dirname(file), { recursive: true }); writeFileSync(file, text) }
}
// The table must cover exactly the targets `napi build` is configured for (package.json "napi").
const napiTargets = [...(readJson(rootFile).napi?.targets ?? [])].sort()
const tableTargets = Object.values(PLATFORMS).map((t) => t.triple).sort()
if (JSON.stringify(napiTargets) !== JSON.stringify(tableTargets)) {
  console.error(`package.json napi.targets (${napiTargets.join(', ')}) differ from the table here (${tableTargets.join(', ')})`)
  process.exit(1)
}
if (check && stale.length) {
  console.error(`out of date (run node scripts/platform-packages.mjs): ${stale.join(', ')}`)
  process.exit(1)
}
if (!check) console.log(stale.length ? `updated: ${stale.join(', ')}` : 'platform packages up to date')
