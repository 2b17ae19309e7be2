/**
 * The public option and result types (SPEC §3) and their validation. Every bad option or argument
 * is ERR_INVALID_ARGUMENT saying what was expected and what was found; nothing is coerced.
 */
import { ChainlogError } from './errors.ts'
import { CODEC_LZ4, CODEC_NONE, CODEC_ZSTD, type HashAlgorithm } from './core/interface.ts'
import { MAX_PAYLOAD_BYTES } from './core/format.ts'
import type { BackendChoice } from './core/load.ts'
import { describe } from './stream-name.ts'

export const DEFAULT_MAX_SEGMENT_BYTES = 256 * 1024 * 1024
export const DEFAULT_CHECKPOINT_EVERY = 1000
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024
/** Upper bound for checkpointEvery: beyond it checkpoints would be pointless anyway. */
export const MAX_CHECKPOINT_EVERY = 2 ** 32
/** Payload bytes of one append call: it is copied into one buffer and written in one write. */
export const MAX_APPEND_BYTES = MAX_PAYLOAD_BYTES
export const MIN_ZSTD_LEVEL = 1
export const MAX_ZSTD_LEVEL = 22

/** 'always': an append resolves once its bytes are on stable storage (fsync). 'never': once they are handed to the OS. */
export type SyncMode = 'always' | 'never'
/** How much of the chain a read checks: from the nearest checkpoint ('checkpoint'), from offset 0 ('genesis'), or CRCs only ('none'). */
export type VerifyMode = 'checkpoint' | 'genesis' | 'none'
/** Payload compression: a codec name, or `{ codec: 'zstd', level }`. A compressed form is stored only when strictly smaller. */
export type CompressionOption = 'none' | 'zstd' | 'lz4' | { codec: 'zstd' | 'lz4' | 'none'; level?: number }

/** Options of `Log.open`. */
export interface LogOptions {
  /** A segment file is sealed and a new one started past this size. Default 256 MiB. */
  maxSegmentBytes?: number
  /** Write a checkpoint record after this many records (default 1000); false: only explicit ones and on close. */
  checkpointEvery?: number | false
  /** Payload compression for new records. Default 'none'. */
  compression?: CompressionOption
  /** Chain hash of a new store (default 'blake3'); a different value for an existing store is ERR_STORE_MISMATCH. */
  hash?: HashAlgorithm
  /** Default durability of appends. Default 'always'. */
  sync?: SyncMode
  /** Which core to use. Default 'auto'. */
  backend?: BackendChoice
  /** Take no lock and write nothing; sees the appends made before it opened. Default false. */
  readOnly?: boolean
  /** Largest payload accepted by append (ERR_RECORD_TOO_LARGE beyond). Default 64 MiB. */
  maxRecordBytes?: number
}

export interface ResolvedOptions {
  maxSegmentBytes: number
  checkpointEvery: number | false
  codec: number
  level: number
  hash: HashAlgorithm | undefined
  sync: SyncMode
  backend: BackendChoice
  readOnly: boolean
  maxRecordBytes: number
}

/** Options of `log.append`. */
export interface AppendOptions {
  /** Append only if the stream's next offset is this; else ERR_OFFSET_CONFLICT and nothing is written. */
  expectedOffset?: number
  /** Append only if the stream's head hash is this (zeros for an empty stream); else ERR_OFFSET_CONFLICT. */
  expectedHash?: Uint8Array
  /** Timestamp of the events (ms since the epoch) instead of the clock; must not go backwards. */
  timestamp?: number
  /** Durability of this append, overriding the log's `sync`. */
  sync?: SyncMode
}

/** What `log.append` wrote. */
export interface AppendResult {
  /** Offset of the first event of the call. */
  firstOffset: number
  /** Offset of the last event of the call. */
  lastOffset: number
  /** The stream's next offset after this append (past a checkpoint that followed it). */
  nextOffset: number
  /** The stream's head hash after this append: pass it back as expectedHash with nextOffset. */
  hash: Buffer
}

/** Options of `log.read`. */
export interface ReadOptions {
  /** First offset to return. Default 0. */
  from?: number
  /** Start at the first record whose timestamp is at or after this (ms since the epoch). */
  fromTime?: number
  /** At most this many records. */
  limit?: number
  /** Soft cap on payload bytes: the first record always comes, then reading stops before the total would exceed it. */
  maxBytes?: number
  /** How much of the chain to check. Default 'checkpoint'. */
  verify?: VerifyMode
}

