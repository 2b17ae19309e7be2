/**
 * Retention (SPEC §9): log.prune(stream, { before }) drops whole sealed segments after the tree's
 * tiles and pruned.json are durable; reads start at the first kept offset and a lower one is
 * ERR_PRUNED; the kept suffix verifies; proofs and verify({ trusted }) of kept records still check
 * against notes signed before the prune; tampering with pruned.json or the tiles below it is
 * reported, never accepted.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, segmentNumbers, tempDir, fileHashes } from './helpers/log-dir.ts'
import { Log, type LogOptions, type LogRecord } from '../ts/index.ts'
import { generateKey, hashLeaf, verifyConsistency, verifyConsistencyProof, verifyInclusion, verifyProof } from '../ts/tlog/index.ts'

const ROOT = join(import.meta.dirname, '..')
const ORIGIN = 'example.com/audit'
const T0 = 1_700_000_000_000
/** A record of a 7-byte payload is 73 bytes: ten to a segment. */
const SEGMENT = { maxSegmentBytes: 730, checkpointEvery: false } as const

const ev = (i: number) => `e-${String(i).padStart(5, '0')}`

async function open(t: ExecutionContext, dir: string, options: LogOptions): Promise<Log> {
  const log = await Log.open(dir, options)
  t.teardown(() => log.close().catch(() => {}))
  return log
}

/** `n` one-event appends with fixed timestamps (T0 + offset). */
async function fill(log: Log, from: number, n: number, stream = 's'): Promise<void> {
  for (let i = from; i < from + n; i++) await log.append(stream, ev(i), { timestamp: T0 + i })
}

const offsets = (rs: LogRecord[]) => rs.map((r) => r.offset)
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

async function collect(it: AsyncIterable<LogRecord>, max = Infinity): Promise<LogRecord[]> {
  const out: LogRecord[] = []
  for await (const r of it) {
    out.push(r)
    if (out.length >= max) break
  }
  return out
}

