/**
 * The store journal's file format (docs/format.md §11): `<store>/journal.wal`, a sequence of
 * self-checking entries, each the exact bytes one group commit wrote at one position of one
 * segment. This module encodes entries and parses a journal's bytes; it does no I/O (the engine's
 * journal.ts writes the file, journal-replay.ts reads it back at open).
 *
 * Entry (little endian): magic "CLJ\x01" (4) ‖ u32 body length L ‖ u32 CRC-32 (IEEE, the core's crc32, as record frames use) of the body ‖
 * body: u16 stream name length N ‖ the name (N bytes, ASCII) ‖ u64 segment number ‖ u64 position
 * in the segment ‖ the bytes written there (L − 18 − N).
 */
import { join } from 'node:path'

const JOURNAL_FILE = 'journal.wal'
const MAGIC = Buffer.from('CLJ\x01', 'latin1')
const JOURNAL_HEADER_BYTES = 12
/** The body's fixed fields: name length, segment number, position. */
const BODY_FIXED_BYTES = 2 + 8 + 8
/** Stream names are 1–128 ASCII characters (storage/stream-name.ts); anything longer is not an entry. */
const MAX_NAME_BYTES = 128

export function journalPath(storeDir: string): string {
  return join(storeDir, JOURNAL_FILE)
}

export interface JournalEntry {
  readonly stream: string
  readonly segment: number
  readonly position: number
  readonly bytes: Buffer
  /** Where the entry starts in the journal file. */
  readonly at: number
}

/** One entry's bytes, ready to be appended to the journal. */
export function encodeJournalEntry(crc32: (d: Uint8Array) => number, stream: string, segment: number, position: number, data: Uint8Array): Buffer {
  const name = Buffer.from(stream, 'latin1')
  const bodyBytes = BODY_FIXED_BYTES + name.length + data.length
  const out = Buffer.allocUnsafe(JOURNAL_HEADER_BYTES + bodyBytes)
  MAGIC.copy(out, 0)
  out.writeUInt32LE(bodyBytes, 4)
  let at = JOURNAL_HEADER_BYTES
  at = out.writeUInt16LE(name.length, at)
  at += name.copy(out, at)
  at = out.writeBigUInt64LE(BigInt(segment), at)
  at = out.writeBigUInt64LE(BigInt(position), at)
  out.set(data, at)
  out.writeUInt32LE(crc32(out.subarray(JOURNAL_HEADER_BYTES)), 8)
  return out
}

/** What a journal file holds: its valid entries, and how it ends. */
export interface ParsedJournal {
  entries: JournalEntry[]
  /** The end of the last valid entry: bytes past it are a torn tail or damage. */
  end: number
  /**
   * A bad entry followed by a valid one: not a torn tail (only the last round's write can be torn,
   * every earlier one was fdatasynced before the next began), so entries may be lost: damage.
   */
  damage: { position: number; reason: string } | null
  /** Why the bytes past `end` were judged a torn tail (null: none). */
  tornReason: string | null
}

/** Parses a journal's bytes: entries up to the first bad one; then a torn tail, or damage when a valid entry follows. */
export function parseJournal(data: Buffer, crc32: (d: Uint8Array) => number): ParsedJournal {
  const entries: JournalEntry[] = []
  let at = 0
  while (at < data.length) {
    const r = entryAt(data, at, crc32)
    if (typeof r === 'string') {
      const next = nextValidEntry(data, at + 1, crc32)
      if (next !== null) return { entries, end: at, damage: { position: at, reason: `${r}; a valid entry follows at ${next}` }, tornReason: null }
      return { entries, end: at, damage: null, tornReason: r }
    }
    entries.push(r)
    at += JOURNAL_HEADER_BYTES + r.bodyBytes
  }
  return { entries, end: at, damage: null, tornReason: null }
}

/** The entry at `at`, or why there is none. */
function entryAt(data: Buffer, at: number, crc32: (d: Uint8Array) => number): (JournalEntry & { bodyBytes: number }) | string {
  if (data.length - at < JOURNAL_HEADER_BYTES) return `${data.length - at} bytes, less than an entry header`
  if (!data.subarray(at, at + 4).equals(MAGIC)) return 'no entry magic'
  const bodyBytes = data.readUInt32LE(at + 4)
  if (bodyBytes < BODY_FIXED_BYTES + 1 || bodyBytes > data.length - at - JOURNAL_HEADER_BYTES) return `body length ${bodyBytes} out of bounds`
  const body = data.subarray(at + JOURNAL_HEADER_BYTES, at + JOURNAL_HEADER_BYTES + bodyBytes)
  if (crc32(body) !== data.readUInt32LE(at + 8)) return 'CRC mismatch'
  const nameBytes = body.readUInt16LE(0)
  if (nameBytes < 1 || nameBytes > MAX_NAME_BYTES || BODY_FIXED_BYTES + nameBytes > bodyBytes) return `stream name length ${nameBytes} out of bounds`
  const segment = body.readBigUInt64LE(2 + nameBytes)
  const position = body.readBigUInt64LE(10 + nameBytes)
  if (segment > BigInt(Number.MAX_SAFE_INTEGER) || position > BigInt(Number.MAX_SAFE_INTEGER)) return 'segment or position past 2^53'
  return {
    stream: body.toString('latin1', 2, 2 + nameBytes), segment: Number(segment), position: Number(position),
    bytes: body.subarray(BODY_FIXED_BYTES + nameBytes), at, bodyBytes,
  }
}

/** The position of the first valid entry at or after `from`, or null. */
function nextValidEntry(data: Buffer, from: number, crc32: (d: Uint8Array) => number): number | null {
  for (let at = data.indexOf(MAGIC, from); at >= 0; at = data.indexOf(MAGIC, at + 1)) {
    if (typeof entryAt(data, at, crc32) !== 'string') return at
  }
  return null
}
