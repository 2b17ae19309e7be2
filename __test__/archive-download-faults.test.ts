import type { ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ArchiveReader, type Log, restore } from '../ts/index.ts'
import { BACKENDS } from './helpers/cores.ts'
import { CLI, ensureBuilt } from './helpers/dist.ts'
import { FaultyProxy } from './helpers/faulty-proxy.ts'
import { codeOf, filesIn, openLog, tempDir } from './helpers/log-dir.ts'
import { s3Suite } from './helpers/versitygw.ts'

// Downloads that break on the network, not in the bytes: a connection cut in the middle of an
// object's body, or a body that stops coming. A real TCP proxy (helpers/faulty-proxy.ts) stands
// between the archive and the test S3 server (versitygw on 127.0.0.1). A break is ERR_IO (not
// damage: nothing is wrong with the archive), never a result that looks whole.

const s3 = s3Suite('chainlog-archive-download')
const { test: s3test, skipNote, prefixUrl, shipOnce } = s3

/** A stream 's' of ~200 KiB sealed segments (three of them) and a tail, archived; its segment files as written. */
async function archived(t: ExecutionContext, backend: (typeof BACKENDS)[number]): Promise<{ url: string; files: Map<string, Buffer>; events: number }> {
  const dir = tempDir(t)
  const log: Log = await openLog(t, backend, dir, { maxSegmentBytes: 200 * 1024, checkpointEvery: false })
  let events = 0
  for (; events < 700; events++) await log.append('s', createHash('sha256').update(`e${events}`).digest('hex').repeat(16), { timestamp: 1_700_000_000_000 + events })
  const url = prefixUrl()
  await shipOnce(log, url)
  const files = new Map<string, Buffer>()
  for (const e of readdirSync(join(dir, 's'))) if (/^segment_\d+\.log$/.test(e)) files.set(e, readFileSync(join(dir, 's', e)))
  await log.close()
  return { url, files, events }
}

/** Every file under `dir`, by relative path. */
function filesUnder(dir: string): string[] {
  return [...filesIn(dir, []).keys()]
}

/** A proxy in front of the test server, closed when the test ends; client settings through it. */
async function proxied(t: ExecutionContext, extra: Record<string, unknown> = {}): Promise<{ proxy: FaultyProxy; client: Record<string, unknown> }> {
  const proxy = await FaultyProxy.start(s3.gw.port)
  t.teardown(() => proxy.close())
  return { proxy, client: { ...s3.gw.client, endpoint: proxy.endpoint, ...extra } }
}

const SEGMENT_GET = (num: number) => new RegExp(`^GET \\S*/s/seg/${num}\\.log[? ]`)

