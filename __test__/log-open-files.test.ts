// The store's open-file budget (maxOpenFiles): any number of streams within the process's limit.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'

const MANY = fileURLToPath(new URL('./helpers/many-streams.ts', import.meta.url))
const openFds = () => readdirSync('/proc/self/fd').length

/** Runs the many-streams child under `ulimit -n <limit>`. */
function manyStreams(dir: string, backend: string, streams: number, limit: number, budget?: number) {
  const args = [`--import=${import.meta.resolve('tsx')}`, MANY, dir, backend, String(streams), ...(budget === undefined ? [] : [String(budget)])]
  const cmd = `ulimit -n ${limit} && exec "${process.execPath}" ${args.map((a) => `'${a}'`).join(' ')}`
  return spawnSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: 600_000 })
}

for (const backend of BACKENDS) {
  test(`${backend}: under ulimit -n 256, 5,000 streams appended to concurrently (sync 'always' and 'never' mixed) read back, close, reopen and verify with no EMFILE`, async (t) => {
    const dir = tempDir(t, 'many')
    const r = manyStreams(dir, backend, 5000, 256)
    t.is(r.status, 0, `${r.stderr.slice(-2000)}`)
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
    t.true(out.ok)
    t.is(out.streams, 5000)
    t.is(out.readBack, 10_000)
    t.is(out.reopened, 10_000)
    t.true(out.peakFds <= 256, `peak ${out.peakFds} descriptors`)
    t.log(`peak descriptors ${out.peakFds} (default budget under a soft limit of 256)`)
  })

  test.serial(`${backend}: a budget of 8 descriptors serves 300 streams; the store holds at most 8 of its own at once`, async (t) => {
    const dir = tempDir(t, 'budget')
    const before = openFds()
    const log = await openLog(t, backend, dir, { maxOpenFiles: 8, maxSegmentBytes: 600, checkpointEvery: 3 })
    const storage = (log as unknown as { ctx: { storage: { openFiles: { open: number; peak: number } } } }).ctx.storage
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(`s${i}`, [`a${i}`, `b${i}`], { sync: i % 2 === 0 ? 'always' : 'never' })))
    for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(`s${i}`, `r${round}-${i}`)))
    t.true(storage.openFiles.peak <= 8, `peak ${storage.openFiles.peak}`)
    t.true(openFds() - before <= 8 + 2, `${openFds() - before} more descriptors open in this process`)
    for (let i = 0; i < 300; i += 37) {
      t.deepEqual((await log.read(`s${i}`)).map((r) => r.payload.toString()), [`a${i}`, `b${i}`, `r0-${i}`, `r1-${i}`, `r2-${i}`])
    }
    t.true((await log.verify()).ok)
    await log.close()
    t.is(storage.openFiles.open, 0)
    const again = await openLog(t, backend, dir, { maxOpenFiles: 8 })
    t.is((await again.streams()).length, 300)
    t.true((await again.verify()).ok)
  })

  test.serial(`${backend}: a descriptor closed for the budget is fdatasynced first, and a failure there is not lost: the stream's next write fails with ERR_IO`, async (t) => {
    const dir = tempDir(t, 'evict')
    const log = await openLog(t, backend, dir, { maxOpenFiles: 8, sync: 'never' })
    await log.append('victim', 'written, not synced')
    // Make the victim's descriptor the least recently used, and have fdatasync fail from now on.
    const { promises: fsp } = await import('node:fs')
    const probe = await fsp.open(dir + '/chainlog.json', 'r')
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
    await probe.close()
    const original = proto.datasync
    let failed = 0
    proto.datasync = async () => {
      failed++
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
    }
    try {
      // Other streams need descriptors: the victim's is closed, after an fdatasync that fails.
      for (let i = 0; i < 20; i++) await log.append(`other${i}`, 'x').catch(() => {})
    } finally {
      proto.datasync = original
    }
    t.true(failed > 0, 'an fdatasync ran before a descriptor with unsynced writes was closed')
    const err = await t.throwsAsync(log.append('victim', 'after'))
    t.is(codeOf(err), 'ERR_IO')
  })

  test(`${backend}: maxOpenFiles below the engine's minimum, or not an integer, is ERR_INVALID_ARGUMENT at open`, async (t) => {
    for (const bad of [0, 7, -1, 1.5, '64', Number.NaN]) {
      const err = await t.throwsAsync(Log.open(tempDir(t), { backend, maxOpenFiles: bad as number }))
      t.is(codeOf(err), 'ERR_INVALID_ARGUMENT', `maxOpenFiles ${String(bad)}`)
      t.regex(err!.message, /maxOpenFiles/)
    }
    const mem = await Log.memory({ backend, maxOpenFiles: 8 })
    await mem.close()
  })
}
