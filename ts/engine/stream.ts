/**
 * One stream: its segments, its head (next offset, head hash, last timestamp, checkpoint policy
 * state; changed only at open and by applyCommit), its corruption mark, and the file work that
 * changes them: open with structural recovery, creation, rotation, rollback, the sealed-index
 * cache, persistence. Its helpers each own one concern: reader-handles.ts (read handles),
 * known-checkpoints.ts (what checkpoint searches learned), write-behind.ts, cache-writes.ts
 * (index and manifest saves). Appends go through its CommitQueue (commit.ts); reads through
 * ts/read/.
 */
import { join } from 'node:path'
import type { ChainlogCore, HashAlgorithm } from '../core/interface.ts'
import { MAX_PAYLOAD_BYTES, ZERO_HASH } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import type { StorageFile } from '../storage/storage.ts'
import { CommitQueue } from './commit-queue.ts'
import type { Commit, CommitTarget } from './commit.ts'
import type { StoreContext } from './store-context.ts'
import { assert } from '../assert.ts'
import { CacheWrites } from './cache-writes.ts'
import { KnownCheckpoints } from './known-checkpoints.ts'
import { ReaderHandles } from './reader-handles.ts'
import { WriteBehind } from './write-behind.ts'
import { SegmentIndexes } from './segment-indexes.ts'
import { recoverStream, type OpenedStream } from './stream-open.ts'
import { findCheckpointAtOrBefore, type CheckpointSource } from './checkpoint.ts'
import { MANIFEST_FILE, manifestOf, writeManifest } from '../storage/manifest.ts'
import { INDEX_ENTRY_BYTES, PositionList, saveIndex } from '../storage/offset-index.ts'
import type { RecoveryEvent } from '../types.ts'
import type { CorruptMark } from './recovery.ts'
import { segmentFileName, segmentPath } from '../storage/segment-file.ts'
import { Segment } from './segment.ts'
import { streamDirectory } from '../storage/store.ts'
import { VerifiedHashes } from './verified-hashes.ts'
import { StreamDictionaries } from './dictionary.ts'
import { createStreamDirectory } from './stream-creation.ts'
import { completePendingRedaction } from './redaction.ts'
import { readPruned, type PrunedState } from '../storage/pruned-file.ts'
import { prunedError } from './retention.ts'
import type { StreamTree } from './stream-tree.ts'

/**
 * The active segment's index is saved again (in the background) once this many bytes were
 * appended since the last save, and at least INDEX_REWRITE_FACTOR times the index's own size (a
 * save rewrites the whole file), at most half of INDEX_TAIL_MAX_BYTES: index rewrites stay under
 * an eighth of the bytes appended until the index reaches 4 MiB.
 */
const INDEX_PERSIST_MIN_BYTES = 8 * 1024 * 1024
const INDEX_REWRITE_FACTOR = 8
/**
 * The open-time tail scan after a crash (from the last record the `.idx` on disk lists) is never
 * longer than this, or one append's own bytes: an append that would go past it first waits for
 * an index save (prepareWrite). Background saves start at half of it, and past that half each
 * append yields to the event loop once, so the save's I/O completes even under a caller that never
 * lets it run (a tight loop of awaited appends under sync 'never' settles in microtasks).
 */
const INDEX_TAIL_MAX_BYTES = 64 * 1024 * 1024

