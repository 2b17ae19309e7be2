import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'
import { Log, type LogRecord } from '../ts/index.ts'

// The largest Buffer allocated while `watching` (Buffer.alloc* only: what the engine allocates in JS).
let watching = false
let largest = 0
for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
  const original = Buffer[name] as (size: number, ...rest: unknown[]) => Buffer
  ;(Buffer as unknown as Record<string, unknown>)[name] = (size: number, ...rest: unknown[]) => {
    if (watching && size > largest) largest = size
    return original.call(Buffer, size, ...rest)
  }
}

/** Records past the verified-hash cache's budget (32 MiB at 32 bytes a record). */
const RECORDS = 1_100_000
const BATCH = 50_000

for (const backend of BACKENDS) {
  test.serial(`${backend}: get far from any checkpoint allocates a bounded amount, not 32 bytes per record before it`, async (t) => {
    t.timeout(600_000)
    const dir = tempDir(t)
    const writer = await Log.open(dir, { backend, checkpointEvery: false, sync: 'never' })
    const batch = Array.from({ length: BATCH }, (_, i) => `e${i}`)
    for (let n = 0; n < RECORDS; n += BATCH) await writer.append('s', batch)
    await writer.close()
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    // Opened before the measurement (a cleanly closed stream opens on first use, loading its
    // 8 MiB offset index): what is measured is the get's own allocation.
    await log.head('s')
    largest = 0
    watching = true
    let r: LogRecord | undefined
    try {
      r = await log.get('s', RECORDS - 1)
    } finally {
      watching = false
    }
    t.is(r?.offset, RECORDS - 1)
    t.is(r?.payload.toString(), `e${(RECORDS - 1) % BATCH}`)
    t.true(largest <= 8 * 1024 * 1024, `largest allocation ${largest} bytes`)
  })
}
