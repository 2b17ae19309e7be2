import test from 'ava'
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Log } from '../ts/index.ts'
import { CLI, ensureBuilt, ROOT } from './helpers/dist.ts'

// Every test runs the built `chainlog` binary (dist/cli.js, as package.json "bin" names it) in a
// child process and checks its output and exit code: 0 ok, 1 problems, 2 usage, 3 I/O.

test.before(() => ensureBuilt())

const dirs: string[] = []
test.after.always(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'chainlog-cli-'))
  dirs.push(d)
  return d
}

function chainlog(args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 60_000, cwd: ROOT })
}

/** A store with `stream` holding `events`, written through the CLI's append. */
function storeWith(stream: string, events: string[]): string {
  const dir = join(tempDir(), 'store')
  const r = chainlog(['append', dir, stream], events.map((e) => e + '\n').join(''))
  if (r.status !== 0) throw new Error(`append failed: ${r.stderr}`)
  return dir
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '')

test('append writes one event per stdin line, and read prints them back in order', (t) => {
  const events = ['order placed', 'order paid', '{"id":3,"note":"tab\there"}', '', 'ünïcödé ✓']
  const dir = join(tempDir(), 'store')
  const a = chainlog(['append', dir, 'orders', '--json'], events.join('\n') + '\n')
  t.is(a.status, 0, a.stderr)
  const summary = JSON.parse(a.stdout)
  t.like(summary, { appended: 5, firstOffset: 0, lastOffset: 4 })
  t.regex(summary.hash, /^[0-9a-f]{64}$/)

  const r = chainlog(['read', dir, 'orders', '--json'])
  t.is(r.status, 0, r.stderr)
  const records = lines(r.stdout).map((l) => JSON.parse(l))
  t.deepEqual(records.map((x) => x.payload), events)
  t.deepEqual(records.map((x) => x.offset), [0, 1, 2, 3, 4])
  t.is(records[4].hash, summary.hash)
  t.is(records[1].prevHash, records[0].hash)

  const human = chainlog(['read', dir, 'orders'])
  t.is(human.status, 0)
  const out = lines(human.stdout)
  t.is(out.length, 5)
  t.regex(out[0], /^0\t\d{4}-\d\d-\d\dT[^\t]+Z\torder placed$/)
  t.true(out[2].endsWith('{"id":3,"note":"tab\\there"}'), 'control characters are escaped so a record stays on one line')
})

test('read prints a payload that is not UTF-8 as base64', async (t) => {
  const dir = join(tempDir(), 'store')
  const log = await Log.open(dir)
  const binary = Buffer.from([0xff, 0x00, 0xfe, 0x41])
  await log.append('bin', [binary, 'text'])
  await log.close()
  const j = chainlog(['read', dir, 'bin', '--json'])
  t.is(j.status, 0, j.stderr)
  const [first, second] = lines(j.stdout).map((l) => JSON.parse(l))
  t.is(first.payload, undefined)
  t.deepEqual(Buffer.from(first.payloadBase64, 'base64'), binary)
  t.is(second.payload, 'text')
  const human = lines(chainlog(['read', dir, 'bin']).stdout)
  t.true(human[0].endsWith(`\tbase64:${binary.toString('base64')}`))
})

test('append adds to an existing stream, continuing its offsets', (t) => {
  const dir = join(tempDir(), 'store')
  const a1 = chainlog(['append', dir, 's', '--json'], 'a\nb\n')
  t.is(a1.status, 0, a1.stderr)
  const a2 = chainlog(['append', dir, 's', '--json'], 'c\nd\n')
  t.is(a2.status, 0, a2.stderr)
  const first = JSON.parse(a1.stdout)
  const second = JSON.parse(a2.stdout)
  t.like(first, { appended: 2, firstOffset: 0, lastOffset: 1 })
  // Offsets go on from the stream's head (a checkpoint written on close may sit in between).
  t.true(second.firstOffset >= 2)
  t.is(second.lastOffset, second.firstOffset + 1)
  t.deepEqual(lines(chainlog(['read', dir, 's', '--json']).stdout).map((l) => JSON.parse(l).payload), ['a', 'b', 'c', 'd'])
})

