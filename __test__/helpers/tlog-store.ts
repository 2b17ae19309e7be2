/** Stores for the SPEC §8 tests: one origin, opened with teardown, filled with fixed timestamps so both cores write the same bytes. */
import type { ExecutionContext } from 'ava'
import { Log, type LogOptions } from '../../ts/index.ts'

export const ORIGIN = 'example.com/audit'
export const T0 = 1_700_000_000_000

/** Log.open, closed when the test ends. */
export async function open(t: ExecutionContext, dir: string, options: LogOptions): Promise<Log> {
  const log = await Log.open(dir, options)
  t.teardown(() => log.close().catch(() => {}))
  return log
}

/** `n` one-event appends with fixed timestamps: the same bytes on either core. */
export async function fill(log: Log, stream: string, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) await log.append(stream, `event-${i}`, { timestamp: T0 + i })
}
