/**
 * Run in a child process: ships a small store once, then either stops the archiver and closes the
 * log, or only closes the log (the archiver left running, idle), and prints "shipped". The parent
 * checks that the process then exits on its own: neither the archiver's timer nor its shipping
 * thread may keep it alive.
 *
 *   node --import=tsx archive-idle-child.ts '{"url":…,"client":…,"dir":…,"stop":true|false}'
 */
import { Archiver, Log } from '../../ts/index.ts'

const { url, client, dir, stop } = JSON.parse(process.argv[2])
const log = await Log.open(dir, { maxSegmentBytes: 4096 })
for (let i = 0; i < 200; i++) await log.append('s', `event ${i}`)
const archiver = await Archiver.start(log, { url, client, interval: 50 })
await archiver.sync()
const thread = (archiver as unknown as Record<symbol, unknown>)[Symbol.for('chainlog.archiver.shipThread')]
if (thread === null) throw new Error('expected the archiver to ship on its thread')
if (stop) await archiver.stop()
await log.close()
console.log('shipped')