test('read --from, --limit and --from-time select records', (t) => {
  const dir = join(tempDir(), 'store')
  // Timestamps come from the clock; write two batches a few ms apart to have a time to seek to.
  t.is(chainlog(['append', dir, 'e'], 'e0\ne1\ne2\n').status, 0)
  const r0 = lines(chainlog(['read', dir, 'e', '--json']).stdout).map((l) => JSON.parse(l))
  const later = Date.now() + 5
  while (Date.now() < later) { /* the next batch gets a later timestamp */ }
  t.is(chainlog(['append', dir, 'e'], 'e3\ne4\n').status, 0)
  const all = lines(chainlog(['read', dir, 'e', '--json']).stdout).map((l) => JSON.parse(l))
  t.is(all.length, 5)

  const payloads = (args: string[]) => {
    const r = chainlog(['read', dir, 'e', '--json', ...args])
    t.is(r.status, 0, r.stderr)
    return lines(r.stdout).map((l) => JSON.parse(l).payload)
  }
  t.deepEqual(payloads(['--from', '2']), ['e2', 'e3', 'e4'])
  t.deepEqual(payloads(['--from', '1', '--limit', '2']), ['e1', 'e2'])
  t.deepEqual(payloads(['--limit', '0']), [])
  t.deepEqual(payloads(['--from', '99']), [])
  t.deepEqual(payloads(['--from-time', String(all[3].timestamp)]).slice(0, 2), ['e3', 'e4'])
  t.true(all[3].timestamp > r0[2].timestamp)
  t.deepEqual(payloads(['--from-time', new Date(all[3].timestamp).toISOString()]), ['e3', 'e4'])
})

test('verify exits 0 on a sound store and reports every stream', (t) => {
  const dir = storeWith('a', ['1', '2', '3'])
  t.is(chainlog(['append', dir, 'b'], 'x\n').status, 0)
  const r = chainlog(['verify', dir])
  t.is(r.status, 0, r.stdout + r.stderr)
  t.regex(r.stdout, /ok +a: \d+ records/)
  t.regex(r.stdout, /ok +b: \d+ records/)
  t.regex(r.stdout, /verify: ok/)

  const j = chainlog(['verify', dir, 'a', '--json'])
  t.is(j.status, 0)
  const report = JSON.parse(j.stdout)
  t.true(report.ok)
  t.is(report.streams.length, 1)
  t.like(report.streams[0], { stream: 'a', problems: [] })
  t.true(report.streams[0].records >= 3)
  t.regex(report.streams[0].head.hash, /^[0-9a-f]{64}$/)
})

test('verify --progress draws a progress bar on stderr and keeps stdout clean for --json', (t) => {
  const dir = storeWith('p', Array.from({ length: 200 }, (_, i) => `event ${i}`))
  const r = chainlog(['verify', dir, '--json', '--progress'])
  t.is(r.status, 0, r.stderr)
  t.true(JSON.parse(r.stdout).ok)
  t.regex(r.stderr, /verifying \[.*\] 100%/)
  const quiet = chainlog(['verify', dir, '--no-progress'])
  t.is(quiet.status, 0)
  t.notRegex(quiet.stderr, /verifying/)
  t.is(chainlog(['verify', dir]).stderr, '', 'no bar by default when stderr is not a terminal')
})

/** Flips one payload byte of the record at `offset` in the stream's first segment. */
function damage(dir: string, stream: string, offset: number, eventBytes: number): void {
  const file = join(dir, stream, 'segment_000000.log')
  const fd = openSync(file, 'r+')
  try {
    const position = offset * (66 + eventBytes) + 58 // every record is 66 bytes of framing + payload
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, position)
    b[0] ^= 0x20
    writeSync(fd, b, 0, 1, position)
  } finally {
    closeSync(fd)
  }
}

