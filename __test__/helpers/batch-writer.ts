/**
 * Child process for the atomic-batch follower test: appends batches of BATCH records (each about
 * 1.5 KiB, so one batch's write spans many pages) to stream 'b', sync 'never', up to 500 batches, until killed.
 * Every record names its batch and its place in it: "<batch>:<k>/<BATCH>:" + filler.
 *   node --import=tsx batch-writer.ts <dir> <backend>
 */
import { Log } from '../../ts/index.ts'

export const BATCH = 40
const MAX_BATCHES = 500

const [dir, backend] = process.argv.slice(2)
if (dir !== undefined) {
  const log = await Log.open(dir, { backend: backend as 'js' | 'native', sync: 'never', maxSegmentBytes: 4 * 1024 * 1024, checkpointEvery: false })
  process.stdout.write('ready\n')
  // At most MAX_BATCHES (about 30 MB), then idle until killed: a loaded machine's views stay quick.
  for (let n = 0; n < MAX_BATCHES; n++) {
    await log.append('b', Array.from({ length: BATCH }, (_, k) => `${n}:${k}/${BATCH}:` + 'y'.repeat(1500)))
  }
  // Idle until killed, but never outlive the test run: an orphan is re-parented, so ppid changes.
  const parent = process.ppid
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0)
  }, 1000)
}
