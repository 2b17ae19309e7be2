/**
 * Offline verification of the proofs chainlog hands out, for a client that holds only the proof
 * text, the log's verifier key and its origin: a tlog-proof of one record, and a tlog-witness
 * add-checkpoint body against a note the client trusts.
 */
import { createHash } from 'node:crypto'
import { ChainlogError } from '../errors.ts'
import { openCheckpoint, type OpenedCheckpoint } from './checkpoint.ts'
import { hashLeaf, verifyConsistency, verifyInclusion } from './merkle.ts'
import type { NoteVerifier } from './note.ts'
import { parseAddCheckpoint, parseTlogProof } from './proof-text.ts'
import { parseRecordPreimage, type RecordPreimage } from './record-preimage.ts'

/** The store's chain hash: 'sha256', or a function computing it (e.g. BLAKE3 from hash-wasm). */
export type RecordHash = 'sha256' | ((data: Uint8Array) => Uint8Array)

/** Options of verifyProof. */
export interface VerifyProofOptions {
  /** The log's verifier key(s) (vkey strings as log.vkey(stream) returns them). */
  vkey: string | NoteVerifier | ReadonlyArray<string | NoteVerifier>
  /** The store origin (checkpoints are `<origin>/<stream>`), or the stream's full origin line. */
  origin: string
  /** The store's hash, which turns `extra` into the leaf: 'sha256' or a hash function (BLAKE3 stores). */
  hash: RecordHash
  /** The record's payload, to check against the commitment in the proof. */
  payload?: Uint8Array
}

/** What a verified proof establishes. */
export interface VerifiedProof {
  /** The record's offset, which is its leaf index. */
  index: number
  /** The size of the checkpointed tree the record is in. */
  treeSize: number
  /** That tree's root. */
  root: Buffer
  /** The record's stream. */
  stream: string
  /** The record as the proof's `extra` describes it. */
  record: RecordPreimage
  /** The record's chain hash: the leaf data. */
  chainHash: Buffer
  /** Whether a payload was given and matched the commitment. */
  payloadChecked: boolean
  /** The opened checkpoint the proof carried. */
  checkpoint: OpenedCheckpoint
}

const broken = (message: string, details: Record<string, unknown> = {}) => new ChainlogError('ERR_CHAIN_BROKEN', message, details)

function hasher(hash: RecordHash): (data: Uint8Array) => Buffer {
  if (hash === 'sha256') return (d) => createHash('sha256').update(d).digest()
  if (typeof hash === 'function') {
    return (d) => {
      const out = hash(d)
      if (!(out instanceof Uint8Array) || out.length !== 32) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'hash: the function must return 32 bytes')
      return Buffer.from(out)
    }
  }
  if (hash === 'blake3') {
    throw new ChainlogError('ERR_UNSUPPORTED', "hash: node:crypto has no BLAKE3; pass a function, e.g. (d) => blake3(d) from @noble/hashes or hash-wasm")
  }
  throw new ChainlogError('ERR_INVALID_ARGUMENT', `hash: expected 'sha256' or a function, found ${String(hash)}`)
}

/** The stream a checkpoint belongs to must be the record's own. */
function checkStream(checkpoint: OpenedCheckpoint, stream: string): void {
  const ok = checkpoint.stream !== undefined ? checkpoint.stream === stream : checkpoint.origin.endsWith(`/${stream}`)
  if (!ok) throw broken(`the proof's record is from stream ${JSON.stringify(stream)}, the checkpoint is for ${JSON.stringify(checkpoint.origin)}`, { stream })
}

/**
 * Verifies a chainlog tlog-proof offline: the checkpoint is signed by the given key for the
 * origin, the record's leaf (hash of `extra`) is included at its offset in that tree, and, if a
 * payload is given, its length and commitment match. Malformed text is ERR_INVALID_ARGUMENT;
 * anything that does not check out is ERR_CHAIN_BROKEN.
 */