test('verify exits 1 on a damaged store and names the stream and the offset', (t) => {
  const events = Array.from({ length: 10 }, (_, i) => `event-${i}`) // 7 bytes each
  const dir = storeWith('good', events)
  t.is(chainlog(['append', dir, 'bad'], events.join('\n') + '\n').status, 0)
  damage(dir, 'bad', 4, 7)

  const r = chainlog(['verify', dir])
  t.is(r.status, 1, r.stdout + r.stderr)
  t.regex(r.stdout, /ok +good: \d+ records/)
  t.regex(r.stdout, /FAILED +bad/)
  t.regex(r.stdout, /bad at offset 4: ERR_(CORRUPT|CHAIN_BROKEN)/)
  t.regex(r.stdout, /verify: problems found/)

  const j = chainlog(['verify', dir, 'bad', '--json'])
  t.is(j.status, 1)
  const report = JSON.parse(j.stdout)
  t.false(report.ok)
  t.is(report.streams[0].stream, 'bad')
  t.is(report.streams[0].problems[0].offset, 4)

  const good = chainlog(['verify', dir, 'good'])
  t.is(good.status, 0, 'an undamaged stream of a damaged store still verifies')
})

test('read prints the records before a damaged one, then stops with exit 1', (t) => {
  const events = Array.from({ length: 10 }, (_, i) => `event-${i}`)
  const dir = storeWith('s', events)
  damage(dir, 's', 6, 7)
  const r = chainlog(['read', dir, 's', '--verify', 'genesis', '--json'])
  t.is(r.status, 1, r.stderr)
  t.regex(r.stderr, /ERR_(CORRUPT|CHAIN_BROKEN)/)
  const printed = lines(r.stdout).map((l) => JSON.parse(l).payload)
  t.deepEqual(printed, events.slice(0, printed.length), 'what was printed is intact and in order')
  t.false(printed.includes('event-6'), 'the damaged record is not printed')
})

test('inspect shows streams, heads, checkpoints and segment sizes', async (t) => {
  const dir = storeWith('orders', ['a', 'b', 'c'])
  t.is(chainlog(['append', dir, 'audit'], 'x\n').status, 0)
  const log = await Log.open(dir, { readOnly: true })
  const head = await log.head('orders')
  await log.close()
  const segmentBytes = statSync(join(dir, 'orders', 'segment_000000.log')).size

  const r = chainlog(['inspect', dir])
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /hash blake3/)
  t.regex(r.stdout, /streams 2/)
  t.regex(r.stdout, new RegExp(`stream orders\n {2}next offset +${head.nextOffset}\n {2}head hash +${head.hash.toString('hex')}`))
  t.regex(r.stdout, /segment_000000\.log/)

  const j = chainlog(['inspect', dir, 'orders', '--json'])
  t.is(j.status, 0, j.stderr)
  const info = JSON.parse(j.stdout)
  t.is(info.store.hash, 'blake3')
  t.is(info.streams.length, 1)
  t.like(info.streams[0], {
    stream: 'orders', nextOffset: head.nextOffset, head: head.hash.toString('hex'), lastCheckpoint: head.lastCheckpoint, bytes: segmentBytes,
  })
  t.like(info.streams[0].segments[0], { segment: 0, file: 'segment_000000.log', bytes: segmentBytes })
  t.true(segmentBytes >= 3 * 67)

  const missing = chainlog(['inspect', dir, 'nope'])
  t.is(missing.status, 2)
  t.regex(missing.stderr, /no stream named "nope"/)
})

