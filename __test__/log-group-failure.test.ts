import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir, texts } from './helpers/log-dir.ts'
import { interceptSegmentWrites } from './helpers/segment-writes.ts'

for (const backend of BACKENDS) {
  test.serial(`${backend}: a conditional append refused in a group whose write failed is judged again against the committed head`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', ['a', 'b'])
    const head = await log.head('s')
    ;(await interceptSegmentWrites(t, dir)).failNext('ENOSPC') // the next write, whichever way it goes
    // One group: 'A' is planned first, so 'B' (expecting the committed head) was refused against
    // a head that only 'A' would have made; the write fails and 'A' never lands.
    const [a, b, c] = await Promise.allSettled([
      log.append('s', 'A'),
      log.append('s', 'B', { expectedOffset: 2, expectedHash: head.hash }),
      log.append('s', 'C', { timestamp: 0 }),
    ])
    t.is(a.status, 'rejected')
    t.is(codeOf((a as PromiseRejectedResult).reason), 'ERR_IO')
    t.is(b.status, 'fulfilled', String((b as PromiseRejectedResult).reason))
    t.is((b as PromiseFulfilledResult<{ firstOffset: number }>).value.firstOffset, 2)
    t.is(c.status, 'rejected') // judged again after B: its timestamp is before B's
    t.is(codeOf((c as PromiseRejectedResult).reason), 'ERR_INVALID_ARGUMENT')
    t.deepEqual(texts(await log.read('s')), ['a', 'b', 'B'])
  })

  test.serial(`${backend}: a conditional append refused against the committed head stays refused when its group's write fails`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', ['a', 'b'])
    ;(await interceptSegmentWrites(t, dir)).failNext('ENOSPC') // the next write, whichever way it goes
    const [x, a] = await Promise.allSettled([log.append('s', 'X', { expectedOffset: 5 }), log.append('s', 'A')])
    t.is(codeOf((x as PromiseRejectedResult).reason), 'ERR_OFFSET_CONFLICT')
    t.is(codeOf((a as PromiseRejectedResult).reason), 'ERR_IO')
    t.deepEqual(texts(await log.read('s')), ['a', 'b'])
    t.is((await log.append('s', 'next')).firstOffset, 2)
  })
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: a stream whose first append failed to write leaves no segment behind: not listed, also after a reopen`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir)
    ;(await interceptSegmentWrites(t, dir)).failNext('ENOSPC') // the next write, whichever way it goes
    t.is(codeOf(await t.throwsAsync(log.append('s', 'A'))), 'ERR_IO')
    t.deepEqual(await log.streams(), [])
    await log.close()
    const again = await openLog(t, backend, dir)
    t.deepEqual(await again.streams(), [])
    t.true((await again.verify()).ok)
    t.is((await again.append('s', 'B')).firstOffset, 0)
    t.deepEqual(texts(await again.read('s')), ['B'])
    t.deepEqual(await again.streams(), ['s'])
  })
}
