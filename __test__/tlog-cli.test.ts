import test from 'ava'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBLAKE3 } from 'hash-wasm'
import { openNote, parseSignerKey } from '../ts/tlog/note.ts'
import { CLI, ensureBuilt, ROOT } from './helpers/dist.ts'
import { fixtureStream, type FixtureStream } from './helpers/tlog-fixture.ts'

// `chainlog keygen` and `chainlog verify-proof` through the built CLI (dist/cli.js), and the
// `chainlog/tlog` subpath export of the built package, imported and required by name.

test.before(() => ensureBuilt())

const dirs: string[] = []
test.after.always(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'chainlog-tlog-cli-'))
  dirs.push(d)
  return d
}

function chainlog(args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 60_000, cwd: ROOT })
}

const ORIGIN = 'example.com/audit'

/** A key made by `chainlog keygen`, and a stream signed with it under the key's name. */
function keyAndStream(n: number, hash?: (d: Uint8Array) => Buffer): { dir: string; keyFile: string; vkey: string; s: FixtureStream } {
  const dir = tempDir()
  const keyFile = join(dir, 'orders.key')
  const r = chainlog(['keygen', `${ORIGIN}/orders`, '--out', keyFile])
  if (r.status !== 0) throw new Error(`keygen failed: ${r.stderr}`)
  const skey = readFileSync(keyFile, 'utf8').trim()
  return { dir, keyFile, vkey: r.stdout.trim(), s: fixtureStream(ORIGIN, 'orders', skey, n, hash) }
}

test('keygen --out writes a mode-0600 Go-format private key, prints its verifier key, and never overwrites', (t) => {
  const { dir, keyFile, vkey } = keyAndStream(0)
  t.is(statSync(keyFile).mode & 0o777, 0o600)
  const skey = readFileSync(keyFile, 'utf8')
  t.regex(skey, /^PRIVATE\+KEY\+example\.com\/audit\/orders\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$/)
  t.is(parseSignerKey(skey.trim()).vkey, vkey)
  const again = chainlog(['keygen', 'other', '--out', keyFile])
  t.is(again.status, 2)
  t.regex(again.stderr, /refusing to overwrite/)
  t.is(readFileSync(keyFile, 'utf8'), skey)
  t.is(chainlog(['keygen', 'other', '--out', join(dir, 'missing', 'k')]).status, 2)
})

test('keygen without --out prints the private key on stdout and the verifier key on stderr; bad names exit 2', (t) => {
  const r = chainlog(['keygen', 'example.com/audit'])
  t.is(r.status, 0)
  const signer = parseSignerKey(r.stdout.trim())
  t.is(r.stderr.trim(), `verifier key: ${signer.vkey}`)
  for (const bad of ['a b', 'a+b', '']) {
    const b = chainlog(['keygen', bad])
    t.is(b.status, 2, bad)
    t.regex(b.stderr, /ERR_INVALID_ARGUMENT/)
  }
})

test('verify-proof: a proof checks out (exit 0), with its payload, from a file or stdin, with the vkey or a vkey file', (t) => {
  const { dir, vkey, s } = keyAndStream(20)
  const proof = join(dir, 'p.tlog-proof')
  writeFileSync(proof, s.prove(7, 20))
  const payload = join(dir, 'payload')
  writeFileSync(payload, s.payloads[7])
  const ok = chainlog(['verify-proof', '--vkey', vkey, '--origin', ORIGIN, proof, '--payload', payload])
  t.is(ok.status, 0, ok.stderr)
  t.regex(ok.stdout, /^ok +orders offset 7 \(data, 2023-11-14T22:13:20\.007Z, 7 bytes\) is in the tree of size 20 signed by example\.com\/audit\/orders \(sha256 store\); the payload matches/)
  const vkeyFile = join(dir, 'vkeys')
  writeFileSync(vkeyFile, `${vkey}\n`)
  const json = chainlog(['verify-proof', '--vkey', vkeyFile, '--origin', ORIGIN, '--json', '-'], s.prove(0, 1))
  t.is(json.status, 0, json.stderr)
  t.like(JSON.parse(json.stdout), { ok: true, stream: 'orders', offset: 0, treeSize: 1, hash: 'sha256', payloadChecked: false })
})

test('verify-proof: a BLAKE3 store proof is recognised (or named with --hash); the SPEC vector h0 holds', async (t) => {
  const b3 = await createBLAKE3()
  const blake3 = (d: Uint8Array) => Buffer.from(b3.init().update(d).digest('binary'))
  const { dir, vkey, s } = keyAndStream(5, blake3)
  t.is(s.chainHashes[0].toString('hex'), '16ef6ccfc9f4f43b2d8019548ab1b489088d54e6a7a98d3e3272dca3217ab710') // SPEC §2
  const proof = join(dir, 'p')
  writeFileSync(proof, s.prove(2, 5))
  const auto = chainlog(['verify-proof', '--vkey', vkey, '--origin', ORIGIN, proof])
  t.is(auto.status, 0, auto.stderr)
  t.regex(auto.stdout, /\(blake3 store\)/)
  t.is(chainlog(['verify-proof', '--vkey', vkey, '--origin', ORIGIN, '--hash', 'blake3', proof]).status, 0)
  t.is(chainlog(['verify-proof', '--vkey', vkey, '--origin', ORIGIN, '--hash', 'sha256', proof]).status, 1)
})

