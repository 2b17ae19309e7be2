/**
 * The public Log (SPEC §3). It owns the store (chainlog.json, the LOCK, the stream map) and turns
 * each public call into validated arguments and a call on one Stream: appends go through the
 * stream's CommitQueue, reads through a RecordCursor, verify through verify.ts.
 */
import { makeDirDurable } from './durable.ts'
import { resolve as resolvePath } from 'node:path'
import type { BackendName, ChainlogCore } from './core/interface.ts'
import { loadCore } from './core/load.ts'
import { PayloadBuffers } from './commit-queue.ts'
import { ChainlogError } from './errors.ts'
import { StoreLock } from './lock.ts'
import {
  collectEvents, offsetArg, resolveAppendOptions, resolveGetOptions, resolveIterateOptions, resolveLogOptions, resolveReadOptions,
  resolveVerifyOptions, type AppendOptions, type AppendResult, type CheckpointResult, type GetOptions, type HeadInfo, type IterateOptions,
  type LogOptions, type LogRecord, type ReadOptions, type RecoveryEvent, type ResolvedOptions, type StreamDamage, type VerifyOptions, type VerifyReport,
} from './options.ts'
import { damageError, FALLBACK, getVerified, getVerifiedCached, MISS, offsetAtTime, RecordCursor } from './record-reader.ts'
import { discoverStreams, openStore } from './store.ts'
import { streamName } from './stream-name.ts'
import { Stream, ZERO_HASH, type StoreContext } from './stream.ts'
import { bytesToVerify, verifyStream } from './verify.ts'
import { describe } from './stream-name.ts'

/** Streams recovered at once during open. */
const OPEN_CONCURRENCY = 8
/** Warning code emitted when open cut a torn tail or found damage. */
export const RECOVERY_WARNING = 'CHAINLOG_RECOVERY'

/** An open chainlog store: many named streams in one directory. Create one with `Log.open(dir, options)`; call `close()` when done. */
export class Log {
  /** What open-time recovery did: torn tails cut off, damage found (nothing cut). */
  readonly recovered: readonly RecoveryEvent[]
  private closed = false
  private closing: Promise<void> | null = null
  private readonly streamsByName = new Map<string, Stream>()
  private creationWaiters: Array<() => void> = []

  private constructor(
    private readonly ctx: StoreContext,
    private readonly lock: StoreLock | null,
    streams: Stream[],
    recovered: RecoveryEvent[],
  ) {
    for (const s of streams) this.streamsByName.set(s.name, s)
    this.recovered = Object.freeze(recovered)
  }

