/**
 * Opening an archive for writing (SPEC §10): the server must honour conditional writes (checked
 * with a probe object, since a server that ignores them would turn "refused" into
 * "overwritten"), and the prefix must hold this store's archive.json or nothing at all.
 */
import { randomBytes } from 'node:crypto'
import { ChainlogError } from '../errors.ts'
import type { HashAlgorithm } from '../core/interface.ts'
import { ARCHIVE_FILE, ARCHIVE_FORMAT, type ArchiveInfo, parseArchiveInfo, PROBE_PREFIX, toJson } from './layout.ts'
import type { ObjectAccess, ObjectStore } from './s3.ts'

/** Fails with ERR_UNSUPPORTED unless the server refuses a second If-None-Match:* and a stale If-Match. */
export async function checkConditionalWrites(objects: ObjectAccess): Promise<void> {
  const key = `${PROBE_PREFIX}${randomBytes(8).toString('hex')}`
  try {
    const first = await objects.put(key, Buffer.from('probe 1\n'), { ifNoneMatch: true })
    if (first === null) throw new ChainlogError('ERR_IO', `${objects.url}: the conditional-write probe ${key} was refused on its first write`)
    const again = await objects.put(key, Buffer.from('probe 2\n'), { ifNoneMatch: true })
    if (again !== null) {
      throw new ChainlogError('ERR_UNSUPPORTED', `${objects.url}: the server overwrote an object despite If-None-Match: * (expected 412); an archive there could be overwritten by a second writer`)
    }
    const stale = await objects.put(key, Buffer.from('probe 3\n'), { ifMatch: '"00000000000000000000000000000000"' })
    if (stale !== null) {
      throw new ChainlogError('ERR_UNSUPPORTED', `${objects.url}: the server accepted a write with a stale If-Match (expected 412); an archive there could be overwritten by a second writer`)
    }
  } finally {
    await objects.remove(key).catch(() => {}) // a leftover probe is harmless: readers skip '.probe-' keys
  }
}

/**
 * The archive's archive.json: read, or created (If-None-Match: *) in an empty prefix, with the store's tlog origin when it has one. A prefix
 * holding other objects and no archive.json is not a chainlog archive: ERR_INVALID_ARGUMENT.
 */
export async function openArchiveInfo(objects: ObjectAccess, hash: HashAlgorithm, origin: string | undefined): Promise<ArchiveInfo> {
  for (let attempt = 0; ; attempt++) {
    const found = await objects.get(ARCHIVE_FILE)
    if (found !== null) {
      const info = parseArchiveInfo(found.body, `${objects.url}/${ARCHIVE_FILE}`)
      if (info.hash !== hash) {
        throw new ChainlogError('ERR_STORE_MISMATCH', `${objects.url}: the archive's chain hash is ${info.hash}, this store's is ${hash}`)
      }
      return info
    }
    if (attempt > 0) throw new ChainlogError('ERR_IO', `${objects.url}: ${ARCHIVE_FILE} exists (a write was refused) but cannot be read`)
    const { keys } = await objects.list('')
    const others = keys.filter((k) => !k.key.startsWith(PROBE_PREFIX))
    if (others.length > 0) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `${objects.url}: not a chainlog archive (no ${ARCHIVE_FILE}, but ${others.length} other objects, such as ${others[0].key}); use an empty prefix`)
    }
    // The origin the store signs under, so a store restored to an earlier point knows which origin would fork it.
    const info: ArchiveInfo = { format: ARCHIVE_FORMAT, storeId: randomBytes(16).toString('hex'), hash, ...(origin === undefined ? {} : { origin }), created: new Date().toISOString() }
    if ((await objects.put(ARCHIVE_FILE, toJson(info), { ifNoneMatch: true })) !== null) return info
    // Another archiver created it meanwhile: read theirs.
  }
}

/** archive.json of an existing archive (readers, restore): ERR_INVALID_ARGUMENT when there is none. */
export async function readArchiveInfo(objects: ObjectStore): Promise<ArchiveInfo> {
  const found = await objects.get(ARCHIVE_FILE)
  if (found === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `${objects.url}: not a chainlog archive (no ${ARCHIVE_FILE})`)
  return parseArchiveInfo(found.body, `${objects.url}/${ARCHIVE_FILE}`)
}
