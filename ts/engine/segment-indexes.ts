/**
 * The record positions of a stream's segments. The active segment's list lives on its Segment; a
 * sealed segment's is loaded from its `.idx` when it checks out (right count, every entry inside
 * the file) and rebuilt from the segment otherwise, and the few used last stay cached. Lists read
 * from files are marked: a reader that finds one wrong asks for a rebuild (repair).
 */
import { loadIndex, PositionList } from '../storage/offset-index.ts'
import { scanRange } from '../storage/segment-scan.ts'
import { withSegmentReader } from '../storage/segment-file.ts'
import type { Segment } from './segment.ts'
import type { StoreContext } from './store-context.ts'

/** Sealed-segment indexes kept in memory per stream (the active one is always kept). */
const MAX_CACHED_INDEXES = 8

export class SegmentIndexes {
  private readonly cached = new Map<number, Promise<PositionList>>()
  /** What each of those promises resolved to, once it has (see ifLoaded). */
  private readonly loaded = new WeakMap<Promise<PositionList>, PositionList>()
  /** The segment whose index was cached or used last (the last in the map's order). */
  private newest = -1
  /** Lists read from `.idx` files and not yet checked one by one against the data. */
  private readonly fromFiles = new WeakSet<PositionList>()

  /** `save` writes a rebuilt sealed index as the segment's `.idx` (queued behind the stream's other cache writes). */
  constructor(
    private readonly ctx: StoreContext,
    private readonly stream: string,
    private readonly save: (seg: Segment, positions: PositionList) => Promise<void>,
  ) {}

  /** A list that came from an `.idx` file (open-time recovery's, say). */
  untrusted(list: PositionList): void {
    this.fromFiles.add(list)
  }

  /** A segment was just sealed: its in-memory list becomes its cached index. */
  sealed(seg: Segment, list: PositionList): void {
    const p = Promise.resolve(list)
    this.loaded.set(p, list)
    this.markUsed(seg.num, p)
  }

  /**
   * The positions of a segment's records. A rebuild that stops early (damage) returns the records
   * before the damage; readers fail with ERR_CORRUPT past them.
   */
  of(seg: Segment): Promise<PositionList> {
    if (seg.index !== null) return Promise.resolve(seg.index)
    const cached = this.cached.get(seg.num)
    if (cached !== undefined) {
      this.markUsed(seg.num, cached)
      return cached
    }
    const p = this.load(seg)
    p.then((list) => this.loaded.set(p, list), () => this.cached.delete(seg.num))
    this.markUsed(seg.num, p)
    while (this.cached.size > MAX_CACHED_INDEXES) this.cached.delete(this.cached.keys().next().value as number)
    return p
  }

  /**
   * The same list when it is already in memory (the active segment's, or a sealed one loaded and
   * still cached), without a promise; null: call of(). Lets a random get run synchronously.
   */
  ifLoaded(seg: Segment): PositionList | null {
    if (seg.index !== null) return seg.index
    const cached = this.cached.get(seg.num)
    const list = cached === undefined ? undefined : this.loaded.get(cached)
    if (list === undefined) return null
    this.markUsed(seg.num, cached!)
    return list
  }

  /**
   * Caches a sealed segment's index as the most recently used (the map's order is the
   * eviction order). Random gets mostly hit the index used last: that costs no Map delete and set.
   */
  private markUsed(num: number, p: Promise<PositionList>): void {
    if (num === this.newest && this.cached.get(num) === p) return
    this.cached.delete(num)
    this.cached.set(num, p)
    this.newest = num
  }

  private async load(seg: Segment): Promise<PositionList> {
    const crc = (d: Uint8Array) => this.ctx.core.crc32(d)
    const loaded = await loadIndex(this.ctx.storage, seg.indexPath, seg.size, crc)
    if (loaded?.ok && loaded.positions.length === seg.records) {
      this.fromFiles.add(loaded.positions)
      return loaded.positions
    }
    return this.rebuild(seg)
  }

  /** Positions of a sealed segment from a scan of its records (saved as its `.idx` when whole). */
  private async rebuild(seg: Segment): Promise<PositionList> {
    const positions = new PositionList()
    const scan = await withSegmentReader(this.ctx.storage, seg.path, (handle) =>
      scanRange(this.ctx.core, handle, {
        hash: this.ctx.hash, stream: this.stream, start: 0, end: seg.size, firstOffset: seg.firstOffset, prevHash: null,
        prevTimestamp: null, verifyChain: false,
        onRecords: (r) => {
          for (let k = 0; k < r.count; k++) positions.push(r.positions[k])
        },
      }),
    )
    if (scan.outcome === 'end' && positions.length === seg.records && !this.ctx.readOnly) {
      // Queued behind the saves in flight (say, the one rotation started), so none lands after it.
      await this.save(seg, positions).catch(() => {}) // a cache: the next load rebuilds again
    }
    positions.truncate(seg.records)
    return positions
  }

  /**
   * Called by a reader that found a record where `index` said one would be and it was not: if
   * that index came from an `.idx` file, rebuild it from the data and report true (read again);
   * false means the data itself is damaged.
   */
  async repair(seg: Segment, index: PositionList): Promise<boolean> {
    if (!this.fromFiles.has(index)) return false
    this.fromFiles.delete(index)
    if (seg.index === index) {
      // The active segment: rescan its committed bytes and correct the entries in place (appends
      // may be pushing to the same list meanwhile).
      const rebuilt = new PositionList()
      await withSegmentReader(this.ctx.storage, seg.path, (handle) =>
        scanRange(this.ctx.core, handle, {
          hash: this.ctx.hash, stream: this.stream, start: 0, end: seg.size, firstOffset: seg.firstOffset, prevHash: null, prevTimestamp: null,
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
    const p = this.rebuild(seg)
    p.then((list) => this.loaded.set(p, list), () => {})
    this.markUsed(seg.num, p)
    const rebuilt = await p
    for (let i = 0; i < Math.min(rebuilt.length, index.length); i++) if (index.at(i) !== rebuilt.at(i)) return true
    return rebuilt.length !== index.length
  }
}
