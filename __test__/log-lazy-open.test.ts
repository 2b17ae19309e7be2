// Opening a store costs what must be checked, not the number of streams: streams a clean close
// left untouched are opened on first use; everything else is recovered at open as before.
import test from 'ava'
import { existsSync, truncateSync, writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS } from './helpers/cores.ts'
import { abandon, openLog, segmentFile, tempDir } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'

const opened = (log: Log) => (log as unknown as { streamSet: { opened(): unknown[] } }).streamSet.opened().length

async function store(t: Parameters<typeof tempDir>[0], backend: (typeof BACKENDS)[number], streams: number): Promise<string> {
  const dir = tempDir(t, 'lazy')
  const log = await Log.open(dir, { backend, checkpointEvery: 4 })
  await Promise.all(Array.from({ length: streams }, (_, i) => log.append(`s${i}`, [`a${i}`, `b${i}`, `c${i}`])))
  await log.close()
  return dir
}

for (const backend of BACKENDS) {
  test(`${backend}: after a clean close, open recovers no stream; each is opened on first use and answers as before`, async (t) => {
    const dir = await store(t, backend, 50)
    t.true(existsSync(join(dir, '.clean')))
    const log = await openLog(t, backend, dir)
    t.is(opened(log), 0)
    t.false(existsSync(join(dir, '.clean')), 'a writer removes the mark before it writes anything')
    t.deepEqual(log.recovered, [])
    t.is((await log.streams()).length, 50)
    t.deepEqual((await log.read('s7')).map((r) => r.payload.toString()), ['a7', 'b7', 'c7'])
    t.is(opened(log), 1)
    t.is((await log.get('s8', 1))?.payload.toString(), 'b8')
    t.is((await log.head('s9')).nextOffset, 4) // three events and the closing checkpoint
    await log.append('s10', 'd10')
    t.deepEqual((await log.read('s10')).map((r) => r.payload.toString()), ['a10', 'b10', 'c10', 'd10'])
    t.is(opened(log), 4)
    const report = await log.verify()
    t.true(report.ok)
    t.is(report.streams.length, 50)
    await log.close()
    // The streams this session never opened stay marked clean; the next open is lazy again.
    const again = await openLog(t, backend, dir)
    t.is(opened(again), 0)
    t.is((await again.read('s10')).length, 4)
  })

  test(`${backend}: appends to a dormant stream made in one tick land in call order, with conditions judged in that order`, async (t) => {
    const dir = await store(t, backend, 3)
    const log = await openLog(t, backend, dir)
    const head = 4
    const results = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => log.append('s1', `x${i}`)),
      log.append('s1', 'stale', { expectedOffset: head }),
    ])
    t.true(results.slice(0, 20).every((r) => r.status === 'fulfilled'))
    t.is(results[20].status, 'rejected')
    const got = (await log.read('s1', { from: head })).map((r) => r.payload.toString())
    t.deepEqual(got.filter((p) => p.startsWith('x')), Array.from({ length: 20 }, (_, i) => `x${i}`))
  })

  test(`${backend}: a stream changed after the clean close is recovered at open, not on first use`, async (t) => {
    const dir = await store(t, backend, 3)
    const seg = segmentFile(dir, 's1')
    truncateSync(seg, statSync(seg).size - 5) // a torn tail that no crash made: still cut at open
    const log = await openLog(t, backend, dir)
    t.is(log.recovered.length, 1)
    t.is(log.recovered[0].stream, 's1')
    t.is(log.recovered[0].action, 'truncated')
    t.is(opened(log), 1, 'only the changed stream was opened')
    t.true((await log.verify()).ok)
  })

  test(`${backend}: a crash after a lazy open leaves no mark: the next open recovers every stream`, async (t) => {
    const dir = await store(t, backend, 5)
    const log = await Log.open(dir, { backend })
    await log.append('s2', 'after')
    await abandon(log)
    const again = await openLog(t, backend, dir)
    t.is(opened(again), 5)
    t.is((await again.read('s2')).length, 4)
  })

  test(`${backend}: a read-only open of a cleanly closed store is lazy, sees everything, and leaves the mark`, async (t) => {
    const dir = await store(t, backend, 5)
    const ro = await openLog(t, backend, dir, { readOnly: true })
    t.is(opened(ro), 0)
    t.is((await ro.read('s3')).length, 3)
    t.true((await ro.verify()).ok)
    t.true(existsSync(join(dir, '.clean')))
  })

  test(`${backend}: a follower of a dormant stream sees new appends`, async (t) => {
    const dir = await store(t, backend, 2)
    const log = await openLog(t, backend, dir)
    const seen: string[] = []
    const follower = (async () => {
      for await (const r of log.iterate('s0', { follow: true })) {
        seen.push(r.payload.toString())
        if (seen.length === 4) break
      }
    })()
    await new Promise((r) => setTimeout(r, 20))
    await log.append('s0', 'd0')
    await follower
    t.deepEqual(seen, ['a0', 'b0', 'c0', 'd0'])
  })

  test(`${backend}: an unreadable mark is ignored: every stream is recovered at open`, async (t) => {
    const dir = await store(t, backend, 3)
    for (const junk of ['{not json', JSON.stringify({ streams: { '../x': { segment: 0, segmentStamp: 'a', dirStamp: 'b' } } }), JSON.stringify({ streams: 7 })]) {
      writeFileSync(join(dir, '.clean'), junk)
      const log = await Log.open(dir, { backend })
      t.is(opened(log), 3)
      t.true((await log.verify()).ok)
      await log.close()
    }
  })
}
