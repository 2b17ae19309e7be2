// Hostile-caller probes against a core through its ChainlogCore wrapper, one per process:
//   node --import=tsx --expose-gc __test__/helpers/hostile-core-probe.ts <native|js> <probe>
// Prints "ok <probe>" and exits 0 when the core held up (a result or a ChainlogError, never a
// crash); __test__/core-hostile.test.ts runs each probe on both cores.
import assert from 'node:assert/strict'
import { loadCore } from '../../ts/core/load.ts'
import type { BackendName, ChainlogCore } from '../../ts/core/interface.ts'
import { ChainlogError } from '../../ts/errors.ts'

const ZERO = Buffer.alloc(32)
const HASH = 'blake3' as const
const STREAM = 'hostile'
const MAX = 1 << 24

function segment(core: ChainlogCore, n: number, size: number) {
  const payloads = Buffer.alloc(n * size)
  for (let k = 0; k < n; k++) payloads.fill(k + 1, k * size, (k + 1) * size)
  const r = core.encodeBatch({
    hash: HASH, stream: STREAM, firstOffset: 0, prevHash: ZERO, kind: 0, codec: 0, level: 0,
    payloads, lengths: new Uint32Array(n).fill(size), timestamps: new Float64Array(n).fill(1000), wantHashes: true,
  })
  return { bytes: Buffer.from(r.bytes), positions: r.positions, hashes: r.hashes!, payloads }
}

/** A result, or a ChainlogError: anything else (a TypeError, a RangeError, a crash) fails. */
async function clean(what: string, run: () => unknown): Promise<unknown> {
  try {
    return await run()
  } catch (err) {
    assert.ok(err instanceof ChainlogError, `${what}: ${String(err)}`)
    return err
  }
}

function refusedShared(what: string, run: () => unknown, name: string): Promise<void> | void {
  const check = (err: unknown) => {
    assert.ok(err instanceof ChainlogError, `${what}: ${String(err)}`)
    assert.equal(err.code, 'ERR_INVALID_ARGUMENT', err.message)
    assert.match(err.message, new RegExp(`${name}.*SharedArrayBuffer`), err.message)
  }
  try {
    const r = run()
    if (r instanceof Promise) return r.then(() => assert.fail(`${what} was not refused`), check)
  } catch (err) {
    return check(err)
  }
  assert.fail(`${what} was not refused`)
}

/** A view over an ArrayBuffer that `shrink()` resizes to nothing. */
function shrinkable(bytes: Uint8Array) {
  // ES2024's resizable ArrayBuffer (Node 20 has it; the type-check's lib predates it).
  type Resizable = ArrayBuffer & { resize(length: number): void }
  const ResizableArrayBuffer = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => Resizable
  const ab = new ResizableArrayBuffer(bytes.length, { maxByteLength: bytes.length })
  const view = new Uint8Array(ab)
  view.set(bytes)
  return { view, shrink: () => ab.resize(0) }
}

/** A view whose buffer `detach()` transfers away. */
function detachable(bytes: Uint8Array) {
  const ab = new ArrayBuffer(bytes.length)
  const view = new Uint8Array(ab)
  view.set(bytes)
  return { view, detach: () => void structuredClone(ab, { transfer: [ab] }) }
}

