/**
 * Child process for the tail-bound test: a bulk import as users write it, a tight loop of awaited
 * appends with sync 'never' (each resolves in microtasks: nothing else gets the event loop).
 * Prints "ready" once `targetBytes` were appended, and goes on until it is killed.
 *   node --import=tsx bulk-import-writer.ts <dir> <backend> <targetBytes>
 */
import { Log } from '../../ts/index.ts'

const [dir, backend, target] = process.argv.slice(2)
const EVENTS_PER_APPEND = 1000
const EVENT_BYTES = 256
const log = await Log.open(dir, { backend: backend as 'js' | 'native', sync: 'never' })
const batch = Array.from({ length: EVENTS_PER_APPEND }, (_, i) => Buffer.alloc(EVENT_BYTES, i % 251))
let appended = 0
for (let announced = false; ; ) {
  await log.append('import', batch)
  appended += EVENTS_PER_APPEND * EVENT_BYTES
  if (!announced && appended >= Number(target)) {
    process.stdout.write('ready\n') // a pipe: written synchronously, no event-loop turn needed
    announced = true
  }
}
