/**
 * The Archiver (SPEC §10): ships a live store to object storage, off the append path. Every
 * `interval` (and on sync()), per stream: new sealed segments whole (with their index and
 * metadata), then the synced, batch-aligned bytes of the active segment since the last shipped
 * position as one tail chunk, then HEAD.json with If-Match on the ETag read last. It reads only
 * bytes the engine reports synced (Stream.syncedEnd), so what the archive holds was acknowledged.
 *
 * Conflicts stop it for good (ERR_ARCHIVE_CONFLICT in status() and from sync()): an immutable
 * object holding other bytes, a HEAD changed by someone else, or a HEAD not on the local chain.
 * Other failures (the server down, the network) are retried with exponential backoff; status()
 * shows the lag meanwhile.
 *
 * The planning (what to ship, HEAD, conflicts, redactions) runs here, beside the engine's
 * streams; the transfers run on the shipping thread (ship-thread.ts): every S3 call, and each
 * sealed segment read from its file, hashed and uploaded there. A store in memory (no files a
 * thread could read) or client settings that cannot cross to a thread (a credential provider
 * function) ship from this thread instead, as before.
 */
import { ChainlogError, describe } from '../errors.ts'
import type { Stream } from '../engine/stream.ts'
import { type OpenStore, storeOf } from '../engine/open-stores.ts'
import type { Segment } from '../engine/segment.ts'
import { AT_KIND, AT_PREV_HASH, HASH_BYTES, MAX_PAYLOAD_BYTES } from '../core/format.ts'
import { encodeIndex } from '../storage/offset-index.ts'
import { ChunkShipper, type SealedUpload, type StreamProgress } from './chunk-shipper.ts'
import { checkConditionalWrites, openArchiveInfo } from './archive-store.ts'
import { type ArchiveHead, type ArchiveInfo, headKey, parseHead, parseSegmentMeta, type SegmentMeta, segmentIndexKey, segmentKey, segmentMetaKey, tailKey, toJson } from './layout.ts'
import { newGeneration, reachedArchiveStep, redactedLocally, sweepUnnamed, tombstoneTargets, tombstoneTargetsAt } from './archived-redaction.ts'
import { type ArchiveClientConfig, type ObjectAccess, ObjectStore } from './s3.ts'
import { ShipThread } from './ship-thread.ts'
import { uploadSegment } from './segment-upload.ts'
import { OffThreadSha256 } from './hash-worker.ts'
import type { ArchiverOptions, ArchiverStatus, ArchiveStreamStatus } from './types.ts'
import { recordHashAt } from './record-hash.ts'
import { shipDictionaries } from './dictionaries.ts'
import { TileFiles } from '../storage/tile-files.ts'
import { parseCheckpoint } from '../tlog/checkpoint.ts'
import { parseNote } from '../tlog/note.ts'

const DEFAULT_INTERVAL_MS = 1000
/** Longest wait between retries while the server keeps failing. */
const MAX_BACKOFF_MS = 30_000
/** Bit 7 of the kind byte: the record's append call continues after it (SPEC §2 batches). */
const BATCH_CONTINUES = 0x80

/** What the archiver knows of one stream's archive. */
interface StreamState {
  head: ArchiveHead | null
  /** ETag of HEAD.json as last read or written (null: there is none yet). */
  etag: string | null
  /** Whether HEAD was checked against the local chain (once per start). */
  resumed: boolean
  lastError: ChainlogError | null
  lastShipped: Date | null
  /** IDs of the zstd dictionaries shipped (or found shipped) since start. */
  dictionaries: Set<number>
  /** Objects HEAD does not name may be lying about (after a restart or a failed pass): swept after the next HEAD put. */
  sweep: boolean
  /** The stream's rewrite count when the pass began: a pass that fails while a redaction rewrote a file failed because of it. */
  rewrites: number
}

/** Ships a live store to S3-compatible object storage (README "Beyond one machine"); create one with `Archiver.start(log, options)`. */
export class Archiver {
  private readonly states = new Map<string, StreamState>()
  private chain: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | null = null
  private stopped = false
  private stopping: Promise<void> | null = null
  private fatal: ChainlogError | null = null
  private lastError: ChainlogError | null = null
  private failures = 0
  private readonly onAbort = () => void this.stop()

