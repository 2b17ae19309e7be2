/**
 * Redaction reaching the archive (SPEC §9, §10; issue 15), against the real S3 server of the
 * archive tests (versitygw on 127.0.0.1): a record redacted in a sealed segment and one in the
 * active segment leave the bucket too (no file of the server's data directory holds their
 * payloads), the archive restores byte-identical to the redacted store and verifies, the remote
 * reader says `redacted: true`; a process killed between uploading the new generation and
 * deleting the old objects leaves an archive that restores and verifies, and the next pass
 * deletes the old objects; tampering with the new layout is still caught.
 */
import type { ExecutionContext } from 'ava'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Archiver, ArchiveReader, Log, restore } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir } from './helpers/log-dir.ts'
import { runAndKill } from './helpers/run-and-kill.ts'
import { s3Suite } from './helpers/versitygw.ts'

const s3 = s3Suite('chainlog-redaction')
const { skipNote } = s3
/** Ten 73-byte records to a segment (the marker records are longer). */
const SEGMENT = { maxSegmentBytes: 730, checkpointEvery: false } as const
const WRITER = fileURLToPath(new URL('./helpers/archive-redact-writer.ts', import.meta.url))

/** A payload no other byte string in the test holds: random hex, so compression cannot hide it. */
const marker = (what: string) => `SECRET-${what}-${randomBytes(16).toString('hex')}`

/** Paths of the files under `dir` (recursively) that hold `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    const path = join(e.parentPath, e.name)
    if (readFileSync(path).includes(needle)) out.push(path)
  }
  return out
}

/** Segment files of a store's stream, by name. */
function segmentFiles(dir: string, stream: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const f of readdirSync(join(dir, stream))) if (/^segment_\d+\.log$/.test(f)) out.set(f, readFileSync(join(dir, stream, f)))
  return out
}

/** Object keys under an archive's prefix in the server's data directory. */
function archivedKeys(url: string): string[] {
  const root = join(s3.gw.dataDir, s3.bucket, url.slice(`s3://${s3.bucket}/`.length))
  return readdirSync(root, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1)).sort()
}

/** Restores `url`, checks its segment files equal the local store's and that it opens and verifies; and that the archive verifies. */
async function checkRestore(t: ExecutionContext, backend: BackendName, url: string, localDir: string, stream: string): Promise<void> {
  const out = join(tempDir(t, 'restored'), 'store')
  await restore(url, out, { client: s3.gw.client, backend })
  t.deepEqual(segmentFiles(out, stream), segmentFiles(localDir, stream), 'restored segment files are byte-identical to the local (redacted) ones')
  const restored = await Log.open(out, { backend, readOnly: true })
  try {
    const report = await restored.verify()
    t.true(report.ok, JSON.stringify(report.streams.map((s) => s.problems)))
  } finally {
    await restored.close()
  }
  const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
  try {
    const report = await reader.verify()
    t.true(report.ok, JSON.stringify(report.streams.map((s) => s.problems)))
  } finally {
    reader.close()
  }
}

