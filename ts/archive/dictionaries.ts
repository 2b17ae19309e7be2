/**
 * A stream's zstd dictionaries (SPEC §2, form 4) in the archive. The archiver ships each listed
 * dictionary once — its file, then its listing (`<stream>/dict/<id>.json`), both immutable —
 * in the pass that first sees it in dictionaries.json, before that pass's segments and tail:
 * the engine lists a dictionary durably before any record uses it, and the archiver reads the
 * list before the synced end, so no shipped record needs a dictionary the archive lacks.
 * Readers (restore, ArchiveReader) load the archived ones into the core, after checking each
 * file's size and hash against its listing, before they scan or decode the stream's records.
 */
import { ChainlogError } from '../errors.ts'
import type { ChainlogCore, HashAlgorithm } from '../core/interface.ts'
import { type DictionaryEntry, dictionaryFileName, readDictionaryFile, readDictionaryList } from '../storage/dictionary-files.ts'
import type { Storage } from '../storage/storage.ts'
import type { ChunkShipper } from './chunk-shipper.ts'
import { type DictionaryMeta, dictionaryFolder, dictionaryKey, dictionaryMetaKey, parseDictionaryMeta, toJson } from './layout.ts'
import type { ObjectStore } from './s3.ts'

/** Ships the stream's listed dictionaries not in `shipped` (IDs, updated as they go). */
export async function shipDictionaries(storage: Storage, core: ChainlogCore, hash: HashAlgorithm, stream: string, streamDir: string, shipper: ChunkShipper, shipped: Set<number>): Promise<void> {
  const read = await readDictionaryList(storage, streamDir)
  if (read.problem !== null) throw new ChainlogError('ERR_CORRUPT', `stream ${stream}: its dictionary list cannot be shipped: ${read.problem}`, { stream })
  for (const [position, entry] of read.list.entries()) {
    if (shipped.has(entry.id)) continue
    const { bytes, problem } = await readDictionaryFile(storage, streamDir, entry)
    if (bytes === null || core.commitment(hash, bytes).toString('hex') !== entry.hash) {
      throw new ChainlogError('ERR_CORRUPT', `stream ${stream}: zstd dictionary ${entry.id} cannot be shipped: ${problem ?? `${entry.file} is damaged (its hash differs from the list's)`}`, { stream })
    }
    const meta: DictionaryMeta = { id: entry.id, bytes: entry.bytes, hash: entry.hash, position }
    await shipper.putImmutable(dictionaryKey(stream, entry.id), bytes, `zstd dictionary ${entry.id}`)
    await shipper.putImmutable(dictionaryMetaKey(stream, entry.id), toJson(meta), `listing of zstd dictionary ${entry.id}`)
    shipped.add(entry.id)
  }
}

/** A dictionary read back from the archive and loaded into the core. */
export interface ArchivedDictionary {
  entry: DictionaryEntry
  bytes: Buffer
}

/**
 * Loads the stream's archived dictionaries into `core` (each listing's file checked for size and
 * hash; damage is ERR_CORRUPT naming the stream), in list order. `release()` unloads them.
 */
export async function loadArchivedDictionaries(objects: ObjectStore, core: ChainlogCore, hash: HashAlgorithm, stream: string): Promise<{ list: ArchivedDictionary[]; release: () => void }> {
  const { keys } = await objects.list(dictionaryFolder(stream))
  const ids = keys.map((k) => /\/dict\/(\d{1,10})\.json$/.exec(k.key)).filter((m) => m !== null).map((m) => Number(m[1]))
  const loaded: number[] = []
  const release = () => {
    for (const id of loaded.splice(0)) core.unloadDictionary(id)
  }
  const fail = (id: number, why: string) => new ChainlogError('ERR_CORRUPT', `${objects.url}: stream ${stream}: zstd dictionary ${id}: ${why}`, { stream })
  const found: Array<ArchivedDictionary & { position: number }> = []
  try {
    for (const id of ids) {
      const metaObj = await objects.get(dictionaryMetaKey(stream, id))
      if (metaObj === null) continue // listed by the LIST, gone since: nothing to load
      const meta = parseDictionaryMeta(metaObj.body, `${objects.url}/${dictionaryMetaKey(stream, id)}`, id)
      const file = await objects.get(dictionaryKey(stream, id))
      if (file === null) throw fail(id, `${dictionaryKey(stream, id)} is missing (its listing is there)`)
      if (file.body.length !== meta.bytes || core.commitment(hash, file.body).toString('hex') !== meta.hash) throw fail(id, `${dictionaryKey(stream, id)} differs from its listing (size or hash)`)
      let loadedId: number
      try {
        loadedId = core.loadDictionary(file.body)
      } catch (err) {
        throw fail(id, `the core refuses it (${(err as Error).message})`)
      }
      loaded.push(loadedId)
      if (loadedId !== id) throw fail(id, `${dictionaryKey(stream, id)} holds dictionary ${loadedId}`)
      found.push({ entry: { id, file: dictionaryFileName(id), bytes: meta.bytes, hash: meta.hash }, bytes: file.body, position: meta.position })
    }
  } catch (err) {
    release()
    throw err
  }
  found.sort((a, b) => a.position - b.position)
  return { list: found.map(({ entry, bytes }) => ({ entry, bytes })), release }
}
