/**
 * The archive's objects (SPEC §10): their keys under the prefix and their JSON, parsed strictly
 * (an archive is input from elsewhere: a field of the wrong shape is ERR_CORRUPT naming the
 * object, never a crash).
 *
 *   archive.json                 { format, storeId, hash, created, origin? }
 *   <stream>/seg/<N>.log         a sealed segment, byte-identical
 *   <stream>/seg/<N>.json        SegmentMeta
 *   <stream>/seg/<N>.log.idx     its offset index
 *   <stream>/seg/<N>.<gen>.log, .json, .log.idx   the same after a redaction rewrote it (generation <gen>, named by HEAD)
 *   <stream>/tail/<N>/<from>-<to> synced bytes [from, to) of the active segment N
 *   <stream>/tail/<N>.<gen>/<from>-<to> the same, re-shipped from 0 after a redaction (generation <gen>, named by HEAD)
 *   <stream>/dict/<id>.zdict     a zstd dictionary of the stream, byte-identical (before any record using it)
 *   <stream>/dict/<id>.json      DictionaryMeta (after its file: the listing)
 *   <stream>/HEAD.json           ArchiveHead (If-Match)
 */
import { ChainlogError } from '../errors.ts'
import type { HashAlgorithm } from '../core/interface.ts'

export const ARCHIVE_FORMAT = 2
export const ARCHIVE_FILE = 'archive.json'
/** Written and removed by the conditional-write probe at start; no stream name starts with '.'. */
export const PROBE_PREFIX = '.probe-'

export interface ArchiveInfo {
  format: number
  storeId: string
  hash: HashAlgorithm
  created: string
  origin?: string
}

export interface SegmentMeta {
  num: number
  firstOffset: number
  nextOffset: number
  size: number
  /** prev_hash of the segment's first record, hex. */
  firstPrevHash: string
  /** Chain hash of its last record, hex. */
  lastHash: string
  lastTimestamp: number
  /** SHA-256 of the segment's bytes, hex. */
  sha256: string
}

export interface ArchiveHead {
  storeId: string
  /** Offset after the last archived record. */
  nextOffset: number
  /** Chain hash of the record before nextOffset (zeros when none), hex. */
  hash: string
  /** Numbers of the sealed segments archived whole, ascending from 0. */
  sealed: number[]
  /** The active segment's archived bytes [0, end), and their generation when a redaction re-shipped them; null when none. */
  tail: { num: number; end: number; gen?: string } | null
  /** Sealed segments re-uploaded after a redaction: segment number → generation in their keys (absent: the original keys). */
  generations?: Record<string, string>
  /** Timestamp of the record before nextOffset (0 when none): lets a restore to a time skip streams. */
  lastTimestamp: number
  /** The latest signed checkpoint note, when the store signs (the trust issue fills it). */
  note?: string
  /** Increases by one with every put. */
  seq: number
}

/** A generation's part of a key: none for the original upload, `.<gen>` after a redaction. */
const genPart = (gen: string | undefined) => (gen === undefined ? '' : `.${gen}`)
export const segmentKey = (stream: string, num: number, gen?: string) => `${stream}/seg/${num}${genPart(gen)}.log`
export const segmentMetaKey = (stream: string, num: number, gen?: string) => `${stream}/seg/${num}${genPart(gen)}.json`
export const segmentIndexKey = (stream: string, num: number, gen?: string) => `${stream}/seg/${num}${genPart(gen)}.log.idx`
export const tailFolder = (stream: string, num: number, gen?: string) => `${stream}/tail/${num}${genPart(gen)}/`
export const tailKey = (stream: string, num: number, from: number, to: number, gen?: string) => `${tailFolder(stream, num, gen)}${from}-${to}`
/** The generation HEAD names for sealed segment `num` (undefined: the original keys). */
export const sealedGeneration = (head: ArchiveHead, num: number): string | undefined => head.generations?.[String(num)]
/** A generation: `g<seq>-<8 hex>`, the seq of the HEAD that first names it and a random part, so an attempt cut short never collides with a later one. */
const GENERATION = /^g\d{1,15}-[0-9a-f]{8}$/
export const headKey = (stream: string) => `${stream}/HEAD.json`
export const dictionaryFolder = (stream: string) => `${stream}/dict/`
export const dictionaryKey = (stream: string, id: number) => `${stream}/dict/${id}.zdict`
export const dictionaryMetaKey = (stream: string, id: number) => `${stream}/dict/${id}.json`

/** A shipped dictionary's listing: its entry of the stream's dictionaries.json, and its place in that list. */
export interface DictionaryMeta {
  id: number
  bytes: number
  /** Hex of the store's hash of the file's bytes (as dictionaries.json). */
  hash: string
  /** Index in the stream's list (the last one is the one new records use). */
  position: number
}

