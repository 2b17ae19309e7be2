/**
 * One stream's state: its segments, chain head, next offset, last timestamp, checkpoint policy
 * state and corruption mark, and the file work that changes it (open with recovery, creation,
 * rotation, index and manifest persistence). Appends go through its CommitQueue; reads through
 * record-reader.ts; both see the state kept here.
 */
import { promises as fsp, readSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChainlogCore, HashAlgorithm } from './core/interface.ts'
import { MAX_PAYLOAD_BYTES } from './core/format.ts'
import { ChainlogError } from './errors.ts'
import { fsyncDir, ioError, isTempFile, makeDirDurable } from './durable.ts'
import { CommitQueue, type PayloadBuffers } from './commit-queue.ts'
import { findCheckpointAtOrBefore, type CheckpointSource } from './checkpoint.ts'
import { MANIFEST_FILE, manifestOf, readManifest, writeManifest, type Manifest } from './manifest.ts'
import { INDEX_ENTRY_BYTES, loadIndex, PositionList, saveIndex } from './offset-index.ts'
import type { RecoveryEvent, ResolvedOptions } from './options.ts'
import { recoverTail, type CorruptMark } from './recovery.ts'
import { scanRange } from './segment-scan.ts'
import { fileSize, listSegmentNumbers, readRange, Segment, segmentFileName, segmentPath, withSegmentReader } from './segment.ts'
import { streamDirectory } from './store.ts'
import { VerifiedHashes } from './verified-hashes.ts'

export const ZERO_HASH: Buffer = Buffer.alloc(32)
/** Sealed-segment indexes kept in memory per stream (the active one is always kept). */
const MAX_CACHED_INDEXES = 8
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
/**
 * Write-behind: after this many bytes written to the active segment without an fdatasync, one
 * starts in the background (Stream.maybeWriteBehind). Rotation must fdatasync the segment it
 * seals before it creates the next (a sealed segment is never cut at recovery); left until then,
 * that meant up to a whole segment of dirty pages (256 MiB, ~60 ms here) written while the
 * append that triggered the rotation waited: 15% of W1's time (2.2M -> 2.4M records/s with it).
 * Now the seal finds about this much left.
 */
const WRITE_BEHIND_BYTES = 16 * 1024 * 1024
/** Read handles kept open per stream (least recently used closed first). */
const MAX_OPEN_READERS = 4
/** Bytes read to find the first offset of a segment. */
const FIRST_RECORD_PROBE_BYTES = 64 * 1024

export interface StoreContext {
  readonly dir: string
  readonly core: ChainlogCore
  readonly hash: HashAlgorithm
  readonly options: ResolvedOptions
  readonly readOnly: boolean
  /** Buffers appends collect their events into, reused across the log's streams. */
  readonly payloadBuffers: PayloadBuffers
}

export class Stream implements CheckpointSource {
  readonly dir: string
  readonly queue: CommitQueue
  segments: Segment[] = []
  nextOffset = 0
  headHash: Buffer = ZERO_HASH
  /** Timestamp of the last record (0 for an empty stream): the clock never goes below it. */
  lastTimestamp = 0
  /** Offset of the last checkpoint; null: none; undefined: not looked up yet. */
  lastCheckpoint: number | null | undefined = null
  /** Records since the last checkpoint; undefined until looked up (first append). */
  sinceCheckpoint: number | undefined = 0
  /** Data appended in this session after the last checkpoint (close() checkpoints it). */
  dirtySinceCheckpoint = false
  /** Written with sync 'never' and not yet fdatasynced. */
  unsynced = false
  /** Writes made with sync 'never' so far: persist clears `unsynced` only if none landed during its fdatasync. */
  private unsyncedWrites = 0
  /** Damage found at open: reads stop there, appends fail. */
  corrupt: CorruptMark | null = null
  /** A failed write could not be rolled back: appends fail with this until reopened. */
  broken: ChainlogError | null = null
  private readonly sealedIndexes = new Map<number, Promise<PositionList>>()
  /** What each of those promises resolved to, once it has (see indexIfLoaded). */
  private readonly loadedIndexes = new WeakMap<Promise<PositionList>, PositionList>()
  /** The segment whose index was cached or used last (the last in sealedIndexes' order). */
  private newestIndex = -1
  /** Index entries read from `.idx` files and not yet checked one by one against the data. */
  private readonly untrustedIndexes = new WeakSet<PositionList>()
  private waiters: Array<() => void> = []
  /**
   * What backward searches learned: a checkpoint at cpAt[i] (−1: the stream start) and none in
   * (cpAt[i], cpReach[i]]. Answers repeated lookups (random gets) without scanning again.
   */
  private cpAt: number[] = []
  private cpReach: number[] = []
  /** Wake-ups so far (commits and close): lets a follower tell whether it missed one. */
  commits = 0
  /** Chain hashes verified by gets, per checkpoint interval (cleared when bytes are cut). */
  readonly verified = new VerifiedHashes()
  private bytesSinceIndexPersist = 0
  /** Bytes written to the active segment since its last fdatasync began (see WRITE_BEHIND_BYTES). */
  private bytesSinceSync = 0
  /** The write-behind fdatasync in flight (null once its end was seen): awaited before the
   * handle is synced again or closed. */
  private writeBehind: Promise<void> | null = null
  /** bytesSinceSync at which maybeWriteBehind next asks its caller to yield (see there). */
  private writeBehindYieldAt = 0
  /** Its failure, reported by every later sync point (rotation, flush, close). */
  private writeBehindError: ChainlogError | null = null
  /** Cache files (index saves, rotation's manifest) are written one after another (an older one
   * never lands after a newer one); the last. */
  private cacheWrites: Promise<void> = Promise.resolve()
  private manifestStale = false

