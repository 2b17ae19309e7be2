import test from 'ava'
import { promises as fsp } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'

type DataSync = () => Promise<void>

/**
 * Counts FileHandle.datasync calls, each delayed by `delayMs` (so work can land during one), until
 * the returned restore() is called. The serial tests below are the only ones patching it.
 */
async function watchDatasync(dir: string, delayMs: number): Promise<{ calls: () => number; reset: () => void; restore: () => void }> {
  const h = await fsp.open(join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(h) as { datasync: DataSync }
  await h.close()
  const original = proto.datasync
  let calls = 0
  proto.datasync = async function (this: unknown) {
    calls++
    await new Promise((r) => setTimeout(r, delayMs))
    return original.call(this)
  }
  return { calls: () => calls, reset: () => (calls = 0), restore: () => (proto.datasync = original) }
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: a sync 'never' append that lands while flush() is in its fdatasync is synced by the next flush()`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { sync: 'never' })
    await log.append('s', 'a')
    const watch = await watchDatasync(dir, 50)
    try {
      const first = log.flush()
      await new Promise((r) => setTimeout(r, 10)) // the flush is inside its fdatasync now
      await log.append('s', 'b')
      await first
      watch.reset()
      await log.flush()
      t.true(watch.calls() >= 1, 'the second flush must fdatasync the append made during the first')
      watch.reset()
      await log.flush()
      t.is(watch.calls(), 0, 'nothing left to sync')
    } finally {
      watch.restore()
    }
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: flush() returns under steady appends, after the appends made before it`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { sync: 'always' })
    let stop = false
    const writer = async () => {
      while (!stop) await log.append('s', 'x')
    }
    const writers = [writer(), writer(), writer()]
    try {
      await new Promise((r) => setTimeout(r, 100))
      const before = log.append('s', 'before-flush')
      let beforeDone = false
      void before.then(() => (beforeDone = true))
      const outcome = await Promise.race([
        log.flush().then(() => 'flushed'),
        new Promise((r) => setTimeout(() => r('flush still waiting after 10 s'), 10_000)),
      ])
      t.is(outcome, 'flushed')
      t.true(beforeDone, 'an append made before flush() settled before it returned')
    } finally {
      stop = true
      await Promise.all(writers)
    }
  })
}