for (const backend of BACKENDS) {
  test(`${backend}: prune drops whole sealed segments below before; reads start at firstOffset, lower offsets are ERR_PRUNED; the kept suffix verifies, before and after a reopen`, async (t) => {
    const dir = tempDir(t)
    let log = await open(t, dir, { backend, ...SEGMENT })
    await fill(log, 0, 95)
    t.deepEqual(segmentNumbers(dir, 's'), range(0, 10))
    // 47 is inside segment 4 (offsets 40..49): segments 0..3 go, 4 stays.
    const r = await log.prune('s', { before: 47 })
    t.deepEqual(r, { firstOffset: 40, segments: 4, bytes: 4 * 730 })
    t.deepEqual(segmentNumbers(dir, 's'), range(4, 10))
    for (const n of range(0, 4)) t.false(existsSync(join(dir, 's', `segment_${String(n).padStart(6, '0')}.log.idx`)))
    const pruned = JSON.parse(readFileSync(join(dir, 's', 'pruned.json'), 'utf8'))
    const all = await collect(log.iterate('s', { from: 40 }), 1)
    t.is(pruned.firstOffset, 40)
    t.is(pruned.firstSegment, 4)
    t.is(pruned.prevHash, all[0].prevHash.toString('hex'), 'prevHash is the chain hash of the last pruned record')
    t.is(pruned.prevTimestamp, T0 + 39)
    const check = async (l: Log) => {
      const head = await l.head('s')
      t.is(head.firstOffset, 40)
      t.true(head.nextOffset === 95 || head.nextOffset === 96, 'close() may have added a checkpoint at 95')
      t.is(head.segments, 6)
      t.deepEqual(offsets(await l.read('s')), range(40, 95))
      t.deepEqual(offsets(await l.read('s', { fromTime: T0 })), range(40, 95), 'an earlier fromTime starts at the first kept record')
      t.deepEqual(offsets(await l.read('s', { from: 40, limit: 3, verify: 'genesis' })), [40, 41, 42])
      t.deepEqual(offsets(await collect(l.iterate('s'))), range(40, 95))
      t.is((await l.get('s', 40))?.payload.toString(), ev(40))
      for (const lower of [0, 39]) {
        const err = await l.read('s', { from: lower }).catch((e) => e)
        t.is(codeOf(err), 'ERR_PRUNED')
        t.is(err.details.firstOffset, 40)
        t.is(codeOf(await l.get('s', lower).catch((e) => e)), 'ERR_PRUNED')
        t.is(codeOf(await collect(l.iterate('s', { from: lower })).catch((e) => e)), 'ERR_PRUNED')
      }
      const v = await l.verify('s')
      t.true(v.ok, JSON.stringify(v.streams[0].problems))
      t.is(v.streams[0].firstOffset, 40)
      t.is(v.streams[0].records, head.nextOffset - 40)
    }
    await check(log)
    await log.close()
    log = await open(t, dir, { backend, ...SEGMENT })
    await check(log)
    const reader = await open(t, dir, { backend, readOnly: true })
    await check(reader)
    // Appends go on; a later prune moves the start again; before ≤ firstOffset changes nothing.
    await fill(log, 96, 10) // after the checkpoint at 95
    t.deepEqual(await log.prune('s', { before: 12 }), { firstOffset: 40, segments: 0, bytes: 0 })
    t.deepEqual(await log.prune('s', { before: 70, dryRun: true }), { firstOffset: 70, segments: 3, bytes: 3 * 730 })
    t.deepEqual(segmentNumbers(dir, 's'), range(4, 11), 'a dry run deletes nothing')
    t.deepEqual(await log.prune('s', { before: 70 }), { firstOffset: 70, segments: 3, bytes: 3 * 730 })
    t.deepEqual(offsets(await log.read('s')), range(70, 106).filter((o) => o !== 95))
    t.true((await log.verify('s')).ok)
  })

  test(`${backend}: pruning every sealed segment keeps the active one (even empty): the head and appends go on, after a reopen too`, async (t) => {
    const dir = tempDir(t)
    let log = await open(t, dir, { backend, ...SEGMENT })
    await fill(log, 0, 30) // segments 0..2 full; the next append starts segment 3
    await log.append('s', ev(30), { timestamp: T0 + 30 })
    t.deepEqual(await log.prune('s', { before: 1000 }).catch((e) => codeOf(e)), 'ERR_INVALID_ARGUMENT', 'before past the next offset')
    t.deepEqual(await log.prune('s', { before: 31 }), { firstOffset: 30, segments: 3, bytes: 3 * 730 })
    t.deepEqual(offsets(await log.read('s')), [30])
    await log.close()
    log = await open(t, dir, { backend, ...SEGMENT })
    const head = await log.head('s')
    t.is(head.firstOffset, 30)
    t.is(head.nextOffset, 32, 'record 30 and the checkpoint close() wrote')
    await fill(log, 32, 20)
    await log.close()
    log = await open(t, dir, { backend, ...SEGMENT })
    t.deepEqual(offsets(await log.read('s')), range(30, 52).filter((o) => o !== 31))
    t.true((await log.verify('s')).ok)
    // Prune to where the active segment starts: only an empty active segment may be left.
    const active = Math.max(...segmentNumbers(dir, 's'))
    const next = (await log.head('s')).nextOffset
    await log.prune('s', { before: next })
    t.deepEqual(segmentNumbers(dir, 's'), [active])
    await log.close()
    log = await open(t, dir, { backend, ...SEGMENT })
    const again = await log.head('s')
    t.is(again.nextOffset, next)
    await log.append('s', 'x')
    t.true((await log.verify('s')).ok)
  })

  test(`${backend}: proofs, consistency proofs and verify({ trusted }) of kept records check against notes signed before the prune (the tiles hold the pruned leaves), after a reopen too`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey(ORIGIN)
    const opts: LogOptions = { backend, hash: 'sha256', maxSegmentBytes: 730 * 3, checkpointEvery: false, tlog: { origin: ORIGIN, signer: key.skey } }
    let log = await open(t, dir, opts)
    await fill(log, 0, 300)
    const early = await log.checkpoint('s') // size 300, signed before any prune
    await fill(log, 301, 400)
    const late = await log.checkpoint('s')
    const vkey = log.vkey('s')
    const pruned = await log.prune('s', { before: 520 })
    t.true(pruned.firstOffset > 300 && pruned.firstOffset <= 520, `pruned to ${pruned.firstOffset}`)
    const check = async (l: Log) => {
      const trusted = await l.verify('s', { trusted: [early.note!, late.note!], keys: [vkey] })
      t.true(trusted.ok, JSON.stringify(trusted.streams[0].problems))
      t.true((await l.treeHead('s', early.treeSize)).root.equals(early.root), 'the root of a tree wholly below the prune comes from the tiles')
      for (const offset of [pruned.firstOffset, pruned.firstOffset + 1, late.treeSize - 1]) {
        const p = await l.prove('s', offset, { treeSize: late.treeSize })
        // The proof checks against the root of the note signed before the prune.
        t.notThrows(() => verifyInclusion(offset, late.treeSize, hashLeaf(p.extra === undefined ? Buffer.alloc(0) : createHash('sha256').update(p.extra).digest()), p.proof, late.root))
        if (p.text !== undefined) t.is(verifyProof(p.text, { vkey, origin: ORIGIN, hash: 'sha256' }).index, offset)
      }
      t.is(codeOf(await l.prove('s', 5).catch((e) => e)), 'ERR_PRUNED', 'a pruned record has no preimage left to prove')
      const c = await l.consistency('s', early.treeSize, late.treeSize)
      t.notThrows(() => verifyConsistency(early.treeSize, late.treeSize, c.proof, early.root, late.root))
      if (c.text !== undefined) t.is(verifyConsistencyProof(c.text, { vkey, origin: ORIGIN, old: early.note! }).size, late.treeSize)
    }
    await check(log)
    await fill(log, 702, 30)
    const after = await log.checkpoint('s') // signed after the prune, over tiles + records
    t.is(verifyConsistencyProof((await log.consistency('s', early.treeSize)).text!, { vkey, origin: ORIGIN, old: early.note! }).size, after.treeSize)
    await log.close()
    log = await open(t, dir, opts)
    await check(log)
    t.true((await log.verify('s', { trusted: [after.note!], keys: [vkey] })).ok)
  })

  test(`${backend}: tampering — pruned.json's prevHash, firstOffset, its removal or garbage, and a kept tile below firstOffset — is reported, never accepted`, async (t) => {
    const base = tempDir(t)
    const key = generateKey(ORIGIN)
    const opts: LogOptions = { backend, hash: 'sha256', ...SEGMENT, tlog: { origin: ORIGIN, signer: key.skey } }
    {
      const log = await open(t, base, opts)
      await fill(log, 0, 600)
      await log.checkpoint('s')
      await log.prune('s', { before: 500 })
      await log.close()
    }
    const note = readFileSync(join(base, 's', 'checkpoint'), 'utf8')
    const copy = (label: string) => {
      const d = tempDir(t, label)
      rmSync(d, { recursive: true, force: true })
      cpSync(base, d, { recursive: true })
      return d
    }
    const prunedFile = (d: string) => join(d, 's', 'pruned.json')
    const state = JSON.parse(readFileSync(prunedFile(base), 'utf8'))
    t.is(state.firstOffset, 500)

    // prevHash changed: the first kept record no longer links to it.
    let d = copy('prev')
    writeFileSync(prunedFile(d), JSON.stringify({ ...state, prevHash: 'ab'.repeat(32) }))
    let log = await open(t, d, { backend })
    let v = await log.verify('s')
    t.false(v.ok)
    t.is(v.streams[0].problems[0].offset, 500)
    t.is(v.streams[0].problems[0].code, 'ERR_CHAIN_BROKEN')
    t.is(codeOf(await log.read('s', { limit: 1 }).catch((e) => e)), 'ERR_CHAIN_BROKEN', 'reads check the link to prevHash too')
    t.false((await log.verify('s', { trusted: [note] })).ok)
    await log.close()

    // firstOffset changed: the first kept segment does not start there: the stream is damaged at open.
    for (const [label, edit] of [
      ['offset', (p: string) => writeFileSync(p, JSON.stringify({ ...state, firstOffset: 490 }))],
      ['gone', (p: string) => rmSync(p)],
      ['garbage', (p: string) => writeFileSync(p, '{"firstOffset":')],
      ['segment', (p: string) => writeFileSync(p, JSON.stringify({ ...state, firstSegment: 55 }))],
      // Would make the kept segments below it look like a prune's leftovers: open must not delete them.
      ['segment-up', (p: string) => writeFileSync(p, JSON.stringify({ ...state, firstSegment: state.firstSegment + 2 }))],
    ] as const) {
      d = copy(label)
      edit(prunedFile(d))
      const files = segmentNumbers(d, 's')
      log = await open(t, d, { backend })
      t.deepEqual(segmentNumbers(d, 's'), files, `${label}: a writable open deleted nothing`)
      const head = await log.head('s')
      t.truthy(head.damage, `${label}: open marks the stream damaged`)
      t.is(codeOf(await log.append('s', 'x').catch((e) => e)), 'ERR_CORRUPT', `${label}: appends refused`)
      v = await log.verify('s')
      t.false(v.ok, label)
      t.is(v.streams[0].problems[0].code, 'ERR_CORRUPT', label)
      await log.close()
    }

    // A kept level-0 tile below firstOffset changed: a trusted note (and the published one) catch it.
    d = copy('tile')
    const tile = join(d, 's', 'tile', '0', '000')
    const bytes = readFileSync(tile)
    bytes[5 * 32] ^= 1
    writeFileSync(tile, bytes)
    log = await open(t, d, { backend })
    v = await log.verify('s', { trusted: [note] })
    t.false(v.ok)
    t.true(v.streams[0].problems.some((p) => p.code === 'ERR_CHAIN_BROKEN'))
    t.false((await log.verify('s')).ok, 'the published checkpoint is checked by plain verify too')
    await log.close()

    // The tile holding the last pruned leaf changed: it no longer matches pruned.json's prevHash.
    d = copy('lastleaf')
    const lastTile = join(d, 's', 'tile', '0', '001')
    const b2 = readFileSync(lastTile)
    b2[(499 - 256) * 32] ^= 1
    writeFileSync(lastTile, b2)
    log = await open(t, d, { backend })
    v = await log.verify('s', { trusted: [note] })
    t.false(v.ok)
    await log.close()
  })

  test(`${backend}: a prune cut short after pruned.json (segments left below it) is finished at open; a first segment missing without pruned.json is damage`, async (t) => {
    const dir = tempDir(t)
    const keep = tempDir(t, 'keep')
    let log = await open(t, dir, { backend, ...SEGMENT })
    await fill(log, 0, 60)
    await log.close()
    cpSync(join(dir, 's'), keep, { recursive: true })
    log = await open(t, dir, { backend, ...SEGMENT })
    await log.prune('s', { before: 30 })
    await log.close()
    // Put back the segments the prune deleted: the state of a crash after pruned.json was written.
    for (const f of readdirSync(keep)) if (/^segment_00000[0-2]\.log/.test(f)) cpSync(join(keep, f), join(dir, 's', f))
    // (segment 6 holds the checkpoint close() wrote)
    t.deepEqual(segmentNumbers(dir, 's'), range(0, 7))
    const reader = await open(t, dir, { backend, readOnly: true })
    t.is((await reader.head('s')).firstOffset, 30, 'a read-only log ignores the leftovers')
    t.deepEqual(segmentNumbers(dir, 's'), range(0, 7), 'and deletes nothing')
    await reader.close()
    log = await open(t, dir, { backend, ...SEGMENT })
    t.deepEqual(segmentNumbers(dir, 's'), range(3, 7))
    t.deepEqual(offsets(await log.read('s')), range(30, 60))
    t.true((await log.verify('s')).ok)
    await log.close()
    // Without pruned.json, a stream starting at segment 3 lost its start: damage, not a prune.
    rmSync(join(dir, 's', 'pruned.json'))
    log = await open(t, dir, { backend, ...SEGMENT })
    t.truthy((await log.head('s')).damage)
    t.is(codeOf(await log.read('s').catch((e) => e)), 'ERR_CORRUPT')
    t.false((await log.verify('s')).ok)
  })

  test(`${backend}: an iterator or follower overtaken by a prune fails with ERR_PRUNED`, async (t) => {
    const dir = tempDir(t)
    const log = await open(t, dir, { backend, ...SEGMENT })
    await fill(log, 0, 200)
    const it = log.iterate('s')[Symbol.asyncIterator]()
    t.is((await it.next()).value.offset, 0)
    await log.prune('s', { before: 150 })
    let err: unknown
    try {
      for (;;) if ((await it.next()).done) break
    } catch (e) {
      err = e
    }
    t.is(codeOf(err), 'ERR_PRUNED')
    const follower = log.iterate('s', { from: 150, follow: true })[Symbol.asyncIterator]()
    t.is((await follower.next()).value.offset, 150)
    await log.prune('s', { before: 190 })
    err = undefined
    try {
      for (let i = 0; i < 60; i++) await follower.next()
    } catch (e) {
      err = e
    }
    t.is(codeOf(err), 'ERR_PRUNED')
  })

  test(`${backend}: a read-only log opened before a prune: reads of the pruned segments are ERR_PRUNED, then it starts where the prune left the stream`, async (t) => {
    const dir = tempDir(t)
    const log = await open(t, dir, { backend, ...SEGMENT })
    await fill(log, 0, 60)
    await log.flush()
    // (A snapshot: segments it already holds open it may go on reading; these it never opened.)
    const reader = await open(t, dir, { backend, readOnly: true })
    await log.prune('s', { before: 40 })
    const err = await reader.read('s', { from: 5 }).catch((e) => e)
    t.is(codeOf(err), 'ERR_PRUNED')
    t.is(err.details.firstOffset, 40)
    t.is(codeOf(await reader.get('s', 12).catch((e) => e)), 'ERR_PRUNED')
    t.is((await reader.head('s')).firstOffset, 40)
    t.deepEqual(offsets(await reader.read('s')), range(40, 60))
  })

  test(`${backend}: bad input to prune is a ChainlogError and changes nothing on disk; a read-only log refuses (a dry run is allowed), a closed one too`, async (t) => {
    const dir = tempDir(t)
    let log = await open(t, dir, { backend, ...SEGMENT })
    await fill(log, 0, 50)
    await log.flush()
    const before = fileHashes(dir)
    const bad: unknown[] = [undefined, null, 5, 'x', {}, { before: -1 }, { before: 1.5 }, { before: '10' }, { before: Number.NaN }, { before: 51 }, { before: 10, extra: 1 }, { before: 10, dryRun: 'yes' }]
    for (const o of bad) {
      // biome-ignore lint/suspicious/noExplicitAny: wrong types on purpose
      const err = await log.prune('s', o as any).catch((e) => e)
      t.is(codeOf(err), 'ERR_INVALID_ARGUMENT', JSON.stringify(o))
    }
    t.is(codeOf(await log.prune('nope', { before: 1 }).catch((e) => e)), 'ERR_INVALID_ARGUMENT')
    // biome-ignore lint/suspicious/noExplicitAny: wrong types on purpose
    t.is(codeOf(await log.prune({} as any, { before: 1 }).catch((e) => e)), 'ERR_INVALID_ARGUMENT')
    t.deepEqual(fileHashes(dir), before)
    await log.close()
    t.is(codeOf(await log.prune('s', { before: 20 }).catch((e) => e)), 'ERR_CLOSED')
    const closed = fileHashes(dir)
    const reader = await open(t, dir, { backend, readOnly: true })
    t.is(codeOf(await reader.prune('s', { before: 20 }).catch((e) => e)), 'ERR_READ_ONLY')
    t.deepEqual(await reader.prune('s', { before: 20, dryRun: true }), { firstOffset: 20, segments: 2, bytes: 1460 })
    t.deepEqual(fileHashes(dir), closed)
    await reader.close()
    for (const retention of [{}, { maxBytes: 0 }, { maxAgeMs: -1 }, { maxBytes: '1' }, { maxBytes: 10, other: 1 }, { maxBytes: 10, requireArchived: 1 }, 7]) {
      // biome-ignore lint/suspicious/noExplicitAny: wrong types on purpose
      t.is(codeOf(await Log.open(dir, { backend, retention } as any).catch((e) => e)), 'ERR_INVALID_ARGUMENT', JSON.stringify(retention))
    }
    t.deepEqual(fileHashes(dir), closed)
    log = await open(t, dir, { backend })
    t.is((await log.head('s')).firstOffset, 0)
  })

  test(`${backend}: a memory log prunes the same way`, async (t) => {
    const log = await Log.memory({ backend, ...SEGMENT })
    t.teardown(() => log.close())
    await fill(log, 0, 45)
    t.deepEqual(await log.prune('s', { before: 45 }), { firstOffset: 40, segments: 4, bytes: 4 * 730 })
    t.deepEqual(offsets(await log.read('s')), range(40, 45))
    t.true((await log.verify('s')).ok)
  })

  test(`${backend}: retention { maxBytes } prunes after rotations and keeps the stream at most one segment over; { maxAgeMs } prunes by the last record's timestamp at open`, async (t) => {
    const dir = tempDir(t)
    let log = await open(t, dir, { backend, ...SEGMENT, retention: { maxBytes: 3000 } })
    await fill(log, 0, 200)
    await log.close() // waits for the retention runs started by rotations
    const nums = segmentNumbers(dir, 's')
    const bytes = nums.reduce((n, k) => n + readFileSync(join(dir, 's', `segment_${String(k).padStart(6, '0')}.log`)).length, 0)
    // At the last rotation the stream was within maxBytes; only the active segment grew since.
    t.true(bytes <= 3000 + 730, `${bytes} bytes in segments ${nums.join(',')}`)
    t.true(bytes > 3000 - 2 * 730)
    t.true(nums.length <= 6)
    log = await open(t, dir, { backend, ...SEGMENT })
    const head = await log.head('s')
    t.is(head.firstOffset, nums[0] * 10)
    t.deepEqual(offsets(await log.read('s')), range(head.firstOffset, 200))
    t.true((await log.verify('s')).ok)
    // By age: records 0..199 are at T0 + i (2023); a week's retention drops every sealed segment at open.
    await log.append('s', 'now')
    await log.close()
    log = await open(t, dir, { backend, ...SEGMENT, retention: { maxAgeMs: 7 * 24 * 3600 * 1000 } })
    t.is((await log.head('s')).segments, 1)
    t.deepEqual((await log.read('s')).map((r) => r.payload.toString()), ['now'])
    t.true((await log.verify('s')).ok)
    await log.close()
    // requireArchived with no archiver attached: nothing is known to be archived, nothing goes.
    const other = tempDir(t, 'arch')
    log = await open(t, other, { backend, ...SEGMENT, retention: { maxBytes: 1000, requireArchived: true } })
    await fill(log, 0, 100)
    await log.close()
    t.deepEqual(segmentNumbers(other, 's'), range(0, 11))
  })

  test(`${backend}: a leaf hash in the tiles is hashLeaf(chain hash): the tile below a prune still holds the pruned records' leaves`, async (t) => {
    const dir = tempDir(t)
    const log = await open(t, dir, { backend, ...SEGMENT })
    await fill(log, 0, 30)
    const r0 = (await log.get('s', 0))!
    await log.prune('s', { before: 20 })
    const tile = readFileSync(join(dir, 's', 'tile', '0', '000.part'))
    t.true(tile.length >= 30 * 32)
    t.true(tile.subarray(0, 32).equals(hashLeaf(r0.hash)))
  })
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [`--import=${import.meta.resolve('tsx')}`, join(ROOT, 'ts', 'cli', 'main.ts'), ...args], { encoding: 'utf8', timeout: 120_000 })
}

