/**
 * C2SP tlog-checkpoint: the text of a signed tree head, and opening a signed one.
 *
 *   <origin>\n<tree size, decimal, no leading zeros>\n<base64 root>\n[<extension line>\n]*
 */
import { ChainlogError } from '../errors.ts'
import { decodeBase64, encodeBase64 } from './base64.ts'
import { checkSize, HASH_SIZE } from './merkle.ts'
import { type NoteSignature, type NoteVerifier, openNote } from './note.ts'

/** chainlog's own origins (SPEC §8): 1–200 bytes of printable non-space ASCII, no '+', not ending in '/'. */
const MAX_ORIGIN_BYTES = 200
const ORIGIN_RE = /^[\x21-\x2a\x2c-\x7e]+$/

/** Checks a store origin for chainlog's rules; ERR_INVALID_ARGUMENT names what is wrong. */
export function checkOrigin(origin: unknown): string {
  if (typeof origin !== 'string' || origin.length < 1 || origin.length > MAX_ORIGIN_BYTES || !ORIGIN_RE.test(origin) || origin.endsWith('/')) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `origin: expected 1–${MAX_ORIGIN_BYTES} bytes of printable non-space ASCII without '+', not ending in '/', found ${JSON.stringify(String(origin).slice(0, 220))}`)
  }
  return origin
}

/** A parsed tlog-checkpoint body. */
export interface Checkpoint {
  /** The log's origin line (for chainlog: `<origin>/<stream>`). */
  origin: string
  /** The tree size: the number of leaves (records). */
  size: number
  /** The RFC 6962 root hash of the tree of that size. */
  root: Buffer
  /** Extension lines (opaque, non-empty), in order; usually none. */
  extensions: string[]
}

const invalid = (message: string) => new ChainlogError('ERR_INVALID_ARGUMENT', message)
const DECIMAL_RE = /^(?:0|[1-9][0-9]{0,15})$/

/** Parses a canonical decimal (no sign, no leading zeros) that fits a safe integer. */
export function parseDecimal(text: string, what: string): number {
  if (!DECIMAL_RE.test(text) || !Number.isSafeInteger(Number(text))) throw invalid(`${what}: expected a decimal integer without leading zeros below 2^53, found ${JSON.stringify(text.slice(0, 40))}`)
  return Number(text)
}

/** The checkpoint text (the note body to sign). */
export function formatCheckpoint(c: { origin: string; size: number; root: Uint8Array; extensions?: readonly string[] }): string {
  if (typeof c.origin !== 'string' || c.origin === '' || c.origin.includes('\n')) throw invalid('checkpoint origin: expected a non-empty line')
  checkSize('checkpoint size', c.size)
  if (!(c.root instanceof Uint8Array) || c.root.length !== HASH_SIZE) throw invalid(`checkpoint root: expected ${HASH_SIZE} bytes`)
  const ext = c.extensions ?? []
  for (const e of ext) if (typeof e !== 'string' || e === '' || e.includes('\n')) throw invalid('checkpoint extension lines must be non-empty single lines')
  return [c.origin, String(c.size), encodeBase64(c.root), ...ext].join('\n') + '\n'
}

/** Parses a checkpoint text strictly: three or more non-empty lines, each ending in a newline. */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw invalid('checkpoint: the text must end in a newline')
  const lines = text.slice(0, -1).split('\n')
  if (lines.length < 3) throw invalid(`checkpoint: expected at least 3 lines (origin, size, root), found ${lines.length}`)
  const [origin, size, root, ...extensions] = lines
  if (origin === '') throw invalid('checkpoint: empty origin line')
  for (const e of extensions) if (e === '') throw invalid('checkpoint: empty extension line')
  const rootBytes = decodeBase64(root, 'checkpoint root')
  if (rootBytes.length !== HASH_SIZE) throw invalid(`checkpoint root: expected ${HASH_SIZE} bytes, found ${rootBytes.length}`)
  return { origin, size: parseDecimal(size, 'checkpoint size'), root: rootBytes, extensions }
}

/** A checkpoint whose note was opened with trusted keys. */
export interface OpenedCheckpoint extends Checkpoint {
  /** The stream, when `origin` was given as the store origin and the checkpoint's is <origin>/<stream>. */
  stream?: string
  /** The signed note, verbatim. */
  note: string
  /** The note text (the checkpoint body). */
  text: string
  /** Signatures by the given keys, each verified. */
  verified: NoteSignature[]
  /** Signatures by other keys (e.g. witness cosignatures): ignored, not checked. */
  unverified: NoteSignature[]
}

/** Options of openCheckpoint. */
export interface OpenCheckpointOptions {
  /** Verifier key(s) of the log. */
  vkey: string | NoteVerifier | ReadonlyArray<string | NoteVerifier>
  /**
   * The expected origin: the checkpoint's own origin line, or a chainlog store origin whose
   * streams' checkpoints are `<origin>/<stream>`. Omitted: any origin (not recommended).
   */
  origin?: string
}

/**
 * Opens a signed checkpoint: the note must carry a verifying signature by a given key whose name is
 * the checkpoint's origin (the log's own key, as tlog-checkpoint has it), no failing signature by
 * a given key, and the expected origin. Other signatures (witness cosignatures) are ignored.
 */
export function openCheckpoint(note: string | Uint8Array, options: OpenCheckpointOptions): OpenedCheckpoint {
  if (!options || typeof options !== 'object') throw invalid('openCheckpoint: options { vkey, origin } are required')
  const keys = (Array.isArray(options.vkey) ? options.vkey : [options.vkey]) as Array<string | NoteVerifier>
  const opened = openNote(note, keys)
  const checkpoint = parseCheckpoint(opened.text)
  let stream: string | undefined
  if (options.origin !== undefined) {
    if (typeof options.origin !== 'string' || options.origin === '') throw invalid('origin: expected a non-empty string')
    const prefix = `${options.origin}/`
    if (checkpoint.origin.startsWith(prefix) && checkpoint.origin.length > prefix.length && !checkpoint.origin.slice(prefix.length).includes('/')) {
      stream = checkpoint.origin.slice(prefix.length)
    } else if (checkpoint.origin !== options.origin) {
      throw new ChainlogError('ERR_CHAIN_BROKEN', `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not ${JSON.stringify(options.origin)} (nor one of its streams)`)
    }
  }
  if (!opened.verified.some((s) => s.name === checkpoint.origin)) {
    throw new ChainlogError('ERR_CHAIN_BROKEN', `checkpoint for ${JSON.stringify(checkpoint.origin)} is not signed by a given key of that name (verified: ${opened.verified.map((s) => s.name).join(', ')})`)
  }
  const text = typeof note === 'string' ? note : Buffer.from(note).toString('utf8')
  return { ...checkpoint, ...(stream === undefined ? {} : { stream }), note: text, text: opened.text, verified: opened.verified, unverified: opened.unverified }
}
