import test from 'ava'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Log } from '../ts/index.ts'
import { openCheckpoint, verifierKeyFor, parseSignerKey, verifyConsistencyProof, verifyProof } from '../ts/tlog/index.ts'
import { CLI, ensureBuilt, ROOT } from './helpers/dist.ts'
import { rewriteFrom } from './helpers/rewrite.ts'

// `chainlog checkpoint`, `prove`, `consistency`, `verify --trusted --vkey` and `export-tiles`
// through the built CLI (dist/cli.js), on a store the library wrote.

test.before(() => ensureBuilt())

const dirs: string[] = []
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'chainlog-tlog-store-cli-'))
  dirs.push(d)
  return d
}

function chainlog(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, cwd: ROOT })
}

const ORIGIN = 'example.com/audit'

test('checkpoint signs and publishes; prove and consistency print texts the offline verifiers accept; verify --trusted fails on a rewritten store (exit 1); export-tiles writes a static log', async (t) => {
  const work = tempDir()
  const dir = join(work, 'store')
  const keyFile = join(work, 'skey')
  t.is(chainlog(['keygen', ORIGIN, '--out', keyFile]).status, 0)
  const log = await Log.open(dir, { hash: 'sha256' })
  for (let i = 0; i < 300; i++) await log.append('orders', `event-${i}`)
  await log.close()
  const vkey = verifierKeyFor(`${ORIGIN}/orders`, parseSignerKey(readFileSync(keyFile, 'utf8').trim()).publicKey)
  const first = chainlog(['checkpoint', dir, 'orders', '--key', keyFile, '--origin', ORIGIN])
  t.is(first.status, 0, first.stderr)
  const note1 = first.stdout
  const size1 = openCheckpoint(note1, { vkey, origin: ORIGIN }).size
  t.is(size1, 301, 'the records, and the checkpoint close() wrote after them')
  const l2 = await Log.open(dir)
  for (let i = 300; i < 320; i++) await l2.append('orders', `event-${i}`)
  await l2.close()
  const second = chainlog(['checkpoint', dir, 'orders', '--key', keyFile, '--origin', ORIGIN])
  t.is(second.status, 0, second.stderr)
  const size2 = openCheckpoint(second.stdout, { vkey, origin: ORIGIN }).size

  const proof = chainlog(['prove', dir, 'orders', '7'])
  t.is(proof.status, 0, proof.stderr)
  t.is(verifyProof(proof.stdout, { vkey, origin: ORIGIN, hash: 'sha256' }).index, 7)
  const cons = chainlog(['consistency', dir, 'orders', String(size1)])
  t.is(cons.status, 0, cons.stderr)
  t.is(verifyConsistencyProof(cons.stdout, { vkey, origin: ORIGIN, old: note1 }).size, size2)
  t.is(chainlog(['prove', dir, 'orders', '99999']).status, 2)
  t.is(chainlog(['prove', dir, 'orders', '1', '--size', '5']).status, 2, 'no published note of that size')

  const noteFile = join(work, 'note')
  writeFileSync(noteFile, note1)
  const vkeyFile = join(work, 'vkey')
  writeFileSync(vkeyFile, `${vkey}\n`)
  const ok = chainlog(['verify', dir, 'orders', '--trusted', noteFile, '--vkey', vkeyFile])
  t.is(ok.status, 0, ok.stdout + ok.stderr)

  const out = join(work, 'static')
  const ex = chainlog(['export-tiles', dir, 'orders', out])
  t.is(ex.status, 0, ex.stderr)
  t.is(readFileSync(join(out, 'checkpoint'), 'utf8'), second.stdout)
  const files = (readdirSync(out, { recursive: true }) as string[]).filter((f) => statSync(join(out, f)).isFile()).sort()
  t.true(files.includes('tile/0/000'))
  t.true(files.includes(`tile/0/001.p/${size2 - 256}`))
  t.true(files.includes(`tile/entries/001.p/${size2 - 256}`))
  t.true(files.includes('tile/1/000.p/1'))
  t.is(readFileSync(join(out, 'tile/entries/000')).length, 256 * 34)
  t.is(chainlog(['export-tiles', dir, 'orders', out]).status, 2, 'refuses a directory that is not empty')

  // Rewrite history from record 10 on (the key holder's store, re-hashed by an attacker): exit 1.
  await rewriteFrom(dir, 'orders', 10)
  const bad = chainlog(['verify', dir, 'orders', '--trusted', noteFile, '--vkey', vkeyFile])
  t.is(bad.status, 1, bad.stdout + bad.stderr)
  t.regex(bad.stdout, /ERR_CHAIN_BROKEN/)
  t.false(existsSync(join(dir, 'orders', 'key')))
})
