/**
 * Fault suite, part 5: tampering by someone who can write the files and recompute CRCs. Each
 * kind is applied to a closed store (streams 'a' and 'b', several segments, checkpoints) at
 * random places; verify() must report it in the right stream at the offset where the history
 * stops holding together. (Re-hashing a whole stream from the first forged record on cannot be
 * caught from the files alone: that is what keeping the head hash elsewhere is for.)
 */
import test, { type ExecutionContext } from 'ava'
import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS, core } from './helpers/cores.ts'
import { faultSize, figures } from './helpers/faults.ts'
import { segmentFile, segmentNumbers, tempDir } from './helpers/log-dir.ts'
import { batchInput } from './helpers/batch.ts'
import { int, payload, rng, seedFromEnv } from './helpers/random.ts'
import { Log } from '../ts/index.ts'
import type { BackendName, ChainlogCore } from '../ts/core/interface.ts'

const SEED = seedFromEnv(777001)

interface Rec {
  segment: number
  start: number
  end: number
  offset: number
  kind: number
}

async function buildStore(t: ExecutionContext, backend: BackendName, seed: number): Promise<string> {
  const rand = rng(seed)
  const dir = tempDir(t, 'tamper-src')
  const log = await Log.open(dir, { backend, checkpointEvery: int(rand, 4, 9), maxSegmentBytes: int(rand, 600, 1000), compression: rand() < 0.5 ? 'none' : 'lz4' })
  for (let a = 0; a < 14; a++) {
    for (const s of ['a', 'b']) await log.append(s, Array.from({ length: int(rand, 1, 3) }, () => payload(rand, int(rand, 1, 50))))
  }
  await log.close()
  return dir
}

function recordsOf(c: ChainlogCore, dir: string, stream: string): Rec[] {
  const out: Rec[] = []
  for (const n of segmentNumbers(dir, stream)) {
    const data = readFileSync(segmentFile(dir, stream, n))
    const r = c.scanSegment({ hash: 'blake3', stream, data, basePosition: 0, firstOffset: null, prevHash: null, prevTimestamp: null, verifyChain: false, final: true })
    for (let k = 0; k < r.count; k++) out.push({ segment: n, start: r.positions[k], end: k + 1 < r.count ? r.positions[k + 1] : data.length, offset: r.offsets[k], kind: r.kinds[k] })
  }
  return out
}

/** Recomputes the CRC of the record at `at` in `seg` (after a field was changed). */
function fixCrc(c: ChainlogCore, seg: Buffer, at: number): void {
  const len = seg.readUInt32LE(at + 54)
  seg.writeUInt32LE(c.crc32(seg.subarray(at, at + 58 + len)) >>> 0, at + 58 + len)
}

type Tamper = (c: ChainlogCore, dir: string, rand: () => number) => { stream: string; offsets: number[]; what: string }

const edit = (dir: string, stream: string, n: number, f: (seg: Buffer) => Buffer) => writeFileSync(segmentFile(dir, stream, n), f(readFileSync(segmentFile(dir, stream, n))))