  private constructor(
    readonly ctx: StoreContext,
    readonly name: string,
  ) {
    this.dir = streamDirectory(ctx.dir, name)
    this.queue = new CommitQueue(this)
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
    await s.load(events)
    return s
  }

  private async load(events: RecoveryEvent[]): Promise<void> {
    const { core, readOnly } = this.ctx
    if (!readOnly) await this.removeTempFiles()
    const nums = await listSegmentNumbers(this.dir)
    const { manifest, problem: manifestProblem } = await readManifest(this.dir)
    this.manifestStale = manifest === null
    let structural: string | null = null

    let contiguous = 0
    while (contiguous < nums.length && nums[contiguous] === contiguous) contiguous++
    if (contiguous < nums.length) {
      structural = `${segmentFileName(nums[contiguous])} exists but ${segmentFileName(contiguous)} is missing`
    }
    const lost = manifest?.segments.find((m) => m.segment_num >= contiguous && (m.size_bytes > 0 || m.next_offset > m.first_offset))
    if (lost !== undefined && structural === null) {
      structural = `the manifest lists ${segmentFileName(lost.segment_num)} (offsets ${lost.first_offset}..${lost.next_offset}) but its file is missing`
    }

    // Sizes and first offsets, from the files.
    const found: { num: number; size: number; first: number | null }[] = []
    for (let num = 0; num < contiguous; num++) {
      const path = segmentPath(this.dir, num)
      const info = await withSegmentReader(path, async (h) => {
        const size = await fileSize(h)
        const first = num === 0 ? 0 : size === 0 ? null : await probeFirstOffset(core, this.hash, this.name, h, size)
        return { num, size, first }
      })
      found.push(info)
    }
    // Once a trailing segment is dropped, the tail is a segment that was sealed (synced before the
    // next one was created): it is never truncated (SPEC); bytes past its last record are damage.
    let sealedTail = false
    // Trailing empty files (a crash right after a rotation created one) hold nothing: drop them.
    while (found.length > 1 && found[found.length - 1].size === 0) {
      sealedTail = true
      const gone = found.pop()!
      if (!readOnly) await this.removeSegmentFile(gone.num)
      this.manifestStale = true
    }
    for (let i = 1; i < found.length; i++) {
      const f = found[i]
      if (f.first === null) f.first = manifest?.segments.find((m) => m.segment_num === f.num)?.first_offset ?? null
      if (f.first === null && i === found.length - 1) f.first = await this.offsetAfter(found[i - 1])
      const prevFirst = found[i - 1].first as number
      if (f.size === 0 || f.first === null || f.first <= prevFirst) {
        structural ??= f.size === 0 ? `${segmentFileName(f.num)} is empty but later segments exist` :
          f.first === null ? `the first record of ${segmentFileName(f.num)} is unreadable and no manifest gives its offset` :
          `${segmentFileName(f.num)} starts at offset ${f.first}, not after ${segmentFileName(found[i - 1].num)} (offset ${prevFirst})`
        found.length = i
        break
      }
    }
    for (const f of found) this.segments.push(new Segment(f.num, segmentPath(this.dir, f.num), f.first as number, f.size, f.first as number))
    for (let i = 0; i + 1 < this.segments.length; i++) this.segments[i].nextOffset = this.segments[i + 1].firstOffset

    // Tail recovery; a tail segment with no valid record at all is dropped and the one before
    // it becomes the tail.
    while (this.segments.length > 0) {
      const seg = this.active!
      const mayTruncate = !readOnly && structural === null && !sealedTail
      const handle = await openSegment(seg.path, readOnly)
      let keepHandle = false // handed to the segment as its writer, or already closed
      try {
        const size = await fileSize(handle)
        const prev = this.segments.length > 1 ? this.segments[this.segments.length - 2] : null
        const recordBefore = prev === null ? undefined : () => this.lastRecordOf(prev).catch(() => null) // damage there is reported by reads and verify
        const rec = await recoverTail({ core, hash: this.hash, stream: this.name, segment: seg, handle, fileSize: size, mayTruncate, recordBefore })
        if (rec.event !== null) events.push(rec.event)
        if (sealedTail && rec.corrupt === null && rec.size < size) {
          const reason = `${segmentFileName(seg.num)} was sealed but ends in ${size - rec.size} bytes that are not a whole record (a sealed segment is never cut)`
          rec.corrupt = { code: 'ERR_CORRUPT', offset: rec.nextOffset, segment: seg.num, position: rec.size, reason }
          events.push({ stream: this.name, segment: seg.num, action: 'corrupt', position: rec.size, offset: rec.nextOffset, bytes: size - rec.size, reason })
        }
        if (rec.count === 0 && rec.corrupt === null && seg.num > 0 && structural === null) {
          this.segments.pop()
          sealedTail = true
          if (!readOnly) {
            await handle.close()
            keepHandle = true
            await this.removeSegmentFile(seg.num)
          }
          this.manifestStale = true
          continue
        }
        seg.index = rec.index
        if (rec.indexFromDisk) this.untrustedIndexes.add(rec.index)
        seg.persistedEntries = 0
        // A torn tail was cut and not synced (ts/recovery.ts): the next fdatasync makes it durable.
        if (rec.event?.action === 'truncated') this.unsynced = true
        seg.size = rec.size
        seg.nextOffset = rec.nextOffset
        this.nextOffset = rec.nextOffset
        this.lastCheckpoint = rec.lastCheckpoint ?? undefined
        if (rec.lastCheckpoint !== null) this.learnCheckpoint(rec.lastCheckpoint, rec.nextOffset - 1)
        if (rec.count > 0) {
          this.headHash = rec.lastHash ?? ZERO_HASH
          this.lastTimestamp = rec.lastTimestamp ?? 0
        } else if (seg.num > 0) {
          const before = this.segments[this.segments.length - 2]
          try {
            const prev = await this.lastRecordOf(before)
            this.headHash = prev.hash
            this.lastTimestamp = prev.timestamp
          } catch (err) {
            // The segment before is damaged too: this stream is marked, the store still opens.
            if (!(err instanceof ChainlogError)) throw err
            const reason = `no valid record in ${segmentFileName(seg.num)} and the last record of ${segmentFileName(before.num)} is unreadable: ${err.message}`
            rec.corrupt ??= { code: 'ERR_CORRUPT', offset: rec.nextOffset, segment: seg.num, position: 0, reason }
            if (rec.event === null) events.push({ stream: this.name, segment: seg.num, action: 'corrupt', position: 0, offset: rec.nextOffset, bytes: size, reason })
          }
        }
        this.corrupt = rec.corrupt
        if (this.corrupt === null && structural !== null) {
          this.corrupt = { code: 'ERR_CORRUPT', offset: this.nextOffset, segment: seg.num, position: seg.size, reason: structural }
          events.push({ stream: this.name, segment: seg.num, action: 'corrupt', position: seg.size, offset: this.nextOffset, bytes: 0, reason: structural })
        }
        if (!readOnly && this.corrupt === null) {
          seg.handle = handle
          keepHandle = true
        }
      } finally {
        if (!keepHandle) await handle.close()
      }
      break
    }
    if (this.segments.length === 0 && structural !== null) {
      this.corrupt = { code: 'ERR_CORRUPT', offset: 0, segment: 0, position: 0, reason: structural }
      events.push({ stream: this.name, segment: 0, action: 'corrupt', position: 0, offset: 0, bytes: 0, reason: structural })
    }
    this.sinceCheckpoint = this.nextOffset === 0 ? 0 : undefined
    if (!readOnly && this.corrupt === null && this.segments.length > 0 && (this.manifestStale || manifestProblem !== null || !sameSegments(manifest, this.segments))) {
      await writeManifest(this.dir, manifestOf(this.segments))
      this.manifestStale = false
    }
  }

