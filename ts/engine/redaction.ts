/**
 * Redaction (SPEC §9): a record's payload is erased from every file of the store while its chain
 * hash, the chain, the Merkle tree (leaves are chain hashes) and every note stay valid. The record
 * is stored again in form 3 (stored payload = u64 original length ‖ commitment), which hashes as
 * the original did.
 *
 * The order, so that a crash at any step is finished at open and never loses an acknowledged
 * record (redactRecord runs inside the stream's queue: its writes are held throughout):
 *   1. checks: the target is a data record not yet redacted, and every record of its segment
 *      frames and passes its CRC (else ERR_CORRUPT, nothing written);
 *   2. append and fdatasync a tombstone (kind 2; payload u64 offset ‖ UTF-8 reason);
 *   2b. scrub copies of the payload in `<stream>/quarantine/` (before the segment loses the
 *      payload, which the byte search needs; repeated if open finishes the redaction);
 *   3–5. rewrite the segment to a temporary file, fdatasync, remove its `.idx` (and the
 *      manifest, whose size for the segment goes stale too), fsync the directory, rename over,
 *      fsync the directory (storage/segment-rewrite.ts);
 *   6. the new positions, index and manifest, and the writer's handle reopened (Stream.segmentReplaced).
 * The tombstone lands while appends are held, so after a crash it is the stream's last record:
 * open (completePendingRedaction) looks at that one record and finishes steps 2b–6 when its
 * target is not yet in form 3.
 */
import { CODEC_NONE, FORM_REDACTED, KIND_CHECKPOINT, KIND_DATA, KIND_MASK, KIND_TOMBSTONE } from '../core/interface.ts'
import { AT_FORM, AT_KIND, AT_LENGTH, CHECKPOINT_PAYLOAD_BYTES, HEADER_BYTES, MAX_PAYLOAD_BYTES, RECORD_END, RECORD_OVERHEAD } from '../core/format.ts'
import { join } from 'node:path'
import { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import { MANIFEST_FILE } from '../storage/manifest.ts'
import { PositionList } from '../storage/offset-index.ts'
import { quarantineFiles } from '../storage/quarantine.ts'
import { replaceSegmentFile, type RewriteStep } from '../storage/segment-rewrite.ts'
import { prunedError } from './retention.ts'
import type { RedactResult } from '../types.ts'
import type { Segment } from './segment.ts'
import type { Stream } from './stream.ts'

/** Bytes of a tombstone payload before its reason: the redacted record's offset. */
const TOMBSTONE_TARGET_BYTES = 8
/** Raw copies of a payload are searched for in quarantine files only from this length: shorter ones match unrelated bytes. */
const MIN_SEARCHED_PAYLOAD_BYTES = 16

/** Steps of a redaction, named for the kill -9 tests. */
type RedactStep = 'held' | 'tombstone-written' | 'tombstone-synced' | 'scrubbed' | RewriteStep | 'done'

/**
 * Crash tests set CHAINLOG_TEST_REDACT_KILL_AT to a step name: the process SIGKILLs itself right
 * after that step, as a power cut or kill -9 would stop it there.
 */
const KILL_AT = process.env.CHAINLOG_TEST_REDACT_KILL_AT
function reached(step: RedactStep): void {
  if (KILL_AT === step) process.kill(process.pid, 'SIGKILL')
}

/** Redacts the record at `offset` of `s` (call inside its queue: `s.queue.exclusive`). */
export async function redactRecord(s: Stream, offset: number, reason: Buffer): Promise<RedactResult> {
  refuseDamaged(s)
  const first = s.firstOffset
  if (s.segments.length === 0 || offset >= s.nextOffset) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `offset: stream ${s.name} holds offsets ${first}..${s.nextOffset - 1}, got ${offset}`, { stream: s.name, offset })
  }
  if (offset < s.firstOffset) throw prunedError(s, offset)
  const target = await readSegmentOf(s, offset)
  const kind = target.data[target.position + AT_KIND] & KIND_MASK
  if (kind !== KIND_DATA) {
    const what = kind === KIND_CHECKPOINT ? 'a checkpoint' : kind === KIND_TOMBSTONE ? 'a tombstone' : `a record of kind ${kind}`
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `offset: the record at ${offset} of stream ${s.name} is ${what}; only data records can be redacted`, { stream: s.name, offset })
  }
  // Redacting again is a no-op: a caller retrying after a crash finds the work done.
  if (target.data[target.position + AT_FORM] === FORM_REDACTED) return { offset, tombstoneOffset: null }
  reached('held')
  const tombstoneOffset = await appendTombstone(s, offset, reason)
  try {
    await finishRedaction(s, offset)
  } finally {
    s.afterCommit() // followers see the tombstone
  }
  reached('done')
  return { offset, tombstoneOffset }
}

