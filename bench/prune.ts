/**
 * Retention (SPEC §9): what a prune costs and what it leaves. On a store of --records events of
 * 100 bytes in 1 MiB segments: the first prune of a stream (it builds the Merkle tree from every
 * record, then fsyncs its tiles), a later prune after 10% more appends (the tree only takes in the
 * new records), and Log.open + head + the first read of the pruned store against an unpruned copy
 * of the same data (open is O(tail) either way). Medians (min–max) of --runs fresh stores.
 *   npm run bench:prune [-- --runs 3 --records 200000 --backend native]
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Log } from '../ts/index.ts'
import { summarize } from './stats.ts'

const { values: args } = parseArgs({ options: { runs: { type: 'string' }, records: { type: 'string' }, backend: { type: 'string' } } })
const backend = (args.backend ?? 'native') as 'native' | 'js'
const runs = Number(args.runs ?? 3)
const records = Number(args.records ?? 200_000)
const options = { backend, sync: 'never', maxSegmentBytes: 1024 * 1024, checkpointEvery: 1000 } as const
const event = Buffer.alloc(100, 'x')

async function fill(log: Log, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) await log.append('s', Array.from({ length: Math.min(1000, n - i) }, () => event))
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6

/** Log.open, head and the first record's read: what a reader pays to start. */
async function openRead(dir: string): Promise<number> {
  const t0 = process.hrtime.bigint()
  const log = await Log.open(dir, { backend })
  await log.head('s')
  await log.read('s', { limit: 1 })
  const took = ms(t0)
  await log.close()
  return took
}

const first: number[] = []
const later: number[] = []
const openPruned: number[] = []
const openWhole: number[] = []
let dropped = ''
for (let r = 0; r < runs; r++) {
  const dir = mkdtempSync(join(tmpdir(), 'chainlog-bench-prune-'))
  const whole = mkdtempSync(join(tmpdir(), 'chainlog-bench-prune-whole-'))
  try {
    let log = await Log.open(dir, options)
    await fill(log, records)
    await log.close()
    cpSync(dir, whole, { recursive: true })
    log = await Log.open(dir, options)
    let t0 = process.hrtime.bigint()
    const a = await log.prune('s', { before: Math.floor(records / 2) })
    first.push(ms(t0))
    await fill(log, Math.floor(records / 10))
    await log.flush()
    t0 = process.hrtime.bigint()
    const b = await log.prune('s', { before: Math.floor(records * 1.05) })
    later.push(ms(t0))
    dropped = `first prune: ${a.segments} segments (${(a.bytes / 1048576).toFixed(0)} MiB); later prune: ${b.segments} segments`
    await log.close()
    for (let k = 0; k < 5; k++) {
      openPruned.push(await openRead(dir))
      openWhole.push(await openRead(whole))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    rmSync(whole, { recursive: true, force: true })
  }
}
const f = (v: number[]) => {
  const s = summarize(v)
  return `${s.median.toFixed(1)} ms (${s.min.toFixed(1)}–${s.max.toFixed(1)})`
}
console.log(`${backend}: ${records} events of 100 B, 1 MiB segments, ${runs} fresh stores; ${dropped}`)
console.log(`  first prune (builds the tree from every record, fsyncs its tiles): ${f(first)}`)
console.log(`  later prune (after ${Math.floor(records / 10)} more appends):               ${f(later)}`)
console.log(`  open + head + first read, pruned store:   ${f(openPruned)}`)
console.log(`  open + head + first read, unpruned copy:  ${f(openWhole)}`)
