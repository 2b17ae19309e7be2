/**
 * Validation of the public options and arguments (types in types.ts). Every bad option or argument
 * is ERR_INVALID_ARGUMENT saying what was expected and what was found; nothing is coerced.
 */
import { ChainlogError, describe } from './errors.ts'
import { CODEC_LZ4, CODEC_NONE, CODEC_ZSTD } from './core/interface.ts'
import { MAX_PAYLOAD_BYTES, MAX_ZSTD_LEVEL, MIN_ZSTD_LEVEL } from './core/format.ts'
import { defaultOpenFiles, MIN_OPEN_FILES } from './storage/open-files.ts'
import type { RetentionOptions } from './types.ts'
import type { ResolvedOptions, SyncMode, TlogOptions, TrainDictionaryOptions, VerifyMode, VerifyOptions } from './types.ts'

const DEFAULT_MAX_SEGMENT_BYTES = 256 * 1024 * 1024
const DEFAULT_CHECKPOINT_EVERY = 1000
const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024
/** Upper bound for checkpointEvery: beyond it checkpoints would be pointless anyway. */
const MAX_CHECKPOINT_EVERY = 2 ** 32

const LOG_OPTION_KEYS = ['maxSegmentBytes', 'checkpointEvery', 'compression', 'hash', 'sync', 'backend', 'readOnly', 'maxRecordBytes', 'maxOpenFiles', 'tlog', 'retention', 'journal']

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
  // Below MIN_OPEN_FILES the engine could not make progress: refused here, not an EMFILE later.
  const maxOpenFiles = o.maxOpenFiles === undefined ? defaultOpenFiles() : integer(o.maxOpenFiles, 'maxOpenFiles', 0, MIN_OPEN_FILES, Number.MAX_SAFE_INTEGER)
  const tlog = o.tlog === undefined ? null : tlogOptions(o.tlog)
  const retention = o.retention === undefined ? null : retentionOptions(o.retention)
  const journal = o.journal === undefined ? false : bool(o.journal, 'journal')
  return { maxSegmentBytes, checkpointEvery, codec, level, hash, sync, backend, readOnly, maxRecordBytes, maxOpenFiles, tlog, retention, journal }
}

/** The retention option (SPEC §9): at least one bound, each a positive integer. */
function retentionOptions(value: unknown): RetentionOptions {
  const o = optionsObject(value, 'retention', ['maxBytes', 'maxAgeMs', 'requireArchived'])
  if (o.maxBytes === undefined && o.maxAgeMs === undefined) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'retention: expected { maxBytes?, maxAgeMs?, requireArchived? } with maxBytes or maxAgeMs')
  const out: RetentionOptions = {}
  if (o.maxBytes !== undefined) out.maxBytes = integer(o.maxBytes, 'retention.maxBytes', 0, 1, Number.MAX_SAFE_INTEGER)
  if (o.maxAgeMs !== undefined) out.maxAgeMs = integer(o.maxAgeMs, 'retention.maxAgeMs', 0, 1, Number.MAX_SAFE_INTEGER)
  if (o.requireArchived !== undefined) out.requireArchived = bool(o.requireArchived, 'retention.requireArchived')
  return out
}

/** prune's options: `before` an offset (required), `dryRun` to only say what would go. */
export function resolvePruneOptions(options: unknown): { before: number; dryRun: boolean } {
  if (options === undefined) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'prune options: expected { before: offset, dryRun? }, got undefined')
  const o = optionsObject(options, 'prune options', ['before', 'dryRun'])
  if (o.before === undefined) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'before: expected an offset (a non-negative integer), got undefined')
  return { before: offsetArg(o.before, 'before'), dryRun: o.dryRun === undefined ? false : bool(o.dryRun, 'dryRun') }
}

/** The tlog option's shape; the origin and signer themselves are checked when the store opens. */
function tlogOptions(value: unknown): TlogOptions {
  const o = optionsObject(value, 'tlog', ['origin', 'signer', 'stateFile'])
  if (typeof o.origin !== 'string') throw new ChainlogError('ERR_INVALID_ARGUMENT', `tlog.origin: expected a string, got ${describe(o.origin)}`)
  const signer = o.signer
  if (typeof signer !== 'string' && (typeof signer !== 'object' || signer === null)) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `tlog.signer: expected a signer key, a key file path or { publicKey, sign }, got ${describe(signer)}`)
  }
  if (o.stateFile !== undefined && (typeof o.stateFile !== 'string' || o.stateFile === '')) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `tlog.stateFile: expected a non-empty path, got ${describe(o.stateFile)}`)
  }
  return { origin: o.origin, signer: signer as TlogOptions['signer'], ...(o.stateFile === undefined ? {} : { stateFile: o.stateFile as string }) }
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
  /** Whether `from` was given: without it a pruned stream is read from its first kept offset. */
  fromGiven: boolean
}