test('verify-proof: exit 1 when it does not check out, 2 for malformed input or usage, never a crash', (t) => {
  const { dir, vkey, s } = keyAndStream(20)
  const other = chainlog(['keygen', `${ORIGIN}/orders`]).stderr.trim().replace('verifier key: ', '')
  const write = (name: string, text: string) => {
    const p = join(dir, name)
    writeFileSync(p, text)
    return p
  }
  const good = write('good', s.prove(7, 20))
  const payload = write('wrong-payload', 'event-8')
  const cases: Array<[string[], number, RegExp]> = [
    [['--vkey', other, '--origin', ORIGIN, good], 1, /ERR_CHAIN_BROKEN/],
    [['--vkey', vkey, '--origin', 'example.org/audit', good], 1, /ERR_CHAIN_BROKEN/],
    [['--vkey', vkey, '--origin', ORIGIN, good, '--payload', payload], 1, /ERR_CHAIN_BROKEN/],
    [['--vkey', vkey, '--origin', ORIGIN, write('edited', s.prove(7, 20).replace('index 7', 'index 6'))], 1, /ERR_CHAIN_BROKEN/],
    [['--vkey', vkey, '--origin', ORIGIN, write('garbage', 'hello\n')], 2, /ERR_INVALID_ARGUMENT/],
    [['--vkey', vkey, '--origin', ORIGIN, write('bad-b64', s.prove(7, 20).replace(/\nindex 7\n./, '\nindex 7\n!'))], 2, /ERR_INVALID_ARGUMENT/],
    [['--vkey', 'not-a-key', '--origin', ORIGIN, good], 2, /ERR_INVALID_ARGUMENT/],
    [['--vkey', vkey, '--origin', ORIGIN, join(dir, 'missing')], 2, /no such file/],
    [['--vkey', vkey, good], 2, /origin/],
    [['--origin', ORIGIN, good], 2, /vkey/],
  ]
  for (const [args, status, stderr] of cases) {
    const r = chainlog(['verify-proof', ...args])
    t.is(r.status, status, `${args.join(' ')}: ${r.stderr}`)
    t.regex(r.stderr, stderr)
    t.notRegex(r.stderr, /\n\s+at /) // no stack trace
  }
})

test('the chainlog/tlog subpath export resolves by name in ESM and CommonJS, and shares ChainlogError with chainlog', (t) => {
  const { s } = keyAndStream(3)
  const proof = s.prove(1, 3)
  const esm = `
    import { ChainlogError } from 'chainlog'
    import * as tlog from 'chainlog/tlog'
    const r = tlog.verifyProof(process.env.PROOF, { vkey: process.env.VKEY, origin: ${JSON.stringify(ORIGIN)}, hash: 'sha256' })
    let code
    try { tlog.parseCheckpoint('bad') } catch (e) { code = e instanceof ChainlogError && e.code }
    console.log(JSON.stringify({ index: r.index, code, names: Object.keys(tlog).filter((k) => ['generateKey', 'openCheckpoint', 'verifyInclusion', 'verifyConsistency', 'verifyProof'].includes(k)).sort() }))`
  const cjs = `
    const { ChainlogError } = require('chainlog')
    const tlog = require('chainlog/tlog')
    const r = tlog.verifyProof(process.env.PROOF, { vkey: process.env.VKEY, origin: ${JSON.stringify(ORIGIN)}, hash: 'sha256' })
    let code
    try { tlog.parseCheckpoint('bad') } catch (e) { code = e instanceof ChainlogError && e.code }
    console.log(JSON.stringify({ index: r.index, code, key: tlog.generateKey('x').vkey.startsWith('x+') }))`
  const env = { ...process.env, PROOF: proof, VKEY: s.vkey }
  const a = spawnSync(process.execPath, ['--input-type=module', '-e', esm], { cwd: ROOT, env, encoding: 'utf8' })
  t.is(a.status, 0, a.stderr)
  t.deepEqual(JSON.parse(a.stdout), { index: 1, code: 'ERR_INVALID_ARGUMENT', names: ['generateKey', 'openCheckpoint', 'verifyConsistency', 'verifyInclusion', 'verifyProof'] })
  const b = spawnSync(process.execPath, ['-e', cjs], { cwd: ROOT, env, encoding: 'utf8' })
  t.is(b.status, 0, b.stderr)
  t.deepEqual(JSON.parse(b.stdout), { index: 1, code: 'ERR_INVALID_ARGUMENT', key: true })
  // The declarations name the same API.
  const dts = readFileSync(join(ROOT, 'dist', 'tlog.d.ts'), 'utf8')
  for (const name of ['generateKey', 'openCheckpoint', 'verifyInclusion', 'verifyConsistency', 'verifyProof']) t.regex(dts, new RegExp(`export declare function ${name}\\(`))
  t.truthy(openNote)
})
