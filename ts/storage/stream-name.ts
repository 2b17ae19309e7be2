/**
 * Stream names (SPEC §2): 1–128 bytes of [A-Za-z0-9_.-] not starting with '.', or a non-negative
 * safe integer stored as its decimal string. The rule exists so that a name can never address a
 * path outside its stream directory.
 */
import { ChainlogError, describe } from '../errors.ts'

const MAX_STREAM_NAME_BYTES = 128
const NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/

/** The stored form of a stream name, or ERR_INVALID_ARGUMENT. */
export function streamName(name: unknown): string {
  if (typeof name === 'number') {
    if (Number.isSafeInteger(name) && name >= 0) return String(name)
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `stream: expected a non-negative safe integer or a name, got the number ${name}`)
  }
  if (typeof name !== 'string') {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `stream: expected a string or a non-negative integer, got ${describe(name)}`)
  }
  if (name.length < 1 || name.length > MAX_STREAM_NAME_BYTES || !NAME_PATTERN.test(name)) {
    throw new ChainlogError(
      'ERR_INVALID_ARGUMENT',
      `stream: expected 1–${MAX_STREAM_NAME_BYTES} characters of [A-Za-z0-9_.-] not starting with '.', got ${JSON.stringify(name.slice(0, 200))}`,
    )
  }
  return name
}

/** Whether a directory entry is a valid stored stream name (used for discovery). */
export function isStreamName(name: string): boolean {
  return name.length >= 1 && name.length <= MAX_STREAM_NAME_BYTES && NAME_PATTERN.test(name)
}

/** Store files a stream directory must never shadow (on a case-insensitive file system too). */
const STORE_FILE_NAMES = ['lock', 'chainlog.json']
/** Windows device names, alone or before a '.': a directory called `con.x` cannot be created there. */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i

/**
 * Why `name` cannot name a NEW stream beside the store's directory `entries` (SPEC §2), or null.
 * Names are compared ignoring letter case, so a store stays portable to file systems that ignore
 * it (there `Orders` and `orders` would share one directory while hashing different names).
 */
export function newStreamNameProblem(name: string, entries: readonly string[]): string | null {
  const folded = name.toLowerCase()
  if (STORE_FILE_NAMES.includes(folded)) return `it equals the store file ${JSON.stringify(folded === 'lock' ? 'LOCK' : 'chainlog.json')} ignoring letter case`
  if (folded.startsWith('lock.') || folded.startsWith('chainlog.json.')) return 'it starts like a temporary store file (LOCK. or chainlog.json.)'
  if (name.endsWith('.')) return "it ends in '.'"
  if (WINDOWS_DEVICE.test(name)) return 'it is a Windows device name'
  const clash = entries.find((e) => e !== name && e.toLowerCase() === folded)
  if (clash !== undefined) return `it equals the existing entry ${JSON.stringify(clash)} ignoring letter case`
  return null
}
