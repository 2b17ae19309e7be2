/**
 * A stream's zstd dictionaries on disk (docs/format.md §2, "Dictionaries"): each dictionary in
 * an immutable file of its own, `dictionary-<id>.zdict`, and their list, `dictionaries.json`
 * (`{"dictionaries":[{"id","file","bytes","hash"}, …]}`, the last one in use for new records,
 * `hash` the store's hash of the file's bytes). Unlike the manifest, the list is not a cache: it
 * is what says that a file is whole. Both are written atomically and durably (temporary file,
 * fsync, rename, directory fsync), the dictionary file before the list that names it.
 */
import { join } from 'node:path'
import type { Storage } from './storage.ts'

const DICTIONARY_LIST_FILE = 'dictionaries.json'
/** A list of more is damage (a stream trains a handful of dictionaries in its life). */
const MAX_DICTIONARIES = 1024
const MAX_LIST_BYTES = 256 * 1024

export interface DictionaryEntry {
  id: number
  file: string
  bytes: number
  /** Hex of the store's hash (chainlog.json) of the file's bytes. */
  hash: string
}

export type DictionaryListRead = { list: DictionaryEntry[]; problem: null } | { list: null; problem: string }

export function dictionaryFileName(id: number): string {
  return `dictionary-${id}.zdict`
}

function entryProblem(e: unknown): string | null {
  if (e === null || typeof e !== 'object') return 'an entry is not an object'
  const { id, file, bytes, hash } = e as Record<string, unknown>
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 0xffffffff) return `bad id ${JSON.stringify(id)}`
  if (file !== dictionaryFileName(id)) return `dictionary ${id} must be in ${dictionaryFileName(id)}, found ${JSON.stringify(file)}`
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0) return `dictionary ${id}: bad size ${JSON.stringify(bytes)}`
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return `dictionary ${id}: bad hash ${JSON.stringify(hash)}`
  return null
}

/** The stream's dictionary list: empty when it has none; a problem when the list is unreadable. */
export async function readDictionaryList(storage: Storage, streamDir: string): Promise<DictionaryListRead> {
  const path = join(streamDir, DICTIONARY_LIST_FILE)
  let text: string
  try {
    const size = await storage.fileSize(path)
    if (size === null) return { list: [], problem: null }
    if (size > MAX_LIST_BYTES) return { list: null, problem: `${path}: ${size} bytes, expected at most ${MAX_LIST_BYTES}` }
    text = (await storage.readFile(path)).toString('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { list: [], problem: null }
    return { list: null, problem: `${path}: cannot read: ${(err as Error).message}` }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { list: null, problem: `${path}: expected JSON, found ${JSON.stringify(text.slice(0, 40))}` }
  }
  const list = (value as { dictionaries?: unknown } | null)?.dictionaries
  if (!Array.isArray(list) || list.length > MAX_DICTIONARIES) return { list: null, problem: `${path}: expected {"dictionaries": [at most ${MAX_DICTIONARIES} entries]}` }
  for (const e of list) {
    const problem = entryProblem(e)
    if (problem !== null) return { list: null, problem: `${path}: ${problem}` }
  }
  return { list: list as DictionaryEntry[], problem: null }
}

/** A dictionary file's bytes; null when it is missing (or cannot be read: `problem`). */
export async function readDictionaryFile(storage: Storage, streamDir: string, entry: DictionaryEntry): Promise<{ bytes: Buffer | null; problem: string | null }> {
  const path = join(streamDir, entry.file)
  try {
    const size = await storage.fileSize(path)
    if (size === null) return { bytes: null, problem: `${path} is missing` }
    if (size !== entry.bytes) return { bytes: null, problem: `${path} is ${size} bytes, ${DICTIONARY_LIST_FILE} says ${entry.bytes}` }
    return { bytes: await storage.readFile(path), problem: null }
  } catch (err) {
    return { bytes: null, problem: `${path}: cannot read: ${(err as Error).message}` }
  }
}

/**
 * Stores a new dictionary: its file first, then the list with it appended, each durable before
 * the call returns. A crash in between leaves an unlisted file (ignored) or the old list.
 */
export async function saveDictionary(storage: Storage, streamDir: string, list: readonly DictionaryEntry[], entry: DictionaryEntry, bytes: Uint8Array): Promise<void> {
  await storage.writeFileAtomic(join(streamDir, entry.file), bytes)
  const next = [...list.filter((e) => e.id !== entry.id), entry]
  await storage.writeFileAtomic(join(streamDir, DICTIONARY_LIST_FILE), `${JSON.stringify({ dictionaries: next })}\n`)
}
