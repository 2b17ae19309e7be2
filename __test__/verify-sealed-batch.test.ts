/**
 * SPEC §2: a batch never spans segments, so a sealed segment whose last record has bit 7 set
 * ("batch continues") is an invalid frame sequence; verify() reports it at that record's offset.
 * The store is written by hand with the core (hashes and links all right), so that is the only
 * problem.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { BACKENDS, core } from './helpers/cores.ts'
import { openLog, segmentFile, tempDir } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'

const T0 = 1_700_000_000_000

for (const backend of BACKENDS) {
  test(`${backend}: verify reports a sealed segment whose last record has bit 7 set, and only that`, async (t) => {
    const c = await core(backend)
    const dir = tempDir(t, 'sealed-batch')
    await (await Log.open(dir, { backend })).close() // the store file
    const payloads = Buffer.from('r0r1r2r3r4r5')
    // Two appends of three records: records 0, 1, 3, 4 carry bit 7.
    const encoded = c.encodeBatch({
      hash: 'blake3', stream: 's', firstOffset: 0, prevHash: Buffer.alloc(32), kind: 0, codec: 0, level: 0, payloads,
      lengths: Uint32Array.of(2, 2, 2, 2, 2, 2), timestamps: Float64Array.from({ length: 6 }, (_, i) => T0 + i), batchEnds: Uint32Array.of(3, 6),
    })
    const cut = encoded.positions[5] // segment 0 ends after record 4 (bit 7)
    mkdirSync(join(dir, 's'))
    writeFileSync(segmentFile(dir, 's', 0), encoded.bytes.subarray(0, cut))
    writeFileSync(segmentFile(dir, 's', 1), encoded.bytes.subarray(cut))
    const log = await openLog(t, backend, dir, { readOnly: true })
    const report = await log.verify('s')
    t.is(report.streams[0].records, 6)
    t.deepEqual(report.streams[0].problems.map((p) => p.offset), [4], JSON.stringify(report.streams[0].problems))
    t.regex(report.streams[0].problems[0].message, /sealed but its last record \(offset 4\) has bit 7 set/)
  })
}
