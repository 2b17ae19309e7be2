import { readdir } from 'node:fs/promises'
import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir, texts } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'

// SPEC §2: a NEW stream's name is unique ignoring letter case, among the streams and store files.
const clashing = ['LOCK', 'lock', 'Lock', 'chainlog.json', 'CHAINLOG.JSON', 'LOCK.x', 'chainlog.json.tmp', 'CON', 'nul', 'com1.txt', 'Lpt9', 'a.']

for (const backend of BACKENDS) {
  test(`${backend}: store-file, device and trailing-dot names are ERR_INVALID_ARGUMENT at creation and create nothing`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir)
    for (const name of clashing) {
      const err = await t.throwsAsync(log.append(name, 'x'))
      t.is(codeOf(err), 'ERR_INVALID_ARGUMENT', name)
      t.is(codeOf(await t.throwsAsync(log.checkpoint(name))), 'ERR_INVALID_ARGUMENT', name)
    }
    t.deepEqual(await log.streams(), [])
    t.deepEqual((await readdir(dir)).filter((e) => e !== 'LOCK' && e !== 'chainlog.json'), [])
    // Names that only look alike stay valid.
    for (const name of ['LOCKS', 'console', 'com10', 'a.b', 'chainlog']) await log.append(name, 'x')
    t.is((await log.streams()).length, 5)
  })

  test(`${backend}: a new stream equal to an existing one ignoring case is ERR_INVALID_ARGUMENT; the existing one is untouched`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir)
    await log.append('orders', 'a')
    for (const name of ['Orders', 'ORDERS', 'oRdErS']) {
      const err = await t.throwsAsync(log.append(name, 'x'))
      t.is(codeOf(err), 'ERR_INVALID_ARGUMENT', name)
      t.regex((err as Error).message, /"orders" ignoring letter case/)
    }
    await log.append('orders', 'b')
    t.deepEqual(texts(await log.read('orders')), ['a', 'b'])
    t.deepEqual(await log.streams(), ['orders'])
    await log.close()
    // After reopening too (the check is against the names on disk, not this session's).
    const again = await Log.open(dir, { backend })
    t.is(codeOf(await t.throwsAsync(again.append('ORDERS', 'x'))), 'ERR_INVALID_ARGUMENT')
    await again.append('orders', 'c')
    t.deepEqual(texts(await again.read('orders')), ['a', 'b', 'c'])
    await again.close()
  })

  test(`${backend}: two new streams differing only in case, created at once: exactly one is created`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    const results = await Promise.allSettled([log.append('Audit', 'x'), log.append('audit', 'y'), log.append('AUDIT', 'z')])
    const ok = results.filter((r) => r.status === 'fulfilled')
    t.is(ok.length, 1)
    for (const r of results) if (r.status === 'rejected') t.is(codeOf(r.reason), 'ERR_INVALID_ARGUMENT')
    t.is((await log.streams()).length, 1)
  })

  test(`${backend}: a memory log applies the same rule`, async (t) => {
    const log = await Log.memory({ backend })
    t.teardown(() => log.close())
    await log.append('orders', 'a')
    t.is(codeOf(await t.throwsAsync(log.append('Orders', 'x'))), 'ERR_INVALID_ARGUMENT')
    t.is(codeOf(await t.throwsAsync(log.append('lock', 'x'))), 'ERR_INVALID_ARGUMENT')
  })
}
