/**
 * forkRestored(dir, origin): the opt-in that lets a store restored to an earlier point than its
 * archive's HEAD be appended to (SPEC §10), for stores that do not sign. It binds the store to
 * `origin` (which must differ from the archive's) and lifts the `restoredBehind` mark in one
 * atomic rewrite of chainlog.json; from then on the store is a new log, to be archived under a new
 * prefix (its old archive's HEAD is not on its chain: ERR_ARCHIVE_CONFLICT there).
 */
import { resolve as resolvePath } from 'node:path'
import { ChainlogError, describe } from '../errors.ts'
import { diskStorage } from '../storage/disk-storage.ts'
import { MIN_OPEN_FILES } from '../storage/open-files.ts'
import { leaveRestoredBehind, openStore } from '../storage/store.ts'
import { checkOrigin } from '../tlog/checkpoint.ts'

/** Gives a store restored behind its archive a new origin so it opens writable; ERR_INVALID_ARGUMENT when it is not such a store or the origin is the archive's. */
export async function forkRestored(dir: string, origin: string): Promise<void> {
  if (typeof dir !== 'string' || dir.length === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a non-empty path string, got ${describe(dir)}`)
  if (typeof origin !== 'string') throw new ChainlogError('ERR_INVALID_ARGUMENT', `origin: expected a string, got ${describe(origin)}`)
  const checked = checkOrigin(origin)
  const root = resolvePath(dir)
  const storage = diskStorage(MIN_OPEN_FILES)
  await openStore(storage, root, { hash: undefined, readOnly: true }) // no store there: ERR_INVALID_ARGUMENT, before any LOCK is made
  const lock = await storage.lock(root)
  try {
    const info = await openStore(storage, root, { hash: undefined, readOnly: true })
    const mark = info.restoredBehind
    if (mark === undefined) throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: the store at ${root} was not restored to an earlier point than its archive; it opens writable as it is`)
    if (checked === mark.origin) throw new ChainlogError('ERR_INVALID_ARGUMENT', `origin: ${JSON.stringify(checked)} is the archive's origin; a fork needs a new one`)
    if (info.origin !== undefined && info.origin !== checked) throw new ChainlogError('ERR_STORE_MISMATCH', `origin: the store at ${root} is bound to ${JSON.stringify(info.origin)}`)
    await leaveRestoredBehind(storage, root, info, checked)
  } finally {
    await lock.release()
  }
}
