import test from 'ava'
import { promises as fsp } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, segmentSize, tempDir, texts } from './helpers/log-dir.ts'
import { errno, interceptSegmentWrites } from './helpers/segment-writes.ts'
import type { ChainlogError } from '../ts/index.ts'
import { SYNC_WRITE_MAX_BYTES } from '../ts/storage/disk-storage.ts'

/** FileHandle.prototype, to count and fail writes and fsyncs (tests here run serially). */
async function fileHandleProto(dir: string): Promise<FileHandle> {
  const h = await fsp.open(`${dir}/probe`, 'w')
  await h.close()
  return Object.getPrototypeOf(h) as FileHandle
}

type Patch = { datasync?: FileHandle['datasync'] }

/** Replaces FileHandle methods for the duration of the test (writes: helpers/segment-writes.ts). */
function patch(t: { teardown(fn: () => void): void }, proto: FileHandle, methods: Patch): void {
  const saved = { datasync: proto.datasync }
  Object.assign(proto, methods)
  t.teardown(() => Object.assign(proto, saved))
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: many concurrent appends get consecutive offsets in call order`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { checkpointEvery: false })
    const calls = Array.from({ length: 300 }, (_, i) => log.append('s', i % 3 === 0 ? [`e${i}a`, `e${i}b`] : `e${i}`))
    const results = await Promise.all(calls)
    let next = 0
    for (const [i, r] of results.entries()) {
      t.is(r.firstOffset, next, `call ${i}`)
      next = r.nextOffset
    }
    const expected = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? [`e${i}a`, `e${i}b`] : [`e${i}`])).flat()
    t.deepEqual(texts(await log.read('s', { verify: 'genesis' })), expected)
  })

  test.serial(`${backend}: concurrent appends are coalesced into few writes and fsyncs`, async (t) => {
    const dir = tempDir(t)
    const proto = await fileHandleProto(dir)
    const log = await openLog(t, backend, dir)
    await log.append('s', 'warm-up') // creates the stream
    let syncs = 0
    const { datasync } = proto
    const writes = await interceptSegmentWrites(t, dir)
    patch(t, proto, { datasync: function (this: FileHandle) { syncs++; return datasync.call(this) } })
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append('s', `e${i}`)))
    t.is(results[199].lastOffset, 200)
    t.true(syncs <= 10, `200 appends took ${syncs} fsyncs`)
    t.true(writes.count >= 1 && writes.count <= 10, `200 appends took ${writes.count} writes`)
  })

  test.serial(`${backend}: sync 'never' does not fsync; sync 'always' does; flush() makes 'never' writes durable`, async (t) => {
    const dir = tempDir(t)
    const proto = await fileHandleProto(dir)
    const log = await openLog(t, backend, dir, { sync: 'never' })
    await log.append('s', 'create')
    let syncs = 0
    const { datasync } = proto
    patch(t, proto, { datasync: function (this: FileHandle) { syncs++; return datasync.call(this) } })
    await log.append('s', 'a')
    t.is(syncs, 0)
    await log.append('s', 'b', { sync: 'always' })
    t.is(syncs, 1)
    await log.append('s', 'c')
    await log.flush()
    t.is(syncs, 2)
  })

  test.serial(`${backend}: a write failing with ENOSPC is ERR_IO with errno and cause, nothing lands, and the stream stays usable`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', ['a', 'b'])
    const good = segmentSize(dir, 's')
    // Half of the bytes reach the file, then the disk is full.
    ;(await interceptSegmentWrites(t, dir)).failNext('ENOSPC', { half: true })
    const calls = [log.append('s', 'c'), log.append('s', ['d', 'e'])] // one group: both fail together
    for (const r of await Promise.allSettled(calls)) {
      t.is(r.status, 'rejected')
      const err = (r as PromiseRejectedResult).reason as ChainlogError
      t.is(err.code, 'ERR_IO')
      t.is(err.details.errno, 'ENOSPC')
      t.is((err.cause as NodeJS.ErrnoException).code, 'ENOSPC')
    }
    t.is(segmentSize(dir, 's'), good, 'rolled back to the last good length')
    t.deepEqual(texts(await log.read('s')), ['a', 'b'])
    const r = await log.append('s', 'f')
    t.is(r.firstOffset, 2)
    t.deepEqual(texts(await log.read('s', { verify: 'genesis' })), ['a', 'b', 'f'])
    await log.close()
    const again = await openLog(t, backend, dir)
    t.deepEqual(again.recovered, [])
    t.true((await again.verify()).ok)
  })

  test.serial(`${backend}: a large write (through the thread pool, not writeSync) failing half-way is rolled back too`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', 'a')
    const good = segmentSize(dir, 's')
    const big = [Buffer.alloc(600_000, 1), Buffer.alloc(600_000, 2)] // over SYNC_WRITE_MAX_BYTES together
    t.true(big[0].length + big[1].length > SYNC_WRITE_MAX_BYTES)
    ;(await interceptSegmentWrites(t, dir)).failNext('ENOSPC', { half: true })
    const err = await t.throwsAsync(log.append('s', big))
    t.is(codeOf(err), 'ERR_IO')
    t.is(segmentSize(dir, 's'), good)
    await log.append('s', big)
    const got = await log.read('s', { verify: 'genesis' })
    t.deepEqual(got.map((r) => r.payload.length), [1, 600_000, 600_000])
  })

  test.serial(`${backend}: an fsync failing with EIO is ERR_IO, the write is cut back, and later appends work`, async (t) => {
    const dir = tempDir(t)
    const proto = await fileHandleProto(dir)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', 'a')
    const good = segmentSize(dir, 's')
    const { datasync } = proto
    let fail = true
    patch(t, proto, {
      datasync: function (this: FileHandle) {
        if (fail) {
          fail = false
          return Promise.reject(errno('EIO'))
        }
        return datasync.call(this)
      },
    })
    const err = await t.throwsAsync(log.append('s', 'b'))
    t.is(codeOf(err), 'ERR_IO')
    t.is((err as ChainlogError).details.errno, 'EIO')
    t.is(segmentSize(dir, 's'), good)
    t.is((await log.head('s')).nextOffset, 1)
    await log.append('s', 'c')
    t.deepEqual(texts(await log.read('s')), ['a', 'c'])
  })

  test.serial(`${backend}: a group with a failing conditional call still writes the others in one write`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', 'base')
    const writes = await interceptSegmentWrites(t, dir)
    const results = await Promise.allSettled([
      log.append('s', 'x', { expectedOffset: 1 }),
      log.append('s', 'lost', { expectedOffset: 1 }),
      log.append('s', 'y', { expectedOffset: 2 }),
    ])
    t.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'])
    t.is(writes.count, 1)
    t.deepEqual(texts(await log.read('s')), ['base', 'x', 'y'])
  })

  test.serial(`${backend}: appends to different streams proceed independently`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    const calls = []
    for (let i = 0; i < 50; i++) for (const s of ['a', 'b', 'c']) calls.push(log.append(s, `${s}${i}`))
    await Promise.all(calls)
    for (const s of ['a', 'b', 'c']) t.deepEqual(texts(await log.read(s)), Array.from({ length: 50 }, (_, i) => `${s}${i}`))
  })
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: the first append to a new stream fsyncs the new directory and file entries before it resolves`, async (t) => {
    const dir = tempDir(t)
    const proto = await fileHandleProto(dir)
    const log = await openLog(t, backend, dir)
    const synced: string[] = []
    const { datasync } = proto
    const sync = proto.sync
    patch(t, proto, { datasync: function (this: FileHandle) { synced.push('datasync'); return datasync.call(this) } })
    Object.assign(proto, { sync: function (this: FileHandle) { synced.push('sync'); return sync.call(this) } })
    t.teardown(() => Object.assign(proto, { sync }))
    await log.append('fresh', 'x')
    // The store dir (for the new stream dir), the stream dir (for the segment), the manifest
    // (file and dir): then the data.
    t.true(synced.filter((s) => s === 'sync').length >= 3, synced.join(','))
    t.is(synced[synced.length - 1], 'datasync')
  })
}
