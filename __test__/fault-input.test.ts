/**
 * Fault suite, part 7: bad input through the public API (SPEC §4), the cases log-errors.test.ts
 * does not already cover: names with NUL and other hostile names on every call including
 * iterate, numbers that are NaN, infinite, past 2^53 or not numbers at all in every numeric
 * argument, events and options of wrong types, buffers changed by the caller after the call,
 * and close() while appends to several streams are in flight. Every refusal is a ChainlogError
 * with its code, and nothing of a refused call is written.
 */
import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { count, figures } from './helpers/faults.ts'
import { codeOf, openLog, tempDir, texts } from './helpers/log-dir.ts'
import { ChainlogError, Log } from '../ts/index.ts'

const NAMES: unknown[] = [
  'a\0b', '\0', 'a\0', '../..', './a', '.', 'a/../b', '/abs', 'C:\\x', 'a\nb', 'a b', 'a:b', 'a*b', '%2e%2e', 'é', '😀', 'x'.repeat(129), 'é'.repeat(64),
  Infinity, -Infinity, -0.5, 2 ** 53 + 2, 1e300, 0.1, 1n, Symbol('s'), true, () => 'a', new String('a'), Buffer.from('a'),
]
const NUMBERS: unknown[] = [NaN, Infinity, -Infinity, -1, 0.5, 2 ** 53, 2 ** 53 + 2, 1e300, '1', 1n, null, true, {}, []]

async function refused(t: import('ava').ExecutionContext, call: () => unknown, code: string, where: string): Promise<void> {
  const err = await t.throwsAsync(async () => call(), undefined, where)
  t.true(err instanceof ChainlogError, `${where}: ${err}`)
  t.is(codeOf(err), code, `${where}: ${err?.message}`)
  const f = figures('input')
  f.trials++
  f.faults++
  if (codeOf(err) === code) f.found++
}

const plain = (_: string, v: unknown) => (typeof v === 'symbol' || typeof v === 'bigint' || typeof v === 'function' ? String(v) : v)
const show = (v: unknown) => JSON.stringify(v, plain) ?? String(v)

