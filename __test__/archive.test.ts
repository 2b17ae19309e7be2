import type { ExecutionContext } from 'ava'
import { readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import { Archiver, ArchiveReader, type ChainlogError, forkRestored, Log, restore } from '../ts/index.ts'
import { generateKey } from '../ts/tlog/index.ts'
import { BACKENDS } from './helpers/cores.ts'
import { runAndKill } from './helpers/run-and-kill.ts'
import type { BackendName } from '../ts/core/interface.ts'
import { CLI, ensureBuilt } from './helpers/dist.ts'
import { codeOf, openLog, tempDir } from './helpers/log-dir.ts'
import { int, rng, seedFromEnv } from './helpers/random.ts'
import { s3Suite } from './helpers/versitygw.ts'
import { jsonEvents } from './helpers/json-events.ts'
import { ObjectStore } from '../ts/archive/s3.ts'
import { Readable } from 'node:stream'

// The archive against a real S3 server (versitygw over a temp directory, started here on
// 127.0.0.1 and stopped after). Each test archives to its own prefix of one bucket.

const s3 = s3Suite('chainlog-archive')
const { test: s3test, skipNote, prefixUrl: prefixFor, shipOnce } = s3
const prefixUrl = () => prefixFor('t')


/** A remote reader on `url`, closed when the test ends. */
async function openReader(t: ExecutionContext, url: string, backend?: BackendName): Promise<ArchiveReader> {
  const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
  t.teardown(() => reader.close())
  return reader
}

/** A stream's payloads as the remote reader iterates them. */
async function remotePayloads(reader: ArchiveReader, stream: string): Promise<string[]> {
  const out: string[] = []
  for await (const r of reader.iterate(stream)) out.push(r.payload.toString())
  return out
}

/** The path of an archived object in versitygw's data directory. */
function objectPath(url: string, key: string): string {
  return join(s3.gw.dataDir, s3.bucket, url.slice(`s3://${s3.bucket}/`.length), key)
}

/** Segment and index files of a store, by relative path (manifests and store files differ by design). */
function segmentFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const stream of readdirSync(dir, { withFileTypes: true })) {
    if (!stream.isDirectory()) continue
    for (const f of readdirSync(join(dir, stream.name))) if (/^segment_\d+\.log$/.test(f)) out.set(`${stream.name}/${f}`, readFileSync(join(dir, stream.name, f)))
  }
  return out
}