/** Options of `log.iterate`. */
export interface IterateOptions {
  /** First offset to yield. Default 0. */
  from?: number
  /** How much of the chain to check. Default 'checkpoint'. */
  verify?: VerifyMode
  /** Keep the iterator open and yield records appended through this Log, until close() or break. */
  follow?: boolean
}

/** Options of `log.get`. */
export interface GetOptions {
  /** How much of the chain to check. Default 'checkpoint'. */
  verify?: VerifyMode
}

/** A data record as read back. */
export interface LogRecord {
  /** Position of the record in its stream (0, 1, 2, …; checkpoints take offsets too). */
  offset: number
  /** Milliseconds since the Unix epoch; never decreasing within a stream. */
  timestamp: number
  /** 'data' for appended events ('tombstone' is reserved). */
  kind: 'data' | 'tombstone'
  /** The event bytes, decompressed. */
  payload: Buffer
  /** Chain hash of this record (32 bytes). */
  hash: Buffer
  /** Chain hash of the record before it (32 zero bytes at offset 0). */
  prevHash: Buffer
}

/** The head of a stream, from `log.head`. */
export interface HeadInfo {
  /** The offset the next append will get. */
  nextOffset: number
  /** Chain hash of the last record (32 zero bytes for an empty stream). */
  hash: Buffer
  /** Number of segment files. */
  segments: number
  /** Offset of the last checkpoint record, or null when there is none (or `damage` hides it). */
  lastCheckpoint: number | null
  /** Present when the stream is known to be damaged: found at open, or by this call. */
  damage?: StreamDamage
}

/**
 * Damage in a stream, as `log.head` reports it. Reads stop at `offset`; `verify()` lists every
 * problem of the stream.
 */
export interface StreamDamage {
  /** ERR_CORRUPT for damaged bytes or framing; ERR_CHAIN_BROKEN for a hash link that does not hold. */
  code: 'ERR_CORRUPT' | 'ERR_CHAIN_BROKEN'
  /** Offset of the damaged record (the offset it should have). */
  offset: number
  /** Segment number of the file it is in, when known. */
  segment: number | null
  /** Byte position of the damage in that segment file, when known. */
  position: number | null
  /** What is wrong. */
  reason: string
  /**
   * True when open found the damage at the end of the stream: the head (`nextOffset`, `hash`) is
   * the record before it, and appends fail with this code until the damage is removed. False when
   * it lies behind the head: records after it are intact and appends go on, unless the writer's
   * checkpoint policy has to look back across the damage (it reads up to `checkpointEvery`
   * records back on the first append after open), which then fails with this code.
   */
  appendsRefused: boolean
}

/** The checkpoint record written by `log.checkpoint`. */
export interface CheckpointResult {
  /** Offset of the checkpoint record. */
  offset: number
  /** Chain hash of the checkpoint record, the stream's new head. */
  hash: Buffer
}

/** One problem found by `log.verify`. */
export interface VerifyProblem {
  /** Offset of the damaged record, or null when it could not be read. */
  offset: number | null
  /** ERR_CORRUPT for damaged bytes or framing; ERR_CHAIN_BROKEN for a hash link that does not hold. */
  code: 'ERR_CORRUPT' | 'ERR_CHAIN_BROKEN'
  /** What was expected, what was found, and where. */
  message: string
}

/** The verification of one stream. */
export interface StreamReport {
  /** Stream name. */
  stream: string
  /** Valid records the segment files hold, before and after any damage (a damaged record is a problem, not counted): events, checkpoints and tombstones. */
  records: number
  /** Data records (appended events) among them. */
  events: number
  /** Checkpoint records among them. */
  checkpoints: number
  /** The offset after the last valid record the files hold, and that record's hash. */
  head: { nextOffset: number; hash: Buffer }
  /** Every problem found, one per damaged record or range, in file order (at most 100); empty when the stream is sound. */
  problems: VerifyProblem[]
}

/** The result of `log.verify`. */
export interface VerifyReport {
  /** True when no stream has a problem. */
  ok: boolean
  /** One report per stream checked. */
  streams: StreamReport[]
}

/** Options of `log.verify`. */
export interface VerifyOptions {
  /** Called as the check advances, with bytes done and the total to check (for a progress bar). */
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void
}

