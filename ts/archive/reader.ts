/**
 * ArchiveReader (SPEC §10): reads and verifies an archive straight from the bucket, with no local
 * copy. iterate() and verify() walk a stream's objects through the core's scan with the chain
 * checked, streamed a bounded piece at a time (remote-stream.ts); get() fetches one record with ranged GETs through the archived
 * offset index, framing and CRC checked and its link: its prev_hash is the hash of the record
 * before it (fetched in the same GET), or for a segment's first record the previous segment's
 * last hash by their metadata. One GET cannot prove the record lies on HEAD's chain (that needs
 * every record from offset 0, or a signed tree head and an inclusion proof): that is verify()'s job.
 */
import { ChainlogError, describe } from '../errors.ts'
import type { ChainlogCore, HashAlgorithm } from '../core/interface.ts'
import { FORM_REDACTED, KIND_CHECKPOINT, KIND_TOMBSTONE } from '../core/interface.ts'
import { MAX_PAYLOAD_BYTES, ZERO_HASH } from '../core/format.ts'
import { loadCore } from '../core/load.ts'
import { decodeIndex } from '../storage/offset-index.ts'
import { streamName } from '../storage/stream-name.ts'
import type { LogRecord, VerifyReport, StreamReport } from '../types.ts'
import { readArchiveInfo } from './archive-store.ts'
import { type ArchiveHead, parseSegmentMeta, sealedGeneration, type SegmentMeta, segmentIndexKey, segmentKey, segmentMetaKey } from './layout.ts'
import { archivedStreams, readHead, type StreamWalk, walkStream } from './remote-stream.ts'
import { loadArchivedDictionaries } from './dictionaries.ts'
import { ObjectStore } from './s3.ts'
import type { ArchiveHeadInfo, ArchiveReaderOptions, ArchiveVerifyOptions } from './types.ts'
import { ArchivedNoteCheck } from './note-check.ts'
import { parseVerifierKey } from '../tlog/note.ts'

const KIND_MASK = 0x7f

/** Reads and verifies an archive straight from the bucket; create one with `ArchiveReader.open(url, options)`, close() when done. */
export class ArchiveReader {
  private readonly metas = new Map<string, SegmentMeta>()
  private readonly dictionaryReleases = new Map<string, () => void>()

  private constructor(
    private readonly objects: ObjectStore,
    private readonly core: ChainlogCore,
    private readonly hash: HashAlgorithm,
    /** The origin archive.json records (signed notes must be `<origin>/<stream>`), if any. */
    private readonly origin: string | undefined,
  ) {}

  /** Opens the archive at `url` (`s3://bucket/prefix`) for reading; close() when done. */
  static async open(url: string, options: ArchiveReaderOptions = {}): Promise<ArchiveReader> {
    if (typeof options !== 'object' || options === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `options: expected an object, got ${describe(options)}`)
    const core = await loadCore(options.backend ?? 'auto')
    const objects = await ObjectStore.open(url, options.client)
    try {
      const info = await readArchiveInfo(objects)
      return new ArchiveReader(objects, core, info.hash, info.origin)
    } catch (err) {
      objects.close()
      throw err
    }
  }

  /** The archived streams' names. */
  streams(): Promise<string[]> {
    return archivedStreams(this.objects)
  }

  /** A stream's HEAD.json: what the archive holds of it. */
  async head(stream: string | number): Promise<ArchiveHeadInfo> {
    const { head } = await readHead(this.objects, streamName(stream))
    const out: ArchiveHeadInfo = { nextOffset: head.nextOffset, hash: Buffer.from(head.hash, 'hex'), sealedSegments: head.sealed.length, tail: head.tail, lastTimestamp: head.lastTimestamp, seq: head.seq }
    if (head.note !== undefined) out.note = head.note
    return out
  }

  /**
   * Data records from `from` on, downloaded and decoded a bounded piece at a time (never a whole
   * segment), with the whole chain checked from offset 0: a record is yielded once the chain up to
   * it checks; damage found later in the stream (or a segment whose SHA-256 differs from its
   * metadata) throws at that point.
   */
  async *iterate(stream: string | number, options: { from?: number } = {}): AsyncGenerator<LogRecord> {
    const name = streamName(stream)
    const from = options.from ?? 0
    if (!Number.isSafeInteger(from) || from < 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `from: expected a non-negative integer, got ${describe(from)}`)
    const walk = await walkStream(this.objects, this.core, this.hash, name)
    try {
      yield* this.records(name, walk, from)
    } finally {
      walk.release()
    }
  }

