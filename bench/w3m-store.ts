/**
 * The store the W3m probes (w3m-rounds.ts, w3m-profile.ts) append to: native core, sync
 * 'always', `streams` streams named s0, s1, … that each hold one 256 B event before the clock
 * starts (creating a stream is not what they measure), and the journal's round counter.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Log } from '../ts/index.ts'

export async function openW3mStore(prefix: string, streams: number, journal: boolean) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const log = await Log.open(dir, { backend: 'native', sync: 'always', journal })
  /** The journal's rounds so far (engine/journal.ts); 0 when it is off. */
  const journalRounds = () => (log as unknown as { ctx: { journal?: { rounds: number } } }).ctx.journal?.rounds ?? 0
  const names = Array.from({ length: streams }, (_, i) => `s${i}`)
  const event = Buffer.alloc(256, 1)
  for (const name of names) await log.append(name, [event])
  return { dir, log, names, event, journalRounds }
}