test('tail prints the last records, then follows appends made by another process', async (t) => {
  const dir = storeWith('t', ['one', 'two', 'three'])
  const child = spawn(process.execPath, [CLI, 'tail', dir, 't', '-n', '2'], { cwd: ROOT })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const waitFor = async (re: RegExp) => {
    const deadline = Date.now() + 60_000 // generous: this machine is often busy
    while (!re.test(out)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; stdout: ${out}; stderr: ${err}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  try {
    await waitFor(/three\n/)
    t.deepEqual(lines(out).map((l) => l.split('\t')[2]), ['two', 'three'])
    t.is(chainlog(['append', dir, 't'], 'four\nfive\n').status, 0)
    await waitFor(/five\n/)
    t.deepEqual(lines(out).map((l) => l.split('\t')[2]), ['two', 'three', 'four', 'five'])
  } finally {
    child.kill('SIGINT')
  }
  t.is(await exited, 0, err)
})

test('bad arguments exit 2 with a usage message', (t) => {
  const dir = storeWith('s', ['a'])
  const cases: Array<[string[], RegExp]> = [
    [[], /Usage: chainlog/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['read', dir], /missing required argument 'stream'/],
    [['read', dir, 's', '--limit', 'ten'], /--limit.*expected a non-negative integer/],
    [['read', dir, 's', '--from', '-1'], /--from/],
    [['read', dir, 's', '--from-time', 'yesterday-ish'], /--from-time.*ISO 8601/],
    [['read', dir, 's', '--verify', 'maybe'], /--verify.*choices/],
    [['verify', dir, '--bogus'], /unknown option '--bogus'/],
    [['read', dir, '../escape'], /ERR_INVALID_ARGUMENT/],
    [['read', dir, 'typo'], /no stream named "typo" .*\(streams: s\)/],
    [['append', dir, 's', '--hash', 'sha256'], /ERR_STORE_MISMATCH/],
    [['verify', dir, 'typo'], /no stream named "typo"/],
  ]
  for (const [args, message] of cases) {
    const r = chainlog(args)
    t.is(r.status, 2, `chainlog ${args.join(' ')}: ${r.stderr}`)
    t.regex(r.stderr, message, `chainlog ${args.join(' ')}`)
  }
})

test('a missing directory, or one that holds no store, is a usage error (exit 2)', (t) => {
  const parent = tempDir()
  for (const cmd of [['verify'], ['inspect'], ['read', undefined, 's'], ['tail', undefined, 's']]) {
    const args = cmd.map((a) => a ?? join(parent, 'missing'))
    if (args.length === 1) args.push(join(parent, 'missing'))
    const r = chainlog(args)
    t.is(r.status, 2, `${args[0]}: ${r.stderr}`)
    t.regex(r.stderr, /no such directory/)
  }
  const empty = join(parent, 'empty')
  mkdirSync(empty)
  const r = chainlog(['verify', empty])
  t.is(r.status, 2)
  t.regex(r.stderr, /not a chainlog store/)
  t.deepEqual(readdirSync(empty), [], 'a read-only command writes nothing')
  const file = join(parent, 'file')
  writeFileSync(file, 'x')
  t.is(chainlog(['inspect', file]).status, 2)
})

test('append to a store another process holds open for writing is an I/O error (exit 3)', async (t) => {
  const dir = storeWith('s', ['a'])
  const log = await Log.open(dir)
  try {
    const r = chainlog(['append', dir, 's'], 'b\n')
    t.is(r.status, 3, r.stderr)
    t.regex(r.stderr, /ERR_LOCKED/)
    // Readers are not blocked by the writer's lock.
    t.is(chainlog(['verify', dir]).status, 0)
  } finally {
    await log.close()
  }
})

test('--help and --version exit 0', (t) => {
  const h = chainlog(['--help'])
  t.is(h.status, 0)
  for (const cmd of ['verify', 'inspect', 'read', 'tail', 'append', 'bench']) t.regex(h.stdout, new RegExp(`\\b${cmd}\\b`))
  t.regex(h.stdout, /Exit codes: 0 all good, 1 problems found, 2 usage error/)
  const v = chainlog(['--version'])
  t.is(v.status, 0)
  t.regex(v.stdout, /^\d+\.\d+\.\d+/)
  t.is(chainlog(['read', '--help']).status, 0)
})

test('bench runs the quick benchmark from a source checkout', (t) => {
  const r = chainlog(['bench', '--dry-run'])
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /bench[/\\]run\.ts --quick/)
})
