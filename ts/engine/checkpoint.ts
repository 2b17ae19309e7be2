/**
 * The checkpoint policy and checkpoint records (SPEC §2–3). A checkpoint is an ordinary record of
 * kind 1 in the chain: payload = its prev_hash ‖ u64 its offset, timestamp = the timestamp of the
 * record before it (0 at offset 0), never compressed, so both cores write the same bytes. It is
 * what verified reads anchor on, so a read costs O(distance to the nearest checkpoint). In a store
 * that signs (SPEC §8) the payload goes on with the signed note of the Merkle tree of the records
 * before it; Ed25519 is deterministic, so both cores still write the same bytes.
 */
import { CODEC_NONE, KIND_CHECKPOINT, type ChainlogCore, type EncodeBatchResult, type HashAlgorithm } from '../core/interface.ts'
import { CHECKPOINT_PAYLOAD_BYTES, HASH_BYTES, MAX_CHECKPOINT_NOTE_BYTES } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import type { PositionList } from '../storage/offset-index.ts'
import { SCAN_CHUNK_BYTES } from '../storage/segment-scan.ts'
import type { Segment } from './segment.ts'

/** Whether the policy wants a checkpoint after an append, given records since the last one. */
export function checkpointDue(sinceCheckpoint: number, every: number | false): boolean {
  return every !== false && sinceCheckpoint >= every
}

/**
 * Signs the tree heads that checkpoint records carry (SPEC §2, §8). The Log sets it on the store
 * context when the store is opened with a signer; the commit path calls it.
 */
export interface CheckpointSigning {
  /**
   * Brings the stream's tree to its head, so that the commits after it extend the tree, and checks
   * it once against the last published note (a tree that disagrees is never signed: sign()
   * refuses). Cheap once done.
   */
  follow(stream: string): Promise<void>
  /** The signed note of the stream's tree of `size` leaves with `root`; rejects when the signer fails or refuses. */
  sign(stream: string, size: number, root: Buffer): Promise<string>
  /** The most bytes a note of `stream` takes. */
  noteBytes(stream: string): number
}

function checkpointPayload(prevHash: Uint8Array, offset: number, note: string | undefined): Buffer {
  const noteBytes = note === undefined ? 0 : Buffer.byteLength(note, 'utf8')
  if (noteBytes > MAX_CHECKPOINT_NOTE_BYTES) throw new ChainlogError('ERR_INVALID_ARGUMENT', `a checkpoint's note takes at most ${MAX_CHECKPOINT_NOTE_BYTES} bytes, this one ${noteBytes}`)
  const payload = Buffer.alloc(CHECKPOINT_PAYLOAD_BYTES + noteBytes)
  payload.set(prevHash, 0)
  payload.writeBigUInt64LE(BigInt(offset), HASH_BYTES)
  if (note !== undefined) payload.write(note, CHECKPOINT_PAYLOAD_BYTES, 'utf8')
  return payload
}

/** Whether a decoded checkpoint's payload names its own prev_hash and offset (a signed note may follow). */
export function checkpointPayloadMatches(payload: Uint8Array, prevHash: Uint8Array, offset: number): boolean {
  if (payload.length < CHECKPOINT_PAYLOAD_BYTES || payload.length > CHECKPOINT_PAYLOAD_BYTES + MAX_CHECKPOINT_NOTE_BYTES) return false
  const p = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  return p.subarray(0, HASH_BYTES).equals(prevHash) && p.readBigUInt64LE(HASH_BYTES) === BigInt(offset)
}

/** The signed note a checkpoint's payload carries after its 40 bytes (null: none, an unsigned checkpoint). */
export function checkpointNote(payload: Uint8Array): Buffer | null {
  if (payload.length <= CHECKPOINT_PAYLOAD_BYTES) return null
  return Buffer.from(payload.buffer, payload.byteOffset + CHECKPOINT_PAYLOAD_BYTES, payload.byteLength - CHECKPOINT_PAYLOAD_BYTES)
}

export function encodeCheckpoint(
  core: ChainlogCore,
  hash: HashAlgorithm,
  stream: string,
  offset: number,
  prevHash: Buffer,
  timestamp: number,
  into?: Uint8Array,
  /** The stream's Merkle compact range before the checkpoint, when its tree follows commits. */
  treeFrontier?: Uint8Array,
  /** The signed note of the tree of the `offset` records before it (a store that signs). */
  note?: string,
): EncodeBatchResult {
  const payload = checkpointPayload(prevHash, offset, note)
  return core.encodeBatch({
    hash, stream, firstOffset: offset, prevHash, kind: KIND_CHECKPOINT, codec: CODEC_NONE, level: 0,
    payloads: payload, lengths: Uint32Array.of(payload.length),
    timestamps: Float64Array.of(offset === 0 ? 0 : timestamp), wantHashes: false, into, treeFrontier, // one record: lastHash is its hash
  })
}

/** What the backward search needs from a stream. */
export interface CheckpointSource {
  readonly name: string
  readonly core: ChainlogCore
  readonly hash: HashAlgorithm
  segmentFor(offset: number): Segment
  indexOf(segment: Segment): Promise<PositionList>
  readSegment(segment: Segment, position: number, length: number): Promise<Buffer>
}

/**
 * Offset of the last checkpoint at or before `offset` and at or after `minOffset`, looking back at
 * most `maxRecords` records (null: none there). Reads windows of at most SCAN_CHUNK_BYTES
 * backwards, so the cost is O(distance to the checkpoint).
 */
export async function findCheckpointAtOrBefore(src: CheckpointSource, offset: number, maxRecords = Infinity, minOffset = 0): Promise<number | null> {
  let hi = offset
  let looked = 0
  while (hi >= minOffset && looked < maxRecords) {
    const seg = src.segmentFor(hi)
    const index = await src.indexOf(seg)
    const iHi = hi - seg.firstOffset
    if (iHi >= index.length) {
      throw new ChainlogError('ERR_CORRUPT', `stream ${src.name}: segment ${seg.num} has ${index.length} readable records, offset ${hi} is past them`, { stream: src.name, offset: hi })
    }
    const endPos = iHi + 1 < index.length ? index.at(iHi + 1) : seg.size
    let lo = 0
    let top = iHi
    while (lo < top) {
      const mid = Math.floor((lo + top) / 2)
      if (endPos - index.at(mid) <= SCAN_CHUNK_BYTES) top = mid
      else lo = mid + 1
    }
    const iLo = Math.max(lo, iHi - (maxRecords - looked) + 1, minOffset - seg.firstOffset, 0)
    const start = index.at(iLo)
    const data = await src.readSegment(seg, start, endPos - start)
    const r = await src.core.scanSegmentAsync({
      hash: src.hash, stream: src.name, data, basePosition: start, firstOffset: seg.firstOffset + iLo, prevHash: null,
      prevTimestamp: null, verifyChain: false, final: true,
    })
    if (r.stop !== 'end') {
      throw new ChainlogError(r.stop === 'chain' ? 'ERR_CHAIN_BROKEN' : 'ERR_CORRUPT', `stream ${src.name}, segment ${seg.num}: ${r.reason}`, {
        // The offset the record should have: its own offset field may be the damage.
        stream: src.name, offset: r.nextOffset ?? r.stopOffset ?? undefined, segment: seg.num, position: r.stopPosition,
      })
    }
    for (let k = r.count - 1; k >= 0; k--) if (r.kinds[k] === KIND_CHECKPOINT) return r.offsets[k]
    looked += iHi - iLo + 1
    hi = seg.firstOffset + iLo - 1
  }
  return null
}