/** What open-time recovery did to a stream (see `log.recovered`). */
export interface RecoveryEvent {
  /** Stream name. */
  stream: string
  /** Segment number of the file concerned. */
  segment: number
  /** 'truncated': a torn tail was cut off. 'corrupt': damage found; nothing was cut. */
  action: 'truncated' | 'corrupt'
  /** Byte position in the segment where the bad record starts. */
  position: number
  /** Offset of the bad record when its header could be read, else null. */
  offset: number | null
  /** Bytes cut off ('truncated'), or bytes after the damage ('corrupt'). */
  bytes: number
  /** Why the record was judged torn or damaged. */
  reason: string
}

const LOG_OPTION_KEYS = ['maxSegmentBytes', 'checkpointEvery', 'compression', 'hash', 'sync', 'backend', 'readOnly', 'maxRecordBytes']

export function resolveLogOptions(options: unknown): ResolvedOptions {
  const o = optionsObject(options, 'Log.open options', LOG_OPTION_KEYS)
  const maxSegmentBytes = integer(o.maxSegmentBytes, 'maxSegmentBytes', DEFAULT_MAX_SEGMENT_BYTES, 1, Number.MAX_SAFE_INTEGER)
  const checkpointEvery = o.checkpointEvery === false ? false : integer(o.checkpointEvery, 'checkpointEvery', DEFAULT_CHECKPOINT_EVERY, 1, MAX_CHECKPOINT_EVERY)
  const { codec, level } = compression(o.compression)
  const hash = o.hash === undefined ? undefined : oneOf(o.hash, 'hash', ['blake3', 'sha256'] as const)
  const sync = o.sync === undefined ? 'always' : oneOf(o.sync, 'sync', ['always', 'never'] as const)
  const backend = o.backend === undefined ? 'auto' : oneOf(o.backend, 'backend', ['auto', 'native', 'js'] as const)
  const readOnly = o.readOnly === undefined ? false : bool(o.readOnly, 'readOnly')
  const maxRecordBytes = integer(o.maxRecordBytes, 'maxRecordBytes', DEFAULT_MAX_RECORD_BYTES, 1, MAX_PAYLOAD_BYTES)
  return { maxSegmentBytes, checkpointEvery, codec, level, hash, sync, backend, readOnly, maxRecordBytes }
}

function compression(value: unknown): { codec: number; level: number } {
  if (value === undefined || value === 'none') return { codec: CODEC_NONE, level: 0 }
  if (value === 'zstd') return { codec: CODEC_ZSTD, level: 0 }
  if (value === 'lz4') return { codec: CODEC_LZ4, level: 0 }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = optionsObject(value, 'compression', ['codec', 'level'])
    const name = oneOf(o.codec, 'compression.codec', ['zstd', 'lz4', 'none'] as const)
    if (name !== 'zstd' && o.level !== undefined) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `compression.level: only zstd has levels, got codec ${name} with level ${describe(o.level)}`)
    }
    const codec = name === 'zstd' ? CODEC_ZSTD : name === 'lz4' ? CODEC_LZ4 : CODEC_NONE
    return { codec, level: name === 'zstd' ? integer(o.level, 'compression.level', 0, MIN_ZSTD_LEVEL, MAX_ZSTD_LEVEL) : 0 }
  }
  throw new ChainlogError('ERR_INVALID_ARGUMENT', `compression: expected 'none', 'zstd', 'lz4' or { codec, level }, got ${describe(value)}`)
}

export function resolveAppendOptions(options: unknown, defaultSync: SyncMode): { expectedOffset?: number; expectedHash?: Buffer; timestamp?: number; sync: boolean } {
  const o = optionsObject(options, 'append options', ['expectedOffset', 'expectedHash', 'timestamp', 'sync'])
  const out: { expectedOffset?: number; expectedHash?: Buffer; timestamp?: number; sync: boolean } = {
    sync: (o.sync === undefined ? defaultSync : oneOf(o.sync, 'sync', ['always', 'never'] as const)) === 'always',
  }
  if (o.expectedOffset !== undefined) out.expectedOffset = offsetArg(o.expectedOffset, 'expectedOffset')
  if (o.timestamp !== undefined) out.timestamp = offsetArg(o.timestamp, 'timestamp')
  if (o.expectedHash !== undefined) {
    if (!(o.expectedHash instanceof Uint8Array) || o.expectedHash.length !== 32) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `expectedHash: expected 32 bytes, got ${describe(o.expectedHash)}`)
    }
    out.expectedHash = Buffer.from(o.expectedHash)
  }
  return out
}

export interface ResolvedRead {
  from: number
  fromTime: number | null
  limit: number
  maxBytes: number
  verify: VerifyMode
}