export function parseDictionaryMeta(bytes: Buffer, what: string, id: number): DictionaryMeta {
  const o = parseJson(bytes, what)
  for (const f of ['id', 'bytes', 'position']) if (!isCount(o[f])) throw bad(what, f, o[f])
  if (o.id !== id) throw bad(what, 'id', o.id)
  if (typeof o.hash !== 'string' || !HEX32.test(o.hash)) throw bad(what, 'hash', o.hash)
  return o as unknown as DictionaryMeta
}

/** A tail chunk's [from, to) from its key's last part; null when the key is not one. */
export function tailRange(key: string): { from: number; to: number } | null {
  const m = /\/(\d{1,15})-(\d{1,15})$/.exec(key)
  if (m === null) return null
  const from = Number(m[1])
  const to = Number(m[2])
  return to > from ? { from, to } : null
}

const HEX32 = /^[0-9a-f]{64}$/
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new ChainlogError('ERR_CORRUPT', `${what}: not JSON (${(err as Error).message})`, { cause: err })
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ChainlogError('ERR_CORRUPT', `${what}: expected a JSON object`)
  return v as Record<string, unknown>
}

function bad(what: string, field: string, v: unknown): ChainlogError {
  return new ChainlogError('ERR_CORRUPT', `${what}: field ${field} is ${JSON.stringify(v)?.slice(0, 80)}, not what the archive format allows`)
}

export function parseArchiveInfo(bytes: Buffer, what: string): ArchiveInfo {
  const o = parseJson(bytes, what)
  if (o.format !== ARCHIVE_FORMAT && o.format !== 1) {
    throw new ChainlogError('ERR_UNSUPPORTED', `${what}: archive format ${JSON.stringify(o.format)} is not one this chainlog reads (${ARCHIVE_FORMAT})`)
  }
  if (typeof o.storeId !== 'string' || !/^[0-9a-f]{32}$/.test(o.storeId)) throw bad(what, 'storeId', o.storeId)
  if (o.hash !== 'blake3' && o.hash !== 'sha256') throw bad(what, 'hash', o.hash)
  if (typeof o.created !== 'string') throw bad(what, 'created', o.created)
  if (o.origin !== undefined && typeof o.origin !== 'string') throw bad(what, 'origin', o.origin)
  return o as unknown as ArchiveInfo
}

export function parseSegmentMeta(bytes: Buffer, what: string, num: number): SegmentMeta {
  const o = parseJson(bytes, what)
  for (const f of ['num', 'firstOffset', 'nextOffset', 'size', 'lastTimestamp']) if (!isCount(o[f])) throw bad(what, f, o[f])
  for (const f of ['firstPrevHash', 'lastHash', 'sha256']) if (typeof o[f] !== 'string' || !HEX32.test(o[f] as string)) throw bad(what, f, o[f])
  if (o.num !== num) throw bad(what, 'num', o.num)
  if ((o.nextOffset as number) <= (o.firstOffset as number)) throw bad(what, 'nextOffset', o.nextOffset)
  return o as unknown as SegmentMeta
}

export function parseHead(bytes: Buffer, what: string): ArchiveHead {
  const o = parseJson(bytes, what)
  if (typeof o.storeId !== 'string') throw bad(what, 'storeId', o.storeId)
  for (const f of ['nextOffset', 'seq', 'lastTimestamp']) if (!isCount(o[f])) throw bad(what, f, o[f])
  if (typeof o.hash !== 'string' || !HEX32.test(o.hash)) throw bad(what, 'hash', o.hash)
  const sealed = o.sealed
  if (!Array.isArray(sealed) || !sealed.every((n, i) => n === i)) throw bad(what, 'sealed', sealed)
  const tail = o.tail as ArchiveHead['tail']
  if (tail !== null && (typeof tail !== 'object' || !isCount(tail.num) || !isCount(tail.end) || tail.num !== sealed.length)) throw bad(what, 'tail', tail)
  if (tail !== null && tail.gen !== undefined && (typeof tail.gen !== 'string' || !GENERATION.test(tail.gen))) throw bad(what, 'tail', tail)
  const generations = o.generations
  if (generations !== undefined) {
    if (typeof generations !== 'object' || generations === null || Array.isArray(generations)) throw bad(what, 'generations', generations)
    for (const [num, gen] of Object.entries(generations)) {
      if (!/^\d{1,15}$/.test(num) || Number(num) >= sealed.length || typeof gen !== 'string' || !GENERATION.test(gen)) throw bad(what, 'generations', generations)
    }
  }
  if (o.note !== undefined && typeof o.note !== 'string') throw bad(what, 'note', o.note)
  return o as unknown as ArchiveHead
}

export const toJson = (v: unknown): Buffer => Buffer.from(`${JSON.stringify(v)}\n`)
