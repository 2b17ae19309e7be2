/**
 * Fault suite, part 1: crashes. A child process (helpers/fault-writer.ts) appends with sync
 * 'always' from several concurrent producers (random batch and payload sizes, every codec, small
 * segments), and is killed with SIGKILL at a random moment: mid-append, during rotation, during a
 * checkpoint, during close(), with 200 streams behind a budget of 16 descriptors, and with the
 * store journal on over 32 streams (reopened with it on and off in turn: both replay it). Trials chain on one store: each reopen recovers what the previous
 * kill left. After each kill: every acknowledged record is present and byte-identical, verify()
 * is ok, recovery only ever cut a torn tail, and appending continues.
 */
import test from 'ava'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BACKENDS } from './helpers/cores.ts'
import { runAndKill } from './helpers/run-and-kill.ts'
import { count, faultSize, figures } from './helpers/faults.ts'
import { tempDir } from './helpers/log-dir.ts'
import { int, rng, seedFromEnv } from './helpers/random.ts'
import { Log } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const WRITER = fileURLToPath(new URL('./helpers/fault-writer.ts', import.meta.url))
const SEED = seedFromEnv(20261125)
/** Children alive at once per test file (each is a Node process loading a core). */
const MAX_CHILDREN = 3
/**
 * Chains of trials per core and mode: [mode, chains, trials per chain] in `npm test` (25 per core)
 * and in the long run (502 per core, 1,004 in all).
 */
const PLAN: [Mode, [number, number], [number, number]][] = [
  ['append', [3, 4], [6, 25]],
  ['rotation', [1, 5], [4, 30]],
  ['checkpoint', [1, 4], [4, 29]],
  ['close', [1, 4], [4, 29]],
  ['budget', [1, 4], [4, 25]],
  ['journal', [1, 4], [4, 25]],
]
type Mode = 'append' | 'rotation' | 'checkpoint' | 'close' | 'budget' | 'journal'

let running = 0
const queue: Array<() => void> = []
async function slot<T>(f: () => Promise<T>): Promise<T> {
  if (running >= MAX_CHILDREN) await new Promise<void>((r) => queue.push(r))
  running++
  try {
    return await f()
  } finally {
    running--
    queue.shift()?.()
  }
}

interface Ack {
  stream: string
  firstOffset: number
  events: string[]
}
interface Run {
  acks: Ack[]
  closing: boolean
  closed: boolean
}

/**
 * Runs the writer and SIGKILLs it `killMs` after it is ready (mode close: after it starts closing;
 * `afterFirstAck`: after its first acknowledged append, so that a loaded machine, where the first
 * acknowledgement can take longer than the whole kill window, still has trials with acknowledged
 * records to check).
 */
async function runWriter(dir: string, backend: BackendName, seed: number, mode: Mode, killMs: number, afterFirstAck = false): Promise<Run> {
  const trigger = mode === 'close' ? '"closing"' : '"ready"'
  const { lines } = await runAndKill({
    script: WRITER, args: [dir, backend, String(seed), mode], killMs,
    armed: (out) => (afterFirstAck ? /"firstOffset"[^\n]*\n/.test(out) : out.includes(trigger)),
  })
  const run: Run = { acks: [], closing: false, closed: false }
  for (const v of lines) {
    if (v.stream !== undefined) run.acks.push(v as unknown as Ack)
    if (v.closing) run.closing = true
    if (v.closed) run.closed = true
  }
  return run
}