export class Stream implements CheckpointSource, CommitTarget {
  readonly dir: string
  readonly queue: CommitQueue
  segments: Segment[] = []
  // The head. Written only here: at open (load), by applyCommit, and by the policy look-ups below.
  private _nextOffset = 0
  private _headHash: Buffer = ZERO_HASH
  private _lastTimestamp = 0
  private _lastCheckpoint: number | null | undefined = null
  private _sinceCheckpoint: number | undefined = 0
  private _dirtySinceCheckpoint = false
  /** Written with sync 'never' and not yet fdatasynced. */
  private unsynced = false
  /** Writes made with sync 'never' so far: persist clears `unsynced` only if none landed during its fdatasync. */
  private unsyncedWrites = 0
  /** Bytes of the active segment known to be on stable storage, ending at a commit (syncedEnd). */
  private syncedSize = 0
  /** Damage found at open: reads stop there, appends fail. */
  corrupt: CorruptMark | null = null
  /** A failed write could not be rolled back: appends fail with this until reopened. */
  broken: ChainlogError | null = null
  private readonly indexes: SegmentIndexes
  private waiters: Array<() => void> = []
  /** Wake-ups so far (commits and close): lets a follower tell whether it missed one. */
  commits = 0
  /** Chain hashes verified by gets, per checkpoint interval (cleared when bytes are cut). */
  readonly verified = new VerifiedHashes()
  private bytesSinceIndexPersist = 0
  private readonly readers: ReaderHandles
  private readonly checkpoints = new KnownCheckpoints()
  private readonly writeBehind: WriteBehind
  private readonly cacheWrites = new CacheWrites()
  private manifestStale = false
  /** Counts the starts and ends of segment rewrites (redaction): a read that met damage meanwhile is made again (read/rewrite-retry.ts). */
  rewrites = 0
  /** Settles when the rewrite in progress (if any) has swapped in the new file and positions. */
  rewriting: Promise<void> | null = null

  /** A redaction is about to rename a rewritten file over a segment; call the result once its positions are in. */
  beginRewrite(): () => void {
    this.rewrites++
    let end!: () => void
    this.rewriting = new Promise<void>((resolve) => (end = resolve))
    return () => {
      this.rewrites++
      this.rewriting = null
      end()
    }
  }
  /** Record lists of segments a redaction rewrote since: a reader holding one reads again. */
  private readonly replacedIndexes = new WeakSet<PositionList>()
  /** Its zstd dictionaries, loaded in the core while it is open. */
  dictionaries = StreamDictionaries.none()
  /** Where the stream starts after a prune (pruned.json); null: never pruned (SPEC §9). */
  pruned: PrunedState | null = null
  /**
   * Segments numbered below this are in the archive (an Archiver's HEAD lists them sealed); set
   * by the archiver after each HEAD it reads or writes. 0: none known (retention's requireArchived).
   */
  archivedSegments = 0

  private constructor(
    readonly ctx: StoreContext,
    readonly name: string,
  ) {
    this.dir = streamDirectory(ctx.dir, name)
    this.queue = new CommitQueue(this)
    this.readers = new ReaderHandles(ctx.storage, name)
    this.indexes = new SegmentIndexes(ctx, name, (seg, positions) => this.persistIndex(seg, positions, true))
    this.writeBehind = new WriteBehind((err) => {
      const e = ioError(err, `stream ${name}: a background fdatasync of its active segment failed; appended records may be lost, reopen the log to recover`, { stream: name })
      this.broken ??= e
      return e
    })
  }

  /** The first offset the stream still holds (0 unless pruned). */
  get firstOffset(): number {
    return this.pruned?.firstOffset ?? 0
  }

  /** The offset the next append gets. */
  get nextOffset(): number {
    return this._nextOffset
  }

  /** Chain hash of the last record (zeros for an empty stream). */
  get headHash(): Buffer {
    return this._headHash
  }

  /** Timestamp of the last record (0 for an empty stream): the clock never goes below it. */
  get lastTimestamp(): number {
    return this._lastTimestamp
  }

  /** Offset of the last checkpoint; null: none; undefined: not looked up yet (see lastCheckpointOffset). */
  get lastCheckpoint(): number | null | undefined {
    return this._lastCheckpoint
  }

  /** Records since the last checkpoint; undefined until looked up (first append). */
  get sinceCheckpoint(): number | undefined {
    return this._sinceCheckpoint
  }

  /** Data appended in this session after the last checkpoint (close() checkpoints it). */
  get dirtySinceCheckpoint(): boolean {
    return this._dirtySinceCheckpoint
  }

  /** The last checkpoint's offset (null: none), looked back for once after open (O(distance to it)). */
  async lastCheckpointOffset(): Promise<number | null> {
    if (this._lastCheckpoint === undefined) {
      this._lastCheckpoint = this._nextOffset === this.firstOffset ? null : await this.checkpointAtOrBefore(this._nextOffset - 1)
    }
    return this._lastCheckpoint
  }

  get core(): ChainlogCore {
    return this.ctx.core
  }

  get hash(): HashAlgorithm {
    return this.ctx.hash
  }

  get active(): Segment | undefined {
    return this.segments[this.segments.length - 1]
  }

