/**
 * The checkpoint policy and checkpoint records (SPEC §2–3). A checkpoint is an ordinary record of
 * kind 1 in the chain: payload = its prev_hash ‖ u64 its offset, timestamp = the timestamp of the
 * record before it (0 at offset 0), never compressed, so both cores write the same bytes. It is
 * what verified reads anchor on, so a read costs O(distance to the nearest checkpoint).
 */
import { CODEC_NONE, KIND_CHECKPOINT, type ChainlogCore, type EncodeBatchResult, type HashAlgorithm } from '../core/interface.ts'
import { CHECKPOINT_PAYLOAD_BYTES, HASH_BYTES } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import type { PositionList } from '../storage/offset-index.ts'
import { SCAN_CHUNK_BYTES } from '../storage/segment-scan.ts'
import type { Segment } from './segment.ts'

/** Whether the policy wants a checkpoint after an append, given records since the last one. */
export function checkpointDue(sinceCheckpoint: number, every: number | false): boolean {
  return every !== false && sinceCheckpoint >= every
}

function checkpointPayload(prevHash: Uint8Array, offset: number): Buffer {
  const payload = Buffer.alloc(CHECKPOINT_PAYLOAD_BYTES)
  payload.set(prevHash, 0)
  payload.writeBigUInt64LE(BigInt(offset), HASH_BYTES)
  return payload
}

/** Whether a decoded checkpoint's payload names its own prev_hash and offset. */
export function checkpointPayloadMatches(payload: Uint8Array, prevHash: Uint8Array, offset: number): boolean {
  if (payload.length !== CHECKPOINT_PAYLOAD_BYTES) return false
  const p = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  return p.subarray(0, HASH_BYTES).equals(prevHash) && p.readBigUInt64LE(HASH_BYTES) === BigInt(offset)
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
): EncodeBatchResult {
  return core.encodeBatch({
    hash, stream, firstOffset: offset, prevHash, kind: KIND_CHECKPOINT, codec: CODEC_NONE, level: 0,
    payloads: checkpointPayload(prevHash, offset), lengths: Uint32Array.of(CHECKPOINT_PAYLOAD_BYTES),
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
