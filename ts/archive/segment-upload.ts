/**
 * A sealed segment's upload (SPEC §10): its bytes streamed once with If-None-Match: *, hashed as
 * they go out (so the SHA-256 is of exactly the bytes uploaded), their tombstones noted on the
 * way. One logic for both places it runs: the shipping thread (ship-worker.ts, reading the
 * segment's file) and, for a store in memory, the appends' own thread (chunk-shipper.ts).
 */
import { Readable } from 'node:stream'
import { AT_KIND } from '../core/format.ts'
import { KIND_MASK, KIND_TOMBSTONE } from '../core/interface.ts'
import type { ObjectStore } from './s3.ts'

/** Reads `length` bytes of the segment at `position`. */
export type SegmentReader = (position: number, length: number) => Promise<Buffer>

/** A SHA-256 over chunks given in order; update() hands back the same bytes once they are hashed. */
export interface ChunkHash {
  update(chunk: Buffer): Promise<Buffer> | Buffer
  digest(): Promise<string> | string
  /** Drops the hash without its digest (a failed upload). */
  abandon(): void
}

/** What an upload found: its SHA-256 and where its tombstones start; or other bytes under the key (a fork). */
export type SegmentUpload = { sha256: string; tombstones: number[] } | { conflict: true }

/** Bytes per read while a sealed segment streams to the server. */
const SEGMENT_CHUNK_BYTES = 1024 * 1024

/**
 * Streams the segment's `size` bytes from `read` to `key` (never held whole: segments are up to
 * maxSegmentBytes). A refusal is fine when the object there has the same SHA-256 and size.
 * `recordStarts`: the segment's record positions, for the tombstones.
 */
export async function uploadSegment(objects: ObjectStore, key: string, size: number, read: SegmentReader, recordStarts: Float64Array, newHash: () => ChunkHash): Promise<SegmentUpload> {
  // Asked first: a server refusing a streamed PUT answers 412 and drops the connection while
  // the body is still being sent, so the client sees a reset rather than the 412. (A writer
  // racing in between gets that reset: ERR_IO, and the retry finds the object here.)
  if (!(await objects.exists(key))) {
    const hash = newHash()
    const tombstones = new TombstoneCollector(recordStarts)
    try {
      if ((await objects.putStream(key, () => chunks(size, read, hash, tombstones), size, { ifNoneMatch: true })) !== null) return { sha256: await hash.digest(), tombstones: tombstones.positions }
    } finally {
      hash.abandon()
    }
  }
  // Already there (a retry, or a restart before HEAD): compare digests, streamed on both sides.
  const local = newHash()
  const tombstones = new TombstoneCollector(recordStarts)
  let sha256: string
  try {
    for await (const _ of chunks(size, read, local, tombstones));
    sha256 = await local.digest()
  } finally {
    local.abandon()
  }
  const there = await objects.sha256(key)
  return there !== null && there.sha256 === sha256 && there.size === size ? { sha256, tombstones: tombstones.positions } : { conflict: true }
}

/**
 * The segment's bytes as a stream of chunks, each seen by `tombstones` and hashed into `hash`
 * before it is passed on; the next chunk is read and hashed while this one is sent.
 */
function chunks(size: number, read: SegmentReader, hash: ChunkHash, tombstones: TombstoneCollector): Readable {
  const fetch = (at: number) => {
    const chunk = read(at, Math.min(SEGMENT_CHUNK_BYTES, size - at)).then((b) => {
      tombstones.see(at, b)
      return hash.update(b)
    })
    chunk.catch(() => {}) // read ahead: if the upload stops first, its failure is nobody's to report
    return chunk
  }
  return Readable.from((async function* () {
    let next = size > 0 ? fetch(0) : null
    for (let at = 0; next !== null; at += SEGMENT_CHUNK_BYTES) {
      const b = await next
      // Asked only now that the previous update is answered: chunks are hashed in order.
      next = at + SEGMENT_CHUNK_BYTES < size ? fetch(at + SEGMENT_CHUNK_BYTES) : null
      yield b
    }
  })(), { objectMode: false })
}

/** Kinds read at record starts while a sealed segment streams out in order: the positions of its tombstones. */
class TombstoneCollector {
  /** Record starts whose kind byte is a tombstone's, or fell past the end of the chunk it started in. */
  readonly positions: number[] = []
  private next = 0

  constructor(private readonly recordStarts: Float64Array) {}

  /** Looks at the records starting in `chunk`, bytes [position, position + chunk.length) of the segment (chunks come in order). */
  see(position: number, chunk: Uint8Array): void {
    const starts = this.recordStarts
    for (; this.next < starts.length && starts[this.next] < position + chunk.length; this.next++) {
      const at = starts[this.next] - position + AT_KIND
      if (at >= chunk.length || (chunk[at] & KIND_MASK) === KIND_TOMBSTONE) this.positions.push(starts[this.next])
    }
  }
}
