/**
 * What the engine costs in W1 (docs/perf-notes.md, "W1 native against its floor"): one subject's
 * W1 (1M × 256 B in batches of 1000, sync never, after a 100k warm-up) in this process, printing
 * wall and process CPU (all threads) per record as one JSON line. Subjects: native, floor, and
 * floor-wb (the floor with the engine's write-behind: an async fdatasync every 16 MiB).
 * Run them interleaved, several times, and compare medians:
 *
 *   for i in 1 2 3 4 5; do for s in native floor floor-wb; do node --import=tsx bench/w1-engine.ts $s; done; done
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { binaryPayloads } from './data.ts'
import { openSubject } from './subjects.ts'

const WRITE_BEHIND_BYTES = 16 * 1024 * 1024 // ts/engine/write-behind.ts
const subject = process.argv[2] ?? 'native'
if (subject !== 'native' && subject !== 'floor' && subject !== 'floor-wb') throw new Error(`unknown subject ${subject}; known: native, floor, floor-wb`)
const batch = binaryPayloads(1000, 256)
let result = {}
for (const records of [100_000, 1_000_000]) {
  const dir = mkdtempSync(join(tmpdir(), 'chainlog-w1-engine-'))
  const s = await openSubject(subject === 'native' ? 'native' : 'floor', dir, {
    sync: 'never', writeBehindBytes: subject === 'floor-wb' ? WRITE_BEHIND_BYTES : undefined,
  })
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < records; i += batch.length) await s.append(batch)
  const wallNs = Number(process.hrtime.bigint() - t0) / records
  const cpu = process.cpuUsage(cpu0)
  await s.close()
  rmSync(dir, { recursive: true, force: true })
  result = { subject, wallNsPerRecord: Math.round(wallNs), cpuNsPerRecord: Math.round(((cpu.user + cpu.system) * 1000) / records), recordsPerSec: Math.round(1e9 / wallNs) }
}
console.log(JSON.stringify(result))