for (const backend of BACKENDS) {
  s3test(`${backend}: continuous shipping under load, then restore gives byte-identical segments that open and verify${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 16 * 1024, checkpointEvery: 50 })
    const url = prefixUrl()
    const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 20 })
    t.teardown(() => archiver.stop())
    const producers = Array.from({ length: 4 }, async (_, p) => {
      for (let i = 0; i < 60; i++) await log.append(p % 2 === 0 ? 'orders' : 'audit', Array.from({ length: 1 + (i % 3) }, (_, k) => `p${p}-${i}-${k}-${'x'.repeat(i * 7 % 90)}`))
    })
    await Promise.all(producers)
    await archiver.sync()
    const status = await archiver.status()
    t.true(status.running)
    for (const s of status.streams) {
      t.is(s.lagRecords, 0, s.stream)
      t.is(s.lagBytes, 0, s.stream)
      t.is(s.shippedOffset, s.localOffset)
    }
    // What the archive must equal: the files now (close() would add a checkpoint it never saw).
    const src = segmentFiles(dir)
    const records = (await log.read('orders')).length
    await archiver.stop()
    await log.close()

    const out = join(tempDir(t, 'restored'), 'store')
    const report = await restore(url, out, { client: s3.gw.client, backend })
    t.deepEqual(report.streams.map((s) => s.stream), ['audit', 'orders'])
    const dst = segmentFiles(out)
    t.deepEqual([...dst.keys()].sort(), [...src.keys()].sort())
    for (const [k, v] of src) t.true(v.equals(dst.get(k)!), `${k} byte-identical`)
    const back = await openLog(t, backend, out)
    t.true((await back.verify()).ok)
    t.is((await back.read('orders')).length, records)
  })
}

/** The record at `offset` in a store's segment files (walking the framing): its segment number, position and bytes. */
function recordAt(dir: string, stream: string, offset: number): { num: number; at: number; bytes: Buffer } {
  for (const f of readdirSync(join(dir, stream)).filter((n) => /^segment_\d+\.log$/.test(n)).sort()) {
    const b = readFileSync(join(dir, stream, f))
    for (let at = 0; at < b.length; at += 66 + b.readUInt32LE(at + 54)) {
      if (Number(b.readBigUInt64LE(at + 4)) === offset) return { num: Number(/\d+/.exec(f)![0]), at, bytes: b.subarray(at, at + 66 + b.readUInt32LE(at + 54)) }
    }
  }
  throw new Error(`no record at offset ${offset}`)
}

/** The kind byte of the record at `offset`, read from the segment files. */
const kindByteAt = (dir: string, stream: string, offset: number): number => recordAt(dir, stream, offset).bytes[52]

/** Opens a store, appends `count` one-event batches and `multi` three-event batches per stream with given timestamps. */
async function fill(log: Log, stream: string, from: number, count: number, t0: number): Promise<void> {
  for (let i = from; i < from + count; i++) await log.append(stream, i % 4 === 3 ? [`e${i}a`, `e${i}b`, `e${i}c`] : `e${i}`, { timestamp: t0 + i * 1000 })
}

for (const backend of BACKENDS) {
  s3test(`${backend}: restore to an offset and to a time cuts at an append's end, and the cut store opens and verifies${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 2048, checkpointEvery: 10 })
    const url = prefixUrl()
    await fill(log, 'ev', 0, 80, 1_700_000_000_000)
    await shipOnce(log, url)
    const all = await log.read('ev')
    // A cut inside a three-event append falls back to that append's start.
    const mid = all.find((r) => r.payload.toString().endsWith('b'))!
    const toOffset = mid.offset + 1
    const out = join(tempDir(t, 'cut'), 's')
    const rep = await restore(url, out, { client: s3.gw.client, backend, toOffset })
    t.true(rep.streams[0].cut)
    // Behind the archive's HEAD: read-only (SPEC §10), readable and verifiable.
    const cut = await openLog(t, backend, out, { readOnly: true })
    t.true((await cut.verify()).ok)
    const got = await cut.read('ev')
    // Cut at the start of the three-event append when records carry the batch bit (SPEC §2);
    // before that bit landed, at the record boundary.
    const batched = (kindByteAt(dir, 'ev', mid.offset - 1) & 0x80) !== 0
    t.deepEqual(got.map((r) => r.payload.toString()), all.filter((r) => r.offset < (batched ? mid.offset - 1 : toOffset)).map((r) => r.payload.toString()))
    t.true((await cut.head('ev')).nextOffset <= toOffset)

    // To a time: everything stamped at or before it.
    const when = 1_700_000_000_000 + 41 * 1000
    const out2 = join(tempDir(t, 'time'), 's')
    await restore(url, out2, { client: s3.gw.client, backend, toTime: new Date(when) })
    const timed = await openLog(t, backend, out2, { readOnly: true })
    t.true((await timed.verify()).ok)
    t.deepEqual((await timed.read('ev')).map((r) => r.payload.toString()), all.filter((r) => r.timestamp <= when).map((r) => r.payload.toString()))
  })

  s3test(`${backend}: a store restored to an earlier point than HEAD opens read-only until it is given a new origin${skipNote}`, async (t) => {
    const ORIGIN = 'example.com/restore-test'
    const key = generateKey(ORIGIN)
    const log = await openLog(t, backend, tempDir(t), { maxSegmentBytes: 2048, hash: 'sha256', tlog: { origin: ORIGIN, signer: key.skey } })
    const url = prefixUrl()
    await fill(log, 'ev', 0, 40, 1_700_000_000_000)
    await shipOnce(log, url)
    const archived = (await log.head('ev')).nextOffset
    const out = join(tempDir(t, 'behind'), 's')
    await restore(url, out, { client: s3.gw.client, backend, toOffset: 20 })
    const mark = JSON.parse(readFileSync(join(out, 'chainlog.json'), 'utf8')).restoredBehind
    t.is(mark.origin, ORIGIN)
    t.true(mark.streams.ev.nextOffset <= 20)
    t.is(mark.streams.ev.archiveNextOffset, archived)
    // Writable: refused, saying how to proceed; under the archive's own origin too.
    const storeFile = readFileSync(join(out, 'chainlog.json'))
    for (const options of [{}, { tlog: { origin: ORIGIN, signer: key.skey } }]) {
      const e = await t.throwsAsync(Log.open(out, { backend, ...options }))
      t.is(codeOf(e), 'ERR_READ_ONLY')
      t.regex((e as Error).message, /earlier point than its archive's HEAD \(ev at offset \d+ of \d+\).*readOnly: true.*new origin/)
    }
    t.true(readFileSync(join(out, 'chainlog.json')).equals(storeFile), 'a refused open changed nothing')
    // Read-only: reads and verifies.
    const ro = await openLog(t, backend, out, { readOnly: true })
    t.true((await ro.verify()).ok)
    t.is((await ro.read('ev')).length, mark.streams.ev.nextOffset)
    await ro.close()
    // A new origin lifts the mark: the store appends as a new log, and stays writable after.
    const other = generateKey('example.com/restored-fork')
    const forked = await Log.open(out, { backend, hash: 'sha256', tlog: { origin: 'example.com/restored-fork', signer: other.skey } })
    await forked.append('ev', 'after the fork')
    t.true((await forked.verify()).ok)
    await forked.close()
    const info = JSON.parse(readFileSync(join(out, 'chainlog.json'), 'utf8'))
    t.is(info.restoredBehind, undefined)
    t.is(info.origin, 'example.com/restored-fork')
    const plain = await openLog(t, backend, out)
    t.is((await plain.read('ev')).at(-1)?.payload.toString(), 'after the fork')
    // Pushed back to the old archive, the fork is refused there.
    t.is(codeOf(await t.throwsAsync(shipOnce(plain, url))), 'ERR_ARCHIVE_CONFLICT')
    await plain.close()

    // Without a signer: forkRestored(dir, origin) is the opt-in.
    const out2 = join(tempDir(t, 'behind2'), 's')
    await restore(url, out2, { client: s3.gw.client, backend, toTime: 1_700_000_000_000 + 10_000 })
    t.is(codeOf(await t.throwsAsync(Log.open(out2, { backend }))), 'ERR_READ_ONLY')
    t.is(codeOf(await t.throwsAsync(forkRestored(out2, ORIGIN))), 'ERR_INVALID_ARGUMENT', "the archive's origin is not a new one")
    t.is(codeOf(await t.throwsAsync(forkRestored(out2, 'bad origin'))), 'ERR_INVALID_ARGUMENT')
    t.is(codeOf(await t.throwsAsync(forkRestored(join(out2, 'nothing'), 'x.example/new'))), 'ERR_INVALID_ARGUMENT')
    t.is(codeOf(await t.throwsAsync(forkRestored(42 as unknown as string, 'x.example/new'))), 'ERR_INVALID_ARGUMENT')
    await forkRestored(out2, 'x.example/new')
    const w = await openLog(t, backend, out2)
    await w.append('ev', 'x')
    t.true((await w.verify()).ok)
    await w.close()
    t.is(codeOf(await t.throwsAsync(forkRestored(out2, 'x.example/new'))), 'ERR_INVALID_ARGUMENT', 'no mark left to lift')
    // A whole restore (to HEAD) carries no mark and opens writable.
    const whole = join(tempDir(t, 'whole'), 's')
    await restore(url, whole, { client: s3.gw.client, backend, toOffset: archived })
    t.is(JSON.parse(readFileSync(join(whole, 'chainlog.json'), 'utf8')).restoredBehind, undefined)
    await (await openLog(t, backend, whole)).close()
  })

  s3test(`${backend}: a second writer restored from the same archive gets ERR_ARCHIVE_CONFLICT and overwrites nothing${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir)
    const url = prefixUrl()
    await fill(log, 'x', 0, 10, 1_700_000_000_000)
    await shipOnce(log, url)
    await log.close()
    const one = join(tempDir(t, 'one'), 's')
    const two = join(tempDir(t, 'two'), 's')
    await restore(url, one, { client: s3.gw.client, backend })
    await restore(url, two, { client: s3.gw.client, backend })
    const l1 = await openLog(t, backend, one)
    const l2 = await openLog(t, backend, two)
    await l1.append('x', 'from one')
    await l2.append('x', 'from two')
    const w1 = await Archiver.start(l1, { url, client: s3.gw.client, interval: 60_000 })
    const w2 = await Archiver.start(l2, { url, client: s3.gw.client, interval: 60_000 })
    t.teardown(() => Promise.all([w1.stop(), w2.stop()]))
    await w1.sync()
    const reader = await openReader(t, url, backend)
    const head = await reader.head('x')
    const e = await t.throwsAsync(w2.sync())
    t.is(codeOf(e), 'ERR_ARCHIVE_CONFLICT')
    const st = await w2.status()
    t.false(st.running)
    t.is(st.stoppedBy?.code, 'ERR_ARCHIVE_CONFLICT')
    // The winner's HEAD is untouched, and the archive reads back as the winner's history.
    t.deepEqual(await reader.head('x'), head)
    t.is((await remotePayloads(reader, 'x')).at(-1), 'from one')
    t.true((await reader.verify()).ok)
    // A store behind the archive (restored earlier) is refused too.
    const l3 = await openLog(t, backend, join(tempDir(t, 'three'), 's'))
    await fill(l3, 'x', 0, 3, 1_700_000_000_000)
    const w3 = await Archiver.start(l3, { url, client: s3.gw.client, interval: 60_000 })
    t.is(codeOf(await t.throwsAsync(w3.sync())), 'ERR_ARCHIVE_CONFLICT')
  })

  s3test(`${backend}: the remote reader reads and gets records, and verify reports a flipped byte, a deleted segment and a replaced HEAD with stream and offset${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 1024, checkpointEvery: 5 })
    const url = prefixUrl()
    await fill(log, 's', 0, 60, 1_700_000_000_000)
    await shipOnce(log, url)
    const local = await log.read('s')
    const reader = await openReader(t, url, backend)
    t.deepEqual(await reader.streams(), ['s'])
    const remote = []
    for await (const r of reader.iterate('s')) remote.push(r)
    t.deepEqual(remote.map((r) => [r.offset, r.payload.toString(), r.hash.toString('hex')]), local.map((r) => [r.offset, r.payload.toString(), r.hash.toString('hex')]))
    for (const r of [local[0], local[17], local[local.length - 1]]) t.deepEqual((await reader.get('s', r.offset))?.payload.toString(), r.payload.toString())
    t.is(await reader.get('s', 10_000), undefined)
    let progress = 0
    const ok = await reader.verify(undefined, { onProgress: (p) => { progress = p.bytesDone; t.true(p.bytesDone <= p.bytesTotal) } })
    t.true(ok.ok)
    t.true(progress > 0)

    // A flipped byte in sealed segment 1.
    const seg1 = objectPath(url, 's/seg/1.log')
    const original = readFileSync(seg1)
    const flipped = Buffer.from(original)
    flipped[100] ^= 0x01
    writeFileSync(seg1, flipped)
    let rep = await reader.verify()
    t.false(rep.ok)
    t.is(rep.streams[0].stream, 's')
    t.true(typeof rep.streams[0].problems[0].offset === 'number' && rep.streams[0].problems[0].offset! > 0)
    const bad = join(tempDir(t, 'bad'), 's')
    t.is(codeOf(await t.throwsAsync(restore(url, bad, { client: s3.gw.client, backend }))), 'ERR_CORRUPT')
    t.false(existsSync(join(bad, 'chainlog.json')), 'a refused restore leaves no store behind')
    writeFileSync(seg1, original)
    // A deleted segment.
    rmSync(seg1)
    rep = await reader.verify()
    t.false(rep.ok)
    t.regex(rep.streams[0].problems[0].message, /segment 1.*missing/)
    writeFileSync(seg1, original)
    t.true((await reader.verify()).ok)
    // A HEAD put back to an older copy (as an archiver killed between a segment and its HEAD
    // leaves it): the segments past it are checked and kept, never a shorter history.
    const headPath = objectPath(url, 's/HEAD.json')
    const head = JSON.parse(readFileSync(headPath, 'utf8'))
    const seg0 = JSON.parse(readFileSync(objectPath(url, 's/seg/0.json'), 'utf8'))
    writeFileSync(headPath, JSON.stringify({ ...head, sealed: [0], tail: null, nextOffset: seg0.nextOffset, hash: seg0.lastHash }))
    rep = await reader.verify()
    t.true(rep.ok)
    const lastSealed = JSON.parse(readFileSync(objectPath(url, `s/seg/${head.sealed.length - 1}.json`), 'utf8'))
    t.is(rep.streams[0].head.nextOffset, lastSealed.nextOffset)
    const longer = join(tempDir(t, 'longer'), 's')
    t.is((await restore(url, longer, { client: s3.gw.client, backend })).streams[0].nextOffset, lastSealed.nextOffset)
    // An older HEAD whose chain position is not in the archive (its hash altered) is caught.
    writeFileSync(headPath, JSON.stringify({ ...head, sealed: [0], tail: null, nextOffset: seg0.nextOffset, hash: 'cd'.repeat(32) }))
    rep = await reader.verify()
    t.false(rep.ok)
    t.is(rep.streams[0].problems[0].offset, seg0.nextOffset - 1)
    t.is(codeOf(await t.throwsAsync(restore(url, join(tempDir(t, 'short'), 's'), { client: s3.gw.client, backend }))), 'ERR_CHAIN_BROKEN')
    // A HEAD whose hash was changed.
    writeFileSync(headPath, JSON.stringify({ ...head, hash: 'ab'.repeat(32) }))
    rep = await reader.verify()
    t.false(rep.ok)
    t.is(rep.streams[0].problems[0].code, 'ERR_CHAIN_BROKEN')
  })
}

