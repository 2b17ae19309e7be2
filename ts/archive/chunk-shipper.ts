/**
 * Immutable uploads of one stream (SPEC §10): every object but HEAD is written once with
 * If-None-Match: *. A refusal (412) is fine when the object already holds the same bytes (a
 * retry, or a restart after a crash between upload and HEAD); other bytes are a fork:
 * ERR_ARCHIVE_CONFLICT, and nothing is overwritten.
 */
import { Readable } from 'node:stream'
import { ChainlogError } from '../errors.ts'
import type { Segment } from '../engine/segment.ts'
import { AT_PREV_HASH, HASH_BYTES } from '../core/format.ts'
import { type SegmentMeta, segmentIndexKey, segmentKey, segmentMetaKey, toJson } from './layout.ts'
import type { ObjectStore } from './s3.ts'
import { OffThreadSha256 } from './hash-worker.ts'

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

  /**
   * A sealed segment: its bytes streamed from `read` in chunks (never held whole: segments are up
   * to maxSegmentBytes), then its index (a cache: another one there is tolerated), then its metadata.
   * `gen`: the generation of a re-upload after a redaction (layout.ts), under keys of its own.
   */
  async shipSegment(seg: Segment, read: SegmentReader, index: Buffer, last: { hash: Buffer; timestamp: number }, gen?: string): Promise<StreamProgress> {
    const first = await read(AT_PREV_HASH, HASH_BYTES)
    const meta: SegmentMeta = {
      num: seg.num, firstOffset: seg.firstOffset, nextOffset: seg.nextOffset, size: seg.size,
      firstPrevHash: first.toString('hex'), lastHash: last.hash.toString('hex'), lastTimestamp: last.timestamp, sha256: await this.putSegment(seg, read, gen),
    }
    await this.putImmutable(segmentIndexKey(this.stream, seg.num, gen), index, `index of segment ${seg.num}`, true)
    await this.putImmutable(segmentMetaKey(this.stream, seg.num, gen), toJson(meta), `metadata of segment ${seg.num}`)
    return { nextOffset: seg.nextOffset, hash: last.hash, lastTimestamp: last.timestamp }
  }

  /** Streams the segment once with If-None-Match: *; its SHA-256. A refusal is fine when the object there has the same SHA-256. */
  private async putSegment(seg: Segment, read: SegmentReader, gen: string | undefined): Promise<string> {
    const key = segmentKey(this.stream, seg.num, gen)
    // Asked first: a server refusing a streamed PUT answers 412 and drops the connection while
    // the body is still being sent, so the client sees a reset rather than the 412. (A writer
    // racing in between gets that reset: ERR_IO, and the retry finds the object here.)
    if (!(await this.objects.exists(key))) {
      const hash = new OffThreadSha256()
      try {
        if ((await this.objects.putStream(key, () => chunks(seg.size, read, hash), seg.size, { ifNoneMatch: true })) !== null) return await hash.digest()
      } finally {
        hash.abandon()
      }
    }
    // Already there (a retry, or a restart before HEAD): compare digests, streamed on both sides.
    const local = new OffThreadSha256()
    let sha256: string
    try {
      for await (const _ of chunks(seg.size, read, local));
      sha256 = await local.digest()
    } finally {
      local.abandon()
    }
    const there = await this.objects.sha256(key)
    if (there !== null && there.sha256 === sha256 && there.size === seg.size) return sha256
    throw new ChainlogError('ERR_ARCHIVE_CONFLICT', `stream ${this.stream}: ${this.objects.url}/${key} (sealed segment ${seg.num}) already holds other bytes: the archive has a fork (another writer, or a diverged store); nothing was overwritten`, { stream: this.stream })
  }
}

/** Reads `length` bytes of the segment at `position`. */
export type SegmentReader = (position: number, length: number) => Promise<Buffer>

/** Bytes per read while a sealed segment streams to the server. */
const SEGMENT_CHUNK_BYTES = 1024 * 1024

/**
 * The segment's bytes as a stream of chunks, each hashed into `hash` before it is passed on; the
 * next chunk is read and hashed while this one is sent.
 */
function chunks(size: number, read: SegmentReader, hash: OffThreadSha256): Readable {
  const fetch = (at: number) => {
    const chunk = read(at, Math.min(SEGMENT_CHUNK_BYTES, size - at)).then((b) => hash.update(b))
    chunk.catch(() => {}) // read ahead: if the upload stops first, its failure is nobody's to report
    return chunk
  }
  return Readable.from((async function* () {
    let next = size > 0 ? fetch(0) : null
    for (let at = 0; next !== null; at += SEGMENT_CHUNK_BYTES) {
      const b = await next
      // Asked only now that the previous update is answered: the worker hashes chunks in order.
      next = at + SEGMENT_CHUNK_BYTES < size ? fetch(at + SEGMENT_CHUNK_BYTES) : null
      yield b
    }
  })(), { objectMode: false })
}