export function resolveReadOptions(options: unknown): ResolvedRead {
  const o = optionsObject(options, 'read options', ['from', 'fromTime', 'limit', 'maxBytes', 'verify'])
  return {
    from: o.from === undefined ? 0 : offsetArg(o.from, 'from'),
    fromTime: o.fromTime === undefined ? null : offsetArg(o.fromTime, 'fromTime'),
    limit: o.limit === undefined ? Infinity : offsetArg(o.limit, 'limit'),
    maxBytes: o.maxBytes === undefined ? Infinity : offsetArg(o.maxBytes, 'maxBytes'),
    verify: verifyMode(o.verify),
    fromGiven: o.from !== undefined,
  }
}

export function resolveIterateOptions(options: unknown): { from: number; verify: VerifyMode; follow: boolean; fromGiven: boolean } {
  const o = optionsObject(options, 'iterate options', ['from', 'verify', 'follow'])
  return {
    from: o.from === undefined ? 0 : offsetArg(o.from, 'from'),
    verify: verifyMode(o.verify),
    follow: o.follow === undefined ? false : bool(o.follow, 'follow'),
    fromGiven: o.from !== undefined,
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
  const o = optionsObject(options, 'verify options', ['onProgress', 'trusted', 'keys'])
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `onProgress: expected a function, got ${describe(o.onProgress)}`)
  }
  const out: VerifyOptions = { onProgress: o.onProgress as VerifyOptions['onProgress'] }
  for (const key of ['trusted', 'keys'] as const) {
    const v = o[key]
    if (v === undefined) continue
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ChainlogError('ERR_INVALID_ARGUMENT', `${key}: expected an array of strings, got ${describe(v)}`)
    out[key] = v as string[]
  }
  return out
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

/** trainDictionary's options: a record count or the sample events, and the dictionary's size. */
export function resolveTrainDictionaryOptions(options: unknown, defaults: { samples: number; maxBytes: number }): { samples: number | Array<Uint8Array | string>; maxBytes: number } {
  const o = optionsObject(options, 'trainDictionary options', ['samples', 'maxBytes'])
  const maxBytes = integer(o.maxBytes, 'maxBytes', defaults.maxBytes, 256, 1 << 20)
  const samples = o.samples as TrainDictionaryOptions['samples']
  if (Array.isArray(samples)) {
    if (samples.length === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'samples: expected at least one event')
    for (const [k, e] of samples.entries()) {
      if (typeof e !== 'string' && !(e instanceof Uint8Array)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `samples[${k}]: expected a string or a Uint8Array, got ${describe(e)}`)
    }
    return { samples, maxBytes }
  }
  return { samples: integer(samples, 'samples', defaults.samples, 1, 10_000_000), maxBytes }
}

export function resolveRepairOptions(options: unknown): { dryRun: boolean } {
  const o = optionsObject(options, 'repair options', ['dryRun'])
  if (o.dryRun !== undefined && typeof o.dryRun !== 'boolean') {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `dryRun: expected a boolean, got ${describe(o.dryRun)}`)
  }
  return { dryRun: o.dryRun === true }
}

/** A tombstone's reason is at most this many UTF-8 bytes (SPEC §9). */
const MAX_REDACT_REASON_BYTES = 1024

/** `log.redact()` options: the reason as UTF-8 bytes (empty when absent). */
export function resolveRedactOptions(options: unknown): { reason: Buffer } {
  const o = optionsObject(options, 'redact options', ['reason'])
  if (o.reason !== undefined && typeof o.reason !== 'string') {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `reason: expected a string, got ${describe(o.reason)}`)
  }
  const reason = Buffer.from(o.reason ?? '', 'utf8')
  if (reason.length > MAX_REDACT_REASON_BYTES) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `reason: expected at most ${MAX_REDACT_REASON_BYTES} bytes of UTF-8, got ${reason.length}`)
  }
  return { reason }
}
