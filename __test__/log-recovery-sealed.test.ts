import test from 'ava'
import { rmSync, truncateSync, writeFileSync } from 'node:fs'
import { BACKENDS } from './helpers/cores.ts'
import { abandon, codeOf, events, openLog, readSegment, segmentFile, segmentNumbers, segmentSize, tempDir, texts, writeSegment } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const REC = 73

/** A store with `n` events in 's' (73-byte records, 5 a segment) and 3 in 'other', left without close(). */
async function store(t: Parameters<typeof tempDir>[0], backend: BackendName, n: number) {
  const dir = tempDir(t)
  const log = await Log.open(dir, { backend, checkpointEvery: false, maxSegmentBytes: 5 * REC })
  for (let i = 0; i < n; i++) await log.append('s', `event-${i}`)
  await log.append('other', ['x', 'y', 'z'])
  await log.flush()
  await abandon(log)
  return dir
}

for (const backend of BACKENDS) {
  for (const tail of ['empty', 'no valid record'] as const) {
    test(`${backend}: a sealed segment whose next segment is dropped (${tail}) is never truncated; its torn end is reported as damage`, async (t) => {
      const dir = await store(t, backend, 7)
      t.deepEqual(segmentNumbers(dir, 's'), [0, 1])
      const last = segmentFile(dir, 's', 1)
      if (tail === 'empty') writeFileSync(last, Buffer.alloc(0))
      else writeFileSync(last, Buffer.alloc(segmentSize(dir, 's', 1), 0))
      rmSync(last + '.idx', { force: true })
      const size0 = segmentSize(dir, 's', 0)
      truncateSync(segmentFile(dir, 's', 0), size0 - 10) // the sealed segment's last record is cut
      const log = await openLog(t, backend, dir, { checkpointEvery: false, maxSegmentBytes: 5 * REC })
      t.is(segmentSize(dir, 's', 0), size0 - 10, 'the sealed segment keeps every byte')
      t.false(log.recovered.some((e) => e.stream === 's' && e.segment === 0 && e.action === 'truncated'))
      t.true(log.recovered.some((e) => e.stream === 's' && e.segment === 0 && e.action === 'corrupt'))
      t.is(codeOf(await t.throwsAsync(log.read('s'))), 'ERR_CORRUPT')
      t.deepEqual(texts(await log.read('s', { limit: 3 })), events(0, 3))
      t.is(codeOf(await t.throwsAsync(log.append('s', 'more'))), 'ERR_CORRUPT')
      t.deepEqual(texts(await log.read('other')), ['x', 'y', 'z'])
    })
  }

  test(`${backend}: a tail segment with no valid record and an unreadable end of the segment before it mark only that stream corrupt`, async (t) => {
    const dir = await store(t, backend, 12)
    const nums = segmentNumbers(dir, 's')
    t.true(nums.length >= 3)
    const tailNum = nums[nums.length - 1]
    const prevNum = nums[nums.length - 2]
    // The record in the middle of the previous segment is damaged and its index is gone, so a
    // rebuilt index stops early; the tail's first record is damaged (records follow it).
    const prev = readSegment(dir, 's', prevNum)
    prev[REC + 60] ^= 0xff
    writeSegment(dir, 's', prevNum, prev)
    rmSync(segmentFile(dir, 's', prevNum) + '.idx', { force: true })
    const last = readSegment(dir, 's', tailNum)
    t.true(last.length >= 2 * REC)
    last[60] ^= 0xff
    writeSegment(dir, 's', tailNum, last)
    rmSync(segmentFile(dir, 's', tailNum) + '.idx', { force: true }) // recovery scans the tail from its first byte
    const log = await openLog(t, backend, dir, { checkpointEvery: false, maxSegmentBytes: 5 * REC })
    t.deepEqual(texts(await log.read('other')), ['x', 'y', 'z'])
    await log.append('other', 'ok')
    t.true(['ERR_CORRUPT', 'ERR_CHAIN_BROKEN'].includes(codeOf(await t.throwsAsync(log.read('s')))!))
    t.is(codeOf(await t.throwsAsync(log.append('s', 'more'))), 'ERR_CORRUPT')
    t.false((await log.verify('s')).ok)
  })
}
