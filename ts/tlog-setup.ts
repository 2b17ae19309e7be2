/**
 * Log.open's `tlog` option (SPEC §8): the origin checked and bound to the store, the signer key
 * read (a key file must lie outside the store), the state file read and compared with the store
 * so that a store rolled back behind the writer's back is refused at open.
 */
import { isAbsolute, relative, resolve as resolvePath } from 'node:path'
import { ChainlogError } from './errors.ts'
import { TlogSigner } from './engine/tlog-signer.ts'
import type { StreamSet } from './engine/stream-set.ts'
import { diskStorage } from './storage/disk-storage.ts'
import { ioError } from './storage/durable.ts'
import { MIN_OPEN_FILES } from './storage/open-files.ts'
import { TlogStateFile } from './storage/state-file.ts'
import type { Storage } from './storage/storage.ts'
import { recordOrigin, type StoreInfo } from './storage/store.ts'
import { TileFiles } from './storage/tile-files.ts'
import { checkOrigin, parseCheckpoint } from './tlog/checkpoint.ts'
import { parseNote } from './tlog/note.ts'
import type { TlogOptions } from './types.ts'

const SIGNER_KEY_PREFIX = 'PRIVATE+KEY+'
/** A signer key is about a hundred bytes. */
const MAX_KEY_FILE_BYTES = 64 * 1024

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

/** The signer and state file of a store opened with `tlog`; null without it. */
export async function openTlog(storage: Storage, root: string, info: StoreInfo, o: TlogOptions | null, readOnly: boolean): Promise<{ signer: TlogSigner; state: TlogStateFile | null } | null> {
  if (o === null) return null
  const origin = checkOrigin(o.origin)
  const disk = diskStorage(MIN_OPEN_FILES)
  let key = o.signer
  if (typeof key === 'string' && !key.startsWith(SIGNER_KEY_PREFIX)) {
    const path = resolvePath(key)
    if (storage.kind === 'disk' && inside(root, path)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `tlog.signer: the key file ${path} lies inside the store; keep it elsewhere`)
    let size: number | null
    try {
      size = await disk.fileSize(path)
      if (size !== null && size <= MAX_KEY_FILE_BYTES) key = (await disk.readFile(path)).toString('utf8').trim()
    } catch (err) {
      throw ioError(err, `cannot read the tlog key file ${path}`)
    }
    if (size === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `tlog.signer: expected a signer key or a key file, ${path} does not exist`)
    if (size > MAX_KEY_FILE_BYTES) throw new ChainlogError('ERR_INVALID_ARGUMENT', `tlog.signer: ${path} is ${size} bytes, not a signer key file`)
  }
  const signer = TlogSigner.from(origin, key)
  await recordOrigin(storage, root, info, origin, readOnly)
  let state: TlogStateFile | null = null
  if (o.stateFile !== undefined) {
    const path = resolvePath(o.stateFile)
    if (storage.kind === 'disk' && inside(root, path)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `tlog.stateFile: ${path} lies inside the store; keep it elsewhere`)
    state = await TlogStateFile.open(disk, path, origin)
  }
  return { signer, state }
}

/**
 * ERR_CHAIN_BROKEN when a stream holds fewer records, or its `<stream>/checkpoint` an older note,
 * than the state file says were published: the store was rolled back.
 */
export async function checkRollback(storage: Storage, streams: StreamSet, state: TlogStateFile): Promise<void> {
  for (const name of state.streams()) {
    const kept = state.get(name)!
    const s = await streams.wake(name)
    const records = s?.nextOffset ?? 0
    if (records < kept.size) {
      throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${name}: a note for ${kept.size} records was published, the store holds ${records} (rolled back?)`, { stream: name, offset: records })
    }
    const text = s === undefined ? null : await new TileFiles(storage, s.dir).readPublished()
    let size = -1
    try {
      if (text !== null) size = parseCheckpoint(parseNote(text).text).size
    } catch {
      size = -1
    }
    if (size < kept.size) {
      throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${name}: the state file kept a note for ${kept.size} records, the store's checkpoint file ${size < 0 ? 'has none' : `is for ${size}`} (rolled back?)`, { stream: name })
    }
  }
}
