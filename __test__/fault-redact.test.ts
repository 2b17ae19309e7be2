/**
 * Fault suite: kill -9 during redaction (SPEC §9). A child (helpers/redact-writer.ts) appends
 * from two producers while a third redacts earlier records; it is SIGKILLed at every step of the
 * redaction's order (it kills itself right after the step named by CHAINLOG_TEST_REDACT_KILL_AT),
 * and at random moments after a redaction began. Trials chain on one store. After each kill:
 * a read-only open sees the tombstone's redaction unfinished exactly when the kill fell between
 * the tombstone and the rename; a writable open finishes it; then every acknowledged record is
 * there byte for byte unless redacted, every acknowledged or tombstoned redaction is done, the
 * redacted payloads are in no file under the store, no temporary file is left, verify() is ok,
 * and appends continue.
 */
import { fileURLToPath } from 'node:url'
import test, { type ExecutionContext } from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { count, faultSize, figures } from './helpers/faults.ts'
import { filesIn, tempDir } from './helpers/log-dir.ts'
import { int, rng, seedFromEnv } from './helpers/random.ts'
import { runAndKill } from './helpers/run-and-kill.ts'
import { Log } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const WRITER = fileURLToPath(new URL('./helpers/redact-writer.ts', import.meta.url))
const SEED = seedFromEnv(20261205)
/** The steps of engine/redaction.ts, in order; the kill falls right after each. */
const STEPS = ['held', 'tombstone-written', 'tombstone-synced', 'scrubbed', 'temp-written', 'temp-synced', 'index-removed', 'renamed', 'renamed-synced', 'done'] as const
/** Steps after which the tombstone is in the file and the segment not yet renamed: the redaction is left unfinished. */
const UNFINISHED = new Set<string>(['tombstone-written', 'tombstone-synced', 'scrubbed', 'temp-written', 'temp-synced', 'index-removed'])
const STEP_TRIALS = faultSize(1, 5)
const TIMED_TRIALS = faultSize(6, 60)

/** What the children acknowledged over a chain of trials. */
class Expected {
  readonly payloads = new Map<number, Buffer>()
  readonly redacted = new Set<number>()
  /** Redactions begun and not acknowledged in the last run. */
  inFlight: number[] = []

  take(lines: Array<Record<string, unknown>>): void {
    const begun = new Set<number>()
    for (const v of lines) {
      if (typeof v.firstOffset === 'number') for (const [k, e] of (v.events as string[]).entries()) this.payloads.set(v.firstOffset + k, Buffer.from(e, 'base64'))
      if (typeof v.redacting === 'number') begun.add(v.redacting)
      if (typeof v.redacted === 'number') {
        begun.delete(v.redacted)
        this.redacted.add(v.redacted)
      }
    }
    this.inFlight = [...begun]
  }
}


async function trial(t: ExecutionContext, backend: BackendName, dir: string, seed: number, expected: Expected, kill: { step: string } | { ms: number }): Promise<void> {
  const run = await runAndKill({
    script: WRITER, args: [dir, backend, String(seed)], guardMs: 90_000,
    ...('step' in kill ? { env: { CHAINLOG_TEST_REDACT_KILL_AT: kill.step }, armed: () => false, killMs: 0 } : { armed: (out: string) => out.includes('"redacting"'), killMs: kill.ms }),
  })
  expected.take(run.lines)
  const f = figures('redact')
  f.trials++
  f.faults++
  const where = `seed ${seed}, ${JSON.stringify(kill)}`
  t.true(run.killed, `${where}: the child was killed`)

  // Before anything finishes it: what a read-only reader sees.
  const reader = await Log.open(dir, { backend, readOnly: true })
  const seen = await reader.verify('r')
  await reader.close()
  const unfinished = seen.streams[0]?.problems ?? []
  t.true(unfinished.every((p) => /still stored: an unfinished redaction/.test(p.message)), `${where}: read-only verify: ${JSON.stringify(unfinished)}`)
  if ('step' in kill) t.is(unfinished.length, UNFINISHED.has(kill.step) ? 1 : 0, `${where}: the tombstone lands exactly when the step is past it, and only the rename finishes the redaction`)
  // Each one is finished by the writable open below (checked there: its record is redacted).
  count('redact', 'finishedAtOpen', unfinished.length)
  f.found += unfinished.length

  const log = await Log.open(dir, { backend })
  try {
    const all = await log.read('r', { limit: 1_000_000 })
    const tombstoned = new Set(all.filter((r) => r.kind === 'tombstone').map((r) => Number(r.payload.readBigUInt64LE(0))))
    for (const offset of expected.inFlight) if (tombstoned.has(offset)) expected.redacted.add(offset)
    const byOffset = new Map(all.map((r) => [r.offset, r]))
    for (const [offset, payload] of expected.payloads) {
      const r = byOffset.get(offset)
      if (r === undefined) {
        f.lost++
        t.fail(`${where}: acknowledged record ${offset} is missing`)
        continue
      }
      f.records++
      if (expected.redacted.has(offset)) {
        t.true(r.redacted === true && r.payload.length === 0, `${where}: ${offset} is redacted`)
      } else {
        t.true(r.redacted === undefined && r.payload.equals(payload), `${where}: ${offset} is intact`)
      }
    }
    for (const target of tombstoned) t.true(byOffset.get(target)?.redacted === true, `${where}: the tombstone's record ${target} is redacted`)
    const report = await log.verify()
    t.deepEqual(report.streams.flatMap((s) => s.problems), [], `${where}: verify`)
    const files = [...filesIn(dir)]
    t.deepEqual(files.filter(([p]) => p.includes('.tmp-')).map(([p]) => p), [], `${where}: no temporary file left`)
    for (const offset of expected.redacted) {
      const payload = expected.payloads.get(offset)
      if (payload === undefined) continue
      const holders = files.filter(([, b]) => b.includes(payload)).map(([p]) => p)
      t.deepEqual(holders, [], `${where}: the payload of ${offset} is in no file`)
    }
    const next = await log.append('r', 'after the crash')
    t.is(next.firstOffset, (await log.head('r')).nextOffset - 1)
    // A payload that ended the stream is appended again by no later run: mark it.
    expected.payloads.set(next.firstOffset, Buffer.from('after the crash'))
  } finally {
    await log.close()
  }
}

for (const backend of BACKENDS) {
  for (const step of STEPS) {
    test(`${backend}: kill -9 right after redaction step "${step}" (${STEP_TRIALS} chained trials): old or new segment, finished at open, no acknowledged record lost, payload gone, verify ok`, async (t) => {
      const dir = tempDir(t, 'redact-crash')
      const expected = new Expected()
      const base = SEED + STEPS.indexOf(step) * 1009 + (backend === 'native' ? 1 : 0)
      for (let n = 0; n < STEP_TRIALS; n++) await trial(t, backend, dir, base + n * 31, expected, { step })
    })
  }

  test(`${backend}: ${TIMED_TRIALS} kills -9 at random moments after a redaction began (chained): finished or not begun, never half, nothing acknowledged lost, verify ok`, async (t) => {
    const dir = tempDir(t, 'redact-timed')
    const expected = new Expected()
    const seed = SEED + 77_777 + (backend === 'native' ? 1 : 0)
    const rand = rng(seed)
    for (let n = 0; n < TIMED_TRIALS; n++) await trial(t, backend, dir, seed + n * 31, expected, { ms: int(rand, 0, 120) })
  })
}
