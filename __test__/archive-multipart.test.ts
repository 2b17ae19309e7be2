import type { ExecutionContext } from 'ava'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3'
import { Archiver, type Log, restore } from '../ts/index.ts'
import { multipartUpload, ObjectStore } from '../ts/archive/s3.ts'
import { BACKENDS } from './helpers/cores.ts'
import { FaultyProxy } from './helpers/faulty-proxy.ts'
import { codeOf, openLog, readSegment, tempDir } from './helpers/log-dir.ts'
import { s3Suite } from './helpers/versitygw.ts'

// Sealed segments above multipartUpload.aboveBytes ship as S3 multipart uploads (s3.ts), against
// a real S3 server (versitygw on 127.0.0.1). The threshold and part size are lowered here to ship
// a ~12 MiB segment in 5 MiB parts; tests are serial, each restores them.

const s3 = s3Suite('chainlog-archive-multipart')
const { test: s3test, skipNote, prefixUrl, shipOnce } = s3
const MiB = 1024 * 1024

/** Multipart from 5 MiB on, in 5 MiB parts (S3's smallest), for the rest of the test. */
function smallParts(t: ExecutionContext): void {
  const before = { ...multipartUpload }
  Object.assign(multipartUpload, { aboveBytes: 5 * MiB, partBytes: 5 * MiB })
  t.teardown(() => Object.assign(multipartUpload, before))
}

/** A log whose stream 's' has one sealed segment of ~12 MiB (incompressible events) and a short tail. */
async function bigSegmentLog(t: ExecutionContext, backend: (typeof BACKENDS)[number], dir: string, seed: string): Promise<Log> {
  const log = await openLog(t, backend, dir, { maxSegmentBytes: 12 * MiB, checkpointEvery: false })
  for (let i = 0; i < 200; i++) {
    const event = createHash('sha512').update(`${seed}-${i}`).digest('hex').repeat(1000) // 128 KB
    await log.append('s', event.slice(0, 64 * 1024), { timestamp: 1_700_000_000_000 + i })
  }
  return log
}

/** The object's path in versitygw's data directory. */
function objectPath(url: string, key: string): string {
  return join(s3.gw.dataDir, s3.bucket, url.slice(`s3://${s3.bucket}/`.length), key)
}

/** An SDK client on the test server, for what the archive never asks (ETags, uploads in progress). */
function rawClient(t: ExecutionContext): S3Client {
  const c = new S3Client({ ...s3.gw.client, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
  t.teardown(() => c.destroy())
  return c
}

/** Multipart uploads begun and neither completed nor aborted under the URL's prefix. */
async function uploadsInProgress(c: S3Client, url: string): Promise<number> {
  const out = await c.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: url.slice(`s3://${s3.bucket}/`.length) }))
  return out.Uploads?.length ?? 0
}

for (const backend of BACKENDS) {
  s3test(`${backend}: a ~12 MiB sealed segment ships as a multipart upload in 5 MiB parts and restores byte-identically${skipNote}`, async (t) => {
    smallParts(t)
    const dir = tempDir(t)
    const log = await bigSegmentLog(t, backend, dir, 'a')
    const url = prefixUrl()
    await shipOnce(log, url)
    // Read before close(), which appends to the active segment.
    const seg = readSegment(dir, 's', 0)
    const tail = readSegment(dir, 's', 1)
    await log.close()
    t.true(seg.length > 10 * MiB && seg.length <= 12 * MiB, String(seg.length))
    const c = rawClient(t)
    const key = `${url.slice(`s3://${s3.bucket}/`.length)}/s/seg/0.log`
    // A multipart object's ETag ends in "-<number of parts>".
    t.regex((await c.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).ETag ?? '', new RegExp(`-${Math.ceil(seg.length / (5 * MiB))}"?$`))
    t.true(readFileSync(objectPath(url, 's/seg/0.log')).equals(seg))
    const meta = JSON.parse(readFileSync(objectPath(url, 's/seg/0.json'), 'utf8'))
    t.is(meta.sha256, createHash('sha256').update(seg).digest('hex'))
    t.is(await uploadsInProgress(c, url), 0)
    const out = join(tempDir(t, 'out'), 's')
    await restore(url, out, { client: s3.gw.client, backend })
    t.true(readFileSync(join(out, 's', 'segment_000000.log')).equals(seg))
    t.true(readFileSync(join(out, 's', 'segment_000001.log')).equals(tail))
  })
}