s3test(`bad input: malformed URLs, a missing bucket, wrong credentials, a non-chainlog prefix, a bad interval give ChainlogErrors${skipNote}`, async (t) => {
  const log = await openLog(t, 'js', tempDir(t))
  await log.append('a', 'x')
  for (const url of ['http://x/y', 's3://', 's3://UPPER/x', 's3://ok-bucket/a//b', 's3://ok-bucket/../x', 42, null]) {
    const e = await t.throwsAsync(Archiver.start(log, { url: url as string, client: s3.gw.client }))
    t.is(codeOf(e), 'ERR_INVALID_ARGUMENT', String(url))
  }
  t.is(codeOf(await t.throwsAsync(Archiver.start(log, { url: 's3://no-such-bucket/x', client: s3.gw.client }))), 'ERR_INVALID_ARGUMENT')
  t.is(codeOf(await t.throwsAsync(Archiver.start(log, { url: prefixUrl(), client: { ...s3.gw.client, credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong' } } }))), 'ERR_INVALID_ARGUMENT')
  const foreign = prefixUrl()
  const prefix = foreign.slice(`s3://${s3.bucket}/`.length)
  const { mkdirSync } = await import('node:fs')
  mkdirSync(join(s3.gw.dataDir, s3.bucket, prefix), { recursive: true })
  writeFileSync(join(s3.gw.dataDir, s3.bucket, prefix, 'photo.jpg'), 'not ours')
  t.is(codeOf(await t.throwsAsync(Archiver.start(log, { url: foreign, client: s3.gw.client }))), 'ERR_INVALID_ARGUMENT')
  t.is(codeOf(await t.throwsAsync(restore(foreign, join(tempDir(t, 'r'), 's'), { client: s3.gw.client }))), 'ERR_INVALID_ARGUMENT')
  t.is(codeOf(await t.throwsAsync(ArchiveReader.open(foreign, { client: s3.gw.client }))), 'ERR_INVALID_ARGUMENT')
  for (const interval of [0, -1, Number.NaN, '5']) {
    t.is(codeOf(await t.throwsAsync(Archiver.start(log, { url: prefixUrl(), client: s3.gw.client, interval: interval as number }))), 'ERR_INVALID_ARGUMENT')
  }
  t.is(codeOf(await t.throwsAsync(Archiver.start({}, { url: prefixUrl(), client: s3.gw.client }))), 'ERR_INVALID_ARGUMENT')
  for (const lowPriority of ['yes', 1, 0]) {
    t.is(codeOf(await t.throwsAsync(Archiver.start(log, { url: prefixUrl(), client: s3.gw.client, lowPriority: lowPriority as unknown as boolean }))), 'ERR_INVALID_ARGUMENT')
  }
  const notEmpty = tempDir(t, 'full')
  writeFileSync(join(notEmpty, 'x'), 'x')
  t.is(codeOf(await t.throwsAsync(restore(prefixUrl(), notEmpty, { client: s3.gw.client }))), 'ERR_INVALID_ARGUMENT')
  for (const toOffset of [-1, 1.5, '3']) t.is(codeOf(await t.throwsAsync(restore(prefixUrl(), join(tempDir(t, 'o'), 's'), { client: s3.gw.client, toOffset: toOffset as number }))), 'ERR_INVALID_ARGUMENT')
})

for (const backend of BACKENDS) {
s3test(`${backend}: the server stopped and restarted: the archiver reports the error and the lag, retries, and catches up without losing anything${skipNote}`, async (t) => {
  const log = await openLog(t, backend, tempDir(t))
  const url = prefixUrl()
  const archiver = await Archiver.start(log, { url, client: { ...s3.gw.client, maxAttempts: 1 }, interval: 20 })
  t.teardown(() => archiver.stop())
  await fill(log, 'q', 0, 5, 1_700_000_000_000)
  await archiver.sync()
  await s3.gw.stopServer()
  try {
    await fill(log, 'q', 5, 20, 1_700_000_000_000)
    await t.throwsAsync(archiver.sync())
    const down = await archiver.status()
    t.true(down.running)
    t.not(down.lastError, null)
    t.true(down.streams[0].lagRecords > 0)
    t.true(down.streams[0].lagBytes > 0)
  } finally {
    await s3.gw.restart()
  }
  // Retried on its own with backoff. The error clears when the whole pass ends, a little after
  // its HEAD put (which ends the lag), so wait for both.
  const caughtUp = (st: Awaited<ReturnType<typeof archiver.status>>) => st.streams[0].lagRecords === 0 && st.lastError === null
  for (let i = 0; i < 400 && !caughtUp(await archiver.status()); i++) await new Promise((r) => setTimeout(r, 50))
  const up = await archiver.status()
  t.is(up.streams[0].lagRecords, 0)
  t.is(up.lastError, null)
  const reader = await openReader(t, url, backend)
  t.deepEqual(await remotePayloads(reader, 'q'), (await log.read('q')).map((r) => r.payload.toString()))
})
}

const WRITER = fileURLToPath(new URL('./helpers/archive-writer.ts', import.meta.url))
const CRASH_TRIALS_PER_CORE = 10
const CRASH_SEED = seedFromEnv(1515)

/** Runs the archiving writer, SIGKILLs it `killAfterMs` after its first acknowledged append, returns the acknowledged events per stream. */
async function runWriter(dir: string, backend: string, url: string, seed: number, killAfterMs: number): Promise<Map<string, string[]>> {
  const { lines } = await runAndKill({
    script: WRITER, args: [dir, backend, url, JSON.stringify(s3.gw.client), String(seed)], armed: (out) => out.includes('"firstOffset"'), killMs: killAfterMs,
  })
  const acked = new Map<string, string[]>()
  for (const v of lines) if (v.stream !== undefined) acked.set(v.stream as string, [...(acked.get(v.stream as string) ?? []), ...(v.events as string[])])
  return acked
}

for (const backend of BACKENDS) {
  s3test(`${backend}: a shipping process killed with SIGKILL at random moments resumes idempotently; the archive never lacks what its HEAD covers, and catches up to everything acknowledged (${CRASH_TRIALS_PER_CORE} trials, seed ${CRASH_SEED})${skipNote}`, async (t) => {
    const rand = rng(CRASH_SEED + (backend === 'js' ? 1 : 0))
    const dir = tempDir(t)
    const url = prefixUrl()
    const acked = new Map<string, string[]>()
    let shippedByChildren = 0
    for (let trial = 0; trial < CRASH_TRIALS_PER_CORE; trial++) {
      const got = await runWriter(dir, backend, url, int(rand, 0, 2 ** 30), int(rand, 5, 400))
      for (const [s, ev] of got) acked.set(s, [...(acked.get(s) ?? []), ...ev])
      // What HEAD covers is in the archive and on the local chain (verify walks it all).
      const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
      const report = await reader.verify()
      reader.close()
      t.true(report.ok, `trial ${trial}: ${JSON.stringify(report.streams.map((s) => s.problems))}`)
      shippedByChildren = Math.max(shippedByChildren, ...report.streams.map((s) => s.records))
    }
    t.true(shippedByChildren > 0, 'the killed processes shipped records before they died')
    // Resume once more in this process: no conflict, and the archive catches up with every acknowledged event.
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 4096, checkpointEvery: 9 })
    const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 60_000 })
    t.teardown(() => archiver.stop())
    await log.flush()
    await archiver.sync()
    const reader = await openReader(t, url, backend)
    for (const [stream, events] of acked) {
      const remote = new Set(await remotePayloads(reader, stream))
      const missing = events.filter((e) => !remote.has(e))
      t.deepEqual(missing, [], `stream ${stream}: acknowledged events missing from the archive`)
    }
  })
}

for (const backend of BACKENDS) {
  s3test(`${backend}: get() checks the record's link to the one before it: a whole record from another history, or a segment's metadata linking elsewhere, is ERR_CHAIN_BROKEN${skipNote}`, async (t) => {
    // Two histories that differ at offset 5 only: from 6 on, records have equal bytes but for prev_hash.
    const history = async (dir: string, fifth: string) => {
      const log = await openLog(t, backend, dir, { maxSegmentBytes: 1024, checkpointEvery: false })
      for (let i = 0; i < 30; i++) await log.append('s', i === 5 ? fifth : `a${String(i).padStart(2, '0')}`, { timestamp: 1_700_000_000_000 + i })
      return log
    }
    const a = tempDir(t, 'a')
    const b = tempDir(t, 'b')
    const url = prefixUrl()
    await shipOnce(await history(a, 'a05'), url)
    await (await history(b, 'b05')).close()
    const fresh = await openReader(t, url, backend)
    for (const offset of [0, 6, 7, 29]) t.is((await fresh.get('s', offset))?.payload.toString(), `a${String(offset).padStart(2, '0')}`)
    const mine = recordAt(a, 's', 7)
    const theirs = recordAt(b, 's', 7)
    t.is(mine.bytes.length, theirs.bytes.length)
    t.false(mine.bytes.equals(theirs.bytes))
    // Offset 7 swapped for the other history's: its framing and CRC are whole, its link is not.
    const segPath = objectPath(url, `s/seg/${mine.num}.log`)
    const original = readFileSync(segPath)
    const swapped = Buffer.from(original)
    theirs.bytes.copy(swapped, mine.at)
    writeFileSync(segPath, swapped)
    const e = await t.throwsAsync((await openReader(t, url, backend)).get('s', 7))
    t.is(codeOf(e), 'ERR_CHAIN_BROKEN')
    t.is((e as ChainlogError).details.offset, 7)
    t.false((await (await openReader(t, url, backend)).verify()).ok)
    writeFileSync(segPath, original)
    // A segment's metadata whose firstPrevHash is not the previous segment's last hash.
    const metaPath = objectPath(url, 's/seg/1.json')
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'))
    writeFileSync(metaPath, JSON.stringify({ ...meta, firstPrevHash: 'ee'.repeat(32) }))
    const e1 = await t.throwsAsync((await openReader(t, url, backend)).get('s', meta.firstOffset))
    t.is(codeOf(e1), 'ERR_CHAIN_BROKEN')
    t.is((e1 as ChainlogError).details.offset, meta.firstOffset)
  })
}

for (const backend of BACKENDS) {
  s3test(`${backend}: a stream with a zstd dictionary: the dictionary ships before the records that use it, restores byte for byte, and the remote reader decodes form-4 records${skipNote}`, async (t) => {
    // Only the native core writes form 4; both read it. Seeds differ per core: loaded dictionaries are process-wide.
    const dir = tempDir(t)
    const log = await openLog(t, 'native', dir, { compression: 'zstd', checkpointEvery: false, maxSegmentBytes: 64 * 1024 })
    const seed = backend === 'native' ? 151 : 152
    await log.append('events', jsonEvents(seed * 1_000_000, 1500))
    const url = prefixUrl()
    const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 20 })
    t.teardown(() => archiver.stop())
    const trained = await log.trainDictionary('events', { samples: 1500 })
    const after = jsonEvents(seed * 1_000_000 + 5000, 1500)
    for (let k = 0; k < after.length; k += 250) await log.append('events', after.slice(k, k + 250))
    await archiver.sync()
    const local = await log.read('events')
    const src = segmentFiles(dir)
    const localList = readFileSync(join(dir, 'events', 'dictionaries.json'))
    const dictionary = readFileSync(join(dir, 'events', trained.file))
    await archiver.stop()
    await log.close()
    t.true(readFileSync(objectPath(url, `events/dict/${trained.id}.zdict`)).equals(dictionary))
    // Some shipped records are form 4.
    t.true([...src.values()].some((b) => { for (let at = 0; at < b.length; at += 66 + b.readUInt32LE(at + 54)) if (b[at + 53] === 4) return true; return false }))

    const out = join(tempDir(t, 'restored'), 's')
    await restore(url, out, { client: s3.gw.client, backend })
    const dst = segmentFiles(out)
    t.deepEqual([...dst.keys()].sort(), [...src.keys()].sort())
    for (const [k, v] of src) t.true(v.equals(dst.get(k)!), `${k} byte-identical`)
    t.true(readFileSync(join(out, 'events', trained.file)).equals(dictionary))
    t.deepEqual(JSON.parse(readFileSync(join(out, 'events', 'dictionaries.json'), 'utf8')), JSON.parse(localList.toString()))
    const back = await openLog(t, backend, out, { readOnly: true })
    t.true((await back.verify()).ok)
    t.deepEqual((await back.read('events')).map((r) => r.payload.toString()), local.map((r) => r.payload.toString()))
    await back.close()

    const reader = await openReader(t, url, backend)
    t.deepEqual(await remotePayloads(reader, 'events'), local.map((r) => r.payload.toString()))
    const last = local.at(-1)!
    t.is((await reader.get('events', last.offset))?.payload.toString(), last.payload.toString())
    t.true((await reader.verify()).ok)
    // A damaged archived dictionary is reported, and refused by restore.
    const dictPath = objectPath(url, `events/dict/${trained.id}.zdict`)
    const bad = Buffer.from(dictionary)
    bad[bad.length - 1] ^= 0x01
    writeFileSync(dictPath, bad)
    const rep = await (await openReader(t, url, backend)).verify()
    t.false(rep.ok)
    t.regex(rep.streams[0].problems[0].message, new RegExp(`zstd dictionary ${trained.id}`))
    t.is(codeOf(await t.throwsAsync(restore(url, join(tempDir(t, 'bad'), 's'), { client: s3.gw.client, backend }))), 'ERR_CORRUPT')
  })
}