  private constructor(
    private readonly store: OpenStore,
    private readonly objects: ObjectAccess,
    private readonly uploadSealed: SealedUpload,
    private readonly info: ArchiveInfo,
    private readonly interval: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /**
   * Starts shipping `log` to `options.url` (`s3://bucket/prefix`). Checks first that the server
   * honours conditional writes (else ERR_UNSUPPORTED) and that the prefix holds this store's
   * archive or nothing. Shipping then runs every `interval` ms until stop() or `signal` aborts.
   */
  static async start(log: unknown, options: ArchiverOptions): Promise<Archiver> {
    const store = storeOf(log)
    if (store === undefined) throw new ChainlogError('ERR_INVALID_ARGUMENT', `log: expected an open Log, got ${describe(log)}`)
    if (store.isClosed()) throw new ChainlogError('ERR_CLOSED', 'the log is closed; expected an open log')
    if (typeof options !== 'object' || options === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `options: expected { url, client?, interval?, signal?, lowPriority? }, got ${describe(options)}`)
    const interval = options.interval ?? DEFAULT_INTERVAL_MS
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 10 || interval > 86_400_000) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `interval: expected milliseconds between 10 and 86400000, got ${describe(interval)}`)
    }
    const signal = options.signal
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `signal: expected an AbortSignal, got ${describe(signal)}`)
    const lowPriority = options.lowPriority ?? false
    if (typeof lowPriority !== 'boolean') throw new ChainlogError('ERR_INVALID_ARGUMENT', `lowPriority: expected a boolean, got ${describe(lowPriority)}`)
    const client = options.client as ArchiveClientConfig | undefined
    const objects = (store.ctx.storage.kind === 'disk' ? await ShipThread.open(options.url, client, lowPriority) : null) ?? (await ObjectStore.open(options.url, client))
    try {
      await checkConditionalWrites(objects)
      const info = await openArchiveInfo(objects, store.ctx.hash, store.ctx.options.tlog?.origin)
      const archiver = new Archiver(store, objects, sealedUpload(objects), info, interval, signal)
      if (signal?.aborted) await archiver.stop()
      else {
        signal?.addEventListener('abort', archiver.onAbort, { once: true })
        archiver.schedule(0)
      }
      return archiver
    } catch (err) {
      await objects.close()
      throw err
    }
  }

  /** Tests: the shipping thread (null when this archiver ships from its own thread). */
  get [Symbol.for('chainlog.archiver.shipThread')](): ShipThread | null {
    return this.objects instanceof ShipThread ? this.objects : null
  }

  /** The archive's identity (archive.json). */
  get archive(): Readonly<ArchiveInfo> {
    return this.info
  }

  /** Ships everything synced now and resolves when the archive's HEADs include it; rejects with what stopped it. */
  sync(): Promise<void> {
    if (this.fatal !== null) return Promise.reject(this.fatal)
    if (this.stopped) return Promise.reject(new ChainlogError('ERR_CLOSED', 'the archiver was stopped'))
    return this.runCycle(true)
  }

  /** Per stream: what the archive holds, how far behind it is, the last error; and whether shipping has stopped. */
  async status(): Promise<ArchiverStatus> {
    const streams: ArchiveStreamStatus[] = []
    if (!this.store.isClosed()) {
      for (const name of this.store.streamSet.namesWithData()) {
        const s = await this.store.streamSet.wake(name)
        if (s === undefined) continue
        const st = this.states.get(name)
        const shippedOffset = st?.head?.nextOffset ?? 0
        const shippedBytes = st?.head === null || st?.head === undefined ? 0 : archivedBytes(s, st.head)
        const localBytes = s.segments.reduce((n, seg) => n + seg.size, 0)
        streams.push({
          stream: name, shippedOffset, localOffset: s.nextOffset, lagRecords: s.nextOffset - shippedOffset, lagBytes: Math.max(0, localBytes - shippedBytes),
          lastShipped: st?.lastShipped ?? null, lastError: st?.lastError ?? null,
        })
      }
    }
    return { url: this.objects.url, running: !this.stopped, stoppedBy: this.fatal, lastError: this.lastError, streams }
  }

  /** Stops shipping (waits for the cycle in flight; ships nothing more). Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true
      this.signal?.removeEventListener('abort', this.onAbort)
      if (this.timer !== null) clearTimeout(this.timer)
      this.timer = null
      await this.chain.catch(() => {})
      await this.objects.close()
    })()
    return this.stopping
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.runCycle(false).then(
        () => this.schedule(this.interval),
        () => this.schedule(this.fatal !== null ? -1 : Math.min(MAX_BACKOFF_MS, this.interval * 2 ** Math.min(this.failures, 16))),
      )
    }, ms)
    this.timer.unref()
    if (ms < 0) this.stop()
  }

  /** One shipping pass after the ones queued; failures are counted for the backoff and kept for status(). */
  private runCycle(fromSync: boolean): Promise<void> {
    const run = this.chain.then(async () => {
      if (this.fatal !== null) throw this.fatal
      if (this.stopped && !fromSync) return
      try {
        await this.cycle()
        this.failures = 0
        this.lastError = null
      } catch (err) {
        const e = err instanceof ChainlogError ? err : new ChainlogError('ERR_IO', `archive ${this.objects.url}: ${(err as Error)?.message ?? err}`, { cause: err })
        this.failures++
        this.lastError = e
        if (e.code === 'ERR_ARCHIVE_CONFLICT' || e.code === 'ERR_CLOSED') {
          this.fatal = e
          this.stopped = true
        }
        throw e
      }
    })
    this.chain = run.catch(() => {})
    return run
  }

  private async cycle(): Promise<void> {
    if (this.store.isClosed()) throw new ChainlogError('ERR_CLOSED', 'the log was closed; the archiver stops')
    let first: ChainlogError | null = null
    for (const name of this.store.streamSet.namesWithData()) {
      const s = await this.store.streamSet.wake(name)
      if (s === undefined) continue
      let st = this.states.get(name)
      if (st === undefined) {
        st = { head: null, etag: null, resumed: false, lastError: null, lastShipped: null, dictionaries: new Set(), sweep: false, rewrites: s.rewrites }
        this.states.set(name, st)
      }
      try {
        await this.shipStream(s, st)
        st.lastError = null
      } catch (err) {
        let e = err instanceof ChainlogError ? err : new ChainlogError('ERR_IO', `stream ${name}: ${(err as Error)?.message ?? err}`, { cause: err, stream: name })
        // Reads that met a segment a redaction was rewriting: not damage, a pass to make again.
        if (s.rewrites !== st.rewrites && e.code !== 'ERR_ARCHIVE_CONFLICT') e = rewrittenDuringPass(name, e)
        st.lastError = e
        st.sweep = true
        if (e.code === 'ERR_ARCHIVE_CONFLICT') throw e
        first ??= e
      }
    }
    if (first !== null) throw first
  }

  private async shipStream(s: Stream, st: StreamState): Promise<void> {
    if (!st.resumed) await this.resume(s, st)
    const shipper = new ChunkShipper(this.objects, s.name, this.uploadSealed)
    // Dictionaries first, read before the synced end: every record shipped below finds its own.
    await shipDictionaries(this.store.ctx.storage, s.core, s.hash, s.name, s.dir, shipper, st.dictionaries)
    // A redaction rewriting a segment now (odd count): let it finish (its exclusive turn in the queue).
    if (s.rewrites % 2 === 1) await s.queue.exclusive(async () => {})
    const rewrites = s.rewrites
    st.rewrites = rewrites
    const end = s.syncedEnd()
    if (end === null) return
    const head = st.head
    let sealedCount = head?.sealed.length ?? 0
    let progress: StreamProgress | null = null
    // Redactions met in the bytes shipped (their tombstones' targets), and the sealed segments uploaded this pass.
    const targets: number[] = []
    const uploaded: number[] = []
    const generations: Record<string, string> = { ...head?.generations }
    let regenerated = false
    // Sealed segments, in order, each whole (its bytes were synced when it was sealed).
    const segments = s.segments.slice()
    for (const seg of segments) {
      if (seg === end.segment) break
      if (seg.num < sealedCount) continue
      if (seg.num !== sealedCount) {
        const why = s.pruned !== null && seg.num === s.pruned.firstSegment ? `segments ${sealedCount}..${seg.num - 1} were pruned locally before they were archived` : `segment ${seg.num} follows ${sealedCount - 1} with a gap`
        throw new ChainlogError('ERR_UNSUPPORTED', `stream ${s.name}: ${why}; the archive needs every segment from 0`, { stream: s.name })
      }
      uploaded.push(seg.num)
      const shipped = await this.shipSealed(s, seg, shipper).catch(async (err: unknown) => {
        if (!(err instanceof ChainlogError && err.code === 'ERR_ARCHIVE_CONFLICT') || !(await this.sameHistoryLeftover(s, seg))) throw err
        // Our own upload of these records from a pass whose HEAD never landed, before a redaction changed the file: a new generation.
        const gen = newGeneration((head?.seq ?? 0) + 1)
        generations[String(seg.num)] = gen
        regenerated = true
        return this.shipSealed(s, seg, shipper, gen)
      })
      progress = shipped.progress
      targets.push(...(await tombstoneTargetsAt(shipped.tombstones, (position, length) => s.readSegment(seg, position, length))))
      sealedCount = seg.num + 1
    }
    // The active segment's synced bytes since the last shipped position, up to a batch end.
    const active = end.segment
    let tail = head?.tail !== null && head?.tail?.num === active.num ? head.tail : null
    const from = tail?.end ?? 0
    // A redaction in the active segment (its records moved under the shipped tail, or a tombstone
    // naming a record there) re-ships the tail from 0 under a new generation: chunks are never
    // rewritten. The bytes not yet archived start where the record at HEAD's nextOffset now is.
    const unshipped = tail === null || active.num !== sealedCount ? from : await positionOf(s, active, head!.nextOffset)
    if (active.num === sealedCount && (end.size > unshipped || unshipped !== from)) {
      let reship = unshipped !== from
      let cut = await batchEnd(s, active, unshipped, end.size)
      if (cut !== null) targets.push(...tombstoneTargets(cut.bytes))
      reship ||= targets.some((t) => t >= active.firstOffset)
      await this.awaitRedacted(s, targets)
      if (reship) {
        cut = await batchEnd(s, active, 0, end.size)
        const gen = newGeneration((head?.seq ?? 0) + 1)
        if (cut !== null) {
          await shipper.putImmutable(tailKey(s.name, active.num, 0, cut.end, gen), cut.bytes, `bytes [0, ${cut.end}) of segment ${active.num}, generation ${gen}`)
          tail = { num: active.num, end: cut.end, gen }
          regenerated = true
        }
      } else if (cut !== null) {
        await shipper.putImmutable(tailKey(s.name, active.num, from, cut.end, tail?.gen), cut.bytes, `bytes [${from}, ${cut.end}) of segment ${active.num}`)
        tail = { num: active.num, end: cut.end, ...(tail?.gen === undefined ? {} : { gen: tail.gen }) }
      }
      if (cut !== null) progress = { nextOffset: cut.nextOffset, hash: cut.hash, lastTimestamp: cut.lastTimestamp }
    } else if (tail !== null && active.num !== tail.num) tail = null
    // Sealed segments archived before this pass that hold a redacted record: uploaded again under a new generation.
    await this.awaitRedacted(s, targets)
    const before = head?.sealed.length ?? 0
    const pruned = targets.find((t) => t < s.firstOffset)
    if (pruned !== undefined) throw new ChainlogError('ERR_UNSUPPORTED', `stream ${s.name}: offset ${pruned} was redacted, then pruned locally before the archive saw it; its archived copy keeps the payload (delete that segment's objects by hand)`, { stream: s.name, offset: pruned })
    for (const seg of new Set(targets.filter((t) => t < active.firstOffset).map((t) => s.segmentFor(t)))) {
      const num = seg.num
      if (num >= before) continue // uploaded this pass, from the redacted file
      const gen = newGeneration((head?.seq ?? 0) + 1)
      await this.shipSealed(s, seg, shipper, gen)
      generations[String(num)] = gen
      regenerated = true
    }
    if (regenerated) reachedArchiveStep('generation-uploaded')
    if (s.rewrites !== rewrites) {
      // A redaction rewrote a segment while this pass read it: what was uploaded may hold the old bytes.
      for (const num of uploaded) for (const key of [segmentKey(s.name, num), segmentMetaKey(s.name, num), segmentIndexKey(s.name, num)]) await this.objects.remove(key)
      throw rewrittenDuringPass(s.name, null)
    }
    const note = await publishedNoteWithin(s, progress?.nextOffset ?? head?.nextOffset ?? 0, head?.note)
    if (progress === null) {
      if (head === null || (note === head.note && !st.sweep && !regenerated)) return // nothing new
      // Only a newer note for records already archived: HEAD again, at the same place.
      progress = { nextOffset: head.nextOffset, hash: Buffer.from(head.hash, 'hex'), lastTimestamp: head.lastTimestamp }
      if (!regenerated) tail = head.tail
    }
    if (tail !== null && tail.num !== sealedCount) tail = null
    for (const num of Object.keys(generations)) if (Number(num) >= sealedCount) delete generations[num]
    const next: ArchiveHead = {
      storeId: this.info.storeId, nextOffset: progress.nextOffset, hash: progress.hash.toString('hex'), sealed: Array.from({ length: sealedCount }, (_, i) => i),
      tail, ...(Object.keys(generations).length === 0 ? {} : { generations }), lastTimestamp: progress.lastTimestamp, ...(note === undefined ? {} : { note }), seq: (head?.seq ?? 0) + 1,
    }
    const etag = await this.objects.put(headKey(s.name), toJson(next), st.etag === null ? { ifNoneMatch: true } : { ifMatch: st.etag })
    if (etag === null) {
      throw new ChainlogError('ERR_ARCHIVE_CONFLICT', `stream ${s.name}: ${this.objects.url}/${headKey(s.name)} was changed by another writer since this archiver read it (seq ${head?.seq ?? 'none'}); shipping stops, nothing was overwritten`, { stream: s.name, offset: head?.nextOffset ?? 0 })
    }
    st.head = next
    st.etag = etag
    st.lastShipped = new Date()
    noteArchived(s, sealedCount)
    if (regenerated) reachedArchiveStep('head-written')
    // Now that HEAD names what replaces them: tail chunks of segments now sealed, generations a
    // redaction replaced, leftovers of a pass cut short. (Only after our own HEAD put: before it,
    // an upload of a racing writer could be taken for a leftover.)
    if (st.sweep || regenerated || sealedCount > before) {
      await sweepUnnamed(this.objects, s.name, next)
      st.sweep = false
    }
  }

  /**
   * Whether the object under segment `seg`'s original keys, past HEAD and holding other bytes, is
   * a leftover of these same records (its metadata missing: an upload never finished; or naming
   * the same offsets and chain hashes: the bytes differ by a redaction only). Otherwise it is a fork.
   */
  private async sameHistoryLeftover(s: Stream, seg: Segment): Promise<boolean> {
    const found = await this.objects.get(segmentMetaKey(s.name, seg.num))
    if (found === null) return true
    let meta: SegmentMeta
    try {
      meta = parseSegmentMeta(found.body, segmentMetaKey(s.name, seg.num), seg.num)
    } catch {
      return false
    }
    const last = await s.lastRecordOf(seg)
    const first = await s.readSegment(seg, AT_PREV_HASH, HASH_BYTES)
    return meta.firstOffset === seg.firstOffset && meta.nextOffset === seg.nextOffset && meta.lastHash === last.hash.toString('hex') && meta.firstPrevHash === first.toString('hex')
  }

  /**
   * Waits until the local copies of the redacted records are rewritten (form 3): a tombstone is
   * synced before its redaction rewrites the segment, and shipping the old bytes would put the
   * payload in the bucket. The redaction runs in the stream's queue: its turn ends when it is done.
   */
  private async awaitRedacted(s: Stream, targets: number[]): Promise<void> {
    for (const t of targets) {
      if (t < s.firstOffset || (await redactedLocally(s, t))) continue
      await s.queue.exclusive(async () => {})
      if (!(await redactedLocally(s, t))) {
        throw new ChainlogError('ERR_IO', `stream ${s.name}: the redaction of offset ${t} is not finished locally (a writable open finishes it); the archive waits for it`, { stream: s.name, offset: t })
      }
    }
  }

  /** Ships one sealed segment (bytes, index, metadata); its chain position for HEAD, and its tombstones. */
  private async shipSealed(s: Stream, seg: Segment, shipper: ChunkShipper, gen?: string): Promise<{ progress: StreamProgress; tombstones: number[] }> {
    const index = await s.indexOf(seg)
    const last = await s.lastRecordOf(seg)
    // Its tombstones are noted as its bytes stream out (a redaction it records may be in an older
    // segment). A copy of the positions: it may be moved to the shipping thread.
    const recordStarts = Float64Array.from(index.slice(0, index.length))
    const read = (position: number, length: number) => s.readSegment(seg, position, length)
    return shipper.shipSegment(seg, read, recordStarts, encodeIndex(index, (d) => s.core.crc32(d)), last, gen)
  }

  /**
   * Reads HEAD and checks that this store may extend it: same archive, and HEAD's (nextOffset,
   * hash) on the local chain. Otherwise ERR_ARCHIVE_CONFLICT (this store diverged from the
   * archive, or is behind it).
   */
  private async resume(s: Stream, st: StreamState): Promise<void> {
    const found = await this.objects.get(headKey(s.name))
    if (found === null) {
      st.head = null
      st.etag = null
      st.resumed = true
      return
    }
    const head = parseHead(found.body, `${this.objects.url}/${headKey(s.name)}`)
    const conflict = (why: string) =>
      new ChainlogError('ERR_ARCHIVE_CONFLICT', `stream ${s.name}: ${why}; shipping stops, nothing was overwritten`, { stream: s.name, offset: head.nextOffset })
    if (head.storeId !== this.info.storeId) throw conflict(`HEAD belongs to store ${head.storeId}, the archive is ${this.info.storeId}`)
    if (head.nextOffset > s.nextOffset) throw conflict(`the archive holds offsets up to ${head.nextOffset}, this store only up to ${s.nextOffset} (a store restored to an earlier point, or another writer)`)
    if (head.nextOffset > 0 && head.nextOffset - 1 < s.firstOffset) {
      // HEAD ends where the local store was pruned: its chain end is the last pruned record's hash, or unknown here.
      if (head.nextOffset !== s.firstOffset) throw new ChainlogError('ERR_UNSUPPORTED', `stream ${s.name}: the archive holds offsets up to ${head.nextOffset}, this store was pruned to ${s.firstOffset}: the records between are in neither`, { stream: s.name, offset: head.nextOffset })
      if (s.pruned!.prevHash.toString('hex') !== head.hash) throw conflict(`the archive's chain at offset ${head.nextOffset - 1} is ${head.hash.slice(0, 16)}…, this store's pruned.json says ${s.pruned!.prevHash.toString('hex').slice(0, 16)}… (the histories diverged)`)
    } else if (head.nextOffset > 0) {
      const local = await recordHashAt(s, head.nextOffset - 1)
      if (local.toString('hex') !== head.hash) throw conflict(`the archive's chain at offset ${head.nextOffset - 1} is ${head.hash.slice(0, 16)}…, this store's is ${local.toString('hex').slice(0, 16)}… (the histories diverged)`)
    }
    st.head = head
    st.etag = found.etag
    st.resumed = true
    st.sweep = true // a pass cut short before may have left objects HEAD does not name
    noteArchived(s, head.sealed.length)
  }
}

