import test from 'ava'
import { BACKENDS, core } from './helpers/cores.ts'
import { decodeIndex, encodeIndex, PositionList } from '../ts/storage/offset-index.ts'
import { readdirSync, readFileSync, truncateSync } from 'node:fs'
import { dirname } from 'node:path'
import { abandon, segmentFile, tempDir } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'

// The .idx vectors of spec/vectors.json (SPEC §2): positions 0, 100, 250, and none.
const VECTORS: Array<{ positions: number[]; bytes: string }> = JSON.parse(readFileSync(new URL('../spec/vectors.json', import.meta.url), 'utf8')).offsetIndex
const THREE = VECTORS.find((v) => v.positions.length === 3)!.bytes
const EMPTY = VECTORS.find((v) => v.positions.length === 0)!.bytes

for (const backend of BACKENDS) {
  test(`${backend}: the index of positions 0, 100, 250 and the empty index match the vectors' bytes`, async (t) => {
    const c = await core(backend)
    const crc = (d: Uint8Array) => c.crc32(d)
    t.is(encodeIndex(PositionList.from([0, 100, 250]), crc).toString('hex'), THREE)
    t.is(encodeIndex(new PositionList(), crc).toString('hex'), EMPTY)
    const r = decodeIndex(Buffer.from(THREE, 'hex'), 1000, crc)
    t.true(r.ok)
    if (r.ok) t.deepEqual([...r.positions.slice(0, r.positions.length)], [0, 100, 250])
  })

  test(`${backend}: a large index round-trips`, async (t) => {
    const c = await core(backend)
    const crc = (d: Uint8Array) => c.crc32(d)
    const positions = PositionList.from(Array.from({ length: 10_000 }, (_, i) => i * 73))
    const r = decodeIndex(encodeIndex(positions, crc), 10_000 * 73, crc)
    t.true(r.ok)
    if (r.ok) {
      t.is(r.positions.length, 10_000)
      t.is(r.positions.at(9_999), 9_999 * 73)
    }
  })

  test(`${backend}: an index saved as it grows (entries kept encoded between saves) has the bytes of one encoded afresh, through pushes, truncation, a changed entry and the final save`, async (t) => {
    const c = await core(backend)
    const crc = (d: Uint8Array) => c.crc32(d)
    const fresh = (list: PositionList) => encodeIndex(PositionList.from(list.slice(0, list.length)), crc).toString('hex')
    const growing = new PositionList()
    let at = 0
    const add = (n: number) => {
      const positions = Float64Array.from({ length: n }, (_, k) => k * 300 + (k % 7))
      growing.pushShifted(positions, at)
      at += n * 300 + 1
    }
    // Past 2^32 too: the high word of an entry. The three vectors' positions first.
    growing.pushShifted(Float64Array.of(0, 100, 250), 0)
    t.is(encodeIndex(growing, crc, true).toString('hex'), THREE)
    at = 2 ** 32 - 5000
    for (const n of [1, 700, 3000, 5]) {
      add(n)
      t.is(encodeIndex(growing, crc, true).toString('hex'), fresh(growing), `after ${growing.length} entries`)
    }
    growing.truncate(2000) // a rolled-back or recovered tail
    t.is(encodeIndex(growing, crc, true).toString('hex'), fresh(growing))
    add(10)
    growing.set(5, 123_456) // a repaired entry, inside the encoded part
    t.is(encodeIndex(growing, crc, true).toString('hex'), fresh(growing))
    add(3)
    const sealed = encodeIndex(growing, crc) // the sealed save releases the kept bytes
    t.is(sealed.toString('hex'), fresh(growing))
    add(2)
    t.is(encodeIndex(growing, crc, true).toString('hex'), fresh(growing))
  })

  test(`${backend}: a save of the kept bytes still being written is not changed by a later encode of the same list without keeping (an archiver's, after the rotation sealed it)`, async (t) => {
    const c = await core(backend)
    const crc = (d: Uint8Array) => c.crc32(d)
    const list = PositionList.from(Array.from({ length: 400 }, (_, k) => k * 300)) // kept bytes with room for more
    const inFlight = encodeIndex(list, crc, true)
    const before = Buffer.from(inFlight).toString('hex')
    list.pushShifted(Float64Array.of(0, 300, 600), 120_000)
    const sealed = encodeIndex(list, crc)
    t.is(inFlight.toString('hex'), before)
    t.is(sealed.toString('hex'), encodeIndex(PositionList.from(list.slice(0, list.length)), crc).toString('hex'))
    t.true(decodeIndex(inFlight, 403 * 300, crc).ok)
  })

  test(`${backend}: bad indexes are refused with a reason, never trusted`, async (t) => {
    const c = await core(backend)
    const crc = (d: Uint8Array) => c.crc32(d)
    const good = Buffer.from(THREE, 'hex')
    const cases: [string, Buffer][] = [
      ['short', good.subarray(0, 10)],
      ['magic', Buffer.concat([Buffer.from('XXXX'), good.subarray(4)])],
      ['version', Buffer.from(good).fill(0xff, 4, 5)],
      ['count past the file (truncated entries)', good.subarray(0, good.length - 12)],
      ['crafted huge count', (() => { const b = Buffer.from(good); b.writeBigUInt64LE(2n ** 61n, 8); return b })()],
      ['crc', (() => { const b = Buffer.from(good); b[20] ^= 1; return b })()],
    ]
    for (const [label, bytes] of cases) {
      const r = decodeIndex(bytes, 1000, crc)
      t.false(r.ok, label)
      if (!r.ok) t.true(r.reason.length > 0)
    }
    // Entries that are not record positions (not increasing by at least one record) are bad too.
    t.false(decodeIndex(encodeIndex(PositionList.from([0, 10]), crc), 1000, crc).ok)
    t.false(decodeIndex(encodeIndex(PositionList.from([5, 100]), crc), 1000, crc).ok)
  })

  test(`${backend}: entries at or past the validated segment length are dropped`, async (t) => {
    const c = await core(backend)
    const crc = (d: Uint8Array) => c.crc32(d)
    const r = decodeIndex(Buffer.from(THREE, 'hex'), 250, crc)
    t.true(r.ok)
    if (r.ok) t.is(r.positions.length, 2)
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: an index saved before the segment lost its tail is dropped at open, so appends refilling those bytes leave verify ok`, async (t) => {
    // Regression: the stale .idx stayed on disk; its entries past the cut pointed into bytes the
    // next appends wrote, and verify() then reported a healthy store as damaged.
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false })
    for (let i = 0; i < 6; i++) await log.append('s', `event-${i}`)
    await log.flush() // .idx lists 6 records
    await abandon(log)
    truncateSync(segmentFile(dir, 's'), 4 * 73) // lost the last two (a cut at a record boundary)
    const again = await Log.open(dir, { backend, checkpointEvery: false })
    t.deepEqual(again.recovered, [])
    await again.append('s', 'a-longer-event-4') // 82 bytes: ends past the stale entry at 365
    const report = await again.verify('s')
    t.deepEqual(report.streams[0].problems, [])
    await abandon(again)
    const third = await Log.open(dir, { backend, checkpointEvery: false })
    t.true((await third.verify('s')).ok)
    t.is((await third.get('s', 4))?.payload.toString(), 'a-longer-event-4')
    await third.close()
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: appends save the active index by themselves once 8 MiB were added (no flush or close), so a crash leaves a short tail to scan; close waits for a save in flight`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, sync: 'never', checkpointEvery: false })
    const batch = Array.from({ length: 256 }, (_, i) => Buffer.alloc(4096, i)) // 256 records, 1 MiB + framing
    for (let i = 0; i < 9; i++) await log.append('s', batch)
    const idx = segmentFile(dir, 's') + '.idx'
    const c = await core(backend)
    const saved = () => {
      try {
        const r = decodeIndex(readFileSync(idx), Number.MAX_SAFE_INTEGER, (d) => c.crc32(d))
        return r.ok ? r.positions.length : 0
      } catch {
        return 0
      }
    }
    // The save runs in the background: it lands without any further call.
    const deadline = Date.now() + 10_000
    while (saved() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    t.true(saved() >= 8 * 256, `the index on disk lists ${saved()} records, want at least the first 8 MiB's ${8 * 256}`)
    // A crash now: reopening scans only the tail past the saved entries and finds every record.
    await abandon(log)
    const again = await Log.open(dir, { backend, sync: 'never', checkpointEvery: false })
    t.is((await again.head('s')).nextOffset, 9 * 256)
    t.true((await again.verify('s')).ok)
    // Enough appends for another save, then close at once: close waits for it, no temp file stays.
    for (let i = 0; i < 9; i++) await again.append('s', batch)
    await again.close()
    t.deepEqual(readdirSync(dirname(idx)).filter((f) => f.includes('.tmp-')), [])
    t.is(saved(), 18 * 256 + 1) // and close's checkpoint
  })
}