  /**
   * The offset after the last valid record of a segment, found like tail recovery (from its
   * last indexed record) but cutting nothing; null if it does not end cleanly. Used when the
   * segment after it has no readable first record and no manifest entry.
   */
  private async offsetAfter(f: { num: number; size: number; first: number | null }): Promise<number | null> {
    if (f.first === null) return null
    const seg = new Segment(f.num, segmentPath(this.dir, f.num), f.first, f.size, f.first)
    const rec = await withSegmentReader(seg.path, (handle) =>
      recoverTail({ core: this.core, hash: this.hash, stream: this.name, segment: seg, handle, fileSize: f.size, mayTruncate: false }),
    )
    return rec.corrupt === null && rec.size === f.size ? rec.nextOffset : null
  }

  private async removeTempFiles(): Promise<void> {
    let names: string[]
    try {
      names = await fsp.readdir(this.dir)
    } catch {
      return
    }
    for (const n of names) if (isTempFile(n)) await fsp.rm(join(this.dir, n), { force: true }).catch(() => {})
  }

  private async removeSegmentFile(num: number): Promise<void> {
    const path = segmentPath(this.dir, num)
    try {
      await fsp.rm(path, { force: true })
      await fsp.rm(path + '.idx', { force: true })
      await fsyncDir(this.dir)
    } catch (err) {
      throw ioError(err, `cannot remove the empty segment ${path}`, { stream: this.name })
    }
  }

