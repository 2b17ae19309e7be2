/**
 * The attack SPEC §8 exists for, as a test tool: change one record's payload and recompute every
 * chain hash after it (prev links, checkpoint payloads, CRCs), as anyone who can write the files can.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { ChainlogCore } from '../../ts/core/interface.ts'
import { loadCore } from '../../ts/core/load.ts'
import { readSegment, writeSegment } from './log-dir.ts'

interface Rec {
  start: number
  len: number
  offset: number
  kind: number
}

function recordsOf(seg: Buffer): Rec[] {
  const out: Rec[] = []
  for (let p = 0; p < seg.length; ) {
    const len = seg.readUInt32LE(p + 54)
    out.push({ start: p, len, offset: Number(seg.readBigUInt64LE(p + 4)), kind: seg[p + 52] })
    p += 66 + len
  }
  return out
}

/**
 * The attack: change record `at`'s payload (same length), then recompute every chain hash after
 * it (prev links, checkpoint payloads, CRCs), as anyone who can write the files can. The signed
 * notes that checkpoint records after it carry cannot be re-signed without the key: they are
 * kept as they were, or with `stripNotes` cut off (the checkpoints made unsigned). `edit` changes
 * record `at`'s payload in place instead of flipping its first byte.
 */
export function forge(c: ChainlogCore, dir: string, stream: string, at: number, hash: 'sha256' | 'blake3', options: { stripNotes?: boolean; edit?: (payload: Buffer) => void } = {}): void {
  const seg = readSegment(dir, stream)
  const out: Buffer[] = []
  let prev: Buffer | null = null
  for (const r of recordsOf(seg)) {
    const strip = options.stripNotes === true && r.offset > at && (r.kind & 0x7f) === 1 && r.len > 40
    const len = strip ? 40 : r.len
    const rec = Buffer.concat([seg.subarray(r.start, r.start + 58 + len), seg.subarray(r.start + 58 + r.len, r.start + 66 + r.len)])
    rec.writeUInt32LE(len, 54)
    out.push(rec)
    const body = rec.subarray(58, 58 + len)
    if (r.offset === at) {
      if (options.edit === undefined) body[0] ^= 0x01
      else options.edit(body)
    }
    if (r.offset < at) continue
    if (r.offset > at) {
      rec.set(prev!, 20)
      if ((r.kind & 0x7f) === 1) body.set(prev!, 0)
    }
    const prevHash = rec.subarray(20, 52)
    prev = c.recordHash(hash, {
      stream, prevHash, offset: r.offset, timestamp: Number(rec.readBigUInt64LE(12)), kind: r.kind, payloadLength: len, commitment: c.commitment(hash, body),
    })
    rec.writeUInt32LE(c.crc32(rec.subarray(0, 58 + len)) >>> 0, 58 + len)
  }
  writeSegment(dir, stream, 0, Buffer.concat(out))
  // Caches that would remember the old bytes go too (the attacker removes them as well).
  for (const f of readdirSync(join(dir, stream))) if (f.endsWith('.idx') || f === 'manifest.json') rmSync(join(dir, stream, f))
  rmSync(join(dir, '.clean'), { force: true })
}

/** forge() on segment 0 of a closed store with the JS core (any core writes the same bytes). */
export async function rewriteFrom(dir: string, stream: string, at: number): Promise<void> {
  const { hash } = JSON.parse(readFileSync(join(dir, 'chainlog.json'), 'utf8')) as { hash: 'sha256' | 'blake3' }
  forge(await loadCore('js'), dir, stream, at, hash)
}
