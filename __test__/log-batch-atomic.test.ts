/**
 * Atomic batches (SPEC §2, bit 7 of the kind byte): a multi-record append that did not reach the
 * file whole is gone after reopen, all earlier batches intact; no reader ever sees part of one.
 */
import { spawn } from 'node:child_process'
import { cpSync, readFileSync, rmSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, readSegment, segmentFile, tempDir, texts } from './helpers/log-dir.ts'
import { BATCH } from './helpers/batch-writer.ts'
import { Log } from '../ts/index.ts'

const KIND_AT = 52

/** Positions of the records of a segment that holds only small data records (framing walked by hand). */
function recordPositions(bytes: Buffer): number[] {
  const out: number[] = []
  for (let at = 0; at < bytes.length; at += 66 + bytes.readUInt32LE(at + 54)) out.push(at)
  return out
}

for (const backend of BACKENDS) {
  test(`${backend}: every record of an append but its last carries bit 7; one-event appends and checkpoints never do`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', 'one')
    await log.append('s', ['a', 'b', 'c'])
    await log.checkpoint('s')
    // Several calls group-committed in one encode run keep their own batch ends.
    await Promise.all([log.append('s', ['d', 'e']), log.append('s', 'f'), log.append('s', ['g', 'h', 'i'])])
    await log.close()
    const seg = readSegment(dir, 's')
    const kinds = recordPositions(seg).map((p) => seg[p + KIND_AT])
    t.deepEqual(kinds, [0, 0x80, 0x80, 0, 1, 0x80, 0, 0, 0x80, 0x80, 0, 1]) // close() checkpoints
    const again = await Log.open(dir, { backend, readOnly: true })
    t.deepEqual(texts(await again.read('s')), ['one', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'])
    t.true((await again.verify()).ok)
    await again.close()
  })

  test(`${backend}: a batch cut at every byte and at every record boundary is gone after reopen; earlier batches intact`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', ['x0', 'x1'])
    await log.append('s', 'y')
    const before = (await log.head('s')).hash
    await log.append('s', ['z', 'z', 'z'])
    await log.close()
    // Without the checkpoint close() wrote after the batch (the batch is then the file's end).
    const withCheckpoint = readSegment(dir, 's')
    const all = recordPositions(withCheckpoint)
    truncateSync(segmentFile(dir, 's'), all[all.length - 1])
    rmSync(segmentFile(dir, 's') + '.idx', { force: true })
    const whole = readSegment(dir, 's')
    const positions = recordPositions(whole)
    const batchStart = positions[3]
    const boundaries = new Set(positions.slice(4))
    const work = tempDir(t, 'cut')
    let cuts = 0
    for (let size = batchStart; size < whole.length; size++) {
      rmSync(work, { recursive: true, force: true })
      cpSync(dir, work, { recursive: true })
      truncateSync(segmentFile(work, 's'), size)
      for (const readOnly of [true, false]) {
        const l = await Log.open(work, { backend, readOnly })
        const label = `cut at ${size}${boundaries.has(size) ? ' (record boundary)' : ''}, readOnly ${readOnly}`
        t.deepEqual(texts(await l.read('s')), ['x0', 'x1', 'y'], label)
        const head = await l.head('s')
        t.is(head.nextOffset, 3, label)
        t.true(head.hash.equals(before), label)
        t.is(await l.get('s', 3), undefined, label)
        const iterated: string[] = []
        for await (const r of l.iterate('s')) iterated.push(r.payload.toString())
        t.deepEqual(iterated, ['x0', 'x1', 'y'], label)
        if (!readOnly && size > batchStart) {
          t.true(l.recovered.some((e) => e.action === 'truncated' && e.position === batchStart), label)
        }
        if (!readOnly) {
          // Appends continue the chain from the last whole batch.
          await l.append('s', ['n0', 'n1'])
          t.true((await l.verify('s')).ok, label)
        }
        await l.close()
      }
      cuts++
    }
    t.is(cuts, whole.length - batchStart)
    // The power-cut case: every prefix of whole records (the records are kept, the batch is not).
    for (const size of boundaries) t.true(size > batchStart && size < whole.length)
  })

  test(`${backend}: an incomplete batch whose start the saved index lists is cut there (walking back through the index)`, async (t) => {
    const dir = tempDir(t)
    const log = await openLog(t, backend, dir, { checkpointEvery: false })
    await log.append('s', 'a')
    await log.append('s', Array.from({ length: 20 }, (_, k) => `b${k}`))
    await log.close() // saves the .idx listing all 21 records
    const seg = readSegment(dir, 's')
    const positions = recordPositions(seg)
    truncateSync(segmentFile(dir, 's'), positions[15]) // 14 whole records of the batch stay
    const l = await Log.open(dir, { backend })
    t.deepEqual(texts(await l.read('s')), ['a'])
    t.is((await l.head('s')).nextOffset, 1)
    t.true(l.recovered.some((e) => e.action === 'truncated' && e.position === positions[1] && e.reason.includes('incomplete batch')))
    await l.append('s', ['c', 'd'])
    t.deepEqual(texts(await l.read('s')), ['a', 'c', 'd'])
    t.true((await l.verify()).ok)
    await l.close()
    t.is(readFileSync(segmentFile(dir, "s")).length, positions[1] + 2 * 67 + 106) // and the checkpoint close() writes
  })

  test(`${backend}: a read-only reader of a live writer never sees part of a batch (real child process)`, async (t) => {
    const dir = tempDir(t)
    const child = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, join(import.meta.dirname, 'helpers', 'batch-writer.ts'), dir, backend], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve())
      child.once('exit', (code) => reject(new Error(`writer exited with ${code}: ${stderr}`)))
    })
    let views = 0
    let maxSeen = 0
    try {
      const until = Date.now() + 4000
      while (Date.now() < until || views < 10) {
        const l = await Log.open(dir, { backend, readOnly: true }).catch(() => null) // before the stream exists
        if (l === null) continue
        try {
          const records = await l.read('b', { verify: 'none' })
          t.is(records.length % BATCH, 0, `a view of ${records.length} records`)
          for (const [i, r] of records.entries()) {
            t.true(r.payload.toString().startsWith(`${Math.floor(i / BATCH)}:${i % BATCH}/${BATCH}:`))
          }
          maxSeen = Math.max(maxSeen, records.length)
          views++
        } finally {
          await l.close()
        }
      }
    } finally {
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    t.true(maxSeen > 0)
    // After the SIGKILL, a writer's recovery keeps whole batches only.
    const after = await Log.open(dir, { backend })
    const records = await after.read('b')
    t.is(records.length % BATCH, 0)
    t.true((await after.verify()).ok)
    await after.close()
    t.log(`${views} read-only views, up to ${maxSeen} records`)
  })
}
