/**
 * Fault suite, part 4: corruption. One byte of a closed store is changed (xor with a random
 * non-zero mask) in a segment, an offset index, a manifest or chainlog.json: every byte of the
 * files in the long run, a sample of each in `npm test`.
 * - segment: the flip is caught by read and by verify with the offset of the damaged record
 *   (only a flip in the very last record of the store may instead be cut as a torn tail); reads
 *   never return altered data; nothing is truncated in the middle of a file.
 * - index and manifest: rebuilt from the segments, never trusted: every record still reads back.
 * - chainlog.json: a clean ChainlogError or a store that still reads back, never a crash.
 */
import test, { type ExecutionContext } from 'ava'
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS, core } from './helpers/cores.ts'
import { count, faultSize, figures, LONG } from './helpers/faults.ts'
import { codeOf, segmentFile, segmentNumbers, tempDir } from './helpers/log-dir.ts'
import { int, payload, rng, seedFromEnv } from './helpers/random.ts'
import { ChainlogError, Log, type LogOptions } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const SEED = seedFromEnv(1234567)
const CODECS: LogOptions['compression'][] = ['none', 'lz4', 'zstd']

interface Rec {
  segment: number
  start: number
  end: number
  offset: number
}
interface Store {
  dir: string
  payloads: Map<number, Buffer>
  records: Rec[]
  segments: number[]
  sizes: Map<string, number>
}

async function buildStore(t: ExecutionContext, backend: BackendName, seed: number): Promise<Store> {
  const rand = rng(seed)
  const dir = tempDir(t, 'corrupt-src')
  const log = await Log.open(dir, { backend, compression: CODECS[int(rand, 0, 2)], checkpointEvery: int(rand, 3, 8), maxSegmentBytes: int(rand, 500, 900) })
  const payloads = new Map<number, Buffer>()
  for (let a = 0; a < 12; a++) {
    const events = Array.from({ length: int(rand, 1, 4) }, () => payload(rand, int(rand, 0, 60)))
    const r = await log.append('s', events)
    for (const [k, e] of events.entries()) payloads.set(r.firstOffset + k, e)
  }
  await log.close()
  const c = await core(backend)
  const segments = segmentNumbers(dir, 's')
  const records: Rec[] = []
  const sizes = new Map<string, number>()
  for (const n of segments) {
    const data = readFileSync(segmentFile(dir, 's', n))
    sizes.set(segmentFile(dir, 's', n), data.length)
    const r = c.scanSegment({ hash: 'blake3', stream: 's', data, basePosition: 0, firstOffset: null, prevHash: null, prevTimestamp: null, verifyChain: false, final: true })
    t.is(r.stop, 'end')
    for (let k = 0; k < r.count; k++) records.push({ segment: n, start: r.positions[k], end: k + 1 < r.count ? r.positions[k + 1] : data.length, offset: r.offsets[k] })
  }
  return { dir, payloads, records, segments, sizes }
}

/** A copy of the store with the byte at `at` of `file` (relative to the store) xor-ed with `mask`. */
function flipped(_t: ExecutionContext, store: Store, work: string, file: string, at: number, mask: number): void {
  rmSync(work, { recursive: true, force: true })
  cpSync(store.dir, work, { recursive: true })
  const path = join(work, file)
  const data = readFileSync(path)
  data[at] ^= mask
  writeFileSync(path, data)
}

/** Every data record that reads back equals what was appended. */
function checkSame(t: ExecutionContext, store: Store, records: { offset: number; payload: Buffer }[], where: string): number {
  for (const r of records) {
    if (!r.payload.equals(store.payloads.get(r.offset)!)) {
      figures('corruption').lost++
      t.fail(`${where}: offset ${r.offset} read back altered`)
    }
  }
  return records.length
}

