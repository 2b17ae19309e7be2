/**
 * log.redact() (SPEC §9): the payload bytes vanish from every file of the store (quarantine
 * included), the record becomes form 3 with its chain hash unchanged, a tombstone records the
 * redaction, reads mark the record, verify (and verify against notes signed before) stays ok,
 * proofs of other records still check, and bad calls change nothing on disk.
 */
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { caseName, codeOf, fileHashes, filesIn, openLog, readSegment, segmentNumbers, STORES, tempDir, type StoreKind } from './helpers/log-dir.ts'
import { Log, type LogOptions } from '../ts/index.ts'
import { generateKey, verifyProof } from '../ts/tlog/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const T0 = 1_700_000_000_000
const ORIGIN = 'example.com/redact'

/** The files holding `needle`, anywhere under `dir`. */
function holding(dir: string, needle: Buffer): string[] {
  return [...filesIn(dir)].filter(([, b]) => b.includes(needle)).map(([p]) => p)
}

/** A distinctive payload no codec can shrink (random bytes around a marker). */
function secret(label: string): Buffer {
  return Buffer.concat([Buffer.from(`SECRET<${label}>`), randomBytes(200)])
}

/** A store as files: the disk directory itself, or a memory log saved to one. */
async function storeFiles(t: ExecutionContext, log: Log, store: StoreKind, dir: string | null): Promise<string> {
  if (store === 'disk') return dir!
  const out = join(tempDir(t, 'redact-saved'), 'store')
  await log.saveTo(out)
  return out
}

async function openStore(t: ExecutionContext, backend: BackendName, store: StoreKind, options: LogOptions): Promise<{ log: Log; dir: string | null }> {
  if (store === 'disk') {
    const dir = tempDir(t, 'redact')
    return { log: await openLog(t, backend, dir, options), dir }
  }
  const log = await Log.memory({ backend, ...options })
  t.teardown(() => log.close().catch(() => {}))
  return { log, dir: null }
}

