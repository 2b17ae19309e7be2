/**
 * The prune crash run shared by log-prune-crash.test.ts and the fault suite: starts
 * helpers/prune-writer.ts (appends, signs, prunes after every append) and SIGKILLs it
 * `killAfterMs` after its first prune that dropped segments.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { Log } from '../../ts/index.ts'
import { generateKey } from '../../ts/tlog/index.ts'
import type { BackendName } from '../../ts/core/interface.ts'
import { tempDir } from './log-dir.ts'

const WRITER = join(import.meta.dirname, 'prune-writer.ts')

/** What the child reported before the kill: its last acknowledged next offset and finished prune. */
export interface PruneSeen {
  acked: number
  pruned: number
  prunes: number
}

/** Segment numbers of stream 's' in a store. */
export const segmentNumbers = (dir: string): number[] => readdirSync(join(dir, 's')).filter((f) => /^segment_\d+\.log$/.test(f)).map((f) => Number(f.slice(8, 14)))

/** Runs the writer until `killAfterMs` after its first prune that dropped segments, then SIGKILLs it. */
export function runPruneWriter(dir: string, backend: string, skey: string, killAfterMs: number): Promise<PruneSeen> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, WRITER, dir, backend, skey], { stdio: ['ignore', 'pipe', 'pipe'] })
    const seen: PruneSeen = { acked: 0, pruned: 0, prunes: 0 }
    let rest = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        const m = JSON.parse(line) as { acked?: number; pruned?: number }
        if (m.acked !== undefined) seen.acked = m.acked
        if (m.pruned !== undefined && m.pruned > seen.pruned) {
          seen.pruned = m.pruned
          seen.prunes++
          timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs)
        }
      }
    })
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(guard)
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited on its own (code ${code}): ${err}`))
      resolve(seen)
    })
  })
}


/** One trial's outcome: where the kill landed, what was acknowledged, what was kept. */
export interface PruneTrial {
  moment: string
  prunes: number
  acked: number
  kept: number
  /** Acknowledged offsets past the head after the kill (the assertions fail on any). */
  lost: number
}

/**
 * Runs the writer, kills it, and checks the store: it opens without damage and verifies (the
 * published note included), starts no later than the last prune the child saw finish, holds every
 * acknowledged record from its start on with its payload, and goes on taking appends and signing.
 */
export async function pruneCrashTrial(t: ExecutionContext, backend: BackendName, killAfterMs: number): Promise<PruneTrial> {
  const dir = tempDir(t)
  const key = generateKey('example.com/audit')
  const seen = await runPruneWriter(dir, backend, key.skey, killAfterMs)
  // Where the kill landed, as the files show it (before open finishes a prune cut short).
  const pruned = existsSync(join(dir, 's', 'pruned.json')) ? JSON.parse(readFileSync(join(dir, 's', 'pruned.json'), 'utf8')) : null
  const before = segmentNumbers(dir)
  const moment = pruned === null ? 'before the first pruned.json' : before.some((n) => n < pruned.firstSegment) ? 'mid-delete (segments left below pruned.json)' : pruned.firstOffset > seen.pruned ? 'after a prune the child had not reported' : 'between prunes'
  const log = await Log.open(dir, { backend })
  t.teardown(() => log.close())
  const head = await log.head('s')
  t.is(head.damage, undefined)
  t.true(head.firstOffset >= seen.pruned, `the stream starts at ${head.firstOffset}, a prune to ${seen.pruned} had finished`)
  t.true(head.nextOffset >= seen.acked)
  // Each append prunes at most to 40 records behind its head: the start never passes the acknowledged head.
  t.true(head.firstOffset <= Math.max(seen.acked, head.nextOffset))
  const v = await log.verify('s')
  t.true(v.ok, JSON.stringify(v.streams[0].problems))
  t.is(v.streams[0].firstOffset ?? 0, head.firstOffset)
  const records = await log.read('s')
  t.is(records[0]?.offset ?? head.firstOffset, head.firstOffset)
  for (const r of records) if (r.payload.toString() !== `e-${r.offset}`) t.fail(`record ${r.offset} holds ${r.payload.toString()}`)
  t.true(records.length >= seen.acked - head.firstOffset - Math.floor(seen.acked / 45) - 1, 'every acknowledged record at or after the start (checkpoints aside) is readable')
  const segments = segmentNumbers(dir)
  t.true(segments.length > 0 && (pruned === null || segments.every((n) => n >= pruned.firstSegment)), 'open deleted any segment left below pruned.json')
  // The tiles still give the note published before the kill: plain verify checks it; after a
  // reopen as a writer, appends and a new signed checkpoint go on.
  await log.close()
  const again = await Log.open(dir, { backend, hash: 'sha256', tlog: { origin: 'example.com/audit', signer: key.skey } })
  t.teardown(() => again.close())
  await again.append('s', 'after')
  const cp = await again.checkpoint('s')
  t.truthy(cp.note)
  t.true((await again.verify('s', { trusted: [cp.note!] })).ok)
  return { moment, prunes: seen.prunes, acked: seen.acked, kept: records.length, lost: Math.max(0, seen.acked - head.nextOffset) }
}
