/**
 * Child process for the dictionary crash test: trains and stores dictionaries on one stream over
 * and over (each with new samples, so each is a new file and a new list), appending between
 * trainings, printing one line per stored dictionary, until it is killed.
 *   node --import=tsx dictionary-trainer.ts <dir>
 */
import { Log } from '../../ts/index.ts'
import { jsonEvents } from './json-events.ts'

const [dir] = process.argv.slice(2)
const log = await Log.open(dir, { backend: 'native', compression: 'zstd', sync: 'always' })
await log.append('events', jsonEvents(0, 500))
process.stdout.write('ready\n')
for (let round = 1; ; round++) {
  const r = await log.trainDictionary('events', { samples: jsonEvents(round * 1000, 800), maxBytes: 4096 })
  await log.append('events', jsonEvents(round * 100_000, 50))
  process.stdout.write(`${JSON.stringify(r)}\n`)
}