for (const backend of BACKENDS) {
  test(`${backend}: a byte flipped in a segment is caught by read and verify at the damaged record's offset; nothing is cut mid-file`, async (t) => {
    const stores = faultSize(1, 3)
    for (let s = 0; s < stores; s++) {
      const seed = SEED + s + (backend === 'js' ? 100 : 0)
      const rand = rng(seed)
      const store = await buildStore(t, backend, seed)
      const work = tempDir(t, 'corrupt')
      const last = store.records[store.records.length - 1]
      const all = store.records.flatMap((r) => Array.from({ length: r.end - r.start }, (_, i) => [r, r.start + i] as const))
      const picks = LONG ? all : Array.from({ length: 60 }, () => all[int(rand, 0, all.length - 1)])
      for (const [rec, at] of picks) {
        const mask = int(rand, 1, 255)
        const file = join('s', `segment_${String(rec.segment).padStart(6, '0')}.log`)
        flipped(t, store, work, file, at, mask)
        const where = `seed ${seed}: ${file} byte ${at} ^ ${mask} (offset ${rec.offset})`
        const f = figures('corruption')
        f.trials++
        f.faults++
        const log = await Log.open(work, { backend })
        try {
          const cut = log.recovered.find((e) => e.action === 'truncated')
          for (const [path, size] of store.sizes) {
            const now = statSync(path.replace(store.dir, work)).size
            if (cut !== undefined && path.endsWith(file)) continue
            t.is(now, size, `${where}: ${path} keeps its size`)
          }
          if (cut !== undefined) {
            // Only the last record of the store can be taken for a torn tail.
            t.is(rec, last, `${where}: only the last record may be cut: ${JSON.stringify(cut)}`)
            t.like(cut, { position: rec.start, offset: rec.offset })
            t.is(statSync(join(work, file)).size, rec.start)
            f.found++
            count('corruption', 'segment flips cut as a torn tail (last record)')
            f.records += checkSame(t, store, await log.read('s', { verify: 'genesis' }), where)
            t.true((await log.verify()).ok, where)
            continue
          }
          let readCaught = false
          try {
            const got = await log.read('s', { verify: 'genesis' })
            f.records += checkSame(t, store, got, where)
          } catch (err) {
            readCaught = true
            t.true(err instanceof ChainlogError, `${where}: ${err}`)
            t.true(['ERR_CORRUPT', 'ERR_CHAIN_BROKEN'].includes(codeOf(err)!), `${where}: ${err}`)
            const offset = (err as ChainlogError).details.offset
            if (offset !== undefined) t.is(offset, rec.offset, `${where}: read names the damaged record: ${(err as Error).message}`)
          }
          // Everything before the damaged record still reads back.
          const before = [...store.payloads.keys()].filter((o) => o < rec.offset).length
          if (before > 0) f.records += checkSame(t, store, await log.read('s', { verify: 'none', limit: before }), where)
          const report = await log.verify('s')
          t.false(report.ok, `${where}: verify misses it`)
          const p = report.streams[0].problems[0]
          t.is(p?.offset, rec.offset, `${where}: verify names the damaged record: ${JSON.stringify(p)}`)
          t.true(['ERR_CORRUPT', 'ERR_CHAIN_BROKEN'].includes(p?.code), where)
          if (readCaught || !report.ok) f.found++
          if (readCaught) count('corruption', 'segment flips caught by read')
          count('corruption', 'segment flips caught by verify', report.ok ? 0 : 1)
        } finally {
          await log.close().catch(() => {})
        }
      }
    }
  })

  test(`${backend}: a byte flipped in an offset index or a manifest is never trusted: every record reads back and the file is rebuilt`, async (t) => {
    const seed = SEED + 7 + (backend === 'js' ? 100 : 0)
    const rand = rng(seed)
    const store = await buildStore(t, backend, seed)
    const work = tempDir(t, 'corrupt-meta')
    const files = [...store.segments.map((n) => join('s', `segment_${String(n).padStart(6, '0')}.log.idx`)), join('s', 'manifest.json')]
    for (const file of files) {
      const size = statSync(join(store.dir, file)).size
      const every = LONG
      const bytes = every ? Array.from({ length: size }, (_, i) => i) : Array.from({ length: 12 }, () => int(rand, 0, size - 1))
      for (const at of bytes) {
        const mask = int(rand, 1, 255)
        flipped(t, store, work, file, at, mask)
        const where = `${file} byte ${at} ^ ${mask}`
        const f = figures('corruption')
        f.trials++
        f.faults++
        count('corruption', file.endsWith('.idx') ? 'index flips' : 'manifest flips')
        const log = await Log.open(work, { backend })
        try {
          t.deepEqual(log.recovered, [], where)
          const got = await log.read('s', { verify: 'genesis' })
          t.is(got.length, store.payloads.size, where)
          f.records += checkSame(t, store, got, where)
          for (const o of [0, ...[...store.payloads.keys()].filter(() => rand() < 0.2)]) {
            const r = await log.get('s', o, { verify: 'none' })
            t.true(r?.payload.equals(store.payloads.get(o)!), `${where}: get(${o})`)
          }
          const report = await log.verify('s')
          // A flipped index fails its CRC and is ignored; a manifest is rewritten at open.
          t.true(report.ok, `${where}: ${JSON.stringify(report.streams[0].problems)}`)
        } finally {
          await log.close()
        }
        const again = await Log.open(work, { backend, readOnly: true })
        t.true((await again.verify('s')).ok, `${where}: after close the rebuilt files agree with the data`)
        if (file.endsWith('manifest.json')) {
          t.deepEqual(JSON.parse(readFileSync(join(work, file), 'utf8')), JSON.parse(readFileSync(join(store.dir, file), 'utf8')), `${where}: manifest rebuilt`)
        }
        await again.close()
      }
    }
  })

  test(`${backend}: a byte flipped anywhere in chainlog.json gives a clean ChainlogError or a store that still reads back`, async (t) => {
    const seed = SEED + 9 + (backend === 'js' ? 100 : 0)
    const rand = rng(seed)
    const store = await buildStore(t, backend, seed)
    const work = tempDir(t, 'corrupt-store')
    const size = statSync(join(store.dir, 'chainlog.json')).size
    const codes = new Map<string, number>()
    for (let at = 0; at < size; at++) {
      for (const mask of LONG ? [1, 2, 4, 8, 16, 32, 64, 128, 0xff] : [int(rand, 1, 255)]) {
        flipped(t, store, work, 'chainlog.json', at, mask)
        const where = `chainlog.json byte ${at} ^ ${mask}`
        const f = figures('corruption')
        f.trials++
        f.faults++
        count('corruption', 'chainlog.json flips')
        let log: Log
        try {
          log = await Log.open(work, { backend })
        } catch (err) {
          t.true(err instanceof ChainlogError, `${where}: ${err}`)
          t.true(['ERR_CORRUPT', 'ERR_UNSUPPORTED', 'ERR_STORE_MISMATCH'].includes(codeOf(err)!), `${where}: ${codeOf(err)} ${err}`)
          codes.set(codeOf(err)!, (codes.get(codeOf(err)!) ?? 0) + 1)
          f.found++
          continue
        }
        try {
          codes.set('opened', (codes.get('opened') ?? 0) + 1)
          const got = await log.read('s', { verify: 'genesis' })
          f.records += checkSame(t, store, got, where)
          t.true((await log.verify()).ok, where)
        } finally {
          await log.close()
        }
      }
    }
    t.log(JSON.stringify(Object.fromEntries(codes)))
    t.true((codes.get('ERR_CORRUPT') ?? 0) > 0)
  })
}
