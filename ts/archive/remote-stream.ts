/**
 * One archived stream read back and checked (restore, ArchiveReader): its sealed segments in
 * order, then its tail, each run through the core's segment scan with the chain checked from
 * the previous piece's last hash, and held against HEAD.json and the segment metadata. A missing
 * object, a flipped byte, a replaced HEAD or segments the HEAD does not list are errors naming
 * the stream and the offset, never a silently shorter history.
 */
import { createHash } from 'node:crypto'
import { ChainlogError } from '../errors.ts'
import type { ChainlogCore, HashAlgorithm, ScanResult } from '../core/interface.ts'
import { MAX_PAYLOAD_BYTES, ZERO_HASH } from '../core/format.ts'
import { type ArchiveHead, headKey, parseHead, parseSegmentMeta, sealedGeneration, segmentKey, segmentMetaKey, tailFolder, tailRange } from './layout.ts'
import type { ObjectStore } from './s3.ts'
import { type ArchivedDictionary, loadArchivedDictionaries } from './dictionaries.ts'

/** One checked piece of a stream: a whole sealed segment, or the active segment's archived bytes. */
export interface StreamPiece {
  num: number
  sealed: boolean
  bytes: Buffer
  scan: ScanResult
}

export interface StreamWalk {
  head: ArchiveHead
  /** Bytes the pieces hold in all (for progress). */
  bytesTotal: number
  pieces: AsyncGenerator<StreamPiece>
  /** The stream's zstd dictionaries, loaded in the core until release(). */
  dictionaries: ArchivedDictionary[]
  /** Unloads the dictionaries; call once when done with the walk's records. */
  release: () => void
}

/** HEAD.json of a stream; ERR_INVALID_ARGUMENT when the archive has no such stream. */
export async function readHead(objects: ObjectStore, stream: string): Promise<{ head: ArchiveHead; etag: string }> {
  const found = await objects.get(headKey(stream))
  if (found === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `${objects.url}: the archive has no stream ${stream} (no ${headKey(stream)})`, { stream })
  return { head: parseHead(found.body, `${objects.url}/${headKey(stream)}`), etag: found.etag }
}

/** Stream names in the archive (folders holding a HEAD.json). */
export async function archivedStreams(objects: ObjectStore): Promise<string[]> {
  const { keys } = await objects.list('')
  const names = new Set<string>()
  for (const { key } of keys) {
    const m = /^([^/]+)\/HEAD\.json$/.exec(key)
    if (m !== null) names.add(m[1])
  }
  return [...names].sort()
}

