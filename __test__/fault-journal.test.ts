/**
 * The store journal (LogOptions.journal, docs/format.md §11) under faults, both cores:
 * 1. power cuts: a child appends with the journal on over 32 streams and is SIGKILLed; then the
 *    segments' journaled ranges are damaged as a power cut would leave them (cut back, zeros, a
 *    partial page, other bytes) and nothing else is touched. The reopen (journal option on or
 *    off) restores every acknowledged record byte for byte from the journal, and the segment files
 *    are byte-identical to what they were before the damage. A torn journal tail is cut.
 * 2. a read-only open refuses a journal whose bytes the segments lack (ERR_READ_ONLY), and reads
 *    everything when they hold them.
 * 3. a damaged entry in the middle of the journal is ERR_CORRUPT, nothing changed.
 * 4. a failed journal write fails its appends with ERR_IO and rolls their segment writes back.
 * 5. the journal's entries and the segments are byte-identical across cores, and the segments identical to a
 *    store written without the journal; the option is validated.
 */
import test, { type ExecutionContext } from 'ava'
import fs, { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BACKENDS, core } from './helpers/cores.ts'
import { runAndKill } from './helpers/run-and-kill.ts'
import { count, faultSize, figures } from './helpers/faults.ts'
import { tempDir } from './helpers/log-dir.ts'
import { int, rng, seedFromEnv } from './helpers/random.ts'
import { ChainlogError, Log } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'
import { encodeJournalEntry, parseJournal, type JournalEntry } from '../ts/storage/journal-file.ts'

const WRITER = fileURLToPath(new URL('./helpers/fault-writer.ts', import.meta.url))
const SEED = seedFromEnv(20261205)

type Acked = Map<string, Map<number, string>>

/** Runs the journal-mode writer until it has acknowledged appends, SIGKILLs it, returns what it acknowledged. */
async function killWriter(dir: string, backend: BackendName, seed: number, killMs: number): Promise<Acked> {
  const { lines } = await runAndKill({ script: WRITER, args: [dir, backend, String(seed), 'journal'], killMs, armed: (out) => /"firstOffset"[^\n]*\n/.test(out) })
  const acked: Acked = new Map()
  for (const v of lines) {
    if (v.stream === undefined) continue
    const a = v as unknown as { stream: string; firstOffset: number; events: string[] }
    let m = acked.get(a.stream)
    if (m === undefined) acked.set(a.stream, (m = new Map()))
    for (const [k, e] of a.events.entries()) m.set(a.firstOffset + k, e)
  }
  return acked
}

/** A killed store whose journal holds entries (tries seeds until a kill lands between checkpoints). */
async function killedStore(t: ExecutionContext, backend: BackendName, seed: number, minEntries = 1): Promise<{ dir: string; acked: Acked; entries: JournalEntry[] }> {
  const c = await core(backend)
  for (let attempt = 0; attempt < 8; attempt++) {
    const dir = tempDir(t, 'journal-kill')
    const acked = await killWriter(dir, backend, seed + attempt * 101, int(rng(seed + attempt), 100, 400))
    const parsed = parseJournal(readFileSync(join(dir, 'journal.wal')), (d) => c.crc32(d))
    if (parsed.entries.length >= minEntries && acked.size > 0) return { dir, acked, entries: parsed.entries }
  }
  throw new Error('no kill left journal entries in 8 attempts')
}

function segmentFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const stream of readdirSync(dir, { withFileTypes: true })) {
    if (!stream.isDirectory()) continue
    for (const f of readdirSync(join(dir, stream.name))) if (f.endsWith('.log')) out.set(join(stream.name, f), readFileSync(join(dir, stream.name, f)))
  }
  return out
}

async function checkAcked(t: ExecutionContext, log: Log, acked: Acked, where: string): Promise<number> {
  let n = 0
  for (const [stream, m] of acked) {
    const got = new Map((await log.read(stream, { verify: 'genesis' })).map((r) => [r.offset, r.payload.toString('base64')]))
    for (const [offset, payload] of m) {
      if (got.get(offset) !== payload) {
        figures('journal').lost++
        t.fail(`${where}: ${stream}@${offset} was acknowledged but reads back as ${got.get(offset)?.slice(0, 40)}`)
      }
      n++
    }
  }
  return n
}

