/**
 * Child process for the archive crash test: appends in a loop (sync 'always', small segments)
 * with an Archiver shipping every 10 ms, printing one JSON line per acknowledged append, until
 * it is killed.
 *   node --import=tsx archive-writer.ts <dir> <backend> <url> <client JSON> <seed>
 */
import { Archiver, Log } from '../../ts/index.ts'
import { int, rng } from './random.ts'

const [dir, backend, url, client, seedText] = process.argv.slice(2)
const rand = rng(Number(seedText))
const log = await Log.open(dir, { backend: backend as 'js' | 'native', maxSegmentBytes: 4096, checkpointEvery: 9 })
await Archiver.start(log, { url, client: JSON.parse(client), interval: 10 })
process.stdout.write(`${JSON.stringify({ ready: true })}\n`)

async function producer(id: number): Promise<never> {
  for (let n = 0; ; n++) {
    const stream = int(rand, 0, 1) === 0 ? 'a' : 'b'
    const events = Array.from({ length: int(rand, 1, 3) }, (_, k) => `${id}:${n}:${k}:${'y'.repeat(int(rand, 0, 60))}`)
    const r = await log.append(stream, events)
    process.stdout.write(`${JSON.stringify({ stream, firstOffset: r.firstOffset, events })}\n`)
  }
}
await Promise.all([producer(0), producer(1)])
