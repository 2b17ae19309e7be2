import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ArchiveReader, type Log, restore } from '../ts/index.ts'
import { pieceSize } from '../ts/archive/remote-stream.ts'
import { generateKey } from '../ts/tlog/index.ts'
import type { BackendName } from '../ts/core/interface.ts'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, filesIn, openLog, tempDir } from './helpers/log-dir.ts'
import { s3Suite } from './helpers/versitygw.ts'

// Restore and the remote reader stream each segment a bounded piece at a time (remote-stream.ts):
// records crossing piece boundaries, cuts inside a batch that crosses one, damage late in a large
// segment, and the memory a restore of one large segment takes, against a real S3 server
// (versitygw on 127.0.0.1).

const s3 = s3Suite('chainlog-archive-stream')
const { test: s3test, skipNote, prefixUrl, shipOnce } = s3
const MiB = 1024 * 1024


/** Runs `fn` with walks cut into pieces of `bytes` (the walk's internal knob; tests here are serial). */
async function withPieceSize<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
  const before = pieceSize.bytes
  pieceSize.bytes = bytes
  try {
    return await fn()
  } finally {
    pieceSize.bytes = before
  }
}

/** Every file under `dir` but the store file (its ids differ by design), by relative path. */
function storeFiles(dir: string): Map<string, Buffer> {
  return filesIn(dir, ['chainlog.json'])
}

function segmentFiles(dir: string): Map<string, Buffer> {
  return new Map([...storeFiles(dir)].filter(([k]) => /segment_\d+\.log$/.test(k)))
}

/** The path of an archived object in versitygw's data directory. */
function objectPath(url: string, key: string): string {
  return join(s3.gw.dataDir, s3.bucket, url.slice(`s3://${s3.bucket}/`.length), key)
}

/** Events of 200 B … 10 KiB (some longer than a 4 KiB piece), in one- and three-event appends. */
async function fillMixed(log: Log, stream: string, appends: number): Promise<void> {
  for (let i = 0; i < appends; i++) {
    const size = i % 7 === 3 ? 10_000 : 200 + ((i * 397) % 1800)
    const event = (k: number) => `${i}-${k}-${'x'.repeat(size)}`
    await log.append(stream, i % 3 === 1 ? [event(0), event(1), event(2)] : event(0), { timestamp: 1_700_000_000_000 + i * 1000 })
  }
}

