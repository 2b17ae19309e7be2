/**
 * Argument checks shared by the JS core's entry points (docs/scan-rules.md §4–6). Every failure is
 * ERR_INVALID_ARGUMENT, thrown before any work is done.
 */
import { ChainlogError } from '../../errors.ts'
import type { HashAlgorithm } from '../interface.ts'
import { HASH_BYTES, MAX_PAYLOAD_BYTES, MAX_SAFE, MAX_ZSTD_LEVEL } from '../format.ts'

/** Largest UTF-8 length of a stream name (it is hashed behind a u16). */
const MAX_STREAM_BYTES = 65535

export function invalid(message: string): ChainlogError {
  return new ChainlogError('ERR_INVALID_ARGUMENT', message)
}

export function isSafeIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SAFE
}

export function checkSafeIndex(value: unknown, what: string): number {
  if (!isSafeIndex(value)) throw invalid(`${what} must be a non-negative safe integer, got ${String(value)}`)
  return value
}

/** null, or (as the native binding reads an optional) undefined, mean "not given". */
export function checkNullableSafeIndex(value: unknown, what: string): number | null {
  return value === null || value === undefined ? null : checkSafeIndex(value, what)
}

export function checkHashName(value: unknown): HashAlgorithm {
  if (value !== 'blake3' && value !== 'sha256') throw invalid(`hash must be 'blake3' or 'sha256', got ${String(value)}`)
  return value
}

export function checkBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array`)
  return checkUnshared(value, what)
}

/** A view of shared memory is refused, as the native core refuses it (another thread could write it mid-call). */
export function checkUnshared<T extends ArrayBufferView>(view: T, what: string): T {
  if (view.buffer instanceof SharedArrayBuffer) {
    throw invalid(`${what} must not be a view of a SharedArrayBuffer (another thread could change it while it is read)`)
  }
  return view
}

export function checkHash32(value: unknown, what: string): Uint8Array {
  const bytes = checkBytes(value, what)
  if (bytes.length !== HASH_BYTES) throw invalid(`${what} must be ${HASH_BYTES} bytes, got ${bytes.length}`)
  return bytes
}

export function checkNullableHash32(value: unknown, what: string): Uint8Array | null {
  return value === null || value === undefined ? null : checkHash32(value, what)
}

/** A stream name of at most MAX_STREAM_BYTES UTF-8 bytes (checked without encoding it when possible). */
export function checkStreamName(value: unknown): string {
  if (typeof value !== 'string') throw invalid(`stream must be a string, got ${typeof value}`)
  // A UTF-16 unit takes 1 to 3 UTF-8 bytes: short names need no count, long ones are counted.
  if (value.length * 3 > MAX_STREAM_BYTES) {
    const bytes = Buffer.byteLength(value, 'utf8')
    if (bytes > MAX_STREAM_BYTES) throw invalid(`stream name must be at most ${MAX_STREAM_BYTES} UTF-8 bytes, got ${bytes}`)
  }
  return value
}

/** The UTF-8 bytes of a stream name, at most MAX_STREAM_BYTES long. */
export function checkStream(value: unknown): Buffer {
  if (typeof value !== 'string') throw invalid(`stream must be a string, got ${typeof value}`)
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length > MAX_STREAM_BYTES) {
    throw invalid(`stream name must be at most ${MAX_STREAM_BYTES} UTF-8 bytes, got ${bytes.length}`)
  }
  return bytes
}

export function checkMaxPayloadBytes(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PAYLOAD_BYTES) {
    throw invalid(`maxPayloadBytes must be an integer in 0..${MAX_PAYLOAD_BYTES}, got ${String(value)}`)
  }
  return value
}

/** zstd level 0..22; 0 means the default. */
export function checkZstdLevel(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_ZSTD_LEVEL) {
    throw invalid(`zstd level must be an integer in 0..${MAX_ZSTD_LEVEL}, got ${String(value)}`)
  }
  return value
}

/** A view of `data` as a Buffer (no copy), for Buffer's fast read methods and indexOf. */
export function asBuffer(data: Uint8Array): Buffer {
  if (Buffer.isBuffer(data)) return data
  // A detached or shrunk-to-nothing view has no buffer to view (Buffer.from would throw a TypeError).
  return data.byteLength === 0 ? Buffer.alloc(0) : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

export function isAllZero(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false
  return true
}
