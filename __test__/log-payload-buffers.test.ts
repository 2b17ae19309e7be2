import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir } from './helpers/log-dir.ts'
import { interceptSegmentWrites } from './helpers/segment-writes.ts'
import { PayloadBuffers } from '../ts/engine/append-input.ts'

// Appends of 16 KiB to 4 MiB collect their events into buffers the stream reuses once their group
// was encoded and written (ts/engine/append-input.ts PayloadBuffers). Reusing one too early would store
// another append's bytes: every test below reads back what each append stored.

/** `count` events of `size` bytes, each filled with bytes that name the batch and the event. */
function batch(tag: number, count: number, size: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const b = Buffer.alloc(size, (tag * 31 + i) & 0xff)
    b.writeUInt32LE(tag, 0)
    b.writeUInt32LE(i, 4)
    return b
  })
}

async function storedPayloads(log: Awaited<ReturnType<typeof openLog>>): Promise<Buffer[]> {
  const out: Buffer[] = []
  for await (const r of log.iterate('s')) out.push(r.payload)
  return out
}

test('PayloadBuffers hands out exact sizes, reuses a kept buffer for an equal or smaller one, takes back only its own', (t) => {
  const pool = new PayloadBuffers()
  const a = pool.take(256_000)
  t.is(a.length, 256_000)
  pool.give(a)
  const b = pool.take(200_000)
  t.is(b.length, 200_000)
  t.is(b.buffer, a.buffer, 'the kept buffer is reused')
  const c = pool.take(256_000)
  t.not(c.buffer, a.buffer, 'a buffer is handed out once until it is given back')
  // Never kept: a small one (Node's shared pool), a view of someone else's buffer, and a slab of
  // Node's pool even when Buffer.poolSize is raised so that a slab starts at byte 0.
  const saved = Buffer.poolSize
  Buffer.poolSize = 256 * 1024
  try {
    const strangers = [pool.take(100), Buffer.from(new ArrayBuffer(64 * 1024)), Buffer.allocUnsafe(20 * 1024)]
    for (const x of strangers) pool.give(x)
    for (let i = 0; i < 4; i++) {
      const got = pool.take(16 * 1024)
      t.false(strangers.some((x) => x.buffer === got.buffer))
    }
  } finally {
    Buffer.poolSize = saved
  }
})

test('PayloadBuffers keeps at most 16 MiB', (t) => {
  const pool = new PayloadBuffers()
  const big = Array.from({ length: 6 }, () => pool.take(4 * 1024 * 1024))
  for (const b of big) pool.give(b)
  const again = Array.from({ length: 6 }, () => pool.take(4 * 1024 * 1024))
  t.is(again.filter((b) => big.some((x) => x.buffer === b.buffer)).length, 4)
})

for (const backend of BACKENDS) {
  test(`${backend}: sequential appends of 64 KiB-256 KiB batches store their own bytes`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { sync: 'never' })
    const want: Buffer[] = []
    for (let tag = 0; tag < 40; tag++) {
      const events = batch(tag, 64 + (tag % 4) * 64, 1000)
      await log.append('s', events)
      want.push(...events)
    }
    const got = await storedPayloads(log)
    t.is(got.length, want.length)
    t.true(got.every((p, i) => p.equals(want[i])))
  })

  test(`${backend}: concurrent appends grouped together, some refused by their conditions, store their own bytes`, async (t) => {
    const log = await openLog(t, backend, tempDir(t), { sync: 'never', checkpointEvery: false })
    const want: Buffer[] = []
    for (let round = 0; round < 10; round++) {
      const calls = Array.from({ length: 6 }, (_, k) => {
        const tag = round * 10 + k
        const events = batch(tag, 40, 1000)
        // Every third call expects an offset it will not find: refused, nothing written.
        const p = k % 3 === 2 ? log.append('s', events, { expectedOffset: 1e9 }) : log.append('s', events)
        return { p, events, refused: k % 3 === 2 }
      })
      for (const c of calls) {
        if (c.refused) t.is(codeOf(await t.throwsAsync(c.p)), 'ERR_OFFSET_CONFLICT')
        else {
          await c.p
          want.push(...c.events)
        }
      }
    }
    const got = await storedPayloads(log)
    t.is(got.length, want.length)
    t.true(got.every((p, i) => p.equals(want[i])))
  })
}

for (const backend of BACKENDS) {
  test.serial(`${backend}: an append retried after its group's write failed keeps its bytes while new appends take buffers before its retry is encoded`, async (t) => {
    // The window: between the failed group and the retry's encode, the queue awaits (the
    // checkpoint policy's look-up). A new append made from A's rejection handler, a few
    // microtasks later, lands in it; each depth below tries one point of that window, and a
    // buffer given back too early (B's, still queued) would be handed to C and overwritten.
    const writes = await interceptSegmentWrites(t, tempDir(t))
    for (let depth = 0; depth < 8; depth++) {
      const dir = tempDir(t)
      const log = await openLog(t, backend, dir, { sync: 'never' })
      const first = batch(1, 40, 1000)
      await log.append('s', first)
      const head = await log.head('s')
      writes.failNext('ENOSPC')
      const a = batch(2, 40, 1000)
      const b = batch(3, 40, 1000)
      const c = batch(4 + depth, 40, 1000)
      const pa = log.append('s', a)
      const pb = log.append('s', b, { expectedOffset: head.nextOffset, expectedHash: head.hash })
      const pc = pa.then(
        () => t.fail('A should have failed with its write'),
        async () => {
          for (let k = 0; k < depth; k++) await Promise.resolve()
          return log.append('s', c)
        },
      )
      t.is(codeOf(await t.throwsAsync(pa)), 'ERR_IO')
      await pb
      await pc
      const got = await storedPayloads(log)
      const want = [...first, ...b, ...c]
      t.is(got.length, want.length, `depth ${depth}`)
      t.true(got.every((p, i) => p.equals(want[i])), `depth ${depth}: every append stores its own bytes`)
      await log.close()
    }
  })
}
