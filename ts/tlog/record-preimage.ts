/**
 * The chain-hash preimage of a record (SPEC §2), carried as a tlog-proof's `extra`: it binds the
 * stream, offset, timestamp, kind, previous hash and the payload's commitment, so a proof shows
 * what was logged where without carrying the payload. Integers little-endian.
 *
 *   "chainlog:record:v1" ‖ u16 len(stream) ‖ stream ‖ prev_hash(32) ‖ offset u64 ‖ timestamp u64
 *   ‖ kind u8 ‖ u64 len(payload) ‖ commitment(32)
 */
import { ChainlogError } from '../errors.ts'

const RECORD_DOMAIN_TAG = 'chainlog:record:v1'
const TAG = Buffer.from(RECORD_DOMAIN_TAG, 'ascii')
const DIGEST_BYTES = 32
const FIXED_BYTES = TAG.length + 2 + DIGEST_BYTES + 8 + 8 + 1 + 8 + DIGEST_BYTES
const KIND_NAMES = ['data', 'checkpoint', 'tombstone'] as const
const BATCH_CONTINUES = 0x80

/** A record's chain-hash preimage, decoded. */
export interface RecordPreimage {
  /** The stream name. */
  stream: string
  /** The chain hash of the record before (zeros at offset 0). */
  prevHash: Buffer
  /** The record's offset: its leaf index. */
  offset: number
  /** Milliseconds since the Unix epoch. */
  timestamp: number
  /** The record kind. */
  kind: (typeof KIND_NAMES)[number]
  /** Bit 7 of the kind byte: more records of the same append follow. */
  batchContinues: boolean
  /** The length of the uncompressed payload. */
  payloadLength: number
  /** H(payload) under the store's hash. */
  commitment: Buffer
}

const invalid = (message: string) => new ChainlogError('ERR_INVALID_ARGUMENT', message)

function u64(b: Buffer, at: number, what: string): number {
  const v = b.readBigUInt64LE(at)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`record preimage: ${what} ${v} is above 2^53 - 1`)
  return Number(v)
}

/** Parses a record's chain-hash preimage strictly (exact length, known kind, UTF-8 stream). */
export function parseRecordPreimage(bytes: Uint8Array): RecordPreimage {
  if (!(bytes instanceof Uint8Array)) throw invalid('record preimage: expected bytes')
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length < FIXED_BYTES || !b.subarray(0, TAG.length).equals(TAG)) throw invalid(`record preimage: expected ${RECORD_DOMAIN_TAG} and at least ${FIXED_BYTES} bytes`)
  const nameLen = b.readUInt16LE(TAG.length)
  if (b.length !== FIXED_BYTES + nameLen) throw invalid(`record preimage: a stream name of ${nameLen} bytes makes ${FIXED_BYTES + nameLen} bytes, found ${b.length}`)
  let at = TAG.length + 2
  let stream: string
  try {
    stream = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b.subarray(at, at + nameLen))
  } catch {
    throw invalid('record preimage: the stream name is not UTF-8')
  }
  at += nameLen
  const prevHash = Buffer.from(b.subarray(at, at + DIGEST_BYTES))
  at += DIGEST_BYTES
  const offset = u64(b, at, 'offset')
  const timestamp = u64(b, at + 8, 'timestamp')
  const kindByte = b[at + 16]
  const kind = KIND_NAMES[kindByte & 0x7f]
  if (kind === undefined) throw invalid(`record preimage: unknown kind byte 0x${kindByte.toString(16)}`)
  const payloadLength = u64(b, at + 17, 'payload length')
  const commitment = Buffer.from(b.subarray(at + 25, at + 25 + DIGEST_BYTES))
  return { stream, prevHash, offset, timestamp, kind, batchContinues: (kindByte & BATCH_CONTINUES) !== 0, payloadLength, commitment }
}

/** Builds a record's chain-hash preimage (the inverse of parseRecordPreimage). */
export function encodeRecordPreimage(r: RecordPreimage): Buffer {
  const name = Buffer.from(r.stream, 'utf8')
  if (name.length > 0xffff) throw invalid('record preimage: stream name too long')
  const kindIndex = KIND_NAMES.indexOf(r.kind)
  if (kindIndex < 0) throw invalid(`record preimage: unknown kind ${String(r.kind)}`)
  if (r.prevHash.length !== DIGEST_BYTES || r.commitment.length !== DIGEST_BYTES) throw invalid('record preimage: hashes are 32 bytes')
  const b = Buffer.alloc(FIXED_BYTES + name.length)
  let at = TAG.copy(b, 0)
  at = b.writeUInt16LE(name.length, at)
  at += name.copy(b, at)
  at += Buffer.from(r.prevHash).copy(b, at)
  at = b.writeBigUInt64LE(BigInt(r.offset), at)
  at = b.writeBigUInt64LE(BigInt(r.timestamp), at)
  at = b.writeUInt8(kindIndex | (r.batchContinues ? BATCH_CONTINUES : 0), at)
  at = b.writeBigUInt64LE(BigInt(r.payloadLength), at)
  Buffer.from(r.commitment).copy(b, at)
  return b
}