for (const backend of BACKENDS) {
  s3.test(`${backend}: redacting a record in a sealed segment and one in the active segment: the archive re-uploads them under new generations, no server file holds the payloads, restore is byte-identical and verifies, the remote reader says redacted${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const url = s3.prefixUrl('redact')
    const log = await openLog(t, backend, dir, SEGMENT)
    const sealedSecret = marker('sealed')
    const activeSecret = marker('active')
    // Segment 0 (sealed) holds offset 3; segment 1 stays the active one through the redactions below.
    for (let i = 0; i < 12; i++) await log.append('s', i === 3 ? sealedSecret : `e-${String(i).padStart(5, '0')}`)
    const { firstOffset: activeOffset } = await log.append('s', activeSecret)
    await log.append('s', 'after-the-active-secret')
    const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 60_000 })
    t.teardown(() => archiver.stop())
    await archiver.sync()
    // The search works: both payloads are in the bucket before the redaction.
    t.true(filesHolding(s3.gw.dataDir, sealedSecret).length > 0, 'the sealed secret was archived')
    t.true(filesHolding(s3.gw.dataDir, activeSecret).length > 0, 'the active secret was archived')
    const reader0 = await ArchiveReader.open(url, { client: s3.gw.client, backend })
    t.teardown(() => reader0.close())
    const before = await reader0.head('s')
    t.true(before.sealedSegments >= 1 && before.tail !== null, 'the archive holds sealed segments and a tail')

    await log.redact('s', 3, { reason: 'request 1' })
    await log.redact('s', activeOffset, { reason: 'request 2' })
    await log.append('s', 'after-the-redactions')
    await archiver.sync()

    t.deepEqual(filesHolding(s3.gw.dataDir, sealedSecret), [], 'no file of the server holds the sealed record\'s payload')
    t.deepEqual(filesHolding(s3.gw.dataDir, activeSecret), [], 'no file of the server holds the active record\'s payload')
    const keys = archivedKeys(url)
    t.false(keys.includes('s/seg/0.log'), 'the original object of the rewritten segment is deleted')
    t.true(keys.some((k) => /^s\/seg\/0\.g\d+-[0-9a-f]{8}\.log$/.test(k)), `segment 0 under a new generation: ${keys.join(' ')}`)
    t.false(keys.some((k) => k.startsWith(`s/tail/${before.tail!.num}/`)), 'the tail chunks of the old generation are deleted')
    const after = await reader0.head('s')
    t.is(after.tail?.num, before.tail!.num, 'the active segment is still the one the second secret was in: its tail was re-shipped')
    t.regex(after.tail?.gen ?? '', /^g\d+-[0-9a-f]{8}$/, 'under a new generation')
    await checkRestore(t, backend, url, dir, 's')
    const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
    t.teardown(() => reader.close())
    const sealedRecord = await reader.get('s', 3)
    t.true(sealedRecord?.redacted, 'get() of the sealed record says redacted')
    t.is(sealedRecord?.payload.length, 0)
    const seen = new Map<number, boolean>()
    for await (const r of reader.iterate('s')) seen.set(r.offset, r.redacted === true)
    t.true(seen.get(3) && seen.get(activeOffset), 'iterate() says redacted for both')
    t.is([...seen.values()].filter(Boolean).length, 2, 'no other record is marked redacted')
    // Local and remote agree record by record (payloads, hashes; the tombstones included).
    const local = (await log.read('s')).map((r) => [r.offset, r.payload.toString('hex'), r.hash.toString('hex')])
    const remote: unknown[] = []
    for await (const r of reader.iterate('s')) remote.push([r.offset, r.payload.toString('hex'), r.hash.toString('hex')])
    t.deepEqual(remote, local)
  })
}

for (const backend of BACKENDS) {
  for (const step of ['generation-uploaded', 'head-written'] as const) {
    s3.test(`${backend}: an archiving process killed after "${step}" of a redaction leaves an archive that restores and verifies; the next pass deletes the old objects${skipNote}`, async (t) => {
      const dir = tempDir(t)
      const url = s3.prefixUrl('crash')
      const secret = marker('crash')
      let log = await Log.open(dir, { backend, ...SEGMENT })
      for (let i = 0; i < 25; i++) await log.append('s', i === 4 ? secret : `e-${String(i).padStart(5, '0')}`)
      await log.close()
      // The child archives, redacts offset 4 (segment 0, sealed) and dies inside the archiver's
      // redaction pass. A real kill -9 from outside cannot be timed into that window reliably,
      // so the child SIGKILLs itself there (CHAINLOG_TEST_ARCHIVE_KILL_AT).
      const { lines, killed } = await runAndKill({
        script: WRITER, args: [dir, backend, url, JSON.stringify(s3.gw.client), 's', '4'], armed: () => false, killMs: 0,
        env: { CHAINLOG_TEST_ARCHIVE_KILL_AT: step }, mayExit: true,
      })
      t.true(killed, 'the child died at the kill point')
      t.deepEqual(lines, [{ redacted: 4 }], 'it redacted locally and did not finish shipping')
      const keysAfterCrash = archivedKeys(url)
      const generations = keysAfterCrash.filter((k) => /^s\/seg\/0\.g\d+-[0-9a-f]{8}\.log$/.test(k))
      t.is(generations.length, 1, `the new generation was uploaded: ${keysAfterCrash.join(' ')}`)
      t.true(keysAfterCrash.includes('s/seg/0.log'), 'the old object is still there (the kill came before the delete)')
      // Consistent as the crash left it: HEAD names complete objects (the old ones before "head-written", the new ones after).
      log = await openLog(t, backend, dir, SEGMENT)
      if (step === 'head-written') await checkRestore(t, backend, url, dir, 's')
      else {
        const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
        const report = await reader.verify()
        reader.close()
        t.true(report.ok, JSON.stringify(report.streams.map((s) => s.problems)))
      }
      // Restart: the next pass finishes the job; the old objects (and any leftover generation) go.
      const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 60_000 })
      t.teardown(() => archiver.stop())
      await archiver.sync()
      const keys = archivedKeys(url)
      t.false(keys.includes('s/seg/0.log'), `the old object is gone after the next pass: ${keys.join(' ')}`)
      t.is(keys.filter((k) => /^s\/seg\/0\./.test(k) && k.endsWith('.log')).length, 1, `one generation of segment 0 left: ${keys.join(' ')}`)
      t.deepEqual(filesHolding(s3.gw.dataDir, secret), [], 'no file of the server holds the payload')
      await checkRestore(t, backend, url, dir, 's')
    })
  }
}

for (const backend of BACKENDS) {
  s3.test(`${backend}: tampering with a redacted archive is still caught: a flipped byte in the new generation, the generation deleted, or a HEAD naming a generation that is not there${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const url = s3.prefixUrl('tamper')
    const log = await openLog(t, backend, dir, SEGMENT)
    for (let i = 0; i < 12; i++) await log.append('s', i === 3 ? marker('tamper') : `e-${String(i).padStart(5, '0')}`)
    const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 60_000 })
    t.teardown(() => archiver.stop())
    await archiver.sync()
    await log.redact('s', 3)
    await archiver.sync()
    await archiver.stop()
    const root = join(s3.gw.dataDir, s3.bucket, url.slice(`s3://${s3.bucket}/`.length))
    const generation = archivedKeys(url).find((k) => /^s\/seg\/0\.g\d+-[0-9a-f]{8}\.log$/.test(k))!
    const path = join(root, generation)
    const original = readFileSync(path)
    const problems = async () => {
      const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
      try {
        return (await reader.verify()).streams[0].problems
      } finally {
        reader.close()
      }
    }
    t.deepEqual(await problems(), [], 'the redacted archive verifies')

    const flipped = Buffer.from(original)
    flipped[200] ^= 0x01
    writeFileSync(path, flipped)
    const flippedProblems = await problems()
    t.is(flippedProblems.length, 1, JSON.stringify(flippedProblems))
    t.is(flippedProblems[0].code, 'ERR_CORRUPT')
    t.true((flippedProblems[0].offset ?? Infinity) <= 10, `the problem names an offset in segment 0: ${flippedProblems[0].offset}`)
    t.is(codeOf(await t.throwsAsync(restore(url, join(tempDir(t, 'restored'), 'x'), { client: s3.gw.client, backend }))), 'ERR_CORRUPT')

    rmSync(path)
    const missing = await problems()
    t.is(missing[0]?.code, 'ERR_CORRUPT')
    t.regex(missing[0]?.message ?? '', /sealed segment 0, listed by HEAD, is missing/)
    writeFileSync(path, original)
    t.deepEqual(await problems(), [], 'put back, it verifies again')

    // A HEAD whose generation field is not one the format allows is ERR_CORRUPT, never a crash.
    const headPath = join(root, 's', 'HEAD.json')
    const head = JSON.parse(readFileSync(headPath, 'utf8'))
    writeFileSync(headPath, JSON.stringify({ ...head, generations: { 0: '../../etc/passwd' } }))
    const bad = await problems()
    t.is(bad[0]?.code, 'ERR_CORRUPT')
    t.regex(bad[0]?.message ?? '', /generations/)
  })
}