for (const backend of BACKENDS) {
  test(`${backend}: hostile stream names (NUL, paths, non-ASCII, non-integers, other types) are ERR_INVALID_ARGUMENT on every call, iterate included`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir)
    for (const name of NAMES) {
      const n = name as string
      for (const [label, call] of [
        ['append', () => log.append(n, 'x')], ['read', () => log.read(n)], ['get', () => log.get(n, 0)], ['head', () => log.head(n)],
        ['checkpoint', () => log.checkpoint(n)], ['verify', () => log.verify(n)], ['iterate', () => log.iterate(n)],
      ] as const) {
        await refused(t, call, 'ERR_INVALID_ARGUMENT', `${label}(${show(name)})`)
      }
    }
    t.deepEqual(await log.streams(), [])
    const { readdirSync } = await import('node:fs')
    t.deepEqual(readdirSync(dir).sort(), ['LOCK', 'chainlog.json'], 'nothing was created for a refused name')
  })

  test(`${backend}: every numeric argument refuses NaN, infinities, negatives, fractions, values past 2^53 and non-numbers`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    await log.append('s', ['x', 'y'])
    for (const v of NUMBERS) {
      const n = v as number
      const calls: [string, () => unknown][] = [
        ['get offset', () => log.get('s', n)], ['read from', () => log.read('s', { from: n })], ['read limit', () => log.read('s', { limit: n })],
        ['read maxBytes', () => log.read('s', { maxBytes: n })], ['read fromTime', () => log.read('s', { fromTime: n })],
        ['iterate from', () => log.iterate('s', { from: n })], ['append expectedOffset', () => log.append('s', 'z', { expectedOffset: n })],
        ['append timestamp', () => log.append('s', 'z', { timestamp: n })],
      ]
      for (const [label, call] of calls) {
        // limit/maxBytes may accept Infinity as "no cap"; everything else must be refused.
        if ((label === 'read limit' || label === 'read maxBytes') && v === Infinity) continue
        await refused(t, call, 'ERR_INVALID_ARGUMENT', `${label} = ${show(v)}`)
      }
    }
    t.deepEqual(texts(await log.read('s')), ['x', 'y'])
    t.is((await log.head('s')).nextOffset, 2)
    // A timestamp going backwards is refused too; past the end reads are empty, not errors.
    await log.append('s', 'late', { timestamp: 2_000_000_000_000 })
    await refused(t, () => log.append('s', 'early', { timestamp: 1_000_000_000_000 }), 'ERR_INVALID_ARGUMENT', 'timestamp backwards')
    t.deepEqual(await log.read('s', { from: 2 ** 53 - 1 }), [])
    t.is(await log.get('s', 2 ** 53 - 1), undefined)
    t.deepEqual(texts(await log.read('s')), ['x', 'y', 'late'])
  })

  test(`${backend}: events and options of wrong types are refused and write nothing`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    const badEvents: unknown[] = [
      new Uint16Array(2), new ArrayBuffer(4), new DataView(new ArrayBuffer(2)), [new Uint16Array(1)], ['ok', ['nested']], [new String('x')],
      // eslint-disable-next-line no-sparse-arrays
      // biome-ignore lint/suspicious/noSparseArray: a hole in the events array is one of the bad inputs
      ['a', , 'b'], [Symbol('e')], [1n], [true], new Set(['a']), { 0: 'a', length: 1 }, () => 'a', Symbol('e'), 1n,
    ]
    for (const e of badEvents) await refused(t, () => log.append('s', e as string), 'ERR_INVALID_ARGUMENT', `events ${show(e)}`)
    const badOptions: unknown[] = [null, 'sync', 5, ['a'], () => ({}), { expectedHash: Buffer.alloc(33) }, { expectedHash: new Uint16Array(16) }, { sync: true }, { sync: null }]
    for (const o of badOptions) await refused(t, () => log.append('s', 'x', o as object), 'ERR_INVALID_ARGUMENT', `append options ${show(o)}`)
    for (const o of [null, 'x', 5, [], { verify: null }, { limit: '1' }, { fromTime: '0' }]) await refused(t, () => log.read('s', o as object), 'ERR_INVALID_ARGUMENT', `read options ${show(o)}`)
    for (const o of [null, 'x', { verify: 'full' }]) await refused(t, () => log.get('s', 0, o as object), 'ERR_INVALID_ARGUMENT', `get options ${show(o)}`)
    for (const o of [null, 'x', { follow: 1 }, { from: '0' }]) await refused(t, () => log.iterate('s', o as object), 'ERR_INVALID_ARGUMENT', `iterate options ${show(o)}`)
    for (const o of [null, 'x', { onProgress: 'f' }]) await refused(t, () => log.verify('s', o as object), 'ERR_INVALID_ARGUMENT', `verify options ${show(o)}`)
    t.is((await log.head('s')).nextOffset, 0)
    t.deepEqual(await log.streams(), [])
    const dir = tempDir(t)
    const badOpen: unknown[] = [
      null, 'fast', 5, [], { maxSegmentBytes: -1 }, { maxSegmentBytes: NaN }, { maxSegmentBytes: Infinity }, { maxSegmentBytes: 2 ** 53 }, { checkpointEvery: 0.5 },
      { checkpointEvery: NaN }, { checkpointEvery: null }, { compression: null }, { compression: { codec: 'zstd', level: 1.5 } }, { compression: { level: 3 } },
      { compression: { codec: 'zstd', level: 3, extra: 1 } }, { hash: null }, { hash: 'SHA256' }, { backend: null }, { readOnly: 1 }, { maxRecordBytes: -5 }, { maxRecordBytes: '100' },
      { sync: null },
    ]
    for (const o of badOpen) await refused(t, () => Log.open(`${dir}/store`, o === null || typeof o !== 'object' || Array.isArray(o) ? (o as object) : { backend, ...o }), 'ERR_INVALID_ARGUMENT', `open options ${show(o)}`)
    const { existsSync } = await import('node:fs')
    t.false(existsSync(`${dir}/store`))
  })

  test(`${backend}: a buffer changed by the caller after append() was called is stored as it was at the call`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    const bufs = Array.from({ length: 50 }, (_, i) => Buffer.from(`payload-${i}`))
    const pending = bufs.map((b) => log.append('s', b))
    for (const b of bufs) b.fill(0x21) // while the appends are queued
    await Promise.all(pending)
    t.deepEqual(texts(await log.read('s', { verify: 'genesis' })), bufs.map((_, i) => `payload-${i}`))
  })

  test(`${backend}: close() while appends to several streams are in flight: each lands whole or fails with ERR_CLOSED, and the store verifies`, async (t) => {
    for (let round = 0; round < 5; round++) {
      const dir = tempDir(t)
      const log = await Log.open(dir, { backend, maxSegmentBytes: 2000, checkpointEvery: 5 })
      const calls: { stream: string; events: string[]; p: Promise<unknown> }[] = []
      let closing: Promise<void> | null = null
      for (let i = 0; i < 120; i++) {
        const stream = `s${i % 3}`
        const events = Array.from({ length: 1 + (i % 4) }, (_, k) => `${stream}-${i}-${k}`)
        calls.push({ stream, events, p: log.append(stream, events).then((r) => r, (e) => e) })
        if (i === 40 + round * 10) closing = log.close()
      }
      await closing
      const results = await Promise.all(calls.map((c) => c.p))
      const again = await openLog(t, backend, dir)
      t.true((await again.verify()).ok)
      const landed = new Map<string, string[]>()
      for (const s of ['s0', 's1', 's2']) landed.set(s, texts(await again.read(s)))
      let ok = 0
      for (const [i, c] of calls.entries()) {
        const r = results[i]
        const stored = landed.get(c.stream)!
        const at = stored.indexOf(c.events[0])
        if (r instanceof Error) {
          t.is(codeOf(r), 'ERR_CLOSED', String(r))
          t.is(at, -1, `a refused append wrote nothing: ${c.events[0]}`)
        } else {
          ok++
          t.deepEqual(stored.slice(at, at + c.events.length), c.events, 'an accepted append landed whole, in order')
          t.is((r as { firstOffset: number }).firstOffset >= 0, true)
        }
      }
      t.true(ok > 0 && ok < calls.length, `round ${round}: ${ok} of ${calls.length} accepted`)
      count('input', 'appends racing close()', calls.length)
      await again.close()
    }
  })
}
