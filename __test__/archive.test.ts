import test from 'ava'
import { readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Archiver, ArchiveReader, Log, restore } from '../ts/index.ts'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir } from './helpers/log-dir.ts'
import { Versitygw, versitygwUnavailable } from './helpers/versitygw.ts'

// The archive against a real S3 server (versitygw over a temp directory, started here on
// 127.0.0.1 and stopped after). Each test archives to its own prefix of one bucket.

const why = versitygwUnavailable()
const s3test = why === null ? test.serial : test.skip
const skipNote = why === null ? '' : ` [SKIPPED: ${why}]`
const BUCKET = 'chainlog-archive'
let gw: Versitygw

test.before(async () => {
  if (why !== null) return
  gw = await Versitygw.start()
  gw.bucket(BUCKET)
})
test.after.always(async () => {
  await gw?.stop()
})

const prefixUrl = () => `s3://${BUCKET}/t-${randomBytes(6).toString('hex')}`

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
    const archiver = await Archiver.start(log, { url, client: gw.client, interval: 20 })
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
    const report = await restore(url, out, { client: gw.client, backend })
    t.deepEqual(report.streams.map((s) => s.stream), ['audit', 'orders'])
    const dst = segmentFiles(out)
    t.deepEqual([...dst.keys()].sort(), [...src.keys()].sort())
    for (const [k, v] of src) t.true(v.equals(dst.get(k)!), `${k} byte-identical`)
    const back = await openLog(t, backend, out)
    t.true((await back.verify()).ok)
    t.is((await back.read('orders')).length, records)
  })
}
