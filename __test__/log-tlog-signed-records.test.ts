/**
 * SPEC §2 "checkpoint payload" and §8 "signed checkpoints", on both cores: in a store that signs,
 * every checkpoint record — the policy's, checkpoint()'s and close()'s — carries the signed note
 * of the records before it; a signer's failure leaves the checkpoint out (appends go on) and is
 * raised by checkpoint() / close(); verify() checks every embedded note.
 */
import test from 'ava'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS, core } from './helpers/cores.ts'
import { checkpointRecords, codeOf, readSegment, tempDir } from './helpers/log-dir.ts'
import { forge } from './helpers/rewrite.ts'
import { fill, open, ORIGIN } from './helpers/tlog-store.ts'
import { Log, type LogOptions } from '../ts/index.ts'
import { generateKey, openCheckpoint, parseSignerKey } from '../ts/tlog/index.ts'


test('both cores write the same bytes for a store that signs: checkpoint records with their notes included', async (t) => {
  const key = generateKey(ORIGIN)
  const segments: Buffer[] = []
  for (const backend of BACKENDS) {
    const dir = tempDir(t, backend)
    const log = await open(t, dir, { backend, hash: 'sha256', checkpointEvery: 7, tlog: { origin: ORIGIN, signer: key.skey } })
    await fill(log, 's', 0, 30)
    await log.checkpoint('s')
    await fill(log, 's', 30, 3)
    await log.close()
    segments.push(readSegment(dir, 's'))
  }
  t.true(segments[0].equals(segments[1]))
})

