/**
 * The store's durability rounds (ts/engine/sync-window.ts): appends under sync 'always' to many
 * streams at once have their fdatasyncs made together (native core: datasyncMany, on threads of
 * its own), and a failed fdatasync fails exactly the appends it should have made durable.
 */
import test from 'ava'
import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS, core } from './helpers/cores.ts'
import { codeOf, openLog, tempDir, texts } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import type { ChainlogCore } from '../ts/core/interface.ts'

const STREAMS = Array.from({ length: 12 }, (_, i) => `s${i}`)

/** Wraps the native core's datasyncMany for the test (the core object is shared: tests are serial). */
function wrapDatasyncMany(t: { teardown(fn: () => void): void }, c: ChainlogCore, around: (fds: number[], real: Int32Array) => Int32Array): { rounds: number[] } {
  const real = c.datasyncMany!
  const seen = { rounds: [] as number[] }
  c.datasyncMany = async (fds) => {
    seen.rounds.push(fds.length)
    return around(fds, await real(fds))
  }
  t.teardown(() => (c.datasyncMany = real))
  return seen
}

test.serial('native: datasyncMany fdatasyncs real descriptors and reports a bad one by its errno', async (t) => {
  const c = await core('native')
  t.is(typeof c.datasyncMany, 'function')
  const dir = tempDir(t)
  const fds = [openSync(join(dir, 'a'), 'w'), openSync(join(dir, 'b'), 'w')]
  // Never open: far above any descriptor limit. (A descriptor just closed could be reused by the
  // time of the call, by anything else this process opens.)
  const neverOpen = 2 ** 30
  try {
    t.deepEqual([...(await c.datasyncMany!([fds[0], neverOpen, fds[1]]))], [0, 9, 0]) // EBADF
    t.deepEqual([...(await c.datasyncMany!([]))], [])
  } finally {
    for (const fd of fds) closeSync(fd)
  }
  const bad = await c.datasyncMany!(['x' as unknown as number]).catch((e: unknown) => e)
  t.true(bad instanceof Error, 'a non-number descriptor is refused')
})

test.serial('js: the JS core has no datasyncMany (its fdatasyncs go through libuv\'s pool)', async (t) => {
  t.is((await core('js')).datasyncMany, undefined)
})

for (const backend of BACKENDS) {
  test.serial(`${backend}: concurrent sync 'always' appends to many streams are all durable and readable after reopen`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir)
    const seen = backend === 'native' ? wrapDatasyncMany(t, await core('native'), (_fds, real) => real) : null
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(STREAMS.flatMap((s) => [log.append(s, `${s}-${round}a`), log.append(s, `${s}-${round}b`)]))
      t.is(results.length, STREAMS.length * 2)
    }
    if (seen !== null) t.true(seen.rounds.some((n) => n > 1), `rounds: ${seen.rounds.join(', ')}`)
    await log.close()
    const again = await Log.open(dir, { backend })
    try {
      for (const s of STREAMS) {
        t.deepEqual(texts(await again.read(s, { verify: 'genesis' })), [0, 1, 2].flatMap((r) => [`${s}-${r}a`, `${s}-${r}b`]))
      }
    } finally {
      await again.close()
    }
  })
}

test.serial('native: rounds stay within the open-file budget: 60 streams through 8 descriptors, appended to at once, all settle', async (t) => {
  const dir = tempDir(t)
  const log = await openLog(t, 'native', dir, { maxOpenFiles: 8 })
  const seen = wrapDatasyncMany(t, await core('native'), (_fds, real) => real)
  const streams = Array.from({ length: 60 }, (_, i) => `b${i}`)
  for (let round = 0; round < 3; round++) await Promise.all(streams.map((s) => log.append(s, `${s}-${round}`)))
  t.true(seen.rounds.length > 0 && Math.max(...seen.rounds) <= 4, `round sizes: ${seen.rounds.join(', ')}`)
  for (const s of streams) t.deepEqual(texts(await log.read(s)), [0, 1, 2].map((r) => `${s}-${r}`))
})

test.serial('native: an fdatasync that fails in a round fails its stream\'s appends (ERR_IO, rolled back), not the others\'', async (t) => {
  const dir = tempDir(t)
  const log = await openLog(t, 'native', dir, { checkpointEvery: false })
  await Promise.all(STREAMS.map((s) => log.append(s, 'before')))
  let failed = false
  wrapDatasyncMany(t, await core('native'), (fds, real) => {
    if (failed || fds.length < 2) return real
    failed = true
    const out = Int32Array.from(real)
    out[0] = 5 // EIO for the first descriptor of the first round of two or more
    return out
  })
  const settled = await Promise.allSettled(STREAMS.map((s) => log.append(s, 'after')))
  t.true(failed, 'a round of two or more streams was made')
  const rejected = settled.flatMap((r, i) => (r.status === 'rejected' ? [STREAMS[i]] : []))
  t.is(rejected.length, 1, `rejected: ${rejected.join(', ')}`)
  const reason = (settled[STREAMS.indexOf(rejected[0])] as PromiseRejectedResult).reason
  t.is(codeOf(reason), 'ERR_IO')
  t.regex((reason as Error).message, /EIO/)
  for (const s of STREAMS) {
    t.deepEqual(texts(await log.read(s)), s === rejected[0] ? ['before'] : ['before', 'after'], s)
  }
})
