/**
 * The public Log (SPEC §3). It owns the store (chainlog.json, the LOCK, the stream map) and turns
 * each public call into validated arguments and a call on one Stream: appends go through the
 * stream's CommitQueue, reads through a RecordCursor, verify through verify.ts.
 */
import { ioError } from './storage/durable.ts'
import { diskStorage } from './storage/disk-storage.ts'
import { MIN_OPEN_FILES } from './storage/open-files.ts'
import { MemoryStorage } from './storage/memory-storage.ts'
import type { Storage, StorageLock } from './storage/storage.ts'
import { dirname, join, relative, resolve as resolvePath } from 'node:path'
import type { BackendName, ChainlogCore } from './core/interface.ts'
import { loadCore } from './core/load.ts'
import { collectEvents, PayloadBuffers } from './engine/append-input.ts'
import { ChainlogError, describe } from './errors.ts'
import {
  offsetArg, resolveRepairOptions, resolveAppendOptions, resolveGetOptions, resolveIterateOptions, resolveLogOptions, resolveReadOptions, resolveVerifyOptions,
} from './validate.ts'
import { resolveTrainDictionaryOptions } from './validate.ts'
import type {
  AppendOptions, AppendResult, CheckpointResult, GetOptions, HeadInfo, IterateOptions, LogOptions, LogRecord, ReadOptions, RecoveryEvent,
  ResolvedOptions, StreamDamage, StreamReport, VerifyOptions, VerifyReport, RepairOptions, RepairResult,
} from './types.ts'
import type { TrainDictionaryOptions, TrainDictionaryResult } from './types.ts'
import { RecordCursor } from './read/cursor.ts'
import { damageError } from './read/damage.ts'
import { FALLBACK, getVerified, getVerifiedCached, MISS } from './read/get.ts'
import { offsetAtTime } from './read/time-seek.ts'
import { iterateRecords, type FollowSource } from './read/follow.ts'
import { discoverStreams, openStore, readCleanStreams, removeCleanStreams, writeCleanStreams } from './storage/store.ts'
import { streamName } from './storage/stream-name.ts'
import { Stream } from './engine/stream.ts'
import { StreamSet } from './engine/stream-set.ts'
import type { StoreContext } from './engine/store-context.ts'
import { SyncWindow } from './engine/sync-window.ts'
import { Journal } from './engine/journal.ts'
import { replayJournal } from './engine/journal-replay.ts'
import { ZERO_HASH } from './core/format.ts'
import { bytesToVerify, type EmbeddedNote, verifyStream } from './read/verify.ts'
import { type ConsistencyProof, type InclusionProof, ProvableStreams, type TreeHead } from './read/provable.ts'
import { checkRollback, openTlog } from './tlog-setup.ts'
import { admitRestoredStore } from './engine/restored-store.ts'
import { embeddedHeads, publishedHead, trustedHeads, verifyTree } from './read/verify-tree.ts'
import { registerStore } from './engine/open-stores.ts'
import { DEFAULT_DICTIONARY_BYTES, DEFAULT_SAMPLE_RECORDS, trainingSamples } from './engine/dictionary.ts'
import { applyRepair, planRepair } from './engine/repair.ts'
import { redactRecord } from './engine/redaction.ts'
import { readAgainAfterRewrite } from './read/rewrite-retry.ts'
import { resolveRedactOptions } from './validate.ts'
import type { RedactOptions, RedactResult } from './types.ts'
import { applyRetention, exclusiveOfPrunes, pruneBefore, prunedError, segmentsBefore } from './engine/retention.ts'
import { resolvePruneOptions } from './validate.ts'
import type { PruneOptions, PruneResult } from './types.ts'

/** Where a memory log's files live (paths inside its MemoryStorage only). */
const MEMORY_ROOT = '/chainlog-memory'
/** Warning code emitted when open cut a torn tail or found damage. */
export const RECOVERY_WARNING = 'CHAINLOG_RECOVERY'
/** Warning code emitted when the `retention` policy failed to prune a stream (it is tried again after the next rotation). */
const RETENTION_WARNING = 'CHAINLOG_RETENTION'

/** An open chainlog store: many named streams in one directory. Create one with `Log.open(dir, options)`; call `close()` when done. */
export class Log {
  private closed = false
  /** Reads in flight (read, get, head, verify, an iterator's next chunk): close() lets them finish before it frees a memory log. */
  private readonly reads = new Set<Promise<unknown>>()
  private closing: Promise<void> | null = null
  private creationWaiters: Array<() => void> = []
  /** Retention runs started after rotations: close() waits for them. */
  private readonly retentionRuns = new Set<Promise<unknown>>()