for (const backend of BACKENDS) {
  s3.test(`${backend}: redactions while the archiver ships every 10 ms and appends go on: no conflict, no payload left in the bucket, restore byte-identical${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const url = s3.prefixUrl('race')
    const log = await openLog(t, backend, dir, SEGMENT)
    const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 10 })
    t.teardown(() => archiver.stop())
    const secrets: string[] = []
    const later: number[] = []
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 5; i++) await log.append('s', `r${round}-${i}`)
      const now = marker(`now${round}`)
      const old = marker(`old${round}`)
      const { firstOffset } = await log.append('s', now)
      later.push((await log.append('s', old)).firstOffset)
      secrets.push(now, old)
      await new Promise((r) => setTimeout(r, 15)) // let a pass ship them
      // This round's first secret (in the active segment), and the second one of two rounds ago (sealed by now).
      await log.redact('s', firstOffset)
      if (round >= 2) await log.redact('s', later[round - 2])
      await log.append('s', `r${round}-after`)
    }
    for (const offset of later.slice(-2)) await log.redact('s', offset)
    await archiver.sync()
    const status = await archiver.status()
    t.is(status.stoppedBy, null)
    t.is(status.streams[0].lagRecords, 0)
    for (const secret of secrets) t.deepEqual(filesHolding(s3.gw.dataDir, secret), [], `no server file holds ${secret.slice(0, 20)}…`)
    await checkRestore(t, backend, url, dir, 's')
  })
}
