/**
 * Size and figures of the fault suite (__test__/fault-*.test.ts). `npm test` runs a short share
 * of every part; CHAINLOG_FAULTS=long (`npm run test:faults`) runs the long version. Each test
 * process adds what it did to a figures file under .tmp/faults/, which scripts/test-faults.mjs
 * sums and prints.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const LONG = process.env.CHAINLOG_FAULTS === 'long'

/** The short count inside `npm test`, the long one under CHAINLOG_FAULTS=long. */
export function faultSize(short: number, long: number): number {
  return LONG ? long : short
}

export const FIGURES_DIR = join(fileURLToPath(new URL('../..', import.meta.url)), '.tmp', 'faults')

/** Counters of one area (crash, torn, power, corruption, tampering, fuzz, input). */
export interface Figures {
  trials: number
  records: number
  faults: number
  found: number
  lost: number
  [extra: string]: number
}

const all = new Map<string, Figures>()

export function figures(area: string): Figures {
  let f = all.get(area)
  if (f === undefined) {
    f = { trials: 0, records: 0, faults: 0, found: 0, lost: 0 }
    all.set(area, f)
  }
  return f
}

export function count(area: string, key: string, n = 1): void {
  const f = figures(area)
  f[key] = (f[key] ?? 0) + n
}

process.on('exit', () => {
  if (all.size === 0) return
  try {
    mkdirSync(FIGURES_DIR, { recursive: true })
    writeFileSync(join(FIGURES_DIR, `${process.pid}-${Date.now()}.json`), JSON.stringify({ long: LONG, areas: Object.fromEntries(all) }))
  } catch {
    // figures are a report, never a reason to fail
  }
})
