/**
 * Child process for the signing crash test: appends to two streams from concurrent producers and
 * signs checkpoints in between (tlog on, small segments), printing every returned note, until it
 * is killed.
 *   node --import=tsx tlog-crash-writer.ts <dir> <backend> <seed> <keyfile>
 */
import { Log } from '../../ts/index.ts'
import { int, rng } from './random.ts'

const [dir, backend, seedText, keyFile] = process.argv.slice(2)
const rand = rng(Number(seedText))
const log = await Log.open(dir, { backend: backend as 'js' | 'native', hash: 'sha256', maxSegmentBytes: 4096, checkpointEvery: 9, tlog: { origin: 'example.com/crash', signer: keyFile } })
process.stdout.write(JSON.stringify({ ready: true }) + '\n')

async function producer(id: number): Promise<never> {
  for (let n = 0; ; n++) {
    const stream = int(rand, 0, 1) === 0 ? 'a' : 'b'
    await log.append(stream, Array.from({ length: int(rand, 1, 4) }, (_, k) => `${id}:${n}:${k}:` + 'x'.repeat(int(rand, 0, 40))))
    if (int(rand, 0, 5) === 0) {
      const cp = await log.checkpoint(stream)
      process.stdout.write(JSON.stringify({ stream, note: cp.note }) + '\n')
    }
  }
}

await Promise.all([producer(0), producer(1)])
