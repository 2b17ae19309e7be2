/**
 * The store directory: chainlog.json (format and hash algorithm, fixed when the store is created)
 * and discovery of the streams in it. Nothing else about a store is global.
 */
import { join } from 'node:path'
import { ChainlogError } from '../errors.ts'
import type { HashAlgorithm } from '../core/interface.ts'
import { ioError } from './durable.ts'
import type { Storage, StorageEntry } from './storage.ts'
import { isStreamName } from './stream-name.ts'

const STORE_FILE = 'chainlog.json'
const STORE_FORMAT = 1
/** A store file is a few dozen bytes; anything far larger is not ours. */
const MAX_STORE_FILE_BYTES = 64 * 1024
const HASHES: readonly HashAlgorithm[] = ['blake3', 'sha256']

export interface StoreInfo {
  format: number
  hash: HashAlgorithm
  created: string
}

/**
 * Reads chainlog.json, or creates it when the store is new and writable. `hash` undefined means
 * "whatever the store uses" (blake3 for a new store); a different explicit hash is a mismatch.
 * The caller holds the LOCK when writable, so two creators cannot race.
 */
export async function openStore(storage: Storage, dir: string, opts: { hash: HashAlgorithm | undefined; readOnly: boolean }): Promise<StoreInfo> {
  const path = join(dir, STORE_FILE)
  let text: string | null = null
  try {
    const size = await storage.fileSize(path)
    if (size !== null) {
      if (size > MAX_STORE_FILE_BYTES) {
        throw new ChainlogError('ERR_CORRUPT', `${path}: expected a small JSON store file, found ${size} bytes`)
      }
      text = (await storage.readFile(path)).toString('utf8')
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, `cannot read ${path}`)
  }
  if (text !== null) {
    const info = parseStoreFile(text, path)
    if (opts.hash !== undefined && opts.hash !== info.hash) {
      throw new ChainlogError('ERR_STORE_MISMATCH', `hash: the store at ${dir} uses ${info.hash}, the options asked for ${opts.hash}`)
    }
    return info
  }
  if (opts.readOnly) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `readOnly: expected an existing store at ${dir} (with ${STORE_FILE}), found none`)
  }
  const info: StoreInfo = { format: STORE_FORMAT, hash: opts.hash ?? 'blake3', created: new Date().toISOString() }
  await storage.makeDir(dir)
  try {
    await storage.writeFileAtomic(path, JSON.stringify(info) + '\n')
  } catch (err) {
    throw ioError(err, `cannot write ${path}`)
  }
  return info
}

function parseStoreFile(text: string, path: string): StoreInfo {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new ChainlogError('ERR_CORRUPT', `${path}: expected JSON, found ${JSON.stringify(text.slice(0, 40))}`)
  }
  if (typeof value !== 'object' || value === null) {
    throw new ChainlogError('ERR_CORRUPT', `${path}: expected a JSON object, found ${JSON.stringify(text.slice(0, 40))}`)
  }
  const { format, hash, created } = value as Record<string, unknown>
  if (format !== STORE_FORMAT) {
    throw new ChainlogError('ERR_UNSUPPORTED', `${path}: expected format ${STORE_FORMAT}, found ${JSON.stringify(format)}`)
  }
  if (!HASHES.includes(hash as HashAlgorithm)) {
    throw new ChainlogError('ERR_UNSUPPORTED', `${path}: expected hash 'blake3' or 'sha256', found ${JSON.stringify(hash)}`)
  }
  return { format: STORE_FORMAT, hash: hash as HashAlgorithm, created: typeof created === 'string' ? created : '' }
}

export function streamDirectory(dir: string, stream: string): string {
  return join(dir, stream)
}

/** Stream names with a directory in the store (anything else in the store dir is ignored). */
export async function discoverStreams(storage: Storage, dir: string): Promise<string[]> {
  let entries: StorageEntry[]
  try {
    entries = (await storage.list(dir)) ?? []
  } catch (err) {
    throw ioError(err, `cannot list the store directory ${dir}`)
  }
  return entries.filter((e) => e.isDirectory && isStreamName(e.name)).map((e) => e.name).sort()
}
