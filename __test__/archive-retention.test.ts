/**
 * Retention with an archive (SPEC §9, issue 15 "Local retention with the archive"), against the
 * real S3 server of the archive tests (versitygw on 127.0.0.1): `retention: { requireArchived }`
 * drops local segments only once the archive's HEAD lists them sealed; the archiver goes on over a
 * pruned local store (resuming after a reopen) and refuses one pruned before it shipped; a restore
 * of an archive whose source was pruned after shipping gives the full history.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Archiver, ArchiveReader, restore } from '../ts/index.ts'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir } from './helpers/log-dir.ts'
import { s3Suite } from './helpers/versitygw.ts'

const s3 = s3Suite('chainlog-retention')
const { test: s3test, skipNote, prefixUrl: prefixFor } = s3
const prefixUrl = () => prefixFor('r')
const segmentNumbers = (dir: string, stream: string) => readdirSync(join(dir, stream)).filter((f) => /^segment_\d+\.log$/.test(f)).map((f) => Number(f.slice(8, 14))).sort((a, b) => a - b)
const ev = (i: number) => `e-${String(i).padStart(5, '0')}`
/** Ten 73-byte records to a segment. */
const SEGMENT = { maxSegmentBytes: 730, checkpointEvery: false } as const

for (const backend of BACKENDS) {
  s3test(`${backend}: requireArchived prunes only what the archive's HEAD lists sealed; the archiver resumes over the pruned store; restore gives the full history${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const url = prefixUrl()
    let log = await openLog(t, backend, dir, { ...SEGMENT, retention: { maxBytes: 2000, requireArchived: true } })
    for (let i = 0; i < 60; i++) await log.append('s', ev(i))
    t.deepEqual(segmentNumbers(dir, 's'), [0, 1, 2, 3, 4, 5], 'no archive yet: nothing may go')
    // The archiver ships every sealed segment; the log learns it from the HEAD it wrote.
    const archiver = await Archiver.start(log, { url, client: s3.gw.client, interval: 1_000_000 })
    await archiver.sync()
    const reader = await ArchiveReader.open(url, { client: s3.gw.client, backend })
    const head = await reader.head('s')
    reader.close()
    t.is(head?.sealedSegments, 5, 'segments 0..4 sealed; 5 is active (full, it rotates at the next append)')
    for (let i = 60; i < 75; i++) await log.append('s', ev(i))
    await archiver.stop()
    await log.close() // waits for the retention runs
    const kept = segmentNumbers(dir, 's')
    t.true(kept[0] > 0, `segments kept: ${kept.join(',')}`)
    t.true(kept[0] <= 6, 'never a segment the archive does not hold (0..4, and 5 once sealed and shipped by stop())')
    const firstKept = kept[0] * 10

    // Reopened without retention: the archiver resumes (HEAD is on the local chain), ships the rest.
    log = await openLog(t, backend, dir, { ...SEGMENT })
    t.is((await log.head('s')).firstOffset, firstKept)
    for (let i = 75; i < 90; i++) await log.append('s', ev(i))
    const again = await Archiver.start(log, { url, client: s3.gw.client, interval: 1_000_000 })
    await again.sync()
    const status = await again.status()
    t.is(status.streams[0].lastError ?? null, null)
    t.is(status.streams[0].shippedOffset, status.streams[0].localOffset)
    await again.stop()
    const records = (await log.read('s')).map((r) => r.payload.toString())
    t.deepEqual(records, Array.from({ length: 90 - firstKept }, (_, i) => ev(firstKept + i)))
    await log.close()

    // The archive still holds everything from offset 0.
    const out = join(tempDir(t, 'restored'), 'store')
    await restore(url, out, { client: s3.gw.client, backend })
    const back = await openLog(t, backend, out)
    t.is((await back.head('s')).firstOffset, 0)
    const all = (await back.read('s')).map((r) => r.payload.toString())
    t.deepEqual(all.slice(0, 90), Array.from({ length: 90 }, (_, i) => ev(i)))
    t.true((await back.verify()).ok)
  })

  s3test(`${backend}: an archiver started on a store pruned before it shipped refuses with ERR_UNSUPPORTED (the pruned records are in neither)${skipNote}`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { ...SEGMENT })
    for (let i = 0; i < 40; i++) await log.append('s', ev(i))
    await log.prune('s', { before: 20 })
    const archiver = await Archiver.start(log, { url: prefixUrl(), client: s3.gw.client, interval: 1_000_000 })
    t.teardown(() => archiver.stop())
    const err = await archiver.sync().catch((e) => e)
    t.is(codeOf(err), 'ERR_UNSUPPORTED')
    t.regex(String(err.message), /pruned locally before they were archived/)
  })
}
