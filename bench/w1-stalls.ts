/**
 * Where W1's appends stall (docs/perf-notes.md, "W1 native against its floor, evening"): W1 native
 * (1M × 256 B in batches of 1000, sync never, after a 100k warm-up), timing every append and the
 * engine's two waiting steps by wrapping their prototype methods: Stream.prepareWrite (which waits
 * for an index save once the unindexed tail passes INDEX_TAIL_MAX_BYTES, and rotates) and
 * Stream.rotate (within it). Prints one JSON line: wall ms; appends over 5 ms (count, ms);
 * prepareWrite calls over 5 ms (count, ms, with rotation's share); the index saves' file writes.
 * Run it interleaved against another tree with the same probe to compare stalls, not rates:
 *
 *   for i in 1 2 3 4 5 6; do node --import=tsx bench/w1-stalls.ts; done
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Stream } from '../ts/engine/stream.ts'
import { binaryPayloads } from './data.ts'
import { openSubject } from './subjects.ts'

const SLOW_MS = 5
const WRITE_BEHIND_BYTES = 16 * 1024 * 1024 // ts/engine/write-behind.ts
const subject = process.argv[2] ?? 'native'
if (subject !== 'native' && subject !== 'floor-wb-tree') throw new Error(`unknown subject ${subject}; known: native, floor-wb-tree`)
const slow = { prepareWrite: { n: 0, ms: 0 }, rotate: { n: 0, ms: 0 } }

/** Wraps an async prototype method so calls over SLOW_MS add to slow[name]. */
function timeSlowCalls(name: 'prepareWrite' | 'rotate'): void {
  const proto = Stream.prototype as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const original = proto[name]
  proto[name] = async function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now()
    try {
      return await original.apply(this, args)
    } finally {
      const ms = performance.now() - t0
      if (ms > SLOW_MS) {
        slow[name].n++
        slow[name].ms += ms
      }
    }
  }
}
timeSlowCalls('prepareWrite')
timeSlowCalls('rotate')

const batch = binaryPayloads(1000, 256)
let result = {}
for (const records of [100_000, 1_000_000]) {
  slow.prepareWrite = { n: 0, ms: 0 }
  slow.rotate = { n: 0, ms: 0 }
  const dir = mkdtempSync(join(tmpdir(), 'chainlog-w1-stalls-'))
  const s = subject === 'native' ? await openSubject('native', dir, { sync: 'never' }) : await openSubject('floor', dir, { sync: 'never', writeBehindBytes: WRITE_BEHIND_BYTES, tree: true })
  let slowAppends = 0
  let slowAppendMs = 0
  const t0 = performance.now()
  for (let i = 0; i < records; i += batch.length) {
    const a0 = performance.now()
    await s.append(batch)
    const ms = performance.now() - a0
    if (ms > SLOW_MS) {
      slowAppends++
      slowAppendMs += ms
    }
  }
  const wallMs = performance.now() - t0
  await s.close()
  rmSync(dir, { recursive: true, force: true })
  const r = Math.round
  result = {
    subject, wallMs: r(wallMs), slowAppends, slowAppendMs: r(slowAppendMs),
    slowPrepareWrites: slow.prepareWrite.n, slowPrepareWriteMs: r(slow.prepareWrite.ms), rotations: slow.rotate.n, rotateMs: r(slow.rotate.ms),
  }
}
console.log(JSON.stringify(result))
