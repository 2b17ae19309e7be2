/**
 * The one error class chainlog throws. `code` is stable and documented in SPEC §4;
 * messages say what was expected, what was found, and where.
 */
export const ERROR_CODES = [
  'ERR_INVALID_ARGUMENT',
  'ERR_RECORD_TOO_LARGE',
  'ERR_OFFSET_CONFLICT',
  'ERR_CHAIN_BROKEN',
  'ERR_CORRUPT',
  'ERR_LOCKED',
  'ERR_CLOSED',
  'ERR_READ_ONLY',
  'ERR_STORE_MISMATCH',
  'ERR_UNSUPPORTED',
  'ERR_IO',
  // The archive moved on without this writer: a second writer, or a fork (SPEC §10).
  'ERR_ARCHIVE_CONFLICT',
  // The offset was removed by retention (prune); details.firstOffset is the first kept one (SPEC §9).
  'ERR_PRUNED',
] as const

/** One of the stable error codes of SPEC §4 (see ERROR_CODES). */
export type ErrorCode = (typeof ERROR_CODES)[number]

/** Structured context of a ChainlogError: where it happened and what caused it. */
export interface ChainlogErrorDetails {
  /** The underlying error (for ERR_IO: the fs error). */
  cause?: unknown
  /** errno code of an I/O failure, e.g. 'ENOSPC'. */
  errno?: string
  /** The stream the error concerns. */
  stream?: string
  /** The record offset the error concerns (for ERR_OFFSET_CONFLICT: the stream's next offset). */
  offset?: number
  /** Byte position within the segment file, for damage found on disk. */
  position?: number
  [key: string]: unknown
}

/** The one error class chainlog throws: test `code`, which is stable, rather than the message. */
export class ChainlogError extends Error {
  /** The stable error code, e.g. 'ERR_OFFSET_CONFLICT'. */
  readonly code: ErrorCode
  /** Where the error happened (stream, offset, position) and its cause. */
  readonly details: ChainlogErrorDetails

  /** Creates an error with its code, a message saying what was expected, what was found and where, and details. */
  constructor(code: ErrorCode, message: string, details: ChainlogErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'ChainlogError'
    this.code = code
    this.details = details
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value)
}

/** A value as error messages name it ("the string \"x\"", "number -1", "3 bytes", "an array"). */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 80))}`
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return `${typeof value} ${String(value)}`
  if (value instanceof Uint8Array) return `${value.length} bytes`
  return typeof value === 'object' ? `an object (${Object.prototype.toString.call(value)})` : typeof value
}
