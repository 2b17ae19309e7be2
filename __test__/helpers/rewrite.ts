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
 * it (prev links, checkpoint payloads, CRCs), as anyone who can write the files can.
 */
export function forge(c: ChainlogCore, dir: string, stream: string, at: number, hash: 'sha256' | 'blake3'): void {
  const seg = readSegment(dir, stream)
  let prev: Buffer | null = null
  for (const r of recordsOf(seg)) {
    const body = seg.subarray(r.start + 58, r.start + 58 + r.len)
    if (r.offset === at) body[0] ^= 0x01
    if (r.offset < at) {
      prev = null
      continue
    }
    if (r.offset > at) {
      seg.set(prev!, r.start + 20)
      if ((r.kind & 0x7f) === 1) body.set(prev!, 0)
    }
    const prevHash = seg.subarray(r.start + 20, r.start + 52)
    prev = c.recordHash(hash, {
      stream, prevHash, offset: r.offset, timestamp: Number(seg.readBigUInt64LE(r.start + 12)), kind: r.kind, payloadLength: r.len, commitment: c.commitment(hash, body),
    })
    seg.writeUInt32LE(c.crc32(seg.subarray(r.start, r.start + 58 + r.len)) >>> 0, r.start + 58 + r.len)
  }
  writeSegment(dir, stream, 0, seg)
  // Caches that would remember the old bytes go too (the attacker removes them as well).
  for (const f of readdirSync(join(dir, stream))) if (f.endsWith('.idx') || f === 'manifest.json') rmSync(join(dir, stream, f))
  rmSync(join(dir, '.clean'), { force: true })
}


/** forge() on segment 0 of a closed store with the JS core (any core writes the same bytes). */
export async function rewriteFrom(dir: string, stream: string, at: number): Promise<void> {
  const { hash } = JSON.parse(readFileSync(join(dir, 'chainlog.json'), 'utf8')) as { hash: 'sha256' | 'blake3' }
  forge(await loadCore('js'), dir, stream, at, hash)
}
