import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, events, texts, caseName, freshLog, STORES } from './helpers/log-dir.ts'
import { ZERO_HASH } from './helpers/batch.ts'

for (const store of STORES) for (const backend of BACKENDS) {
  const name = caseName(backend, store)
  test(`${name}: an append with the right expectedOffset succeeds`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', 'a', { expectedOffset: 0 })
    const r = await log.append('s', 'b', { expectedOffset: 1 })
    t.is(r.firstOffset, 1)
  })

  test(`${name}: a wrong expectedOffset is ERR_OFFSET_CONFLICT with both values and writes nothing`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', events(0, 3))
    for (const expectedOffset of [0, 2, 4, 1000]) {
      const err = await t.throwsAsync(log.append('s', 'x', { expectedOffset }))
      t.is(codeOf(err), 'ERR_OFFSET_CONFLICT')
      t.regex(err!.message, new RegExp(`${expectedOffset}\\b.*\\b3\\b`))
    }
    t.is((await log.head('s')).nextOffset, 3)
    t.deepEqual(texts(await log.read('s')), events(0, 3))
  })

  test(`${name}: expectedHash must equal the head hash (zeros for an empty stream)`, async (t) => {
    const log = await freshLog(t, backend, store)
    const first = await log.append('s', 'a', { expectedHash: ZERO_HASH })
    t.is(first.firstOffset, 0)
    const err = await t.throwsAsync(log.append('s', 'b', { expectedHash: ZERO_HASH }))
    t.is(codeOf(err), 'ERR_OFFSET_CONFLICT')
    const stale = Buffer.from(first.hash)
    await log.append('s', 'b', { expectedHash: first.hash })
    const err2 = await t.throwsAsync(log.append('s', 'c', { expectedOffset: 2, expectedHash: stale }))
    t.is(codeOf(err2), 'ERR_OFFSET_CONFLICT', 'a writer holding a stale chain is fenced even with the right offset')
    t.deepEqual(texts(await log.read('s')), ['a', 'b'])
  })

  test(`${name}: the hash returned by append is the token for the next conditional append, across checkpoints`, async (t) => {
    const log = await freshLog(t, backend, store, { checkpointEvery: 2 })
    let r = await log.append('s', 'a')
    for (let i = 0; i < 6; i++) r = await log.append('s', `e${i}`, { expectedOffset: r.nextOffset, expectedHash: r.hash })
    const head = await log.head('s')
    t.is(head.nextOffset, r.nextOffset)
    t.true(head.hash.equals(r.hash))
  })

  test(`${name}: concurrent conditional appends: exactly one of two racing writers wins`, async (t) => {
    const log = await freshLog(t, backend, store)
    const r0 = await log.append('s', 'base')
    const results = await Promise.allSettled([
      log.append('s', 'writer-1', { expectedOffset: r0.nextOffset, expectedHash: r0.hash }),
      log.append('s', 'writer-2', { expectedOffset: r0.nextOffset, expectedHash: r0.hash }),
    ])
    t.is(results[0].status, 'fulfilled', 'calls take effect in call order')
    t.is(results[1].status, 'rejected')
    t.is(codeOf((results[1] as PromiseRejectedResult).reason), 'ERR_OFFSET_CONFLICT')
    t.deepEqual(texts(await log.read('s')), ['base', 'writer-1'])
  })

  test(`${name}: a caller timestamp that goes backwards is ERR_INVALID_ARGUMENT and writes nothing`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', 'a', { timestamp: 5000 })
    await log.append('s', 'b', { timestamp: 5000 })
    const err = await t.throwsAsync(log.append('s', 'c', { timestamp: 4999 }))
    t.is(codeOf(err), 'ERR_INVALID_ARGUMENT')
    t.deepEqual(texts(await log.read('s')), ['a', 'b'])
  })

  test(`${name}: a failed conditional call in a group does not affect the calls around it`, async (t) => {
    const log = await freshLog(t, backend, store)
    const calls = [
      log.append('s', 'a'),
      log.append('s', 'bad', { expectedOffset: 7 }),
      log.append('s', 'b', { expectedOffset: 1 }),
    ]
    const [a, bad, b] = await Promise.allSettled(calls)
    t.is(a.status, 'fulfilled')
    t.is(bad.status, 'rejected')
    t.is(b.status, 'fulfilled')
    t.deepEqual(texts(await log.read('s')), ['a', 'b'])
  })
}