  private constructor(
    private readonly ctx: StoreContext,
    private readonly lock: StorageLock | null,
    private readonly streamSet: StreamSet,
    private readonly recoveredEvents: RecoveryEvent[],
    private readonly provable: ProvableStreams,
  ) {
    registerStore(this, { ctx, streamSet, isClosed: () => this.closed })
  }

  /**
   * What recovery did: torn tails cut off, damage found (nothing cut). Streams of a store that was
   * closed cleanly are opened on first use; what their opening finds is added then.
   */
  get recovered(): readonly RecoveryEvent[] {
    return this.recoveredEvents
  }

  /** Opens (or creates) the store at `dir`: takes the LOCK unless readOnly, recovers every stream's tail. */
  static async open(dir: string, options?: LogOptions): Promise<Log> {
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a non-empty path string, got ${describe(dir)}`)
    }
    const opts = resolveLogOptions(options)
    return Log.openOn(diskStorage(opts.maxOpenFiles), resolvePath(dir), opts)
  }

  /**
   * A log held in memory: the same API, records and hashes as a store on disk given the same
   * appends, and no file touched (for tests of applications that use chainlog). `sync` is
   * accepted and has nothing to make durable; `readOnly` is refused (there is nothing to read
   * that this log did not write). `close()` frees it; `saveTo(dir)` writes it out as a store.
   */
  static async memory(options?: LogOptions): Promise<Log> {
    const opts = resolveLogOptions(options)
    if (opts.readOnly) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'readOnly: a memory log has nothing to read that it did not write; expected readOnly false or absent')
    return Log.openOn(new MemoryStorage(), MEMORY_ROOT, opts)
  }

  private static async openOn(storage: Storage, root: string, opts: ResolvedOptions): Promise<Log> {
    const core: ChainlogCore = await loadCore(opts.backend)
    let lock: StorageLock | null = null
    if (!opts.readOnly) {
      await storage.makeDir(root)
      lock = await storage.lock(root)
    }
    let set: StreamSet | null = null
    let journal: Journal | undefined
    try {
      const store = await openStore(storage, root, { hash: opts.hash, readOnly: opts.readOnly })
      await admitRestoredStore(storage, root, store, opts.tlog, opts.readOnly)
      const tlog = await openTlog(storage, root, store, opts.tlog, opts.readOnly)
      // Before any stream recovers: what the store journal acknowledged is put back in the segments.
      const replayed = storage.kind === 'disk' ? await replayJournal(storage, root, (d) => core.crc32(d), opts.readOnly) : []
      const ctx: StoreContext = {
        dir: root, storage, core, hash: store.hash, options: opts, readOnly: opts.readOnly, payloadBuffers: new PayloadBuffers(),
        syncWindow: new SyncWindow(core, opts.maxOpenFiles),
      }
      if (opts.journal && !opts.readOnly && storage.kind === 'disk') journal = ctx.journal = await Journal.open(storage, root, (d) => core.crc32(d), ctx.syncWindow)
      const names = await discoverStreams(storage, root)
      // Streams closed cleanly need no recovery: opened on first use. A writer removes the mark
      // before it writes anything, so a crash from here on leaves a store recovered in full.
      // A replay wrote into segments the clean mark vouches for: every stream is recovered.
      const clean = replayed.some((e) => e.action === 'replayed') ? new Map() : ((await readCleanStreams(storage, root)) ?? new Map())
      if (!opts.readOnly) await removeCleanStreams(storage, root)
      const recovered: RecoveryEvent[] = []
      const onRecovered = (events: RecoveryEvent[]) => {
        recovered.push(...events)
        for (const e of events) warnRecovery(root, e)
      }
      onRecovered(replayed)
      set = new StreamSet(ctx, onRecovered)
      await set.load(names, clean)
      if (tlog?.state) await checkRollback(storage, set, tlog.state)
      const provable = new ProvableStreams(ctx, tlog?.signer ?? null, tlog?.state ?? null, store.origin ?? null)
      const log = new Log(ctx, lock, set, recovered, provable)
      const streams = set
      const signing = provable.checkpointSigning((name) => streams.get(name))
      if (signing !== null) ctx.checkpointSigning = signing
      if (opts.retention !== null && !opts.readOnly) {
        ctx.afterRotation = (name) => log.retainInBackground(name)
        // At open: every stream (dormant ones are opened for it).
        await set.wakeAll()
        for (const s of set.opened()) if (s.segments.length > 1) await log.retain(s)
      }
      return log
    } catch (err) {
      for (const s of set?.opened() ?? []) await s.closeHandles()
      await journal?.close()
      await lock?.release()
      throw err
    }
  }

  /**
   * Writes a memory log out as a store directory that `Log.open(dir)` and `chainlog verify`
   * accept (fixtures, bug reports). `dir` must not exist or be empty. Waits for the appends
   * made before it, like flush().
   */
  async saveTo(dir: string): Promise<void> {
    this.checkOpen()
    if (!(this.ctx.storage instanceof MemoryStorage)) {
      throw new ChainlogError('ERR_UNSUPPORTED', 'saveTo: only a memory log (Log.memory) can be saved; a store on disk is already a directory')
    }
    if (typeof dir !== 'string' || dir.length === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a non-empty path string, got ${describe(dir)}`)
    const target = resolvePath(dir)
    const disk = diskStorage(MIN_OPEN_FILES)
    const existing = await disk.list(target).catch((err: unknown) => {
      throw ioError(err, `cannot list ${target}`)
    })
    if (existing !== null && existing.length > 0) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a directory that does not exist or is empty, ${target} holds ${existing.length} entries`)
    }
    await this.flush()
    const files = this.ctx.storage.entries()
    // The store file last: a saveTo interrupted half way leaves no directory that opens as a store.
    files.sort(([a], [b]) => Number(a === join(MEMORY_ROOT, 'chainlog.json')) - Number(b === join(MEMORY_ROOT, 'chainlog.json')))
    try {
      await disk.makeDir(target)
      for (const [path, bytes] of files) {
        const out = join(target, relative(MEMORY_ROOT, path))
        await disk.makeDir(dirname(out))
        await disk.writeFileAtomic(out, bytes)
      }
    } catch (err) {
      throw ioError(err, `cannot save the memory log to ${target}`)
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
      return this.streamSet.forWrite(name, () => this.newStream(name), (s: Stream) => s.queue.append(payloads, lengths, o))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Writes a checkpoint record now; returns it with the Merkle tree head of the records before it,
   * and, when the store signs (tlog), that head's signed note, published once the records are durable.
   */
  async checkpoint(stream: string | number): Promise<CheckpointResult> {
    this.checkWritable()
    const name = streamName(stream)
    // A published note must never cover records a crash can take back: signing syncs first.
    const sync = this.ctx.options.sync === 'always' || this.provable.signer !== null
    const written = (await this.streamSet.forWrite(name, () => this.newStream(name), (s: Stream) => s.queue.checkpoint(sync, false)))!
    const head = await this.provable.checkpointHead(this.streamSet.get(name)!, written.offset, written.signed)
    return { offset: written.offset, hash: written.hash, treeSize: head.size, root: head.root, ...(head.note === undefined ? {} : { note: head.note }) }
  }

  /** The verifier key (Go `note` vkey) of a stream's checkpoints; needs a store opened with `tlog`. */
  vkey(stream: string | number): string {
    this.checkOpen()
    const name = streamName(stream)
    if (this.provable.signer === null) throw new ChainlogError('ERR_UNSUPPORTED', 'vkey: the log was opened without tlog: { origin, signer }')
    return this.provable.signer.vkey(name)
  }

  /** The RFC 6962 tree head (size, SHA-256 root) of a stream's first `size` records (default: all). */
  treeHead(stream: string | number, size?: number): Promise<TreeHead> {
    try {
      return this.tracked(this.withProvable(stream, size === undefined ? undefined : offsetArg(size, 'size'), (s, n) => this.provable.treeHead(s, n)))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** The inclusion proof of record `offset` (default tree: the last published note's, else all records), as C2SP tlog-proof text when a note of that size exists. */
  prove(stream: string | number, offset: number, options?: { treeSize?: number }): Promise<InclusionProof> {
    try {
      const at = offsetArg(offset, 'offset')
      if (options !== undefined && (typeof options !== 'object' || options === null || Object.keys(options).some((k) => k !== 'treeSize'))) {
        throw new ChainlogError('ERR_INVALID_ARGUMENT', `prove options: expected { treeSize? }, got ${describe(options)}`)
      }
      const size = options?.treeSize === undefined ? undefined : offsetArg(options.treeSize, 'treeSize')
      return this.tracked(this.withProvable(stream, size, (s, n) => this.provable.prove(s, at, n)))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** The consistency proof between two tree sizes of a stream (default new size: the last published note's, else all records). */
  consistency(stream: string | number, oldSize: number, newSize?: number): Promise<ConsistencyProof> {
    try {
      const older = offsetArg(oldSize, 'oldSize')
      const newer = newSize === undefined ? undefined : offsetArg(newSize, 'newSize')
      return this.tracked(this.withProvable(stream, newer, (s, n) => this.provable.consistency(s, older, n)))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Writes a static C2SP tlog-tiles log of the stream at its last published note to `dir` (which
   * must not exist or be empty): tiles of every level with `.p/<W>` partials, entry bundles, and
   * `checkpoint` — what a tlog-tiles client reads over HTTP.
   */
  async exportTiles(stream: string | number, dir: string): Promise<void> {
    if (typeof dir !== 'string' || dir.length === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a non-empty path string, got ${describe(dir)}`)
    const files = await this.tracked(this.withProvable(stream, undefined, (s) => this.provable.staticLog(s)))
    const target = resolvePath(dir)
    const disk = diskStorage(MIN_OPEN_FILES)
    const existing = await disk.list(target).catch((err: unknown) => {
      throw ioError(err, `cannot list ${target}`)
    })
    if (existing !== null && existing.length > 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a directory that does not exist or is empty, ${target} holds ${existing.length} entries`)
    try {
      // The checkpoint last: a reader never finds a checkpoint whose tiles are not there yet.
      for (const [path, bytes] of [...files].sort(([a], [b]) => Number(a === 'checkpoint') - Number(b === 'checkpoint'))) {
        const out = join(target, path)
        await disk.makeDir(dirname(out))
        await disk.writeFileAtomic(out, bytes)
      }
    } catch (err) {
      throw ioError(err, `cannot export the tiles of stream ${String(stream)} to ${target}`)
    }
  }

  private async withProvable<T>(stream: string | number, size: number | undefined, run: (s: Stream, size: number | undefined) => Promise<T>): Promise<T> {
    this.checkOpen()
    const found = this.streamNamed(stream)
    const s = found instanceof Promise ? await found : found
    if (s === undefined) {
      if (size !== undefined && size > 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `size: stream ${String(stream)} has no records, found ${size}`)
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `stream ${String(stream)} has no records to prove`)
    }
    await s.queue.settled()
    return run(s, size)
  }

  /** Data records of a stream in offset order (checkpoints skipped), from `from` or the first record at or after `fromTime`, capped by `limit` and (softly) `maxBytes`, checked per `verify` (default 'checkpoint'). Returns [] past the end. */
  read(stream: string | number, options?: ReadOptions): Promise<LogRecord[]> {
    return this.tracked(this.readRecords(stream, options))
  }

  private async readRecords(stream: string | number, options?: ReadOptions): Promise<LogRecord[]> {
    this.checkOpen()
    const found = this.streamNamed(stream)
    const s = found instanceof Promise ? await found : found
    const o = resolveReadOptions(options)
    if (s === undefined || o.limit === 0) return []
    // Without `from`, a pruned stream is read from its first kept record; an explicit lower one is ERR_PRUNED.
    let from = o.fromGiven ? o.from : Math.max(o.from, s.firstOffset)
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
    return iterateRecords(this.followSource, name, o)
  }

  /** What an iterator needs from this log (read/follow.ts). */
  private readonly followSource: FollowSource = {
    stream: (name) => this.streamSet.wake(name),
    isClosed: () => this.closed,
    track: (p) => this.tracked(p),
    waitForAppend: (name) => this.waitForAppend(name),
  }

  /** The data record at `offset`, checked per `verify` (default 'checkpoint'); undefined past the end or where a checkpoint sits. */
  get(stream: string | number, offset: number, options?: GetOptions): Promise<LogRecord | undefined> {
    return this.tracked(this.getRecord(stream, offset, options))
  }

  private async getRecord(stream: string | number, offset: number, options?: GetOptions): Promise<LogRecord | undefined> {
    this.checkOpen()
    const found = this.streamNamed(stream)
    const s = found instanceof Promise ? await found : found
    offsetArg(offset, 'offset')
    const o = resolveGetOptions(options)
    if (s === undefined) return undefined
    if (offset < s.firstOffset) throw prunedError(s, offset)
    if (offset >= s.nextOffset) {
      if (s.corrupt !== null && offset >= s.corrupt.offset) throw damageError(s)
      return undefined
    }
    if (o.verify === 'checkpoint') {
      // The common case of random gets (interval verified, index and handle open) without an await.
      const cached = getVerifiedCached(s, offset)
      const r = cached !== MISS ? cached : await readAgainAfterRewrite(s, () => getVerified(s, offset))
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
  head(stream: string | number): Promise<HeadInfo> {
    return this.tracked(this.headOf(stream))
  }

  private async headOf(stream: string | number): Promise<HeadInfo> {
    this.checkOpen()
    const found = this.streamNamed(stream)
    const s = found instanceof Promise ? await found : found
    if (s === undefined) return { nextOffset: 0, hash: Buffer.from(ZERO_HASH), segments: 0, lastCheckpoint: null, firstOffset: 0 }
    const c = s.corrupt
    let damage: StreamDamage | undefined = c === null ? undefined : { code: c.code, offset: c.offset, segment: c.segment, position: c.position, reason: c.reason, appendsRefused: true }
    let lastCheckpoint: number | null = null
    try {
      // Unknown since open: looked back for from the head (O(distance to it)).
      lastCheckpoint = await s.lastCheckpointOffset()
    } catch (err) {
      // Damage behind the head, met on the way back: reported, not thrown.
      if (!(err instanceof ChainlogError) || (err.code !== 'ERR_CORRUPT' && err.code !== 'ERR_CHAIN_BROKEN')) throw err
      const { offset, segment, position } = err.details as { offset?: number; segment?: number; position?: number }
      damage ??= { code: err.code, offset: offset ?? s.nextOffset, segment: segment ?? null, position: position ?? null, reason: err.message, appendsRefused: false }
    }
    const head: HeadInfo = { nextOffset: s.nextOffset, hash: Buffer.from(s.headHash), segments: s.segments.length, lastCheckpoint, firstOffset: s.firstOffset }
    if (damage !== undefined) head.damage = damage
    return head
  }

  /** Checks one stream, or all: framing and CRCs, contiguous offsets, prev links, checkpoint payloads, index and manifest agreement. Never throws on damage: every problem is listed with its offset in the report. `onProgress` reports bytes done and total. */
  verify(stream?: string | number, options?: VerifyOptions): Promise<VerifyReport> {
    return this.tracked(this.verifyStreams(stream, options))
  }

  private async verifyStreams(stream?: string | number, options?: VerifyOptions): Promise<VerifyReport> {
    this.checkOpen()
    const o = resolveVerifyOptions(options)
    let targets: Stream[]
    if (stream === undefined) {
      await this.streamSet.wakeAll()
      targets = this.streamSet.opened().filter((s) => s.segments.length > 0).sort((a, b) => (a.name < b.name ? -1 : 1))
    }
    else {
      const name = streamName(stream)
      const s = await this.streamSet.wake(name)
      targets = s === undefined ? [] : [s]
      if (s === undefined) {
        const streams: StreamReport[] = [{ stream: name, records: 0, events: 0, checkpoints: 0, head: { nextOffset: 0, hash: Buffer.from(ZERO_HASH) }, problems: [] }]
        await this.verifyTrees([], streams, o, name, new Map())
        return { ok: streams[0].problems.length === 0, streams }
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
    const notes = new Map<string, EmbeddedNote[]>()
    for (const s of targets) {
      const found: EmbeddedNote[] = []
      streams.push(await verifyStream(s, progress, found))
      notes.set(s.name, found)
    }
    await this.verifyTrees(targets, streams, o, stream === undefined ? null : streamName(stream), notes)
    return { ok: streams.every((r) => r.problems.length === 0), streams }
  }

  /** SPEC §8: each stream's tree, recomputed from its records, against the trusted notes and its published checkpoint. */
  private async verifyTrees(targets: Stream[], reports: StreamReport[], o: VerifyOptions, only: string | null, notes: ReadonlyMap<string, readonly EmbeddedNote[]>): Promise<void> {
    const origin = this.provable.origin
    const trusted = trustedHeads(o.trusted ?? [], o.keys ?? [], origin)
    for (const name of trusted.keys()) {
      if (only !== null && name !== only) throw new ChainlogError('ERR_CHAIN_BROKEN', `a trusted note is for stream ${JSON.stringify(name)}, not ${JSON.stringify(only)}`)
      if (!targets.some((s) => s.name === name) && !reports.some((r) => r.stream === name)) {
        reports.push({ stream: name, records: 0, events: 0, checkpoints: 0, head: { nextOffset: 0, hash: Buffer.from(ZERO_HASH) }, problems: [] })
      }
    }
    for (const report of reports) {
      const s = targets.find((t) => t.name === report.stream)
      const heads = trusted.get(report.stream) ?? []
      if (s === undefined) {
        for (const h of heads) if (h.size > 0) report.problems.push({ offset: 0, code: 'ERR_CHAIN_BROKEN', message: `${h.source} covers ${h.size} records, the stream holds none` })
        continue
      }
      const keys = o.keys ?? (this.provable.signer === null ? [] : [this.provable.signer.vkey(s.name)])
      const published = await publishedHead(s, keys, origin)
      if (published !== null && 'code' in published) report.problems.push(published)
      else if (published !== null) heads.push(published)
      const embedded = embeddedHeads(s.name, notes.get(s.name) ?? [], keys, origin)
      report.problems.push(...embedded.problems)
      heads.push(...embedded.heads)
      report.problems.push(...(await verifyTree(s, heads)))
    }
  }

  /**
   * Repairs a stream that recovery marked damaged at the end of its active segment (SPEC §9):
   * moves the bytes from the cut to the end of that segment into `<stream>/quarantine/`
   * (durable before anything is cut), cuts after the last whole batch before the damage, and
   * makes the stream take appends again. A healthy stream: a no-op result. `dryRun`: says what
   * it would move and changes nothing (allowed on a read-only log). Damage in a sealed segment: ERR_UNSUPPORTED; a checkpoint
   * record or a published tree head (`<stream>/checkpoint`, the state file) past the cut: ERR_CHAIN_BROKEN.
   */
  async repair(stream: string | number, options?: RepairOptions): Promise<RepairResult> {
    this.checkOpen()
    const name = streamName(stream)
    const { dryRun } = resolveRepairOptions(options)
    if (!dryRun) this.checkWritable() // a dry run only reads: a read-only log may plan one
    const found = this.streamNamed(name)
    const s = found instanceof Promise ? await found : found
    if (s === undefined) throw new ChainlogError('ERR_INVALID_ARGUMENT', `stream: no stream named ${JSON.stringify(name)} in this store`, { stream: name })
    await s.queue.idle()
    const plan = await planRepair(s)
    // A published tree head past the cut: those records were handed out signed (SPEC §9).
    const published = plan.offset === null ? 0 : await this.provable.publishedSize(s)
    if (plan.offset !== null && published > plan.offset) {
      throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${name}: a tree head of ${published} records was published (<stream>/checkpoint or the state file), past the cut at offset ${plan.offset}: reusing those offsets would fork the log; nothing was changed`, {
        stream: name, offset: plan.offset,
      })
    }
    if (dryRun || plan.segment === null) return plan
    const done = await applyRepair(s, plan)
    await this.streamSet.reopen(name)
    return done
  }

  /**
   * Erases the payload of the data record at `offset` from every file of the store (SPEC §9):
   * a tombstone (kind 2: u64 offset ‖ the UTF-8 `reason`, ≤ 1 KiB) is appended and made durable,
   * then the record's segment is rewritten with the record in form 3 (original length and
   * commitment only), so its chain hash, the chain, the tree and every note stay valid. Appends
   * made meanwhile wait for it. A record redacted already: `tombstoneOffset` null, nothing written.
   */
  async redact(stream: string | number, offset: number, options?: RedactOptions): Promise<RedactResult> {
    this.checkWritable()
    const name = streamName(stream)
    const at = offsetArg(offset, 'offset')
    const { reason } = resolveRedactOptions(options)
    const found = this.streamNamed(name)
    const s = found instanceof Promise ? await found : found
    if (s === undefined || s.segments.length === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `stream: no stream named ${JSON.stringify(name)} holds offset ${at}`, { stream: name, offset: at })
    this.checkWritable() // closed while the stream opened
    return exclusiveOfPrunes(s, () => s.queue.exclusive(() => redactRecord(s, at, reason)))
  }

  /**
   * Drops a stream's oldest sealed segments whose records all lie below `before` (SPEC §9): the
   * Merkle tiles of those records are made durable first (proofs and trusted notes signed before
   * still check), then `<stream>/pruned.json`, then the segments go. The active segment always
   * stays. Reads of a lower offset are ERR_PRUNED from then on. `dryRun`: what would go, nothing
   * changed (allowed on a read-only log). Returns the stream's first offset after it and what went.
   */
  async prune(stream: string | number, options: PruneOptions): Promise<PruneResult> {
    this.checkOpen()
    const name = streamName(stream)
    const { before, dryRun } = resolvePruneOptions(options)
    if (!dryRun) this.checkWritable()
    const found = this.streamNamed(name)
    const s = found instanceof Promise ? await found : found
    if (s === undefined) throw new ChainlogError('ERR_INVALID_ARGUMENT', `stream: no stream named ${JSON.stringify(name)} in this store`, { stream: name })
    if (before > s.nextOffset) throw new ChainlogError('ERR_INVALID_ARGUMENT', `before: expected at most the stream's next offset ${s.nextOffset}, found ${before}`, { stream: name, offset: before })
    if (dryRun) {
      const gone = segmentsBefore(s, before)
      return { firstOffset: gone.length === 0 ? s.firstOffset : gone[gone.length - 1].nextOffset, segments: gone.length, bytes: gone.reduce((n, seg) => n + seg.size, 0) }
    }
    if (s.corrupt !== null) throw damageError(s) // a damaged stream is repaired (or investigated) first
    return pruneBefore(s, before, this.prepareTiles)
  }

  /** What a prune needs before pruned.json is written: the tree's tiles durable below its offset. */
  private readonly prepareTiles = (s: Stream, firstOffset: number) => this.provable.prepareTilesForPrune(s, firstOffset)

  /** Applies the `retention` option to one stream now. */
  private async retain(s: Stream): Promise<void> {
    await applyRetention(s, this.ctx.options.retention!, this.prepareTiles, Date.now())
  }

  /** After a rotation: the retention policy runs off the append path; close() waits for it. A failure is a warning (tried again after the next rotation). */
  private retainInBackground(name: string): void {
    const s = this.streamSet.get(name)
    if (s === undefined || this.closed) return
    const run = this.retain(s).catch((err: unknown) => {
      process.emitWarning(`chainlog ${this.ctx.dir}: stream ${name}: retention could not prune: ${err instanceof Error ? err.message : String(err)}`, { code: RETENTION_WARNING })
    })
    this.retentionRuns.add(run)
    void run.finally(() => this.retentionRuns.delete(run))
  }

  /** The names of the store's streams. */
  async streams(): Promise<string[]> {
    this.checkOpen()
    // Only streams with data on disk: a stream whose first appends all failed does not exist.
    return this.streamSet.namesWithData()
  }

  /** Waits for queued appends and makes everything written so far durable. */
  async flush(): Promise<void> {
    this.checkOpen()
    const all = this.streamSet.opened()
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
    const all = this.streamSet.opened()
    let first: unknown = null
    try {
      await Promise.all(all.map((s) => s.queue.idle()))
      await Promise.allSettled([...this.retentionRuns])
      if (!this.ctx.readOnly) {
        await Promise.all(
          all.map(async (s) => {
            try {
              // A signer's failure leaves the checkpoint out (SPEC §8): the records are still synced, the error raised after.
              let refused: unknown = null
              if (s.corrupt === null && s.broken === null && s.dirtySinceCheckpoint) await s.queue.checkpoint(true, true).catch((err) => (refused = err))
              await s.persist()
              await this.provable.publishLatest(s)
              if (refused !== null) throw refused
            } catch (err) {
              first ??= err
            }
          }),
        )
        // The journal's segments synced and the journal emptied before their handles close (a failure: the next open replays it).
        if (this.ctx.journal !== undefined) await this.ctx.journal.checkpoint().catch((err) => (first ??= err))
        await this.provable.saveTrees().catch((err) => (first ??= err))
        // Everything synced and saved: the next open need not recover these streams.
        if (first === null) await writeCleanStreams(this.ctx.storage, this.ctx.dir, await this.streamSet.cleanSummary()).catch(() => {}) // a cache: without it the next open recovers every stream
      }
    } finally {
      for (const s of this.streamSet.opened()) await s.closeHandles() // also any a read in flight opened meanwhile
      await this.ctx.journal?.close()
      const w = this.creationWaiters
      this.creationWaiters = []
      for (const f of w) f() // followers of streams that never appeared end too
      await this.lock?.release()
      if (this.ctx.storage instanceof MemoryStorage) {
        // Reads still in flight finish first (a store on disk still serves them after close).
        await Promise.allSettled([...this.reads])
        this.ctx.storage.clear()
      }
    }
    if (first !== null) throw first
  }

  /** Resolves on the stream's next commit, on its creation if it does not exist yet, or on close(). */
  private waitForAppend(name: string): Promise<void> {
    const s = this.streamSet.get(name)
    if (s !== undefined) return s.waitForAppend()
    if (this.streamSet.isDormant(name)) return this.streamSet.wake(name).then(() => {})
    return new Promise((resolve) => this.creationWaiters.push(resolve))
  }

  /** A stream created by its first append; followers waiting for it wake. */
  private newStream(name: string): Stream {
    const s = Stream.empty(this.ctx, name)
    if (this.ctx.options.tlog !== null) this.provable.followNewStream(s)
    const w = this.creationWaiters
    this.creationWaiters = []
    queueMicrotask(() => {
      for (const f of w) f()
    })
    return s
  }

  /** The stream called `stream`, if it exists (opened on first use). Open ones are found without validation or a promise. */
  private streamNamed(stream: unknown): Stream | undefined | Promise<Stream | undefined> {
    const hit = typeof stream === 'string' ? this.streamSet.get(stream) : undefined
    if (hit !== undefined) return hit
    const name = streamName(stream)
    return this.streamSet.get(name) ?? (this.streamSet.isDormant(name) ? this.streamSet.wake(name) : undefined)
  }

  private tracked<T>(p: Promise<T>): Promise<T> {
    if (this.ctx.storage.kind !== 'memory') return p // only a memory log's files go away at close
    this.reads.add(p)
    const done = () => void this.reads.delete(p)
    p.then(done, done)
    return p
  }

  /**
   * Trains a zstd dictionary on the stream's own events (an admin operation; the native core
   * only) and stores it, durably, in the stream's directory; from then on the stream's zstd
   * records are compressed with it (SPEC §2, form 4).
   */
  async trainDictionary(stream: string | number, options?: TrainDictionaryOptions): Promise<TrainDictionaryResult> {
    this.checkWritable()
    const name = streamName(stream)
    const o = resolveTrainDictionaryOptions(options, { samples: DEFAULT_SAMPLE_RECORDS, maxBytes: DEFAULT_DICTIONARY_BYTES })
    const found = this.streamNamed(name)
    const s = found instanceof Promise ? await found : found
    if (s === undefined || s.segments.length === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `stream ${name} does not exist; a dictionary is stored in an existing stream's directory`, { stream: name })
    const events = typeof o.samples === 'number'
      ? (await this.readRecords(name, { from: Math.max(0, s.nextOffset - o.samples), limit: o.samples })).map((r) => r.payload)
      : o.samples
    const { bytes, lengths } = trainingSamples(events)
    const dictionary = await this.ctx.core.trainDictionary(bytes, lengths, o.maxBytes)
    this.checkWritable() // closed while it trained: store nothing
    const entry = await s.dictionaries.add(this.ctx, s.dir, dictionary)
    return { id: entry.id, bytes: entry.bytes, file: entry.file, samples: lengths.length }
  }

  private checkOpen(): void {
    if (this.closed) throw new ChainlogError('ERR_CLOSED', 'the log is closed; expected an open log')
  }

  private checkWritable(): void {
    this.checkOpen()
    if (this.ctx.readOnly) throw new ChainlogError('ERR_READ_ONLY', 'the log was opened with readOnly: true; expected a writable log')
  }
}

/** The warning each recovery event gives (code CHAINLOG_RECOVERY). */
function warnRecovery(root: string, e: RecoveryEvent): void {
  if (e.action === 'replayed' || e.action === 'skipped') {
    process.emitWarning(`chainlog ${root}: stream ${e.stream}: journal entry of ${e.bytes} bytes at position ${e.position} of segment ${e.segment} ${e.action} (${e.reason})`, { code: RECOVERY_WARNING })
    return
  }
  if (e.stream === '') {
    process.emitWarning(`chainlog ${root}: journal.wal: cut a torn tail of ${e.bytes} bytes at position ${e.position} (${e.reason})`, { code: RECOVERY_WARNING })
    return
  }
  process.emitWarning(
    e.action === 'truncated'
      ? `chainlog ${root}: stream ${e.stream}: cut a torn tail of ${e.bytes} bytes at position ${e.position} of segment ${e.segment} (${e.reason})`
      : `chainlog ${root}: stream ${e.stream}: damage at position ${e.position} of segment ${e.segment}, offset ${e.offset}; nothing was cut, appends are refused (${e.reason})`,
    { code: RECOVERY_WARNING },
  )
}
