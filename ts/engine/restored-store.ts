/**
 * A store restored to an earlier point than its archive's HEAD (SPEC §10; restore writes the
 * `restoredBehind` mark into chainlog.json). Appending to it under the archive's origin would
 * make a second history with the same names and offsets as the archived one — a fork — so a
 * writable open is refused (ERR_READ_ONLY) unless Log.open is given a tlog origin other than the
 * archive's: then the mark is lifted and the store carries on as a new log under that origin.
 */
import { ChainlogError } from '../errors.ts'
import { leaveRestoredBehind, type StoreInfo } from '../storage/store.ts'
import type { Storage } from '../storage/storage.ts'
import { checkOrigin } from '../tlog/checkpoint.ts'
import type { TlogOptions } from '../types.ts'

/** Refuses a writable open of a marked store, or lifts the mark when a new origin is given. */
export async function admitRestoredStore(storage: Storage, dir: string, info: StoreInfo, tlog: TlogOptions | null, readOnly: boolean): Promise<void> {
  const mark = info.restoredBehind
  if (mark === undefined || readOnly) return
  if (tlog !== null) {
    const origin = checkOrigin(tlog.origin)
    if (origin !== mark.origin) {
      await leaveRestoredBehind(storage, dir, info, origin)
      return
    }
  }
  const cuts = Object.entries(mark.streams).map(([s, c]) => `${s} at offset ${c.nextOffset} of ${c.archiveNextOffset}`).join(', ')
  throw new ChainlogError(
    'ERR_READ_ONLY',
    `the store at ${dir} was restored to an earlier point than its archive's HEAD (${cuts || 'no stream'}); appending would fork the archive. ` +
      `Open it with readOnly: true to read and verify it, or give it a new origin to append as a new log: Log.open(dir, { tlog: { origin: '<new origin>', signer } })` +
      (mark.origin !== undefined ? ` (not ${JSON.stringify(mark.origin)}, the archive's)` : '') + `, or \`chainlog archive fork ${dir} <new origin>\``,
    { restoredBehind: mark },
  )
}
