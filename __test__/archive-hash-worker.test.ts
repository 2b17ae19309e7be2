import test from 'ava'
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { OffThreadSha256 } from '../ts/archive/hash-worker.ts'

const sha256 = (parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest('hex')

test('the hashing thread digests the chunks in order and hands each back unchanged, whether it owns its memory or shares it', async (t) => {
  const big = randomBytes(3 * 1024 * 1024)
  const chunks = [Buffer.from('pooled, shares the pool'), big.subarray(5, 1024 * 1024 + 5), Buffer.alloc(0), Buffer.from(randomBytes(1024 * 1024)), big.subarray(2 * 1024 * 1024)]
  const expected = chunks.map((c) => Buffer.from(c))
  const hash = new OffThreadSha256()
  const back: Buffer[] = []
  for (const c of chunks) back.push(await hash.update(c))
  t.deepEqual(back, expected)
  t.is(await hash.digest(), sha256(expected))
})

test('hashes in flight at once keep apart; an empty one is the empty digest', async (t) => {
  const a = [randomBytes(70_000), randomBytes(10)]
  const b = [randomBytes(3), randomBytes(200_000), randomBytes(1)]
  const ha = new OffThreadSha256()
  const hb = new OffThreadSha256()
  const he = new OffThreadSha256()
  await Promise.all([Promise.all(a.map((c) => ha.update(Buffer.from(c)))), Promise.all(b.map((c) => hb.update(Buffer.from(c))))])
  t.deepEqual(await Promise.all([ha.digest(), hb.digest(), he.digest()]), [sha256(a), sha256(b), sha256([])])
})

test('a finished or abandoned hash refuses more chunks with ERR_CLOSED', async (t) => {
  const done = new OffThreadSha256()
  await done.digest()
  await t.throwsAsync(done.update(Buffer.from('late')), { instanceOf: Error, message: /already finished/ })
  const dropped = new OffThreadSha256()
  await dropped.update(Buffer.from('x'))
  dropped.abandon()
  const err = await t.throwsAsync(dropped.digest())
  t.is((err as { code?: string }).code, 'ERR_CLOSED')
})

test('the hashing thread does not keep a process alive once its hashes are done', (t) => {
  const module = fileURLToPath(new URL('../ts/archive/hash-worker.ts', import.meta.url))
  const script = `const { OffThreadSha256 } = await import(${JSON.stringify(module)}); const h = new OffThreadSha256(); await h.update(Buffer.alloc(10)); console.log(await h.digest())`
  const r = spawnSync(process.execPath, [`--import=${import.meta.resolve('tsx')}`, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), sha256([Buffer.alloc(10)]))
})