/** How sealed segments upload: from their files on the shipping thread, or read and sent from this one. */
function sealedUpload(objects: ObjectAccess): SealedUpload {
  if (objects instanceof ShipThread) {
    return async (key, seg, recordStarts, read) => {
      try {
        return await objects.uploadFile(key, seg.path, seg.size, recordStarts)
      } catch (err) {
        // A read-only log whose writer pruned the segment: the engine's own read says so (ERR_PRUNED).
        if (err instanceof ChainlogError && err.details.errno === 'ENOENT') await read(0, 1)
        throw err
      }
    }
  }
  const store = objects as ObjectStore
  return (key, seg, recordStarts, read) => uploadSegment(store, key, seg.size, read, recordStarts, () => new OffThreadSha256())
}

/**
 * Tells the stream which of its segments the archive holds (its HEAD's sealed list): the
 * `retention` option's requireArchived may drop those; its policy runs again now that more are there.
 */
function noteArchived(s: Stream, sealedCount: number): void {
  if (sealedCount <= s.archivedSegments) return
  s.archivedSegments = sealedCount
  s.ctx.afterRotation?.(s.name)
}

function rewrittenDuringPass(stream: string, cause: ChainlogError | null): ChainlogError {
  return new ChainlogError('ERR_IO', `stream ${stream}: a redaction rewrote a segment during the shipping pass${cause === null ? '' : ` (${cause.message})`}; the next pass ships it again`, { stream, cause })
}

