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
import { segmentFileName } from './segment-file.ts'

const STORE_FILE = 'chainlog.json'
/**
 * Format 2 (SPEC §2) is format 1 plus the batch bit, redaction and pruning: format-1 files are
 * valid format-2 files, but an engine that knows only format 1 would misread the new records,
 * so a writable open upgrades the store file before its first write.
 */
const STORE_FORMAT = 2
const READABLE_FORMATS = [1, 2]
/** A store file is a few dozen bytes; anything far larger is not ours. */
const MAX_STORE_FILE_BYTES = 64 * 1024
const HASHES: readonly HashAlgorithm[] = ['blake3', 'sha256']

export interface StoreInfo {
  format: number
  hash: HashAlgorithm
  created: string
  /** The tlog origin the store signs under (SPEC §8), once it was opened with one. */
  origin?: string
  /** Set by a restore that stopped before the archive's HEAD (SPEC §10): writable opens are refused until a new origin is given. */
  restoredBehind?: RestoredBehind
}

/**
 * chainlog.json's `restoredBehind`: the store holds an earlier point of an archive's history, so
 * appending under the archive's origin would fork it.
 */
export interface RestoredBehind {
  /** storeId of the archive (archive.json). */
  archive: string
  /** The origin the archive's store signed under, when it recorded one. */
  origin?: string
  /** Per stream cut: the restored next offset, and the archive HEAD's. */
  streams: Record<string, { nextOffset: number; archiveNextOffset: number }>
}

/**
 * Reads chainlog.json, or creates it when the store is new and writable. `hash` undefined means
 * "whatever the store uses" (blake3 for a new store); a different explicit hash is a mismatch.
 * The caller holds the LOCK when writable, so two creators cannot race.
 */
export async function openStore(storage: Storage, dir: string, opts: { hash: HashAlgorithm | undefined; readOnly: boolean; restoredBehind?: RestoredBehind }): Promise<StoreInfo> {
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
    if (info.format < STORE_FORMAT && !opts.readOnly) {
      const upgraded: StoreInfo = { ...info, format: STORE_FORMAT }
      try {
        await storage.writeFileAtomic(path, JSON.stringify(upgraded) + '\n')
      } catch (err) {
        throw ioError(err, `cannot upgrade ${path} to format ${STORE_FORMAT}`)
      }
      return upgraded
    }
    return info
  }
  if (opts.readOnly) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `readOnly: expected an existing store at ${dir} (with ${STORE_FILE}), found none`)
  }
  const info: StoreInfo = { format: STORE_FORMAT, hash: opts.hash ?? 'blake3', created: new Date().toISOString() }
  // Written with the store file itself: a restored store never opens without its mark.
  if (opts.restoredBehind !== undefined) info.restoredBehind = opts.restoredBehind
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
  if (!READABLE_FORMATS.includes(format as number)) {
    throw new ChainlogError('ERR_UNSUPPORTED', `${path}: expected format ${READABLE_FORMATS.join(' or ')}, found ${JSON.stringify(format)}`)
  }
  if (!HASHES.includes(hash as HashAlgorithm)) {
    throw new ChainlogError('ERR_UNSUPPORTED', `${path}: expected hash 'blake3' or 'sha256', found ${JSON.stringify(hash)}`)
  }
  const info: StoreInfo = { format: format as number, hash: hash as HashAlgorithm, created: typeof created === 'string' ? created : '' }
  const { origin } = value as Record<string, unknown>
  if (origin !== undefined) {
    if (typeof origin !== 'string') throw new ChainlogError('ERR_CORRUPT', `${path}: origin must be a string, found ${JSON.stringify(origin)}`)
    info.origin = origin
  }
  const { restoredBehind } = value as Record<string, unknown>
  if (restoredBehind !== undefined) {
    const r = restoredBehind as Partial<RestoredBehind> | null
    if (typeof r !== 'object' || r === null || typeof r.archive !== 'string' || typeof r.streams !== 'object' || r.streams === null || (r.origin !== undefined && typeof r.origin !== 'string')) {
      throw new ChainlogError('ERR_CORRUPT', `${path}: restoredBehind must be { archive, origin?, streams }, found ${JSON.stringify(restoredBehind).slice(0, 80)}`)
    }
    info.restoredBehind = r as RestoredBehind
  }
  return info
}