type Damage = 'cut back' | 'zeros' | 'partial page' | 'other bytes'
const DAMAGES: Damage[] = ['cut back', 'zeros', 'partial page', 'other bytes']

/** Damages journaled ranges only: what a power cut may do to bytes written but not yet fdatasynced. */
function damageJournaled(dir: string, entries: JournalEntry[], kind: Damage, rand: () => number): number {
  let damaged = 0
  const bySegment = new Map<string, JournalEntry[]>()
  for (const e of entries) {
    const key = join(e.stream, `segment_${String(e.segment).padStart(6, '0')}.log`)
    bySegment.set(key, [...(bySegment.get(key) ?? []), e])
  }
  for (const [file, list] of bySegment) {
    const path = join(dir, file)
    const size = statSync(path, { throwIfNoEntry: false })?.size
    if (size === undefined) continue
    if (kind === 'cut back') {
      // Back into the run of journaled bytes that reaches the end of the file.
      const sorted = [...list].sort((a, b) => a.position - b.position)
      let start = size
      for (let i = sorted.length - 1; i >= 0 && sorted[i].position + sorted[i].bytes.length >= start && sorted[i].position < start; i--) start = sorted[i].position
      if (start >= size) continue
      truncateSync(path, int(rand, start, size - 1))
      damaged++
      continue
    }
    const e = list[int(rand, 0, list.length - 1)]
    const fd = fs.openSync(path, 'r+')
    try {
      const n = e.bytes.length
      if (kind === 'zeros') fs.writeSync(fd, Buffer.alloc(n), 0, n, e.position)
      else if (kind === 'partial page') fs.writeSync(fd, Buffer.alloc(n - Math.floor(n / 2)), 0, n - Math.floor(n / 2), e.position + Math.floor(n / 2))
      else fs.writeSync(fd, Buffer.from(Array.from({ length: n }, () => int(rand, 0, 255))), 0, n, e.position)
    } finally {
      fs.closeSync(fd)
    }
    damaged++
  }
  return damaged
}

