/**
 * Full verification of a stream (SPEC §3 "verify", §9): every segment scanned in bounded chunks
 * with the chain checked (framing and CRC, offsets contiguous from 0, prev links, checkpoint
 * payloads), plus agreement of the offset indexes and the manifest with the data. Problems are
 * collected, not thrown, and every problem is reported, not only the first: after damage the
 * scan goes on and keeps checking what follows.
 *
 * How the scan goes on after a bad record (one damaged record is one problem at its offset):
 *
 * | what stopped the scan                               | where it resumes                                 |
 * |-----------------------------------------------------|--------------------------------------------------|
 * | bad framing (START, CRC, END, length) at P          | the next valid record after P (the bytes between are the damage) |
 * | a whole record breaking a rule (offset, timestamp,  | the same record, taken as found (its offset and link unchecked): |
 * |   link, checkpoint payload, payload form)           |   the damage may be the record before it, or a gap |
 * | the same record again, taken as found               | the record after it (the record itself is damaged) |
 * | bad bytes up to the end (nothing valid after them)  | nowhere: the segment's damage runs to its end    |
 *
 * A stop at the record where the scan resumed, or at the one after it, belongs to the damage
 * already reported (a record whose own prev_hash or offset was changed also breaks its
 * successor's link or offset): it is not a new problem. Records are counted by what the files
 * hold: every valid record, before and after damage.
 */
import { FORM_REDACTED, KIND_BATCH_CONTINUES, KIND_CHECKPOINT, KIND_DATA, KIND_TOMBSTONE } from '../core/interface.ts'
import { HEADER_BYTES, RECORD_OVERHEAD, ZERO_HASH } from '../core/format.ts'
import type { Segment } from '../engine/segment.ts'
import type { Stream } from '../engine/stream.ts'
import { manifestOf, readManifest } from '../storage/manifest.ts'
import { loadIndex, PositionList } from '../storage/offset-index.ts'
import { scanRange, type RangeScan } from '../storage/segment-scan.ts'
import { segmentFileName, withSegmentReader } from '../storage/segment-file.ts'
import type { StorageFile } from '../storage/storage.ts'
import type { StreamReport, VerifyProblem } from '../types.ts'
import { dictionaryProblems } from '../engine/dictionary.ts'
import { PRUNED_FILE, readPruned } from '../storage/pruned-file.ts'
import { checkpointNote } from '../engine/checkpoint.ts'

/** Problems reported per stream before verify stops listing them. */
const MAX_PROBLEMS_PER_STREAM = 100
/** Kind bits of the kind byte (bit 7 is a flag, SPEC §2). */
const KIND_MASK = 0x7f
/** Byte of the header where the stored payload length L starts (SPEC §2). */
const LENGTH_AT = 54
/** Byte of the header holding the stored payload form. */
const FORM_AT = 53

export interface VerifyProgress {
  add(bytes: number): void
}

/** Bytes verify will read for a stream (for progress totals). */
export function bytesToVerify(s: Stream): number {
  return s.segments.reduce((n, seg) => n + seg.size, 0)
}

/** What the next record must be; null fields are unknown (after damage) and not checked. */
interface Expectation {
  offset: number | null
  hash: Buffer | null
  timestamp: number | null
}

const UNKNOWN: Expectation = { offset: null, hash: null, timestamp: null }

/** Problems of one stream, at most MAX_PROBLEMS_PER_STREAM. */
class Problems {
  readonly list: VerifyProblem[] = []
  add(p: VerifyProblem): void {
    if (this.list.length < MAX_PROBLEMS_PER_STREAM) this.list.push(p)
  }
  get full(): boolean {
    return this.list.length >= MAX_PROBLEMS_PER_STREAM
  }
}

/** The valid records found in one segment (in file order) and the byte ranges judged damaged. */
interface SegmentContents {
  positions: number[]
  offsets: number[]
  /** Kind byte of the last valid record (-1: none). */
  lastKind: number
  damaged: Array<[start: number, end: number]>
}

/** A signed note found after the 40 bytes of a checkpoint's payload (SPEC §2), for the tree check. */
export interface EmbeddedNote {
  offset: number
  text: Buffer
}

