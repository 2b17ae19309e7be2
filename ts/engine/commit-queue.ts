/**
 * Group commit for one stream: the queue. Calls take effect in call order. While one write+fsync
 * is in flight, later calls queue; the next group takes everything queued (up to a byte budget)
 * and goes through commit.ts (plan, encode, write, settle). A call is resolved only after its
 * group's write (and fsync) completed, so all events of one append land together or not at all.
 */
import { RECORD_OVERHEAD } from '../core/format.ts'
import type { AppendResult } from '../types.ts'
import { WriteBuffer } from './append-input.ts'
import { CHECKPOINT_RECORD_BYTES, commitGroup, type AppendRequest, type CommitTarget, type Request, type WrittenCheckpoint } from './commit.ts'

/** Payload bytes one group may carry (besides the first call, which always goes). */
const MAX_GROUP_BYTES = 64 * 1024 * 1024

/** An append's conditions and sync choice, as resolved from its options. */
export type AppendConditions = Pick<AppendRequest, 'expectedOffset' | 'expectedHash' | 'timestamp' | 'sync'>

/** A call that runs alone, in call order, with the stream's writes held until it settles (a redaction). */
interface ExclusiveRequest {
  type: 'exclusive'
  run: () => Promise<unknown>
  seq: number
  resolve: (r: unknown) => void
  reject: (e: unknown) => void
}

type Queued = Request | ExclusiveRequest

export class CommitQueue {
  private pending: Queued[] = []
  private running = false
  private idleWaiters: Array<() => void> = []
  /** Calls enqueued so far (the last one's seq), and every call with seq ≤ settledUpTo has settled. */
  private enqueued = 0
  private settledUpTo = 0
  private barriers: Array<{ seq: number; resolve: () => void }> = []
  private readonly writeBuffer = new WriteBuffer()

  constructor(private readonly stream: CommitTarget) {}

  append(payloads: Buffer, lengths: Uint32Array, o: AppendConditions): Promise<AppendResult> {
    // One object shape for every request (no spread): this runs once per append.
    return new Promise((resolve, reject) =>
      this.enqueue({
        type: 'append', payloads, lengths, expectedOffset: o.expectedOffset, expectedHash: o.expectedHash, timestamp: o.timestamp,
        sync: o.sync, seq: 0, resolve, reject,
      }),
    )
  }

  checkpoint(sync: boolean, onlyIfDirty: boolean): Promise<WrittenCheckpoint | null> {
    return new Promise((resolve, reject) => this.enqueue({ type: 'checkpoint', sync, onlyIfDirty, seq: 0, resolve, reject }))
  }

  /**
   * Runs `run` after every call made before it and before every call made after it, with no
   * write in flight meanwhile: the stream's writes are held while it runs.
   */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.enqueue({ type: 'exclusive', run, seq: 0, resolve: resolve as (r: unknown) => void, reject }))
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.running && this.pending.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Resolves once every call queued before this one has settled (later calls are not waited for,
   * so steady appends cannot starve it).
   */
  settled(): Promise<void> {
    const seq = this.enqueued
    if (this.settledUpTo >= seq) return Promise.resolve()
    return new Promise((resolve) => this.barriers.push({ seq, resolve }))
  }

  private enqueue(req: Queued): void {
    req.seq = ++this.enqueued
    this.pending.push(req)
    if (!this.running) {
      this.running = true
      // Start on a microtask so calls made in the same tick share the first group.
      queueMicrotask(() => void this.drain())
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const head = this.pending[0]
        if (head.type === 'exclusive') {
          this.pending.shift()
          await head.run().then(head.resolve, head.reject)
          this.advanceSettled()
          continue
        }
        const group = this.take()
        try {
          const retry = await commitGroup(this.stream, group, this.writeBuffer)
          if (retry.length > 0) this.pending.unshift(...retry)
          // Encoded and written, or failed for good: their payloads are read no more.
          for (const r of group) if (r.type === 'append' && !retry.includes(r)) this.stream.ctx.payloadBuffers.give(r.payloads)
        } catch (err) {
          for (const r of group) r.reject(err) // never expected: commitGroup settles its own
        }
        this.advanceSettled()
      }
    } finally {
      this.running = false
      this.advanceSettled()
      const w = this.idleWaiters
      this.idleWaiters = []
      for (const f of w) f()
    }
  }

  /** Pending calls are in seq order and none is in flight here: all before the first pending settled. */
  private advanceSettled(): void {
    this.settledUpTo = this.pending.length > 0 ? this.pending[0].seq - 1 : this.enqueued
    if (this.barriers.length === 0) return
    const ready = this.barriers.filter((b) => b.seq <= this.settledUpTo)
    if (ready.length === 0) return
    this.barriers = this.barriers.filter((b) => b.seq > this.settledUpTo)
    for (const b of ready) b.resolve()
  }

  private take(): Request[] {
    const budget = Math.min(MAX_GROUP_BYTES, this.stream.ctx.options.maxSegmentBytes)
    let bytes = 0
    let n = 0
    for (const r of this.pending) {
      if (r.type === 'exclusive') break // it runs alone, after this group
      const size = r.type === 'append' ? r.payloads.length + r.lengths.length * RECORD_OVERHEAD : CHECKPOINT_RECORD_BYTES
      if (n > 0 && bytes + size > budget) break
      bytes += size
      n++
    }
    return this.pending.splice(0, n) as Request[]
  }
}
