/**
 * Single PUT against multipart upload of one sealed-segment-sized object (issue 15, multipart):
 * ObjectStore.putStream() of a --mib MiB file of random bytes, streamed 1 MiB at a time as the
 * archiver streams a segment, to a local versitygw, alternately in one PUT and as a multipart
 * upload in --part-mib MiB parts. Reports MB/s and the peak of the process's `arrayBuffers`
 * (Buffers: what the upload holds) per mode, medians of --runs runs, and the multipart/single
 * ratio of the medians (same run). What the threshold in ts/archive/s3.ts (multipartUpload) rests on.
 *
 *   node --import=tsx bench/archive-multipart.ts [--mib 256] [--part-mib 16] [--runs 5] [--server-dir /dev/shm]
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { multipartUpload, ObjectStore } from '../ts/archive/s3.ts'
import { Versitygw } from '../__test__/helpers/versitygw-server.ts'
import { fmt, summarize } from './stats.ts'

const { values: args } = parseArgs({ options: { mib: { type: 'string' }, 'part-mib': { type: 'string' }, runs: { type: 'string' }, 'server-dir': { type: 'string' } } })
const MiB = 1024 * 1024
const size = Number(args.mib ?? 256) * MiB
const partBytes = Number(args['part-mib'] ?? 16) * MiB
const runs = Number(args.runs ?? 5)
const BUCKET = 'chainlog-bench'

const gw = await Versitygw.start(args['server-dir'])
gw.bucket(BUCKET)
const work = mkdtempSync(join(tmpdir(), 'chainlog-bench-multipart-'))
const file = join(work, 'segment')
for (let at = 0; at < size; at += 64 * MiB) writeFileSync(file, randomBytes(Math.min(64 * MiB, size - at)), { flag: at === 0 ? 'w' : 'a' })
const objects = await ObjectStore.open(`s3://${BUCKET}/multipart`, gw.client)

/** One upload: seconds taken and the peak arrayBuffers (sampled every 10 ms) above the level before it. */
async function upload(key: string, multipart: boolean): Promise<{ mbps: number; peakMiB: number }> {
  Object.assign(multipartUpload, multipart ? { aboveBytes: 0, partBytes } : { aboveBytes: Number.MAX_SAFE_INTEGER })
  globalThis.gc?.()
  const base = process.memoryUsage().arrayBuffers
  let peak = base
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers)
  }, 10)
  const started = process.hrtime.bigint()
  try {
    const etag = await objects.putStream(key, () => createReadStream(file, { highWaterMark: MiB }), size, { ifNoneMatch: true })
    if (etag === null) throw new Error(`${key} was refused`)
  } finally {
    clearInterval(sampler)
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  await objects.remove(key)
  return { mbps: size / 1e6 / seconds, peakMiB: (peak - base) / MiB }
}

try {
  const results = { single: [] as Array<{ mbps: number; peakMiB: number }>, multipart: [] as Array<{ mbps: number; peakMiB: number }> }
  await upload('warm-up', false)
  for (let r = 0; r < runs; r++) {
    // Alternated, so a load change on the machine falls on both.
    for (const mode of r % 2 === 0 ? (['single', 'multipart'] as const) : (['multipart', 'single'] as const)) {
      results[mode].push(await upload(`${mode}-${r}`, mode === 'multipart'))
    }
  }
  const rate = { single: summarize(results.single.map((x) => x.mbps)), multipart: summarize(results.multipart.map((x) => x.mbps)) }
  console.log(`${size / MiB} MiB object, ${partBytes / MiB} MiB parts, ${runs} runs each, versitygw on 127.0.0.1 (data in ${args['server-dir'] ?? tmpdir()})`)
  console.log('| mode | MB/s median (min–max) | peak arrayBuffers MiB median (max) |\n|---|---|---|')
  for (const mode of ['single', 'multipart'] as const) {
    const mem = summarize(results[mode].map((x) => x.peakMiB))
    console.log(`| ${mode} | ${fmt(rate[mode].median)} (${fmt(rate[mode].min)}–${fmt(rate[mode].max)}) | ${fmt(mem.median)} (${fmt(mem.max)}) |`)
  }
  console.log(`multipart / single MB/s (medians): ${(rate.multipart.median / rate.single.median).toFixed(2)}`)
} finally {
  objects.close()
  await gw.stop()
  rmSync(work, { recursive: true, force: true })
}
