// Hostile-caller probes against the raw native binding (prebuilds/, or $CHAINLOG_NATIVE_DIR), one per process:
//   node --expose-gc __test__/helpers/hostile-probe.mjs <probe>
// Plain JavaScript (no tsx) so scripts/test-valgrind.mjs can run the same probes under valgrind.
// Each probe exits 0 and prints "ok <probe>" when the binding held up; a wrong result exits 1
// with the reason; a crash shows as a signal. __test__/core-hostile.test.ts runs every probe.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)
/** The binary the loader would pick: $CHAINLOG_NATIVE_DIR's, else prebuilds/ (npm run build:native), found as node-gyp-build finds it. */
function binaryPath() {
  const dir = process.env.CHAINLOG_NATIVE_DIR
  if (dir !== undefined) {
    const file = readdirSync(dir).find((f) => f.endsWith('.node'))
    return file === undefined ? undefined : join(dir, file)
  }
  try {
    return require('node-gyp-build').path(ROOT)
  } catch {
    return undefined
  }
}
const path = binaryPath()
if (path === undefined) {
  console.error('no native binary (npm run build:native writes prebuilds/)')
  process.exit(2)
}
const binding = require(path)

const ZERO = Buffer.alloc(32)
const HASH = 'blake3'
const STREAM = 'hostile'
const MAX = 1 << 24
/** Fewer rounds under valgrind (scripts/test-valgrind.mjs sets HOSTILE_QUICK), where each is slow. */
const rounds = (n) => (process.env.HOSTILE_QUICK ? Math.max(2, Math.floor(n / 20)) : n)

/** `n` records of `size` bytes each (payload k filled with k + 1), framed as one segment. */
function segment(n, size) {
  const payloads = Buffer.alloc(n * size)
  for (let k = 0; k < n; k++) payloads.fill(k + 1, k * size, (k + 1) * size)
  const lengths = new Uint32Array(n).fill(size)
  const timestamps = new Float64Array(n).fill(1000)
  const into = Buffer.alloc(payloads.length + n * 66)
  const positions = new Float64Array(n)
  const lastHash = Buffer.alloc(32)
  const hashes = Buffer.alloc(32 * n)
  const len = binding.encodeInto(HASH, STREAM, 0, ZERO, 0, 0, 0, payloads, lengths, timestamps, into, positions, lastHash, hashes)
  return { bytes: into.subarray(0, len), positions, hashes, payloads }
}

/** The packed decode result's count, payloads and hashes (see ts/core/native.ts unpackDecode). */
function unpack(f) {
  const n = f[0]
  const p = f[1]
  const at = f.byteOffset + (2 + 3 * n) * 8
  const bytes = Buffer.from(f.buffer)
  return {
    n,
    hashes: bytes.subarray(at + 32 * n, at + 64 * n),
    payloads: bytes.subarray(at + 64 * n + 2 * n, at + 64 * n + 2 * n + p),
  }
}

function refused(fn, what) {
  try {
    fn()
  } catch (err) {
    assert.equal(err.code, 'ERR_INVALID_ARGUMENT', `${what}: ${err.message}`)
    return err
  }
  assert.fail(`${what} was not refused`)
}

async function refusedAsync(fn, what) {
  try {
    await fn()
  } catch (err) {
    assert.equal(err.code, 'ERR_INVALID_ARGUMENT', `${what}: ${err.message}`)
    return err
  }
  assert.fail(`${what} was not refused`)
}

const decodeAsync = (data, seg, n) =>
  binding.decodeRecordsAsync(HASH, STREAM, data, 0, seg.positions.subarray(0, n), ZERO, 0, MAX)
const scanAsync = (data) => binding.scanSegmentAsync(HASH, STREAM, data, 0, 0, ZERO, undefined, true, true)

/** The async result must be the records as they were when the call was made. */
function assertDecoded(f, seg, n) {
  const r = unpack(f)
  assert.equal(r.n, n)
  assert.deepEqual(r.payloads, seg.payloads.subarray(0, r.payloads.length))
  assert.deepEqual(r.hashes, seg.hashes.subarray(0, 32 * n))
}

function assertScanned(r, seg, n) {
  assert.equal(r.stop, 'end', r.reason)
  assert.equal(r.count, n)
  assert.deepEqual(r.lastHash, seg.hashes.subarray(32 * (n - 1), 32 * n))
}

