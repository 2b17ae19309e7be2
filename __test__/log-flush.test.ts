import test from 'ava'
import { promises as fsp } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'

type DataSync = () => Promise<void>

/**
 * Replaces FileHandle.datasync with `fake` until the returned restore() is called. `fake` gets
 * the real fdatasync of the handle it was called on and the call's number (from 1). The serial
 * tests below are the only ones patching it.
 */
async function fakeDatasync(dir: string, fake: (sync: DataSync, call: number) => Promise<void>): Promise<{ calls: () => number; reset: () => void; restore: () => void }> {
  const h = await fsp.open(join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(h) as { datasync: DataSync }
  await h.close()
  const original = proto.datasync
  let calls = 0
  proto.datasync = function (this: unknown) {
    return fake(() => original.call(this), ++calls)
  }
  return { calls: () => calls, reset: () => (calls = 0), restore: () => (proto.datasync = original) }
}

/** Counts fdatasync calls, each delayed by `delayMs` (so work can land during one). */
function watchDatasync(dir: string, delayMs: number): ReturnType<typeof fakeDatasync> {
  return fakeDatasync(dir, async (sync) => {
    await new Promise((r) => setTimeout(r, delayMs))
    return sync()
  })
}

/** The error a failed fdatasync throws. */
function eio(): Error {
  return Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' })
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

/** Appends `mib` MiB in 64 KiB events under sync 'never' (past the 16 MiB write-behind mark for 17). */
async function appendMiB(log: Awaited<ReturnType<typeof openLog>>, mib: number): Promise<void> {
  const event = Buffer.alloc(64 * 1024, 7)
  for (let i = 0; i < mib; i++) await log.append('s', Array.from({ length: 16 }, () => event))
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: sync 'never' appends past 16 MiB start a background fdatasync (write-behind), with no flush or rotation`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { sync: 'never' })
    await log.append('s', 'first')
    const watch = await watchDatasync(dir, 0)
    try {
      await appendMiB(log, 15)
      t.is(watch.calls(), 0, 'nothing synced before 16 MiB')
      await appendMiB(log, 2)
      t.is(watch.calls(), 1, 'one write-behind fdatasync after 16 MiB')
      await log.flush()
      t.deepEqual((await log.head('s')).nextOffset, 1 + 17 * 16)
    } finally {
      watch.restore()
    }
  })

  test.serial(`${backend}: write-behind runs one fdatasync at a time: a slow one is not stacked up behind while appends go on`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { sync: 'never' })
    await log.append('s', 'first')
    let release!: () => void
    const slowDisk = new Promise<void>((resolve) => (release = resolve))
    const disk = await fakeDatasync(dir, async (sync) => {
      await slowDisk // held until the test lets it go
      return sync()
    })
    try {
      await appendMiB(log, 50) // three write-behinds due while the first is still running
      t.is(disk.calls(), 1)
      release()
      await log.flush() // waits for that one, then syncs what is left itself
      t.is(disk.calls(), 2)
      await appendMiB(log, 17)
      t.is(disk.calls(), 3, 'the next write-behind starts once the first has ended')
    } finally {
      release() // whatever failed above, nothing stays held
      disk.restore()
    }
  })

  test.serial(`${backend}: a write-behind fdatasync that fails while flush() is in its own makes flush() fail, not succeed over the lost write`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { sync: 'never' })
    await log.append('s', 'first')
    // Gates instead of timers, so the order holds on a loaded machine: flush's fdatasync (call 1)
    // is entered, the write-behind's (call 2) fails while it is still in it, then flush's succeeds.
    let flushInSync!: () => void
    const flushEntered = new Promise<void>((resolve) => (flushInSync = resolve))
    let writeBehindFailed!: () => void
    const failedFirst = new Promise<void>((resolve) => (writeBehindFailed = resolve))
    const disk = await fakeDatasync(dir, async (sync, call) => {
      if (call === 1) {
        flushInSync()
        await Promise.race([failedFirst, new Promise((r) => setTimeout(r, 30_000))]) // the timer only ends a broken run
        return sync()
      }
      await new Promise((r) => setTimeout(r, 10)) // the write-behind's: the kernel hands it the error
      writeBehindFailed()
      throw eio()
    })
    try {
      const flushed = log.flush()
      await flushEntered
      await appendMiB(log, 17) // starts the write-behind, which fails first
      const err = await t.throwsAsync(flushed)
      t.is((err as { code?: string }).code, 'ERR_IO')
      t.is(disk.calls(), 2)
    } finally {
      disk.restore()
    }
  })

  test.serial(`${backend}: a failed write-behind fdatasync is not swallowed: later appends, flush() and close() fail with ERR_IO`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { sync: 'never' })
    await log.append('s', 'first')
    let failed!: () => void
    const hasFailed = new Promise<void>((resolve) => (failed = resolve))
    const disk = await fakeDatasync(dir, async () => {
      await new Promise((r) => setTimeout(r, 5)) // fails later, as a real one does
      failed()
      throw eio()
    })
    try {
      await appendMiB(log, 17)
      await hasFailed
      await new Promise((r) => setImmediate(r)) // and the engine has seen it
      disk.restore()
      const append = await t.throwsAsync(log.append('s', 'after'))
      t.is((append as { code?: string }).code, 'ERR_IO')
      t.regex(append!.message, /background fdatasync/)
      const flush = await t.throwsAsync(log.flush())
      t.is((flush as { code?: string }).code, 'ERR_IO')
    } finally {
      disk.restore()
    }
    const close = await t.throwsAsync(log.close())
    t.is((close as { code?: string }).code, 'ERR_IO')
    // The lock was released: the log reopens, with every record written before the failure.
    const again = await openLog(t, backend, dir)
    t.is((await again.head('s')).nextOffset, 1 + 17 * 16)
  })
}