  private async *records(name: string, walk: StreamWalk, from: number): AsyncGenerator<LogRecord> {
    for await (const piece of walk.pieces) {
      const r = piece.scan
      if (r.count === 0 || r.offsets[r.count - 1] < from) continue
      const d = await this.core.decodeRecordsAsync({
        hash: this.hash, stream: name, data: piece.bytes, basePosition: piece.position, positions: r.positions.subarray(0, r.count), expectPrevHash: null, payloadsFrom: 0, maxPayloadBytes: MAX_PAYLOAD_BYTES,
      })
      for (let i = 0; i < d.count; i++) {
        const kind = d.kinds[i] & KIND_MASK
        if (kind === KIND_CHECKPOINT || d.offsets[i] < from) continue
        const record: LogRecord = {
          offset: d.offsets[i], timestamp: d.timestamps[i], kind: kind === KIND_TOMBSTONE ? 'tombstone' : 'data',
          payload: Buffer.from(d.payloads.subarray(i === 0 ? 0 : d.payloadEnds[i - 1], d.payloadEnds[i])),
          hash: Buffer.from(d.hashes.subarray(i * 32, i * 32 + 32)), prevHash: Buffer.from(d.prevHashes.subarray(i * 32, i * 32 + 32)),
        }
        if (d.forms[i] === FORM_REDACTED) record.redacted = true
        yield record
      }
    }
  }