  /** A stream with no data on disk yet (created on its first append). */
  static empty(ctx: StoreContext, name: string): Stream {
    return new Stream(ctx, name)
  }

  /**
   * Opens an existing stream directory: segment list from the directory listing and the
   * segments' first records (the manifest only fills gaps), then tail recovery of the active
   * segment. Recovery events are pushed to `events`.
   */
  static async open(ctx: StoreContext, name: string, events: RecoveryEvent[]): Promise<Stream> {
    const s = new Stream(ctx, name)
    // Before recovery: its verified tail scan decodes form-4 records.
    s.dictionaries = await StreamDictionaries.open(ctx, s.dir)
    try {
      s.applyOpen(await recoverStream(s, events))
      await completePendingRedaction(s)
    } catch (err) {
      s.dictionaries.release(ctx)
      throw err
    }
    return s
  }

  /** The dictionary new zstd records use (0: none). */
  get dictionaryId(): number {
    return this.dictionaries.current
  }

  /** The stream's Merkle tree once something uses it (read/provable.ts); it follows commits while attached. */
  tree: StreamTree | null = null

  get treeFrontier(): Buffer | null {
    const f = this.tree?.treeFrontier ?? null
    // A tree left at another size (this stream object was reopened meanwhile) catches up by reading.
    return f !== null && this.tree!.size === this._nextOffset ? f : null
  }

  /** Takes over what open-time recovery found (stream-open.ts), checking that it holds together. */
  private applyOpen(st: OpenedStream): void {
    this.segments = st.segments
    this.pruned = st.pruned
    this._nextOffset = st.nextOffset
    this._headHash = st.headHash
    this._lastTimestamp = st.lastTimestamp
    this._lastCheckpoint = st.lastCheckpoint
    this._sinceCheckpoint = st.nextOffset === 0 ? 0 : undefined
    if (typeof st.lastCheckpoint === 'number') this.learnCheckpoint(st.lastCheckpoint, st.nextOffset - 1)
    if (st.indexFromFile !== null) this.indexes.untrusted(st.indexFromFile)
    this.unsynced = st.tailUnsynced
    // What open found is counted as synced unless recovery cut it and has not synced the cut.
    this.syncedSize = st.tailUnsynced ? 0 : (st.segments[st.segments.length - 1]?.size ?? 0)
    this.manifestStale = st.manifestStale
    this.corrupt = st.corrupt
    const tail = this.active
    if (tail !== undefined && st.corrupt === null) {
      assert(tail.nextOffset === st.nextOffset && tail.index !== null && tail.index.length === tail.records, 'after open, the tail segment is indexed up to the next offset')
      assert((tail.handle !== null) === !this.ctx.readOnly, 'after open, a writable stream holds its tail segment open')
    }
    for (let n = 1; n < this.segments.length; n++) assert(this.segments[n].firstOffset === this.segments[n - 1].nextOffset, 'after open, segments are contiguous')
  }

  /** Hash and timestamp of the last record of a (sealed) segment. */
  async lastRecordOf(seg: Segment): Promise<{ hash: Buffer; timestamp: number }> {
    const index = await this.indexOf(seg)
    if (index.length === 0 || index.length !== seg.records) {
      throw new ChainlogError('ERR_CORRUPT', `stream ${this.name}: ${segmentFileName(seg.num)} holds ${index.length} readable records, expected ${seg.records}`, { stream: this.name })
    }
    const start = index.last()
    const data = await this.readSegment(seg, start, seg.size - start)
    const d = await this.core.decodeRecordsAsync({
      hash: this.hash, stream: this.name, data, basePosition: start, positions: Float64Array.of(start),
      expectPrevHash: null, payloadsFrom: 1, maxPayloadBytes: MAX_PAYLOAD_BYTES,
    })
    return { hash: Buffer.from(d.hashes.subarray(0, 32)), timestamp: d.timestamps[0] }
  }

