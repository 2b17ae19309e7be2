/**
 * Child process for the crash tests: appends in a loop (several concurrent producers over two
 * streams, sync 'always', small segments, frequent checkpoints) and prints one JSON line per
 * acknowledged append, until it is killed.
 *   node --import=tsx crash-writer.ts <dir> <backend> <seed>
 */
import { Log } from '../../ts/index.ts'
import { rng, int } from './random.ts'

const [dir, backend, seedText] = process.argv.slice(2)
const rand = rng(Number(seedText))
const log = await Log.open(dir, { backend: backend as 'js' | 'native', maxSegmentBytes: 2048, checkpointEvery: 7 })
process.stdout.write(JSON.stringify({ ready: true }) + '\n')

async function producer(id: number): Promise<never> {
  for (let n = 0; ; n++) {
    const stream = int(rand, 0, 1) === 0 ? 'a' : 'b'
    const count = int(rand, 1, 4)
    const events = Array.from({ length: count }, (_, k) => `${id}:${n}:${k}:` + 'x'.repeat(int(rand, 0, 40)))
    const r = await log.append(stream, events)
    process.stdout.write(JSON.stringify({ stream, firstOffset: r.firstOffset, events }) + '\n')
  }
}

await Promise.all([producer(0), producer(1), producer(2)])