/**
 * Where the record at `nextOffset` starts in the active segment now (its size when past the last
 * record). Unequal to the shipped tail's end when a redaction there stored a record in another size.
 */
async function positionOf(s: Stream, active: Segment, nextOffset: number): Promise<number> {
  const index = await s.indexOf(active)
  const i = nextOffset - active.firstOffset
  return i < index.length ? index.at(i) : active.size
}

/** Bytes of the local stream that HEAD covers (for the lag in bytes). */
function archivedBytes(s: Stream, head: ArchiveHead): number {
  let n = 0
  for (const seg of s.segments) if (seg.num < head.sealed.length) n += seg.size
  return n + (head.tail?.end ?? 0)
}

/**
 * The note HEAD carries (SPEC §10): the stream's published `<stream>/checkpoint` when its tree
 * covers only archived records (size ≤ nextOffset), else the one HEAD had (a note published for
 * records not yet shipped waits for them). A note that does not parse is not shipped.
 */
async function publishedNoteWithin(s: Stream, nextOffset: number, previous: string | undefined): Promise<string | undefined> {
  const text = await new TileFiles(s.ctx.storage, s.dir).readPublished()
  if (text === null || text === previous) return previous
  try {
    return parseCheckpoint(parseNote(text).text).size <= nextOffset ? text : previous
  } catch {
    return previous
  }
}