/** Verifies one stream; the notes its checkpoint records carry are added to `notes` (verify-tree.ts checks them). */
export async function verifyStream(s: Stream, progress: VerifyProgress, notes: EmbeddedNote[] = []): Promise<StreamReport> {
  const problems = new Problems()
  const tally = { records: 0, events: 0, checkpoints: 0 }
  // A pruned stream is checked from its first kept record, which must link to pruned.json's prevHash.
  const pruned = s.pruned
  let expect: Expectation = pruned === null ? { offset: 0, hash: ZERO_HASH, timestamp: null } : { offset: pruned.firstOffset, hash: pruned.prevHash, timestamp: pruned.prevTimestamp }
  /** The last valid record found: the head as the files hold it. */
  let last: { nextOffset: number; hash: Buffer | null } = pruned === null ? { nextOffset: 0, hash: ZERO_HASH } : { nextOffset: pruned.firstOffset, hash: pruned.prevHash }
  for (const message of await prunedFileProblems(s)) problems.add({ offset: s.firstOffset, code: 'ERR_CORRUPT', message })
  /** Records checked since the scan last resumed after damage (null: it has not). */
  const resume = { sinceResume: null as number | null }
  const segments = [...s.segments]
  // Sizes as committed now: appends made while verify runs are not part of this report.
  const sizes = segments.map((seg) => seg.size)
  const nextOffsets = segments.map((seg) => seg.nextOffset)
  const redactions = new Redactions()

  for (const [n, seg] of segments.entries()) {
    if (problems.full) break
    const before = problems.list.length
    if (expect.offset !== null && seg.firstOffset !== expect.offset) {
      problems.add({ offset: expect.offset, code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} starts at offset ${seg.firstOffset}, expected ${expect.offset}` })
      expect = UNKNOWN // reported once here, not again at its first record
    }
    const isActive = n === segments.length - 1
    const contents: SegmentContents = { positions: [], offsets: [], lastKind: -1, damaged: [] }
    let done = 0
    await withSegmentReader(s.ctx.storage, seg.path, async (handle) => {
      const onDisk = await handle.size()
      const size = sizes[n]
      if (onDisk < size) {
        problems.add({ offset: null, code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} is ${onDisk} bytes, expected ${size}` })
      } else if (!isActive && onDisk > size) {
        problems.add({ offset: nextOffsets[n], code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} has ${onDisk - size} bytes after its last record` })
      }
      // A damaged stream takes no appends: check all of its bytes, not only those before the damage.
      const end = isActive && s.corrupt !== null ? onDisk : Math.min(size, onDisk)
      const scan = await scanSegmentFile(s, seg, handle, end, expect, resume, contents, problems, tally, (pos) => {
        progress.add(pos - done)
        done = Math.max(done, pos)
      }, redactions, notes)
      expect = scan.expect
      if (scan.last !== null) last = scan.last
    })
    progress.add(sizes[n] - done)
    const expected = nextOffsets[n] - seg.firstOffset
    if (problems.list.length === before && contents.offsets.length !== expected) {
      problems.add({ offset: seg.firstOffset + contents.offsets.length, code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} holds ${contents.offsets.length} valid records, expected ${expected}` })
    }
    if (!isActive && contents.lastKind >= 0 && (contents.lastKind & KIND_BATCH_CONTINUES) !== 0 && contents.offsets.length > 0) {
      // SPEC §2: a batch never spans segments, so a sealed segment ends at a batch's last record.
      const offset = contents.offsets[contents.offsets.length - 1]
      problems.add({ offset, code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} is sealed but its last record (offset ${offset}) has bit 7 set: a batch continues past the segment's end` })
    }
    await checkIndex(s, seg, contents, isActive, sizes[n], problems)
  }
  for (const p of redactions.problems()) problems.add(p)
  if (s.corrupt === null) await checkManifest(s, segments, problems) // else it disagrees with the damage by design
  for (const message of await dictionaryProblems(s.ctx, s.dir)) problems.add({ offset: null, code: 'ERR_CORRUPT', message })
  const head = { nextOffset: last.nextOffset, hash: last.hash ?? s.headHash }
  if (problems.list.length === 0 && last.nextOffset === s.nextOffset && last.hash !== null && !last.hash.equals(s.headHash)) {
    problems.add({ offset: s.nextOffset, code: 'ERR_CHAIN_BROKEN', message: `the chain ends in ${last.hash.toString('hex')}, the stream's head is ${s.headHash.toString('hex')}` })
  }
  if (s.corrupt !== null && problems.list.length === 0) {
    problems.add({ offset: s.corrupt.offset, code: s.corrupt.code, message: s.corrupt.reason })
  }
  const report: StreamReport = { stream: s.name, records: tally.records, events: tally.events, checkpoints: tally.checkpoints, head, problems: problems.list }
  if (pruned !== null) report.firstOffset = pruned.firstOffset
  return report
}

