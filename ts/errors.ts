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
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

export interface ChainlogErrorDetails {
  /** The underlying error (for ERR_IO: the fs error). */
  cause?: unknown
  /** errno code of an I/O failure, e.g. 'ENOSPC'. */
  errno?: string
  stream?: string
  offset?: number
  position?: number
  [key: string]: unknown
}

export class ChainlogError extends Error {
  readonly code: ErrorCode
  readonly details: ChainlogErrorDetails

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