/**
 * The bytes [from, end) of the active segment cut back to the last record that ends a batch
 * (bit 7 clear), with that record's chain hash; null when no batch ends in the range.
 */
async function batchEnd(s: Stream, seg: Segment, from: number, end: number): Promise<{ bytes: Buffer; end: number; nextOffset: number; hash: Buffer; lastTimestamp: number } | null> {
  const index = await s.indexOf(seg)
  // Records wholly before `end`: end is a commit boundary, so it is a record's start or the segment's size.
  let lo = 0
  let hi = index.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (index.at(mid) < end) lo = mid + 1
    else hi = mid
  }
  const bytes = await s.readSegment(seg, from, end - from)
  let last = lo - 1
  let cutEnd = end
  while (last >= 0 && index.at(last) >= from && (bytes[index.at(last) - from + AT_KIND] & BATCH_CONTINUES) !== 0) {
    cutEnd = index.at(last)
    last--
  }
  if (last < 0 || index.at(last) < from) return null
  const position = index.at(last)
  const d = await s.core.decodeRecordsAsync({
    hash: s.hash, stream: s.name, data: bytes.subarray(position - from, cutEnd - from), basePosition: position, positions: Float64Array.of(position),
    expectPrevHash: null, payloadsFrom: 1, maxPayloadBytes: MAX_PAYLOAD_BYTES,
  })
  return { bytes: bytes.subarray(0, cutEnd - from), end: cutEnd, nextOffset: seg.firstOffset + last + 1, hash: Buffer.from(d.hashes.subarray(0, 32)), lastTimestamp: d.timestamps[0] }
}