  /** Hash and timestamp of the last record of a (sealed) segment. */
  private async lastRecordOf(seg: Segment): Promise<{ hash: Buffer; timestamp: number }> {
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
   * Record positions of a segment. The active segment's are in memory; a sealed segment's are
   * loaded from its `.idx` when it checks out (right count, every entry inside the file) and
   * rebuilt from the segment otherwise. A rebuild that stops early (damage) returns the records
   * before the damage; readers fail with ERR_CORRUPT past them.
   */
  indexOf(seg: Segment): Promise<PositionList> {
    if (seg.index !== null) return Promise.resolve(seg.index)
    const cached = this.sealedIndexes.get(seg.num)
    if (cached !== undefined) {
      this.markIndexUsed(seg.num, cached)
      return cached
    }
    const p = this.loadSealedIndex(seg)
    p.then((list) => this.loadedIndexes.set(p, list), () => this.sealedIndexes.delete(seg.num))
    this.markIndexUsed(seg.num, p)
    while (this.sealedIndexes.size > MAX_CACHED_INDEXES) this.sealedIndexes.delete(this.sealedIndexes.keys().next().value as number)
    return p
  }

  /**
   * The same list when it is already in memory (the active segment's, or a sealed one loaded and
   * still cached), without a promise; null: call indexOf. Lets a random get run synchronously.
   */
  indexIfLoaded(seg: Segment): PositionList | null {
    if (seg.index !== null) return seg.index
    const cached = this.sealedIndexes.get(seg.num)
    const list = cached === undefined ? undefined : this.loadedIndexes.get(cached)
    if (list === undefined) return null
    this.markIndexUsed(seg.num, cached!)
    return list
  }

  /**
   * Caches a sealed segment's index as the most recently used (sealedIndexes' order is the
   * eviction order). Random gets mostly hit the index used last: that costs no Map delete and set.
   */
  private markIndexUsed(num: number, p: Promise<PositionList>): void {
    if (num === this.newestIndex && this.sealedIndexes.get(num) === p) return
    this.sealedIndexes.delete(num)
    this.sealedIndexes.set(num, p)
    this.newestIndex = num
  }

  private async loadSealedIndex(seg: Segment): Promise<PositionList> {
    const crc = (d: Uint8Array) => this.core.crc32(d)
    const loaded = await loadIndex(seg.indexPath, seg.size, crc)
    if (loaded?.ok && loaded.positions.length === seg.records) {
      this.untrustedIndexes.add(loaded.positions)
      return loaded.positions
    }
    return this.rebuildIndex(seg)
  }

  /** Positions of a sealed segment from a scan of its records (saved as its `.idx` when whole). */
  private async rebuildIndex(seg: Segment): Promise<PositionList> {
    const positions = new PositionList()
    const scan = await withSegmentReader(seg.path, (handle) =>
      scanRange(this.core, handle, {
        hash: this.hash, stream: this.name, start: 0, end: seg.size, firstOffset: seg.firstOffset, prevHash: null,
        prevTimestamp: null, verifyChain: false,
        onRecords: (r) => {
          for (let k = 0; k < r.count; k++) positions.push(r.positions[k])
        },
      }),
    )
    if (scan.outcome === 'end' && positions.length === seg.records && !this.ctx.readOnly) {
      // Queued behind the saves in flight (say, the one rotation started), so none lands after it.
      await this.persistIndex(seg, positions, true).catch(() => {}) // a cache: the next load rebuilds again
    }
    positions.truncate(seg.records)
    return positions
  }

  /**
   * Called by a reader that found a record where `index` said one would be and it was not: if
   * that index came from an `.idx` file, rebuild it from the data and report true (read again);
   * false means the data itself is damaged.
   */
  async repairIndex(seg: Segment, index: PositionList): Promise<boolean> {
    if (!this.untrustedIndexes.has(index)) return false
    this.untrustedIndexes.delete(index)
    if (seg.index === index) {
      // The active segment: rescan its committed bytes and correct the entries in place (appends
      // may be pushing to the same list meanwhile).
      const rebuilt = new PositionList()
      await withSegmentReader(seg.path, (handle) =>
        scanRange(this.core, handle, {
          hash: this.hash, stream: this.name, start: 0, end: seg.size, firstOffset: seg.firstOffset, prevHash: null, prevTimestamp: null,
          verifyChain: false, onRecords: (r) => { for (let k = 0; k < r.count; k++) rebuilt.push(r.positions[k]) },
        }),
      )
      let changed = false
      for (let i = 0; i < Math.min(rebuilt.length, index.length); i++) {
        if (index.at(i) !== rebuilt.at(i)) {
          index.set(i, rebuilt.at(i))
          changed = true
        }
      }
      if (changed) seg.persistedEntries = 0
      return changed
    }
    const p = this.rebuildIndex(seg)
    p.then((list) => this.loadedIndexes.set(p, list), () => {})
    this.markIndexUsed(seg.num, p)
    const rebuilt = await p
    for (let i = 0; i < Math.min(rebuilt.length, index.length); i++) if (index.at(i) !== rebuilt.at(i)) return true
    return rebuilt.length !== index.length
  }

  async readSegment(seg: Segment, position: number, length: number): Promise<Buffer> {
    const handle = await this.acquireReader(seg)
    let data: Buffer
    try {
      data = await readRange(handle, position, length)
    } catch (err) {
      throw ioError(err, `cannot read ${seg.path} at ${position}`, { stream: this.name, position })
    } finally {
      this.releaseReader(seg)
    }
    if (data.length !== length) {
      throw new ChainlogError('ERR_CORRUPT', `stream ${this.name}: ${segmentFileName(seg.num)} ends at ${position + data.length}, expected at least ${position + length} bytes`, {
        stream: this.name, position: position + data.length,
      })
    }
    return data
  }

  /**
   * The same read with a synchronous pread when the segment's read handle is already open: a small
   * random read through libuv's pool costs more than the read itself. Null: use readSegment.
   */
  readSegmentSync(seg: Segment, position: number, length: number): Buffer | null {
    const handle = seg.readerHandle
    if (handle === null) return null
    const k = this.readers.indexOf(seg)
    if (k < 0) return null
    if (k !== this.readers.length - 1) {
      this.readers.splice(k, 1)
      this.readers.push(seg)
    }
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    try {
      while (done < length) {
        const n = readSync(handle.fd, buf, done, length - done, position + done)
        if (n === 0) return null // short: readSegment reports it
        done += n
      }
    } catch {
      return null
    }
    return buf
  }

  /** The last checkpoint at or before `offset` (null: none) when earlier searches already know it; undefined: search. */
  checkpointKnown(offset: number): number | null | undefined {
    const i = this.cpFloor(offset)
    if (i >= 0 && this.cpReach[i] >= offset) return this.cpAt[i] < 0 ? null : this.cpAt[i]
    return undefined
  }

  /** Index of the last entry of cpAt at or before `offset` (−1: none). */
  private cpFloor(offset: number): number {
    let i = -1
    for (let lo = 0, hi = this.cpAt.length - 1; lo <= hi; ) {
      const mid = (lo + hi) >> 1
      if (this.cpAt[mid] <= offset) {
        i = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return i
  }

  /** The last checkpoint at or before `offset` (null: none), remembering what each search learns. */
  async checkpointAtOrBefore(offset: number): Promise<number | null> {
    const i = this.cpFloor(offset)
    if (i >= 0 && this.cpReach[i] >= offset) return this.cpAt[i] < 0 ? null : this.cpAt[i]
    const floor = i >= 0 ? this.cpReach[i] + 1 : 0
    const found = await findCheckpointAtOrBefore(this, offset, Infinity, floor)
    if (found === null) {
      if (i >= 0) this.cpReach[i] = Math.max(this.cpReach[i], offset)
      else this.learnCheckpoint(-1, offset)
      return i >= 0 && this.cpAt[i] >= 0 ? this.cpAt[i] : null
    }
    this.learnCheckpoint(found, offset)
    return found
  }

  /** Records "a checkpoint at `at` (−1: stream start) and none in (at, reach]". */
  learnCheckpoint(at: number, reach: number): void {
    let k = this.cpAt.length
    while (k > 0 && this.cpAt[k - 1] > at) k--
    if (k > 0 && this.cpAt[k - 1] === at) {
      this.cpReach[k - 1] = Math.max(this.cpReach[k - 1], reach)
      return
    }
    this.cpAt.splice(k, 0, at)
    this.cpReach.splice(k, 0, reach)
  }

  private readonly readers: Segment[] = []

  private async acquireReader(seg: Segment): Promise<FileHandle> {
    seg.readerUsers++
    const k = this.readers.indexOf(seg)
    if (k >= 0) this.readers.splice(k, 1)
    this.readers.push(seg)
    if (seg.reader === null) {
      const opening = fsp.open(seg.path, 'r')
      seg.reader = opening
      opening.then((h) => {
        if (seg.reader === opening) seg.readerHandle = h
      }, () => {})
    }
    this.evictReaders()
    try {
      return await seg.reader
    } catch (err) {
      seg.readerUsers--
      seg.reader = null
      const i = this.readers.indexOf(seg)
      if (i >= 0) this.readers.splice(i, 1)
      throw ioError(err, `cannot open the segment ${seg.path}`, { stream: this.name })
    }
  }

  private releaseReader(seg: Segment): void {
    seg.readerUsers--
    if (seg.readerUsers === 0 && !this.readers.includes(seg)) closeReader(seg) // evicted while in use
  }

  private evictReaders(): void {
    while (this.readers.length > MAX_OPEN_READERS) {
      const old = this.readers.shift()!
      if (old.readerUsers === 0) closeReader(old)
    }
  }

  // ---- write side (called from the commit queue only) ----

  /** Records since the last checkpoint, looked up once (bounded by checkpointEvery). */
  async loadPolicyState(every: number): Promise<void> {
    if (this.sinceCheckpoint !== undefined) return
    const c = await findCheckpointAtOrBefore(this, this.nextOffset - 1, every)
    if (c !== null) this.lastCheckpoint = c
    this.sinceCheckpoint = c !== null ? this.nextOffset - c - 1 : Math.min(this.nextOffset, every)
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
    await makeDirDurable(this.dir)
    const seg = await this.createSegment(0, 0)
    try {
      await writeManifest(this.dir, manifestOf([seg]))
    } catch (err) {
      await seg.handle?.close()
      throw err
    }
    this.segments.push(seg)
    this.sinceCheckpoint = 0
  }

  /** Seals the active segment (synced; its index and the manifest saved in the background) and starts the next one. */
  private async rotate(): Promise<Segment> {
    const old = this.active!
    await this.writeBehindDone()
    this.bytesSinceSync = 0
    try {
      await old.handle!.datasync()
    } catch (err) {
      throw ioError(err, `cannot fsync ${old.path} before sealing it`, { stream: this.name })
    }
    const seg = await this.createSegment(old.num + 1, this.nextOffset)
    this.segments.push(seg)
    this.unsynced = false
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
    const sealed = Promise.resolve(index)
    this.loadedIndexes.set(sealed, index)
    this.markIndexUsed(old.num, sealed)
    await handle.close().catch(() => {})
    return seg
  }

  private async createSegment(num: number, firstOffset: number): Promise<Segment> {
    const path = segmentPath(this.dir, num)
    const seg = new Segment(num, path, firstOffset, 0, firstOffset)
    try {
      seg.handle = await fsp.open(path, 'w+')
      await fsyncDir(this.dir)
    } catch (err) {
      await seg.handle?.close().catch(() => {})
      throw ioError(err, `cannot create ${path}`, { stream: this.name })
    }
    seg.index = new PositionList()
    return seg
  }

  /** A write of `bytes` landed at the end of the active segment: `parts` are the encodeBatch positions of its calls, each from `at` in the write. */
  commitWrite(seg: Segment, parts: ReadonlyArray<{ positions: Float64Array; at: number }>, bytes: number, synced: boolean): void {
    for (const p of parts) seg.index!.pushShifted(p.positions, seg.size + p.at)
    seg.size += bytes
    this.bytesSinceIndexPersist += bytes
    if (!synced) {
      this.unsynced = true
      this.unsyncedWrites++
      this.bytesSinceSync += bytes
    } else {
      this.unsynced = false
      this.bytesSinceSync = 0
    }
    this.manifestStale = true
  }

  /** Cuts a failed write off the end of the active segment. */
  async rollback(seg: Segment, goodLength: number): Promise<void> {
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
    const k = this.readers.indexOf(seg)
    if (k >= 0) {
      this.readers.splice(k, 1)
      closeReader(seg)
    }
    this.segments.length = 0
    this.unsynced = false
    this.manifestStale = false
    try {
      await handle?.close()
      await fsp.rm(seg.path, { force: true })
      await fsp.rm(seg.indexPath, { force: true })
      await fsp.rm(join(this.dir, MANIFEST_FILE), { force: true })
      await fsyncDir(this.dir)
    } catch {
      // left for open-time recovery
    }
  }

  /**
   * Starts a background fdatasync of the active segment once WRITE_BEHIND_BYTES were written
   * since the last one began (sync 'never'). It acknowledges nothing: an append under 'never' was
   * acknowledged when written. One at a time, so a disk slower than the appends does not fill
   * libuv's pool with them. Returns true when one is due but the last one's end has not been
   * seen: appends that never yield to the event loop (a tight loop of awaited appends settles in
   * microtasks) never let its callback run, so the caller yields once (per WRITE_BEHIND_BYTES).
   *
   * A failure breaks the stream (appends reject until a reopen) and is thrown by every later sync
   * point (writeBehindDone, datasyncChecked): the kernel reports a writeback error to one
   * fdatasync only, so the rotation's or the flush's own would otherwise succeed over lost pages.
   */
  maybeWriteBehind(): boolean {
    const seg = this.active
    if (seg?.handle == null || this.bytesSinceSync < WRITE_BEHIND_BYTES) return false
    if (this.writeBehind !== null) {
      if (this.bytesSinceSync < this.writeBehindYieldAt) return false
      this.writeBehindYieldAt += WRITE_BEHIND_BYTES
      return true
    }
    this.bytesSinceSync = 0
    this.writeBehindYieldAt = WRITE_BEHIND_BYTES
    this.writeBehind = seg.handle.datasync().then(
      () => {
        this.writeBehind = null
      },
      (err: unknown) => {
        this.writeBehind = null
        this.writeBehindError ??= ioError(err, `stream ${this.name}: a background fdatasync of ${seg.path} failed; appended records may be lost, reopen the log to recover`, { stream: this.name })
        this.broken ??= this.writeBehindError
      },
    )
    return false
  }

  /**
   * The fdatasync of a sync point (flush, an append under sync 'always'), then the write-behind
   * check it owes: a background fdatasync running meanwhile may have taken the kernel's one
   * report of a lost write.
   */
  async datasyncChecked(handle: FileHandle): Promise<void> {
    await handle.datasync()
    await this.writeBehindDone()
  }

  /** Waits for the write-behind fdatasync in flight, if any; throws if one ever failed. */
  private async writeBehindDone(): Promise<void> {
    if (this.writeBehind !== null) await this.writeBehind
    if (this.writeBehindError !== null) throw this.writeBehindError
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
    const run = this.cacheWrites.then(async () => {
      const index = sealed ?? seg.index
      if (index === null || (index.length === seg.persistedEntries && !rebuilt)) return
      const count = index.length
      await saveIndex(seg.indexPath, index, (d) => this.core.crc32(d)) // encodes `count` entries before its first await
      seg.persistedEntries = count
    })
    this.cacheWrites = run.catch(() => {})
    return run
  }

  /** Writes the manifest after the cache writes already queued, if it is still stale then. */
  private saveManifestQueued(): Promise<void> {
    const run = this.cacheWrites.then(async () => {
      if (!this.manifestStale) return
      this.manifestStale = false
      try {
        await writeManifest(this.dir, manifestOf(this.segments))
      } catch (err) {
        this.manifestStale = true
        throw err
      }
    })
    this.cacheWrites = run.catch(() => {})
    return run
  }

  /** Resolves once no cache write is in flight (close must not leave one writing behind it). */
  cacheWritesDone(): Promise<void> {
    return this.cacheWrites
  }

  /** fdatasync, index and manifest: everything of this stream made durable (flush / close). */
  async persist(): Promise<void> {
    const seg = this.active
    if (seg === undefined || this.ctx.readOnly) return
    await this.writeBehindDone()
    if (seg.handle !== null && this.unsynced) {
      const writes = this.unsyncedWrites
      try {
        await this.datasyncChecked(seg.handle)
      } catch (err) {
        throw ioError(err, `cannot fsync ${seg.path}`, { stream: this.name })
      }
      // An append that landed during the fdatasync may not be in it: leave it for the next flush.
      // (A rotation meanwhile synced the segment it sealed; the new one stays marked.)
      if (this.unsyncedWrites === writes && this.active === seg) {
        this.unsynced = false
        this.bytesSinceSync = 0
      }
    }
    if (this.corrupt !== null) return
    await this.persistIndex(seg)
    await this.saveManifestQueued()
  }

  async closeHandles(): Promise<void> {
    await this.cacheWritesDone()
    await this.writeBehind // a handle is closed with no fdatasync in flight (a failure was recorded)
    for (const seg of this.readers.splice(0)) closeReader(seg)
    for (const seg of this.segments) {
      const h = seg.handle
      seg.handle = null
      if (h !== null) await h.close().catch(() => {})
    }
    this.wake()
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

function closeReader(seg: Segment): void {
  const p = seg.reader
  seg.reader = null
  seg.readerHandle = null
  p?.then((h) => h.close()).catch(() => {})
}

async function openSegment(path: string, readOnly: boolean) {
  try {
    return await fsp.open(path, readOnly ? 'r' : 'r+')
  } catch (err) {
    throw ioError(err, `cannot open the segment ${path}`)
  }
}

function sameSegments(manifest: Manifest | null, segments: readonly Segment[]): boolean {
  if (manifest === null) return false
  const want = manifestOf(segments)
  return JSON.stringify(want) === JSON.stringify(manifest)
}

/** Offset of a segment's first record (null when it cannot be read), without reading the segment. */
async function probeFirstOffset(core: ChainlogCore, hash: HashAlgorithm, stream: string, handle: import('node:fs/promises').FileHandle, size: number): Promise<number | null> {
  let want = Math.min(size, FIRST_RECORD_PROBE_BYTES)
  for (;;) {
    const data = await readRange(handle, 0, want)
    const r = core.scanSegment({
      hash, stream, data, basePosition: 0, firstOffset: null, prevHash: null, prevTimestamp: null, verifyChain: false, final: want >= size,
    })
    if (r.count > 0) return r.offsets[0]
    if (r.stop !== 'partial' || r.needBytes > size || r.needBytes <= want) return null
    want = r.needBytes
  }
}
