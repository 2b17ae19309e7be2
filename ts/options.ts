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

export type SyncMode = 'always' | 'never'
export type VerifyMode = 'checkpoint' | 'genesis' | 'none'
export type CompressionOption = 'none' | 'zstd' | 'lz4' | { codec: 'zstd' | 'lz4' | 'none'; level?: number }

export interface LogOptions {
  maxSegmentBytes?: number
  checkpointEvery?: number | false
  compression?: CompressionOption
  hash?: HashAlgorithm
  sync?: SyncMode
  backend?: BackendChoice
  readOnly?: boolean
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

export interface AppendOptions {
  expectedOffset?: number
  expectedHash?: Uint8Array
  timestamp?: number
  sync?: SyncMode
}

export interface AppendResult {
  firstOffset: number
  lastOffset: number
  /** The stream's next offset after this append (past a checkpoint that followed it). */
  nextOffset: number
  /** The stream's head hash after this append: pass it back as expectedHash with nextOffset. */
  hash: Buffer
}

export interface ReadOptions {
  from?: number
  fromTime?: number
  limit?: number
  maxBytes?: number
  verify?: VerifyMode
}

export interface IterateOptions {
  from?: number
  verify?: VerifyMode
  follow?: boolean
}

export interface GetOptions {
  verify?: VerifyMode
}

export interface LogRecord {
  offset: number
  timestamp: number
  kind: 'data' | 'tombstone'
  payload: Buffer
  hash: Buffer
  prevHash: Buffer
}

export interface HeadInfo {
  nextOffset: number
  hash: Buffer
  segments: number
  lastCheckpoint: number | null
}

export interface CheckpointResult {
  offset: number
  hash: Buffer
}

export interface VerifyProblem {
  offset: number | null
  code: 'ERR_CORRUPT' | 'ERR_CHAIN_BROKEN'
  message: string
}

export interface StreamReport {
  stream: string
  records: number
  checkpoints: number
  head: { nextOffset: number; hash: Buffer }
  problems: VerifyProblem[]
}

export interface VerifyReport {
  ok: boolean
  streams: StreamReport[]
}

export interface VerifyOptions {
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void
}

export interface RecoveryEvent {
  stream: string
  segment: number
  /** 'truncated': a torn tail was cut off. 'corrupt': damage found; nothing was cut. */
  action: 'truncated' | 'corrupt'
  position: number
  offset: number | null
  /** Bytes cut off ('truncated'), or bytes after the damage ('corrupt'). */
  bytes: number
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

export function resolveGetOptions(options: unknown): { verify: VerifyMode } {
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

/** The events of an append as one buffer plus lengths; strings are UTF-8. Copies the input. */
export function collectEvents(events: unknown, maxRecordBytes: number): { payloads: Buffer; lengths: Uint32Array } {
  const list = Array.isArray(events) ? events : [events]
  if (list.length === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'events: expected at least one event, got an empty array')
  const bufs: Buffer[] = new Array(list.length)
  const lengths = new Uint32Array(list.length)
  let total = 0
  for (let i = 0; i < list.length; i++) {
    const e: unknown = list[i]
    let b: Buffer
    if (typeof e === 'string') b = Buffer.from(e, 'utf8')
    else if (e instanceof Uint8Array) b = Buffer.from(e.buffer, e.byteOffset, e.byteLength)
    else throw new ChainlogError('ERR_INVALID_ARGUMENT', `events[${i}]: expected a Uint8Array or a string, got ${describe(e)}`)
    if (b.length > maxRecordBytes) {
      throw new ChainlogError('ERR_RECORD_TOO_LARGE', `events[${i}]: ${b.length} bytes, expected at most maxRecordBytes = ${maxRecordBytes}`)
    }
    total += b.length
    if (total > MAX_APPEND_BYTES) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `events: more than ${MAX_APPEND_BYTES} payload bytes in one append (at event ${i}); split the batch`)
    }
    bufs[i] = b
    lengths[i] = b.length
  }
  return { payloads: Buffer.concat(bufs, total), lengths }
}