/**
 * At open of a writable stream: when its last record is a tombstone whose target is not yet in
 * form 3, a redaction was cut short after its tombstone landed; finish it. Damage met on the way
 * is left to verify (which reports the unfinished tombstone), not thrown: the log must open.
 */
export async function completePendingRedaction(s: Stream): Promise<void> {
  if (s.ctx.readOnly || s.corrupt !== null || s.nextOffset === 0) return
  const last = await s.locate(s.nextOffset - 1)
  if (last === null) return
  const record = await s.readSegment(last.segment, last.position, last.end - last.position)
  if ((record[AT_KIND] & KIND_MASK) !== KIND_TOMBSTONE || record.readUInt32LE(AT_LENGTH) < TOMBSTONE_TARGET_BYTES) return
  const target = Number(record.readBigUInt64LE(HEADER_BYTES))
  const first = s.segments[0].firstOffset
  if (!Number.isSafeInteger(target) || target < first || target >= s.nextOffset - 1) return
  const loc = await s.locate(target)
  if (loc === null) return
  const header = await s.readSegment(loc.segment, loc.position, HEADER_BYTES)
  if (header[AT_FORM] === FORM_REDACTED || (header[AT_KIND] & KIND_MASK) !== KIND_DATA) return
  try {
    await finishRedaction(s, target)
  } catch (err) {
    if (!(err instanceof ChainlogError) || (err.code !== 'ERR_CORRUPT' && err.code !== 'ERR_CHAIN_BROKEN')) throw err
    process.emitWarning(`chainlog: stream ${s.name}: the redaction of offset ${target} named by the tombstone at ${s.nextOffset - 1} could not be finished: ${err.message}`, { code: 'CHAINLOG_RECOVERY' })
  }
}

function refuseDamaged(s: Stream): void {
  const c = s.corrupt
  if (c !== null) {
    throw new ChainlogError('ERR_CORRUPT', `stream ${s.name} is damaged at offset ${c.offset} (${c.code}: ${c.reason}); redaction is refused until it is repaired`, {
      stream: s.name, offset: c.offset, position: c.position, damage: c.code,
    })
  }
  if (s.broken !== null) throw s.broken
}

