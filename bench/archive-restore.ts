/**
 * Restore and remote verify of one large segment (issue 15, streamed restore): an archive whose
 * stream holds a sealed segment of ~40 MiB (maxSegmentBytes 48 MiB, 1 MiB incompressible events)
 * and a ~10 MiB tail, restored and verified from a local versitygw, each in a child process
 * (__test__/helpers/archive-memory-child.ts) that reports its peak `arrayBuffers` (Buffers live
 * outside the V8 heap) and rss, and the run's MB/s. Medians of --runs runs per core.
 *
 *   node --import=tsx bench/archive-restore.ts [--runs 3] [--backend native|js|both] [--server-dir /dev/shm]
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Archiver, Log } from '../ts/index.ts'
import { Versitygw } from '../__test__/helpers/versitygw-server.ts'
import { summarize } from './stats.ts'

const { values: args } = parseArgs({ options: { runs: { type: 'string' }, backend: { type: 'string' }, 'server-dir': { type: 'string' } } })
const runs = Number(args.runs ?? 3)
const backends = args.backend === undefined || args.backend === 'both' ? ['native', 'js'] : [args.backend]
const BUCKET = 'chainlog-bench'
const MiB = 1024 * 1024
const run = promisify(execFile)
const CHILD = join(import.meta.dirname, '..', '__test__', 'helpers', 'archive-memory-child.ts')

const gw = await Versitygw.start(args['server-dir'])
gw.bucket(BUCKET)
const url = `s3://${BUCKET}/restore`
const work = mkdtempSync(join(tmpdir(), 'chainlog-bench-restore-'))
try {
  const log = await Log.open(join(work, 'src'), { backend: 'native', maxSegmentBytes: 48 * MiB, checkpointEvery: false })
  for (let i = 0; i < 40; i++) await log.append('big', randomBytes(MiB))
  // A 10 MiB append does not fit in what segment 0 has left: it seals segment 0 (~40 MiB) and starts segment 1, the tail.
  await log.append('big', Array.from({ length: 10 }, () => randomBytes(MiB)))
  const archiver = await Archiver.start(log, { url, client: gw.client, interval: 86_400_000 })
  await archiver.sync()
  await archiver.stop()
  await log.close()
  console.log('| core | job | MB/s median (min–max) | peak arrayBuffers MiB, raw: median (max) | live (GC before each sample): median (max) | peak rss MiB median | runs |\n|---|---|---|---|---|---|---|')
  for (const backend of backends) {
    for (const job of ['restore', 'verify']) {
      const out: Array<{ bytes: number; ms: number; peak: { arrayBuffers: number; rss: number } }> = []
      const live: number[] = []
      for (let r = 0; r < runs; r++) {
        const dir = join(work, `out-${backend}-${job}-${r}`)
        // Asynchronously: the server's output pipes are drained by this process's event loop (a
        // spawnSync would stop that, and the server blocks once a pipe is full).
        const child = await run(process.execPath, ['--import=tsx', CHILD, JSON.stringify({ job, url, client: gw.client, dir, backend })], { encoding: 'utf8', timeout: 600_000 })
        out.push(JSON.parse(child.stdout.trim().split('\n').pop()!))
        rmSync(dir, { recursive: true, force: true })
        // The same job again with a full GC before each sample: what it keeps reachable (not timed).
        const liveChild = await run(process.execPath, ['--expose-gc', '--import=tsx', CHILD, JSON.stringify({ job, url, client: gw.client, dir, backend, live: true })], { encoding: 'utf8', timeout: 600_000 })
        live.push(JSON.parse(liveChild.stdout.trim().split('\n').pop()!).peak.arrayBuffers / MiB)
        rmSync(dir, { recursive: true, force: true })
      }
      const rate = summarize(out.map((o) => o.bytes / 1e6 / (o.ms / 1000)))
      const ab = summarize(out.map((o) => o.peak.arrayBuffers / MiB))
      const rss = summarize(out.map((o) => o.peak.rss / MiB))
      const kept = summarize(live)
      console.log(`| ${backend} | ${job} | ${rate.median.toFixed(1)} (${rate.min.toFixed(1)}–${rate.max.toFixed(1)}) | ${ab.median.toFixed(1)} (${ab.max.toFixed(1)}) | ${kept.median.toFixed(1)} (${kept.max.toFixed(1)}) | ${rss.median.toFixed(0)} | ${runs} |`)
    }
  }
  console.log(`\n${((50 * (MiB + 66)) / MiB).toFixed(0)} MiB archived (one sealed segment and a tail); machine shared with other engineers' builds and tests`)
} finally {
  await gw.stop()
  rmSync(work, { recursive: true, force: true })
}

