import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { events, caseName, freshLog, STORES } from './helpers/log-dir.ts'
import type { LogRecord } from '../ts/index.ts'

for (const store of STORES) for (const backend of BACKENDS) {
  const name = caseName(backend, store)
  test(`${name}: iterate yields every data record in order across segments and checkpoints`, async (t) => {
    const log = await freshLog(t, backend, store, { maxSegmentBytes: 1000, checkpointEvery: 5 })
    for (let i = 0; i < 40; i += 4) await log.append('s', events(i, i + 4))
    const seen: string[] = []
    for await (const r of log.iterate('s')) seen.push(r.payload.toString())
    t.deepEqual(seen, events(0, 40))
    const from: string[] = []
    const start = (await log.read('s', { from: 20, limit: 1 }))[0].offset
    for await (const r of log.iterate('s', { from: start, verify: 'genesis' })) from.push(r.payload.toString())
    t.is(from[0], (await log.get('s', start))!.payload.toString())
    t.is(from.length, 40 - events(0, 40).indexOf(from[0]))
  })

  test(`${name}: iterate over a stream larger than a read chunk streams it all (bounded memory)`, async (t) => {
    const log = await freshLog(t, backend, store, { sync: 'never' })
    const big = Buffer.alloc(64 * 1024, 7)
    for (let i = 0; i < 40; i++) await log.append('s', [big, `small-${i}`]) // ~2.5 MiB, several chunks
    let n = 0
    let bytes = 0
    for await (const r of log.iterate('s')) {
      n++
      bytes += r.payload.length
    }
    t.is(n, 80)
    t.is(bytes, 40 * (big.length + 'small-0'.length) + 30)
  })

  test(`${name}: iterate on an unknown stream ends at once; break ends it early`, async (t) => {
    const log = await freshLog(t, backend, store)
    for await (const _ of log.iterate('none')) t.fail()
    await log.append('s', events(0, 10))
    let n = 0
    for await (const _ of log.iterate('s')) if (++n === 3) break
    t.is(n, 3)
  })

  test(`${name}: follow yields records appended after it started, until break`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', 'before')
    const seen: LogRecord[] = []
    const done = (async () => {
      for await (const r of log.iterate('s', { follow: true })) {
        seen.push(r)
        if (seen.length === 4) break
      }
    })()
    await new Promise((r) => setTimeout(r, 20))
    await log.append('s', 'one')
    await log.append('s', ['two', 'three'])
    await done
    t.deepEqual(seen.map((r) => r.payload.toString()), ['before', 'one', 'two', 'three'])
    t.deepEqual(seen.map((r) => r.offset), [0, 1, 2, 3])
  })

  test(`${name}: follow waits for a stream that does not exist yet, and ends on close()`, async (t) => {
    const log = await freshLog(t, backend, store)
    const seen: string[] = []
    const done = (async () => {
      for await (const r of log.iterate('later', { follow: true })) seen.push(r.payload.toString())
    })()
    await new Promise((r) => setTimeout(r, 20))
    await log.append('later', ['a', 'b'])
    await new Promise((r) => setTimeout(r, 20))
    await log.close()
    await done
    t.deepEqual(seen, ['a', 'b'])
  })

  test(`${name}: follow from a future offset yields only from there on`, async (t) => {
    const log = await freshLog(t, backend, store, { checkpointEvery: false })
    const seen: number[] = []
    const done = (async () => {
      for await (const r of log.iterate('s', { from: 3, follow: true })) {
        seen.push(r.offset)
        if (r.offset === 5) break
      }
    })()
    for (let i = 0; i < 6; i++) await log.append('s', `e${i}`)
    await done
    t.deepEqual(seen, [3, 4, 5])
  })
}

for (const store of STORES) for (const backend of BACKENDS) {
  const name = caseName(backend, store)
  test(`${name}: follow never misses an append that lands while it is reading (30 quick races)`, async (t) => {
    const log = await freshLog(t, backend, store)
    for (let trial = 0; trial < 30; trial++) {
      const stream = `race-${trial}`
      await log.append(stream, 'before')
      const seen: string[] = []
      const done = (async () => {
        for await (const r of log.iterate(stream, { follow: true })) {
          seen.push(r.payload.toString())
          if (seen.length === 4) break
        }
      })()
      await new Promise((r) => setTimeout(r, trial % 4))
      await log.append(stream, 'one')
      await log.append(stream, ['two', 'three'])
      await done
      t.deepEqual(seen, ['before', 'one', 'two', 'three'])
    }
  })
}
