/**
 * The open-file budget's cost (maxOpenFiles), outside the W1–W6 table: durable appends of 256
 * producers spread over 256 streams (single 256 B events, sync 'always') with a budget of 64
 * against the default, interleaved runs, medians; and open/close of a store of 10,000 streams.
 *   npm run bench:open-files [-- --events 20000 --runs 3 --streams 10000]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Log } from '../ts/index.ts'
import { summarize } from './stats.ts'

const median = (v: number[]) => summarize(v).median

const { values: args } = parseArgs({ options: { events: { type: 'string' }, runs: { type: 'string' }, streams: { type: 'string' }, backend: { type: 'string' } } })
const EVENTS = Number(args.events ?? 20_000)
const RUNS = Number(args.runs ?? 3)
const STREAMS = Number(args.streams ?? 10_000)
const backend = (args.backend ?? 'native') as 'native' | 'js'
const PRODUCERS = 256
const openFds = () => readdirSync('/proc/self/fd').length
const scratch = () => mkdtempSync(join(tmpdir(), 'chainlog-bench-fd-'))

async function manyStreams(maxOpenFiles: number | undefined): Promise<{ rate: number; fds: number }> {
  const dir = scratch()
  try {
    const log = await Log.open(dir, { backend, sync: 'always', ...(maxOpenFiles === undefined ? {} : { maxOpenFiles }) })
    const event = Buffer.alloc(256, 7)
    let next = 0
    let fds = 0
    const t0 = process.hrtime.bigint()
    await Promise.all(
      Array.from({ length: PRODUCERS }, async (_, p) => {
        while (next++ < EVENTS) {
          await log.append(`s${p}`, event)
          if ((next & 255) === 0) fds = Math.max(fds, openFds())
        }
      }),
    )
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    await log.close()
    return { rate: EVENTS / seconds, fds }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function openClose(): Promise<{ createMs: number; closeMs: number; openMs: number; reopenCloseMs: number }> {
  const dir = scratch()
  try {
    let t0 = process.hrtime.bigint()
    const log = await Log.open(dir, { backend, sync: 'never' })
    for (let i = 0; i < STREAMS; i += 500) await Promise.all(Array.from({ length: Math.min(500, STREAMS - i) }, (_, k) => log.append(`s${i + k}`, 'x')))
    const createMs = Number(process.hrtime.bigint() - t0) / 1e6
    t0 = process.hrtime.bigint()
    await log.close()
    const closeMs = Number(process.hrtime.bigint() - t0) / 1e6
    t0 = process.hrtime.bigint()
    const again = await Log.open(dir, { backend })
    const openMs = Number(process.hrtime.bigint() - t0) / 1e6
    t0 = process.hrtime.bigint()
    await again.close()
    return { createMs, closeMs, openMs, reopenCloseMs: Number(process.hrtime.bigint() - t0) / 1e6 }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const small: number[] = []
const dflt: number[] = []
let fdsSmall = 0
let fdsDefault = 0
for (let r = 0; r < RUNS; r++) {
  const a = await manyStreams(64)
  const b = await manyStreams(undefined)
  small.push(a.rate)
  dflt.push(b.rate)
  fdsSmall = Math.max(fdsSmall, a.fds)
  fdsDefault = Math.max(fdsDefault, b.fds)
}
console.log(`${backend}: ${PRODUCERS} producers over ${PRODUCERS} streams, ${EVENTS} single 256 B events, sync always, medians of ${RUNS} (interleaved):`)
console.log(`  maxOpenFiles 64: ${Math.round(median(small))} records/s (runs ${small.map(Math.round).join(', ')}), process descriptors at most ${fdsSmall}`)
console.log(`  default (half the soft limit): ${Math.round(median(dflt))} records/s (runs ${dflt.map(Math.round).join(', ')}), process descriptors at most ${fdsDefault}`)
console.log(`  ratio 64/default: ${(median(small) / median(dflt)).toFixed(2)}`)
const oc = await openClose()
console.log(`${backend}: ${STREAMS} streams of one event: created in ${oc.createMs.toFixed(0)} ms, closed in ${oc.closeMs.toFixed(0)} ms, reopened in ${oc.openMs.toFixed(0)} ms, closed again in ${oc.reopenCloseMs.toFixed(0)} ms`)
