/**
 * Child process of the fault suite's crash trials. Opens the store (recovering what the last
 * kill left), then runs several concurrent producers appending random batches of random binary
 * payloads with sync 'always', and prints one JSON line per acknowledged append (payloads in
 * base64), until it is killed with SIGKILL.
 *   node --import=tsx fault-writer.ts <dir> <backend> <seed> <mode>
 * mode 'append': plain appends, small segments. 'rotation': segments so small that nearly every
 * append rotates. 'checkpoint': checkpoints after every 1–3 records plus explicit checkpoint()
 * calls. 'close': a few appends (5–60 ms after the first is acknowledged), then close() while more are in flight ("closing" is printed just
 * before close() is called, "closed" after it resolves). 'budget': 200 streams through an open-file
 * budget of 16 descriptors (maxOpenFiles), so descriptors are closed and reopened all the time.
 * 'journal': the store journal on (journal: true), 32 streams and more producers, so a round
 * carries several streams' groups, behind a budget of 16 descriptors.
 */
import { Log, type LogOptions } from '../../ts/index.ts'
import { int, payload, rng } from './random.ts'

const [dir, backend, seedText, mode] = process.argv.slice(2)
const rand = rng(Number(seedText))
const CODECS: LogOptions['compression'][] = ['none', 'lz4', 'zstd', { codec: 'zstd', level: 9 }]
const options: LogOptions = {
  backend: backend as 'js' | 'native',
  sync: 'always',
  compression: CODECS[int(rand, 0, CODECS.length - 1)],
  maxSegmentBytes: mode === 'rotation' ? int(rand, 200, 600) : int(rand, 1500, 6000),
  checkpointEvery: mode === 'checkpoint' ? int(rand, 1, 3) : int(rand, 5, 40),
  ...(mode === 'budget' ? { maxOpenFiles: 16 } : {}),
  // The journal under a descriptor budget smaller than its streams: evictions and its close-time checkpoint share it.
  ...(mode === 'journal' ? { journal: true, maxOpenFiles: 16 } : {}),
}
const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n')
const log = await Log.open(dir, options)
out({ ready: true, recovered: log.recovered.map((e) => e.action) })

const STREAMS = mode === 'budget' ? Array.from({ length: 200 }, (_, i) => `s${i}`) : mode === 'journal' ? ['a', 'b', '7', ...Array.from({ length: 29 }, (_, i) => `j${i}`)] : ['a', 'b', '7']
let stop = false
// Mode close starts its clock at the first acknowledgement: on a loaded machine a fixed delay
// after open can end before any append landed, and the trial would check nothing.
let firstAck!: () => void
const acknowledged = new Promise<void>((resolve) => (firstAck = resolve))

async function producer(id: number): Promise<void> {
  for (let n = 0; !stop; n++) {
    const stream = STREAMS[int(rand, 0, STREAMS.length - 1)]
    const count = int(rand, 1, 8)
    // Mostly small payloads (fast trials), now and then one of a few KiB.
    const events = Array.from({ length: count }, () => payload(rand, rand() < 0.1 ? int(rand, 500, 4000) : int(rand, 0, 120)))
    let r: Awaited<ReturnType<typeof log.append>>
    try {
      r = await log.append(stream, events)
    } catch (err) {
      if (stop) return // closed under us (mode close): a clean refusal is the expected outcome
      throw err
    }
    out({ stream, firstOffset: r.firstOffset, events: events.map((e) => e.toString('base64')) })
    firstAck()
    if (mode === 'checkpoint' && id === 0 && n % 2 === 1) await log.checkpoint(stream)
  }
}

const producers = Array.from({ length: mode === 'journal' ? int(rand, 8, 16) : int(rand, 2, 4) }, (_, i) => producer(i))
if (mode === 'close') {
  await acknowledged
  await new Promise((r) => setTimeout(r, int(rand, 5, 60)))
  stop = true
  out({ closing: true })
  await log.close()
  out({ closed: true })
  await Promise.allSettled(producers)
  setInterval(() => {}, 1000) // stay alive until killed
} else {
  await Promise.all(producers)
}