for (const backend of BACKENDS) {
  test(`${backend}: power cuts in journaled ranges: the reopen restores every acknowledged record and the segment bytes from the journal; a torn journal tail is cut`, async (t) => {
    const trials = faultSize(4, 24)
    const f = figures('journal')
    let totalDamaged = 0
    for (let trial = 0; trial < trials; trial++) {
      const seed = SEED + trial * 7919 + (backend === 'native' ? 1 : 0)
      const rand = rng(seed)
      const { dir, acked, entries } = await killedStore(t, backend, seed)
      const before = segmentFiles(dir)
      const kind = DAMAGES[trial % DAMAGES.length]
      const damaged = damageJournaled(dir, entries, kind, rand)
      totalDamaged += damaged
      // A torn tail on the journal itself: part of a copy of its last entry, now and then.
      const tornTail = trial % 2 === 1
      if (tornTail) {
        const last = readFileSync(join(dir, 'journal.wal'))
        fs.appendFileSync(join(dir, 'journal.wal'), last.subarray(entries.at(-1)!.at, entries.at(-1)!.at + int(rand, 1, 40)))
      }
      const where = `${kind}, seed ${seed}`
      f.trials++
      f.faults += damaged + (tornTail ? 1 : 0)
      const log = await Log.open(dir, { backend, journal: trial % 3 !== 0 })
      try {
        const replayed = log.recovered.filter((e) => e.action === 'replayed')
        if (damaged > 0) t.true(replayed.length > 0, `${where}: damaged ranges are replayed`)
        f.found += replayed.length
        count('journal', 'entriesReplayed', replayed.length)
        if (tornTail) t.true(log.recovered.some((e) => e.stream === '' && e.segment === -1 && e.action === 'truncated'), `${where}: the journal's torn tail is reported cut`)
        for (const e of log.recovered) t.true(['replayed', 'truncated'].includes(e.action), `${where}: ${JSON.stringify(e)}`)
        f.records += await checkAcked(t, log, acked, where)
        t.true((await log.verify()).ok, where)
      } finally {
        await log.close()
      }
      // Nothing was appended since: every segment is byte for byte what it was before the damage.
      const after = segmentFiles(dir)
      for (const [file, bytes] of before) {
        // A trailing empty segment (the kill came right after a rotation created it) is dropped at open, as without the journal.
        if (bytes.length === 0) continue
        t.true(after.get(file)?.equals(bytes), `${where}: ${file} restored byte for byte`)
      }
      t.is(statSync(join(dir, 'journal.wal')).size, 0, `${where}: the journal is empty after the replay and close`)
    }
    t.true(totalDamaged >= trials, 'every trial damaged journaled ranges')
  })

  test(`${backend}: a read-only open refuses unreplayed journal entries (ERR_READ_ONLY) and reads through a journal the segments hold`, async (t) => {
    const { dir, acked, entries } = await killedStore(t, backend, SEED + 17 + (backend === 'native' ? 1 : 0))
    // SIGKILL keeps the page cache: the segments hold every journaled byte, so a reader may open.
    const ro = await Log.open(dir, { backend, readOnly: true })
    try {
      await checkAcked(t, ro, acked, 'read-only, intact')
    } finally {
      await ro.close()
    }
    const journal = readFileSync(join(dir, 'journal.wal'))
    damageJournaled(dir, entries, 'zeros', rng(5))
    const damagedSegments = segmentFiles(dir)
    const err = await t.throwsAsync(Log.open(dir, { backend, readOnly: true }), { instanceOf: ChainlogError })
    t.is(err?.code, 'ERR_READ_ONLY')
    t.regex(err!.message, /open the store writable once/)
    t.true(readFileSync(join(dir, 'journal.wal')).equals(journal), 'the read-only open changed nothing')
    for (const [file, bytes] of segmentFiles(dir)) t.true(damagedSegments.get(file)!.equals(bytes))
    const w = await Log.open(dir, { backend })
    await w.close()
    const ro2 = await Log.open(dir, { backend, readOnly: true })
    try {
      await checkAcked(t, ro2, acked, 'read-only after a writable open')
    } finally {
      await ro2.close()
    }
  })

  test(`${backend}: a damaged entry in the middle of the journal is ERR_CORRUPT, and nothing is replayed or changed`, async (t) => {
    const { dir, entries } = await killedStore(t, backend, SEED + 29 + (backend === 'native' ? 1 : 0), 2)
    const path = join(dir, 'journal.wal')
    const journal = readFileSync(path)
    const bad = Buffer.from(journal)
    bad[entries[0].at + 20] ^= 0x40 // inside the first entry's body: its CRC fails, a valid entry follows
    writeFileSync(path, bad)
    const segments = segmentFiles(dir)
    for (const readOnly of [false, true]) {
      const err = await t.throwsAsync(Log.open(dir, { backend, readOnly }), { instanceOf: ChainlogError })
      t.is(err?.code, 'ERR_CORRUPT')
      t.regex(err!.message, /journal .* is damaged at byte 0/)
    }
    t.true(readFileSync(path).equals(bad), 'the journal is left as found')
    for (const [file, bytes] of segmentFiles(dir)) t.true(segments.get(file)!.equals(bytes), `${file} unchanged`)
  })

  test(`${backend}: the journal's entries and the segments are byte-identical across cores; the segments equal a store written without the journal`, async (t) => {
    const write = async (dir: string, b: BackendName, journal: boolean): Promise<Buffer> => {
      const log = await Log.open(dir, { backend: b, journal, sync: 'always', checkpointEvery: 7 })
      const calls = []
      for (let i = 0; i < 300; i++) calls.push(log.append(`s${i % 12}`, [`event ${i}`, Buffer.alloc(i % 50, i)], { timestamp: 1_700_000_000_000 + i }))
      await Promise.all(calls)
      const held = journal ? readFileSync(join(dir, 'journal.wal')) : Buffer.alloc(0)
      await log.close()
      return held
    }
    const other: BackendName = backend === 'native' ? 'js' : 'native'
    const [a, b, plain] = [tempDir(t), tempDir(t), tempDir(t)]
    const ja = await write(a, backend, true)
    const jb = await write(b, other, true)
    await write(plain, backend, false)
    t.true(ja.length > 0)
    // Each entry is byte-identical across cores; the order of different streams' entries follows
    // which stream's group reached the journal first (I/O timing), so entries are compared as a set.
    const entries = async (j: Buffer, b: BackendName) => {
      const c = await core(b)
      const parsed = parseJournal(j, (d) => c.crc32(d))
      t.is(parsed.end, j.length, 'the whole journal parses')
      return parsed.entries.map((e) => j.subarray(e.at, parsed.entries.find((x) => x.at > e.at)?.at ?? j.length).toString('hex')).sort()
    }
    t.deepEqual(await entries(ja, backend), await entries(jb, other), 'journal.wal holds the same entries, byte for byte, from both cores')
    const [sa, sb, sp] = [segmentFiles(a), segmentFiles(b), segmentFiles(plain)]
    t.is(sa.size, 12)
    for (const [file, bytes] of sa) {
      t.true(sb.get(file)?.equals(bytes), `${file}: same bytes from both cores`)
      t.true(sp.get(file)?.equals(bytes), `${file}: same bytes without the journal`)
    }
  })

  test.serial(`${backend}: a failed journal write fails exactly its appends with ERR_IO, rolls their segment writes back, and appending continues`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, journal: true })
    try {
      await Promise.all([log.append('a', 'one'), log.append('b', 'one')])
      const sizeA = statSync(join(dir, 'a', 'segment_000000.log')).size
      const real = fs.writeSync
      let failed = 0
      // The journal's entries start with its magic "CLJ\x01": those writes fail once.
      ;(fs as { writeSync: unknown }).writeSync = (fd: number, data: Uint8Array, ...rest: unknown[]) => {
        if (failed === 0 && data instanceof Uint8Array && Buffer.from(data.subarray(0, 4)).toString('latin1') === 'CLJ\x01') {
          failed++
          throw Object.assign(new Error('EIO: injected'), { code: 'EIO' })
        }
        return (real as (...a: unknown[]) => number).call(fs, fd, data, ...rest)
      }
      let results: PromiseSettledResult<unknown>[]
      try {
        results = await Promise.allSettled([log.append('a', 'two'), log.append('b', 'two')])
      } finally {
        ;(fs as { writeSync: unknown }).writeSync = real
      }
      t.is(failed, 1)
      for (const r of results) {
        t.is(r.status, 'rejected')
        t.is(((r as PromiseRejectedResult).reason as ChainlogError).code, 'ERR_IO')
      }
      t.is(statSync(join(dir, 'a', 'segment_000000.log')).size, sizeA, 'the failed write was rolled back')
      const r = await log.append('a', 'three')
      t.is(r.firstOffset, 1)
      t.deepEqual((await log.read('a')).map((x) => x.payload.toString()), ['one', 'three'])
    } finally {
      await log.close()
    }
    const again = await Log.open(dir, { backend })
    try {
      t.deepEqual((await again.read('b')).filter((x) => x.kind === 'data').map((x) => x.payload.toString()), ['one'])
      t.true((await again.verify()).ok)
    } finally {
      await again.close()
    }
  })
}