export function resolveReadOptions(options: unknown): ResolvedRead {
  const o = optionsObject(options, 'read options', ['from', 'fromTime', 'limit', 'maxBytes', 'verify'])
  return {
    from: o.from === undefined ? 0 : offsetArg(o.from, 'from'),
    fromTime: o.fromTime === undefined ? null : offsetArg(o.fromTime, 'fromTime'),
    limit: o.limit === undefined ? Infinity : offsetArg(o.limit, 'limit'),
    maxBytes: o.maxBytes === undefined ? Infinity : offsetArg(o.maxBytes, 'maxBytes'),
    verify: verifyMode(o.verify),
  }
}

export function resolveIterateOptions(options: unknown): { from: number; verify: VerifyMode; follow: boolean } {
  const o = optionsObject(options, 'iterate options', ['from', 'verify', 'follow'])
  return {
    from: o.from === undefined ? 0 : offsetArg(o.from, 'from'),
    verify: verifyMode(o.verify),
    follow: o.follow === undefined ? false : bool(o.follow, 'follow'),
  }
}

/** get() with no options (random gets: one call each, so no object is made for them). */
const GET_DEFAULTS: { readonly verify: VerifyMode } = Object.freeze({ verify: 'checkpoint' })

export function resolveGetOptions(options: unknown): { readonly verify: VerifyMode } {
  if (options === undefined) return GET_DEFAULTS
  const o = optionsObject(options, 'get options', ['verify'])
  return { verify: verifyMode(o.verify) }
}

export function resolveVerifyOptions(options: unknown): VerifyOptions {
  const o = optionsObject(options, 'verify options', ['onProgress'])
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `onProgress: expected a function, got ${describe(o.onProgress)}`)
  }
  return { onProgress: o.onProgress as VerifyOptions['onProgress'] }
}

function verifyMode(value: unknown): VerifyMode {
  return value === undefined ? 'checkpoint' : oneOf(value, 'verify', ['checkpoint', 'genesis', 'none'] as const)
}

/** A non-negative safe integer argument (offsets, timestamps, counts). */
export function offsetArg(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `${name}: expected a non-negative safe integer, got ${describe(value)}`)
  }
  return value
}

function optionsObject(value: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `${what}: expected an object, got ${describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `${what}: unknown option ${JSON.stringify(key)} (expected one of ${keys.join(', ')})`)
  }
  return value as Record<string, unknown>
}

function integer(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `${name}: expected an integer in ${min}..${max}, got ${describe(value)}`)
  }
  return value
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `${name}: expected ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`)
  }
  return value as T
}

function bool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new ChainlogError('ERR_INVALID_ARGUMENT', `${name}: expected a boolean, got ${describe(value)}`)
  return value
}

/**
 * The events of an append as one buffer plus lengths; strings are UTF-8. Copies the input (the
 * caller may reuse its buffers once append returns). Two passes, no per-event objects: lengths
 * are measured and checked first, then every event is copied into one buffer (from `buffers`,
 * the log's reused ones, when given).
 */
export function collectEvents(events: unknown, maxRecordBytes: number, buffers?: { take(bytes: number): Buffer }): { payloads: Buffer; lengths: Uint32Array } {
  const list = Array.isArray(events) ? events : [events]
  const n = list.length
  if (n === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'events: expected at least one event, got an empty array')
  const lengths = new Uint32Array(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    const e: unknown = list[i]
    let length: number
    if (e instanceof Uint8Array) length = e.byteLength
    else if (typeof e === 'string') length = Buffer.byteLength(e, 'utf8')
    else throw new ChainlogError('ERR_INVALID_ARGUMENT', `events[${i}]: expected a Uint8Array or a string, got ${describe(e)}`)
    if (length > maxRecordBytes) {
      throw new ChainlogError('ERR_RECORD_TOO_LARGE', `events[${i}]: ${length} bytes, expected at most maxRecordBytes = ${maxRecordBytes}`)
    }
    total += length
    if (total > MAX_APPEND_BYTES) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `events: more than ${MAX_APPEND_BYTES} payload bytes in one append (at event ${i}); split the batch`)
    }
    lengths[i] = length
  }
  const payloads = buffers?.take(total) ?? Buffer.allocUnsafe(total)
  let at = 0
  for (let i = 0; i < n; i++) {
    const e = list[i] as Uint8Array | string
    if (typeof e === 'string') payloads.write(e, at, 'utf8')
    else payloads.set(e, at)
    at += lengths[i]
  }
  return { payloads, lengths }
}