for (const backend of BACKENDS) {
  for (const [mode, short, long] of PLAN) {
    const [chains, trials] = [faultSize(short[0], long[0]), faultSize(short[1], long[1])]
    for (let chain = 0; chain < chains; chain++) {
      test(`${backend}: ${trials} SIGKILLs ${mode === 'append' ? 'mid-append' : mode === 'budget' ? 'with 200 streams and 16 descriptors' : mode === 'journal' ? 'with the store journal over 32 streams and 16 descriptors' : `during ${mode}`} (chain ${chain}) lose no acknowledged record; verify passes and appends continue after each`, async (t) => {
        const seed = SEED + chain * 7919 + PLAN.findIndex((p) => p[0] === mode) * 104729 + (backend === 'native' ? 1 : 0)
        const rand = rng(seed)
        const dir = tempDir(t, `crash-${mode}`)
        /** Every acknowledged payload: stream → offset → base64. */
        const expected = new Map<string, Map<number, string>>()
        const f = figures('crash')
        let killedInClose = 0
        let journalLeft = 0
        for (let trial = 0; trial < trials; trial++) {
          const trialSeed = seed + trial * 31
          const killMs = mode === 'close' ? int(rand, 0, 40) : mode === 'budget' || mode === 'journal' ? int(rand, 100, 600) : int(rand, 0, 250)
          // Odd trials of the append-time modes start the kill window at the first acknowledgement.
          const afterFirstAck = mode !== 'close' && trial % 2 === 1
          const run = await slot(() => runWriter(dir, backend, trialSeed, mode, killMs, afterFirstAck))
          f.trials++
          f.faults++
          if (mode === 'close' && run.closing && !run.closed) killedInClose++
          for (const ack of run.acks) {
            let m = expected.get(ack.stream)
            if (m === undefined) expected.set(ack.stream, (m = new Map()))
            for (const [k, e] of ack.events.entries()) m!.set(ack.firstOffset + k, e)
          }
          const where = `seed ${trialSeed}, trial ${trial}`
          if (mode === 'journal') {
            // What the kill left in the journal for the reopen to replay (SIGKILL keeps the page cache: the segments hold it too).
            const left = statSync(join(dir, 'journal.wal'), { throwIfNoEntry: false })?.size ?? 0
            if (left > 0) journalLeft++
            count('crash', 'journalBytesAtKill', left)
          }
          const log = await Log.open(dir, { backend, ...(mode === 'journal' ? { journal: trial % 2 === 0 } : {}) })
          try {
            for (const e of log.recovered) {
              // With the journal, an entry whose bytes a segment lacks is written back ('replayed').
              const allowed = mode === 'journal' ? ['truncated', 'replayed'] : ['truncated']
              t.true(allowed.includes(e.action), `${where}: a crash only ever leaves a torn tail: ${JSON.stringify(e)}`)
              f.found++
            }
            count('crash', 'tornTailsCut', log.recovered.length)
            for (const [stream, m] of expected) {
              const got = new Map((await log.read(stream, { verify: 'genesis' })).map((r) => [r.offset, r.payload.toString('base64')]))
              for (const [offset, payload] of m) {
                if (got.get(offset) !== payload) {
                  f.lost++
                  t.fail(`${where}: ${stream}@${offset} was acknowledged but reads back as ${got.get(offset)?.slice(0, 40)}`)
                }
              }
              f.records += m.size
            }
            const report = await log.verify()
            t.true(report.ok, `${where}: ${JSON.stringify(report.streams.map((s) => s.problems))}`)
            // The store keeps working: an append after recovery is acknowledged like any other.
            const stream = ['a', 'b', '7'][int(rand, 0, 2)]
            const payload = Buffer.from(`after-kill-${trial}`)
            const r = await log.append(stream, payload)
            let m = expected.get(stream)
            if (m === undefined) expected.set(stream, (m = new Map()))
            m.set(r.firstOffset, payload.toString('base64'))
          } finally {
            await log.close()
          }
        }
        if (mode === 'close') count('crash', 'killedDuringClose', killedInClose)
        if (mode === 'journal') t.true(journalLeft > 0, 'some kills left journal entries for the reopen to replay')
        t.true([...expected.values()].some((m) => m.size > trials), 'the writers acknowledged appends before they were killed')
      })
    }
  }
}
