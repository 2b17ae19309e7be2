import test from 'ava'
import { mkdirSync, promises as fsp, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'

type Open = typeof fsp.open
type Sync = () => Promise<void>

/** Records the paths of the file handles fsynced (FileHandle.sync) until restore(). */
function watchSyncs(): { synced: string[]; restore: () => void } {
  const synced: string[] = []
  const paths = new WeakMap<object, string>()
  const originalOpen = fsp.open
  let proto: { sync: Sync } | null = null
  let originalSync: Sync | null = null
  fsp.open = (async (path: Parameters<Open>[0], ...rest: unknown[]) => {
    const h = await (originalOpen as (...a: unknown[]) => ReturnType<Open>)(path, ...rest)
    paths.set(h, String(path))
    if (proto === null) {
      proto = Object.getPrototypeOf(h) as { sync: Sync }
      originalSync = proto.sync
      proto.sync = function (this: object) {
        synced.push(paths.get(this) ?? '?')
        return originalSync!.call(this)
      }
    }
    return h
  }) as Open
  return {
    synced,
    restore: () => {
      fsp.open = originalOpen
      if (proto !== null) proto.sync = originalSync!
    },
  }
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: a stream directory left by an earlier failed create has its entry fsynced in the store before the first append is acknowledged`, async (t) => {
    if (process.platform === 'win32') return t.pass('no directory fsync on Windows')
    const dir = realpathSync(tempDir(t))
    const first = await Log.open(dir, { backend })
    await first.close()
    mkdirSync(join(dir, 's')) // made by a create that failed before fsyncing the store directory
    const log = await openLog(t, backend, dir)
    const watch = watchSyncs()
    try {
      await log.append('s', 'x')
    } finally {
      watch.restore()
    }
    t.true(watch.synced.includes(dir), `fsynced: ${watch.synced.join(', ')}`)
  })
}
