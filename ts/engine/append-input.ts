/**
 * What an append brings in: its events collected into one buffer plus their lengths
 * (collectEvents), the reused buffers they are collected into (PayloadBuffers), and the buffer a
 * group's records are encoded into and written from (WriteBuffer).
 */
import { ChainlogError, describe } from '../errors.ts'
import { MAX_PAYLOAD_BYTES } from '../core/format.ts'

/** Payload bytes of one append call: it is copied into one buffer and written in one write. */
const MAX_APPEND_BYTES = MAX_PAYLOAD_BYTES

/** A group's write buffer is kept for the next group up to this size (larger ones are one-offs). */
const MAX_KEPT_WRITE_BUFFER = 16 * 1024 * 1024

/**
 * The buffer a group's records are encoded into, end to end, and written from. One group is in
 * flight at a time, so it is reused group after group: a steady stream of batches allocates (and
 * the kernel zeroes, and the GC tracks) no fresh buffer per write.
 */
export class WriteBuffer {
  private buffer: Buffer | null = null

  /** A buffer of at least `bytes`, or undefined when that is more than is worth keeping. */
  get(bytes: number): Buffer | undefined {
    if (bytes > MAX_KEPT_WRITE_BUFFER) return undefined
    if (this.buffer === null || this.buffer.length < bytes) this.buffer = Buffer.allocUnsafe(Math.max(bytes, 64 * 1024))
    return this.buffer
  }
}

/** Payload buffers of this size range are reused (smaller ones come from Node's shared pool). */
const MIN_POOLED_PAYLOAD = 16 * 1024
const MAX_POOLED_PAYLOAD = 4 * 1024 * 1024
/** Bytes of payload buffers kept for reuse, per log (all its streams). */
const MAX_KEPT_PAYLOAD_BYTES = 16 * 1024 * 1024

/**
 * The buffers appends collect their events into (collectEvents), reused once the group that
 * carried them was encoded and written: a fresh buffer per append costs as much as copying the
 * events into it (new pages, zeroed by the kernel) and feeds the GC (docs/perf-notes.md).
 * One per log; only buffers it made itself are taken back (never a slab of Node's Buffer pool,
 * whatever Buffer.poolSize is set to).
 */
export class PayloadBuffers {
  private free: Buffer[] = []
  private freeBytes = 0
  private readonly made = new WeakSet<ArrayBufferLike>()

  /** A buffer of exactly `bytes` (a view of a kept one when one is large enough). */
  take(bytes: number): Buffer {
    if (bytes < MIN_POOLED_PAYLOAD || bytes > MAX_POOLED_PAYLOAD) return Buffer.allocUnsafe(bytes)
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i]
      if (b.length >= bytes) {
        this.free.splice(i, 1)
        this.freeBytes -= b.length
        return b.subarray(0, bytes)
      }
    }
    const b = Buffer.from(new ArrayBuffer(bytes))
    this.made.add(b.buffer)
    return b
  }

  /** Takes back an append's payloads once nothing reads them again (after its group's encode). */
  give(payloads: Buffer): void {
    const ab = payloads.buffer
    if (!this.made.has(ab) || this.freeBytes + ab.byteLength > MAX_KEPT_PAYLOAD_BYTES) return
    this.free.push(Buffer.from(ab))
    this.freeBytes += ab.byteLength
  }
}

/** A typed array's byte length from its internal slot: a subclass cannot lie about it with a getter. */
const byteLengthOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength')!.get as (this: Uint8Array) => number

/**
 * The events of an append as one buffer plus lengths; strings are UTF-8. Copies the input (the
 * caller may reuse its buffers once append returns). Each event is read from the caller's array
 * exactly once (a getter that answers differently the second time cannot make the sizes and the
 * bytes disagree); then lengths are measured and checked, and every event is copied into one
 * buffer (from `buffers`, the log's reused ones, when given).
 */
export function collectEvents(events: unknown, maxRecordBytes: number, buffers?: { take(bytes: number): Buffer }): { payloads: Buffer; lengths: Uint32Array } {
  const list: unknown[] = Array.isArray(events) ? events : [events]
  const n = list.length
  if (n === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'events: expected at least one event, got an empty array')
  const items = new Array<Uint8Array | string>(n)
  const lengths = new Uint32Array(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    const e: unknown = list[i]
    let length: number
    if (e instanceof Uint8Array) length = byteLengthOf.call(e)
    else if (typeof e === 'string') length = Buffer.byteLength(e, 'utf8')
    else throw new ChainlogError('ERR_INVALID_ARGUMENT', `events[${i}]: expected a Uint8Array or a string, got ${describe(e)}`)
    if (length > maxRecordBytes) {
      throw new ChainlogError('ERR_RECORD_TOO_LARGE', `events[${i}]: ${length} bytes, expected at most maxRecordBytes = ${maxRecordBytes}`)
    }
    total += length
    if (total > MAX_APPEND_BYTES) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `events: more than ${MAX_APPEND_BYTES} payload bytes in one append (at event ${i}); split the batch`)
    }
    items[i] = e
    lengths[i] = length
  }
  const payloads = buffers?.take(total) ?? Buffer.allocUnsafe(total)
  let at = 0
  for (let i = 0; i < n; i++) {
    const e = items[i]
    if (typeof e === 'string') payloads.write(e, at, 'utf8')
    else payloads.set(e, at)
    at += lengths[i]
  }
  return { payloads, lengths }
}