  /**
   * The data record at `offset` (undefined past HEAD or where a checkpoint sits): in a sealed
   * segment, two small ranged GETs through the archived index (the record and the one before it,
   * whose hash its prev_hash must be: else ERR_CHAIN_BROKEN); in the tail, the tail's bytes with
   * the chain checked from offset 0.
   */
  async get(stream: string | number, offset: number): Promise<LogRecord | undefined> {
    const name = streamName(stream)
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `offset: expected a non-negative integer, got ${describe(offset)}`)
    const { head } = await readHead(this.objects, name)
    if (offset >= head.nextOffset) return undefined
    // Binary search over the sealed segments' metadata (fetched once each, then cached).
    let lo = 0
    let hi = head.sealed.length - 1
    let found: SegmentMeta | null = null
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const meta = await this.meta(name, head, mid)
      if (offset < meta.firstOffset) hi = mid - 1
      else if (offset >= meta.nextOffset) lo = mid + 1
      else {
        found = meta
        break
      }
    }
    if (found === null) {
      for await (const r of this.iterate(name, { from: offset })) return r.offset === offset ? r : undefined
      return undefined
    }
    await this.loadDictionaries(name)
    const gen = sealedGeneration(head, found.num)
    const idx = await this.objects.get(segmentIndexKey(name, found.num, gen))
    const check = idx === null ? null : decodeIndex(idx.body, found.size, (d) => this.core.crc32(d))
    if (check === null || !check.ok || check.positions.length !== found.nextOffset - found.firstOffset) {
      throw new ChainlogError('ERR_CORRUPT', `${this.objects.url}: stream ${name}: the index of segment ${found.num} is ${check === null ? 'missing' : check.ok ? 'short' : `bad (${check.reason})`}`, { stream: name, offset, segment: found.num })
    }
    const entry = offset - found.firstOffset
    const start = check.positions.at(entry)
    const end = entry + 1 < check.positions.length ? check.positions.at(entry + 1) : found.size
    // The record and the one before it in one ranged GET, so the link between them is checked.
    const from = entry > 0 ? check.positions.at(entry - 1) : start
    const part = await this.objects.get(segmentKey(name, found.num, gen), { start: from, end })
    const corrupt = (why: string) => new ChainlogError('ERR_CORRUPT', `${this.objects.url}: stream ${name}: ${why}`, { stream: name, offset, segment: found.num })
    if (part === null || part.body.length !== end - from) throw corrupt(`segment ${found.num} is missing or short at byte ${from}`)
    const decode = (position: number) => this.core.decodeOne({ hash: this.hash, stream: name, data: part.body, basePosition: from, position, expectPrevHash: null, maxPayloadBytes: MAX_PAYLOAD_BYTES })
    const r = decode(start)
    if (r.offset !== offset) throw corrupt(`the index of segment ${found.num} points offset ${offset} at a record with offset ${r.offset}`)
    const linkTo = entry > 0 ? decode(from).hash : await this.prevHashOfSegment(name, head, found)
    if (!r.prevHash.equals(linkTo)) {
      throw new ChainlogError('ERR_CHAIN_BROKEN', `${this.objects.url}: stream ${name} at offset ${offset}: the record's prev_hash ${r.prevHash.toString('hex').slice(0, 16)}… is not the hash of the record before it (${linkTo.toString('hex').slice(0, 16)}…)`, { stream: name, offset, segment: found.num })
    }
    if ((r.kind & KIND_MASK) === KIND_CHECKPOINT) return undefined
    const record: LogRecord = { offset, timestamp: r.timestamp, kind: (r.kind & KIND_MASK) === KIND_TOMBSTONE ? 'tombstone' : 'data', payload: r.payload, hash: r.hash, prevHash: r.prevHash }
    if (r.form === FORM_REDACTED) record.redacted = true
    return record
  }

  /**
   * Checks every archived stream (or one) from offset 0 to HEAD; never throws on damage: problems
   * are listed per stream with their offset. When HEAD carries a signed note, the archived records
   * must give its tree root; with `keys` (verifier keys), the note must also be signed by one of
   * them under the archive's origin.
   */
  async verify(stream?: string | number, options: ArchiveVerifyOptions = {}): Promise<VerifyReport> {
    if (typeof options !== 'object' || options === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `options: expected { onProgress?, keys? }, got ${describe(options)}`)
    const keys = options.keys ?? []
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new ChainlogError('ERR_INVALID_ARGUMENT', `keys: expected an array of verifier keys, got ${describe(keys)}`)
    for (const k of keys) {
      try {
        parseVerifierKey(k)
      } catch (err) {
        throw new ChainlogError('ERR_INVALID_ARGUMENT', `keys: ${JSON.stringify(k.slice(0, 80))} is not a verifier key (${(err as Error).message})`)
      }
    }
    const names = stream === undefined ? await this.streams() : [streamName(stream)]
    const reports: StreamReport[] = []
    const walks = []
    for (const name of names) {
      try {
        walks.push({ name, walk: await walkStream(this.objects, this.core, this.hash, name), error: null })
      } catch (err) {
        walks.push({ name, walk: null, error: err })
      }
    }
    const bytesTotal = walks.reduce((n, w) => n + (w.walk?.bytesTotal ?? 0), 0)
    let bytesDone = 0
    for (const { name, walk, error } of walks) {
      const report: StreamReport = { stream: name, records: 0, events: 0, checkpoints: 0, head: { nextOffset: 0, hash: Buffer.alloc(32) }, problems: [] }
      let err = error
      const note = walk?.head.note === undefined ? null : ArchivedNoteCheck.open(walk.head.note, name, keys, this.origin)
      if (note !== null && !(note instanceof ArchivedNoteCheck)) report.problems.push(note)
      if (walk !== null) {
        try {
          for await (const piece of walk.pieces) {
            const r = piece.scan
            if (note instanceof ArchivedNoteCheck) await note.feed(this.core, this.hash, name, piece.bytes, piece.position, r)
            report.records += r.count
            for (let i = 0; i < r.count; i++) if ((r.kinds[i] & KIND_MASK) === KIND_CHECKPOINT) report.checkpoints++
            report.head = { nextOffset: r.nextOffset ?? report.head.nextOffset, hash: r.lastHash ?? report.head.hash }
            bytesDone += piece.bytes.length
            options.onProgress?.({ bytesDone: Math.min(bytesDone, bytesTotal), bytesTotal })
          }
        } catch (e) {
          err = e
        }
      }
      walk?.release()
      if (err !== null) {
        if (!(err instanceof ChainlogError) || (err.code !== 'ERR_CORRUPT' && err.code !== 'ERR_CHAIN_BROKEN')) throw err
        report.problems.push({ offset: (err.details.offset as number | undefined) ?? report.head.nextOffset, code: err.code, message: err.message })
      } else if (note instanceof ArchivedNoteCheck) {
        const problem = note.finish(name)
        if (problem !== null) report.problems.push(problem)
      }
      report.events = report.records - report.checkpoints
      reports.push(report)
    }
    return { ok: reports.every((r) => r.problems.length === 0), streams: reports }
  }

  /** Releases the S3 client's connections and the dictionaries get() loaded. */
  close(): void {
    for (const release of this.dictionaryReleases.values()) release()
    this.dictionaryReleases.clear()
    this.objects.close()
  }

  /** get() decodes form-4 records: the stream's archived dictionaries, loaded once per reader. */
  private async loadDictionaries(stream: string): Promise<void> {
    if (this.dictionaryReleases.has(stream)) return
    const { release } = await loadArchivedDictionaries(this.objects, this.core, this.hash, stream)
    this.dictionaryReleases.set(stream, release)
  }

  /**
   * What a segment's first record must link to: the previous segment's last hash (from its
   * metadata, which must agree with this one's firstPrevHash), zeros for segment 0.
   */
  private async prevHashOfSegment(stream: string, head: ArchiveHead, meta: SegmentMeta): Promise<Buffer> {
    const expected = meta.num === 0 ? ZERO_HASH : Buffer.from((await this.meta(stream, head, meta.num - 1)).lastHash, 'hex')
    if (meta.firstPrevHash !== expected.toString('hex')) {
      throw new ChainlogError('ERR_CHAIN_BROKEN', `${this.objects.url}: stream ${stream} at offset ${meta.firstOffset}: segment ${meta.num}'s metadata links to ${meta.firstPrevHash.slice(0, 16)}…, the segment before it ends at ${expected.toString('hex').slice(0, 16)}…`, { stream, offset: meta.firstOffset, segment: meta.num })
    }
    return expected
  }

  /** Segment metadata under the generation HEAD names (cached by key: a new generation is a new key). */
  private async meta(stream: string, head: ArchiveHead, num: number): Promise<SegmentMeta> {
    const key = segmentMetaKey(stream, num, sealedGeneration(head, num))
    const cached = this.metas.get(key)
    if (cached !== undefined) return cached
    const o = await this.objects.get(key)
    if (o === null) throw new ChainlogError('ERR_CORRUPT', `${this.objects.url}: stream ${stream}: ${key}, listed by HEAD, is missing`, { stream })
    const meta = parseSegmentMeta(o.body, `${this.objects.url}/${key}`, num)
    this.metas.set(key, meta)
    return meta
  }
}