/** pruned.json on disk must still say what the stream was opened with (it is the only record of the pruned chain's end). */
async function prunedFileProblems(s: Stream): Promise<string[]> {
  const onDisk = await readPruned(s.ctx.storage, s.dir)
  const want = s.pruned
  if (onDisk.problem !== null) return [onDisk.problem]
  const got = onDisk.state
  if (want === null) return got === null ? [] : [`${PRUNED_FILE} appeared after the stream was opened (it says the stream starts at ${got.firstOffset})`]
  if (got === null) return [`${PRUNED_FILE} is missing: the stream was pruned to offset ${want.firstOffset}; without it the missing segments cannot be told from a loss`]
  const same = got.firstOffset === want.firstOffset && got.firstSegment === want.firstSegment && got.prevHash.equals(want.prevHash) && got.prevTimestamp === want.prevTimestamp
  return same ? [] : [`${PRUNED_FILE} changed since the stream was opened (it now says offset ${got.firstOffset}, segment ${got.firstSegment}, prevHash ${got.prevHash.toString('hex')})`]
}

/**
 * Redactions as the files show them (SPEC §9): every record stored in form 3 must be named by a
 * tombstone (else someone erased a payload and hid it), and every tombstone's record must be in
 * form 3 (else the redaction it records was not finished: a writable open finishes it).
 */
class Redactions {
  private readonly redacted = new Set<number>()
  /** Redacted offset → the tombstone naming it. */
  private readonly named = new Map<number, number>()
  /** The lowest offset scanned: a tombstone may name a record below it (pruned since). */
  private first = Infinity

  /** The record at `offset` (`at` within `data`) was scanned whole. */
  note(offset: number, kind: number, data: Buffer, at: number): void {
    this.first = Math.min(this.first, offset)
    if (data[at + FORM_AT] === FORM_REDACTED) this.redacted.add(offset)
    if (kind === KIND_TOMBSTONE && data.readUInt32LE(at + LENGTH_AT) >= 8) {
      const target = Number(data.readBigUInt64LE(at + HEADER_BYTES))
      if (!this.named.has(target)) this.named.set(target, offset)
    }
  }

  problems(): VerifyProblem[] {
    const out: VerifyProblem[] = []
    for (const offset of [...this.redacted].sort((a, b) => a - b)) {
      if (!this.named.has(offset)) out.push({ offset, code: 'ERR_CORRUPT', message: `the record at offset ${offset} is redacted (form 3) but no tombstone names it: a payload was erased without a record of it` })
    }
    for (const [target, tombstone] of [...this.named].sort((a, b) => a[0] - b[0])) {
      if (!this.redacted.has(target) && target >= this.first) out.push({ offset: target, code: 'ERR_CORRUPT', message: `the tombstone at offset ${tombstone} redacts offset ${target}, whose payload is still stored: an unfinished redaction (a writable open finishes it)` })
    }
    return out
  }
}

/**
 * Scans [0, end) of one segment from `expect`, going on after every bad record as the table at
 * the top says. Fills `contents`, counts into `tally`, reports into `problems`.
 */
