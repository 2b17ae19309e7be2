import type { ExecutionContext } from 'ava'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { getPriority } from 'node:os'
import { join } from 'node:path'
import { Archiver, Log, restore } from '../ts/index.ts'
import type { ShipThread } from '../ts/archive/ship-thread.ts'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir } from './helpers/log-dir.ts'
import { s3Suite } from './helpers/versitygw.ts'

// The archiver's shipping thread (ts/archive/ship-thread.ts) against a real S3 server: the path
// a store on disk ships by, its crash and its end; and the in-process path that a store in
// memory, or client settings that cannot cross to a thread, ship by.

const s3 = s3Suite('chainlog-ship-thread')
const { test: s3test, skipNote, prefixUrl } = s3

const shipThreadOf = (a: Archiver) => (a as unknown as Record<symbol, ShipThread | null>)[Symbol.for('chainlog.archiver.shipThread')]

async function startArchiver(t: ExecutionContext, log: Log, url: string, client: Record<string, unknown> = s3.gw.client, lowPriority?: boolean): Promise<Archiver> {
  const archiver = await Archiver.start(log, { url, client, interval: 60_000, lowPriority })
  t.teardown(() => archiver.stop())
  return archiver
}

/** Segment files of a store's stream, by name. */
function segmentFiles(dir: string, stream: string): Map<string, Buffer> {
  return new Map(readdirSync(join(dir, stream)).filter((f) => /^segment_\d+\.log$/.test(f)).map((f) => [f, readFileSync(join(dir, stream, f))]))
}

/** Restores `url` and checks its segment files are the store's, byte for byte. */
async function restoresIdentically(t: ExecutionContext, url: string, dir: string, stream: string, backend: (typeof BACKENDS)[number]): Promise<void> {
  const out = join(tempDir(t, 'out'), 's')
  await restore(url, out, { client: s3.gw.client, backend })
  const src = segmentFiles(dir, stream)
  const got = segmentFiles(out, stream)
  t.deepEqual([...got.keys()], [...src.keys()])
  for (const [name, bytes] of src) t.true(bytes.equals(got.get(name)!), name)
  const back = await openLog(t, backend, out)
  t.true((await back.verify()).ok)
}

for (const backend of BACKENDS) {
  s3test(`${backend}: a store on disk ships through the shipping thread: sealed segments from their files (sha256 of exactly the bytes), restore is byte-identical${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 64 * 1024, checkpointEvery: 100 })
    for (let i = 0; i < 3000; i++) await log.append('s', `event ${i} ${'x'.repeat(i % 50)}`)
    const url = prefixUrl()
    const archiver = await startArchiver(t, log, url)
    t.not(shipThreadOf(archiver), null)
    await archiver.sync()
    for (let i = 3000; i < 3500; i++) await log.append('s', `later ${i}`)
    await archiver.sync()
    const st = await archiver.status()
    t.is(st.streams[0].lagRecords, 0)
    t.is(st.lastError, null)
    const segs = segmentFiles(dir, 's')
    t.true(segs.size > 3)
    const prefix = join(s3.gw.dataDir, s3.bucket, url.slice(`s3://${s3.bucket}/`.length))
    const meta = JSON.parse(readFileSync(join(prefix, 's/seg/0.json'), 'utf8'))
    t.is(meta.sha256, createHash('sha256').update(segs.get('segment_000000.log')!).digest('hex'))
    await archiver.stop()
    await restoresIdentically(t, url, dir, 's', backend)
  })

  s3test(`${backend}: a store in memory (no files for a thread to read) ships from its own thread, and restores to the same records${skipNote}`, async (t) => {
    const log = await Log.memory({ backend, maxSegmentBytes: 16 * 1024 })
    t.teardown(() => log.close().catch(() => {}))
    for (let i = 0; i < 1500; i++) await log.append('m', `mem ${i}`)
    const url = prefixUrl()
    const archiver = await startArchiver(t, log, url)
    t.is(shipThreadOf(archiver), null)
    await archiver.sync()
    t.is((await archiver.status()).streams[0].lagRecords, 0)
    await archiver.stop()
    const out = join(tempDir(t, 'out'), 's')
    await restore(url, out, { client: s3.gw.client, backend })
    const back = await openLog(t, backend, out)
    t.true((await back.verify()).ok)
    t.deepEqual((await back.read('m')).map((r) => r.payload.toString()), (await log.read('m')).map((r) => r.payload.toString()))
    t.deepEqual(await back.head('m'), await log.head('m'))
  })

  s3test(`${backend}: client settings that cannot cross to a thread (a credentials function) ship from the appends' thread${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 8 * 1024 })
    for (let i = 0; i < 600; i++) await log.append('s', `event ${i}`)
    const url = prefixUrl()
    const { credentials, ...rest } = s3.gw.client
    const archiver = await startArchiver(t, log, url, { ...rest, credentials: async () => credentials })
    t.is(shipThreadOf(archiver), null)
    await archiver.sync()
    await archiver.stop()
    await restoresIdentically(t, url, dir, 's', backend)
  })

  s3test(`${backend}: the shipping thread crashing mid-upload is ERR_IO in status(); the next pass starts a new thread and loses nothing${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { maxSegmentBytes: 32 * 1024 })
    for (let i = 0; i < 2000; i++) await log.append('s', `event ${i} ${'y'.repeat(i % 40)}`)
    const url = prefixUrl()
    const archiver = await startArchiver(t, log, url)
    const thread = shipThreadOf(archiver)!
    let crash = true
    let crashes = 0
    // Killed just after a sealed segment's upload is asked of it: the thread dies mid-pass.
    thread.beforeReply = (op) => {
      if (crash && op === 'uploadFile') {
        crashes++
        thread.kill()
      }
    }
    const err = await t.throwsAsync(archiver.sync())
    t.is(codeOf(err), 'ERR_IO')
    t.regex(err!.message, /shipping thread/)
    t.true(crashes >= 1)
    const during = await archiver.status()
    t.is(during.lastError?.code, 'ERR_IO')
    t.true(during.running)
    t.true(during.streams[0].lagRecords > 0)
    crash = false
    await archiver.sync()
    const after = await archiver.status()
    t.is(after.lastError, null)
    t.is(after.streams[0].lagRecords, 0)
    await archiver.stop()
    await restoresIdentically(t, url, dir, 's', backend)
  })

  s3test(`${backend}: other bytes under a tail chunk's key are still ERR_ARCHIVE_CONFLICT through the shipping thread, nothing overwritten${skipNote}`, async (t) => {
    const url = prefixUrl()
    const a = await openLog(t, backend, tempDir(t, 'a'))
    for (let i = 0; i < 50; i++) await a.append('s', `a-event ${String(i).padStart(4, '0')}`)
    await s3.shipOnce(a, url)
    const prefix = join(s3.gw.dataDir, s3.bucket, url.slice(`s3://${s3.bucket}/`.length))
    const tails = readdirSync(join(prefix, 's/tail/0'))
    t.is(tails.length, 1)
    const before = readFileSync(join(prefix, 's/tail/0', tails[0]))
    rmSync(join(prefix, 's/HEAD.json')) // as if HEAD were lost: B's tail chunk meets A's under the same key
    const b = await openLog(t, backend, tempDir(t, 'b'))
    for (let i = 0; i < 50; i++) await b.append('s', `b-event ${String(i).padStart(4, '0')}`)
    const archiver = await startArchiver(t, b, url)
    t.not(shipThreadOf(archiver), null)
    t.is(codeOf(await t.throwsAsync(archiver.sync())), 'ERR_ARCHIVE_CONFLICT')
    const st = await archiver.status()
    t.is(st.stoppedBy?.code, 'ERR_ARCHIVE_CONFLICT')
    t.false(st.running)
    t.true(readFileSync(join(prefix, 's/tail/0', tails[0])).equals(before))
  })
}