  /** The segment holding `offset` (the last one whose first offset is ≤ it). */
  segmentFor(offset: number): Segment {
    const segs = this.segments
    let lo = 0
    let hi = segs.length - 1
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2)
      if (segs[mid].firstOffset <= offset) lo = mid
      else hi = mid - 1
    }
    return segs[lo]
  }

  /**
   * Where the record at `offset` is: its segment, its entry in the segment's index, and its byte
   * range [position, end). Null when the index does not reach it (damage, or past the end).
   */
  async locate(offset: number): Promise<RecordLocation | null> {
    const segment = this.segmentFor(offset)
    return locateIn(segment, await this.indexOf(segment), offset)
  }

  /** locate() when the segment's index is already in memory (no await); undefined: it is not, call locate(). */
  locateIfLoaded(offset: number): RecordLocation | null | undefined {
    const segment = this.segmentFor(offset)
    const index = this.indexIfLoaded(segment)
    return index === null ? undefined : locateIn(segment, index, offset)
  }

  /**
   * Record positions of a segment: the active segment's are in memory, a sealed segment's come
   * from the cache (segment-indexes.ts).
   */
  indexOf(seg: Segment): Promise<PositionList> {
    const index = this.indexes.of(seg)
    return this.ctx.readOnly ? index.catch((err: unknown) => this.prunedUnder(seg, err)) : index
  }

  /** The same list when it is already in memory, without a promise; null: call indexOf. */
  indexIfLoaded(seg: Segment): PositionList | null {
    return this.indexes.ifLoaded(seg)
  }

  /** A reader found the index wrong at a record: rebuilt if it came from a file (true: read again). */
  repairIndex(seg: Segment, index: PositionList): Promise<boolean> {
    // A redaction rewrote the segment after the reader took its list: read again with the new one.
    if (this.replacedIndexes.has(index)) return Promise.resolve(true)
    return this.indexes.repair(seg, index)
  }

  /** `length` bytes at `position` of a segment (ERR_CORRUPT when the file ends before them). */
  readSegment(seg: Segment, position: number, length: number): Promise<Buffer> {
    const read = this.readers.read(seg, position, length)
    return this.ctx.readOnly ? read.catch((err: unknown) => this.prunedUnder(seg, err)) : read
  }

  /**
   * A read-only log's segment vanished: if the writer pruned it since this log opened
   * (pruned.json now starts past it), the stream starts there from now on and the read is
   * ERR_PRUNED; any other failure is thrown as it came.
   */
  private async prunedUnder(seg: Segment, err: unknown): Promise<never> {
    if (!(err instanceof ChainlogError) || err.details.errno !== 'ENOENT') throw err
    const { state } = await readPruned(this.ctx.storage, this.dir)
    if (state === null || seg.num >= state.firstSegment || state.firstOffset <= this.firstOffset) throw err
    const gone = this.segments.filter((x) => x.num < state.firstSegment && x !== this.active)
    this.pruned = state
    this.segments.splice(0, gone.length)
    this.verified.clear()
    for (const g of gone) this.readers.drop(g)
    throw prunedError(this, seg.firstOffset)
  }

  /** The same read as a synchronous pread when the segment's read handle is open; null: use readSegment. */
  readSegmentSync(seg: Segment, position: number, length: number): Buffer | null {
    return this.readers.readSync(seg, position, length)
  }

  /** The last checkpoint at or before `offset` (null: none) when earlier searches already know it; undefined: search. */
  checkpointKnown(offset: number): number | null | undefined {
    return this.keptCheckpoint(this.checkpoints.lookup(offset))
  }

  /** A checkpoint learned before a prune removed it is no anchor: the chain starts at firstOffset then. */
  private keptCheckpoint<T extends number | null | undefined>(c: T): T | null {
    return typeof c === 'number' && c < this.firstOffset ? null : c
  }

  /** The last checkpoint at or before `offset` (null: none), remembering what each search learns. */
  async checkpointAtOrBefore(offset: number): Promise<number | null> {
    const known = this.checkpoints.lookup(offset)
    if (known !== undefined) return this.keptCheckpoint(known)
    const { from, below } = this.checkpoints.searchFloor(offset)
    if (offset < this.firstOffset) return null
    const found = await findCheckpointAtOrBefore(this, offset, Infinity, Math.max(from, this.firstOffset))
    if (found === null) {
      this.checkpoints.learnNone(offset)
      return this.keptCheckpoint(below)
    }
    this.checkpoints.learn(found, offset)
    return found
  }

  /** Records "a checkpoint at `at` (−1: stream start) and none in (at, reach]". */
  learnCheckpoint(at: number, reach: number): void {
    this.checkpoints.learn(at, reach)
  }

  // ---- write side (called from the commit queue only) ----

  /** Records since the last checkpoint, looked up once (bounded by checkpointEvery). */
  async loadPolicyState(every: number): Promise<void> {
    if (this._sinceCheckpoint !== undefined) return
    const c = this._nextOffset > this.firstOffset ? await findCheckpointAtOrBefore(this, this._nextOffset - 1, every, this.firstOffset) : null
    if (c !== null) this._lastCheckpoint = c
    this._sinceCheckpoint = c !== null ? this._nextOffset - c - 1 : Math.min(this._nextOffset - this.firstOffset, every)
  }

  /** Makes the active segment ready for `bytes` more: creates the stream or rotates. */
  async prepareWrite(bytes: number): Promise<Segment> {
    if (this.segments.length === 0) await this.create()
    const seg = this.active!
    if (seg.size > 0 && seg.size + bytes > this.ctx.options.maxSegmentBytes) return this.rotate()
    const unindexed = seg.index === null ? 0 : seg.size + bytes - indexedOnDisk(seg)
    if (unindexed > INDEX_TAIL_MAX_BYTES) {
      await this.persistIndex(seg).catch(() => {}) // a cache: a failed save costs open time, not data
    } else if (unindexed > INDEX_TAIL_MAX_BYTES / 2) {
      // A save is due or running: let its I/O callbacks run (a loop of awaited appends would not),
      // so it is usually done before the bound above makes an append wait for it.
      await new Promise((resolve) => setImmediate(resolve))
    }
    return seg
  }

  private async create(): Promise<void> {
    await createStreamDirectory(this.ctx, this.name, this.dir)
    const seg = await this.createSegment(0, 0)
    try {
      await writeManifest(this.ctx.storage, this.dir, manifestOf([seg]))
    } catch (err) {
      await seg.handle?.close()
      throw err
    }
    this.segments.push(seg)
    this._sinceCheckpoint = 0
  }

  /** Seals the active segment (synced; its index and the manifest saved in the background) and starts the next one. */
  private async rotate(): Promise<Segment> {
    const old = this.active!
    assert(old.handle !== null && old.index !== null && old.index.length === old.records && old.nextOffset === this._nextOffset, 'a rotation seals the whole active segment')
    await this.writeBehind.done()
    this.writeBehind.synced()
    try {
      await old.handle!.datasync()
    } catch (err) {
      throw ioError(err, `cannot fsync ${old.path} before sealing it`, { stream: this.name })
    }
    await this.ctx.journal?.release(old.handle!)
    const seg = await this.createSegment(old.num + 1, this.nextOffset)
    this.segments.push(seg)
    this.unsynced = false
    this.syncedSize = 0
    this.manifestStale = true
    const handle = old.handle!
    old.handle = null
    const index = old.index!
    old.index = null
    // The sealed index and the manifest are caches (open lists the segment files and checks the
    // index; the manifest only fills gaps), written in the background (flush and close wait for
    // them): several MiB and a few fsyncs the append that triggered this rotation need not wait for.
    void this.persistIndex(old, index).catch(() => {})
    void this.saveManifestQueued().catch(() => {})
    this.indexes.sealed(old, index)
    await handle.close().catch(() => {})
    this.ctx.afterRotation?.(this.name)
    return seg
  }

  private async createSegment(num: number, firstOffset: number): Promise<Segment> {
    const path = segmentPath(this.dir, num)
    const seg = new Segment(num, path, firstOffset, 0, firstOffset)
    try {
      seg.handle = await this.ctx.storage.open(path, 'create')
      await this.ctx.storage.syncDir(this.dir)
    } catch (err) {
      await seg.handle?.close().catch(() => {})
      throw ioError(err, `cannot create ${path}`, { stream: this.name })
    }
    seg.index = new PositionList()
    return seg
  }

  /**
   * The one place a commit changes the stream: a group's write of `c.bytes` landed at the end of
   * the active segment (and was fdatasynced when `c.synced`); its records become readable and the
   * head moves to the group's last record.
   */
  applyCommit(c: Commit): void {
    const seg = c.segment
    assert(seg === this.active && seg.index !== null, 'a commit lands on the active segment')
    assert(c.firstOffset === this._nextOffset, `a commit starts at the next offset (${c.firstOffset} vs ${this._nextOffset})`)
    assert(c.position === seg.size, `a commit was written at the segment's end (${c.position} vs ${seg.size})`)
    assert(c.nextOffset > c.firstOffset && c.lastTimestamp >= this._lastTimestamp, 'a commit moves the head forward')
    for (const p of c.positionParts) seg.index!.pushShifted(p.positions, seg.size + p.at)
    assert(seg.index!.length === c.nextOffset - seg.firstOffset, 'every committed record is indexed')
    seg.size += c.bytes
    seg.nextOffset = c.nextOffset
    this.bytesSinceIndexPersist += c.bytes
    this.writeBehind.wrote(c.bytes, c.synced)
    if (!c.synced) {
      this.unsynced = true
      this.unsyncedWrites++
    } else {
      this.unsynced = false
      this.syncedSize = seg.size
    }
    this.manifestStale = true
    this._nextOffset = c.nextOffset
    this._headHash = c.headHash
    this._lastTimestamp = c.lastTimestamp
    this._sinceCheckpoint = c.sinceCheckpoint
    this._dirtySinceCheckpoint = c.dirtySinceCheckpoint
    if (c.lastCheckpoint !== null) {
      this._lastCheckpoint = c.lastCheckpoint
      this.learnCheckpoint(c.lastCheckpoint, c.nextOffset - 1)
    }
    this.tree?.followCommit(c.firstOffset, c.nextOffset, c.treeParts)
    if (c.signed !== null && this.tree !== null) this.tree.lastSigned = c.signed
  }

  /** After a commit: followers wake, write-behind and index saves start as due. True: the caller should yield once (see maybeWriteBehind). */
  afterCommit(): boolean {
    this.wake()
    const yieldNow = this.writeBehind.maybeStart(this.active?.handle ?? null)
    this.maybePersistIndex()
    return yieldNow
  }

  /** Cuts a failed write off the end of the active segment. */
  async rollback(seg: Segment, goodLength: number): Promise<void> {
    assert(seg === this.active && goodLength === seg.size, 'a rollback cuts only the failed write off the active segment')
    this.verified.clear()
    try {
      await seg.handle!.truncate(goodLength)
      await seg.handle!.datasync()
    } catch (err) {
      this.broken = ioError(err, `stream ${this.name}: a failed write could not be rolled back to ${goodLength} bytes of ${seg.path}; reopen the log to recover`, { stream: this.name })
      return
    }
    if (goodLength === 0 && this.nextOffset === 0 && this.segments.length === 1 && this.active === seg) await this.dropEmptyFirstSegment(seg)
  }

  /**
   * The stream's first append failed: remove the empty segment_000000.log (and the manifest) that
   * create() made, so the stream does not exist on disk (streams() after a reopen). Best effort: a
   * file left behind is recovered as an empty stream, and the next append recreates it.
   */
  private async dropEmptyFirstSegment(seg: Segment): Promise<void> {
    const handle = seg.handle
    seg.handle = null
    this.readers.drop(seg)
    this.segments.length = 0
    this.unsynced = false
    this.manifestStale = false
    try {
      await handle?.close()
      await this.ctx.storage.remove(seg.path)
      await this.ctx.storage.remove(seg.indexPath)
      await this.ctx.storage.remove(join(this.dir, MANIFEST_FILE))
      await this.ctx.storage.syncDir(this.dir)
    } catch {
      // left for open-time recovery
    }
  }

  /**
   * The fdatasync of a sync point (flush, an append under sync 'always'), then the write-behind
   * check it owes: a background fdatasync running meanwhile may have taken the kernel's one
   * report of a lost write.
   */
  async datasyncChecked(handle: StorageFile): Promise<void> {
    await this.ctx.syncWindow.datasync(handle)
    await this.writeBehind.done()
  }

  /**
   * Makes a group's write durable (sync 'always'): through the store journal when it is on and
   * nothing before the write is unsynced; else (no journal, or bytes written under sync 'never' or
   * a recovery cut before it, which no journal entry holds) the segment's own fdatasync.
   */
  async syncWrite(seg: Segment, position: number, data: Uint8Array): Promise<void> {
    const journal = this.ctx.journal
    if (journal === undefined || this.unsynced) return this.datasyncChecked(seg.handle!)
    try {
      await journal.record(this.name, seg.num, position, data, seg.handle!)
    } catch (err) {
      // A broken journal may still hold this write's entry, which a reopen would write back:
      // nothing else may land at these positions until then.
      if (journal.broken !== null) this.broken ??= journal.broken
      throw err
    }
    await this.writeBehind.done()
  }

  /**
   * Saves the active index now and then, so the open-time tail scan stays short. The save (a
   * write and two fsyncs) runs in the background: appends do not wait for a cache file; flush,
   * rotation and close wait for it (persistIndex queues behind it).
   */
  maybePersistIndex(): void {
    const seg = this.active
    if (seg === undefined || seg.index === null) return
    const due = Math.min(INDEX_TAIL_MAX_BYTES / 2, Math.max(INDEX_PERSIST_MIN_BYTES, INDEX_REWRITE_FACTOR * INDEX_ENTRY_BYTES * seg.index.length))
    if (this.bytesSinceIndexPersist < due) return
    this.bytesSinceIndexPersist = 0
    void this.persistIndex(seg).catch(() => {}) // a cache: rebuilt from the segment if lost
  }

  /**
   * Saves `seg`'s index (its in-memory list, or `sealed`, the list of a sealed segment) after the
   * saves already queued; the entries are those present when it starts. Skipped when that many
   * are on disk already, unless the list was `rebuilt` from the data.
   */
  private persistIndex(seg: Segment, sealed?: PositionList, rebuilt = false): Promise<void> {
    return this.cacheWrites.queue(async () => {
      const index = sealed ?? seg.index
      if (index === null || (index.length === seg.persistedEntries && !rebuilt)) return
      const count = index.length
      // Encodes `count` entries before its first await; the active list keeps its encoded entries for its next save.
      await saveIndex(this.ctx.storage, seg.indexPath, index, (d) => this.core.crc32(d), sealed === undefined)
      seg.persistedEntries = count
    })
  }

  /** Writes the manifest after the cache writes already queued, if it is still stale then. */
  private saveManifestQueued(): Promise<void> {
    return this.cacheWrites.queue(async () => {
      if (!this.manifestStale) return
      this.manifestStale = false
      try {
        await writeManifest(this.ctx.storage, this.dir, manifestOf(this.segments))
      } catch (err) {
        this.manifestStale = true
        throw err
      }
    })
  }

  /** fdatasync, index and manifest: everything of this stream made durable (flush / close). */
  async persist(): Promise<void> {
    const seg = this.active
    if (seg === undefined || this.ctx.readOnly) return
    await this.writeBehind.done()
    if (seg.handle !== null && this.unsynced) {
      const writes = this.unsyncedWrites
      const size = seg.size
      try {
        await this.datasyncChecked(seg.handle)
      } catch (err) {
        throw ioError(err, `cannot fsync ${seg.path}`, { stream: this.name })
      }
      // An append that landed during the fdatasync may not be in it: leave it for the next flush.
      // (A rotation meanwhile synced the segment it sealed; the new one stays marked.)
      if (this.unsyncedWrites === writes && this.active === seg) {
        this.unsynced = false
        this.writeBehind.synced()
      }
      if (this.active === seg) this.syncedSize = Math.max(this.syncedSize, size)
    }
    if (this.corrupt !== null) return
    await this.persistIndex(seg)
    await this.saveManifestQueued()
  }

  /**
   * The end of what is on stable storage: every segment before the active one whole, and the
   * active one up to `size`, which ends at a commit (a whole append call). Read-only, for the
   * archiver (ts/archive/), which ships only synced bytes.
   */
  syncedEnd(): { segment: Segment; size: number } | null {
    const seg = this.active
    if (seg === undefined) return null
    return { segment: seg, size: this.ctx.readOnly ? seg.size : Math.min(this.syncedSize, seg.size) }
  }

  /**
   * Before a redaction rewrites one of its segment files (engine/redaction.ts): no background
   * fdatasync and no cache write in flight, so none touches the old file or its `.idx` after.
   */
  async quiesce(): Promise<void> {
    await this.writeBehind.done()
    await this.cacheWrites.idle()
    // The journal's entries name positions the rewrite moves: its segments synced, it is emptied first.
    await this.ctx.journal?.checkpoint()
  }

  /**
   * A redaction renamed a rewritten file over `seg` (engine/redaction.ts): takes its new size and
   * record positions (same records, later ones moved), drops read handles on the old file,
   * reopens the writer's handle when it is the active segment (appends must never go to an
   * unlinked file), and saves the index and the manifest (SPEC §9 step 6).
   */
  async segmentReplaced(seg: Segment, size: number, positions: PositionList): Promise<void> {
    assert(positions.length === seg.records, 'a rewritten segment holds the same records')
    const old = this.indexIfLoaded(seg)
    if (old !== null) this.replacedIndexes.add(old)
    this.readers.replaced(seg)
    seg.size = size
    seg.persistedEntries = 0
    if (seg === this.active && seg.handle !== null) {
      const writer = seg.handle
      seg.handle = null
      await writer.close().catch(() => {})
      try {
        seg.handle = await this.ctx.storage.open(seg.path, 'update')
      } catch (err) {
        this.broken = ioError(err, `stream ${this.name}: cannot reopen ${seg.path} after its redaction; reopen the log`, { stream: this.name })
        throw this.broken
      }
      seg.index = positions
      // The rewritten file was fdatasynced whole before its rename.
      this.unsynced = false
      this.syncedSize = size
      this.writeBehind.synced()
    } else if (seg === this.active) {
      seg.index = positions
    } else {
      this.indexes.sealed(seg, positions)
    }
    this.manifestStale = true
    await this.persistIndex(seg, seg === this.active ? undefined : positions, true).catch(() => {}) // a cache: rebuilt at open if lost
    await this.saveManifestQueued().catch(() => {})
  }

  async closeHandles(): Promise<void> {
    await this.cacheWrites.idle() // close must not leave a cache write behind it
    await this.writeBehind.settled() // a handle is closed with no fdatasync in flight (a failure was recorded)
    this.readers.closeAll()
    this.dictionaries.release(this.ctx)
    for (const seg of this.segments) {
      const h = seg.handle
      seg.handle = null
      if (h !== null) await h.close().catch(() => {})
    }
    this.wake()
  }

  /**
   * A prune made pruned.json durable (retention.ts): the stream now starts at `state.firstOffset`.
   * Readers stop using the segments at once; then their files and indexes are deleted, the
   * directory fsynced, and the manifest rewritten. A crash in between: open deletes what is left.
   */
  async dropPrunedSegments(state: PrunedState, gone: readonly Segment[]): Promise<void> {
    assert(gone.length > 0 && gone.every((seg, i) => this.segments[i] === seg && seg !== this.active), 'a prune drops the leading sealed segments')
    this.pruned = state
    this.segments.splice(0, gone.length)
    if (typeof this._lastCheckpoint === 'number' && this._lastCheckpoint < state.firstOffset) this._lastCheckpoint = null
    this.verified.clear()
    for (const seg of gone) this.readers.drop(seg)
    try {
      for (const seg of gone) {
        await this.ctx.storage.remove(seg.path)
        await this.ctx.storage.remove(seg.indexPath)
      }
      await this.ctx.storage.syncDir(this.dir)
    } catch (err) {
      throw ioError(err, `stream ${this.name}: cannot delete the pruned segments (pruned.json is written: the next open deletes them)`, { stream: this.name })
    }
    this.manifestStale = true
    await this.saveManifestQueued()
  }

  // ---- followers ----

  /** Resolves on the next commit (or when the log closes). */
  waitForAppend(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  wake(): void {
    this.commits++
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}

/** Where open's tail scan of `seg` would start: the last record its saved index lists (0: none saved since open). */
function indexedOnDisk(seg: Segment): number {
  const saved = Math.min(seg.persistedEntries, seg.index!.length)
  return saved > 0 ? seg.index!.at(saved - 1) : 0
}

/** Where a record lies in its segment (Stream.locate). */
export interface RecordLocation {
  readonly segment: Segment
  readonly index: PositionList
  /** The record's entry in the index (offset − the segment's first offset). */
  readonly entry: number
  readonly position: number
  /** Byte position after the record. */
  readonly end: number
}

function locateIn(segment: Segment, index: PositionList, offset: number): RecordLocation | null {
  const entry = offset - segment.firstOffset
  if (entry < 0 || entry >= index.length) return null
  const end = entry + 1 < index.length ? index.at(entry + 1) : segment.size
  return { segment, index, entry, position: index.at(entry), end }
}