/** A segment's bytes (all of them) with its records' positions, every record framed and CRC-checked; and where `offset` lies in it. */
async function readSegmentOf(s: Stream, offset: number): Promise<{ data: Buffer; positions: Float64Array; entry: number; position: number; end: number; segmentIndex: number }> {
  const segmentIndex = s.segments.indexOf(s.segmentFor(offset))
  const seg = s.segments[segmentIndex]
  const data = await s.readSegment(seg, 0, seg.size)
  const scan = s.core.scanSegment({
    hash: s.hash, stream: s.name, data, basePosition: 0, firstOffset: seg.firstOffset, prevHash: null, prevTimestamp: null, verifyChain: false, final: true,
  })
  if (scan.stop !== 'end' || scan.count !== seg.records) {
    throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: ${seg.path} does not check (${scan.reason || `${scan.count} records, expected ${seg.records}`}); nothing was redacted`, {
      stream: s.name, offset: scan.stopOffset ?? undefined, position: scan.stopPosition,
    })
  }
  const entry = offset - seg.firstOffset
  const position = scan.positions[entry]
  const end = entry + 1 < scan.count ? scan.positions[entry + 1] : data.length
  return { data, positions: scan.positions, entry, position, end, segmentIndex }
}

/** Step 2: the tombstone, appended and fdatasynced at the end of the active segment. Returns its offset. */
async function appendTombstone(s: Stream, target: number, reason: Buffer): Promise<number> {
  const every = s.ctx.options.checkpointEvery
  if (every !== false) await s.loadPolicyState(every)
  const payload = Buffer.alloc(TOMBSTONE_TARGET_BYTES + reason.length)
  payload.writeBigUInt64LE(BigInt(target), 0)
  reason.copy(payload, TOMBSTONE_TARGET_BYTES)
  const offset = s.nextOffset
  const timestamp = Math.max(Date.now(), s.lastTimestamp)
  const encoded = s.core.encodeBatch({
    hash: s.hash, stream: s.name, firstOffset: offset, prevHash: s.headHash, kind: KIND_TOMBSTONE, codec: CODEC_NONE, level: 0,
    payloads: payload, lengths: Uint32Array.of(payload.length), timestamps: Float64Array.of(timestamp),
    treeFrontier: s.treeFrontier ?? undefined,
  })
  let seg: Segment
  try {
    seg = await s.prepareWrite(encoded.bytes.length)
  } catch (err) {
    throw ioError(err, `stream ${s.name}: cannot prepare the segment for a tombstone`, { stream: s.name })
  }
  const position = seg.size
  try {
    await seg.handle!.write(encoded.bytes, position)
    reached('tombstone-written')
    await s.datasyncChecked(seg.handle!)
  } catch (err) {
    await s.rollback(seg, position)
    throw ioError(err, `stream ${s.name}: the tombstone's write at position ${position} of ${seg.path} failed and was rolled back; nothing was redacted`, { stream: s.name, position })
  }
  s.applyCommit({
    segment: seg, position, bytes: encoded.bytes.length, positionParts: [{ positions: encoded.positions, at: 0 }], synced: true,
    firstOffset: offset, nextOffset: offset + 1, headHash: encoded.lastHash, lastTimestamp: timestamp,
    sinceCheckpoint: (s.sinceCheckpoint ?? 0) + 1, dirtySinceCheckpoint: true, lastCheckpoint: null,
    treeParts: encoded.tree === null ? [] : [encoded.tree], signed: null,
  })
  reached('tombstone-synced')
  return offset
}