for (const backend of BACKENDS) {
  s3test(`${backend}: with a signer, HEAD carries the latest published note, and the remote verify checks its signature and its tree against the archived records${skipNote}`, async (t) => {
    const ORIGIN = 'example.com/archive-notes'
    // Checkpoints take the clock (never before the last record): events are stamped ahead of it.
    const FUTURE = 4_000_000_000_000
    const key = generateKey(ORIGIN)
    const options = { maxSegmentBytes: 2048, checkpointEvery: false as const, hash: 'sha256' as const, tlog: { origin: ORIGIN, signer: key.skey } }
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, options)
    const url = prefixUrl()
    const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 60_000 })
    t.teardown(() => archiver.stop())
    await fill(log, 's', 0, 30, FUTURE)
    await archiver.sync()
    const reader = await openReader(t, url, backend)
    t.is((await reader.head('s')).note, undefined, 'nothing published yet')
    const cp = await log.checkpoint('s')
    await archiver.sync()
    t.is((await reader.head('s')).note, cp.note)
    t.is(readFileSync(objectPath(url, 's/HEAD.json'), 'utf8').includes(JSON.stringify(cp.note).slice(1, 40)), true)
    // A newer note for records already shipped reaches HEAD too.
    await fill(log, 's', 30, 10, FUTURE)
    await archiver.sync()
    const cp2 = await log.checkpoint('s')
    await archiver.sync()
    t.is((await reader.head('s')).note, cp2.note)
    const vkey = log.vkey('s')
    t.true((await reader.verify(undefined, { keys: [vkey] })).ok)
    t.true((await reader.verify()).ok, 'without keys: the tree root is checked, not the signature')
    // Another key: the signature does not check.
    const stranger = generateKey(`${ORIGIN}/s`)
    let rep = await reader.verify('s', { keys: [stranger.vkey] })
    t.false(rep.ok)
    t.is(rep.streams[0].problems[0].code, 'ERR_CHAIN_BROKEN')
    t.regex(rep.streams[0].problems[0].message, /does not check with the keys/)
    // A note signed by the right key for another history of the same size: its root is not the archive's.
    const other = await openLog(t, backend, tempDir(t, 'other'), options)
    await fill(other, 's', 0, 30, FUTURE)
    await other.append('s', 'a different event')
    await fill(other, 's', 31, 9, FUTURE)
    await other.checkpoint('s')
    const foreign = await other.checkpoint('s')
    t.is(foreign.treeSize, cp2.treeSize)
    await archiver.stop()
    const headPath = objectPath(url, 's/HEAD.json')
    const head = JSON.parse(readFileSync(headPath, 'utf8'))
    writeFileSync(headPath, JSON.stringify({ ...head, note: foreign.note }))
    rep = await reader.verify('s', { keys: [vkey] })
    t.false(rep.ok)
    t.is(rep.streams[0].problems[0].offset, cp2.treeSize - 1)
    t.regex(rep.streams[0].problems[0].message, /do not give the root of HEAD's signed note/)
    // Bad keys are bad input.
    for (const keys of [['not a key'], [42], 'k']) t.is(codeOf(await t.throwsAsync(reader.verify('s', { keys: keys as string[] }))), 'ERR_INVALID_ARGUMENT')
  })
}