for (const backend of BACKENDS) {
  s3test(`${backend}: restore with the connection cut mid-segment: ERR_IO naming the object, nothing left behind (a cut in the first segment or a later one); the retry into the same directory is byte-identical${skipNote}`, async (t) => {
    const { url, files } = await archived(t, backend)
    t.true(files.size >= 3)
    const { proxy, client } = await proxied(t)
    const out = join(tempDir(t, 'out'), 'restored')
    const cut = proxy.cutBody(SEGMENT_GET(0), 100 * 1024)
    const err = await t.throwsAsync(restore(url, out, { client, backend }))
    await cut
    t.is(codeOf(err), 'ERR_IO', err?.message)
    t.regex(err?.message ?? '', /s\/seg\/0\.log/)
    t.false(existsSync(out), 'the directory the restore created is removed')
    // The same directory, the connection left alone: the restore completes, byte for byte.
    await restore(url, out, { client, backend })
    for (const [name, bytes] of files) t.true(readFileSync(join(out, 's', name)).equals(bytes), name)

    // A cut in a later segment, into an empty directory that exists: ERR_IO too; the segments
    // already checked and renamed into place are removed with the rest, the directory is left
    // empty, and the retry into it completes.
    const out2 = tempDir(t, 'out2')
    const cut2 = proxy.cutBody(SEGMENT_GET(1), 50 * 1024)
    t.is(codeOf(await t.throwsAsync(restore(url, out2, { client, backend }))), 'ERR_IO')
    await cut2
    t.deepEqual(filesUnder(out2), [])
    t.deepEqual(readdirSync(out2), [])
    await restore(url, out2, { client, backend })
    for (const [name, bytes] of files) t.true(readFileSync(join(out2, 's', name)).equals(bytes), name)
  })

  s3test(`${backend}: the remote reader with the connection cut mid-object: iterate(), verify() and get() are ERR_IO, never ok and never shorter${skipNote}`, async (t) => {
    const { url, events } = await archived(t, backend)
    const { proxy, client } = await proxied(t)
    const reader = await ArchiveReader.open(url, { client, backend })
    t.teardown(() => reader.close())
    // iterate(): the records before the cut arrive, then ERR_IO (not a shorter stream that ends quietly).
    let seen = 0
    const cut = proxy.cutBody(SEGMENT_GET(1), 30 * 1024)
    const iterated = await t.throwsAsync(async () => {
      for await (const _ of reader.iterate('s')) seen++
    })
    await cut
    t.is(codeOf(iterated), 'ERR_IO', iterated?.message)
    t.true(seen < events)
    // verify(): ERR_IO, not a report (ok or with damage).
    const cutV = proxy.cutBody(SEGMENT_GET(2), 10 * 1024)
    const verified = await t.throwsAsync(reader.verify())
    await cutV
    t.is(codeOf(verified), 'ERR_IO', verified?.message)
    // get(): its ranged GET cut.
    const cutG = proxy.cutBody(SEGMENT_GET(1), 10)
    t.is(codeOf(await t.throwsAsync(reader.get('s', 300))), 'ERR_IO')
    await cutG
    // Left alone, the same reader is whole again.
    const report = await reader.verify()
    t.true(report.ok)
    t.is(report.streams[0].records, events)
    let all = 0
    for await (const _ of reader.iterate('s')) all++
    t.is(all, events)
  })

  s3test(`${backend}: a body that stalls mid-segment times out as ERR_IO (socket inactivity timeout) in restore and the reader${skipNote}`, async (t) => {
    const { url, files } = await archived(t, backend)
    // The default is 60 s (s3.ts); a test waits 1.5 s, set as any user would, through requestHandler.
    const { proxy, client } = await proxied(t, { requestHandler: { socketTimeout: 1500, connectionTimeout: 10_000 } })
    const out = join(tempDir(t, 'out'), 'restored')
    const stalled = proxy.stallBody(SEGMENT_GET(1), 20 * 1024)
    const err = await t.throwsAsync(restore(url, out, { client, backend }))
    await stalled
    t.is(codeOf(err), 'ERR_IO', err?.message)
    t.regex(err?.message ?? '', /s\/seg\/1\.log.*timed out/)
    t.false(existsSync(out), 'the failed restore removed what it wrote')
    const reader = await ArchiveReader.open(url, { client, backend })
    t.teardown(() => reader.close())
    proxy.stallBody(SEGMENT_GET(0), 1000)
    t.is(codeOf(await t.throwsAsync(reader.verify())), 'ERR_IO')
    proxy.disarm()
    t.true((await reader.verify()).ok)
    t.true(files.size >= 3)
  })
}

/** The built `chainlog` command against `endpoint`, run asynchronously (the proxy lives in this process's event loop). */
function cli(endpoint: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env, CHAINLOG_S3_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: s3.gw.client.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.gw.client.credentials.secretAccessKey, AWS_REGION: 'us-east-1' }
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

s3test(`CLI: archive verify, read and restore with the connection cut mid-segment exit 3 (I/O), not 0 and not 1 (damage)${skipNote}`, async (t) => {
  ensureBuilt()
  const { url, events } = await archived(t, 'js')
  const { proxy } = await proxied(t)
  let cut = proxy.cutBody(SEGMENT_GET(1), 20 * 1024)
  let r = await cli(proxy.endpoint, 'archive', 'verify', url)
  await cut
  t.is(r.status, 3, r.stdout + r.stderr)
  t.notRegex(r.stdout, /verify: ok/)
  t.regex(r.stderr, /s\/seg\/1\.log/)
  cut = proxy.cutBody(SEGMENT_GET(0), 20 * 1024)
  r = await cli(proxy.endpoint, 'archive', 'read', url, 's')
  await cut
  t.is(r.status, 3, r.stderr)
  t.true(r.stdout.trim().split('\n').filter(Boolean).length < events)
  const out = join(tempDir(t, 'cli-out'), 'restored')
  cut = proxy.cutBody(SEGMENT_GET(2), 20 * 1024)
  r = await cli(proxy.endpoint, 'archive', 'restore', url, out)
  await cut
  t.is(r.status, 3, r.stderr)
  t.false(existsSync(out), 'the failed restore removed what it wrote')
  // Left alone: all three succeed.
  r = await cli(proxy.endpoint, 'archive', 'verify', url)
  t.is(r.status, 0, r.stderr)
  r = await cli(proxy.endpoint, 'archive', 'read', url, 's')
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim().split('\n').length, events)
})
