/**
 * Fault suite, parts 2 and 3: torn tails and what a power cut leaves of unsynced writes.
 * Stores are built with random batches, payload sizes and codecs, then left without close()
 * (as a crash would). Part 2 cuts the active segment at every byte of its last batch (which
 * holds its last record). Part 3, on stores written with sync 'never', replaces the unsynced
 * tail with what a power cut can leave: zeros, a partial page, or bytes of an earlier, longer
 * version of the file. Each reopen must keep every complete record before the damage byte for
 * byte, report what it cut, and take appends again (or, when valid records of another version
 * follow the damage, refuse them as SPEC §3 says, cutting nothing).
 */
import test, { type ExecutionContext } from 'ava'
import { cpSync, rmSync, truncateSync } from 'node:fs'
import { BACKENDS, core } from './helpers/cores.ts'
import { count, faultSize, figures } from './helpers/faults.ts'
import { abandon, codeOf, readSegment, segmentFile, segmentNumbers, segmentSize, tempDir, writeSegment } from './helpers/log-dir.ts'
import { int, payload, rng, seedFromEnv } from './helpers/random.ts'
import { Log, type LogOptions } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const SEED = seedFromEnv(4242)
const CODECS: LogOptions['compression'][] = ['none', 'lz4', 'zstd']
const PAGE = 4096
const T0 = 1_750_000_000_000

interface Built {
  dir: string
  /** Data payloads by offset. */
  payloads: Map<number, Buffer>
  /** Active segment: number, record positions and their offsets (checkpoints included), size. */
  active: number
  positions: number[]
  offsets: number[]
  /** Kind bytes: bit 7 set on every record of an append but its last (SPEC §2). */
  kinds: number[]
  size: number
  /** Position in the active segment where the last batch starts, and where the unsynced bytes start. */
  lastBatchAt: number
  unsyncedAt: number
}

/**
 * A store in stream 's' written by `appends` random batches (deterministic for a seed: explicit
 * timestamps), the last one of `lastBatch` events; `diverge` changes payloads from that append on.
 * With sync 'never', appends after `syncedAppends` are never fsynced.
 */
async function build(t: ExecutionContext, backend: BackendName, seed: number, o: { appends: number; lastBatch: number; maxPayload: number; sync: 'always' | 'never'; syncedAppends?: number; diverge?: number }): Promise<Built> {
  const rand = rng(seed)
  const dir = tempDir(t, 'torn')
  const options: LogOptions = { backend, sync: o.sync, compression: CODECS[int(rand, 0, 2)], checkpointEvery: int(rand, 3, 12), maxSegmentBytes: int(rand, 2000, 20000) }
  const log = await Log.open(dir, options)
  const payloads = new Map<number, Buffer>()
  let lastFirst = 0
  let flushed: { num: number; size: number } | null = null
  for (let a = 0; a < o.appends; a++) {
    const n = a === o.appends - 1 ? o.lastBatch : int(rand, 1, 6)
    const salt = o.diverge !== undefined && a >= o.diverge ? 1 : 0
    const events = Array.from({ length: n }, () => {
      const p = payload(rand, int(rand, 0, o.maxPayload))
      if (salt) p.reverse()
      return Buffer.concat([p, Buffer.alloc(salt * (a % 5))])
    })
    const r = await log.append('s', events, { timestamp: T0 + a })
    for (const [k, e] of events.entries()) payloads.set(r.firstOffset + k, e)
    lastFirst = r.firstOffset
    if (a === o.syncedAppends) {
      await log.flush()
      const nums = segmentNumbers(dir, 's')
      flushed = { num: nums[nums.length - 1], size: segmentSize(dir, 's', nums[nums.length - 1]) }
    }
  }
  // Half with an index file on disk; with sync 'never' the last flush is the one after syncedAppends.
  if (int(rand, 0, 1) === 1 && o.sync === 'always') await log.flush()
  await abandon(log)
  const nums = segmentNumbers(dir, 's')
  const active = nums[nums.length - 1]
  const seg = readSegment(dir, 's', active)
  const c = await core(backend)
  const scan = c.scanSegment({ hash: 'blake3', stream: 's', data: seg, basePosition: 0, firstOffset: null, prevHash: null, prevTimestamp: null, verifyChain: false, final: true })
  t.is(scan.stop, 'end')
  const positions = Array.from(scan.positions)
  const offsets = Array.from(scan.offsets)
  const kinds = Array.from(scan.kinds)
  const k = offsets.indexOf(lastFirst)
  // With the flush point in an earlier segment, all of the active one is unsynced.
  const unsyncedAt = flushed !== null && flushed.num === active ? flushed.size : 0
  return { dir, payloads, active, positions, offsets, kinds, size: seg.length, lastBatchAt: k < 0 ? 0 : positions[k], unsyncedAt }
}

