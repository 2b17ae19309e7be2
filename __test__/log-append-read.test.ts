import test from 'ava'
import { BACKENDS, core } from './helpers/cores.ts'
import { events, openLog, tempDir, texts, caseName, freshLog, STORES } from './helpers/log-dir.ts'
import { KIND_DATA } from '../ts/core/interface.ts'
import { ZERO_HASH } from './helpers/batch.ts'
import type { AppendResult } from '../ts/index.ts'
import { readFileSync } from 'node:fs'

const VECTORS = JSON.parse(readFileSync(new URL('../spec/vectors.json', import.meta.url), 'utf8'))

for (const store of STORES) for (const backend of BACKENDS) {
  const name = caseName(backend, store)
  test(`${name}: one appended event reads back at offset 0`, async (t) => {
    const log = await freshLog(t, backend, store)
    t.is(log.backend, backend)
    const r = await log.append('orders', 'event-0')
    t.is(r.firstOffset, 0)
    t.is(r.lastOffset, 0)
    t.is(r.nextOffset, 1)
    t.is(r.hash.length, 32)
    const records = await log.read('orders')
    t.deepEqual(texts(records), ['event-0'])
    t.is(records[0].offset, 0)
    t.is(records[0].kind, 'data')
    t.true(records[0].prevHash.equals(ZERO_HASH))
    t.true(records[0].hash.equals(r.hash))
  })

  test(`${name}: a batch of events gets consecutive offsets and reads back in order`, async (t) => {
    const log = await freshLog(t, backend, store)
    const r = await log.append('orders', events(0, 5))
    t.deepEqual([r.firstOffset, r.lastOffset, r.nextOffset], [0, 4, 5])
    const records = await log.read('orders')
    t.deepEqual(texts(records), events(0, 5))
    t.deepEqual(records.map((x) => x.offset), [0, 1, 2, 3, 4])
  })

  test(`${name}: strings and bytes are both accepted as events`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', [Buffer.from([0, 1, 2]), 'héllo', new Uint8Array([255])])
    const records = await log.read('s')
    t.deepEqual(records.map((r) => [...r.payload]), [[0, 1, 2], [...Buffer.from('héllo')], [255]])
  })

  test(`${name}: an empty payload is a valid event`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', ['', 'x', new Uint8Array(0)])
    t.deepEqual(texts(await log.read('s')), ['', 'x', ''])
  })

  test(`${name}: reading from the middle returns that offset onwards`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('orders', events(0, 10))
    t.deepEqual(texts(await log.read('orders', { from: 5 })), events(5, 10))
  })

  test(`${name}: sequential batches continue the offsets and the chain`, async (t) => {
    const log = await freshLog(t, backend, store)
    const a = await log.append('orders', events(0, 3))
    const b = await log.append('orders', events(3, 5), { expectedOffset: a.nextOffset, expectedHash: a.hash })
    t.is(b.firstOffset, 3)
    t.is(b.nextOffset, 5)
    const records = await log.read('orders', { verify: 'genesis' })
    t.deepEqual(texts(records), events(0, 5))
    for (let i = 1; i < records.length; i++) t.true(records[i].prevHash.equals(records[i - 1].hash))
  })

  test(`${name}: the chain hash equals one computed by hand from SPEC §2`, async (t) => {
    const c = await core(backend)
    const log = await freshLog(t, backend, store)
    let last: AppendResult | undefined
    for (let i = 0; i < 3; i++) last = await log.append('orders', `event-${i}`, { timestamp: 1700000000000 + i })
    let prev: Buffer = ZERO_HASH
    for (let i = 0; i < 3; i++) {
      const payload = Buffer.from(`event-${i}`)
      prev = c.recordHash('blake3', {
        stream: 'orders', prevHash: prev, offset: i, timestamp: 1700000000000 + i, kind: KIND_DATA,
        payloadLength: payload.length, commitment: c.commitment('blake3', payload),
      })
    }
    t.is(prev.toString('hex'), VECTORS.chain.blake3.hashes[2]) // h2 of spec/vectors.json
    t.true(last!.hash.equals(prev))
    t.true((await log.head('orders')).hash.equals(prev))
  })

  test(`${name}: a sha256 store produces the SPEC's sha256 chain`, async (t) => {
    const log = await freshLog(t, backend, store, { hash: 'sha256' })
    let last: AppendResult | undefined
    for (let i = 0; i < 3; i++) last = await log.append('orders', `event-${i}`, { timestamp: 1700000000000 + i })
    t.is(last!.hash.toString('hex'), VECTORS.chain.sha256.hashes[2])
  })

  test(`${name}: streams are isolated from each other`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('1', 'one')
    await log.append(2, 'two')
    await log.append('1', 'one-again')
    t.deepEqual(texts(await log.read(1)), ['one', 'one-again'])
    t.deepEqual(texts(await log.read('2')), ['two'])
    t.deepEqual(await log.streams(), ['1', '2'])
  })

  test(`${name}: maxBytes returns the first record always, then stops before exceeding the budget`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', Array.from({ length: 10 }, (_, i) => `0123456789`.slice(0, 9) + i))
    t.is((await log.read('s', { maxBytes: 25 })).length, 2) // 10 + 10 ≤ 25, a third would be 30
    t.is((await log.read('s', { maxBytes: 30 })).length, 3)
    t.is((await log.read('s', { maxBytes: 0 })).length, 1)
    t.is((await log.read('s', { maxBytes: 5 })).length, 1)
    t.is((await log.read('s', { maxBytes: 1000 })).length, 10)
  })

  test(`${name}: limit caps the number of records`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', events(0, 10))
    t.deepEqual(texts(await log.read('s', { from: 2, limit: 3 })), events(2, 5))
    t.deepEqual(await log.read('s', { limit: 0 }), [])
  })

  test(`${name}: reading an unknown stream or past the end returns nothing`, async (t) => {
    const log = await freshLog(t, backend, store)
    t.deepEqual(await log.read('nope'), [])
    await log.append('s', events(0, 3))
    t.deepEqual(await log.read('s', { from: 3 }), [])
    t.deepEqual(await log.read('s', { from: 1000 }), [])
    t.is(await log.get('s', 3), undefined)
    t.is(await log.get('nope', 0), undefined)
  })

  test(`${name}: get returns one record by offset with its hash and timestamp`, async (t) => {
    const log = await freshLog(t, backend, store)
    await log.append('s', events(0, 5), { timestamp: 42 })
    const r = await log.get('s', 3)
    t.is(r?.payload.toString(), 'event-3')
    t.is(r?.offset, 3)
    t.is(r?.timestamp, 42)
    for (const verify of ['none', 'genesis', 'checkpoint'] as const) t.is((await log.get('s', 4, { verify }))?.payload.toString(), 'event-4')
  })

  // Reads the segment file: disk only.
  for (const compression of store === 'disk' ? (['zstd', 'lz4', { codec: 'zstd' as const, level: 19 }] as const) : []) {
    test(`${name}: compressed appends (${JSON.stringify(compression)}) read back as written and shrink the segment`, async (t) => {
      const dir = tempDir(t)
      const log = await openLog(t, backend, dir, { compression })
      const big = 'abcdefgh'.repeat(2000)
      await log.append('s', [big, 'tiny', big + '!'])
      const records = await log.read('s', { verify: 'genesis' })
      t.deepEqual(texts(records), [big, 'tiny', big + '!'])
      const head = await log.head('s')
      const { statSync } = await import('node:fs')
      t.true(statSync(`${dir}/s/segment_000000.log`).size < big.length, 'stored compressed')
      // The hash does not depend on the stored form.
      const plain = await freshLog(t, backend, store)
      // The same batch (one append: the batch bit is part of each kind byte), stored uncompressed.
      await plain.append('s', [big, 'tiny', big + '!'], { timestamp: records[0].timestamp })
      t.true((await plain.head('s')).hash.equals(head.hash))
    })
  }

  test(`${name}: fromTime starts at the first record with a timestamp at or after it`, async (t) => {
    const log = await freshLog(t, backend, store, { checkpointEvery: 4 })
    for (let i = 0; i < 20; i++) await log.append('s', `event-${i}`, { timestamp: 1000 + 10 * Math.floor(i / 2) })
    const byOffset = await log.read('s')
    const first = byOffset.find((r) => r.timestamp >= 1035)!
    const fromTime = await log.read('s', { fromTime: 1035 })
    t.is(fromTime[0].offset, first.offset)
    t.is(fromTime[0].payload.toString(), 'event-8')
    t.deepEqual(texts(await log.read('s', { fromTime: 1040, limit: 2 })), ['event-8', 'event-9'])
    t.deepEqual(texts(await log.read('s', { fromTime: 0, limit: 1 })), ['event-0'])
    t.deepEqual(await log.read('s', { fromTime: 999999 }), [])
  })

  test(`${name}: engine timestamps never go backwards, even after a caller's future timestamp`, async (t) => {
    const log = await freshLog(t, backend, store)
    const future = Date.now() + 10_000_000
    await log.append('s', 'a')
    await log.append('s', 'b', { timestamp: future })
    await log.append('s', 'c')
    const [a, b, c] = await log.read('s')
    t.true(a.timestamp <= b.timestamp)
    t.is(b.timestamp, future)
    t.is(c.timestamp, future)
  })
}