const probes: Record<string, (core: ChainlogCore) => Promise<void>> = {
  /** A getter on a later field of the input shrinks or detaches the buffer of an earlier one. */
  async getters(core) {
    const seg = segment(core, 3, 4000)
    for (const make of [shrinkable, detachable]) {
      for (let i = 0; i < 20; i++) {
        const a = make(seg.bytes)
        const hurt = () => ('shrink' in a ? a.shrink() : a.detach())
        const scan = { hash: HASH, stream: STREAM, data: a.view, basePosition: 0, firstOffset: 0, prevHash: ZERO, prevTimestamp: null, verifyChain: true, get final() { hurt(); globalThis.gc?.(); return true } }
        const r = await clean('scanSegmentAsync', () => core.scanSegmentAsync(scan as never))
        if (!(r instanceof ChainlogError)) assert.ok((r as { count: number }).count <= 3)
        const b = make(seg.bytes)
        const hurtB = () => ('shrink' in b ? b.shrink() : b.detach())
        const decode = { hash: HASH, stream: STREAM, data: b.view, basePosition: 0, positions: seg.positions, expectPrevHash: ZERO, payloadsFrom: 0, get maxPayloadBytes() { hurtB(); globalThis.gc?.(); return MAX } }
        await clean('decodeRecordsAsync', () => core.decodeRecordsAsync(decode as never))
        const c = make(seg.bytes)
        const hurtC = () => ('shrink' in c ? c.shrink() : c.detach())
        await clean('decodeRecords', () => core.decodeRecords({ ...decode, data: c.view, get maxPayloadBytes() { hurtC(); return MAX } } as never))
        const d = make(seg.bytes)
        const hurtD = () => ('shrink' in d ? d.shrink() : d.detach())
        await clean('findValidRecord', () => core.findValidRecord({ data: d.view, basePosition: 0, get final() { hurtD(); return true } } as never))
        const e = make(seg.bytes)
        const hurtE = () => ('shrink' in e ? e.shrink() : e.detach())
        await clean('decodeOne', () => core.decodeOne({ hash: HASH, stream: STREAM, data: e.view, basePosition: 0, position: 0, expectPrevHash: ZERO, get maxPayloadBytes() { hurtE(); return MAX } } as never))
        const prev = make(ZERO)
        const commitment = make(ZERO)
        const hurtHashes = () => ('shrink' in prev ? (prev.shrink(), (commitment as ReturnType<typeof shrinkable>).shrink()) : (prev.detach(), (commitment as ReturnType<typeof detachable>).detach()))
        await clean('recordHash', () => core.recordHash(HASH, { stream: STREAM, prevHash: prev.view, offset: 1, timestamp: 1, kind: 0, get payloadLength() { hurtHashes(); return 1 }, commitment: commitment.view } as never))
      }
    }
  },

  /** Views of a SharedArrayBuffer are refused by name, by every entry point. */
  async shared(core) {
    const seg = segment(core, 2, 100)
    const sab = (bytes: Uint8Array) => {
      const v = new Uint8Array(new SharedArrayBuffer(bytes.length))
      v.set(bytes)
      return v
    }
    const data = sab(seg.bytes)
    const scan = { hash: HASH, stream: STREAM, data: seg.bytes, basePosition: 0, firstOffset: 0, prevHash: ZERO, prevTimestamp: null, verifyChain: true, final: true } as const
    await refusedShared('scanSegment', () => core.scanSegment({ ...scan, data }), 'data')
    await refusedShared('scanSegmentAsync', () => core.scanSegmentAsync({ ...scan, prevHash: sab(ZERO) }), 'prevHash')
    await refusedShared('findValidRecord', () => core.findValidRecord({ data, basePosition: 0, final: true }), 'data')
    const decode = { hash: HASH, stream: STREAM, data: seg.bytes, basePosition: 0, positions: seg.positions, expectPrevHash: ZERO, payloadsFrom: 0, maxPayloadBytes: MAX } as const
    await refusedShared('decodeRecords', () => core.decodeRecords({ ...decode, data }), 'data')
    const positions = new Float64Array(new SharedArrayBuffer(16))
    positions.set(seg.positions)
    await refusedShared('decodeRecordsAsync', () => core.decodeRecordsAsync({ ...decode, positions }), 'positions')
    await refusedShared('decodeOne', () => core.decodeOne({ hash: HASH, stream: STREAM, data, basePosition: 0, position: 0, expectPrevHash: null, maxPayloadBytes: MAX }), 'data')
    await refusedShared('commitment', () => core.commitment(HASH, data), 'payload')
    await refusedShared('recordHash', () => core.recordHash(HASH, { stream: STREAM, prevHash: sab(ZERO), offset: 1, timestamp: 1, kind: 0, payloadLength: 0, commitment: ZERO }), 'prevHash')
    await refusedShared('crc32', () => core.crc32(data), 'data')
    await refusedShared('compress', () => core.compress(1, 0, data), 'data')
    await refusedShared('decompress', () => core.decompress(0, data, MAX), 'stored')
    const lengths = new Uint32Array(new SharedArrayBuffer(4))
    lengths[0] = 3
    const batch = { hash: HASH, stream: STREAM, firstOffset: 0, prevHash: ZERO, kind: 0, codec: 0, level: 0, payloads: Buffer.from('abc'), lengths: Uint32Array.of(3), timestamps: Float64Array.of(1) } as const
    await refusedShared('encodeBatch payloads', () => core.encodeBatch({ ...batch, payloads: sab(Buffer.from('abc')) }), 'payloads')
    await refusedShared('encodeBatch lengths', () => core.encodeBatch({ ...batch, lengths }), 'lengths')
    await refusedShared('encodeBatch into', () => core.encodeBatch({ ...batch, into: sab(Buffer.alloc(256)) }), 'into')
  },

  /** A `positions` getter that returns another array on each read: the result is one decode's. */
  async 'decode-count'(core) {
    const seg = segment(core, 5, 50)
    let reads = 0
    const input = {
      hash: HASH, stream: STREAM, data: seg.bytes, basePosition: 0, expectPrevHash: ZERO, payloadsFrom: 0, maxPayloadBytes: MAX,
      get positions() { return reads++ === 0 ? seg.positions.subarray(0, 1) : seg.positions },
    }
    for (const r of [core.decodeRecords(input), await core.decodeRecordsAsync({ ...input, get positions() { return reads++ % 2 ? seg.positions.subarray(0, 1) : seg.positions } })]) {
      assert.equal(r.offsets.length, r.count)
      assert.equal(r.payloadEnds.length, r.count)
      assert.equal(r.hashes.length, 32 * r.count)
      assert.equal(r.payloads.length, 50 * r.count)
      assert.deepEqual(r.hashes, seg.hashes.subarray(0, 32 * r.count))
    }
  },

  /** A damaged record's error carries where it is as fields, and no code in its message. */
  async 'error-details'(core) {
    const seg = segment(core, 3, 100)
    const bad = Buffer.from(seg.bytes)
    const at = seg.positions[1]
    bad[at + 40] ^= 1
    const decode = { hash: HASH, stream: STREAM, data: bad, basePosition: 0, positions: seg.positions, expectPrevHash: ZERO, payloadsFrom: 0, maxPayloadBytes: MAX }
    for (const run of [() => core.decodeRecords(decode), () => core.decodeRecordsAsync(decode)]) {
      const err = await clean('decode', run)
      assert.ok(err instanceof ChainlogError)
      assert.equal(err.code, 'ERR_CORRUPT')
      assert.equal(err.details.position, at)
      assert.doesNotMatch(err.message, /^ERR_/)
    }
    const link = await clean('link', () => core.decodeRecords({ ...decode, data: seg.bytes, positions: seg.positions.subarray(1), expectPrevHash: seg.hashes.subarray(64, 96) }))
    assert.ok(link instanceof ChainlogError)
    assert.equal(link.code, 'ERR_CHAIN_BROKEN')
    assert.equal(link.details.position, at)
    assert.equal(link.details.offset, 1)
  },

  /** decodeOne's record owns its memory: no view of Node's shared Buffer pool. */
  async 'own-memory'(core) {
    const seg = segment(core, 3, 100)
    for (let k = 0; k < 3; k++) {
      const r = core.decodeOne({ hash: HASH, stream: STREAM, data: seg.bytes.subarray(seg.positions[k], seg.positions[k] + 166), basePosition: seg.positions[k], position: seg.positions[k], expectPrevHash: null, maxPayloadBytes: MAX })
      assert.deepEqual(r.payload, seg.payloads.subarray(100 * k, 100 * (k + 1)))
      assert.ok(r.payload.buffer.byteLength < 1024, `the payload is a view of a ${r.payload.buffer.byteLength}-byte buffer`)
    }
  },
}

const [backend, name] = process.argv.slice(2) as [BackendName, string]
const probe = probes[name]
if (probe === undefined) {
  console.error(`unknown probe ${name}; known: ${Object.keys(probes).join(', ')}`)
  process.exit(2)
}
try {
  await probe(await loadCore(backend))
  console.log(`ok ${name}`)
} catch (err) {
  console.error(err)
  process.exit(1)
}
