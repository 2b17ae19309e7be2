/**
 * Runs ONE measured run of one workload on one subject, after a warm-up, in a process of its own
 * (so peak RSS belongs to that run, and no run inherits another's heap), and prints one JSON line.
 *
 *   node --import=tsx bench/worker.ts --workload W1 --subject native [--codec zstd] [--quick]
 *   (bench/run.ts runs it bundled, as bench/.build/worker.mjs, to skip tsx's start-up)
 *   node --import=tsx bench/worker.ts --workload W5-read --subject js --dir D --prepare
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Log } from '../ts/index.ts'
import { binaryPayloads, jsonPayloads, logEvents } from './data.ts'
import { bytesOnDisk, openSubject, type Codec, type Subject, type SubjectName } from './subjects.ts'
import { percentile } from './stats.ts'
import { appendUntilKilled } from './crash-appender.ts'
import { RANDOM_GETS, W3_PRODUCERS, workload, type Workload } from './workloads.ts'

const { values: args } = parseArgs({
  options: {
    workload: { type: 'string' }, subject: { type: 'string' }, codec: { type: 'string' },
    dir: { type: 'string' }, prepare: { type: 'boolean' }, quick: { type: 'boolean' },
  },
})
const w = workload(args.workload!)
const subject = args.subject as SubjectName
const codec = (args.codec ?? 'none') as Codec | 'zstd-dict'
const quick = args.quick ?? false
const records = quick ? w.quick : w.full

export interface RunResult {
  /** records/s (W1–W5); opens/s is not meaningful, so W6 reports `ms` instead. */
  rate?: number
  mbPerSec?: number
  p50?: number
  p99?: number
  ms?: number
  /** W4: payload bytes / bytes on disk. W4s: payload bytes / stored payload bytes. */
  ratio?: number
  /** W4s: payload bytes / bytes of the records on disk (framing and checkpoints included). */
  diskRatio?: number
  rssMB: number
  note?: string
}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9
const scratch = () => mkdtempSync(join(tmpdir(), `chainlog-bench-${w.id}-${subject}-`))

function payloadsFor(wl: Workload): Buffer[] {
  return wl.size === 4096 ? jsonPayloads(wl.batch, wl.size) : binaryPayloads(wl.batch, wl.size)
}

/** Appends `n` records in batches; returns seconds. */
async function appendAll(s: Subject, wl: Workload, n: number): Promise<number> {
  const batch = payloadsFor(wl)
  const t0 = process.hrtime.bigint()
  for (let done = 0; done < n; done += batch.length) await s.append(done + batch.length <= n ? batch : batch.slice(0, n - done))
  return seconds(t0)
}