/**
 * End of the last whole batch at or before `at` (its last record, bit 7 clear, ends there), and
 * the offset after it: batches are atomic (SPEC §2), so a prefix of one is cut with the torn tail.
 */
function lastWhole(b: Built, at: number): { end: number; next: number } {
  let end = 0
  let next = b.offsets.length > 0 ? b.offsets[0] : 0
  for (let k = 0; k < b.positions.length; k++) {
    const recEnd = k + 1 < b.positions.length ? b.positions[k + 1] : b.size
    if (recEnd > at) break
    if ((b.kinds[k] & 0x80) !== 0) continue
    end = recEnd
    next = b.offsets[k] + 1
  }
  return { end, next }
}

/** Opens the damaged copy and checks: records before `keep.next` intact; what recovery reports. Returns the recovery action. */
async function reopenAndCheck(t: ExecutionContext, backend: BackendName, b: Built, work: string, keep: { end: number; next: number }, fileLen: number, where: string, area: string, olderVersion = false): Promise<'none' | 'truncated' | 'corrupt'> {
  const f = figures(area)
  const log = await Log.open(work, { backend })
  try {
    const ev = log.recovered.find((e) => e.segment === b.active)
    // No journal here: recovery of this segment can only have cut or found damage.
    const action = (ev?.action ?? 'none') as 'none' | 'truncated' | 'corrupt'
    const head = await log.head('s')
    if (action === 'corrupt') {
      // Valid records follow the damage: nothing cut, reads stop at it, appends are refused.
      if (olderVersion) t.true(ev!.position >= keep.end, `${where}: damage reported at or after the last whole record`)
      else t.is(ev!.position, keep.end, `${where}: damage reported where the last whole record ends`)
      t.is(segmentSize(work, 's', b.active), fileLen, `${where}: nothing truncated`)
      t.is(codeOf(await t.throwsAsync(log.append('s', 'x'))), 'ERR_CORRUPT', where)
      t.false((await log.verify('s')).ok, where)
      f.found++
    } else if (olderVersion && action === 'none' && keep.end !== fileLen) {
      // The earlier version's records continue the same chain from the shared prefix: a
      // consistent history, kept whole (nothing of it can be told from data never written).
      t.true(head.nextOffset >= keep.next, where)
    } else if (olderVersion && action === 'truncated' && ev!.position > keep.end) {
      // Some of the earlier version's records continue the chain before its bytes go bad.
      t.true(head.nextOffset >= keep.next, where)
      f.found++
    } else {
      if (keep.end === fileLen) t.is(action, 'none', `${where}: a whole file needs no recovery`)
      else if (keep.end > 0 || b.active === 0) {
        t.is(action, 'truncated', `${where}: ${JSON.stringify(log.recovered)}`)
        t.like(ev, { position: keep.end, bytes: fileLen - keep.end }, where)
        t.is(segmentSize(work, 's', b.active), keep.end, `${where}: cut to the last whole record`)
        f.found++
      }
      t.is(head.nextOffset, keep.next, `${where}: next offset after the last whole record`)
    }
    // Every record before the damage is there, byte for byte (the chain checked from genesis).
    const upTo = keep.next
    const want = [...b.payloads.keys()].filter((o) => o < upTo).length
    const got = want === 0 ? [] : await log.read('s', { verify: 'genesis', limit: want })
    let checked = 0
    for (const r of got) {
      if (r.offset >= upTo) break
      if (!r.payload.equals(b.payloads.get(r.offset)!)) {
        f.lost++
        t.fail(`${where}: offset ${r.offset} differs`)
      }
      checked++
    }
    if (checked !== want) f.lost += want - checked
    t.is(checked, want, `${where}: every data record before the damage reads back`)
    f.records += checked
    if (action !== 'corrupt') {
      const r = await log.append('s', 'after')
      t.is(r.firstOffset, head.nextOffset, where)
      const report = await log.verify('s')
      t.true(report.ok, `${where}: ${JSON.stringify(report.streams[0].problems)}`)
    }
    return action
  } finally {
    await log.close()
  }
}

