/**
 * The CLI on a damaged store (issue #18 items 1 and 5), run as users run it: the built
 * `chainlog` (dist/cli.js) in a child process, on each core (CHAINLOG_BACKEND). One flipped byte
 * in the middle of one stream's segment must leave the store inspectable, readable up to the
 * damage and verifiable with a JSON report, and the counts printed must not mislead.
 */
import test from 'ava'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { crc32 } from 'node:zlib'
import { BACKENDS } from './helpers/cores.ts'
import { CLI, ensureBuilt, ROOT } from './helpers/dist.ts'
import { abandon, readSegment, tempDir, writeSegment } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

test.before(() => ensureBuilt())

function chainlog(backend: BackendName, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, cwd: ROOT, env: { ...process.env, CHAINLOG_BACKEND: backend } })
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '')
/** Events of 10 bytes: every data record is 76 bytes. */
const event = (i: number) => `event-${String(i).padStart(4, '0')}`
const RECORD = 76
const DAMAGED = 691

/**
 * Four streams of 1,001 events; stream b has one flipped payload byte at offset 691. As a killed
 * service leaves it: a checkpoint at 500 (a close), the index saved past the damage (a flush),
 * one more event, then no close: open re-checks only the tail, so the damage is behind the head.
 */
async function damagedStore(backend: BackendName, dir: string): Promise<void> {
  const names = ['a', 'b', 'c', 'd']
  const log = await Log.open(dir, { backend, checkpointEvery: false })
  for (const s of names) await log.append(s, Array.from({ length: 500 }, (_, i) => event(i)))
  await log.close()
  const again = await Log.open(dir, { backend, checkpointEvery: false })
  for (const s of names) await again.append(s, Array.from({ length: 500 }, (_, i) => event(501 + i)))
  await again.flush()
  for (const s of names) await again.append(s, 'last')
  await abandon(again)
  const seg = readSegment(dir, 'b')
  const at = (DAMAGED - 1) * RECORD + 106 // records 0..499, the checkpoint (106 bytes), then 501..
  seg[at + 60] ^= 0x20
  writeSegment(dir, 'b', 0, seg)
}

