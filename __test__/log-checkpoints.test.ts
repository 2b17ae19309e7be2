import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, events, openLog, readSegment, tempDir, texts, writeSegment } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import { ZERO_HASH } from './helpers/batch.ts'

/** The kind byte's bit 7: the batch continues (SPEC §2). */
const BATCH = 0x80

/** Offsets, kinds and payloads of the records of segment 0, parsed from the SPEC framing. */
function records(seg: Buffer) {
  const out: { pos: number; offset: number; ts: number; prev: Buffer; kind: number; payload: Buffer }[] = []
  let p = 0
  while (p < seg.length) {
    const len = seg.readUInt32LE(p + 54)
    out.push({ pos: p, offset: Number(seg.readBigUInt64LE(p + 4)), ts: Number(seg.readBigUInt64LE(p + 12)), prev: seg.subarray(p + 20, p + 52), kind: seg[p + 52], payload: seg.subarray(p + 58, p + 58 + len) })
    p += 66 + len
  }
  return out
}

for (const backend of BACKENDS) {
  test(`${backend}: a checkpoint follows once checkpointEvery records were written, in the same write`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: 3 })
    t.is((await log.append('s', events(0, 2))).nextOffset, 2)
    const r = await log.append('s', 'event-2')
    t.is(r.lastOffset, 2)
    t.is(r.nextOffset, 4, 'nextOffset accounts for the checkpoint')
    const recs = records(readSegment(dir, 's'))
    // Bit 7 (batch continues) on every record of an append but its last.
    t.deepEqual(recs.map((x) => x.kind), [BATCH, 0, 0, 1])
    const cp = recs[3]
    t.is(cp.offset, 3)
    t.is(cp.ts, recs[2].ts, 'a checkpoint carries the timestamp of the record before it')
    t.true(cp.payload.subarray(0, 32).equals(cp.prev))
    t.is(Number(cp.payload.readBigUInt64LE(32)), 3)
    t.true((await log.head('s')).hash.equals(r.hash))
    t.is((await log.head('s')).lastCheckpoint, 3)
  })

  test(`${backend}: reads skip checkpoints, so offsets have gaps, and get at a checkpoint is undefined`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { checkpointEvery: 2 })
    for (let i = 0; i < 5; i++) await log.append('s', `event-${i}`)
    const all = await log.read('s')
    t.deepEqual(texts(all), events(0, 5))
    t.deepEqual(all.map((r) => r.offset), [0, 1, 3, 4, 6])
    t.is(await log.get('s', 2), undefined)
    t.is((await log.get('s', 3))?.payload.toString(), 'event-2')
  })

  test(`${backend}: checkpointEvery false writes checkpoints only on request and on close`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false })
    await log.append('s', events(0, 50))
    t.is((await log.head('s')).lastCheckpoint, null)
    const cp = await log.checkpoint('s')
    t.is(cp.offset, 50)
    t.true((await log.head('s')).hash.equals(cp.hash))
    await log.append('s', 'after')
    await log.close()
    const recs = records(readSegment(dir, 's'))
    t.deepEqual(recs.filter((r) => r.kind === 1).map((r) => r.offset), [50, 52])
  })

  test(`${backend}: close() checkpoints only streams changed since their last checkpoint`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: 2 })
    await log.append('changed', events(0, 3)) // checkpoint at 3 is due after this append... 
    await log.append('exact', events(0, 2)) // checkpoint at 2, nothing after it
    await log.close()
    t.deepEqual(records(readSegment(dir, 'changed')).map((r) => r.kind), [BATCH, BATCH, 0, 1])
    t.deepEqual(records(readSegment(dir, 'exact')).map((r) => r.kind), [BATCH, 0, 1])
    const again = await Log.open(dir, { backend, checkpointEvery: 2 })
    await again.close() // untouched streams get nothing new
    t.deepEqual(records(readSegment(dir, 'exact')).map((r) => r.kind), [BATCH, 0, 1])
  })

  test(`${backend}: a checkpoint at offset 0 has zero prev and timestamp, and reads after it verify`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    const cp = await log.checkpoint('s')
    t.is(cp.offset, 0)
    await log.append('s', events(0, 3))
    const recs = records(readSegment(dir, 's'))
    t.is(recs[0].kind, 1)
    t.is(recs[0].ts, 0)
    t.true(recs[0].prev.equals(ZERO_HASH))
    t.true(recs[0].payload.equals(Buffer.alloc(40)))
    for (const verify of ['checkpoint', 'genesis', 'none'] as const) {
      t.deepEqual(texts(await log.read('s', { from: 0, verify })), events(0, 3), verify)
      t.deepEqual(texts(await log.read('s', { from: 2, verify })), ['event-1', 'event-2'], verify)
    }
    await log.close()
    const again = await openLog(t, backend, dir)
    t.deepEqual(texts(await again.read('s', { from: 1 })), events(0, 3))
    t.true((await again.verify()).ok)
  })

  test(`${backend}: the policy counts records across restarts`, async (t) => {
    const dir = tempDir(t)
    const a = await Log.open(dir, { backend, checkpointEvery: 5 })
    await a.append('s', events(0, 3))
    // Simulate a crash: no close(), so no checkpoint is written; the lock is left behind by
    // a live pid (ours), so take the data by copying it to a new store.
    await a.flush()
    const { cpSync } = await import('node:fs')
    const copy = tempDir(t)
    cpSync(dir, copy, { recursive: true })
    const { rmSync } = await import('node:fs')
    rmSync(`${copy}/LOCK`)
    await a.close()
    const b = await openLog(t, backend, copy, { checkpointEvery: 5 })
    const r = await b.append('s', events(3, 5))
    t.is(r.nextOffset, 6, 'three before the restart plus two after make five: a checkpoint follows')
  })

  test(`${backend}: a verified read from a checkpoint catches tampering after it but not before it; genesis catches both`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: 4 })
    await log.append('s', events(0, 4)) // data 0..3, checkpoint 4
    await log.append('s', events(4, 8)) // data 5..8, checkpoint 9
    await log.close()
    const seg = readSegment(dir, 's')
    const recs = records(seg)
    // Tamper with offset 1 (before the checkpoint at 4): new payload, CRC recomputed.
    const victim = recs[1]
    const tampered = Buffer.from(seg)
    tampered[victim.pos + 58] ^= 0x01
    const zlib = (await import('node:zlib')) as unknown as { crc32(b: Buffer): number }
    const crcAt = victim.pos + 58 + victim.payload.length
    tampered.writeUInt32LE(zlib.crc32(tampered.subarray(victim.pos, crcAt)), crcAt)
    writeSegment(dir, 's', 0, tampered)
    const again = await openLog(t, backend, dir, { checkpointEvery: 4 })
    t.deepEqual(texts(await again.read('s', { from: 6 })), events(5, 8), 'anchored at the checkpoint at 4')
    t.is(codeOf(await t.throwsAsync(again.read('s', { from: 6, verify: 'genesis' }))), 'ERR_CHAIN_BROKEN')
    t.is(codeOf(await t.throwsAsync(again.read('s', { from: 0 }))), 'ERR_CHAIN_BROKEN')
    t.is(texts(await again.read('s', { from: 1, limit: 1, verify: 'none' }))[0], 'dvent-1', "'none' checks CRCs only")
    const report = await again.verify('s')
    t.false(report.ok)
    t.is(report.streams[0].problems[0].code, 'ERR_CHAIN_BROKEN')
    t.is(report.streams[0].problems[0].offset, 2)
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: random gets and reads anchored on remembered checkpoints match a full read`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { checkpointEvery: 7, maxSegmentBytes: 2000 })
    for (let i = 0; i < 120; i += 3) await log.append('s', events(i, i + 3))
    await log.checkpoint('s')
    await log.append('s', events(120, 125))
    const all = await log.read('s', { verify: 'genesis' })
    t.deepEqual(texts(all), events(0, 125))
    const byOffset = new Map(all.map((r) => [r.offset, r.payload.toString()]))
    const head = await log.head('s')
    let x = 12345
    for (let k = 0; k < 150; k++) {
      x = (x * 1103515245 + 12345) % 2 ** 31
      const offset = x % head.nextOffset
      t.is((await log.get('s', offset))?.payload.toString(), byOffset.get(offset), `offset ${offset}`)
      const from = (await log.read('s', { from: offset, limit: 2 })).map((r) => r.offset)
      t.deepEqual(from, all.filter((r) => r.offset >= offset).slice(0, 2).map((r) => r.offset))
    }
  })
}