for (const backend of BACKENDS) {
  s3test(`${backend}: sealed segments of several MiB stream to the server in chunks under If-None-Match: equal bytes already there count as shipped, other bytes are ERR_ARCHIVE_CONFLICT${skipNote}`, async (t) => {
    const big = (seed: string) => Array.from({ length: 40 }, (_, i) => createHash('sha256').update(`${seed}${i}`).digest('hex').repeat(1200)) // ~3 MiB a segment
    const options = { maxSegmentBytes: 3 * 1024 * 1024, checkpointEvery: false as const }
    const a = tempDir(t, 'a')
    const log = await openLog(t, backend, a, options)
    for (const e of big('a')) await log.append('s', e)
    for (const e of big('a2')) await log.append('s', e)
    const url = prefixUrl()
    await shipOnce(log, url)
    const src = segmentFiles(a)
    t.true(src.get('s/segment_000000.log')!.length > 2 * 1024 * 1024)
    t.true(readFileSync(objectPath(url, 's/seg/0.log')).equals(src.get('s/segment_000000.log')!))
    const meta = JSON.parse(readFileSync(objectPath(url, 's/seg/0.json'), 'utf8'))
    t.is(meta.sha256, createHash('sha256').update(src.get('s/segment_000000.log')!).digest('hex'))
    // HEAD lost (as if the archiver died before writing it): shipping again finds equal bytes and goes on.
    rmSync(objectPath(url, 's/HEAD.json'))
    await shipOnce(log, url)
    const out = join(tempDir(t, 'out'), 's')
    await restore(url, out, { client: s3.gw.client, backend })
    for (const [k, v] of src) t.true(v.equals(readFileSync(join(out, k))), k)
    // Another history's segment 0 against the archived one: refused, nothing overwritten.
    rmSync(objectPath(url, 's/HEAD.json'))
    const b = await openLog(t, backend, tempDir(t, 'b'), options)
    for (const e of big('b')) await b.append('s', e)
    for (const e of big('b2')) await b.append('s', e)
    t.is(codeOf(await t.throwsAsync(shipOnce(b, url))), 'ERR_ARCHIVE_CONFLICT')
    t.true(readFileSync(objectPath(url, 's/seg/0.log')).equals(src.get('s/segment_000000.log')!))
    // The streamed PUT itself carries If-None-Match: a racing writer's body never replaces the object.
    const objects = await ObjectStore.open(url, s3.gw.client)
    t.teardown(() => objects.close())
    const other = Buffer.alloc(3 * 1024 * 1024, 7)
    const raced = await objects.putStream('s/seg/0.log', () => Readable.from([other]), other.length, { ifNoneMatch: true }).catch((e: unknown) => codeOf(e))
    t.true(raced === null || raced === 'ERR_IO', String(raced))
    t.true(readFileSync(objectPath(url, 's/seg/0.log')).equals(src.get('s/segment_000000.log')!))
    t.not(await objects.putStream('s/new.bin', () => Readable.from([other]), other.length, { ifNoneMatch: true }), null)
    t.true(readFileSync(objectPath(url, 's/new.bin')).equals(other))
  })
}