for (const backend of BACKENDS) {
  test(`${backend}: inspect shows every stream of a store with a damaged one, marks it with where the damage is, and exits 1`, async (t) => {
    const dir = tempDir(t, 'cli-damaged')
    await damagedStore(backend, dir)
    const r = chainlog(backend, ['inspect', dir])
    t.is(r.status, 1, r.stderr)
    t.regex(r.stdout, /^streams 4,/m)
    for (const s of ['a', 'c', 'd']) t.regex(r.stdout, new RegExp(`^stream ${s}\\n {2}next offset +1002$`, 'm'))
    t.regex(r.stdout, /^stream b {2}DAMAGED\n {2}next offset +1002$/m)
    t.regex(r.stdout, new RegExp(`damage +ERR_CORRUPT at offset ${DAMAGED} \\(segment 0, position ${(DAMAGED - 1) * RECORD + 106}\\)`))
    t.regex(r.stdout, /^damaged b /m)

    const j = chainlog(backend, ['inspect', dir, '--json'])
    t.is(j.status, 1, j.stderr)
    const info = JSON.parse(j.stdout)
    t.deepEqual(info.streams.map((s: { stream: string }) => s.stream), ['a', 'b', 'c', 'd'])
    t.deepEqual(info.damaged, ['b'])
    t.like(info.streams[1].damage, { code: 'ERR_CORRUPT', offset: DAMAGED, segment: 0, appendsRefused: false })
    t.is(info.streams[0].damage, undefined)
  })

  test(`${backend}: read prints the records before the damage, then fails with exit 1 naming its offset`, async (t) => {
    const dir = tempDir(t, 'cli-damaged')
    await damagedStore(backend, dir)
    const r = chainlog(backend, ['read', dir, 'b', '--from', String(DAMAGED - 2), '--limit', '3', '--json'])
    t.is(r.status, 1, r.stderr)
    t.deepEqual(lines(r.stdout).map((l) => JSON.parse(l).offset), [DAMAGED - 2, DAMAGED - 1])
    t.regex(r.stderr, new RegExp(`ERR_CORRUPT.*offset ${DAMAGED}\\b`))
    const before = chainlog(backend, ['read', dir, 'b', '--from', '600', '--limit', '3'])
    t.is(before.status, 0, before.stderr)
    t.is(lines(before.stdout).length, 3)
  })

  test(`${backend}: verify --json prints its report for a damaged stream: one problem at its offset, events and checkpoints apart`, async (t) => {
    const dir = tempDir(t, 'cli-damaged')
    await damagedStore(backend, dir)
    const j = chainlog(backend, ['verify', dir, 'b', '--json'])
    t.is(j.status, 1, j.stderr)
    const report = JSON.parse(j.stdout)
    t.false(report.ok)
    t.like(report.streams[0], { stream: 'b', records: 1001, events: 1000, checkpoints: 1 })
    t.deepEqual(report.streams[0].problems.map((p: { offset: number }) => p.offset), [DAMAGED])

    const h = chainlog(backend, ['verify', dir])
    t.is(h.status, 1)
    t.regex(h.stdout, /^ok +a: 1002 records: 1001 events, 1 checkpoint; next offset 1002/m)
    t.regex(h.stdout, new RegExp(`^FAILED +b: 1 problem, reads stop at offset ${DAMAGED}; the files hold 1001 valid records: 1000 events, 1 checkpoint;`, 'm'))
    t.notRegex(h.stdout, /\b1 checkpoints\b|\b1 problems\b|\b1 events\b/)
  })

  test(`${backend}: verify --json prints a JSON report even when the check cannot run`, (t) => {
    const dir = tempDir(t, 'cli-nostore')
    const j = chainlog(backend, ['verify', dir, '--json'])
    t.is(j.status, 2)
    const report = JSON.parse(j.stdout)
    t.false(report.ok)
    t.deepEqual(report.streams, [])
    t.like(report.error, { code: null, exitCode: 2 })
    t.regex(report.error.message, /not a chainlog store/)
  })

  test(`${backend}: inspect of one stream says it is one of the store's streams`, async (t) => {
    const dir = tempDir(t, 'cli-damaged')
    await damagedStore(backend, dir)
    const r = chainlog(backend, ['inspect', dir, 'a'])
    t.is(r.status, 0, r.stderr)
    t.notRegex(r.stdout, /^streams 1,/m)
    t.regex(r.stdout, /^streams 1 shown \("a"\) of 4 in the store,/m)
    const j = JSON.parse(chainlog(backend, ['inspect', dir, 'a', '--json']).stdout)
    t.like(j, { filter: 'a', storeStreams: 4 })
    t.is(j.streams.length, 1)
  })

  test(`${backend}: inspect of a stream whose damage open found at its end says appends are refused`, async (t) => {
    const dir = tempDir(t, 'cli-damaged')
    const log = await Log.open(dir, { backend, checkpointEvery: false })
    await log.append('s', Array.from({ length: 10 }, (_, i) => event(i)))
    await abandon(log) // no index on disk: open scans the whole segment and finds the damage
    const seg = readSegment(dir, 's')
    // A CRC-correct edit of record 5's payload: the chain breaks at 6 (valid records follow: damage, not a torn tail).
    seg[5 * RECORD + 60] ^= 0x01
    seg.writeUInt32LE(crc32(seg.subarray(5 * RECORD, 5 * RECORD + 68)), 5 * RECORD + 68)
    writeSegment(dir, 's', 0, seg)
    const r = chainlog(backend, ['inspect', dir])
    t.is(r.status, 1, r.stderr)
    t.regex(r.stdout, /^stream s {2}DAMAGED\n {2}next offset +6$/m)
    t.regex(r.stdout, /damage +ERR_CHAIN_BROKEN at offset 6 .*appends are refused/)
  })
}