async function scanSegmentFile(
  s: Stream, seg: Segment, handle: StorageFile, end: number, expectAtStart: Expectation, resume: { sinceResume: number | null },
  contents: SegmentContents, problems: Problems, tally: { records: number; events: number; checkpoints: number },
  onProgress: (position: number) => void, redactions: Redactions, notes: EmbeddedNote[],
): Promise<{ expect: Expectation; last: { nextOffset: number; hash: Buffer | null } | null }> {
  let expect = expectAtStart
  let last: { nextOffset: number; hash: Buffer | null } | null = null
  let start = 0
  /** The scan resumed at the record that stopped it, taking it as found (see the table above). */
  let tookAsFound = false
  /** The offset that record should have had (the one after it should have the next). */
  let resumedFor: number | null = null
  while (start < end && !problems.full) {
    const r = await scanRange(s.core, handle, {
      hash: s.hash, stream: s.name, start, end, firstOffset: expect.offset, prevHash: expect.hash, prevTimestamp: expect.timestamp, verifyChain: true,
      onRecords: (c, data, base) => {
        for (let k = 0; k < c.count; k++) {
          contents.positions.push(c.positions[k])
          contents.offsets.push(c.offsets[k])
          const kind = c.kinds[k] & KIND_MASK
          if (kind === KIND_CHECKPOINT) {
            tally.checkpoints++
            const at = c.positions[k] - base
            const note = checkpointNote(data.subarray(at + HEADER_BYTES, at + HEADER_BYTES + data.readUInt32LE(at + LENGTH_AT)))
            if (note !== null) notes.push({ offset: c.offsets[k], text: Buffer.from(note) })
          } else if (kind === KIND_DATA) tally.events++
          redactions.note(c.offsets[k], kind, data, c.positions[k] - base)
        }
        contents.lastKind = c.kinds[c.count - 1]
        tally.records += c.count
      },
      onProgress,
    })
    if (r.count > 0) last = { nextOffset: r.nextOffset!, hash: r.lastHash }
    expect = { offset: r.nextOffset, hash: r.lastHash, timestamp: r.lastTimestamp }
    if (r.outcome === 'end') {
      if (resume.sinceResume !== null) resume.sinceResume += r.count
      break
    }
    const resumedHere = resume.sinceResume !== null && resume.sinceResume + r.count <= 1
    const atResumePoint = tookAsFound && r.count === 0 && r.stopPosition === start
    tookAsFound = false
    // The offset the record should have: a damaged record's own offset field may be the damage.
    const offset: number | null = r.nextOffset ?? (atResumePoint ? resumedFor : null) ?? r.stopOffset
    if (!resumedHere) {
      problems.add({
        offset,
        code: r.outcome === 'chain' ? 'ERR_CHAIN_BROKEN' : 'ERR_CORRUPT',
        message: `${segmentFileName(seg.num)}, position ${r.stopPosition}: ${r.outcome === 'torn' ? 'incomplete record at the end: ' : ''}${r.reason}${await gapNote(handle, r, end)}`,
      })
    }
    resume.sinceResume = 0
    if (r.outcome === 'torn') {
      contents.damaged.push([r.stopPosition, end])
      expect = UNKNOWN
      break
    }
    if (r.outcome === 'corrupt' && r.nextValidPosition > r.stopPosition) {
      // Bad framing: the bytes up to the next valid record are the damage.
      contents.damaged.push([r.stopPosition, r.nextValidPosition])
      resumedFor = null
      start = r.nextValidPosition
      expect = UNKNOWN
      continue
    }
    // A whole record broke a rule. Take it as found, unless that was tried already: then skip it.
    if (!atResumePoint) {
      tookAsFound = true
      resumedFor = offset
      start = r.stopPosition
      expect = UNKNOWN
      continue
    }
    const length = await recordLength(handle, r.stopPosition)
    contents.damaged.push([r.stopPosition, r.stopPosition + length])
    start = r.stopPosition + length
    expect = { offset: resumedFor === null ? null : resumedFor + 1, hash: null, timestamp: null }
    resumedFor = expect.offset
  }
  return { expect, last }
}

/** Framed length of the valid-framed record at `position` (66 + L). */
async function recordLength(handle: StorageFile, position: number): Promise<number> {
  const header = await handle.read(position, HEADER_BYTES)
  return RECORD_OVERHEAD + header.readUInt32LE(LENGTH_AT)
}