/** The built `chainlog` command, with the test server as its endpoint. */
function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, CHAINLOG_S3_ENDPOINT: s3.gw.endpoint, AWS_ACCESS_KEY_ID: s3.gw.client.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.gw.client.credentials.secretAccessKey, AWS_REGION: 'us-east-1' } })
}

s3test(`CLI: archive push, status, verify, read and restore --to-offset; verify exits 1 on a tampered object${skipNote}`, async (t) => {
  ensureBuilt()
  const dir = tempDir(t)
  const log = await openLog(t, 'js', dir)
  await fill(log, 'c', 0, 30, 1_700_000_000_000)
  await log.close()
  const url = prefixUrl()
  let r = cli('archive', 'push', dir, url)
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /c: archived up to offset \d+/)
  r = cli('archive', 'status', dir, url, '--json')
  t.is(r.status, 0, r.stderr)
  const st = JSON.parse(r.stdout)
  t.is(st.streams[0].lagRecords, 0)
  r = cli('archive', 'verify', url, '--progress')
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /verify: ok/)
  t.regex(r.stderr, /verifying archive/)
  r = cli('archive', 'read', url, 'c', '--from', '5', '--limit', '2')
  t.is(r.status, 0, r.stderr)
  t.deepEqual(r.stdout.trim().split('\n').map((l) => l.split('\t')[2]), ['e3c', 'e4'])
  const out = join(tempDir(t, 'cli-restore'), 's')
  r = cli('archive', 'restore', url, out, '--to-offset', '10')
  t.is(r.status, 0, r.stderr)
  const back = await openLog(t, 'js', out, { readOnly: true })
  t.true((await back.head('c')).nextOffset <= 10)
  t.true((await back.verify()).ok)
  await back.close()
  t.is(codeOf(await t.throwsAsync(Log.open(out, { backend: 'js' }))), 'ERR_READ_ONLY')
  r = cli('archive', 'fork', out, 'cli.example/fork')
  t.is(r.status, 0, r.stderr)
  const forked = await openLog(t, 'js', out)
  await forked.append('c', 'forked')
  await forked.close()
  t.is(cli('archive', 'fork', out, 'cli.example/again').status, 2, 'nothing left to fork is a usage error')
  t.is(cli('archive', 'restore', url, out).status, 2, 'a non-empty target is a usage error')
  t.is(cli('archive', 'verify', 's3://not a url').status, 2)
  const seg = objectPath(url, 'c/tail/0')
  const chunk = join(seg, readdirSync(seg)[0])
  const bytes = readFileSync(chunk)
  bytes[70] ^= 0xff
  writeFileSync(chunk, bytes)
  r = cli('archive', 'verify', url)
  t.is(r.status, 1, r.stdout + r.stderr)
  t.regex(r.stdout, /FAILED {2}c: .*\n.*c at offset \d+/)
})