for (const backend of BACKENDS) {
  test(`${backend}: torn tails: a cut at every byte of the last batch recovers to the last whole record, losing nothing before it`, async (t) => {
    const stores = faultSize(2, 12)
    for (let s = 0; s < stores; s++) {
      const seed = SEED + s * 13 + (backend === 'js' ? 5000 : 0)
      const b = await build(t, backend, seed, { appends: int(rng(seed), 3, 12), lastBatch: faultSize(3, 2 + (s % 7)), maxPayload: faultSize(40, 300), sync: 'always' })
      const work = tempDir(t, 'torn-work')
      for (let cut = b.lastBatchAt; cut < b.size; cut++) {
        rmSync(work, { recursive: true, force: true })
        cpSync(b.dir, work, { recursive: true })
        truncateSync(segmentFile(work, 's', b.active), cut)
        const f = figures('torn')
        f.trials++
        f.faults++
        await reopenAndCheck(t, backend, b, work, lastWhole(b, cut), cut, `seed ${seed} cut ${cut}`, 'torn')
      }
    }
  })

  for (const kind of ['zero-filled tail', 'partial page', 'older garbage'] as const) {
    test(`${backend}: power cut with sync 'never' leaving a ${kind}: every complete record before it survives and the cut is reported`, async (t) => {
      const cases = faultSize(12, 300)
      const rand = rng(SEED + kind.length + (backend === 'js' ? 1 : 0))
      const outcomes = { none: 0, truncated: 0, corrupt: 0 }
      for (let c = 0; c < cases; c++) {
        const seed = SEED + 100 * c + kind.length
        const appends = int(rand, 6, 14)
        const synced = int(rand, 1, appends - 3)
        const o = { appends, lastBatch: int(rand, 1, 5), maxPayload: 200, sync: 'never' as const, syncedAppends: synced }
        const b = await build(t, backend, seed, o)
        const work = tempDir(t, 'power-work')
        cpSync(b.dir, work, { recursive: true, force: true })
        const seg = readSegment(work, 's', b.active)
        // The damage starts somewhere in the bytes that were never fsynced.
        const at = int(rand, b.unsyncedAt, b.size - 1)
        let damaged: Buffer
        if (kind === 'zero-filled tail') {
          damaged = Buffer.concat([seg.subarray(0, at), Buffer.alloc(seg.length - at)])
        } else if (kind === 'partial page') {
          const pageEnd = Math.ceil((at + 1) / PAGE) * PAGE
          damaged = Buffer.concat([seg.subarray(0, at), Buffer.alloc(pageEnd - at)])
        } else {
          // The same appends with other payloads from `synced` on, written earlier and longer.
          const older = await build(t, backend, seed, { ...o, diverge: synced + 1, appends: appends + 4 })
          const old = readSegment(older.dir, 's', Math.min(older.active, b.active))
          damaged = Buffer.concat([seg.subarray(0, at), old.subarray(at, Math.max(old.length, seg.length + 1))])
          if (damaged.length <= seg.length) damaged = Buffer.concat([damaged, Buffer.alloc(seg.length + 1 - damaged.length, 0x33)])
        }
        writeSegment(work, 's', b.active, damaged)
        const f = figures('power')
        f.trials++
        f.faults++
        const action = await reopenAndCheck(t, backend, b, work, lastWhole(b, at), damaged.length, `${kind} seed ${seed} at ${at}`, 'power', kind === 'older garbage')
        outcomes[action]++
      }
      count('power', `${kind}: cut`, outcomes.truncated)
      count('power', `${kind}: corrupt (appends refused)`, outcomes.corrupt)
      count('power', `${kind}: kept whole (a consistent earlier version)`, outcomes.none)
      if (kind !== 'older garbage') t.is(outcomes.corrupt, 0, 'zeros hold no valid record: always a torn tail')
      t.log(`${kind}: ${JSON.stringify(outcomes)}`)
    })
  }
}