const probes = {
  /** Writes into the input while the pool thread decodes: the result is the bytes it hashed. */
  async 'async-writes'() {
    const seg = segment(4, 20_000)
    for (let i = 0; i < rounds(400); i++) {
      const data = Buffer.from(seg.bytes)
      const decoding = decodeAsync(data, seg, 4)
      const scanning = scanAsync(data)
      for (let k = 0; k < data.length; k += 997) data[k] ^= 0x5a
      assertDecoded(await decoding, seg, 4)
      assertScanned(await scanning, seg, 4)
    }
  },

  /** A resizable ArrayBuffer shrunk to nothing right after the call. */
  async 'async-resize'() {
    const seg = segment(3, 5000)
    for (let i = 0; i < rounds(50); i++) {
      const ab = new ArrayBuffer(seg.bytes.length, { maxByteLength: seg.bytes.length * 2 })
      const data = new Uint8Array(ab)
      data.set(seg.bytes)
      const decoding = decodeAsync(data, seg, 3)
      const scanning = scanAsync(data)
      ab.resize(0)
      assertDecoded(await decoding, seg, 3)
      assertScanned(await scanning, seg, 3)
    }
  },

  /** The input's buffer transferred away and collected while the pool thread works. */
  async 'async-transfer'() {
    assert.equal(typeof globalThis.gc, 'function', 'run with --expose-gc')
    const seg = segment(3, 30_000)
    for (let i = 0; i < rounds(30); i++) {
      const ab = new ArrayBuffer(seg.bytes.length)
      const data = new Uint8Array(ab)
      data.set(seg.bytes)
      const decoding = decodeAsync(data, seg, 3)
      const scanning = scanAsync(data)
      structuredClone(ab, { transfer: [ab] })
      assert.equal(data.length, 0)
      globalThis.gc()
      // New allocations of the same size, likely in the freed memory.
      const junk = Array.from({ length: 8 }, () => Buffer.alloc(seg.bytes.length, 0xee))
      assertDecoded(await decoding, seg, 3)
      assertScanned(await scanning, seg, 3)
      assert.equal(junk.length, 8)
    }
  },

  /** Every byte argument, input or output, viewing a SharedArrayBuffer is refused by name. */
  async shared() {
    const seg = segment(2, 100)
    const sab = (bytes) => {
      const v = new Uint8Array(new SharedArrayBuffer(bytes.length))
      v.set(bytes)
      return v
    }
    const data = sab(seg.bytes)
    const hash = sab(ZERO)
    const named = (err, name) => assert.match(err.message, new RegExp(`${name}.*SharedArrayBuffer`), err.message)
    named(refused(() => binding.scanSegment(HASH, STREAM, data, 0, 0, ZERO, undefined, true, true), 'scan data'), 'data')
    named(refused(() => binding.scanSegment(HASH, STREAM, seg.bytes, 0, 0, hash, undefined, true, true), 'scan prevHash'), 'prevHash')
    named(await refusedAsync(() => binding.scanSegmentAsync(HASH, STREAM, data, 0, 0, ZERO, undefined, true, true), 'scanAsync data'), 'data')
    named(refused(() => binding.findValidRecord(data, 0, true), 'find data'), 'data')
    named(refused(() => binding.decodeRecords(HASH, STREAM, data, 0, seg.positions, ZERO, 0, MAX), 'decode data'), 'data')
    const sharedPositions = new Float64Array(new SharedArrayBuffer(16))
    named(refused(() => binding.decodeRecords(HASH, STREAM, seg.bytes, 0, sharedPositions, ZERO, 0, MAX), 'decode positions'), 'positions')
    named(refused(() => binding.decodeRecords(HASH, STREAM, seg.bytes, 0, seg.positions, hash, 0, MAX), 'decode expectPrevHash'), 'expectPrevHash')
    named(await refusedAsync(() => binding.decodeRecordsAsync(HASH, STREAM, data, 0, seg.positions, ZERO, 0, MAX), 'decodeAsync data'), 'data')
    named(refused(() => binding.commitment(HASH, data), 'commitment'), 'payload')
    named(refused(() => binding.recordHash(HASH, STREAM, hash, 0, 0, 0, 0, ZERO), 'recordHash prevHash'), 'prevHash')
    named(refused(() => binding.recordHash(HASH, STREAM, ZERO, 0, 0, 0, 0, hash), 'recordHash commitment'), 'commitment')
    named(refused(() => binding.crc32(data), 'crc32'), 'data')
    named(refused(() => binding.compress(1, 0, data), 'compress'), 'data')
    named(refused(() => binding.decompress(0, data, MAX), 'decompress'), 'stored')
    const decoder = binding.recordDecoder(HASH, STREAM)
    named(refused(() => binding.decodeOneInto(decoder, data, 0, 0, undefined, MAX, Buffer.alloc(512)), 'decodeOne data'), 'data')
    named(refused(() => binding.decodeOneInto(decoder, seg.bytes, 0, 0, hash, MAX, Buffer.alloc(512)), 'decodeOne expectPrevHash'), 'expectPrevHash')
    named(refused(() => binding.decodeOneInto(decoder, seg.bytes, 0, 0, undefined, MAX, sab(Buffer.alloc(512))), 'decodeOne out'), 'out')
    const payloads = Buffer.from('abcdef')
    const lengths = Uint32Array.of(2, 4)
    const timestamps = Float64Array.of(5, 6)
    const encode = (over) => {
      const a = { prevHash: ZERO, payloads, lengths, timestamps, into: Buffer.alloc(256), positions: new Float64Array(2), lastHash: Buffer.alloc(32), hashes: Buffer.alloc(64), ...over }
      return binding.encodeInto(HASH, STREAM, 0, a.prevHash, 0, 0, 0, a.payloads, a.lengths, a.timestamps, a.into, a.positions, a.lastHash, a.hashes)
    }
    assert.equal(encode({}), 6 + 2 * 66)
    const sharedLengths = new Uint32Array(new SharedArrayBuffer(8))
    sharedLengths.set(lengths)
    const sharedTimes = new Float64Array(new SharedArrayBuffer(16))
    sharedTimes.set(timestamps)
    for (const [name, over] of [
      ['prevHash', { prevHash: hash }], ['payloads', { payloads: sab(payloads) }], ['lengths', { lengths: sharedLengths }],
      ['timestamps', { timestamps: sharedTimes }], ['into', { into: sab(Buffer.alloc(256)) }],
      ['positionsOut', { positions: new Float64Array(new SharedArrayBuffer(16)) }], ['lastHashOut', { lastHash: sab(Buffer.alloc(32)) }],
      ['hashesOut', { hashes: sab(Buffer.alloc(64)) }],
    ]) {
      named(refused(() => encode(over), `encodeInto ${name}`), name)
    }
  },

  /** A Worker rewrites `lengths` (shared memory) while encodeInto runs: refused, never a panic. */
  async 'worker-race'() {
    const lengths = new Uint32Array(new SharedArrayBuffer(4 * 64))
    lengths.fill(4)
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads')
       const l = new Uint32Array(workerData)
       for (let i = 0; ; i++) { l[i & 63] = i & 1 ? 4 : 0xfffffff0; if ((i & 0xffff) === 0) Atomics.load(l, 0) }`,
      { eval: true, workerData: lengths.buffer },
    )
    try {
      const payloads = Buffer.alloc(4 * 64)
      const timestamps = new Float64Array(64)
      for (let i = 0; i < rounds(2000); i++) {
        refused(() => binding.encodeInto(HASH, STREAM, 0, ZERO, 0, 0, 0, payloads, lengths, timestamps, Buffer.alloc(payloads.length + 64 * 66), new Float64Array(64), Buffer.alloc(32), undefined), 'shared lengths')
      }
    } finally {
      await worker.terminate()
    }
  },

  /** Values that are not what the binding takes: refused, each error naming its argument. */
  async 'wrong-types'() {
    const seg = segment(2, 100)
    const decoder = binding.recordDecoder(HASH, STREAM)
    const cases = [
      ['data', () => binding.scanSegment(HASH, STREAM, 'bytes', 0, 0, ZERO, undefined, true, true)],
      ['prevHash', () => binding.scanSegment(HASH, STREAM, seg.bytes, 0, 0, new Float64Array(4), undefined, true, true)],
      ['data', () => binding.findValidRecord({ length: 10 }, 0, true)],
      ['positions', () => binding.decodeRecords(HASH, STREAM, seg.bytes, 0, [0], ZERO, 0, MAX)],
      ['positions', () => binding.decodeRecords(HASH, STREAM, seg.bytes, 0, new Uint8Array(8), ZERO, 0, MAX)],
      ['payload', () => binding.commitment(HASH, null)],
      ['commitment', () => binding.recordHash(HASH, STREAM, ZERO, 0, 0, 0, 0, 'x')],
      ['stored', () => binding.decompress(0, new DataView(new ArrayBuffer(4)), MAX)],
      ['basePosition', () => binding.decodeOneInto(decoder, seg.bytes, '0', 0, undefined, MAX, Buffer.alloc(512))],
      ['hash', () => binding.recordDecoder(7, STREAM)],
      ['lengths', () => binding.encodeInto(HASH, STREAM, 0, ZERO, 0, 0, 0, Buffer.alloc(2), [2], Float64Array.of(1), Buffer.alloc(100), new Float64Array(1), Buffer.alloc(32), undefined)],
      ['firstOffset', () => binding.encodeInto(HASH, STREAM, 1.5, ZERO, 0, 0, 0, Buffer.alloc(2), Uint32Array.of(2), Float64Array.of(1), Buffer.alloc(100), new Float64Array(1), Buffer.alloc(32), undefined)],
      ['position', () => binding.decodeRecords(HASH, STREAM, seg.bytes, 0, Float64Array.of(NaN), ZERO, 0, MAX)],
      ['position', () => binding.decodeRecords(HASH, STREAM, seg.bytes, 0, Float64Array.of(2 ** 53), ZERO, 0, MAX)],
    ]
    for (const [name, fn] of cases) {
      const err = refused(fn, name)
      assert.match(err.message, new RegExp(name), err.message)
    }
    // A forged or foreign decoder.
    for (const notOurs of [{}, Buffer.alloc(8), undefined, 7, binding.scanSegment]) {
      refused(() => binding.decodeOneInto(notOurs, seg.bytes, 0, 0, undefined, MAX, Buffer.alloc(512)), 'decoder')
    }
  },

  /** Where a record is bad, the error says so in fields, not only in text. */
  async 'error-fields'() {
    const seg = segment(3, 100)
    const bad = Buffer.from(seg.bytes)
    const at = seg.positions[1]
    bad[at + 40] ^= 1 // inside the second record's header: its CRC fails
    for (const run of [
      () => binding.decodeRecords(HASH, STREAM, bad, 0, seg.positions, ZERO, 0, MAX),
      () => binding.decodeRecordsAsync(HASH, STREAM, bad, 0, seg.positions, ZERO, 0, MAX),
    ]) {
      try {
        await run()
        assert.fail('a damaged record decoded')
      } catch (err) {
        assert.equal(err.code, 'ERR_CORRUPT', err.message)
        assert.equal(err.position, at)
        assert.doesNotMatch(err.message, /^ERR_/)
      }
    }
    // The chain: record 0 decoded against the wrong prev hash names its position and offset.
    try {
      binding.decodeRecords(HASH, STREAM, seg.bytes, 0, seg.positions.subarray(1), seg.hashes.subarray(64, 96), 0, MAX)
      assert.fail('a broken link decoded')
    } catch (err) {
      assert.equal(err.code, 'ERR_CHAIN_BROKEN', err.message)
      assert.equal(err.position, at)
      assert.equal(err.offset, 1)
    }
  },

  /** encodeInto writes nothing when an output is the wrong size. */
  async 'encode-no-partial-write'() {
    const into = Buffer.alloc(256, 0xaa)
    refused(() => binding.encodeInto(HASH, STREAM, 0, ZERO, 0, 0, 0, Buffer.from('abcdef'), Uint32Array.of(2, 4), Float64Array.of(5, 6), into, new Float64Array(3), Buffer.alloc(32), undefined), 'short positionsOut')
    assert.ok(into.every((b) => b === 0xaa), 'into was written before the outputs were checked')
  },
}

const name = process.argv[2]
if (!(name in probes)) {
  console.error(`unknown probe ${name}; known: ${Object.keys(probes).join(', ')}`)
  process.exit(2)
}
try {
  await probes[name]()
  console.log(`ok ${name}`)
} catch (err) {
  console.error(err)
  process.exit(1)
}

