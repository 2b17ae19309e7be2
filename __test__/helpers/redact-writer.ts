/**
 * Child process for the redaction crash tests: two producers append to stream 'r' (sync
 * 'always', small segments, a codec per seed) while a third redacts earlier records, one after
 * another. Prints one JSON line per acknowledged append ({ firstOffset, events } in base64), one
 * before each redaction ({ redacting }) and one after it is acknowledged ({ redacted,
 * tombstone }), until killed — by the parent, or by itself at a step of the redaction when
 * CHAINLOG_TEST_REDACT_KILL_AT names one (engine/redaction.ts).
 *   node --import=tsx redact-writer.ts <dir> <backend> <seed>
 */
import { randomBytes } from 'node:crypto'
import { Log } from '../../ts/index.ts'
import { int, rng } from './random.ts'

const [dir, backend, seedText] = process.argv.slice(2)
const rand = rng(Number(seedText))
const compression = (['none', 'lz4', 'zstd'] as const)[int(rand, 0, 2)]
const log = await Log.open(dir, { backend: backend as 'js' | 'native', maxSegmentBytes: 4096, checkpointEvery: 9, compression })
const start = (await log.head('r')).nextOffset
process.stdout.write(JSON.stringify({ ready: true, start }) + '\n')
/** Data offsets acknowledged in this run, candidates for redaction. */
const acked: number[] = []

async function producer(id: number): Promise<never> {
  for (let n = 0; ; n++) {
    const count = int(rand, 1, 3)
    // Random bytes: a distinctive payload no codec shrinks, searchable in every file.
    const events = Array.from({ length: count }, () => Buffer.concat([Buffer.from(`P${id}:${n}:`), randomBytes(int(rand, 24, 120))]))
    const r = await log.append('r', events)
    for (let k = 0; k < count; k++) acked.push(r.firstOffset + k)
    process.stdout.write(JSON.stringify({ firstOffset: r.firstOffset, events: events.map((e) => e.toString('base64')) }) + '\n')
  }
}

async function redactor(): Promise<never> {
  for (;;) {
    if (acked.length < 6) {
      await new Promise((resolve) => setTimeout(resolve, 2))
      continue
    }
    const offset = acked.splice(int(rand, 0, acked.length - 1), 1)[0]
    process.stdout.write(JSON.stringify({ redacting: offset }) + '\n')
    const r = await log.redact('r', offset, { reason: `request ${offset}` })
    process.stdout.write(JSON.stringify({ redacted: offset, tombstone: r.tombstoneOffset }) + '\n')
  }
}

await Promise.all([producer(0), producer(1), redactor()])
