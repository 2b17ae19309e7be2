/**
 * verify reports every problem of a stream, one per damaged record, and counts what the files
 * hold (SPEC §9 "verify", issues #14 item 5 and #18 item 2); head() of a damaged stream answers
 * instead of throwing (#18 item 1).
 */
import test from 'ava'
import { crc32 } from 'node:zlib'
import { BACKENDS, core } from './helpers/cores.ts'
import { abandon, codeOf, openLog, readSegment, tempDir, writeSegment } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

/** Record starts and kinds of a segment, as the core's scan finds them. */
async function layout(backend: BackendName, dir: string, stream: string, num = 0): Promise<{ positions: number[]; kinds: number[]; size: number }> {
  const data = readSegment(dir, stream, num)
  const c = await core(backend)
  const r = c.scanSegment({ hash: 'blake3', stream, data, basePosition: 0, firstOffset: null, prevHash: null, prevTimestamp: null, verifyChain: false, final: true })
  return { positions: [...r.positions], kinds: [...r.kinds], size: data.length }
}

/** Rewrites the record at `start` of `seg` in place with `edit`, then fixes its CRC (tampering, not a torn write). */
function editWithCrc(seg: Buffer, start: number, edit: (record: Buffer) => void): void {
  const length = seg.readUInt32LE(start + 54)
  edit(seg.subarray(start, start + 58 + length))
  seg.writeUInt32LE(crc32(seg.subarray(start, start + 58 + length)), start + 58 + length)
}

/** 20 events, an explicit checkpoint at offset 20, 20 more events (offsets 21..40), closed (a checkpoint at 41). */
async function storeWithCheckpointAt20(backend: BackendName, dir: string): Promise<void> {
  const log = await Log.open(dir, { backend, checkpointEvery: false })
  await log.append('s', Array.from({ length: 20 }, (_, i) => `event-${String(i).padStart(3, '0')}`))
  const c = await log.checkpoint('s')
  if (c.offset !== 20) throw new Error(`expected the checkpoint at offset 20, got ${c.offset}`)
  await log.append('s', Array.from({ length: 20 }, (_, i) => `event-${String(21 + i).padStart(3, '0')}`))
  await log.close()
}

