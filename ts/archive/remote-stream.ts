/**
 * One archived stream read back and checked (restore, ArchiveReader): its sealed segments in
 * order, then its tail, each downloaded as a stream and run through the core's segment scan a
 * bounded piece at a time (PIECE_BYTES), the chain checked from piece to piece, and held against
 * HEAD.json and the segment metadata (a sealed segment's SHA-256 taken as it downloads). No
 * segment is ever held whole, so memory does not grow with the segment size. A missing
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

/**
 * Bytes a segment is checked in at a time: what a walk holds of it (with the scan's copy, and a
 * record longer than this, which is carried until whole). A whole segment is never held: a
 * restore or verify of a 64 MiB segment needs about this much, not 64 MiB.
 */
const PIECE_BYTES = 4 * 1024 * 1024

/** The piece size walks use; tests lower it, so that small records cross piece boundaries. */
export const pieceSize = { bytes: PIECE_BYTES }

/**
 * One checked piece of a stream: whole records of one segment (a sealed one, or the active
 * segment's archived bytes), `bytes` starting at `position` in the segment file; `scan` lists
 * them (positions absolute), their chain checked from the record before `bytes`.
 */
export interface StreamPiece {
  num: number
  sealed: boolean
  position: number
  bytes: Buffer
  scan: ScanResult
  /**
   * The segment's last piece (it may hold no record): yielded only once the whole segment has
   * passed its checks (a sealed segment's size, SHA-256 and metadata; the tail's chunk sizes).
   */
  segmentEnd: boolean
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
    /** Checks HEAD against the piece when HEAD's last record is in it. */
    const checkHead = async (piece: StreamPiece) => {
      const r = piece.scan
      const last = head.nextOffset - 1
      if (headFound || r.count === 0 || last < r.offsets[0] || last > r.offsets[r.count - 1]) return
      const i = last - r.offsets[0]
      const d = await core.decodeRecordsAsync({ hash, stream, data: piece.bytes, basePosition: piece.position, positions: r.positions.subarray(i, i + 1), expectPrevHash: null, payloadsFrom: 1, maxPayloadBytes: MAX_PAYLOAD_BYTES })
      if (d.hashes.subarray(0, 32).toString('hex') !== head.hash) {
        throw fail('ERR_CHAIN_BROKEN', last, `HEAD (seq ${head.seq}) says the record at offset ${last} hashes to ${head.hash.slice(0, 16)}…, the archived segment ${piece.num} holds ${d.hashes.subarray(0, 32).toString('hex').slice(0, 16)}… (HEAD replaced, or a fork)`, { segment: piece.num })
      }
      headFound = true
    }
    /**
     * One segment's bytes as `source` downloads them, scanned a piece at a time with the chain
     * carried from piece to piece (a record cut by a piece's end is carried into the next, as
     * scanRange does for a file). `size` is what the segment must hold: a record claiming bytes
     * past it is damage, decided at once rather than downloaded for. The segment's last piece
     * is yielded only after `atEnd` (the checks of the whole segment) passed.
     */
    async function* segmentPieces(num: number, sealed: boolean, size: number, source: AsyncIterable<Uint8Array>, atEnd: () => void): AsyncGenerator<StreamPiece> {
      // The piece being filled: downloaded bytes are copied in as they arrive (each network
      // chunk is garbage at once) until it holds `capacity` bytes, then scanned. Made when the
      // next bytes arrive, not as a piece is yielded: by then its consumer has let go of the
      // piece before, so two pieces and the scan's copy are the most a walk holds.
      let buf: Buffer | null = null
      let capacity = pieceSize.bytes
      let carry: Buffer = Buffer.alloc(0)
      let held = 0
      let position = 0
      const step = async (final: boolean): Promise<StreamPiece> => {
        const data = buf === null ? carry : buf.subarray(0, held)
        const r = await core.scanSegmentAsync({
          hash, stream, data, basePosition: position, firstOffset: nextOffset, prevHash, prevTimestamp: nextOffset === 0 ? null : prevTimestamp, verifyChain: true, final,
        })
        if (r.stop === 'partial' && r.stopPosition + r.needBytes > size) {
          throw fail('ERR_CORRUPT', r.stopOffset ?? r.nextOffset ?? nextOffset, `segment ${num}, byte ${r.stopPosition}: a record of ${r.needBytes} bytes or more, past the segment's ${size} bytes`, { segment: num, position: r.stopPosition })
        }
        if (r.stop !== 'end' && r.stop !== 'partial') {
          const offset = r.stopOffset ?? r.nextOffset ?? nextOffset
          throw fail(r.stop === 'chain' ? 'ERR_CHAIN_BROKEN' : 'ERR_CORRUPT', offset, `segment ${num}, byte ${r.stopPosition}: ${r.reason}`, { segment: num, position: r.stopPosition })
        }
        if (r.count > 0) {
          nextOffset = r.nextOffset!
          prevHash = r.lastHash!
          prevTimestamp = r.lastTimestamp ?? prevTimestamp
        }
        // The record cut by the piece's end starts the next piece, which is never smaller than it needs.
        carry = Buffer.from(data.subarray(r.validLength))
        capacity = r.stop === 'partial' ? Math.max(pieceSize.bytes, r.needBytes) : pieceSize.bytes
        buf = null
        held = carry.length
        const piece: StreamPiece = { num, sealed, position, bytes: data.subarray(0, r.validLength), scan: r, segmentEnd: final }
        position += r.validLength
        return piece
      }
      for await (let chunk of source) {
        while (chunk.length > 0) {
          if (buf === null) {
            buf = Buffer.allocUnsafe(capacity)
            carry.copy(buf)
          }
          const n = Math.min(chunk.length, buf.length - held)
          buf.set(chunk.subarray(0, n), held)
          held += n
          chunk = chunk.subarray(n)
          if (held < buf.length) continue
          const piece = await step(false)
          await checkHead(piece)
          yield piece
        }
      }
      const piece = await step(true)
      atEnd()
      await checkHead(piece)
      yield piece
    }
    for (const num of sealed) {
      const metaKey = segmentMetaKey(stream, num, gen(num))
      const segKey = segmentKey(stream, num, gen(num))
      const missing = (key: string) => fail('ERR_CORRUPT', nextOffset, `sealed segment ${num}${num < head.sealed.length ? ', listed by HEAD,' : ''} is missing from the archive (${key})`, { segment: num })
      const metaObj = await objects.get(metaKey)
      if (metaObj === null) throw missing(metaKey)
      const meta = parseSegmentMeta(metaObj.body, `${objects.url}/${metaKey}`, num)
      if (meta.firstOffset !== nextOffset) throw fail('ERR_CORRUPT', nextOffset, `segment ${num}'s metadata starts at offset ${meta.firstOffset}`, { segment: num })
      const segBody = await objects.getStream(segKey)
      if (segBody === null) throw missing(segKey)
      // The segment's SHA-256 and size, taken as its bytes go by.
      const sha = createHash('sha256')
      let downloaded = 0
      const hashed = (async function* () {
        for await (const chunk of segBody) {
          sha.update(chunk)
          downloaded += chunk.length
          // Longer than listed: damage whatever the bytes are, so the rest is not downloaded.
          if (downloaded > meta.size) throw fail('ERR_CORRUPT', nextOffset, `segment ${num}'s bytes differ from its archived SHA-256 (more than the ${meta.size} bytes listed)`, { segment: num })
          yield chunk
        }
      })()
      yield* segmentPieces(num, true, meta.size, hashed, () => {
        if (sha.digest('hex') !== meta.sha256 || downloaded !== meta.size) {
          throw fail('ERR_CORRUPT', nextOffset, `segment ${num}'s bytes differ from its archived SHA-256 (${downloaded} bytes, ${meta.size} listed)`, { segment: num })
        }
        if (nextOffset !== meta.nextOffset || prevHash.toString('hex') !== meta.lastHash) {
          throw fail('ERR_CHAIN_BROKEN', nextOffset, `segment ${num} ends at offset ${nextOffset} with hash ${prevHash.toString('hex').slice(0, 16)}…, its metadata says ${meta.nextOffset} and ${meta.lastHash.slice(0, 16)}…`, { segment: num })
        }
      })
    }
    if (tailUsed) {
      /** The tail's chunk objects end to end, each checked to hold the bytes its name says. */
      const tailBytes = async function* () {
        for (const key of tailChunks!) {
          const body = await objects.getStream(key)
          if (body === null) throw fail('ERR_CORRUPT', nextOffset, `tail chunk ${key} is missing`)
          const range = tailRange(key)!
          let got = 0
          for await (const chunk of body) {
            got += chunk.length
            if (got > range.to - range.from) break
            yield chunk
          }
          if (got !== range.to - range.from) throw fail('ERR_CORRUPT', nextOffset, `tail chunk ${key} holds ${got > range.to - range.from ? 'more than ' : ''}${got} bytes, its name says ${range.to - range.from}`)
        }
      }
      yield* segmentPieces(head.tail!.num, false, head.tail!.end, tailBytes(), () => {})
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
