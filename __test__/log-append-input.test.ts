// An append reads each event from the caller's array exactly once: sizes and bytes come from the
// same read, whatever getters or subclasses the caller hands in.
import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'
import { ChainlogError } from '../ts/index.ts'

for (const backend of BACKENDS) {
  test(`${backend}: an event behind a getter that answers differently the second time is read once and stored as first read`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    // An earlier large append leaves bytes in the log's reused payload buffers.
    await log.append('s', [Buffer.alloc(20_000, 0x41)])
    const big = Buffer.alloc(20_000, 0x42)
    let reads = 0
    const events: Uint8Array[] = []
    Object.defineProperty(events, 0, { enumerable: true, get: () => (++reads === 1 ? big : new Uint8Array(0)) })
    events.length = 1
    const r = await log.append('s', events)
    t.is(reads, 1)
    const got = await log.get('s', r.firstOffset)
    t.true(got!.payload.equals(big))
  })

  test(`${backend}: a Uint8Array subclass cannot lie about its length`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    class Liar extends Uint8Array {
      override get byteLength(): number {
        return 1
      }
    }
    const liar = new Liar(Buffer.from('twelve bytes'))
    const r = await log.append('s', [liar, 'after'])
    const records = await log.read('s', { from: r.firstOffset })
    t.deepEqual(records.map((x) => x.payload.toString()), ['twelve bytes', 'after'])
  })

  test(`${backend}: a getter that throws fails the append cleanly and writes nothing`, async (t) => {
    const log = await openLog(t, backend, tempDir(t))
    const events: unknown[] = ['a']
    Object.defineProperty(events, 1, { enumerable: true, get: () => { throw new Error('boom') } })
    await t.throwsAsync(log.append('s', events as string[]), { message: 'boom' })
    t.deepEqual(await log.read('s'), [])
    const bad: unknown[] = ['a', 7]
    await t.throwsAsync(log.append('s', bad as string[]), { instanceOf: ChainlogError, code: 'ERR_INVALID_ARGUMENT' })
    t.is((await log.head('s')).nextOffset, 0)
  })
}