async function writeRun(n: number, sync: 'always' | 'never'): Promise<RunResult> {
  const dir = scratch()
  try {
    const s = await openSubject(subject, dir, { sync, compression: codec as Codec })
    const secs = await appendAll(s, w, n)
    await s.close()
    const ratio = w.id === 'W4' ? (n * w.size) / bytesOnDisk(dir) : undefined
    return { rate: n / secs, mbPerSec: (n * w.size) / 1e6 / secs, ratio, rssMB: 0 }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** W4s: the stream's history, which zstd-dict trains on, before the timed records. */
const W4S_HISTORY = quick ? 3_000 : 10_000
const W4S_STREAM = 'events'

/**
 * W4s: appends W4S_HISTORY events (and, for zstd-dict, trains the stream's dictionary on them),
 * a warm-up of a tenth of n, then times n more, every event distinct. The ratio is over the
 * timed records' payloads as stored (read back from the segment files).
 */
async function smallEventsRun(n: number): Promise<RunResult> {
  const dir = scratch()
  try {
    const dict = codec === 'zstd-dict'
    const log = await Log.open(dir, { backend: subject as 'native' | 'js', sync: 'never', compression: dict ? 'zstd' : codec, checkpointEvery: 1000 })
    const warm = Math.floor(n / 10)
    const events = logEvents(W4S_HISTORY + warm + n, w.size)
    const appendRange = async (from: number, to: number) => {
      for (let k = from; k < to; k += w.batch) await log.append(W4S_STREAM, events.slice(k, Math.min(to, k + w.batch)))
    }
    await appendRange(0, W4S_HISTORY)
    if (dict) await log.trainDictionary(W4S_STREAM, { samples: W4S_HISTORY })
    await appendRange(W4S_HISTORY, W4S_HISTORY + warm)
    const first = (await log.head(W4S_STREAM)).nextOffset
    const t0 = process.hrtime.bigint()
    await appendRange(W4S_HISTORY + warm, events.length)
    const secs = seconds(t0)
    await log.close()
    const stored = storedPayloads(join(dir, W4S_STREAM), first)
    const onDisk = (n * w.size) / (stored.dataRecordBytes + stored.checkpointBytes)
    return {
      rate: n / secs, mbPerSec: (n * w.size) / 1e6 / secs, ratio: stored.payloadBytes / stored.storedBytes, diskRatio: onDisk, rssMB: 0,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Stored payload bytes of the data records at offsets ≥ `from` in a stream's segment files (SPEC §2 framing). */
function storedPayloads(streamDir: string, from: number): { payloadBytes: number; storedBytes: number; dataRecordBytes: number; checkpointBytes: number } {
  let storedBytes = 0
  let dataRecordBytes = 0
  let checkpointBytes = 0
  let records = 0
  for (const f of readdirSync(streamDir).filter((x) => /^segment_\d+\.log$/.test(x)).sort()) {
    const d = readFileSync(join(streamDir, f))
    for (let i = 0; i + 66 <= d.length; ) {
      const length = d.readUInt32LE(i + 54)
      const offset = Number(d.readBigUInt64LE(i + 4))
      if (offset >= from) {
        if ((d[i + 52] & 0x7f) === 0) { // a data record, whatever its batch bit
          storedBytes += length
          dataRecordBytes += 66 + length
          records++
        } else checkpointBytes += 66 + length
      }
      i += 66 + length
    }
  }
  return { payloadBytes: records * w.size, storedBytes, dataRecordBytes, checkpointBytes }
}

/**
 * W3 and W3m: many producers, each awaiting its own single-event appends; latency per append.
 * W3m spreads the appends over `streams` streams: round-robin, or `hotShare` of them to the first
 * stream and the rest round-robin over the others (a fixed pattern, the same for every subject).
 */
async function producersRun(n: number): Promise<RunResult> {
  const dir = scratch()
  try {
    const s = await openSubject(subject, dir, { sync: 'always' })
    const [event] = binaryPayloads(1, w.size)
    const names = Array.from({ length: w.streams ?? 1 }, (_, i) => `s${i}`)
    const streamOf = streamChooser(names, w.hotShare)
    // The streams exist before the clock starts: W3m measures appends, not stream creation.
    if (w.streams !== undefined) for (const name of names) await s.append([event], name)
    const latencies = new Float64Array(n)
    let issued = 0
    const producer = async () => {
      while (issued < n) {
        const k = issued++
        const stream = streamOf(k)
        const t0 = process.hrtime.bigint()
        await s.append([event], stream)
        latencies[k] = Number(process.hrtime.bigint() - t0) / 1e6
      }
    }
    const t0 = process.hrtime.bigint()
    await Promise.all(Array.from({ length: W3_PRODUCERS }, producer))
    const secs = seconds(t0)
    await s.close()
    return { rate: n / secs, mbPerSec: (n * w.size) / 1e6 / secs, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rssMB: 0 }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The stream of the k-th append: undefined (the subject's one stream) for W3. */
function streamChooser(names: string[], hotShare: number | undefined): (k: number) => string | undefined {
  if (w.streams === undefined) return () => undefined
  if (hotShare === undefined) return (k) => names[k % names.length]
  // Of every 100 appends, the first hotShare × 100 go to the hot stream.
  const hot = Math.round(hotShare * 100)
  let cold = 0
  return (k) => (k % 100 < hot ? names[0] : names[1 + (cold++ % (names.length - 1))])
}

async function readRun(dir: string): Promise<RunResult> {
  const s = await openSubject(subject, dir, { sync: 'never' })
  await s.readAll() // warm-up
  const t0 = process.hrtime.bigint()
  const got = await s.readAll()
  const secs = seconds(t0)
  await s.close()
  if (subject !== 'raw' && got < records) throw new Error(`read ${got} of ${records} records`)
  return { rate: records / secs, mbPerSec: (records * w.size) / 1e6 / secs, rssMB: 0 }
}

async function getRun(dir: string): Promise<RunResult> {
  const gets = quick ? RANDOM_GETS.quick : RANDOM_GETS.full
  const s = await openSubject(subject, dir, { sync: 'never' })
  let seed = 99
  const nextIndex = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed % records
  }
  for (let i = 0; i < gets / 10; i++) await s.get(nextIndex()) // warm-up
  let missed = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < gets; i++) if ((await s.get(nextIndex())) === undefined) missed++
  const secs = seconds(t0)
  await s.close()
  // chainlog's checkpoints take offsets too, so about 1 in 1000 offsets is not a data record.
  return { rate: gets / secs, rssMB: 0, note: missed ? `${missed} offsets were checkpoints` : undefined }
}

/** W6: a child appends until killed with SIGKILL; then the time of Log.open, recovery included. */
async function reopenRun(dir: string): Promise<RunResult> {
  const backend = subject as 'native' | 'js'
  // Load the core and warm the open path on a scratch store, so the figure is recovery, not start-up.
  const warm = scratch()
  await (await Log.open(warm, { backend })).close()
  rmSync(warm, { recursive: true, force: true })

  await appendUntilKilled(dir, backend)

  const t0 = process.hrtime.bigint()
  const log = await Log.open(dir, { backend })
  const ms = seconds(t0) * 1000
  const recovered = log.recovered
  await log.close()
  return { ms, rssMB: 0, note: recovered && (Array.isArray(recovered) ? recovered.length : true) ? 'a torn tail was cut' : undefined }
}

async function prepare(dir: string): Promise<void> {
  const s = await openSubject(subject, dir, { sync: 'never' })
  if (w.id === 'W6') await appendAll(s, w, Math.ceil(records / w.size))
  else await appendAll(s, w, records)
  await s.close()
}

async function main(): Promise<RunResult | { prepared: true }> {
  if (args.prepare) {
    await prepare(args.dir!)
    return { prepared: true }
  }
  switch (w.id) {
    case 'W1':
    case 'W2':
    case 'W4': {
      const sync = w.id === 'W2' ? 'always' : 'never'
      await writeRun(Math.max(w.batch, Math.floor(records / 10)), sync)
      return writeRun(records, sync)
    }
    case 'W4s':
      return smallEventsRun(records)
    case 'W3':
    case 'W3m-1':
    case 'W3m-16':
    case 'W3m-256':
    case 'W3m-skew':
      await producersRun(Math.floor(records / 10))
      return producersRun(records)
    case 'W5-read':
      return readRun(args.dir!)
    case 'W5-get':
      return getRun(args.dir!)
    case 'W6':
      return reopenRun(args.dir!)
  }
}

const result = await main()
if ('rssMB' in result) result.rssMB = process.resourceUsage().maxRSS / 1024
process.stdout.write(JSON.stringify(result) + '\n')
