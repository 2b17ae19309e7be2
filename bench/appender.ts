/**
 * W6's victim: appends 4 KiB events to an existing store until it is killed with SIGKILL. It says
 * "appending" once its first append landed, so the kill always falls in the middle of the work.
 *   node --import=tsx bench/appender.ts <dir> <native|js>
 */
import { Log } from '../ts/index.ts'
import { jsonPayloads } from './data.ts'

const [dir, backend] = process.argv.slice(2) as [string, 'native' | 'js']
const log = await Log.open(dir, { backend, sync: 'never' })
const batch = jsonPayloads(256, 4096)
await log.append('bench', batch)
process.stdout.write('appending\n')
for (;;) await log.append('bench', batch)