/** For a whole record whose offset is not the expected one: what the gap or overlap means. */
async function gapNote(handle: StorageFile, r: RangeScan, end: number): Promise<string> {
  const expected = r.nextOffset
  if (expected === null || r.outcome !== 'corrupt' || r.nextValidPosition >= 0 || r.stopPosition + HEADER_BYTES > end) return ''
  const found = (await handle.read(r.stopPosition + 4, 8)).readBigUInt64LE(0)
  if (found > BigInt(expected)) return ` (offsets ${expected}..${found - 1n} are not in the file)`
  if (found < BigInt(expected)) return ` (offset ${found} again)`
  return ''
}

/**
 * Every entry the index holds (on disk, and in memory for the active segment) must point at the
 * record of its offset. An entry that points into bytes judged damaged is not blamed: the record
 * there is the damage, already reported.
 */
async function checkIndex(s: Stream, seg: Segment, contents: SegmentContents, isActive: boolean, size: number, problems: Problems): Promise<void> {
  const { positions, offsets, damaged } = contents
  const inDamage = (p: number) => damaged.some(([a, b]) => p >= a && p < b)
  const holds = offsets.length === 0 ? 0 : offsets[offsets.length - 1] + 1 - seg.firstOffset
  const compare = (what: string, idx: PositionList) => {
    let j = 0
    for (let i = 0; i < idx.length; i++) {
      const p = idx.at(i)
      const offset = seg.firstOffset + i
      while (j < positions.length && positions[j] < p) j++
      if (j < positions.length && positions[j] === p) {
        if (offsets[j] === offset) continue
        problems.add({ offset, code: 'ERR_CORRUPT', message: `${what} of ${segmentFileName(seg.num)} says position ${p} for offset ${offset}, the record there is offset ${offsets[j]}` })
        return
      }
      if (inDamage(p)) continue
      if (i >= holds && j >= positions.length) {
        problems.add({ offset, code: 'ERR_CORRUPT', message: `${what} of ${segmentFileName(seg.num)} lists ${idx.length} records, the segment holds ${holds}` })
        return
      }
      const at = positions[offsets.indexOf(offset)]
      problems.add({ offset, code: 'ERR_CORRUPT', message: `${what} of ${segmentFileName(seg.num)} says position ${p} for offset ${offset}, ${at === undefined ? 'no record starts there' : `the record is at ${at}`}` })
      return
    }
  }
  const loaded = await loadIndex(s.ctx.storage, seg.indexPath, size, (d) => s.core.crc32(d))
  // A shorter index is stale (the tail since it was saved), not wrong; a wrong entry is damage.
  if (loaded?.ok) compare('the index file', loaded.positions)
  if (isActive && seg.index !== null) {
    // Appends may have added entries since the sizes were taken: compare the snapshot's part.
    const snapshot = seg.index.slice(0, seg.index.length).filter((p) => p < size)
    compare('the in-memory index', PositionList.from(snapshot))
  }
}

async function checkManifest(s: Stream, segments: Segment[], problems: Problems): Promise<void> {
  const { manifest } = await readManifest(s.ctx.storage, s.dir)
  if (manifest === null) return // a missing or unreadable manifest is rebuilt on open: not damage to data
  const want = manifestOf(segments).segments
  for (const [i, m] of manifest.segments.entries()) {
    const d = want.find((w) => w.segment_num === m.segment_num)
    if (d === undefined) {
      if (m.next_offset > m.first_offset) problems.add({ offset: m.first_offset, code: 'ERR_CORRUPT', message: `the manifest lists ${segmentFileName(m.segment_num)} (offsets ${m.first_offset}..${m.next_offset}), the stream has no such segment` })
      continue
    }
    // The manifest's last entry may lag the data (appends, or a rotation, since it was written):
    // it is stale then, not wrong, as long as it claims no more than the data holds.
    const sealed = i < manifest.segments.length - 1
    if (m.first_offset !== d.first_offset || (sealed && (m.next_offset !== d.next_offset || m.size_bytes !== d.size_bytes)) || m.next_offset > d.next_offset || m.size_bytes > d.size_bytes) {
      problems.add({
        offset: d.first_offset, code: 'ERR_CORRUPT',
        message: `the manifest says ${segmentFileName(m.segment_num)} holds offsets ${m.first_offset}..${m.next_offset} in ${m.size_bytes} bytes, the data says ${d.first_offset}..${d.next_offset} in ${d.size_bytes}`,
      })
    }
  }
}