for (const stop of [true, false]) {
  s3test(`the shipping thread does not keep the process alive: it exits on its own after ${stop ? 'stop()' : 'its log closed, the archiver left idle'}${skipNote}`, (t) => {
    const dir = tempDir(t)
    const child = join(import.meta.dirname, 'helpers', 'archive-idle-child.ts')
    const r = spawnSync(process.execPath, [`--import=${import.meta.resolve('tsx')}`, child, JSON.stringify({ url: prefixUrl(), client: s3.gw.client, dir, stop })], { encoding: 'utf8', timeout: 120_000 })
    t.is(r.signal, null, 'the child had to be killed: something kept it alive')
    t.is(r.status, 0, r.stderr)
    t.is(r.stdout.trim(), 'shipped')
  })
}

s3test(`calls after the shipping thread is closed are ERR_CLOSED, not a new thread${skipNote}`, async (t) => {
  const log = await openLog(t, 'native', tempDir(t))
  await log.append('s', 'one')
  const archiver = await startArchiver(t, log, prefixUrl())
  const thread = shipThreadOf(archiver)!
  await archiver.sync()
  await archiver.stop()
  t.is(codeOf(await t.throwsAsync(thread.exists('s/HEAD.json'))), 'ERR_CLOSED')
})

/** Nice values of this process's threads (Linux: /proc/self/task/TID/stat, field 19), by thread ID. */
function threadNiceValues(): Map<number, number> {
  const out = new Map<number, number>()
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]))
  }
  return out
}

s3test(`lowPriority: the shipping thread runs 10 nice steps below the process (Linux), so the appends win the CPU when both want it; other threads keep theirs; without it, the process's priority${skipNote}`, async (t) => {
  if (process.platform !== 'linux') return t.pass('per-thread priorities are Linux-only')
  const base = getPriority(0)
  if (base >= 19) return t.pass('the process already runs at the lowest priority: no thread can go below it')
  for (const lowPriority of [true, false]) {
    const before = threadNiceValues()
    const log = await openLog(t, 'native', tempDir(t))
    await log.append('s', 'one')
    const archiver = await startArchiver(t, log, prefixUrl(), s3.gw.client, lowPriority)
    await archiver.sync()
    const after = threadNiceValues()
    const lowered = [...after].filter(([tid, nice]) => !before.has(tid) && nice > base)
    if (lowPriority) {
      t.is(lowered.length, 1, 'one new thread, the shipping thread, below the process')
      t.is(lowered[0]?.[1], Math.min(19, base + 10))
    } else {
      t.is(lowered.length, 0, 'no thread below the process by default')
    }
    for (const [tid, nice] of before) if (after.has(tid)) t.is(after.get(tid), nice, `thread ${tid} kept its priority`)
    t.is(getPriority(0), base, 'the process (its main thread) kept its priority')
    t.is((await archiver.status()).streams[0].lagRecords, 0)
    await archiver.stop()
  }
})
