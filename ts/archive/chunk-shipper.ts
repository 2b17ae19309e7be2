/**
 * Immutable uploads of one stream (SPEC §10): every object but HEAD is written once with
 * If-None-Match: *. A refusal (412) is fine when the object already holds the same bytes (a
 * retry, or a restart after a crash between upload and HEAD); other bytes are a fork:
 * ERR_ARCHIVE_CONFLICT, and nothing is overwritten.
 */
import { createHash } from 'node:crypto'
import { ChainlogError } from '../errors.ts'
import type { Segment } from '../engine/segment.ts'
import { AT_PREV_HASH, HASH_BYTES } from '../core/format.ts'
import { type SegmentMeta, segmentIndexKey, segmentKey, segmentMetaKey, toJson } from './layout.ts'
import type { ObjectStore } from './s3.ts'

/** Where the archived chain ends after an upload: what HEAD will say. */
export interface StreamProgress {
  nextOffset: number
  hash: Buffer
  lastTimestamp: number
}

export class ChunkShipper {
  constructor(
    private readonly objects: ObjectStore,
    private readonly stream: string,
  ) {}

  /** Writes `key` once; equal bytes already there count as written; other bytes are ERR_ARCHIVE_CONFLICT. */
  async putImmutable(key: string, body: Uint8Array, what: string, tolerateDifferent = false): Promise<void> {
    if ((await this.objects.put(key, body, { ifNoneMatch: true })) !== null) return
    const there = await this.objects.get(key)
    if (there !== null && Buffer.compare(there.body, body) === 0) return
    if (tolerateDifferent) return
    throw new ChainlogError('ERR_ARCHIVE_CONFLICT', `stream ${this.stream}: ${this.objects.url}/${key} (${what}) already holds other bytes: the archive has a fork (another writer, or a diverged store); nothing was overwritten`, { stream: this.stream })
  }

  /** A sealed segment: its bytes, then its index (a cache: another one there is tolerated), then its metadata. */
  async shipSegment(seg: Segment, bytes: Buffer, index: Buffer, last: { hash: Buffer; timestamp: number }): Promise<StreamProgress> {
    const meta: SegmentMeta = {
      num: seg.num, firstOffset: seg.firstOffset, nextOffset: seg.nextOffset, size: seg.size,
      firstPrevHash: bytes.subarray(AT_PREV_HASH, AT_PREV_HASH + HASH_BYTES).toString('hex'),
      lastHash: last.hash.toString('hex'), lastTimestamp: last.timestamp, sha256: createHash('sha256').update(bytes).digest('hex'),
    }
    await this.putImmutable(segmentKey(this.stream, seg.num), bytes, `sealed segment ${seg.num}`)
    await this.putImmutable(segmentIndexKey(this.stream, seg.num), index, `index of segment ${seg.num}`, true)
    await this.putImmutable(segmentMetaKey(this.stream, seg.num), toJson(meta), `metadata of segment ${seg.num}`)
    return { nextOffset: seg.nextOffset, hash: last.hash, lastTimestamp: last.timestamp }
  }
}