  /** Opens (or creates) the store at `dir`: takes the LOCK unless readOnly, recovers every stream's tail. */
  static async open(dir: string, options?: LogOptions): Promise<Log> {
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a non-empty path string, got ${describe(dir)}`)
    }
    const opts: ResolvedOptions = resolveLogOptions(options)
    const core: ChainlogCore = await loadCore(opts.backend)
    const root = resolvePath(dir)
    let lock: StoreLock | null = null
    if (!opts.readOnly) {
      await makeDirDurable(root)
      lock = await StoreLock.acquire(root)
    }
    const opened: Stream[] = []
    try {
      const store = await openStore(root, { hash: opts.hash, readOnly: opts.readOnly })
      const ctx: StoreContext = { dir: root, core, hash: store.hash, options: opts, readOnly: opts.readOnly, payloadBuffers: new PayloadBuffers() }
      const names = await discoverStreams(root)
      const recovered: RecoveryEvent[] = []
      const streams: Stream[] = new Array(names.length)
      let next = 0
      const worker = async () => {
        while (next < names.length) {
          const i = next++
          streams[i] = await Stream.open(ctx, names[i], recovered)
          opened.push(streams[i])
        }
      }
      await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, names.length) }, worker))
      for (const e of recovered) {
        process.emitWarning(
          e.action === 'truncated'
            ? `chainlog ${root}: stream ${e.stream}: cut a torn tail of ${e.bytes} bytes at position ${e.position} of segment ${e.segment} (${e.reason})`
            : `chainlog ${root}: stream ${e.stream}: damage at position ${e.position} of segment ${e.segment}, offset ${e.offset}; nothing was cut, appends are refused (${e.reason})`,
          { code: RECOVERY_WARNING },
        )
      }
      return new Log(ctx, lock, streams, recovered)
    } catch (err) {
      for (const s of opened) await s.closeHandles()
      await lock?.release()
      throw err
    }
  }

  /** The core this log runs on: 'native' or 'js'. */
  get backend(): BackendName {
    return this.ctx.core.name
  }

  /** Appends events to a stream; see SPEC §3 for conditions, ordering and group commit. */
  append(stream: string | number, events: Uint8Array | string | Array<Uint8Array | string>, options?: AppendOptions): Promise<AppendResult> {
    // Not an async function: the queue's promise is returned as is (one promise per append, not two).
    try {
      this.checkWritable()
      const name = streamName(stream)
      const { payloads, lengths } = collectEvents(events, this.ctx.options.maxRecordBytes, this.ctx.payloadBuffers)
      const o = resolveAppendOptions(options, this.ctx.options.sync)
      return this.streamForWrite(name).queue.append(payloads, lengths, o)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Writes a checkpoint record now. */
  async checkpoint(stream: string | number): Promise<CheckpointResult> {
    this.checkWritable()
    const s = this.streamForWrite(streamName(stream))
    return (await s.queue.checkpoint(this.ctx.options.sync === 'always', false))!
  }

  /** Data records of a stream in offset order (checkpoints skipped), from `from` or the first record at or after `fromTime`, capped by `limit` and (softly) `maxBytes`, checked per `verify` (default 'checkpoint'). Returns [] past the end. */
  async read(stream: string | number, options?: ReadOptions): Promise<LogRecord[]> {
    this.checkOpen()
    const s = this.streamNamed(stream)
    const o = resolveReadOptions(options)
    if (s === undefined || o.limit === 0) return []
    let from = o.from
    if (o.fromTime !== null) from = Math.max(from, await offsetAtTime(s, o.fromTime))
    const end = s.nextOffset
    if (from >= end) {
      if (s.corrupt !== null && from >= s.corrupt.offset) throw damageError(s) // what lies past the damage is unknown
      return []
    }
    // Prefetch only when the whole range is wanted (a limit would waste the chunk read ahead).
    const cursor = new RecordCursor(s, from, o.verify, o.limit === Infinity && o.maxBytes === Infinity)
    const out: LogRecord[] = []
    let bytes = 0
    for (;;) {
      const batch = await cursor.next(end)
      if (batch === null) break
      for (const r of batch) {
        // maxBytes is soft: the first record always comes, then stop before exceeding it.
        if (out.length > 0 && bytes + r.payload.length > o.maxBytes) return out
        out.push(r)
        bytes += r.payload.length
        if (out.length >= o.limit) return out
      }
    }
    if (s.corrupt !== null) throw damageError(s)
    return out
  }

  /** Records from `from` on with bounded memory; with follow, waits for new ones until close() or break. */
  iterate(stream: string | number, options?: IterateOptions): AsyncIterable<LogRecord> {
    this.checkOpen()
    const name = streamName(stream)
    const o = resolveIterateOptions(options)
    const self = this
    return {
      [Symbol.asyncIterator](): AsyncIterator<LogRecord> {
        // A plain iterator over decoded chunks, not an async generator: records already decoded
        // are handed out without resuming a generator per record.
        let cursor: RecordCursor | null = null
        let s: Stream | undefined
        let batch: LogRecord[] = []
        let at = 0
        let finished = false
        const done: IteratorReturnResult<undefined> = { value: undefined, done: true }
        const refill = async (): Promise<IteratorResult<LogRecord>> => {
          try {
            for (;;) {
              if (finished || self.closed) break
              s ??= self.streamsByName.get(name)
              // Commits seen before looking: if one lands while we look, we look again instead of waiting.
              const seen = s?.commits
              if (s !== undefined) {
                cursor ??= new RecordCursor(s, o.from, o.verify, true)
                const next = await cursor.next(s.nextOffset)
                if (next !== null) {
                  if (next.length === 0) continue
                  batch = next
                  at = 1
                  return { value: next[0], done: false }
                }
                if (s.corrupt !== null) throw damageError(s)
              }
              if (!o.follow || self.closed) break
              s ??= self.streamsByName.get(name)
              if (s === undefined || s.commits === seen) await self.waitForAppend(name)
            }
          } catch (err) {
            finished = true
            batch = []
            throw err
          }
          finished = true
          batch = []
          return done
        }
        return {
          next: () => (at < batch.length ? Promise.resolve({ value: batch[at++], done: false }) : refill()),
          return: async () => {
            finished = true
            batch = []
            return done
          },
        }
      },
    }
  }

  /** The data record at `offset`, checked per `verify` (default 'checkpoint'); undefined past the end or where a checkpoint sits. */
  async get(stream: string | number, offset: number, options?: GetOptions): Promise<LogRecord | undefined> {
    this.checkOpen()
    const s = this.streamNamed(stream)
    offsetArg(offset, 'offset')
    const o = resolveGetOptions(options)
    if (s === undefined) return undefined
    if (offset >= s.nextOffset) {
      if (s.corrupt !== null && offset >= s.corrupt.offset) throw damageError(s)
      return undefined
    }
    if (o.verify === 'checkpoint') {
      // The common case of random gets (interval verified, index and handle open) without an await.
      const cached = getVerifiedCached(s, offset)
      const r = cached !== MISS ? cached : await getVerified(s, offset)
      if (r !== FALLBACK) return r
    }
    const cursor = new RecordCursor(s, offset, o.verify)
    for (;;) {
      const batch = await cursor.next(offset + 1)
      if (batch === null) return undefined // a checkpoint sits at that offset
      if (batch.length > 0) return batch[0]
    }
  }

  /**
   * A stream's next offset, head hash (zeros when empty), number of segments and last checkpoint
   * offset; with `damage` when the stream is known to be damaged. Never throws on damage.
   */
  async head(stream: string | number): Promise<HeadInfo> {
    this.checkOpen()
    const s = this.streamNamed(stream)
    if (s === undefined) return { nextOffset: 0, hash: Buffer.from(ZERO_HASH), segments: 0, lastCheckpoint: null }
    const c = s.corrupt
    let damage: StreamDamage | undefined = c === null ? undefined : { code: c.code, offset: c.offset, segment: c.segment, position: c.position, reason: c.reason, appendsRefused: true }
    if (s.lastCheckpoint === undefined) {
      // Unknown since open: look back from the head (O(distance to it)).
      try {
        s.lastCheckpoint = s.nextOffset === 0 ? null : await s.checkpointAtOrBefore(s.nextOffset - 1)
      } catch (err) {
        // Damage behind the head, met on the way back: reported, not thrown.
        if (!(err instanceof ChainlogError) || (err.code !== 'ERR_CORRUPT' && err.code !== 'ERR_CHAIN_BROKEN')) throw err
        const { offset, segment, position } = err.details as { offset?: number; segment?: number; position?: number }
        damage ??= { code: err.code, offset: offset ?? s.nextOffset, segment: segment ?? null, position: position ?? null, reason: err.message, appendsRefused: false }
      }
    }
    const head: HeadInfo = { nextOffset: s.nextOffset, hash: Buffer.from(s.headHash), segments: s.segments.length, lastCheckpoint: s.lastCheckpoint ?? null }
    if (damage !== undefined) head.damage = damage
    return head
  }

  /** Checks one stream, or all: framing and CRCs, contiguous offsets, prev links, checkpoint payloads, index and manifest agreement. Never throws on damage: every problem is listed with its offset in the report. `onProgress` reports bytes done and total. */
  async verify(stream?: string | number, options?: VerifyOptions): Promise<VerifyReport> {
    this.checkOpen()
    const o = resolveVerifyOptions(options)
    let targets: Stream[]
    if (stream === undefined) targets = [...this.streamsByName.values()].filter((s) => s.segments.length > 0).sort((a, b) => (a.name < b.name ? -1 : 1))
    else {
      const name = streamName(stream)
      const s = this.streamsByName.get(name)
      targets = s === undefined ? [] : [s]
      if (s === undefined) {
        return { ok: true, streams: [{ stream: name, records: 0, events: 0, checkpoints: 0, head: { nextOffset: 0, hash: Buffer.from(ZERO_HASH) }, problems: [] }] }
      }
    }
    const bytesTotal = targets.reduce((n, s) => n + bytesToVerify(s), 0)
    let bytesDone = 0
    const progress = {
      add: (n: number) => {
        if (n <= 0) return
        bytesDone = Math.min(bytesTotal, bytesDone + n)
        o.onProgress?.({ bytesDone, bytesTotal })
      },
    }
    const streams = []
    for (const s of targets) streams.push(await verifyStream(s, progress))
    return { ok: streams.every((r) => r.problems.length === 0), streams }
  }

  /** The names of the store's streams. */
  async streams(): Promise<string[]> {
    this.checkOpen()
    // Only streams with data on disk: a stream whose first appends all failed does not exist.
    return [...this.streamsByName.values()].filter((s) => s.segments.length > 0).map((s) => s.name).sort()
  }

  /** Waits for queued appends and makes everything written so far durable. */
  async flush(): Promise<void> {
    this.checkOpen()
    const all = [...this.streamsByName.values()]
    // Only the calls made before flush(): waiting for an empty queue never ends under steady appends.
    await Promise.all(all.map((s) => s.queue.settled()))
    if (this.ctx.readOnly) return
    for (const s of all) await s.persist()
  }

  /** Finishes queued appends, checkpoints changed streams, saves indexes and manifests, releases the LOCK. */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.closed = true
    const all = [...this.streamsByName.values()]
    let first: unknown = null
    try {
      await Promise.all(all.map((s) => s.queue.idle()))
      if (!this.ctx.readOnly) {
        await Promise.all(
          all.map(async (s) => {
            try {
              if (s.corrupt === null && s.broken === null && s.dirtySinceCheckpoint) await s.queue.checkpoint(true, true)
              await s.persist()
            } catch (err) {
              first ??= err
            }
          }),
        )
      }
    } finally {
      for (const s of all) await s.closeHandles()
      const w = this.creationWaiters
      this.creationWaiters = []
      for (const f of w) f() // followers of streams that never appeared end too
      await this.lock?.release()
    }
    if (first !== null) throw first
  }

  /** Resolves on the stream's next commit, on its creation if it does not exist yet, or on close(). */
  private waitForAppend(name: string): Promise<void> {
    const s = this.streamsByName.get(name)
    if (s !== undefined) return s.waitForAppend()
    return new Promise((resolve) => this.creationWaiters.push(resolve))
  }

  private streamForWrite(name: string): Stream {
    let s = this.streamsByName.get(name)
    if (s === undefined) {
      s = Stream.empty(this.ctx, name)
      this.streamsByName.set(name, s)
      const w = this.creationWaiters
      this.creationWaiters = []
      for (const f of w) f()
    }
    return s
  }

  /** The stream called `stream`, if it exists. Names in the map were validated when added, so a hit skips validation. */
  private streamNamed(stream: unknown): Stream | undefined {
    return (typeof stream === 'string' ? this.streamsByName.get(stream) : undefined) ?? this.streamsByName.get(streamName(stream))
  }

  private checkOpen(): void {
    if (this.closed) throw new ChainlogError('ERR_CLOSED', 'the log is closed; expected an open log')
  }

  private checkWritable(): void {
    this.checkOpen()
    if (this.ctx.readOnly) throw new ChainlogError('ERR_READ_ONLY', 'the log was opened with readOnly: true; expected a writable log')
  }
}