export function verifyProof(text: string | Uint8Array, options: VerifyProofOptions): VerifiedProof {
  if (!options || typeof options !== 'object') throw new ChainlogError('ERR_INVALID_ARGUMENT', 'verifyProof: options { vkey, origin, hash } are required')
  if (typeof options.origin !== 'string' || options.origin === '') throw new ChainlogError('ERR_INVALID_ARGUMENT', 'verifyProof: origin is required')
  const H = hasher(options.hash)
  const proof = parseTlogProof(text)
  if (!proof.extra) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'tlog-proof: no extra line; a chainlog proof carries the record preimage there')
  const record = parseRecordPreimage(proof.extra)
  const checkpoint = openCheckpoint(proof.note, { vkey: options.vkey, origin: options.origin })
  checkStream(checkpoint, record.stream)
  if (proof.index !== record.offset) throw broken(`tlog-proof index ${proof.index} differs from the record's offset ${record.offset}`, { offset: record.offset })
  if (proof.index >= checkpoint.size) throw broken(`tlog-proof index ${proof.index} is not in the checkpoint's tree of size ${checkpoint.size}`, { offset: proof.index })
  const chainHash = H(proof.extra)
  verifyInclusion(proof.index, checkpoint.size, hashLeaf(chainHash), proof.proof, checkpoint.root)
  let payloadChecked = false
  if (options.payload !== undefined) {
    if (!(options.payload instanceof Uint8Array)) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'payload: expected bytes')
    if (options.payload.length !== record.payloadLength) throw broken(`payload is ${options.payload.length} bytes, the record's is ${record.payloadLength}`, { offset: record.offset })
    if (!H(options.payload).equals(record.commitment)) throw broken("payload does not match the record's commitment", { offset: record.offset })
    payloadChecked = true
  }
  return { index: proof.index, treeSize: checkpoint.size, root: checkpoint.root, stream: record.stream, record, chainHash, payloadChecked, checkpoint }
}

/** Options of verifyConsistencyProof. */
export interface VerifyConsistencyProofOptions {
  /** The log's verifier key(s). */
  vkey: string | NoteVerifier | ReadonlyArray<string | NoteVerifier>
  /** The store origin, or the stream's full origin line. */
  origin: string
  /** The older tree head the client trusts: a signed note (opened with the same keys), or { size, root }. */
  old: string | { size: number; root: Uint8Array }
}

/**
 * Verifies a tlog-witness add-checkpoint body (old size, consistency proof, new signed
 * checkpoint) against an older tree head the client trusts; returns the new checkpoint. The
 * body's old size must be the trusted head's (else ERR_INVALID_ARGUMENT).
 */
export function verifyConsistencyProof(body: string | Uint8Array, options: VerifyConsistencyProofOptions): OpenedCheckpoint {
  if (!options || typeof options !== 'object') throw new ChainlogError('ERR_INVALID_ARGUMENT', 'verifyConsistencyProof: options { vkey, origin, old } are required')
  if (typeof options.origin !== 'string' || options.origin === '') throw new ChainlogError('ERR_INVALID_ARGUMENT', 'verifyConsistencyProof: origin is required')
  const parsed = parseAddCheckpoint(body)
  const next = openCheckpoint(parsed.note, { vkey: options.vkey, origin: options.origin })
  let old: { size: number; root: Uint8Array }
  if (typeof options.old === 'string') {
    const o = openCheckpoint(options.old, { vkey: options.vkey, origin: options.origin })
    if (o.origin !== next.origin) throw broken(`the trusted note is for ${JSON.stringify(o.origin)}, the new one for ${JSON.stringify(next.origin)}`)
    old = o
  } else if (options.old && typeof options.old === 'object') {
    old = options.old
  } else {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', 'verifyConsistencyProof: old (a trusted note or { size, root }) is required')
  }
  if (parsed.oldSize !== old.size) throw new ChainlogError('ERR_INVALID_ARGUMENT', `add-checkpoint body is from old size ${parsed.oldSize}, the trusted tree head has size ${old.size}`)
  if (old.size > next.size) throw broken(`the new checkpoint (size ${next.size}) is smaller than the trusted one (size ${old.size}): the log was rolled back`)
  verifyConsistency(old.size, next.size, parsed.proof, old.root, next.root)
  return next
}