/**
 * Lifts a restored store's `restoredBehind` mark by binding it to a new origin (SPEC §10): one
 * atomic rewrite of chainlog.json, the mark gone and the origin recorded together.
 */
export async function leaveRestoredBehind(storage: Storage, dir: string, info: StoreInfo, origin: string): Promise<void> {
  const { restoredBehind: _lifted, ...rest } = info
  const path = join(dir, STORE_FILE)
  try {
    await storage.writeFileAtomic(path, JSON.stringify({ ...rest, origin }) + '\n')
  } catch (err) {
    throw ioError(err, `cannot write ${path}`)
  }
  delete info.restoredBehind
  info.origin = origin
}

/**
 * Binds the store to a tlog origin (SPEC §8: one origin per store): recorded in chainlog.json the
 * first time (atomically), ERR_STORE_MISMATCH when the store has another.
 */
export async function recordOrigin(storage: Storage, dir: string, info: StoreInfo, origin: string, readOnly: boolean): Promise<void> {
  if (info.origin === origin) return
  if (info.origin !== undefined) throw new ChainlogError('ERR_STORE_MISMATCH', `tlog.origin: the store at ${dir} signs as ${JSON.stringify(info.origin)}, the options asked for ${JSON.stringify(origin)}`)
  if (readOnly) return
  const path = join(dir, STORE_FILE)
  try {
    await storage.writeFileAtomic(path, JSON.stringify({ ...info, origin }) + '\n')
  } catch (err) {
    throw ioError(err, `cannot write ${path}`)
  }
  info.origin = origin
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

/**
 * `.clean`: the streams a writer closed cleanly (every write synced, every index and manifest
 * saved), each with its active segment and the stamps (size, times, identity) of that file and of
 * the stream's directory. close() writes it; the next writable open removes it before anything is
 * written. A stream whose files still carry those stamps is as it was left: it needs no recovery
 * and is opened on first use. Any other stream, and every stream of a store without the file (a
 * crash), is recovered at open.
 */
const CLEAN_FILE = '.clean'
/** The summary is a few dozen bytes per stream. */
const MAX_CLEAN_FILE_BYTES = 1024 * 1024 * 1024

/** How a cleanly closed stream was left. */
export interface CleanStream {
  segment: number
  segmentStamp: string
  dirStamp: string
}

/** The stamps of a stream's active segment and directory, now. */
export async function stampStream(storage: Storage, dir: string, stream: string, segment: number): Promise<CleanStream | null> {
  const streamDir = join(dir, stream)
  const [segmentStamp, dirStamp] = await Promise.all([storage.stamp(join(streamDir, segmentFileName(segment))), storage.stamp(streamDir)])
  return segmentStamp === null || dirStamp === null ? null : { segment, segmentStamp, dirStamp }
}

/** The streams of the last clean close, or null when the store was not closed cleanly (or the file is unusable). */
export async function readCleanStreams(storage: Storage, dir: string): Promise<Map<string, CleanStream> | null> {
  const path = join(dir, CLEAN_FILE)
  try {
    const size = await storage.fileSize(path)
    if (size === null || size > MAX_CLEAN_FILE_BYTES) return null
    const value = JSON.parse((await storage.readFile(path)).toString('utf8')) as { streams?: unknown }
    if (typeof value?.streams !== 'object' || value.streams === null) return null
    const out = new Map<string, CleanStream>()
    for (const [name, v] of Object.entries(value.streams as Record<string, CleanStream>)) {
      if (!isStreamName(name) || !Number.isSafeInteger(v?.segment) || typeof v.segmentStamp !== 'string' || typeof v.dirStamp !== 'string') return null
      out.set(name, { segment: v.segment, segmentStamp: v.segmentStamp, dirStamp: v.dirStamp })
    }
    return out
  } catch {
    return null // a cache: recovering every stream is always correct
  }
}

export async function writeCleanStreams(storage: Storage, dir: string, streams: Map<string, CleanStream>): Promise<void> {
  await storage.writeFileAtomic(join(dir, CLEAN_FILE), JSON.stringify({ streams: Object.fromEntries(streams) }) + '\n')
}

/** Removes `.clean` durably: after this, a crash leaves a store that open recovers stream by stream. */
export async function removeCleanStreams(storage: Storage, dir: string): Promise<void> {
  const path = join(dir, CLEAN_FILE)
  if ((await storage.fileSize(path)) === null) return
  await storage.remove(path)
  await storage.syncDir(dir)
}
