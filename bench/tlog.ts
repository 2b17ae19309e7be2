/**
 * The Merkle tree's cost (SPEC §8), outside the W1–W6 table: W1's shape (256 B events, batches of
 * 1000, sync 'never') with the tree off (a store without `tlog`: appends only) and on (a store
 * opened with `tlog`, whose trees follow the commit path — each encodeBatch call extends the
 * tree — then treeHead at the end, which writes the tiles), native and JS in the same run,
 * interleaved, medians; then on one stream of `--records` records (default 1M): a signed
 * checkpoint's cost after 1000 more appends, and an inclusion proof's latency (reopened store, and
 * warm). `--profile native|js` runs only W1 tree on for that core (for node --cpu-prof).
 *   npm run bench:tlog [-- --w1 1000000 --runs 3 --records 1000000]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Log } from '../ts/index.ts'
import { generateKey } from '../ts/tlog/index.ts'
import { summarize } from './stats.ts'

const median = (v: number[]) => summarize(v).median
const { values: args } = parseArgs({ options: { w1: { type: 'string' }, runs: { type: 'string' }, records: { type: 'string' }, quick: { type: 'boolean' }, profile: { type: 'string' } } })
const W1_RECORDS = Number(args.w1 ?? (args.quick ? 200_000 : 1_000_000))
const RUNS = Number(args.runs ?? 3)
const RECORDS = Number(args.records ?? (args.quick ? 200_000 : 1_000_000))
const BATCH = 1000
const ORIGIN = 'bench.example/tlog'
const scratch = () => mkdtempSync(join(tmpdir(), 'chainlog-bench-tlog-'))
const now = () => Number(process.hrtime.bigint()) / 1e9

async function appendW1(log: Log, stream: string, records: number): Promise<void> {
  const batch = Array.from({ length: BATCH }, (_, i) => Buffer.alloc(256, i & 0xff))
  for (let n = 0; n < records; n += BATCH) await log.append(stream, batch, { sync: 'never' })
}

/** Per W1 tree-on run and core: seconds of treeHead at the end (tiles written), and the appends' rate before it. */
const treeHeadSeconds: Record<string, number[]> = { native: [], js: [] }
const appendsOnlyRates: Record<string, number[]> = { native: [], js: [] }

/** records/s of W1 with the tree off, or on (appends, then the tree and tiles brought up to date). */
async function w1(backend: 'native' | 'js', tree: boolean): Promise<number> {
  const dir = scratch()
  try {
    const log = await Log.open(dir, { backend, sync: 'never', ...(tree ? { tlog: { origin: ORIGIN, signer: generateKey(ORIGIN).skey } } : {}) })
    const t0 = now()
    await appendW1(log, 's', W1_RECORDS)
    const t1 = now()
    if (tree) await log.treeHead('s')
    const seconds = now() - t0
    if (tree) treeHeadSeconds[backend].push(now() - t1)
    if (tree) appendsOnlyRates[backend].push(W1_RECORDS / (t1 - t0))
    await log.close()
    return W1_RECORDS / seconds
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function bigStream(backend: 'native' | 'js'): Promise<{ buildS: number; checkpointMs: number; proofColdMs: number; proofWarmMs: number; reopenFirstMs: number }> {
  const dir = scratch()
  const key = generateKey(ORIGIN)
  const tlog = { origin: ORIGIN, signer: key.skey }
  try {
    let log = await Log.open(dir, { backend, sync: 'never', tlog })
    await appendW1(log, 's', RECORDS)
    let t0 = now()
    await log.checkpoint('s') // the whole tree built and its tiles written once
    const buildS = now() - t0
    const cps: number[] = []
    for (let r = 0; r < 5; r++) {
      await appendW1(log, 's', BATCH)
      t0 = now()
      await log.checkpoint('s')
      cps.push((now() - t0) * 1000)
    }
    await log.close()
    t0 = now()
    log = await Log.open(dir, { backend, tlog })
    await log.prove('s', 12345 % RECORDS) // first use after open: frontier from the tiles, checked against the note
    const reopenFirstMs = (now() - t0) * 1000
    await log.close()
    log = await Log.open(dir, { backend, tlog })
    await log.treeHead('s')
    const cold: number[] = []
    const warm: number[] = []
    for (let i = 0; i < 200; i++) {
      const offset = Math.floor(((i * 7919) % 1000) / 1000 * RECORDS)
      t0 = now()
      await log.prove('s', offset)
      ;(i < 100 ? cold : warm).push((now() - t0) * 1000)
    }
    for (let i = 0; i < 100; i++) {
      t0 = now()
      await log.prove('s', 4242)
      warm.push((now() - t0) * 1000)
    }
    await log.close()
    return { buildS, checkpointMs: median(cps), proofColdMs: median(cold), proofWarmMs: median(warm), reopenFirstMs }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (args.profile !== undefined) {
  const backend = args.profile === 'js' ? 'js' : 'native'
  for (let r = 0; r < RUNS; r++) console.log(`W1 ${backend} tree on: ${Math.round(await w1(backend, true)).toLocaleString('en')} records/s`)
  process.exit(0)
}
console.log(`bench:tlog — W1 ${W1_RECORDS} records × ${RUNS} runs (interleaved), big stream ${RECORDS} records; machine shared with other work`)
const rates: Record<string, number[]> = {}
for (let r = 0; r < RUNS; r++) {
  for (const backend of ['native', 'js'] as const) {
    for (const tree of [false, true]) (rates[`${backend} tree ${tree ? 'on' : 'off'}`] ??= []).push(await w1(backend, tree))
  }
}
for (const [k, v] of Object.entries(rates)) console.log(`W1 ${k.padEnd(16)} ${Math.round(median(v)).toLocaleString('en')} records/s  (runs: ${v.map((x) => Math.round(x)).join(', ')})`)
for (const backend of ['native', 'js']) {
  const ratio = (i: number) => rates[`${backend} tree on`][i] / rates[`${backend} tree off`][i]
  const perRun = Array.from({ length: RUNS }, (_, i) => ratio(i))
  console.log(`W1 ${backend} tree on / off: ${median(perRun).toFixed(3)} (per run: ${perRun.map((x) => x.toFixed(3)).join(', ')})`)
}
for (const backend of ['native', 'js']) {
  const perRun = appendsOnlyRates[backend].map((r, i) => r / rates[`${backend} tree off`][i])
  console.log(`W1 ${backend} tree on, appends only (tree extended in the encode call, tiles written in the background): ${Math.round(median(appendsOnlyRates[backend])).toLocaleString('en')} records/s, on / off ${median(perRun).toFixed(3)} (per run: ${perRun.map((x) => x.toFixed(3)).join(', ')}); then treeHead (the remaining tiles written) ${(median(treeHeadSeconds[backend]) * 1000).toFixed(0)} ms (median)`)
}
for (const backend of ['native', 'js'] as const) {
  const b = await bigStream(backend)
  console.log(`${backend}, ${RECORDS} records: first tree build + tiles + signed checkpoint ${b.buildS.toFixed(2)} s; signed checkpoint after 1000 more appends ${b.checkpointMs.toFixed(1)} ms (median of 5); first proof after reopen ${b.reopenFirstMs.toFixed(1)} ms; inclusion proof ${b.proofColdMs.toFixed(2)} ms (spread offsets) / ${b.proofWarmMs.toFixed(2)} ms (median)`)
}