for (const backend of BACKENDS) {
  test(`${backend}: a CRC-correct edit of record 7 and a damaged checkpoint payload at offset 20 are two problems, and every record is counted`, async (t) => {
    const dir = tempDir(t)
    await storeWithCheckpointAt20(backend, dir)
    const { positions, kinds } = await layout(backend, dir, 's')
    t.is(kinds[20], 1)
    const seg = readSegment(dir, 's')
    editWithCrc(seg, positions[7], (r) => { r[58] ^= 0x01 }) // event-007's payload
    editWithCrc(seg, positions[20], (r) => { r[58 + 39] ^= 0x01 }) // the checkpoint payload's offset byte
    writeSegment(dir, 's', 0, seg)

    const log = await openLog(t, backend, dir, { readOnly: true })
    const report = (await log.verify('s')).streams[0]
    t.deepEqual(report.problems.map((p) => [p.offset, p.code]), [[8, 'ERR_CHAIN_BROKEN'], [20, 'ERR_CHAIN_BROKEN']], JSON.stringify(report.problems))
    // Valid records the file holds, before and after the damage: the damaged checkpoint is the problem, not a record.
    t.is(report.records, 41)
    t.is(report.events, 40)
    t.is(report.checkpoints, 1)
    t.is(report.head.nextOffset, 42)
  })

  test(`${backend}: one flipped byte mid-segment, at any byte of the record, is one problem at its offset; the index is not blamed`, async (t) => {
    const dir = tempDir(t)
    await storeWithCheckpointAt20(backend, dir)
    const { positions } = await layout(backend, dir, 's')
    const clean = readSegment(dir, 's')
    const target = 12
    const from = positions[target]
    const to = positions[target + 1]
    for (let at = from; at < to; at++) {
      const seg = Buffer.from(clean)
      seg[at] ^= 0x20
      writeSegment(dir, 's', 0, seg)
      const log = await Log.open(dir, { backend, readOnly: true })
      try {
        const report = (await log.verify('s')).streams[0]
        const where = `byte ${at - from} of offset ${target}: ${JSON.stringify(report.problems)}`
        t.is(report.problems.length, 1, where)
        t.is(report.problems[0]?.offset, target, where)
        t.is(report.problems[0]?.code, 'ERR_CORRUPT', where)
        t.false(/index/.test(report.problems[0]?.message ?? ''), where)
        t.is(report.records, 41, `${where}: the 41 valid records are counted`)
        t.is(report.head.nextOffset, 42, where)
      } finally {
        await log.close()
      }
    }
  })

  test(`${backend}: damage in two segments, a dropped record and a duplicated one are one problem each`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false, maxSegmentBytes: 10 * 73 })
    for (let i = 0; i < 40; i++) await log.append('s', `event-${String(i).padStart(2, '0')}`)
    await log.close()
    const segs = await Promise.all([0, 1, 2, 3].map((n) => layout(backend, dir, 's', n)))
    const first = [0, 1, 2, 3].map((n) => segs.slice(0, n).reduce((k, g) => k + g.positions.length, 0))
    const at = (offset: number) => {
      const n = first.filter((f) => f <= offset).length - 1
      return { n, start: segs[n].positions[offset - first[n]], end: segs[n].positions[offset - first[n] + 1] ?? segs[n].size }
    }
    const flip = (offset: number, byte: number) => {
      const r = at(offset)
      const seg = readSegment(dir, 's', r.n)
      seg[r.start + byte] ^= 1
      writeSegment(dir, 's', r.n, seg)
    }
    const splice = (offset: number, make: (seg: Buffer, r: { start: number; end: number }) => Buffer) => {
      const r = at(offset)
      writeSegment(dir, 's', r.n, make(readSegment(dir, 's', r.n), r))
    }
    const [a, b, c, d] = [first[0] + 3, first[1] + 3, first[2] + 3, first[3] + 3]
    flip(a, 60) // a flipped payload byte
    splice(b, (seg, r) => Buffer.concat([seg.subarray(0, r.start), seg.subarray(r.end)])) // a record dropped
    splice(c, (seg, r) => Buffer.concat([seg.subarray(0, r.end), seg.subarray(r.start)])) // a record duplicated
    flip(d, 30) // a flipped prev_hash byte (CRC now wrong)
    const reader = await openLog(t, backend, dir, { readOnly: true })
    // The files changed size under their index and manifest: those disagree too (and are reported).
    const problems = (await reader.verify('s')).streams[0].problems.filter((p) => !/index|manifest/.test(p.message))
    t.deepEqual(problems.map((p) => p.offset), [a, b, c + 1, d], JSON.stringify(problems, null, 1))
  })

  test(`${backend}: head() of a stream damaged behind its head answers with the damage, and appends go on`, async (t) => {
    const dir = tempDir(t)
    // A head that open does not re-check: an index saved past the damage, no checkpoint since.
    const log = await Log.open(dir, { backend, checkpointEvery: false })
    await log.append('s', Array.from({ length: 20 }, (_, i) => `event-${String(i).padStart(2, '0')}`))
    await log.close() // checkpoint at 20
    const again = await Log.open(dir, { backend, checkpointEvery: false })
    await again.append('s', Array.from({ length: 20 }, (_, i) => `event-${String(21 + i).padStart(2, '0')}`))
    await again.flush() // saves the index
    await again.append('s', 'after')
    await abandon(again)
    const { positions } = await layout(backend, dir, 's')
    const seg = readSegment(dir, 's')
    seg[positions[30] + 60] ^= 0x20
    writeSegment(dir, 's', 0, seg)

    const reader = await openLog(t, backend, dir, { readOnly: true })
    const head = await reader.head('s')
    t.is(head.nextOffset, 42)
    t.like(head.damage, { code: 'ERR_CORRUPT', offset: 30, segment: 0, position: positions[30], appendsRefused: false })
    t.is(head.lastCheckpoint, null, 'hidden by the damage')
    await reader.close()

    // (A writer whose checkpoint policy looks back across the damage refuses them: see StreamDamage.)
    const writer = await openLog(t, backend, dir, { checkpointEvery: false })
    const r = await writer.append('s', 'more')
    t.is(r.firstOffset, 42, 'appends go on past damage behind the head')
  })

  test(`${backend}: head() of a stream whose damage open found at its end answers with the head before it, and appends are refused`, async (t) => {
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false })
    await log.append('s', Array.from({ length: 10 }, (_, i) => `event-${i}`))
    await log.append('other', 'fine')
    await abandon(log) // no index on disk: open scans the whole segment
    const seg = readSegment(dir, 's')
    seg[5 * 73 + 60] ^= 0x20
    writeSegment(dir, 's', 0, seg)

    const writer = await openLog(t, backend, dir)
    const head = await writer.head('s')
    t.is(head.nextOffset, 5)
    const before = await writer.read('s', { limit: 5 })
    t.true(head.hash.equals(before[4].hash), 'the head is the record before the damage')
    t.like(head.damage, { code: 'ERR_CORRUPT', offset: 5, segment: 0, position: 5 * 73, appendsRefused: true })
    const err = await t.throwsAsync(writer.append('s', 'x'))
    t.is(codeOf(err), 'ERR_CORRUPT')
    t.is((await writer.head('other')).damage, undefined)
  })
}
