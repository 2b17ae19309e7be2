/**
 * Child of the open-file budget test, run under a small `ulimit -n`: appends to many streams in
 * random order, concurrently, some with sync 'always' and some 'never', reads every stream back,
 * closes, reopens, verifies, and prints a JSON summary as its last line.
 *   node --import=tsx many-streams.ts <dir> <backend> <streams> [maxOpenFiles]
 */
import { readdirSync } from 'node:fs'
import { Log } from '../../ts/index.ts'
import { int, rng } from './random.ts'

const [dir, backend, streamsText, budgetText] = process.argv.slice(2)
const streams = Number(streamsText)
const options = { backend: backend as 'native' | 'js', maxOpenFiles: budgetText === undefined ? undefined : Number(budgetText) }
const rand = rng(20261204)
const openFds = () => readdirSync('/proc/self/fd').length
let peakFds = 0
const sample = setInterval(() => (peakFds = Math.max(peakFds, openFds())), 5)

const log = await Log.open(dir, options)
const expected = new Map<string, string[]>()
const order = Array.from({ length: streams * 2 }, (_, i) => i % streams).sort(() => rand() - 0.5)
let next = 0
const worker = async () => {
  while (next < order.length) {
    const s = `s${order[next++]}`
    const payload = `${s}-${int(rand, 0, 1e9)}`
    const sync = rand() < 0.5 ? 'always' : 'never'
    await log.append(s, payload, { sync })
    expected.set(s, [...(expected.get(s) ?? []), payload])
    peakFds = Math.max(peakFds, openFds())
  }
}
await Promise.all(Array.from({ length: 64 }, worker))
let readBack = 0
for (const [s, payloads] of expected) {
  const got = (await log.read(s)).map((r) => r.payload.toString())
  if (JSON.stringify(got) !== JSON.stringify(payloads)) throw new Error(`${s}: read ${JSON.stringify(got)}, expected ${JSON.stringify(payloads)}`)
  readBack += got.length
}
await log.close()
const again = await Log.open(dir, options)
const report = await again.verify()
let reopened = 0
for (const [s, payloads] of expected) {
  const got = (await again.read(s)).map((r) => r.payload.toString())
  if (JSON.stringify(got) !== JSON.stringify(payloads)) throw new Error(`after reopen, ${s}: read ${JSON.stringify(got)}, expected ${JSON.stringify(payloads)}`)
  reopened += got.length
}
await again.close()
clearInterval(sample)
process.stdout.write(JSON.stringify({ ok: report.ok, streams: (await Promise.resolve(expected.size)), readBack, reopened, peakFds }) + '\n')