for (const backend of BACKENDS) {
  test(`${backend}: every checkpoint record carries the signed note of the records before it; the explicit one is what checkpoint() returns; close() publishes the newest`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey(ORIGIN)
    const log = await open(t, dir, { backend, hash: 'sha256', checkpointEvery: 10, tlog: { origin: ORIGIN, signer: key.skey } })
    await fill(log, 's', 0, 25)
    const explicit = await log.checkpoint('s')
    await fill(log, 's', 25, 4)
    const vkey = log.vkey('s')
    await log.close()
    const records = checkpointRecords(dir, 's')
    // Policy checkpoints at 10 and 21, checkpoint() at 27, close()'s at 32.
    t.deepEqual(records.map((c) => c.offset), [10, 21, 27, 32])
    for (const c of records) {
      t.not(c.note, null, `checkpoint ${c.offset} is signed`)
      t.is(c.length, 40 + Buffer.byteLength(c.note!))
      t.is(c.prefix.readBigUInt64LE(32), BigInt(c.offset), 'the 40-byte prefix is unchanged: prev_hash ‖ offset')
      const opened = openCheckpoint(c.note!, { vkey, origin: ORIGIN })
      t.is(opened.size, c.offset, 'the note covers exactly the records before its checkpoint')
    }
    t.is(records[2].note, explicit.note!)
    t.true(openCheckpoint(records[2].note!, { vkey, origin: ORIGIN }).root.equals(explicit.root))
    t.is(readFileSync(join(dir, 's', 'checkpoint'), 'utf8'), records[3].note!, 'close() published the note of its own checkpoint')
    const again = await open(t, dir, { backend, hash: 'sha256', tlog: { origin: ORIGIN, signer: key.skey } })
    for (const c of records) t.true((await again.treeHead('s', c.offset)).root.equals(openCheckpoint(c.note!, { vkey, origin: ORIGIN }).root))
    const report = await again.verify()
    t.true(report.ok, JSON.stringify(report.streams.map((s) => s.problems)))
    t.is(report.streams[0].checkpoints, 4)
  })

  test(`${backend}: close() publishes the newest note a policy checkpoint carries when nothing was appended after it`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey(ORIGIN)
    const log = await open(t, dir, { backend, hash: 'sha256', checkpointEvery: 5, tlog: { origin: ORIGIN, signer: key.skey } })
    await fill(log, 's', 0, 10) // checkpoints at 5 and 11 (after the tenth event)
    t.false(existsSync(join(dir, 's', 'checkpoint')), 'a policy checkpoint under sync "none" is not published: its records are not durable yet')
    await log.close()
    const records = checkpointRecords(dir, 's')
    t.deepEqual(records.map((c) => c.offset), [5, 11])
    t.is(readFileSync(join(dir, 's', 'checkpoint'), 'utf8'), records[1].note!)
  })

  test(`${backend}: a store that does not sign writes 40-byte checkpoints, as before`, async (t) => {
    const dir = tempDir(t)
    const log = await open(t, dir, { backend, hash: 'sha256', checkpointEvery: 4 })
    await fill(log, 's', 0, 9)
    await log.checkpoint('s')
    await log.close()
    const records = checkpointRecords(dir, 's')
    t.true(records.length >= 3)
    t.true(records.every((c) => c.length === 40 && c.note === null))
  })

  test(`${backend}: a reopened store goes on signing its policy checkpoints (its tree read back from tiles and records)`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey(ORIGIN)
    const opts: LogOptions = { backend, hash: 'sha256', checkpointEvery: 300, tlog: { origin: ORIGIN, signer: key.skey } }
    let log = await open(t, dir, opts)
    await fill(log, 's', 0, 700)
    await log.close()
    log = await open(t, dir, opts)
    await fill(log, 's', 700, 400)
    await log.close()
    const vkey = (await open(t, dir, opts)).vkey('s')
    const records = checkpointRecords(dir, 's')
    t.true(records.length >= 5)
    for (const c of records) t.is(openCheckpoint(c.note!, { vkey, origin: ORIGIN }).size, c.offset)
  })

  test(`${backend}: a failing signer leaves policy checkpoints out while appends go on; checkpoint() and close() raise it; the next checkpoint signs`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey(ORIGIN)
    const inner = parseSignerKey(key.skey)
    let fail = false
    let calls = 0
    const signer = { publicKey: inner.publicKey, sign: async (m: Uint8Array) => (calls++, fail ? Promise.reject(new Error('HSM offline')) : inner.sign(m)) }
    let log = await open(t, dir, { backend, hash: 'sha256', checkpointEvery: 10, tlog: { origin: ORIGIN, signer } })
    await fill(log, 's', 0, 10) // checkpoint at 10
    fail = true
    const before = calls
    await fill(log, 's', 10, 35) // no checkpoint lands; one attempt per 10 records, not one per append
    t.is((await log.head('s')).nextOffset, 46, '45 events and the one checkpoint that was signed')
    t.true(calls - before <= 4, `the signer was asked ${calls - before} times for 35 appends`)
    t.is(codeOf(await log.checkpoint('s').catch((e) => e)), 'ERR_IO')
    t.is(codeOf(await log.close().catch((e) => e)), 'ERR_IO', 'close() tries once more and raises the failure')
    t.deepEqual(checkpointRecords(dir, 's').map((c) => c.offset), [10])
    fail = false
    log = await open(t, dir, { backend, hash: 'sha256', checkpointEvery: 10, tlog: { origin: ORIGIN, signer } })
    t.is((await log.read('s')).length, 45, 'every acknowledged event is there')
    const next = await log.checkpoint('s')
    t.is(next.offset, 46)
    t.is(openCheckpoint(next.note!, { vkey: log.vkey('s'), origin: ORIGIN }).size, 46)
    t.true((await log.verify()).ok)
  })

  test(`${backend}: verify() checks the notes in checkpoint records: unparsable is ERR_CORRUPT, another size or key is ERR_CHAIN_BROKEN`, async (t) => {
    const key = generateKey(ORIGIN)
    const stranger = generateKey(ORIGIN)
    const c = await core(backend)
    const make = async (label: string): Promise<{ dir: string; vkey: string }> => {
      const dir = tempDir(t, label)
      const log = await open(t, dir, { backend, hash: 'sha256', checkpointEvery: 10, tlog: { origin: ORIGIN, signer: key.skey } })
      await fill(log, 's', 0, 35) // checkpoints at 10, 21, 32 and close()'s at 38
      const vkey = log.vkey('s')
      await log.close()
      return { dir, vkey }
    }
    const problemsOf = async (dir: string, keys?: string[]) => {
      const log = await open(t, dir, { backend })
      const r = await log.verify('s', keys === undefined ? {} : { keys })
      await log.close()
      return r.streams[0].problems.map((p) => ({ offset: p.offset, code: p.code }))
    }
    // Garbage where the note was (the chain recomputed, as an attacker would).
    const garbled = await make('garbled')
    forge(c, garbled.dir, 's', 21, 'sha256', { edit: (payload) => payload.fill(0x7e, 40) })
    // The edited checkpoint is a leaf too: the later notes (32, 38) and the published file no longer match from it on.
    const broken = { offset: 21, code: 'ERR_CHAIN_BROKEN' }
    t.deepEqual(await problemsOf(garbled.dir), [{ offset: 21, code: 'ERR_CORRUPT' }, broken, broken, broken])
    // The note's size line changed (same length): another tree; with the key, a bad signature too.
    const resized = await make('resized')
    forge(c, resized.dir, 's', 21, 'sha256', {
      edit: (payload) => {
        const note = payload.subarray(40).toString('utf8').replace('\n21\n', '\n12\n')
        payload.write(note, 40, 'utf8')
      },
    })
    t.deepEqual(await problemsOf(resized.dir), [broken, broken, broken, broken])
    t.deepEqual(await problemsOf(resized.dir, [resized.vkey]), [broken, broken, broken, broken])
    // Untouched records, checked against another key: every note is refused.
    const intact = await make('intact')
    t.deepEqual(await problemsOf(intact.dir), [])
    t.deepEqual(await problemsOf(intact.dir, [intact.vkey]), [])
    const strangerKey = (await open(t, tempDir(t, 'k'), { backend, tlog: { origin: ORIGIN, signer: stranger.skey } })).vkey('s')
    const refused = await problemsOf(intact.dir, [strangerKey])
    t.deepEqual(refused.map((p) => p.offset).filter((o) => o !== null), [10, 21, 32, 38])
    t.true(refused.every((p) => p.code === 'ERR_CHAIN_BROKEN'))
  })

  test(`${backend}: a memory log that signs carries notes in its checkpoint records too`, async (t) => {
    const key = generateKey(ORIGIN)
    const log = await Log.memory({ backend, hash: 'sha256', checkpointEvery: 3, tlog: { origin: ORIGIN, signer: key.skey } })
    t.teardown(() => log.close().catch(() => {}))
    await fill(log, 's', 0, 7)
    const cp = await log.checkpoint('s')
    t.is(openCheckpoint(cp.note!, { vkey: log.vkey('s'), origin: ORIGIN }).size, cp.offset)
    const dir = tempDir(t, 'saved')
    await log.saveTo(dir)
    t.true(checkpointRecords(dir, 's').every((c) => c.note !== null && openCheckpoint(c.note, { vkey: log.vkey('s'), origin: ORIGIN }).size === c.offset))
  })
}
