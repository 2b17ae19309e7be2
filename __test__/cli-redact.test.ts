/**
 * `chainlog redact <dir> <stream> <offset> --reason TEXT`: erases one record's payload; usage
 * errors exit 2, a damaged segment 1, a locked store 3; a refused call changes no file.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { fileHashes, openLog, readSegment, tempDir } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'

const ROOT = join(import.meta.dirname, '..')

function cli(args: string[]) {
  return spawnSync(process.execPath, [`--import=${import.meta.resolve('tsx')}`, join(ROOT, 'ts', 'cli', 'main.ts'), ...args], { encoding: 'utf8', timeout: 120_000 })
}

/** Every file's hash but LOCK and .clean (the clean-close marker any writable open and close rewrites). */
function snapshot(dir: string): Record<string, string> {
  return fileHashes(dir, ['LOCK', '.clean'])
}

async function store(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = tempDir(t, 'cli-redact')
  const log = await Log.open(dir, { checkpointEvery: 5, maxSegmentBytes: 1024 })
  for (let i = 0; i < 12; i++) await log.append('s', `event-${i}-${i === 2 ? 'PERSONAL-DATA-OF-ALICE' : 'x'}`)
  await log.close()
  return dir
}

test('chainlog redact erases the payload, prints the tombstone, and a second call is a no-op', async (t) => {
  const dir = await store(t)
  const r = cli(['redact', dir, 's', '2', '--reason', 'GDPR request 17'])
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /redacted offset 2; .* the tombstone is offset \d+/)
  t.false(Object.keys(snapshot(dir)).some((f) => readFileSync(join(dir, f)).includes('PERSONAL-DATA-OF-ALICE')))
  const again = cli(['redact', dir, 's', '2', '--json'])
  t.is(again.status, 0, again.stderr)
  t.deepEqual(JSON.parse(again.stdout), { stream: 's', offset: 2, tombstoneOffset: null })
  const v = cli(['verify', dir])
  t.is(v.status, 0, v.stdout + v.stderr)
  const log = await openLog(t, 'native', dir, { readOnly: true })
  const [rec] = await log.read('s', { from: 2, limit: 1 })
  t.true(rec.redacted)
  const tomb = (await log.read('s', { limit: 100 })).find((x) => x.kind === 'tombstone')!
  t.is(tomb.payload.subarray(8).toString(), 'GDPR request 17')
})

test('chainlog redact: bad input exits 2, a damaged segment 1, a locked store 3, and nothing changes', async (t) => {
  const dir = await store(t)
  const before = snapshot(dir)
  const usage: string[][] = [
    ['redact', dir, 's', '5'], // a checkpoint (checkpointEvery 5)
    ['redact', dir, 's', '99'],
    ['redact', dir, 's', '-1'],
    ['redact', dir, 's', 'x'],
    ['redact', dir, 's'],
    ['redact', dir, 'nope', '1'],
    ['redact', dir, 's', '1', '--reason', 'é'.repeat(513)],
    ['redact', join(dir, 'missing'), 's', '1'],
  ]
  for (const args of usage) {
    const r = cli(args)
    t.is(r.status, 2, `${args.slice(2).join(' ')}: ${r.stdout}${r.stderr}`)
  }
  t.deepEqual(snapshot(dir), before)
  const holder = await Log.open(dir)
  const locked = cli(['redact', dir, 's', '1'])
  t.is(locked.status, 3, locked.stderr)
  await holder.close()
  const seg = readSegment(dir, 's', 0)
  seg[seg.indexOf(Buffer.from('event-1-'))] ^= 1
  writeFileSync(join(dir, 's', 'segment_000000.log'), seg)
  const damaged = snapshot(dir)
  const r = cli(['redact', dir, 's', '0'])
  t.is(r.status, 1, r.stdout + r.stderr)
  t.deepEqual(snapshot(dir), damaged)
})
