/**
 * Immutable uploads of one stream (SPEC §10): every object but HEAD is written once with
 * If-None-Match: *. A refusal (412) is fine when the object already holds the same bytes (a
 * retry, or a restart after a crash between upload and HEAD); other bytes are a fork:
 * ERR_ARCHIVE_CONFLICT, and nothing is overwritten.
 */
import { ChainlogError } from '../errors.ts'
import type { Segment } from '../engine/segment.ts'
import { AT_PREV_HASH, HASH_BYTES } from '../core/format.ts'
import { type SegmentMeta, segmentIndexKey, segmentKey, segmentMetaKey, toJson } from './layout.ts'
import type { ObjectAccess } from './s3.ts'
import type { SegmentReader, SegmentUpload } from './segment-upload.ts'

/** Where the archived chain ends after an upload: what HEAD will say. */
export interface StreamProgress {
  nextOffset: number
  hash: Buffer
  lastTimestamp: number
}

/**
 * Uploads a sealed segment's bytes under `key` (segment-upload.ts): on the shipping thread from
 * its file, or on this thread through `read` (a store in memory).
 */
export type SealedUpload = (key: string, seg: Segment, recordStarts: Float64Array, read: SegmentReader) => Promise<SegmentUpload>

export class ChunkShipper {
  constructor(
    private readonly objects: ObjectAccess,
    private readonly stream: string,
    private readonly uploadSealed: SealedUpload,
  ) {}

  /**
   * Writes `key` once; equal bytes already there count as written; other bytes are ERR_ARCHIVE_CONFLICT.
   * `body` is given away (ObjectAccess.putOnce): the caller does not use it afterwards.
   */
  async putImmutable(key: string, body: Uint8Array, what: string, tolerateDifferent = false): Promise<void> {
    if ((await this.objects.putOnce(key, body)) !== 'different' || tolerateDifferent) return
    throw this.fork(key, what)
  }

  /**
   * A sealed segment: its bytes streamed in chunks (never held whole: segments are up to
   * maxSegmentBytes), then its index (a cache: another one there is tolerated), then its metadata.
   * `gen`: the generation of a re-upload after a redaction (layout.ts), under keys of its own.
   * Also the positions of the tombstones among its records (`recordStarts`).
   */
  async shipSegment(seg: Segment, read: SegmentReader, recordStarts: Float64Array, index: Buffer, last: { hash: Buffer; timestamp: number }, gen?: string): Promise<{ progress: StreamProgress; tombstones: number[] }> {
    const first = await read(AT_PREV_HASH, HASH_BYTES)
    const key = segmentKey(this.stream, seg.num, gen)
    const upload = await this.uploadSealed(key, seg, recordStarts, read)
    if ('conflict' in upload) throw this.fork(key, `sealed segment ${seg.num}`)
    const meta: SegmentMeta = {
      num: seg.num, firstOffset: seg.firstOffset, nextOffset: seg.nextOffset, size: seg.size,
      firstPrevHash: first.toString('hex'), lastHash: last.hash.toString('hex'), lastTimestamp: last.timestamp, sha256: upload.sha256,
    }
    await this.putImmutable(segmentIndexKey(this.stream, seg.num, gen), index, `index of segment ${seg.num}`, true)
    await this.putImmutable(segmentMetaKey(this.stream, seg.num, gen), toJson(meta), `metadata of segment ${seg.num}`)
    return { progress: { nextOffset: seg.nextOffset, hash: last.hash, lastTimestamp: last.timestamp }, tombstones: upload.tombstones }
  }

  private fork(key: string, what: string): ChainlogError {
    return new ChainlogError('ERR_ARCHIVE_CONFLICT', `stream ${this.stream}: ${this.objects.url}/${key} (${what}) already holds other bytes: the archive has a fork (another writer, or a diverged store); nothing was overwritten`, { stream: this.stream })
  }
}
