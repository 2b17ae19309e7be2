#!/usr/bin/env node
// The per-platform binary packages under npm/: one package @chainlog/<platform> per target in
// package.json `napi.targets` (the one list of platforms), each carrying its binary in the
// prebuildify layout that node-gyp-build reads (prebuilds/<platform>-<arch>/chainlog.napi[.libc].node),
// wired into the published root package as optionalDependencies at the root's exact version.
// npm installs only the one whose os/cpu/libc match the machine.
//
//   node scripts/platform-packages.mjs          write npm/*/package.json and README.md
//   node scripts/platform-packages.mjs --check  exit 1 if any of them is out of date (tests)
//   node scripts/platform-packages.mjs --matrix print the release workflow's matrix as JSON
//
// Run by `npm version` (the "version" script), so a release bumps every package together.
// Staging the packages with their binaries for publishing is scripts/stage-release.mjs.
import { parseTriple } from '@napi-rs/cli'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Scope of the platform packages. */
export const SCOPE = '@chainlog'
const BINARY_NAME = 'chainlog'

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'))
const json = (value) => JSON.stringify(value, null, 2) + '\n'
export const rootPackage = () => readJson(join(ROOT, 'package.json'))

/** npm's `libc` field and node-gyp-build's libc tag for a Rust target's ABI (null: not Linux). */
const LIBC = { gnu: 'glibc', musl: 'musl' }

/** Where a binary built for a Rust target lives, relative to a package root, as node-gyp-build looks for it. */
export function binaryPath(triple) {
  const t = parseTriple(triple)
  const libc = t.platform === 'linux' ? LIBC[t.abi] : undefined
  if (t.platform === 'linux' && !libc) throw new Error(`${triple}: no libc tag for ABI ${t.abi}`)
  return `prebuilds/${t.platform}-${t.arch}/${BINARY_NAME}.napi${libc ? `.${libc}` : ''}.node`
}

/** Every platform of napi.targets: its package name and directory, npm's os/cpu/libc, the binary's path. */
export function platforms(root = rootPackage()) {
  return (root.napi?.targets ?? []).map((triple) => {
    const t = parseTriple(triple)
    const libc = t.platform === 'linux' ? LIBC[t.abi] : undefined
    return { triple, platform: t.platformArchABI, name: `${SCOPE}/${t.platformArchABI}`, dir: join('npm', t.platformArchABI), os: t.platform, cpu: t.arch, libc, binary: binaryPath(triple) }
  })
}

/**
 * The release workflow's settings for a target: the runner that builds it (the Linux ones
 * cross-compile from x64: gcc cross toolchains for glibc through --use-napi-cross, zig for musl
 * through -x) and the runner that tests it (musl in Alpine's Node containers).
 */
function releaseSettings(p) {
  const runner = {
    'linux-x64': 'ubuntu-latest', 'linux-arm64': 'ubuntu-24.04-arm', 'darwin-x64': 'macos-15-intel',
    'darwin-arm64': 'macos-latest', 'win32-x64': 'windows-latest',
  }[`${p.os}-${p.cpu}`]
  if (!runner) throw new Error(`${p.triple}: no GitHub runner to test it on`)
  const build = p.os === 'linux'
    ? { host: 'ubuntu-latest', flags: p.libc === 'musl' ? '-x' : '--use-napi-cross', zig: p.libc === 'musl' }
    : { host: p.os === 'darwin' ? 'macos-latest' : runner, flags: '', zig: false }
  return { ...build, testHost: runner, alpine: p.libc === 'musl' }
}

function platformFiles(root) {
  const files = {}
  for (const p of platforms(root)) {
    const pkg = {
      name: p.name,
      version: root.version,
      description: `The ${p.triple} binary of chainlog (installed by chainlog itself; do not depend on it directly)`,
      license: root.license,
      ...(root.repository ? { repository: root.repository } : {}),
      files: [p.binary],
      os: [p.os],
      cpu: [p.cpu],
      ...(p.libc ? { libc: [p.libc] } : {}),
      engines: root.engines,
      publishConfig: { access: 'public' },
    }
    files[join(p.dir, 'package.json')] = json(pkg)
    files[join(p.dir, 'README.md')] =
      `# \`${p.name}\`\n\nThe prebuilt **${p.triple}** binary (\`${p.binary}\`) of [\`chainlog\`](https://www.npmjs.com/package/chainlog).\n` +
      `Installed automatically as an optional dependency of \`chainlog\` on matching machines; do not install it directly.\n`
  }
  return files
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const root = rootPackage()
  if (args.includes('--matrix')) {
    console.log(JSON.stringify(platforms(root).map((p) => ({ platform: p.platform, target: p.triple, binary: p.binary, ...releaseSettings(p) }))))
  } else {
    const check = args.includes('--check')
    const files = platformFiles(root)
    const stale = []
    for (const [rel, text] of Object.entries(files)) {
      const file = join(ROOT, rel)
      if (existsSync(file) && readFileSync(file, 'utf8') === text) continue
      stale.push(rel)
      if (!check) { mkdirSync(dirname(file), { recursive: true }); writeFileSync(file, text) }
    }
    // A platform dropped from napi.targets leaves no package behind.
    const wanted = new Set(platforms(root).map((p) => p.platform))
    for (const dir of readdirSync(join(ROOT, 'npm'), { withFileTypes: true })) {
      if (!dir.isDirectory() || wanted.has(dir.name)) continue
      stale.push(`npm/${dir.name}/ (not in napi.targets)`)
      if (!check) rmSync(join(ROOT, 'npm', dir.name), { recursive: true })
    }
    if (check && stale.length) {
      console.error(`out of date (run node scripts/platform-packages.mjs): ${stale.join(', ')}`)
      process.exit(1)
    }
    if (!check) console.log(stale.length ? `updated: ${stale.join(', ')}` : 'platform packages up to date')
  }
}