for (const backend of BACKENDS) {
  for (const store of STORES) {
    for (const compression of ['none', 'lz4', 'zstd'] as const) {
      test(`${caseName(backend, store)}/${compression}: redacting a record in a sealed and in the active segment erases its payload from every file, keeps hashes and the chain, and reads mark it`, async (t) => {
        const { log, dir } = await openStore(t, backend, store, { backend, maxSegmentBytes: 2048, compression, checkpointEvery: 10 })
        const payloads: Buffer[] = []
        // Compressible neighbours, so lz4/zstd segments hold compressed records around the rewrite.
        for (let i = 0; i < 40; i++) {
          const p = i === 3 || i === 41 ? secret(`${i}`) : Buffer.from(`event-${i}-` + 'abc'.repeat(30))
          payloads.push(p)
          await log.append('s', p, { timestamp: T0 + i })
        }
        const sealedTarget = 3 // in segment 0
        const head = await log.head('s')
        t.true(head.segments > 1)
        const secretActive = secret('active')
        const appended = await log.append('s', secretActive)
        const activeTarget = appended.firstOffset
        const before = new Map((await log.read('s', { limit: 1000 })).map((r) => [r.offset, r]))
        const beforeTree = await log.treeHead('s')

        const r1 = await log.redact('s', sealedTarget, { reason: 'erasure request #1' })
        t.is(r1.offset, sealedTarget)
        t.is(r1.tombstoneOffset, activeTarget + 1)
        const r2 = await log.redact('s', activeTarget)
        t.deepEqual(r2, { offset: activeTarget, tombstoneOffset: activeTarget + 2 })
        await log.append('s', 'after the redactions')

        const all = await log.read('s', { limit: 1000 })
        for (const r of all) {
          const old = before.get(r.offset)
          if (old !== undefined) t.true(r.hash.equals(old.hash), `hash of ${r.offset} unchanged`)
          if (r.offset === sealedTarget || r.offset === activeTarget) {
            t.true(r.redacted)
            t.is(r.payload.length, 0)
          } else {
            t.is(r.redacted, undefined)
            if (old !== undefined) t.true(r.payload.equals(old.payload), `payload of ${r.offset} intact`)
          }
        }
        const tombstones = all.filter((r) => r.kind === 'tombstone')
        t.deepEqual(tombstones.map((r) => Number(r.payload.readBigUInt64LE(0))), [sealedTarget, activeTarget])
        t.is(tombstones[0].payload.subarray(8).toString(), 'erasure request #1')
        t.is(tombstones[1].payload.length, 8)
        const got = await log.get('s', sealedTarget)
        t.true(got!.redacted)
        t.is(got!.payload.length, 0)
        t.true((await log.get('s', activeTarget, { verify: 'genesis' }))!.redacted)
        const iterated = []
        for await (const r of log.iterate('s', { from: sealedTarget })) {
          iterated.push(r)
          if (iterated.length === 2) break
        }
        t.true(iterated[0].redacted)
        t.true((await log.treeHead('s', beforeTree.size)).root.equals(beforeTree.root), 'the tree over the same records is unchanged')
        const report = await log.verify('s')
        t.deepEqual(report.streams[0].problems, [])
        t.true(report.ok)

        const saved = await storeFiles(t, log, store, dir)
        t.deepEqual(holding(saved, payloads[sealedTarget]), [])
        t.deepEqual(holding(saved, secretActive), [])
        t.deepEqual(holding(saved, payloads[sealedTarget].subarray(0, 40)), [], 'no part of it either')
        t.true(holding(saved, payloads[5].subarray(0, 20)).length > 0 || compression !== 'none', 'other payloads are still there')
        await log.close()
        // Reopened (and read-only on disk): the same.
        const again = await openLog(t, backend, saved, store === 'disk' ? { readOnly: true } : {})
        const reread = await again.read('s', { from: sealedTarget, limit: 1 })
        t.true(reread[0].redacted)
        t.true((await again.verify()).ok)
        t.true((await again.get('s', activeTarget))!.redacted)
      })
    }

    test(`${caseName(backend, store)}: redaction under concurrent appends: every append lands, in order, and verify passes`, async (t) => {
      const { log } = await openStore(t, backend, store, { backend, maxSegmentBytes: 4096 })
      for (let i = 0; i < 100; i++) await log.append('s', `event-${i}`)
      const appends: Promise<unknown>[] = []
      const redactions: Promise<unknown>[] = []
      for (let i = 0; i < 200; i++) {
        appends.push(log.append('s', [`more-${i}-a`, `more-${i}-b`]))
        if (i % 20 === 0) redactions.push(log.redact('s', (i / 20) * 9 + 1, { reason: `r${i}` }))
      }
      const results = (await Promise.all(appends)) as Array<{ firstOffset: number }>
      const redacted = (await Promise.all(redactions)) as Array<{ offset: number; tombstoneOffset: number }>
      t.is(redacted.length, 10)
      const records = await log.read('s', { limit: 10_000 })
      for (const [i, r] of results.entries()) {
        const at = records.find((x) => x.offset === r.firstOffset)!
        t.is(at.payload.toString(), `more-${i}-a`)
      }
      for (const r of redacted) {
        t.true(records.find((x) => x.offset === r.offset)!.redacted)
        t.is(records.find((x) => x.offset === r.tombstoneOffset)!.kind, 'tombstone')
      }
      t.true((await log.verify('s')).ok)
    })
  }

  test(`${backend}: reads running while segments are rewritten never fail: an iterator, gets and reads read again with the new positions`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 8192, checkpointEvery: 16 })
    for (let i = 0; i < 400; i++) await log.append('s', `event-${i}-` + 'y'.repeat(i % 50))
    const it = log.iterate('s', { from: 0 })[Symbol.asyncIterator]()
    const first = await it.next()
    t.is(first.value.offset, 0)
    let stop = false
    const readers = [
      (async () => {
        let n = 0
        while (!stop) {
          const r = await log.get('s', (n * 37) % 380)
          if (r !== undefined && !r.redacted) t.true(r.payload.toString().startsWith('event-'))
          n++
          if (n % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
        }
        return n
      })(),
      (async () => {
        let n = 0
        while (!stop) {
          const rs = await log.read('s', { from: (n * 53) % 300, limit: 50, verify: 'genesis' })
          t.true(rs.length > 0)
          n++
        }
        return n
      })(),
    ]
    const targets = [3, 100, 101, 250, 399, 17, 200]
    for (const offset of targets) {
      const r = await log.get('s', offset)
      if (r?.kind === 'data') await log.redact('s', offset)
    }
    stop = true
    const counts = await Promise.all(readers)
    t.true(counts.every((n) => n > 0))
    let seen = 1
    for (let r = await it.next(); !r.done && seen < 380; r = await it.next()) seen++
    t.true(seen >= 380)
    await it.return?.()
    t.true((await log.verify('s')).ok)
  })

  test(`${backend}: verify({ trusted }) against a note signed before the redaction, and proofs of other records, still check`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey(ORIGIN)
    const log = await openLog(t, backend, dir, { hash: 'sha256', maxSegmentBytes: 1500, tlog: { origin: ORIGIN, signer: key.skey } })
    for (let i = 0; i < 60; i++) await log.append('s', i === 7 ? secret('7') : `event-${i}`, { timestamp: T0 + i })
    const cp = await log.checkpoint('s')
    const proofBefore = await log.prove('s', 8)
    await log.redact('s', 7, { reason: 'gdpr' })
    const report = await log.verify('s', { trusted: [cp.note!], keys: [log.vkey('s')] })
    t.deepEqual(report.streams[0].problems, [])
    for (const offset of [6, 7, 8, 30]) {
      const p = await log.prove('s', offset, { treeSize: cp.treeSize })
      t.is(verifyProof(p.text!, { vkey: log.vkey('s'), origin: ORIGIN, hash: 'sha256' }).index, offset)
    }
    t.is((await log.prove('s', 8)).text, proofBefore.text)
    const cp2 = await log.checkpoint('s')
    t.true((await log.verify('s', { trusted: [cp.note!, cp2.note!], keys: [log.vkey('s')] })).ok)
  })

  test(`${backend}: copies in quarantine/ are scrubbed: a whole record becomes form 3, raw payload bytes become zeros`, async (t) => {
    const dir = tempDir(t)
    const payload = secret('q')
    let log = await openLog(t, backend, dir, { compression: 'zstd' })
    for (let i = 0; i < 10; i++) await log.append('s', i === 4 ? payload : `event-${i}`, { timestamp: T0 + i })
    await log.close()
    // As if repair had moved a copy of the record (and loose bytes holding it) to quarantine.
    const seg = readSegment(dir, 's')
    const at = seg.indexOf(Buffer.from('SECRET<q>'))
    const start = seg.lastIndexOf(Buffer.from([0xfe, 0x0f, 0xdc, 0xba]), at)
    const frameLength = 66 + seg.readUInt32LE(start + 54)
    mkdirSync(join(dir, 's', 'quarantine'))
    const quarantined = Buffer.concat([Buffer.from('junk'), seg.subarray(start, start + frameLength), Buffer.from('junk'), payload, Buffer.from('end')])
    writeFileSync(join(dir, 's', 'quarantine', 'segment_000000.log.999.bin'), quarantined)
    writeFileSync(join(dir, 's', 'quarantine', 'other.bin'), 'nothing of it')
    log = await openLog(t, backend, dir)
    await log.redact('s', 4)
    t.deepEqual(holding(dir, payload.subarray(0, 60)), [])
    const scrubbed = readFileSync(join(dir, 's', 'quarantine', 'segment_000000.log.999.bin'))
    t.is(scrubbed.length, quarantined.length - frameLength + 106)
    t.is(scrubbed[4 + 53], 3, 'the quarantined record is now form 3')
    t.true(scrubbed.subarray(4 + 106 + 4, 4 + 106 + 4 + payload.length).equals(Buffer.alloc(payload.length)))
    t.is(readFileSync(join(dir, 's', 'quarantine', 'other.bin'), 'utf8'), 'nothing of it')
    t.true((await log.verify()).ok)
  })

  test(`${backend}: verify reports a redacted record no tombstone names (a hidden deletion)`, async (t) => {
    const fill = async (dir: string) => {
      const log = await Log.open(dir, { backend, maxSegmentBytes: 1024, checkpointEvery: false })
      for (let i = 0; i < 40; i++) await log.append('s', `event-${i}-padding-padding`, { timestamp: T0 + i })
      return log
    }
    const honest = tempDir(t, 'honest')
    const tampered = tempDir(t, 'tampered')
    await (await fill(tampered)).close()
    const log = await fill(honest)
    await log.redact('s', 2)
    await log.close()
    t.true(segmentNumbers(honest, 's').length > 1)
    // The redacted segment without its tombstone: a deletion someone hid.
    copyFileSync(join(honest, 's', 'segment_000000.log'), join(tampered, 's', 'segment_000000.log'))
    rmSync(join(tampered, 's', 'segment_000000.log.idx'), { force: true })
    rmSync(join(tampered, 's', 'manifest.json'), { force: true })
    rmSync(join(tampered, '.clean'), { force: true })
    const opened = await openLog(t, backend, tampered, { readOnly: true })
    const report = await opened.verify('s')
    t.false(report.ok)
    const problem = report.streams[0].problems.find((p) => p.offset === 2)
    t.truthy(problem, JSON.stringify(report.streams[0].problems))
    t.regex(problem!.message, /no tombstone names it/)
  })

  test(`${backend}: bad calls are refused with a ChainlogError and change nothing on disk`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: 5, maxSegmentBytes: 1024 })
    for (let i = 0; i < 12; i++) await log.append('s', `event-${i}`)
    const done = await log.redact('s', 1)
    await log.flush()
    const before = fileHashes(dir)
    const records = await log.read('s', { limit: 100 })
    const checkpointAt = (await log.head('s')).lastCheckpoint!
    t.false(records.some((r) => r.offset === checkpointAt), 'a checkpoint sits there')
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['a checkpoint', () => log.redact('s', checkpointAt), 'ERR_INVALID_ARGUMENT'],
      ['a tombstone', () => log.redact('s', done.tombstoneOffset!), 'ERR_INVALID_ARGUMENT'],
      ['past the end', () => log.redact('s', 1000), 'ERR_INVALID_ARGUMENT'],
      ['the next offset', async () => log.redact('s', (await log.head('s')).nextOffset), 'ERR_INVALID_ARGUMENT'],
      ['a negative offset', () => log.redact('s', -1), 'ERR_INVALID_ARGUMENT'],
      ['a fraction', () => log.redact('s', 1.5), 'ERR_INVALID_ARGUMENT'],
      ['a string offset', () => log.redact('s', '2' as never), 'ERR_INVALID_ARGUMENT'],
      ['no offset', () => (log.redact as (s: string) => Promise<unknown>)('s'), 'ERR_INVALID_ARGUMENT'],
      ['a missing stream', () => log.redact('nope', 0), 'ERR_INVALID_ARGUMENT'],
      ['a bad stream name', () => log.redact('../x', 0), 'ERR_INVALID_ARGUMENT'],
      ['a reason that is not a string', () => log.redact('s', 2, { reason: 5 as never }), 'ERR_INVALID_ARGUMENT'],
      ['a reason over 1 KiB', () => log.redact('s', 2, { reason: 'é'.repeat(513) }), 'ERR_INVALID_ARGUMENT'],
      ['an unknown option', () => log.redact('s', 2, { why: 'x' } as never), 'ERR_INVALID_ARGUMENT'],
      ['options not an object', () => log.redact('s', 2, 'x' as never), 'ERR_INVALID_ARGUMENT'],
    ]
    for (const [what, call, code] of cases) {
      const err = await call().then(() => null, (e: unknown) => e)
      t.is(codeOf(err), code, what)
    }
    t.deepEqual(await log.redact('s', 2, { reason: 'x'.repeat(1024) }).then(() => 'ok'), 'ok', 'a reason of exactly 1 KiB is fine')
    const after2 = fileHashes(dir)
    // Redacting an already-redacted record is a no-op: nothing written.
    t.deepEqual(await log.redact('s', 1), { offset: 1, tombstoneOffset: null })
    t.deepEqual(fileHashes(dir), after2)
    t.notDeepEqual(after2, before)
    await log.close()
    t.is(codeOf(await log.redact('s', 3).catch((e) => e)), 'ERR_CLOSED')
    const closedSnapshot = fileHashes(dir)
    const ro = await openLog(t, backend, dir, { readOnly: true })
    t.is(codeOf(await ro.redact('s', 3).catch((e) => e)), 'ERR_READ_ONLY')
    t.deepEqual(fileHashes(dir), closedSnapshot)
  })

  test(`${backend}: the failed calls before any write leave every file as it was`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: 5 })
    for (let i = 0; i < 12; i++) await log.append('s', `event-${i}`)
    await log.flush()
    const before = fileHashes(dir)
    for (const call of [() => log.redact('s', 5), () => log.redact('s', 99), () => log.redact('s', 0, { reason: 'x'.repeat(1025) })]) {
      t.is(codeOf(await call().catch((e) => e)), 'ERR_INVALID_ARGUMENT')
    }
    t.deepEqual(fileHashes(dir), before)
  })

  test(`${backend}: a record in a segment with a bad CRC elsewhere is refused (ERR_CORRUPT), nothing rewritten`, async (t) => {
    const dir = tempDir(t)
    let log = await openLog(t, backend, dir, { maxSegmentBytes: 1024, checkpointEvery: false })
    for (let i = 0; i < 40; i++) await log.append('s', `event-${i}-padding-padding`)
    await log.close()
    const seg = readSegment(dir, 's', 0)
    const at = seg.indexOf(Buffer.from('event-5-'))
    seg[at] ^= 0x01 // a CRC-breaking flip in record 5 of the sealed segment 0
    writeFileSync(join(dir, 's', 'segment_000000.log'), seg)
    log = await openLog(t, backend, dir)
    const before = fileHashes(dir)
    t.is(codeOf(await log.redact('s', 2).catch((e) => e)), 'ERR_CORRUPT')
    t.deepEqual(fileHashes(dir), before)
  })
}
