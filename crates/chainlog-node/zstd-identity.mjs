#!/usr/bin/env node
// Checks that the native core's zstd frames equal @bokuweb/zstd-wasm's (the JS core's compressor)
// byte for byte, on many inputs and every level. Run after `npm run build:native` and before any
// change to the zstd-sys pin in Cargo.toml or to the wasm package's version:
//   node crates/chainlog-node/zstd-identity.mjs [cases]
// Exit code 1 and a list of the differing cases when any frame differs.
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('../..', import.meta.url))
const require = createRequire(join(root, 'package.json'))
// The local build, found as the loader finds it (prebuilds/, see scripts/build-native.mjs).
const native = require(require('node-gyp-build').path(root))
const wasm = require('@bokuweb/zstd-wasm')
await wasm.init()

let seed = 0x5eed
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1))
const WORDS = ['{"id":', '"user":"', 'alice', 'bob', '","amount":', '12.50', '},', 'event', ' ', '\n']
function input(size) {
  const b = Buffer.alloc(size)
  const shape = int(0, 4)
  if (shape === 0) for (let i = 0; i < size; i++) b[i] = int(0, 255)
  else if (shape === 1) b.fill(int(0, 255))
  else if (shape === 2) for (let o = 0; o < size;) o += b.write(WORDS[int(0, WORDS.length - 1)], o)
  else if (shape === 3) { const p = int(1, 64); for (let i = 0; i < size; i++) b[i] = i < p ? int(0, 255) : b[i - p] }
  else for (let o = 0; o < size;) { const n = Math.min(size - o, int(1, 300)); if (rand() < 0.3) for (let i = 0; i < n; i++) b[o + i] = int(0, 255); else b.fill(97 + int(0, 5), o, o + n); o += n }
  return b
}

const cases = Number(process.argv[2] ?? 400)
let total = 0
const bad = []
for (let k = 0; k < cases; k++) {
  const big = k % 50 === 49
  const data = input(big ? int(1 << 20, 3 << 20) : rand() < 0.2 ? int(0, 64) : int(0, 300_000))
  const levels = big ? [1, 3, 6] : data.length <= 70_000 ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 19, 22] : [1, 2, 3, 4, 5, 6, 7, 8, 9]
  for (const level of levels) {
    total++
    const a = native.compress(2, level, data)
    const b = Buffer.from(wasm.compress(data, level))
    if (!a.equals(b)) bad.push(`size ${data.length} level ${level}: native ${a.length} B, wasm ${b.length} B`)
  }
}
console.log(`${total - bad.length} identical, ${bad.length} different (${cases} inputs)`)
for (const line of bad.slice(0, 30)) console.log('  ' + line)
process.exit(bad.length ? 1 : 0)
