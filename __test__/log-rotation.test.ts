import test from 'ava'
import { readFileSync } from 'node:fs'
import { BACKENDS } from './helpers/cores.ts'
import type { AppendResult } from '../ts/index.ts'
import { events, openLog, segmentNumbers, segmentSize, tempDir, texts } from './helpers/log-dir.ts'

// Records of "event-N" are 73 bytes: five fill 365 bytes, so 500-byte segments hold 6.
const SMALL = { maxSegmentBytes: 500, checkpointEvery: false as const }

for (const backend of BACKENDS) {
  test(`${backend}: segments rotate at maxSegmentBytes and every record reads back across them`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, SMALL)
    for (let i = 0; i < 10; i++) await log.append('s', `event-${i}`)
    t.true(segmentNumbers(dir, 's').length >= 2)
    for (const n of segmentNumbers(dir, 's').slice(0, -1)) t.true(segmentSize(dir, 's', n) <= 500, `segment ${n} within the limit`)
    await log.append('s', events(10, 15))
    t.deepEqual(texts(await log.read('s', { verify: 'genesis' })), events(0, 15))
    t.deepEqual(texts(await log.read('s', { from: 12 })), events(12, 15))
    t.is((await log.head('s')).segments, segmentNumbers(dir, 's').length)
  })

  test(`${backend}: a batch larger than a segment lands whole in one segment`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, SMALL)
    await log.append('s', 'first')
    await log.append('s', events(0, 20))
    t.deepEqual(segmentNumbers(dir, 's'), [0, 1])
    t.is((await log.read('s')).length, 21)
  })

  test(`${backend}: a large limit keeps everything in one segment`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 1024 ** 3 })
    for (let i = 0; i < 100; i++) await log.append('s', `event-${i}`, { sync: 'never' })
    t.deepEqual(segmentNumbers(dir, 's'), [0])
  })

  test(`${backend}: the head is right right after a rotation and the chain continues across it`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, SMALL)
    let last: AppendResult | undefined
    for (let i = 0; i < 7; i++) last = await log.append('s', `event-${i}`)
    t.is(segmentNumbers(dir, 's').length, 2)
    const head = await log.head('s')
    t.is(head.nextOffset, 7)
    t.true(head.hash.equals(last!.hash))
    const next = await log.append('s', 'event-7', { expectedOffset: 7, expectedHash: head.hash })
    const records = await log.read('s', { verify: 'genesis' })
    t.is(records.length, 8)
    t.true(records[7].prevHash.equals(last!.hash))
    t.true(records[7].hash.equals(next.hash))
  })

  test(`${backend}: after a restart following rotations the head comes from the last segment`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, SMALL)
    for (let i = 0; i < 20; i++) await log.append('s', `event-${i}`)
    const last = await log.checkpoint('s') // so close() has nothing left to add
    t.is(last.offset, 20)
    await log.close()
    const again = await openLog(t, backend, dir, SMALL)
    const head = await again.head('s')
    t.is(head.nextOffset, 21)
    t.true(head.hash.equals(last.hash))
    t.deepEqual(again.recovered, [])
  })

  test(`${backend}: rotation after a restart, then a read across all segments`, async (t) => {
    const dir = tempDir(t)
    const a = await openLog(t, backend, dir, SMALL)
    for (let i = 0; i < 9; i++) await a.append('s', `event-${i}`)
    await a.close()
    const b = await openLog(t, backend, dir, SMALL)
    t.deepEqual(texts(await b.read('s')), events(0, 9)) // a read before appending must not pin stale data
    for (let i = 9; i < 30; i++) await b.append('s', `event-${i}`)
    t.true(segmentNumbers(dir, 's').length >= 4)
    t.deepEqual(texts(await b.read('s', { verify: 'genesis' })), events(0, 30))
    t.deepEqual(texts(await b.read('s', { from: 3, limit: 4 })), events(3, 7))
    t.true((await b.verify('s')).ok)
  })

  test(`${backend}: the manifest lists every segment with the field names of SPEC §2`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, SMALL)
    for (let i = 0; i < 15; i++) await log.append('s', `event-${i}`)
    await log.close()
    const manifest = JSON.parse(readFileSync(`${dir}/s/manifest.json`, 'utf8'))
    const nums = segmentNumbers(dir, 's')
    t.deepEqual(manifest.segments.map((m: { segment_num: number }) => m.segment_num), nums)
    t.is(manifest.active_segment, nums[nums.length - 1])
    t.is(manifest.segments[0].first_offset, 0)
    t.is(manifest.segments[manifest.segments.length - 1].next_offset, 16, '15 events and the checkpoint written by close()')
    for (let i = 1; i < manifest.segments.length; i++) t.is(manifest.segments[i].first_offset, manifest.segments[i - 1].next_offset)
    for (const m of manifest.segments) t.is(m.size_bytes, segmentSize(dir, 's', m.segment_num))
  })

  test(`${backend}: the offset index of a sealed segment is written in the SPEC format`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, SMALL)
    for (let i = 0; i < 8; i++) await log.append('s', `event-${i}`)
    await log.flush() // a sealed segment's index is saved in the background; flush waits for it
    const idx = readFileSync(`${dir}/s/segment_000000.log.idx`)
    t.is(idx.toString('latin1', 0, 4), 'VDXI')
    t.is(idx[4], 1)
    t.deepEqual([...idx.subarray(5, 8)], [0, 0, 0])
    const n = Number(idx.readBigUInt64LE(8))
    t.is(n, 6)
    t.is(idx.length, 16 + 8 * n + 4)
    t.deepEqual(Array.from({ length: n }, (_, i) => Number(idx.readBigUInt64LE(16 + 8 * i))), [0, 73, 146, 219, 292, 365])
    const zlib = await import('node:zlib')
    t.is(idx.readUInt32LE(16 + 8 * n), (zlib as unknown as { crc32(b: Buffer): number }).crc32(idx.subarray(0, 16 + 8 * n)))
  })
}