test('chainlog prune: without --yes a dry run that shows what would go and changes nothing; with --yes it prunes; read and verify start at the first kept offset', async (t) => {
  const dir = tempDir(t)
  const log = await Log.open(dir, { ...SEGMENT })
  await fill(log, 0, 50)
  await log.close()
  const before = fileHashes(dir)
  const dry = cli(['prune', dir, 's', '--before', '25'])
  t.is(dry.status, 0, dry.stderr)
  t.regex(dry.stdout, /would prune 2 segment\(s\), 1460 bytes, offsets 0\.\.19; the stream would start at offset 20 \(dry run/)
  t.deepEqual(fileHashes(dir), before)
  const yes = cli(['prune', dir, 's', '--before', '25', '--yes', '--json'])
  t.is(yes.status, 0, yes.stderr)
  t.deepEqual(JSON.parse(yes.stdout), { firstOffset: 20, segments: 2, bytes: 1460, dryRun: false })
  t.deepEqual(segmentNumbers(dir, 's'), range(2, 6))
  const read = cli(['read', dir, 's', '--json'])
  t.is(read.status, 0, read.stderr)
  t.is(JSON.parse(read.stdout.split('\n')[0]).offset, 20)
  t.is(cli(['verify', dir]).status, 0)
  const again = cli(['prune', dir, 's', '--before', '5', '--yes'])
  t.regex(again.stdout, /nothing to prune below offset 5 \(the stream starts at 20/)
  t.is(cli(['prune', dir, 's', '--before', '999', '--yes']).status, 2, 'before past the end is a usage error')
  t.is(cli(['prune', dir, 's', '--before', '-1']).status, 2)
  t.is(cli(['prune', dir, 's']).status, 2, '--before is required')
  t.is(cli(['prune', dir, 'nosuch', '--before', '1']).status, 2)
  const lower = cli(['read', dir, 's', '--from', '3'])
  t.is(lower.status, 2, 'an explicit pruned offset is a usage error')
  t.regex(lower.stderr, /ERR_PRUNED|pruned/)
})