s3test(`putStream multipart: If-None-Match holds on the complete (an object written meanwhile is kept, null), and no upload is left in progress${skipNote}`, async (t) => {
  smallParts(t)
  const url = prefixUrl()
  const objects = await ObjectStore.open(url, s3.gw.client)
  t.teardown(() => objects.close())
  const c = rawClient(t)
  const first = randomBytes(6 * MiB)
  const other = randomBytes(11 * MiB)
  t.not(await objects.putStream('k', () => Readable.from([first]), first.length, { ifNoneMatch: true }), null)
  // Onto an existing key: refused at the complete, the object unchanged.
  t.is(await objects.putStream('k', () => Readable.from([other]), other.length, { ifNoneMatch: true }), null)
  t.true(readFileSync(objectPath(url, 'k')).equals(first))
  t.is(await uploadsInProgress(c, url), 0)
  // A racing writer completes while this upload's parts are still arriving: its object stays.
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  const slow = Readable.from((async function* () {
    yield other.subarray(0, 6 * MiB)
    await gate
    yield other.subarray(6 * MiB)
  })())
  const racing = objects.putStream('r', () => slow, other.length, { ifNoneMatch: true })
  t.not(await objects.putStream('r', () => Readable.from([first]), first.length, { ifNoneMatch: true }), null)
  release()
  t.is(await racing, null)
  t.true(readFileSync(objectPath(url, 'r')).equals(first))
  t.is(await uploadsInProgress(c, url), 0)
  // More than one S3 object holds (5 TiB): refused before any request, the body never asked for.
  const huge = await t.throwsAsync(objects.putStream('huge', () => t.fail('read') as never, 5 * 1024 ** 4 + 1, { ifNoneMatch: true }))
  t.is(codeOf(huge), 'ERR_UNSUPPORTED')
  t.regex(huge?.message ?? '', /maxSegmentBytes/)
  // A body shorter than announced: ERR_IO, aborted, nothing written.
  t.is(codeOf(await t.throwsAsync(objects.putStream('short', () => Readable.from([first]), first.length + 1, { ifNoneMatch: true }))), 'ERR_IO')
  t.false(existsSync(objectPath(url, 'short')))
  t.is(await uploadsInProgress(c, url), 0)
  // A body that fails mid-upload: its error, aborted, nothing written.
  const failing = () => Readable.from((async function* () {
    yield first
    throw new Error('disk read failed')
  })())
  t.regex((await t.throwsAsync(objects.putStream('broken', failing, first.length * 2, { ifNoneMatch: true })))?.message ?? '', /disk read failed/)
  t.false(existsSync(objectPath(url, 'broken')))
  t.is(await uploadsInProgress(c, url), 0)
})

for (const backend of BACKENDS) {
  s3test(`${backend}: another writer completes the same segment during our multipart upload: other bytes are ERR_ARCHIVE_CONFLICT (nothing overwritten), equal bytes are accepted${skipNote}`, async (t) => {
    smallParts(t)
    const proxy = await FaultyProxy.start(s3.gw.port)
    t.teardown(() => proxy.close())
    const viaProxy = { ...s3.gw.client, endpoint: proxy.endpoint }
    const shipThroughProxy = async (log: Log, url: string) => {
      const archiver = await Archiver.start(log, { url, client: viaProxy, interval: 60_000 })
      try {
        await archiver.sync()
      } finally {
        await archiver.stop()
      }
    }
    for (const same of [false, true]) {
      const dir = tempDir(t, `ours-${same}`)
      const log = await bigSegmentLog(t, backend, dir, 'ours')
      const url = prefixUrl()
      const seg = readSegment(dir, 's', 0)
      // Our archiver found the key free and is uploading the segment: hold its second part.
      const held = proxy.holdRequests(/^PUT \S*seg\/0\.log\?[^ ]*partNumber=2/)
      const ours = shipThroughProxy(log, url).then(() => 'ok', (e: unknown) => codeOf(e))
      await held
      let theirs = seg
      if (same) {
        // Equal bytes land first (a racing upload of the same history): ours is refused at the complete and accepts them.
        const objects = await ObjectStore.open(url, s3.gw.client)
        t.not(await objects.putStream('s/seg/0.log', () => Readable.from([seg]), seg.length, { ifNoneMatch: true }), null)
        objects.close()
      } else {
        // Another history's archiver ships the same key (segment, metadata, HEAD) meanwhile.
        const otherDir = tempDir(t, 'theirs')
        const other = await bigSegmentLog(t, backend, otherDir, 'theirs')
        await shipOnce(other, url)
        theirs = readSegment(otherDir, 's', 0)
        t.false(theirs.equals(seg))
      }
      proxy.release()
      t.is(await ours, same ? 'ok' : 'ERR_ARCHIVE_CONFLICT')
      t.true(readFileSync(objectPath(url, 's/seg/0.log')).equals(theirs))
      t.is(await uploadsInProgress(rawClient(t), url), 0)
      await log.close()
    }
  })
}

for (const backend of BACKENDS) {
  s3test(`${backend}: a part upload that fails leaves no object and the next pass ships the segment; a part cut once is retried alone${skipNote}`, async (t) => {
    smallParts(t)
    const proxy = await FaultyProxy.start(s3.gw.port)
    t.teardown(() => proxy.close())
    const viaProxy = { ...s3.gw.client, endpoint: proxy.endpoint }
    const dir = tempDir(t)
    const log = await bigSegmentLog(t, backend, dir, 'fail')
    const seg = readSegment(dir, 's', 0)
    const url = prefixUrl()
    const ship = async () => {
      const archiver = await Archiver.start(log, { url, client: viaProxy, interval: 60_000 })
      try {
        await archiver.sync()
      } finally {
        await archiver.stop()
      }
    }
    // The server goes away while part 2 is on its way: ERR_IO, and no object appears.
    const held = proxy.holdRequests(/^PUT \S*seg\/0\.log\?[^ ]*partNumber=2/)
    const failed = ship().then(() => 'ok', (e: unknown) => codeOf(e))
    await held
    await s3.gw.stopServer()
    proxy.release()
    t.is(await failed, 'ERR_IO')
    await s3.gw.restart()
    t.false(existsSync(objectPath(url, 's/seg/0.log')))
    // Part 2's connection cut midway: the SDK sends that part again, the pass succeeds.
    const cut = proxy.cutRequest(/^PUT \S*seg\/0\.log\?[^ ]*partNumber=2/, 1 * MiB)
    await ship()
    await cut
    t.true(readFileSync(objectPath(url, 's/seg/0.log')).equals(seg))
    const out = join(tempDir(t, 'out'), 's')
    await restore(url, out, { client: s3.gw.client, backend })
    t.true(readFileSync(join(out, 's', 'segment_000000.log')).equals(seg))
    // The upload the dead server never heard the abort of is still listed (invisible, see README); no other is.
    t.true((await uploadsInProgress(rawClient(t), url)) <= 1)
  })
}
