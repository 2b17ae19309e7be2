/**
 * The archiver's cost on the append path (issue 15): W1 (256 B events, batches of 1000, sync
 * never) and W3 (256 concurrent producers of single 256 B events, sync always) on the native
 * core, each run without and with an Archiver shipping to a local versitygw (interval 1 s),
 * interleaved run by run so machine drift hits both alike; medians of --runs runs, the ratio
 * from this one invocation. Also the shipping throughput: a store shipped by one sync() (MB/s to
 * the local server, files on this machine's disk: an upper bound for a remote server).
 *
 *   npm run bench:archive [-- --runs 5] [--quick] [--w1 N (2,000,000)] [--w3 N (1,000,000)] [--server-dir /dev/shm] [--server-nice N] [--priority low|normal] [--only w1|w3]
 *
 * --only w1 (or w3) runs that workload alone, without and with the archiver, and no shipping
 * run: for a CPU profile of the appends' thread that holds nothing else.
 *
 * The archiver's own work (reads, SHA-256, HTTP) shares the CPU with the appends: on a 2-core
 * machine loaded by other work this is the figure that matters, and the one most disturbed. So
 * each run's CPU seconds are reported too, this process's (appends, plus the archiver when on)
 * and the server's, to tell the archiver's cost from versitygw's. For where this process's time
 * goes, run it under `node --cpu-prof` and summarize with bench/cpu-profile-summary.mjs.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Archiver, Log } from '../ts/index.ts'
import { Versitygw } from '../__test__/helpers/versitygw-server.ts'
import { binaryPayloads } from './data.ts'
import { fmt, summarize } from './stats.ts'

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean' }, runs: { type: 'string' }, w1: { type: 'string' }, w3: { type: 'string' }, 'server-dir': { type: 'string' }, 'server-nice': { type: 'string' }, only: { type: 'string' }, priority: { type: 'string' } },
})
const quick = args.quick ?? false
const runs = Number(args.runs ?? 5)
// Full sizes last several archiver intervals (1 s) on a quiet host (W1 ~1.5 s, W3 ~5 s): a run
// shorter than one interval measures an archiver that has not shipped yet.
const W1_RECORDS = Number(args.w1 ?? (quick ? 100_000 : 2_000_000))
const W3_RECORDS = Number(args.w3 ?? (quick ? 20_000 : 1_000_000))
const W3_PRODUCERS = 256
const only = args.only
if (only !== undefined && only !== 'w1' && only !== 'w3') throw new Error(`--only: expected w1 or w3, got ${only}`)
const BUCKET = 'chainlog-bench'
// --priority low (the default here) starts the archiver with lowPriority: true, the shipping
// thread 10 nice steps below the process; --priority normal with the library's default.
if (args.priority !== undefined && args.priority !== 'low' && args.priority !== 'normal') throw new Error(`--priority: expected low or normal, got ${args.priority}`)
const lowPriority = (args.priority ?? 'low') === 'low'

// --server-dir /dev/shm keeps the server's object files off the disk the appends fsync to: a
// remote server does not compete for the local disk, and on one machine it otherwise would.
const gw = await Versitygw.start(args['server-dir'])
gw.bucket(BUCKET)
// The server niced (default 10) stands for one on another machine: it takes CPU the appends leave
// idle rather than sharing it with them. --server-nice 0 runs it at the appends' priority.
const serverNice = Number(args['server-nice'] ?? 10)
gw.nice(serverNice)
let prefixes = 0

/**
 * Of the last withStore run: CPU seconds of this process (appends, and the archiver when on) and
 * of the server; and with the archiver, the share of the run's records that the archive held
 * when the appends ended (how much shipping the timed window actually contained).
 */
const lastCpu = { node: 0, server: 0, shipped: 0 }
const cpuKeys = ['W1 without', 'W1 with archiver', 'W3 without', 'W3 with archiver'] as const
const cpu: Record<string, { node: number[]; server: number[]; shipped: number[] }> = Object.fromEntries(cpuKeys.map((k) => [k, { node: [], server: [], shipped: [] }]))

async function withStore<T>(sync: 'always' | 'never', archive: boolean, fn: (log: Log) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'chainlog-bench-archive-'))
  const log = await Log.open(dir, { backend: 'native', sync })
  const prefix = `run-${prefixes++}`
  const archiver = archive ? await Archiver.start(log, { url: `s3://${BUCKET}/${prefix}`, client: gw.client, interval: 1000, lowPriority }) : null
  const node0 = process.cpuUsage()
  const server0 = gw.cpuSeconds() ?? 0
  try {
    return await fn(log)
  } finally {
    const used = process.cpuUsage(node0)
    lastCpu.node = (used.user + used.system) / 1e6
    lastCpu.server = (gw.cpuSeconds() ?? 0) - server0
    const stream = archiver === null ? undefined : (await archiver.status()).streams[0]
    lastCpu.shipped = stream === undefined ? 0 : stream.shippedOffset / stream.localOffset
    await archiver?.stop()
    await log.close()
    rmSync(dir, { recursive: true, force: true })
    settle(prefix)
  }
}