/** Reads and checks one stream; pieces are checked as they are downloaded. */
export async function walkStream(objects: ObjectStore, core: ChainlogCore, hash: HashAlgorithm, stream: string): Promise<StreamWalk> {
  const { head } = await readHead(objects, stream)
  const fail = (code: 'ERR_CORRUPT' | 'ERR_CHAIN_BROKEN', offset: number, why: string, extra: Record<string, unknown> = {}) =>
    new ChainlogError(code, `${objects.url}: stream ${stream} at offset ${offset}: ${why}`, { stream, offset, ...extra })
  const { keys } = await objects.list(`${stream}/`)
  const sizes = new Map(keys.map((k) => [k.key, k.size]))
  // Sealed segments past what HEAD lists: an archiver stopped between uploading a segment and
  // writing HEAD (or a HEAD put back to an older copy). They are history all the same: checked
  // and included, so a restore is never shorter than what the archive holds.
  const beyond: number[] = []
  // The metadata is uploaded last: a segment without it is an upload the archiver never finished.
  for (let n = head.sealed.length; sizes.has(segmentKey(stream, n)) && sizes.has(segmentMetaKey(stream, n)); n++) beyond.push(n)
  const sealed = [...head.sealed, ...beyond]
  const tailUsed = head.tail !== null && head.tail.num >= sealed.length
  const tailChunks = tailUsed ? pickTailChunks(keys.map((k) => k.key).filter((k) => k.startsWith(tailFolder(stream, head.tail!.num, head.tail!.gen))), head.tail!.end) : []
  if (tailUsed && tailChunks === null) {
    throw fail('ERR_CORRUPT', head.nextOffset, `tail chunks of segment ${head.tail!.num} do not cover bytes [0, ${head.tail!.end}) that HEAD lists`)
  }
  let bytesTotal = 0
  // A segment a redaction rewrote is read under the generation HEAD names (beyond HEAD: the original keys).
  const gen = (n: number) => (n < head.sealed.length ? sealedGeneration(head, n) : undefined)
  for (const n of sealed) bytesTotal += sizes.get(segmentKey(stream, n, gen(n))) ?? 0
  if (tailUsed) bytesTotal += head.tail!.end
  // Loaded before any scan: the core decodes form-4 records with them.
  const dictionaries = await loadArchivedDictionaries(objects, core, hash, stream)

  async function* pieces(): AsyncGenerator<StreamPiece> {
    let prevHash: Buffer = ZERO_HASH
    let nextOffset = 0
    let prevTimestamp = 0
    // HEAD's (nextOffset, hash) must lie on the archived chain.
    let headFound = head.nextOffset === 0 && head.hash === ZERO_HASH.toString('hex')
    const scan = async (num: number, bytes: Buffer): Promise<ScanResult> => {
      const r = await core.scanSegmentAsync({
        hash, stream, data: bytes, basePosition: 0, firstOffset: nextOffset, prevHash, prevTimestamp: nextOffset === 0 ? null : prevTimestamp, verifyChain: true, final: true,
      })
      if (r.stop !== 'end') {
        const offset = r.stopOffset ?? r.nextOffset ?? nextOffset
        throw fail(r.stop === 'chain' ? 'ERR_CHAIN_BROKEN' : 'ERR_CORRUPT', offset, `segment ${num}, byte ${r.stopPosition}: ${r.reason}`, { segment: num, position: r.stopPosition })
      }
      return r
    }
    /** Checks HEAD against the piece when HEAD's last record is in it. */
    const checkHead = async (num: number, bytes: Buffer, r: ScanResult) => {
      const last = head.nextOffset - 1
      if (headFound || r.count === 0 || last < r.offsets[0] || last > r.offsets[r.count - 1]) return
      const i = last - r.offsets[0]
      const d = await core.decodeRecordsAsync({ hash, stream, data: bytes, basePosition: 0, positions: r.positions.subarray(i, i + 1), expectPrevHash: null, payloadsFrom: 1, maxPayloadBytes: MAX_PAYLOAD_BYTES })
      if (d.hashes.subarray(0, 32).toString('hex') !== head.hash) {
        throw fail('ERR_CHAIN_BROKEN', last, `HEAD (seq ${head.seq}) says the record at offset ${last} hashes to ${head.hash.slice(0, 16)}…, the archived segment ${num} holds ${d.hashes.subarray(0, 32).toString('hex').slice(0, 16)}… (HEAD replaced, or a fork)`, { segment: num })
      }
      headFound = true
    }
    for (const num of sealed) {
      const metaKey = segmentMetaKey(stream, num, gen(num))
      const metaObj = await objects.get(metaKey)
      const segObj = await objects.get(segmentKey(stream, num, gen(num)))
      if (metaObj === null || segObj === null) throw fail('ERR_CORRUPT', nextOffset, `sealed segment ${num}${num < head.sealed.length ? ', listed by HEAD,' : ''} is missing from the archive (${metaObj === null ? metaKey : segmentKey(stream, num, gen(num))})`, { segment: num })
      const meta = parseSegmentMeta(metaObj.body, `${objects.url}/${metaKey}`, num)
      const bytes = segObj.body
      if (meta.firstOffset !== nextOffset) throw fail('ERR_CORRUPT', nextOffset, `segment ${num}'s metadata starts at offset ${meta.firstOffset}`, { segment: num })
      if (createHash('sha256').update(bytes).digest('hex') !== meta.sha256 || bytes.length !== meta.size) {
        const r = await scan(num, bytes) // names the record when the damage is in one
        throw fail('ERR_CORRUPT', r.nextOffset ?? nextOffset, `segment ${num}'s bytes differ from its archived SHA-256 (${bytes.length} bytes, ${meta.size} listed)`, { segment: num })
      }
      const r = await scan(num, bytes)
      if (r.nextOffset !== meta.nextOffset || r.lastHash?.toString('hex') !== meta.lastHash) {
        throw fail('ERR_CHAIN_BROKEN', r.nextOffset ?? nextOffset, `segment ${num} ends at offset ${r.nextOffset} with hash ${r.lastHash?.toString('hex').slice(0, 16)}…, its metadata says ${meta.nextOffset} and ${meta.lastHash.slice(0, 16)}…`, { segment: num })
      }
      await checkHead(num, bytes, r)
      nextOffset = meta.nextOffset
      prevHash = r.lastHash!
      prevTimestamp = r.lastTimestamp ?? prevTimestamp
      yield { num, sealed: true, bytes, scan: r }
    }
    if (tailUsed) {
      const parts: Buffer[] = []
      for (const key of tailChunks!) {
        const o = await objects.get(key)
        if (o === null) throw fail('ERR_CORRUPT', nextOffset, `tail chunk ${key} is missing`)
        const range = tailRange(key)!
        if (o.body.length !== range.to - range.from) throw fail('ERR_CORRUPT', nextOffset, `tail chunk ${key} holds ${o.body.length} bytes, its name says ${range.to - range.from}`)
        parts.push(o.body)
      }
      const bytes = Buffer.concat(parts)
      const r = await scan(head.tail!.num, bytes)
      await checkHead(head.tail!.num, bytes, r)
      nextOffset = r.nextOffset ?? nextOffset
      prevHash = r.lastHash!
      yield { num: head.tail!.num, sealed: false, bytes, scan: r }
    }
    if (!headFound) {
      throw fail('ERR_CHAIN_BROKEN', nextOffset, `the archived records end at offset ${nextOffset} (hash ${prevHash.toString('hex').slice(0, 16)}…), HEAD (seq ${head.seq}) says offset ${head.nextOffset} and ${head.hash.slice(0, 16)}… (objects missing, or HEAD replaced)`)
    }
  }
  return { head, bytesTotal, pieces: pieces(), dictionaries: dictionaries.list, release: dictionaries.release }
}

/** The chunks [0, a), [a, b), … [y, end) among `keys`, or null when they do not cover [0, end). */
export function pickTailChunks(keys: string[], end: number): string[] | null {
  const byFrom = new Map<number, Array<{ key: string; to: number }>>()
  for (const key of keys) {
    const r = tailRange(key)
    if (r === null || r.to > end) continue // beyond HEAD: shipped, HEAD not yet written
    const list = byFrom.get(r.from) ?? []
    list.push({ key, to: r.to })
    byFrom.set(r.from, list)
  }
  const out: string[] = []
  for (let at = 0; at < end; ) {
    // Several chunks from one position: a fork's leftovers; the longest is HEAD's when it ends on HEAD's path.
    const next = (byFrom.get(at) ?? []).sort((a, b) => b.to - a.to)[0]
    if (next === undefined) return null
    out.push(next.key)
    at = next.to
  }
  return out
}
