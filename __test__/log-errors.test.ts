import test from 'ava'
import { readFileSync } from 'node:fs'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir, texts } from './helpers/log-dir.ts'
import { ChainlogError, Log } from '../ts/index.ts'

const badNames: unknown[] = ['', '.hidden', '..', '../x', 'a/b', 'a\\b', 'sp ace', 'ü', 'x'.repeat(129), -1, 1.5, NaN, 2 ** 53, null, undefined, {}, ['a']]

for (const backend of BACKENDS) {
  test(`${backend}: bad stream names are ERR_INVALID_ARGUMENT for every call`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    for (const name of badNames) {
      for (const call of [
        () => log.append(name as string, 'x'),
        () => log.read(name as string),
        () => log.get(name as string, 0),
        () => log.head(name as string),
        () => log.checkpoint(name as string),
        ...(name === undefined ? [] : [() => log.verify(name as string)]), // verify() with no stream checks them all
      ]) {
        const err = await t.throwsAsync(async () => call())
        t.true(err instanceof ChainlogError, `name ${String(name)}`)
        t.is(codeOf(err), 'ERR_INVALID_ARGUMENT', `name ${String(name)}`)
      }
    }
    t.deepEqual(await log.streams(), [])
  })

  test(`${backend}: valid stream names include dots, dashes, 128 bytes and integers`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    for (const name of ['a.b', 'A-Z_0.9', 'x'.repeat(128), 0, 12345, Number.MAX_SAFE_INTEGER]) await log.append(name as string, 'x')
    t.deepEqual((await log.streams()).length, 6)
    t.deepEqual(texts(await log.read('12345')), ['x'])
  })

  test(`${backend}: bad events are ERR_INVALID_ARGUMENT and write nothing`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    for (const events of [[], [1], ['ok', 2], [null], null, undefined, 42, { length: 1 }, ['ok', {}]]) {
      const err = await t.throwsAsync(async () => log.append('s', events as string))
      t.is(codeOf(err), 'ERR_INVALID_ARGUMENT', JSON.stringify(events))
    }
    t.is((await log.head('s')).nextOffset, 0)
  })

  test(`${backend}: an oversized record is ERR_RECORD_TOO_LARGE and no event of the batch is written`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { maxRecordBytes: 100 })
    await log.append('s', 'x'.repeat(100))
    const err = await t.throwsAsync(log.append('s', ['small', 'x'.repeat(101)]))
    t.is(codeOf(err), 'ERR_RECORD_TOO_LARGE')
    t.deepEqual(texts(await log.read('s')), ['x'.repeat(100)])
  })

  test(`${backend}: bad offsets and read options are ERR_INVALID_ARGUMENT`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    await log.append('s', 'x')
    const bad: Array<() => Promise<unknown>> = [
      () => log.get('s', -1), () => log.get('s', 1.5), () => log.get('s', '0' as unknown as number), () => log.get('s', 2 ** 53),
      () => log.read('s', { from: -1 }), () => log.read('s', { from: 0.5 }), () => log.read('s', { limit: -1 }),
      () => log.read('s', { maxBytes: 1.1 }), () => log.read('s', { verify: 'all' as 'none' }), () => log.read('s', { fromTime: -5 }),
      () => log.read('s', { frm: 1 } as object), () => log.read('s', 5 as unknown as object),
      () => log.append('s', 'x', { expectedOffset: -1 }), () => log.append('s', 'x', { expectedOffset: 0.5 }),
      () => log.append('s', 'x', { expectedHash: Buffer.alloc(31) }), () => log.append('s', 'x', { expectedHash: 'ab' as unknown as Buffer }),
      () => log.append('s', 'x', { timestamp: -1 }), () => log.append('s', 'x', { sync: 'sometimes' as 'never' }),
      () => log.get('s', 0, { verify: true as unknown as 'none' }), async () => log.iterate('s', { follow: 'yes' as unknown as boolean }),
      () => log.verify('s', { onProgress: 5 as unknown as () => void }),
    ]
    for (const [i, call] of bad.entries()) {
      const err = await t.throwsAsync(async () => call())
      t.is(codeOf(err), 'ERR_INVALID_ARGUMENT', `case ${i}: ${err?.message}`)
    }
    t.deepEqual(texts(await log.read('s')), ['x'])
  })

  test(`${backend}: bad Log.open options are ERR_INVALID_ARGUMENT and create nothing`, async (t) => {
    const dir = tempDir(t)
    const bad: object[] = [
      { maxSegmentBytes: 0 }, { maxSegmentBytes: 1.5 }, { maxSegmentBytes: '1' }, { checkpointEvery: 0 }, { checkpointEvery: true },
      { checkpointEvery: -3 }, { compression: 'gzip' }, { compression: { codec: 'zstd', level: 99 } }, { compression: { codec: 'lz4', level: 3 } },
      { hash: 'md5' }, { sync: 'sometimes' }, { backend: 'wasm' }, { readOnly: 'yes' }, { maxRecordBytes: 0 }, { maxRecordBytes: 2 ** 31 },
      { unknownOption: 1 },
    ]
    for (const options of bad) {
      const err = await t.throwsAsync(Log.open(`${dir}/store`, { backend, ...options }))
      t.is(codeOf(err), 'ERR_INVALID_ARGUMENT', JSON.stringify(options))
    }
    for (const d of ['', 5, null]) t.is(codeOf(await t.throwsAsync(Log.open(d as string))), 'ERR_INVALID_ARGUMENT')
    const { existsSync } = await import('node:fs')
    t.false(existsSync(`${dir}/store`))
  })

  test(`${backend}: every call after close() is ERR_CLOSED; close() twice is fine`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    await log.append('s', 'x')
    await log.close()
    await log.close()
    for (const call of [
      () => log.append('s', 'y'), () => log.read('s'), () => log.get('s', 0), () => log.head('s'), () => log.checkpoint('s'),
      () => log.verify(), () => log.streams(), () => log.flush(), async () => log.iterate('s'),
    ]) {
      t.is(codeOf(await t.throwsAsync(async () => call())), 'ERR_CLOSED')
    }
  })

  test(`${backend}: appends queued before close() complete; close() waits for them`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend })
    const pending = Array.from({ length: 20 }, (_, i) => log.append('s', `e${i}`))
    await log.close()
    const results = await Promise.all(pending)
    t.is(results[19].lastOffset, 19)
    const again = await openLog(t, backend, dir)
    t.is((await again.read('s')).length, 20)
  })

  test(`${backend}: a readOnly log refuses writes with ERR_READ_ONLY and sees earlier appends`, async (t) => {
    const dir = tempDir(t)
    const writer = await openLog(t, backend, dir)
    await writer.append('s', ['a', 'b'])
    const reader = await openLog(t, backend, dir, { readOnly: true })
    t.deepEqual(texts(await reader.read('s')), ['a', 'b'])
    t.is(codeOf(await t.throwsAsync(reader.append('s', 'c'))), 'ERR_READ_ONLY')
    t.is(codeOf(await t.throwsAsync(reader.checkpoint('s'))), 'ERR_READ_ONLY')
    await reader.close()
  })

  test(`${backend}: readOnly on a directory without a store is an error, and creates nothing`, async (t) => {
    const dir = tempDir(t)
    t.is(codeOf(await t.throwsAsync(Log.open(`${dir}/none`, { backend, readOnly: true }))), 'ERR_INVALID_ARGUMENT')
    const { existsSync } = await import('node:fs')
    t.false(existsSync(`${dir}/none`))
  })

  test(`${backend}: reopening with another hash is ERR_STORE_MISMATCH; without one, the store's hash is used`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, hash: 'sha256' })
    await log.append('s', 'x')
    await log.close()
    t.is(codeOf(await t.throwsAsync(Log.open(dir, { backend, hash: 'blake3' }))), 'ERR_STORE_MISMATCH')
    const again = await openLog(t, backend, dir)
    t.deepEqual(texts(await again.read('s', { verify: 'genesis' })), ['x'])
  })

  test(`${backend}: a store file of an unknown format is ERR_UNSUPPORTED; garbage is ERR_CORRUPT`, async (t) => {
    const { writeFileSync, mkdirSync } = await import('node:fs')
    const a = tempDir(t)
    mkdirSync(a, { recursive: true })
    writeFileSync(`${a}/chainlog.json`, JSON.stringify({ format: 3, hash: 'blake3' }))
    t.is(codeOf(await t.throwsAsync(Log.open(a, { backend }))), 'ERR_UNSUPPORTED')
    writeFileSync(`${a}/chainlog.json`, JSON.stringify({ format: 1, hash: 'md5' }))
    t.is(codeOf(await t.throwsAsync(Log.open(a, { backend }))), 'ERR_UNSUPPORTED')
    writeFileSync(`${a}/chainlog.json`, '{not json')
    t.is(codeOf(await t.throwsAsync(Log.open(a, { backend }))), 'ERR_CORRUPT')
    // The failed opens released the lock: a good store file opens.
    writeFileSync(`${a}/chainlog.json`, JSON.stringify({ format: 1, hash: 'blake3', created: 'x' }))
    const log = await openLog(t, backend, a)
    await log.append('s', 'ok')
    // A writable open upgraded the format-1 store file (SPEC §2) before its first write.
    t.like(JSON.parse(readFileSync(`${a}/chainlog.json`, 'utf8')), { format: 2, hash: 'blake3', created: 'x' })
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: a stream whose only append failed does not appear in streams()`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    t.is(codeOf(await t.throwsAsync(log.append('ghost', 'x', { expectedOffset: 5 }))), 'ERR_OFFSET_CONFLICT')
    await log.append('real', 'x')
    t.deepEqual(await log.streams(), ['real'])
    t.deepEqual((await log.verify()).streams.map((s) => s.stream), ['real'])
  })
}
