/**
 * Chain hashes already verified, per checkpoint interval, so a random `get` (verify 'checkpoint')
 * costs O(1) instead of re-verifying up to checkpointEvery records each time.
 *
 * An entry is the verified prefix of one interval: the hashes of records [start, end), checked
 * link by link from its anchor (a checkpoint, or offset 0 with zero prev_hash). A `get` inside it
 * decodes only its own record, recomputes that record's hash from the bytes on disk now, and
 * compares it with the cached one (and its prev_hash with the cached hash before it), so a record
 * changed after it was verified is still caught. Entries are dropped least recently used first
 * once they hold more than MAX_VERIFIED_HASH_BYTES, and all of them when a stream's bytes are cut
 * (rollback); open-time recovery builds a new Stream, so nothing survives a truncation there.
 */
import { HASH_BYTES } from '../core/format.ts'

/** Memory for cached hashes per stream: 32 bytes a record, so about a million records. */
export const MAX_VERIFIED_HASH_BYTES = 32 * 1024 * 1024
/** Hashes an interval holds room for when created (64 KiB); it grows as it is filled. */
const INITIAL_HASHES = 2048

export class VerifiedInterval {
  private data: Buffer
  /** Records whose hashes are held: [start, start + count). */
  count = 0
  /** When it was last used (VerifiedHashes' tick). */
  lastUse = 0

  /** `capacity` is a hint: at most INITIAL_HASHES are allocated up front, the rest as hashes come. */
  constructor(readonly start: number, capacity: number) {
    this.data = Buffer.allocUnsafe(Math.min(Math.max(capacity, 1), INITIAL_HASHES) * HASH_BYTES)
  }

  get end(): number {
    return this.start + this.count
  }

  get bytes(): number {
    return this.data.length
  }

  /** The cached hash of `offset` (start ≤ offset < end), as a view. */
  hashAt(offset: number): Buffer {
    const at = (offset - this.start) * HASH_BYTES
    return this.data.subarray(at, at + HASH_BYTES)
  }

  /**
   * Whether `hash` (32 bytes) is the cached hash of `offset` (start ≤ offset < end). Compared in
   * place, byte by byte: no view is made, and 32 bytes in optimized JS cost less than a call
   * into Buffer.compare.
   */
  matches(offset: number, hash: Uint8Array): boolean {
    const at = (offset - this.start) * HASH_BYTES
    const data = this.data
    for (let i = 0; i < HASH_BYTES; i++) if (data[at + i] !== hash[i]) return false
    return true
  }

  /** Appends `n` hashes (n × 32 bytes of `hashes` from record `from`) verified after `end`. */
  push(hashes: Uint8Array, from: number, n: number): void {
    const need = (this.count + n) * HASH_BYTES
    if (need > this.data.length) {
      // Doubling, but not past the budget unless this push itself needs more.
      const bigger = Buffer.allocUnsafe(Math.max(need, Math.min(this.data.length * 2, MAX_VERIFIED_HASH_BYTES)))
      this.data.copy(bigger, 0, 0, this.count * HASH_BYTES)
      this.data = bigger
    }
    this.data.set(hashes.subarray(from * HASH_BYTES, (from + n) * HASH_BYTES), this.count * HASH_BYTES)
    this.count += n
  }
}

export class VerifiedHashes {
  /** Key: the anchor checkpoint's offset, or −1 for the stream start. */
  private readonly intervals = new Map<number, VerifiedInterval>()
  private bytes = 0
  /** Uses so far: an interval's `lastUse` is the tick of its last get, for eviction. */
  private tick = 0

  constructor(private readonly maxBytes = MAX_VERIFIED_HASH_BYTES) {}

  get(anchor: number): VerifiedInterval | undefined {
    const v = this.intervals.get(anchor)
    // Recency as a number, not as Map order (a delete and a set on every get cost more than the
    // rest of a cached get's bookkeeping); eviction, rare, searches for the oldest.
    if (v !== undefined) v.lastUse = ++this.tick
    return v
  }

  /** Stores (or re-measures, after it grew) an interval; false when it alone exceeds the budget. */
  set(anchor: number, interval: VerifiedInterval): boolean {
    const old = this.intervals.get(anchor)
    if (old !== undefined) {
      this.bytes -= old.bytes
      this.intervals.delete(anchor)
    }
    if (interval.bytes > this.maxBytes) return false
    interval.lastUse = ++this.tick
    this.intervals.set(anchor, interval)
    this.bytes += interval.bytes
    while (this.bytes > this.maxBytes) {
      let oldest: number | undefined
      let oldestUse = Infinity
      for (const [key, v] of this.intervals) {
        if (v !== interval && v.lastUse < oldestUse) {
          oldest = key
          oldestUse = v.lastUse
        }
      }
      if (oldest === undefined) break
      this.bytes -= this.intervals.get(oldest)!.bytes
      this.intervals.delete(oldest)
    }
    return true
  }

  clear(): void {
    this.intervals.clear()
    this.bytes = 0
  }
}
