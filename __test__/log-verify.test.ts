import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { events, openLog, readSegment, tempDir, writeSegment } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'

for (const backend of BACKENDS) {
  test(`${backend}: verify reports every stream with its records, checkpoints and head`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { checkpointEvery: 3, maxSegmentBytes: 600 })
    await log.append('a', events(0, 7))
    await log.append('b', 'one')
    const report = await log.verify()
    t.true(report.ok)
    t.deepEqual(report.streams.map((s) => s.stream), ['a', 'b'])
    const a = report.streams[0]
    t.is(a.records, 8) // 7 events and the checkpoint after them
    t.is(a.checkpoints, 1)
    const head = await log.head('a')
    t.is(a.head.nextOffset, head.nextOffset)
    t.true(a.head.hash.equals(head.hash))
    t.deepEqual(a.problems, [])
    t.is((await log.verify('b')).streams.length, 1)
  })

  test(`${backend}: verify reports progress up to the total bytes`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { maxSegmentBytes: 1000 })
    for (let i = 0; i < 30; i++) await log.append('s', `event-${i}`)
    const seen: { bytesDone: number; bytesTotal: number }[] = []
    await log.verify(undefined, { onProgress: (p) => seen.push(p) })
    t.true(seen.length > 0)
    const last = seen[seen.length - 1]
    t.is(last.bytesDone, last.bytesTotal)
    t.true(last.bytesTotal >= 30 * 73)
    for (let i = 1; i < seen.length; i++) t.true(seen[i].bytesDone >= seen[i - 1].bytesDone)
  })

  test(`${backend}: a record rewritten with a correct CRC (tampering) is caught by verify as a chain break at its successor`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false })
    await log.append('s', events(0, 5))
    await log.close()
    const seg = readSegment(dir, 's')
    const at = 2 * 73
    seg.write('EVENT', at + 58) // event-2 → EVENT-2
    const { crc32 } = (await import('node:zlib')) as unknown as { crc32(b: Buffer): number }
    seg.writeUInt32LE(crc32(seg.subarray(at, at + 58 + 7)), at + 58 + 7)
    writeSegment(dir, 's', 0, seg)
    const again = await openLog(t, backend, dir)
    const report = await again.verify()
    t.false(report.ok)
    t.is(report.streams[0].problems[0].code, 'ERR_CHAIN_BROKEN')
    t.is(report.streams[0].problems[0].offset, 3)
  })

  test(`${backend}: verify lists damage in several places, not only the first`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false, maxSegmentBytes: 5 * 73 })
    for (let i = 0; i < 15; i++) await log.append('s', `event-${i}`)
    await log.close()
    const s0 = readSegment(dir, 's', 0)
    s0[73 + 60] ^= 1
    writeSegment(dir, 's', 0, s0)
    const s1 = readSegment(dir, 's', 1)
    s1[2 * 73 + 60] ^= 1
    writeSegment(dir, 's', 1, s1)
    const again = await openLog(t, backend, dir)
    const problems = (await again.verify('s')).streams[0].problems
    t.true(problems.length >= 2, JSON.stringify(problems))
    t.is(problems[0].offset, 1)
    t.true(problems.some((p) => p.offset === 7), JSON.stringify(problems))
  })

  test(`${backend}: verify of an unknown stream is an ok, empty report`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    const report = await log.verify('nothing')
    t.true(report.ok)
    t.is(report.streams[0].records, 0)
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: verify reports an offset index that disagrees with the data`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false, maxSegmentBytes: 4 * 73 })
    for (let i = 0; i < 10; i++) await log.append('s', `event-${i}`)
    await log.close()
    const { readFileSync, writeFileSync } = await import('node:fs')
    const path = `${dir}/s/segment_000000.log.idx`
    const idx = readFileSync(path)
    idx.writeBigUInt64LE(80n, 16 + 8) // entry 1: 80 instead of 73, CRC fixed up
    const { crc32 } = (await import('node:zlib')) as unknown as { crc32(b: Buffer): number }
    idx.writeUInt32LE(crc32(idx.subarray(0, idx.length - 4)), idx.length - 4)
    writeFileSync(path, idx)
    const again = await openLog(t, backend, dir)
    const report = await again.verify('s')
    t.false(report.ok)
    t.is(report.streams[0].problems[0].offset, 1)
    t.regex(report.streams[0].problems[0].message, /index/)
  })

  test(`${backend}: verify while appends are in flight reports no false problems`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { checkpointEvery: 10 })
    await log.append('s', 'first')
    const appends = Array.from({ length: 200 }, (_, i) => log.append('s', `e${i}`))
    const reports = await Promise.all([log.verify('s'), log.verify('s')])
    await Promise.all(appends)
    for (const r of reports) t.deepEqual(r.streams[0].problems, [])
    t.true((await log.verify()).ok)
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: damage to a record's offset field is reported at the offset the record should have, not the one it claims`, async (t) => {
    // Regression: verify reported the damaged field's value (e.g. 2 ^ 0x40 = 66) as the offset.
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false })
    await log.append('s', events(0, 5))
    await log.close()
    for (const [at, mask] of [[4, 0x40], [9, 0x01], [11, 0x80]] as const) {
      const seg = readSegment(dir, 's')
      seg[2 * 73 + at] ^= mask
      writeSegment(dir, 's', 0, seg)
      const again = await openLog(t, backend, dir)
      const problems = (await again.verify('s')).streams[0].problems
      t.is(problems[0]?.offset, 2, JSON.stringify(problems))
      t.is(problems[0]?.code, 'ERR_CORRUPT')
      await again.close()
      seg[2 * 73 + at] ^= mask
      writeSegment(dir, 's', 0, seg)
    }
  })
}


for (const backend of BACKENDS) {
  test(`${backend}: verify takes a manifest written before the last rotation as stale, not damage; a sealed entry that disagrees with the data is damage`, async (t) => {
    const { readFileSync, writeFileSync } = await import('node:fs')
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 500, checkpointEvery: false })
    for (let i = 0; i < 20; i++) await log.append('s', `event-${i}`)
    await log.close()
    const path = `${dir}/s/manifest.json`
    const full = JSON.parse(readFileSync(path, 'utf8'))
    t.true(full.segments.length >= 3)
    // As written at a rotation: the segments up to the one sealed since, which it shows as active (empty).
    const stale = { ...full, segments: full.segments.slice(0, 2).map((m: Record<string, number>, i: number) => (i === 1 ? { ...m, next_offset: m.first_offset, size_bytes: 0 } : m)), active_segment: full.segments[1].segment_num }
    writeFileSync(path, JSON.stringify(stale))
    const reader = await Log.open(dir, { backend, readOnly: true })
    t.teardown(() => reader.close())
    const report = await reader.verify('s')
    t.true(report.ok, JSON.stringify(report.streams[0].problems))
    // A sealed entry (one that another follows) must match the data exactly.
    const lying = { ...full, segments: full.segments.map((m: Record<string, number>, i: number) => (i === 0 ? { ...m, next_offset: m.next_offset - 1 } : m)) }
    writeFileSync(path, JSON.stringify(lying))
    const problems = (await reader.verify('s')).streams[0].problems
    t.true(problems.some((p) => p.code === 'ERR_CORRUPT' && /manifest says/.test(p.message)), JSON.stringify(problems))
  })
}
