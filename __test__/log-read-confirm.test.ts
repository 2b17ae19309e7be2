import test from 'ava'
import { crc32 } from 'node:zlib'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, events, openLog, readSegment, tempDir, writeSegment } from './helpers/log-dir.ts'
import { Log, type LogOptions } from '../ts/index.ts'

/** Rewrites the first payload byte of record `n` of segment 0 and fixes its CRC (tampering). */
function tamper(dir: string, n: number): void {
  const seg = readSegment(dir, 's')
  let at = 0
  for (let i = 0; i < n; i++) at += 66 + seg.readUInt32LE(at + 54)
  const length = seg.readUInt32LE(at + 54)
  seg[at + 58] ^= 0x20
  seg.writeUInt32LE(crc32(seg.subarray(at, at + 58 + length)) >>> 0, at + 58 + length)
  writeSegment(dir, 's', 0, seg)
}

async function tampered(t: Parameters<typeof tempDir>[0], backend: (typeof BACKENDS)[number], payloads: (string | Buffer)[], n: number, options: LogOptions = {}): Promise<Log> {
  const dir = tempDir(t)
  const log = await Log.open(dir, { backend, checkpointEvery: false, ...options })
  for (const p of payloads) await log.append('s', p)
  await log.close()
  tamper(dir, n)
  return openLog(t, backend, dir, { checkpointEvery: false, ...options })
}

for (const backend of BACKENDS) {
  test(`${backend}: a tampered record (CRC fixed) that is the last one a read returns is caught by the next record's prev_hash`, async (t) => {
    // 600 KiB records: each chunk holds one record, so no link inside the chunk confirms it.
    const big = Array.from({ length: 6 }, (_, i) => Buffer.alloc(600 * 1024, 97 + i))
    const log = await tampered(t, backend, big, 3)
    for (const verify of ['checkpoint', 'genesis'] as const) {
      const err = await t.throwsAsync(log.read('s', { from: 3, limit: 1, verify }))
      t.is(codeOf(err), 'ERR_CHAIN_BROKEN', verify)
      t.is(codeOf(await t.throwsAsync(log.read('s', { from: 3, maxBytes: 1, verify }))), 'ERR_CHAIN_BROKEN', verify)
    }
    const before = await log.read('s', { from: 2, limit: 1 })
    t.deepEqual(before.map((r) => r.offset), [2])
    t.is((await log.read('s', { from: 3, limit: 1, verify: 'none' }))[0].offset, 3)
  })

  test(`${backend}: get of a tampered record (CRC fixed) fails with every verify mode but 'none', also when cached`, async (t) => {
    const log = await tampered(t, backend, events(0, 6), 3)
    t.is(codeOf(await t.throwsAsync(log.get('s', 3))), 'ERR_CHAIN_BROKEN')
    t.is(codeOf(await t.throwsAsync(log.get('s', 3, { verify: 'genesis' }))), 'ERR_CHAIN_BROKEN')
    t.is(codeOf(await t.throwsAsync(log.get('s', 3))), 'ERR_CHAIN_BROKEN') // nothing cached for it
    t.is((await log.get('s', 2))!.payload.toString(), 'event-2')
    t.is(codeOf(await t.throwsAsync(log.get('s', 3))), 'ERR_CHAIN_BROKEN')
    t.is((await log.get('s', 3, { verify: 'none' }))!.offset, 3)
  })

  test(`${backend}: a tampered record is caught when the read stops at a chunk end, also with checkpoints`, async (t) => {
    const big = Array.from({ length: 8 }, (_, i) => Buffer.alloc(600 * 1024, 97 + i))
    const log = await tampered(t, backend, big, 5, { checkpointEvery: 4 })
    // offsets: 0-3 data, 4 checkpoint, 5.. data: record 5 is the first after the checkpoint.
    t.is(codeOf(await t.throwsAsync(log.read('s', { from: 5, limit: 1 }))), 'ERR_CHAIN_BROKEN')
    t.is(codeOf(await t.throwsAsync(log.get('s', 5))), 'ERR_CHAIN_BROKEN')
    const it = log.iterate('s', { from: 5 })[Symbol.asyncIterator]()
    t.is(codeOf(await t.throwsAsync(it.next())), 'ERR_CHAIN_BROKEN')
  })
}