/** Steps 2b–6 for `offset`, whose tombstone is durable. */
async function finishRedaction(s: Stream, offset: number): Promise<void> {
  await s.quiesce()
  const { data, positions, entry, position, end, segmentIndex } = await readSegmentOf(s, offset)
  const seg = s.segments[segmentIndex]
  const old = s.core.decodeOne({ hash: s.hash, stream: s.name, data, basePosition: 0, position, expectPrevHash: null, maxPayloadBytes: MAX_PAYLOAD_BYTES })
  if (old.form === FORM_REDACTED) return
  const payload = Buffer.from(old.payload) // a core may return a view of a buffer it reuses
  const commitment = s.core.commitment(s.hash, payload)
  const stored = data.subarray(position + HEADER_BYTES, end - RECORD_OVERHEAD + HEADER_BYTES)
  await scrubQuarantine(s, commitment, payload, stored)
  reached('scrubbed')
  const frame = redactedFrame(s, data.subarray(position, end), payload.length, commitment)
  const check = s.core.decodeOne({ hash: s.hash, stream: s.name, data: frame, basePosition: 0, position: 0, expectPrevHash: null, maxPayloadBytes: MAX_PAYLOAD_BYTES })
  if (!check.hash.equals(old.hash)) {
    throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: the redacted form of offset ${offset} does not hash as the record did; nothing was rewritten`, { stream: s.name, offset })
  }
  const moved = frame.length - (end - position)
  const list = new PositionList(positions.length)
  for (let i = 0; i < positions.length; i++) list.push(i <= entry ? positions[i] : positions[i] + moved)
  const swapped = s.beginRewrite() // reads meeting the new file at old positions wait and read again
  try {
    await replaceSegmentFile(s.ctx.storage, seg.path, join(s.dir, MANIFEST_FILE), [data.subarray(0, position), frame, data.subarray(end)], reached)
    await s.segmentReplaced(seg, data.length + moved, list)
  } finally {
    swapped()
  }
}

/** The record `original` (one whole frame) in form 3: same header but form and length, payload u64 length ‖ commitment, new CRC. */
function redactedFrame(s: Stream, original: Uint8Array, length: number, commitment: Buffer): Buffer {
  const frame = Buffer.alloc(RECORD_OVERHEAD + CHECKPOINT_PAYLOAD_BYTES)
  frame.set(original.subarray(0, AT_FORM), 0)
  frame[AT_FORM] = FORM_REDACTED
  frame.writeUInt32LE(CHECKPOINT_PAYLOAD_BYTES, AT_LENGTH)
  frame.writeBigUInt64LE(BigInt(length), HEADER_BYTES)
  commitment.copy(frame, HEADER_BYTES + 8)
  const crcAt = HEADER_BYTES + CHECKPOINT_PAYLOAD_BYTES
  frame.writeUInt32LE(s.core.crc32(frame.subarray(0, crcAt)), crcAt)
  frame.writeUInt32LE(RECORD_END, crcAt + 4)
  return frame
}

/**
 * Step 2b: copies of the payload in the stream's quarantine files (bytes repair moved there)
 * go too. A whole record there with the same commitment becomes form 3, like the original;
 * then any raw copy of the payload, or of its stored (compressed) bytes, left in the file
 * (a record whose frame is damaged, say) is overwritten with zeros. Each changed file is
 * replaced atomically.
 */
async function scrubQuarantine(s: Stream, commitment: Buffer, payload: Buffer, stored: Uint8Array): Promise<void> {
  const { storage } = s.ctx
  for (const path of await quarantineFiles(storage, s.dir)) {
    let bytes: Buffer
    try {
      bytes = await storage.readFile(path)
    } catch (err) {
      throw ioError(err, `cannot read the quarantine file ${path}`, { stream: s.name })
    }
    let out = redactFramesIn(s, bytes, commitment)
    let changed = out !== bytes
    for (const needle of [payload, stored]) {
      if (needle.length < MIN_SEARCHED_PAYLOAD_BYTES) continue
      for (let at = out.indexOf(needle); at >= 0; at = out.indexOf(needle, at + needle.length)) {
        if (!changed) out = Buffer.from(out)
        out.fill(0, at, at + needle.length)
        changed = true
      }
    }
    if (!changed) continue
    try {
      await storage.writeFileAtomic(path, out)
    } catch (err) {
      throw ioError(err, `cannot scrub the quarantine file ${path}`, { stream: s.name })
    }
  }
}

/** `bytes` with every valid data frame whose payload has `commitment` in form 3 (the same buffer when there is none). */
function redactFramesIn(s: Stream, bytes: Buffer, commitment: Buffer): Buffer {
  const parts: Uint8Array[] = []
  let copied = 0
  for (let at = 0; at < bytes.length; ) {
    const found = s.core.findValidRecord({ data: bytes.subarray(at), basePosition: at, final: true })
    if (found.state !== 'found') break
    const start = found.position
    const end = start + RECORD_OVERHEAD + bytes.readUInt32LE(start + AT_LENGTH)
    at = end
    if ((bytes[start + AT_KIND] & KIND_MASK) !== KIND_DATA || bytes[start + AT_FORM] === FORM_REDACTED) continue
    let payload: Buffer
    try {
      payload = s.core.decodeOne({ hash: s.hash, stream: s.name, data: bytes, basePosition: 0, position: start, expectPrevHash: null, maxPayloadBytes: MAX_PAYLOAD_BYTES }).payload
    } catch {
      continue // undecodable: the raw search still looks at its bytes
    }
    if (!s.core.commitment(s.hash, payload).equals(commitment)) continue
    parts.push(bytes.subarray(copied, start), redactedFrame(s, bytes.subarray(start, end), payload.length, commitment))
    copied = end
  }
  if (parts.length === 0) return bytes
  parts.push(bytes.subarray(copied))
  return Buffer.concat(parts)
}
