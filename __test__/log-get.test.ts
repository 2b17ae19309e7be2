import test from 'ava'
import { crc32 } from 'node:zlib'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, events, openLog, readSegment, tempDir, writeSegment } from './helpers/log-dir.ts'

for (const backend of BACKENDS) {
  test(`${backend}: get returns what read returns, at every offset, before and after its interval's hashes are cached`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { checkpointEvery: 10, maxSegmentBytes: 900 })
    for (let i = 0; i < 35; i += 5) await log.append('s', events(i, i + 5))
    const all = await log.read('s')
    const byOffset = new Map(all.map((r) => [r.offset, r]))
    const { nextOffset } = await log.head('s')
    for (const round of [0, 1]) {
      for (let k = 0; k < nextOffset; k++) {
        const offset = (k * 7 + round * 3) % nextOffset // an order that jumps between intervals
        const got = await log.get('s', offset)
        const want = byOffset.get(offset)
        if (want === undefined) {
          t.is(got, undefined, `offset ${offset} is a checkpoint`)
          continue
        }
        t.truthy(got)
        t.is(got!.timestamp, want.timestamp)
        t.is(got!.kind, want.kind)
        t.true(got!.payload.equals(want.payload))
        t.true(got!.hash.equals(want.hash))
        t.true(got!.prevHash.equals(want.prevHash))
      }
    }
  })

  test(`${backend}: a record rewritten with a correct CRC after a get verified its interval is caught by the next get of it`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', events(0, 5))
    t.is((await log.get('s', 2))!.payload.toString(), 'event-2') // verifies the interval, caches its hashes
    const seg = readSegment(dir, 's')
    const at = 2 * 73
    seg.write('EVENT', at + 58) // event-2 → EVENT-2, CRC made right again
    seg.writeUInt32LE(crc32(seg.subarray(at, at + 58 + 7)), at + 58 + 7)
    writeSegment(dir, 's', 0, seg)
    t.is(await log.get('s', 2).then(() => 'resolved', codeOf), 'ERR_CHAIN_BROKEN')
    t.is((await log.get('s', 1))!.payload.toString(), 'event-1')
  })

  test(`${backend}: once every interval of a multi-segment stream is cached, a record of a sealed segment rewritten with a correct CRC is caught by its next get`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: 5, maxSegmentBytes: 900 })
    for (let i = 0; i < 40; i += 5) await log.append('s', events(i, i + 5))
    const { nextOffset, segments } = await log.head('s')
    t.true(segments > 1)
    // Twice: the first round verifies and caches every interval, the second is served from the cache.
    for (const _round of [0, 1]) for (let offset = 0; offset < nextOffset; offset++) await log.get('s', offset)
    const seg = readSegment(dir, 's', 0)
    const at = 2 * 73 // event-2: offsets 0..4 are 73-byte data records
    t.is(seg.toString('latin1', at + 58, at + 65), 'event-2')
    seg.write('EVENT', at + 58)
    seg.writeUInt32LE(crc32(seg.subarray(at, at + 58 + 7)), at + 58 + 7)
    writeSegment(dir, 's', 0, seg)
    t.is(await log.get('s', 2).then(() => 'resolved', codeOf), 'ERR_CHAIN_BROKEN')
    t.is(await log.get('s', 2).then(() => 'resolved', codeOf), 'ERR_CHAIN_BROKEN', 'still caught after the cache was dropped')
    t.is((await log.get('s', 1))!.payload.toString(), 'event-1')
    t.is((await log.get('s', 30))!.payload.toString(), 'event-25') // checkpoints at 5, 11, 17, 23, 29 take offsets
  })
}