/**
 * Leaves nothing of a run to the next: its objects removed from the server's directory and every
 * dirty page written back, so one run's writeback (the server's files above all) does not land
 * in the next run's timed window, which is the other variant's every second run.
 */
function settle(prefix: string): void {
  rmSync(join(gw.dataDir, BUCKET, prefix), { recursive: true, force: true })
  execFileSync('sync')
}

async function w1(archive: boolean): Promise<number> {
  return withStore('never', archive, async (log) => {
    const batch = binaryPayloads(1000, 256)
    const t0 = process.hrtime.bigint()
    for (let done = 0; done < W1_RECORDS; done += batch.length) await log.append('w1', batch)
    return W1_RECORDS / (Number(process.hrtime.bigint() - t0) / 1e9)
  })
}

async function w3(archive: boolean): Promise<number> {
  return withStore('always', archive, async (log) => {
    const [event] = binaryPayloads(1, 256)
    let issued = 0
    const producer = async () => {
      while (issued++ < W3_RECORDS) await log.append('w3', [event])
    }
    const t0 = process.hrtime.bigint()
    await Promise.all(Array.from({ length: W3_PRODUCERS }, producer))
    return W3_RECORDS / (Number(process.hrtime.bigint() - t0) / 1e9)
  })
}

/** MB/s of one sync() shipping a store of W1_RECORDS 256 B events (several sealed segments and a tail). */
async function shipping(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'chainlog-bench-ship-'))
  const log = await Log.open(dir, { backend: 'native', sync: 'never', maxSegmentBytes: 32 * 1024 * 1024 })
  try {
    const batch = binaryPayloads(1000, 256)
    for (let done = 0; done < W1_RECORDS; done += batch.length) await log.append('s', batch)
    await log.flush()
    const archiver = await Archiver.start(log, { url: `s3://${BUCKET}/ship-${prefixes++}`, client: gw.client, interval: 86_400_000 })
    const t0 = process.hrtime.bigint()
    await archiver.sync()
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    const st = await archiver.status()
    await archiver.stop()
    if (st.streams[0].lagRecords !== 0) throw new Error('shipping left a lag')
    const shipped = (W1_RECORDS * (256 + 66)) / 1e6
    return shipped / secs
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const results: Record<string, number[]> = { 'W1 without': [], 'W1 with archiver': [], 'W3 without': [], 'W3 with archiver': [], 'shipping MB/s': [] }
try {
  if (only !== 'w3') await w1(false) // warm-up
  if (only !== 'w1') await w3(false)
  for (let r = 0; r < runs; r++) {
    for (const [key, run] of [['W1 without', () => w1(false)], ['W1 with archiver', () => w1(true)], ['W3 without', () => w3(false)], ['W3 with archiver', () => w3(true)]] as const) {
      if (only !== undefined && !key.toLowerCase().startsWith(only)) continue
      results[key].push(await run())
      cpu[key].node.push(lastCpu.node)
      cpu[key].server.push(lastCpu.server)
      cpu[key].shipped.push(lastCpu.shipped)
    }
    if (only === undefined) results['shipping MB/s'].push(await shipping())
    const ratio = (k: string) => (results[`${k} with archiver`][r] / results[`${k} without`][r]).toFixed(3)
    process.stderr.write(`run ${r + 1}/${runs} done: W1 with/without ${ratio('W1')}, W3 ${ratio('W3')}, load average ${loadavg()[0].toFixed(2)}\n`)
  }
} finally {
  await gw.stop()
}
const med = (k: string) => summarize(results[k]).median
console.log(`| figure | median | min | max | runs |\n|---|---|---|---|---|`)
for (const [k, v] of Object.entries(results)) {
  if (v.length === 0) continue // left out by --only
  const s = summarize(v)
  const unit = k.startsWith('shipping') ? '' : ' records/s'
  console.log(`| ${k} | ${fmt(s.median)}${unit} | ${fmt(s.min)} | ${fmt(s.max)} | ${s.runs} |`)
}
console.log(`\n| per run (median) | CPU s, this process | CPU s, versitygw | archived when the appends ended |\n|---|---|---|---|`)
for (const k of cpuKeys) {
  if (cpu[k].node.length === 0) continue
  const shipped = k.endsWith('with archiver') ? `${(summarize(cpu[k].shipped).median * 100).toFixed(0)}% of the run's records` : '–'
  console.log(`| ${k} | ${summarize(cpu[k].node).median.toFixed(2)} | ${summarize(cpu[k].server).median.toFixed(2)} | ${shipped} |`)
}
console.log(`\nW1 with/without: ${(med('W1 with archiver') / med('W1 without')).toFixed(3)}; W3 with/without: ${(med('W3 with archiver') / med('W3 without')).toFixed(3)} (target ≥ 0.95)`)
console.log(`sizes: W1 ${W1_RECORDS} records, W3 ${W3_RECORDS} records, shipping ${((W1_RECORDS * 322) / 1e6).toFixed(0)} MB; server data in ${gw.dataDir}, niced ${serverNice}; shipping thread priority ${lowPriority ? 'low' : 'normal (the default)'}; machine shared with other engineers' builds and tests`)