test('the journal option is validated; Log.memory() accepts it and has nothing to journal', async (t) => {
  const dir = tempDir(t)
  for (const bad of ['yes', 1, null, {}]) {
    const err = await t.throwsAsync(Log.open(dir, { journal: bad as unknown as boolean }), { instanceOf: ChainlogError })
    t.is(err?.code, 'ERR_INVALID_ARGUMENT')
    t.regex(err!.message, /journal: expected a boolean/)
  }
  const mem = await Log.memory({ journal: true })
  await mem.append('s', 'x')
  t.is((await mem.read('s')).length, 1)
  await mem.close()
  // A store opened with the option off leaves no journal behind it.
  const log = await Log.open(dir, { journal: false })
  await log.append('s', 'x')
  await log.close()
  t.false(readdirSync(dir).includes('journal.wal'))
})

/** The open journal of a log (engine/journal.ts), for its counters. */
function journalOf(log: Log): { rounds: number; checkpoints: number } {
  return (log as unknown as { ctx: { journal: { rounds: number; checkpoints: number } } }).ctx.journal
}

for (const backend of BACKENDS) {
  test(`${backend}: the journal is checkpointed (segments synced, journal emptied) past 16 MiB, before a redaction's rewrite and before a prune`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, journal: true, maxSegmentBytes: 256 * 1024, checkpointEvery: 50 })
    try {
      const event = Buffer.alloc(1024, 7)
      // 4 streams × 5 MiB under sync 'always': the journal passes 16 MiB once at least.
      await Promise.all(['a', 'b', 'c', 'd'].map(async (s) => {
        for (let i = 0; i < 20; i++) await log.append(s, Array.from({ length: 256 }, () => event))
      }))
      t.true(journalOf(log).checkpoints >= 1, 'a checkpoint ran when the journal passed its bound')
      t.true(statSync(join(dir, 'journal.wal')).size < 16 * 1024 * 1024 + 2 * 1024 * 1024)
      await log.append('a', 'x')
      t.true(statSync(join(dir, 'journal.wal')).size > 0)
      const before = journalOf(log).checkpoints
      await log.redact('a', 3, { reason: 'test' })
      t.true(journalOf(log).checkpoints > before, 'a checkpoint before the rewrite')
      await log.append('b', 'y')
      const beforePrune = journalOf(log).checkpoints
      const pruned = await log.prune('b', { before: 2000 })
      t.true(pruned.segments > 0)
      t.true(journalOf(log).checkpoints > beforePrune, 'a checkpoint before pruned.json')
      t.true((await log.verify()).ok)
    } finally {
      await log.close()
    }
    t.is(statSync(join(dir, 'journal.wal')).size, 0)
    const again = await Log.open(dir, { backend, journal: true })
    try {
      t.deepEqual(again.recovered, [], 'a clean close leaves nothing to replay')
      t.is((await again.get('a', 3))?.payload.length, 0, 'the redaction holds')
    } finally {
      await again.close()
    }
  })
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: a failed round whose bytes cannot be cut back off the journal breaks it: its streams and later rounds fail with ERR_IO, close reports it, the reopen keeps every acknowledged record`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, journal: true })
    const probe = await fs.promises.open(join(dir, 'chainlog.json'), 'r')
    const handleProto = Object.getPrototypeOf(probe) as { truncate: (len?: number) => Promise<void> }
    await probe.close()
    const realTruncate = handleProto.truncate
    const realWrite = fs.writeSync
    let closeError: unknown = null
    try {
      await Promise.all([log.append('a', 'one'), log.append('b', 'one')])
      let armed = true
      ;(fs as { writeSync: unknown }).writeSync = (fd: number, data: Uint8Array, ...rest: unknown[]) => {
        if (armed && data instanceof Uint8Array && Buffer.from(data.subarray(0, 4)).toString('latin1') === 'CLJ\x01') {
          armed = false
          // The journal's cut-back after this failure is the next truncate: it fails too.
          handleProto.truncate = async function (this: unknown) {
            handleProto.truncate = realTruncate
            throw Object.assign(new Error('EIO: injected (truncate)'), { code: 'EIO' })
          }
          throw Object.assign(new Error('EIO: injected (write)'), { code: 'EIO' })
        }
        return (realWrite as (...a: unknown[]) => number).call(fs, fd, data, ...rest)
      }
      const failed = await log.append('a', 'two').catch((e: unknown) => e)
      ;(fs as { writeSync: unknown }).writeSync = realWrite
      handleProto.truncate = realTruncate
      t.is((failed as ChainlogError).code, 'ERR_IO')
      const again = await log.append('a', 'three').catch((e: unknown) => e)
      t.is((again as ChainlogError).code, 'ERR_IO', 'the stream refuses appends until reopened')
      const other = await log.append('b', 'two').catch((e: unknown) => e)
      t.is((other as ChainlogError).code, 'ERR_IO', 'later rounds fail: the journal is broken')
      t.regex((other as ChainlogError).message, /could not be cut back/)
    } finally {
      ;(fs as { writeSync: unknown }).writeSync = realWrite
      handleProto.truncate = realTruncate
      await log.close().catch((e: unknown) => (closeError = e))
    }
    t.is((closeError as ChainlogError | null)?.code, 'ERR_IO', 'close reports the broken journal')
    const reopened = await Log.open(dir, { backend, journal: true })
    try {
      t.deepEqual((await reopened.read('a')).map((r) => r.payload.toString()), ['one'])
      t.deepEqual((await reopened.read('b')).map((r) => r.payload.toString()), ['one'])
      await reopened.append('a', 'four')
      t.true((await reopened.verify()).ok)
    } finally {
      await reopened.close()
    }
  })
}

test('journal entries for a stream that no longer exists, or for a pruned segment, are skipped with a reason and create nothing', async (t) => {
  const dir = tempDir(t)
  const log = await Log.open(dir, { journal: true, maxSegmentBytes: 2048, checkpointEvery: 5 })
  for (let i = 0; i < 100; i++) await log.append('p', Buffer.alloc(100, i))
  const pruned = await log.prune('p', { before: 60 })
  t.true(pruned.segments > 0)
  await log.close()
  const c = await core('native')
  const crc = (d: Uint8Array) => c.crc32(d)
  writeFileSync(
    join(dir, 'journal.wal'),
    Buffer.concat([encodeJournalEntry(crc, 'ghost', 0, 0, Buffer.from('gone')), encodeJournalEntry(crc, 'p', 0, 0, Buffer.from('pruned'))]),
  )
  const again = await Log.open(dir)
  try {
    const skipped = again.recovered.filter((e) => e.action === 'skipped')
    t.deepEqual(skipped.map((e) => e.stream), ['ghost', 'p'])
    t.regex(skipped[0].reason, /no longer exists/)
    t.regex(skipped[1].reason, /below the pruned stream's first segment/)
    t.false(readdirSync(dir).includes('ghost'))
    t.false(readdirSync(join(dir, 'p')).includes('segment_000000.log'))
    t.true((await again.verify()).ok)
  } finally {
    await again.close()
  }
  t.is(statSync(join(dir, 'journal.wal')).size, 0)
})

for (const backend of BACKENDS) {
  test.serial(`${backend}: a checkpoint whose segment fdatasync fails breaks the journal: later appends are ERR_IO naming it, close reports it, the journal is kept, the reopen restores every acknowledged record`, async (t) => {
    if (process.platform !== 'linux') return t.pass('the injection tells files apart by /proc/self/fd')
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, journal: true })
    const probe = await fs.promises.open(join(dir, 'chainlog.json'), 'r')
    const handleProto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
    await probe.close()
    const realDatasync = handleProto.datasync
    const mib = Buffer.alloc(1024 * 1024, 7)
    const acknowledged: number[] = []
    let injected = 0
    let failure: unknown
    let closeError: unknown = null
    try {
      for (let i = 0; i < 15; i++) acknowledged.push((await log.append('a', mib)).firstOffset)
      t.is(journalOf(log).checkpoints, 0)
      // From here the first fdatasync of a segment file fails: the checkpoint's, once the journal passes 16 MiB.
      handleProto.datasync = async function (this: { fd: number }) {
        if (injected === 0 && fs.readlinkSync(`/proc/self/fd/${this.fd}`).endsWith('.log')) {
          injected++
          throw Object.assign(new Error('EIO: injected (segment fdatasync)'), { code: 'EIO' })
        }
        return realDatasync.call(this)
      }
      for (let i = 0; i < 10 && failure === undefined; i++) {
        try {
          acknowledged.push((await log.append('a', mib)).firstOffset)
        } catch (err) {
          failure = err
        }
      }
    } finally {
      handleProto.datasync = realDatasync
      await log.close().catch((e: unknown) => (closeError = e))
    }
    t.is(injected, 1)
    t.is((failure as ChainlogError)?.code, 'ERR_IO')
    t.regex((failure as ChainlogError).message, /checkpoint .* failed; reopen the log/)
    t.is(journalOf(log).checkpoints, 0)
    t.true(acknowledged.length >= 16, 'the appends before the failed checkpoint were acknowledged')
    t.is((closeError as ChainlogError | null)?.code, 'ERR_IO', 'close reports the broken journal')
    t.true(statSync(join(dir, 'journal.wal')).size >= 16 * 1024 * 1024, 'the journal was kept, not emptied')
    const reopened = await Log.open(dir, { backend, journal: true })
    try {
      const records = await reopened.read('a')
      t.deepEqual(records.map((r) => r.offset), acknowledged)
      t.true(records.every((r) => r.payload.equals(mib)))
      t.true((await reopened.verify()).ok)
      await reopened.append('a', 'after')
    } finally {
      await reopened.close()
    }
    t.is(statSync(join(dir, 'journal.wal')).size, 0)
  })
}