for (const backend of BACKENDS) {
  s3test(`${backend}: segments larger than a piece, records crossing piece boundaries: restore is byte-identical, the reader iterates and verifies with the signed note${skipNote}`, async (t) => {
    const ORIGIN = 'example.com/stream-restore'
    const key = generateKey(ORIGIN)
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 64 * 1024, checkpointEvery: 40, hash: 'sha256', tlog: { origin: ORIGIN, signer: key.skey } })
    await fillMixed(log, 's', 150)
    await log.checkpoint('s')
    const url = prefixUrl()
    await shipOnce(log, url)
    const src = segmentFiles(dir)
    t.true(src.size >= 3, 'several sealed segments and a tail')
    const local = await log.read('s')
    const vkey = log.vkey('s')
    const srcHead = (await log.verify()).streams[0].head
    await log.close()

    const out = join(tempDir(t, 'restored'), 'store')
    const progress: number[] = []
    await withPieceSize(4096, () => restore(url, out, { client: s3.gw.client, backend, onProgress: (p) => progress.push(p.bytesDone) }))
    const dst = segmentFiles(out)
    t.deepEqual([...dst.keys()].sort(), [...src.keys()].sort())
    for (const [k, v] of src) t.true(v.equals(dst.get(k)!), `${k} byte-identical`)
    t.true(progress.length > src.size * 4, `progress per piece (${progress.length} calls)`)
    t.true(progress.every((p, i) => i === 0 || p >= progress[i - 1]))
    // The same files as with pieces larger than any segment (one piece each), before opening adds its own.
    const whole = join(tempDir(t, 'whole'), 'store')
    await withPieceSize(MiB, () => restore(url, whole, { client: s3.gw.client, backend }))
    t.deepEqual(storeFiles(whole), storeFiles(out))
    const back = await openLog(t, backend, out)
    t.true((await back.verify()).ok)
    t.deepEqual((await back.read('s')).map((r) => r.hash.toString('hex')), local.map((r) => r.hash.toString('hex')))

    const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
    t.teardown(() => reader.close())
    await withPieceSize(4096, async () => {
      const remote = []
      for await (const r of reader.iterate('s')) remote.push(r)
      t.deepEqual(remote.map((r) => [r.offset, r.payload.toString(), r.hash.toString('hex')]), local.map((r) => [r.offset, r.payload.toString(), r.hash.toString('hex')]))
      const from = local[local.length >> 1].offset
      t.deepEqual((await reader.iterate('s', { from }).next()).value?.offset, from)
      const rep = await reader.verify(undefined, { keys: [vkey] })
      t.true(rep.ok, JSON.stringify(rep.streams[0].problems))
      t.deepEqual(rep.streams[0].head, srcHead)
    })
  })

  s3test(`${backend}: a point-in-time cut whose append crosses a piece boundary gives the files a whole-segment restore gives, at the append's start${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 48 * 1024, checkpointEvery: false })
    // Three-event appends of ~4.5 KiB: with 4 KiB pieces every such append crosses a boundary.
    for (let i = 0; i < 40; i++) {
      const events = i % 2 === 0 ? [`${i}a-${'y'.repeat(1500)}`, `${i}b-${'y'.repeat(1500)}`, `${i}c-${'y'.repeat(1500)}`] : [`${i}-${'z'.repeat(700)}`]
      await log.append('s', events, { timestamp: 1_700_000_000_000 + i * 1000 })
    }
    const url = prefixUrl()
    await shipOnce(log, url)
    const all = await log.read('s')
    await log.close()
    const middles = all.filter((r) => /^\d+b-/.test(r.payload.toString()))
    const cuts: Array<{ toOffset?: number; toTime?: number }> = [
      { toOffset: middles[3].offset + 1 },
      { toOffset: middles[9].offset },
      { toOffset: middles[15].offset + 1 },
      { toOffset: all.length },
      { toTime: middles[12].timestamp },
      { toOffset: 0 },
    ]
    for (const cut of cuts) {
      const small = join(tempDir(t, 'small'), 's')
      const big = join(tempDir(t, 'big'), 's')
      const a = await withPieceSize(4096, () => restore(url, small, { client: s3.gw.client, backend, ...cut }))
      const b = await withPieceSize(MiB, () => restore(url, big, { client: s3.gw.client, backend, ...cut }))
      t.deepEqual(a, b, JSON.stringify(cut))
      t.deepEqual(storeFiles(small), storeFiles(big), JSON.stringify(cut))
      if (cut.toOffset === 0) {
        t.deepEqual(a.streams, [])
        continue
      }
      // The cut falls at the start of the append holding the requested point.
      const last = all.find((r) => r.offset === a.streams[0].nextOffset - 1)!
      t.false(/^\d+[ab]-/.test(last.payload.toString()), `${JSON.stringify(cut)} ends after an append's last event (${last.payload.toString().slice(0, 6)})`)
      t.is(a.streams[0].cut, a.streams[0].nextOffset < all.length)
      const restored = await openLog(t, backend, small, { readOnly: true })
      t.true((await restored.verify()).ok)
      t.is((await restored.read('s')).length, a.streams[0].nextOffset)
      await restored.close()
    }
  })

  s3test(`${backend}: a flipped byte late in a large sealed segment, a record claiming bytes past its segment, a short tail chunk: ERR_CORRUPT naming stream and offset, and no segment or store file left${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 16 * MiB, checkpointEvery: false })
    for (let i = 0; i < 12; i++) await log.append('big', randomBytes(MiB))
    await log.append('big', [randomBytes(MiB), randomBytes(MiB), randomBytes(MiB), randomBytes(MiB), randomBytes(MiB)]) // seals segment 0
    const url = prefixUrl()
    await shipOnce(log, url)
    const lastOfSegment0 = 11
    await log.close()
    const seg0 = objectPath(url, 'big/seg/0.log')
    const original = readFileSync(seg0)
    t.true(original.length > 12 * MiB)
    const flipped = Buffer.from(original)
    flipped[flipped.length - 1000] ^= 0x20 // in the last record's payload, three pieces in
    writeFileSync(seg0, flipped)
    const out = join(tempDir(t, 'bad'), 's')
    const err = await t.throwsAsync(restore(url, out, { client: s3.gw.client, backend }))
    t.is(codeOf(err), 'ERR_CORRUPT')
    t.regex(err!.message, new RegExp(`stream big at offset ${lastOfSegment0}\\b`))
    t.like((err as unknown as { details: object }).details, { stream: 'big', offset: lastOfSegment0, segment: 0 })
    t.deepEqual(existsSync(out) ? readdirSync(out, { recursive: true }) : [], [], 'no segment, no temporary file, no chainlog.json')
    // A record whose length claims bytes past the segment's end fails at once (it is not downloaded for).
    const longer = Buffer.from(original)
    longer.writeUInt32LE(200 * MiB, 54)
    writeFileSync(seg0, longer)
    const err2 = await t.throwsAsync(restore(url, join(tempDir(t, 'bad2'), 's'), { client: s3.gw.client, backend }))
    t.is(codeOf(err2), 'ERR_CORRUPT')
    t.regex(err2!.message, /stream big at offset 0\b/)
    const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
    t.teardown(() => reader.close())
    const rep = await reader.verify()
    t.false(rep.ok)
    t.is(rep.streams[0].problems[0].offset, 0)
    // A whole record appended past the listed size: ERR_CORRUPT as soon as the size is passed, before it is scanned.
    writeFileSync(seg0, Buffer.concat([original, original.subarray(0, MiB + 66)]))
    const err4 = await t.throwsAsync(restore(url, join(tempDir(t, 'bad4'), 's'), { client: s3.gw.client, backend }))
    t.is(codeOf(err4), 'ERR_CORRUPT')
    t.regex(err4!.message, /stream big at offset \d+: segment 0's bytes differ from its archived SHA-256 \(more than the \d+ bytes listed\)/)
    writeFileSync(seg0, original)
    t.true((await reader.verify()).ok)
    // A tail chunk shorter than its name says: ERR_CORRUPT naming it, and no file of the tail's segment.
    const tailDir = objectPath(url, 'big/tail/1')
    const [chunk] = readdirSync(tailDir)
    const chunkBytes = readFileSync(join(tailDir, chunk))
    writeFileSync(join(tailDir, chunk), chunkBytes.subarray(0, chunkBytes.length - 10))
    const short = join(tempDir(t, 'short'), 's')
    const err3 = await t.throwsAsync(restore(url, short, { client: s3.gw.client, backend }))
    t.is(codeOf(err3), 'ERR_CORRUPT')
    t.regex(err3!.message, new RegExp(`stream big at offset \\d+: tail chunk big/tail/1/${chunk} holds ${chunkBytes.length - 10} bytes`))
    t.false(existsSync(join(short, 'big', 'segment_000001.log')))
    t.false(existsSync(join(short, 'chainlog.json')))
    t.false((await reader.verify()).ok)
    writeFileSync(join(tailDir, chunk), chunkBytes)
  })
}

/**
 * Restores or verifies in a child process; its peak memory while doing it. Asynchronously: this
 * process drains the server's output pipes, and a spawnSync would block the server on a full pipe.
 */
async function inChild(job: 'restore' | 'verify', url: string, dir: string, backend: BackendName, live = false) {
  const child = await promisify(execFile)(process.execPath, [...(live ? ['--expose-gc'] : []), `--import=${import.meta.resolve('tsx')}`, join(import.meta.dirname, 'helpers', 'archive-memory-child.ts'), JSON.stringify({ job, url, client: s3.gw.client, dir, backend, live })], { encoding: 'utf8', timeout: 300_000 })
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as { ok: boolean; bytes: number; peak: { arrayBuffers: number; rss: number } }
}

s3test(`memory: restore and verify of a ~40 MiB sealed segment (48 MiB segments) and a 10 MiB tail hold a few pieces, never a segment, on both cores${skipNote}`, async (t) => {
  const dir = tempDir(t)
  const log = await openLog(t, 'native', dir, { maxSegmentBytes: 48 * MiB, checkpointEvery: false })
  for (let i = 0; i < 40; i++) await log.append('big', randomBytes(MiB))
  // A 10 MiB append does not fit in what segment 0 has left: it seals segment 0 and starts the tail.
  await log.append('big', Array.from({ length: 10 }, () => randomBytes(MiB)))
  const url = prefixUrl()
  await shipOnce(log, url)
  const src = segmentFiles(dir)
  await log.close()
  t.true(src.get('big/segment_000000.log')!.length > 40 * MiB)
  for (const backend of BACKENDS) {
    const out = join(tempDir(t, 'restored'), 's')
    const restored = await inChild('restore', url, out, backend)
    const dst = segmentFiles(out)
    for (const [k, v] of src) t.true(v.equals(dst.get(k)!), `${backend}: ${k} byte-identical`)
    const verified = await inChild('verify', url, '', backend)
    t.true(verified.ok)
    // Raw: every Buffer the process holds, garbage included (V8 collects dead Buffers only after
    // ~64 MiB more external memory since its last full GC). A whole-segment walk held ~160 MiB
    // so (the 40 MiB segment, its copies and the garbage).
    for (const [job, r] of [['restore', restored], ['verify', verified]] as const) {
      t.log(`${backend} ${job}: raw peak arrayBuffers ${(r.peak.arrayBuffers / MiB).toFixed(1)} MiB, rss ${(r.peak.rss / MiB).toFixed(0)} MiB`)
      t.true(r.peak.arrayBuffers < 96 * MiB, `${backend} ${job}: raw peak arrayBuffers ${(r.peak.arrayBuffers / MiB).toFixed(1)} MiB`)
    }
    // Live (a full GC before each sample): what the walk keeps — the 4 MiB piece being filled,
    // the piece its consumer holds, the native core's copy of the piece being scanned, a 1 MiB
    // record carried across a piece boundary, the SDK's own buffers, and backing stores V8 has
    // not yet swept after the GC (it frees them concurrently): 15–25 MiB measured. A whole-segment
    // walk keeps the 40 MiB segment and a copy of it; 32 MiB is under one segment of the 48 MiB
    // the store was configured with, and does not grow with it.
    for (const job of ['restore', 'verify'] as const) {
      const r = await inChild(job, url, job === 'restore' ? join(tempDir(t, 'live'), 's') : '', backend, true)
      t.log(`${backend} ${job}: live peak arrayBuffers ${(r.peak.arrayBuffers / MiB).toFixed(1)} MiB`)
      t.true(r.peak.arrayBuffers < 32 * MiB, `${backend} ${job}: live peak arrayBuffers ${(r.peak.arrayBuffers / MiB).toFixed(1)} MiB`)
    }
  }
})
