#!/usr/bin/env node
// `npm run build:native`: builds the addon with `napi build` and puts it where node-gyp-build
// looks for it, prebuilds/<platform>-<arch>/chainlog.napi[.glibc|.musl].node under the package
// root (the same path it has inside its platform package, see scripts/platform-packages.mjs).
//
//   npm run build:native                                   this machine's target
//   npm run build:native -- --target aarch64-unknown-linux-gnu [napi build flags…]
//
// Arguments are passed on to `napi build`. napi writes chainlog.<platform>.node into a staging
// directory of this process under target/ (two builds for different targets may run at once),
// from which the file is moved (atomically) into prebuilds/.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { platforms, ROOT } from './platform-packages.mjs'

const STAGING = join(ROOT, 'target', 'napi', `out-${process.pid}`)
rmSync(STAGING, { recursive: true, force: true })
const napi = join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
execFileSync(process.execPath, [
  napi, 'build', '--platform', '--release',
  '--manifest-path', 'crates/chainlog-node/Cargo.toml', '--package-json-path', 'package.json',
  // The declarations of the #[napi] exports type ts/core/native.ts (npm test checks they are committed).
  '--output-dir', STAGING, '--no-js', '--dts', '../../../ts/core/native-binding.d.ts',
  ...process.argv.slice(2),
], { cwd: ROOT, stdio: 'inherit' })

const built = readdirSync(STAGING).filter((f) => f.endsWith('.node'))
if (built.length !== 1) throw new Error(`napi build left ${built.length} binaries in ${STAGING}: ${built.join(', ')}`)
// napi names it chainlog.<platformArchABI>.node; that names the target.
const platform = platforms().find((p) => built[0] === `chainlog.${p.platform}.node`)
if (!platform) throw new Error(`${built[0]}: not a target of package.json napi.targets`)
const dest = join(ROOT, platform.binary)
mkdirSync(dirname(dest), { recursive: true })
renameSync(join(STAGING, built[0]), dest)
rmSync(STAGING, { recursive: true, force: true })
console.log(`built ${platform.binary} (${platform.triple})`)