const TAMPERS: Record<string, Tamper> = {
  'a payload changed and its CRC fixed': (c, dir, rand) => {
    const recs = recordsOf(c, dir, 'a').filter((r) => (r.kind & 0x7f) === 0 && r.end - r.start > 66)
    const r = recs[int(rand, 0, recs.length - 1)]
    edit(dir, 'a', r.segment, (seg) => {
      seg[r.start + 58 + int(rand, 0, r.end - r.start - 67)] ^= int(rand, 1, 255)
      fixCrc(c, seg, r.start)
      return seg
    })
    // The successor's prev link (or a following checkpoint's payload) no longer matches.
    return { stream: 'a', offsets: [r.offset, r.offset + 1], what: `payload of a@${r.offset}` }
  },
  'a record moved to another offset (offset field rewritten, CRC fixed)': (c, dir, rand) => {
    const recs = recordsOf(c, dir, 'b')
    const r = recs[int(rand, 0, recs.length - 1)]
    edit(dir, 'b', r.segment, (seg) => {
      seg.writeBigUInt64LE(BigInt(r.offset + int(rand, 1, 5)), r.start + 4)
      fixCrc(c, seg, r.start)
      return seg
    })
    return { stream: 'b', offsets: [r.offset], what: `offset of b@${r.offset}` }
  },
  'a record copied over the same offset of another stream': (c, dir, rand) => {
    const ra = recordsOf(c, dir, 'a')
    const rb = recordsOf(c, dir, 'b')
    const o = int(rand, 1, Math.min(ra.length, rb.length) - 2)
    const x = ra[o]
    const y = rb[o]
    const rec = readFileSync(segmentFile(dir, 'a', x.segment)).subarray(x.start, x.end)
    edit(dir, 'b', y.segment, (seg) => Buffer.concat([seg.subarray(0, y.start), rec, seg.subarray(y.end)]))
    return { stream: 'b', offsets: [o], what: `a@${o} copied over b@${o}` }
  },
  "a whole stream's segments moved to another stream": (_c, dir) => {
    rmSync(join(dir, 'b'), { recursive: true })
    cpSync(join(dir, 'a'), join(dir, 'b'), { recursive: true })
    // Record 0 has no predecessor to disagree with; record 1's prev_hash is a's hash, not b's.
    return { stream: 'b', offsets: [1], what: 'a copied to b' }
  },
  'the prefix replaced with a forged first record': (c, dir, rand) => {
    const recs = recordsOf(c, dir, 'a').filter((r) => r.segment === 0)
    const k = int(rand, 1, recs.length - 1)
    const forged = c.encodeBatch(batchInput({ payloads: ['forged genesis'], stream: 'a', firstOffset: 0, timestamps: [1] })).bytes
    edit(dir, 'a', 0, (seg) => Buffer.concat([forged, seg.subarray(recs[k].start)]))
    return { stream: 'a', offsets: [1], what: `a@0..${k - 1} replaced by one forged record` }
  },
  'the prefix replaced with a forged genesis at a later offset': (c, dir, rand) => {
    const recs = recordsOf(c, dir, 'a').filter((r) => r.segment === 0)
    const k = int(rand, 1, recs.length - 1)
    const seg0 = readFileSync(segmentFile(dir, 'a', 0))
    // The classic hole of a chain without offsets in its hash: a "genesis" (zero prev_hash) standing in for records 0..k-1.
    const rec = Buffer.from(seg0.subarray(recs[k].start, recs[k].end))
    rec.fill(0, 20, 52)
    fixCrc(c, rec, 0)
    writeFileSync(segmentFile(dir, 'a', 0), Buffer.concat([rec, seg0.subarray(recs[k].end)]))
    return { stream: 'a', offsets: [0], what: `a@0..${k} replaced by a zero-prev record at offset ${k}` }
  },
  'a record dropped': (c, dir, rand) => {
    const recs = recordsOf(c, dir, 'b')
    const r = recs[int(rand, 1, recs.length - 2)]
    edit(dir, 'b', r.segment, (seg) => Buffer.concat([seg.subarray(0, r.start), seg.subarray(r.end)]))
    return { stream: 'b', offsets: [r.offset], what: `b@${r.offset} dropped` }
  },
  'a record duplicated': (c, dir, rand) => {
    const recs = recordsOf(c, dir, 'a')
    const r = recs[int(rand, 0, recs.length - 2)]
    edit(dir, 'a', r.segment, (seg) => Buffer.concat([seg.subarray(0, r.end), seg.subarray(r.start, r.end), seg.subarray(r.end)]))
    return { stream: 'a', offsets: [r.offset + 1], what: `a@${r.offset} duplicated` }
  },
  'two segments swapped': (c, dir, rand) => {
    const nums = segmentNumbers(dir, 'b')
    const i = int(rand, 0, nums.length - 2)
    const j = int(rand, i + 1, nums.length - 1)
    const recs = recordsOf(c, dir, 'b')
    const first = recs.find((r) => r.segment === nums[i])!.offset
    for (const ext of ['', '.idx']) {
      const p = segmentFile(dir, 'b', nums[i]) + ext
      const q = segmentFile(dir, 'b', nums[j]) + ext
      renameSync(p, p + '.x')
      renameSync(q, p)
      renameSync(p + '.x', q)
    }
    return { stream: 'b', offsets: [first], what: `b segments ${nums[i]} and ${nums[j]} swapped` }
  },
}

for (const backend of BACKENDS) {
  for (const [kind, tamper] of Object.entries(TAMPERS)) {
    test(`${backend}: tampering — ${kind} — is reported by verify with the stream and offset`, async (t) => {
      const c = await core(backend)
      const cases = faultSize(3, 60)
      for (let i = 0; i < cases; i++) {
        const seed = SEED + i * 17 + kind.length + (backend === 'js' ? 1 : 0)
        const rand = rng(seed)
        const src = await buildStore(t, backend, seed)
        const dir = tempDir(t, 'tamper')
        cpSync(src, dir, { recursive: true })
        const { stream, offsets, what } = tamper(c, dir, rand)
        const f = figures('tampering')
        f.trials++
        f.faults++
        const log = await Log.open(dir, { backend, readOnly: true })
        try {
          const report = await log.verify()
          const s = report.streams.find((x) => x.stream === stream)
          const other = report.streams.find((x) => x.stream !== stream)
          t.false(report.ok, `seed ${seed}: ${what}: verify missed it`)
          t.true(s !== undefined && s.problems.length > 0, `seed ${seed}: ${what}: reported in stream ${stream}`)
          t.true(offsets.includes(s!.problems[0]?.offset as number), `seed ${seed}: ${what}: first problem ${JSON.stringify(s!.problems[0])}, expected offset ${offsets.join(' or ')}`)
          t.deepEqual(other?.problems ?? [], [], `seed ${seed}: the other stream is clean`)
          if (!report.ok) f.found++
          f.records += report.streams.reduce((n, x) => n + x.records, 0)
        } finally {
          await log.close()
        }
      }
    })
  }
}
