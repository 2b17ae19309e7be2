/**
 * The two proof texts chainlog hands out, built and parsed strictly:
 *
 * C2SP tlog-proof (inclusion):          C2SP tlog-witness add-checkpoint body (consistency):
 *   c2sp.org/tlog-proof@v1                 old <size>
 *   extra <base64>        (optional)       <base64 hash>   (0..63 lines)
 *   index <i>                              <empty line>
 *   <base64 hash>         (0..64 lines)    <signed checkpoint, verbatim>
 *   <empty line>
 *   <signed checkpoint, verbatim>
 *
 * Hash lines are counted before any is decoded, and the counts are bounded.
 */
import { ChainlogError } from '../errors.ts'
import { decodeBase64, encodeBase64 } from './base64.ts'
import { parseDecimal } from './checkpoint.ts'
import { checkSize, HASH_SIZE, MAX_CONSISTENCY_HASHES, MAX_INCLUSION_HASHES } from './merkle.ts'
import { MAX_NOTE_BYTES } from './note.ts'

/** The first line of a C2SP tlog-proof. */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1'

const invalid = (message: string) => new ChainlogError('ERR_INVALID_ARGUMENT', message)

/** A parsed C2SP tlog-proof (inclusion proof with its checkpoint). */
export interface TlogProof {
  /** Opaque extra data (for chainlog: the record's chain-hash preimage). */
  extra?: Buffer
  /** The leaf index (for chainlog: the record's offset). */
  index: number
  /** The audit path, from the leaf's sibling up. */
  proof: Buffer[]
  /** The signed checkpoint, verbatim. */
  note: string
}

/** A parsed tlog-witness add-checkpoint body (consistency proof with the new checkpoint). */
export interface AddCheckpoint {
  /** The size of the older tree the proof starts from. */
  oldSize: number
  /** The consistency proof hashes. */
  proof: Buffer[]
  /** The new signed checkpoint, verbatim. */
  note: string
}

function hashLines(hashes: readonly Uint8Array[], max: number, what: string): string {
  if (!Array.isArray(hashes) || hashes.length > max) throw invalid(`${what}: at most ${max} hashes`)
  return hashes.map((h) => {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw invalid(`${what}: every hash is ${HASH_SIZE} bytes`)
    return `${encodeBase64(h)}\n`
  }).join('')
}

function checkNoteArg(note: string): string {
  if (typeof note !== 'string' || !note.endsWith('\n') || !note.includes('\n\n')) throw invalid('expected a signed note (text, blank line, signature lines)')
  return note
}

/** Builds a tlog-proof text. */
export function formatTlogProof(p: { extra?: Uint8Array; index: number; proof: readonly Uint8Array[]; note: string }): string {
  checkSize('index', p.index)
  if (p.extra !== undefined && (!(p.extra instanceof Uint8Array) || p.extra.length === 0)) throw invalid('extra: expected non-empty bytes (omit it when there is none)')
  return `${TLOG_PROOF_HEADER}\n${p.extra ? `extra ${encodeBase64(p.extra)}\n` : ''}index ${p.index}\n${hashLines(p.proof, MAX_INCLUSION_HASHES, 'inclusion proof')}\n${checkNoteArg(p.note)}`
}

/** Builds a tlog-witness add-checkpoint body. */
export function formatAddCheckpoint(p: { oldSize: number; proof: readonly Uint8Array[]; note: string }): string {
  checkSize('old size', p.oldSize)
  return `old ${p.oldSize}\n${hashLines(p.proof, MAX_CONSISTENCY_HASHES, 'consistency proof')}\n${checkNoteArg(p.note)}`
}

/** A reader over newline-terminated lines that never looks past what it is asked for. */
class Lines {
  #at = 0
  constructor(readonly text: string, readonly what: string) {}
  next(): string {
    const end = this.text.indexOf('\n', this.#at)
    if (end < 0) throw invalid(`${this.what}: unexpected end of text (every line ends in a newline)`)
    const line = this.text.slice(this.#at, end)
    this.#at = end + 1
    return line
  }
  peek(): string | undefined {
    const end = this.text.indexOf('\n', this.#at)
    return end < 0 ? undefined : this.text.slice(this.#at, end)
  }
  rest(): string {
    return this.text.slice(this.#at)
  }
}

function asText(input: string | Uint8Array, what: string): string {
  if (typeof input === 'string') {
    if (input.length > MAX_NOTE_BYTES * 2) throw invalid(`${what}: too large`)
    return input
  }
  if (!(input instanceof Uint8Array)) throw invalid(`${what}: expected a string or bytes`)
  if (input.length > MAX_NOTE_BYTES * 2) throw invalid(`${what}: too large`)
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input)
  } catch {
    throw invalid(`${what}: not valid UTF-8`)
  }
}

/** Reads hash lines up to the empty line; counts before decoding. */
function readHashes(lines: Lines, max: number, what: string): Buffer[] {
  const raw: string[] = []
  for (;;) {
    const line = lines.next()
    if (line === '') break
    if (raw.length === max) throw invalid(`${what}: more than ${max} hashes`)
    raw.push(line)
  }
  return raw.map((line, i) => {
    const h = decodeBase64(line, `${what} hash ${i + 1}`)
    if (h.length !== HASH_SIZE) throw invalid(`${what} hash ${i + 1}: expected ${HASH_SIZE} bytes, found ${h.length}`)
    return h
  })
}

/** Parses a tlog-proof text strictly. The note is returned verbatim, not yet opened. */
export function parseTlogProof(input: string | Uint8Array): TlogProof {
  const lines = new Lines(asText(input, 'tlog-proof'), 'tlog-proof')
  if (lines.next() !== TLOG_PROOF_HEADER) throw invalid(`tlog-proof: the first line must be ${TLOG_PROOF_HEADER}`)
  let extra: Buffer | undefined
  if (lines.peek()?.startsWith('extra ')) {
    extra = decodeBase64(lines.next().slice('extra '.length), 'tlog-proof extra')
    if (extra.length === 0) throw invalid('tlog-proof: empty extra line (omit it when there is no extra data)')
  }
  const indexLine = lines.next()
  if (!indexLine.startsWith('index ')) throw invalid('tlog-proof: expected "index <n>" after the header (and extra line)')
  const index = parseDecimal(indexLine.slice('index '.length), 'tlog-proof index')
  const proof = readHashes(lines, MAX_INCLUSION_HASHES, 'tlog-proof inclusion proof')
  const note = lines.rest()
  if (note === '') throw invalid('tlog-proof: no checkpoint after the empty line')
  return { ...(extra ? { extra } : {}), index, proof, note }
}

/** Parses a tlog-witness add-checkpoint body strictly. The note is returned verbatim. */
export function parseAddCheckpoint(input: string | Uint8Array): AddCheckpoint {
  const lines = new Lines(asText(input, 'add-checkpoint'), 'add-checkpoint')
  const oldLine = lines.next()
  if (!oldLine.startsWith('old ')) throw invalid('add-checkpoint: the first line must be "old <size>"')
  const oldSize = parseDecimal(oldLine.slice('old '.length), 'add-checkpoint old size')
  const proof = readHashes(lines, MAX_CONSISTENCY_HASHES, 'add-checkpoint consistency proof')
  const note = lines.rest()
  if (note === '') throw invalid('add-checkpoint: no checkpoint after the empty line')
  return { oldSize, proof, note }
}
