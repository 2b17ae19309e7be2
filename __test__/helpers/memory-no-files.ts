/**
 * Child of the memory-log test: runs the whole public API on Log.memory() with every fs entry
 * point wrapped, and prints the calls made (there must be none) as its last line.
 *   node --import=tsx memory-no-files.ts <backend>
 */
import fs from 'node:fs'
import { Log } from '../../ts/index.ts'

const backend = process.argv[2] as 'native' | 'js'
// Loading a core reads its own files (the addon, WebAssembly): done before the spy is set.
await (await Log.memory({ backend })).close()

const calls: string[] = []
const spy = (target: Record<string, unknown>, prefix: string) => {
  for (const name of Object.keys(target)) {
    const f = target[name]
    if (typeof f !== 'function' || /^[A-Z]/.test(name)) continue
    target[name] = function (this: unknown, ...args: unknown[]) {
      calls.push(`${prefix}${name}(${typeof args[0] === 'string' ? args[0] : ''})`)
      return (f as (...a: unknown[]) => unknown).apply(this, args)
    }
  }
}
spy(fs as unknown as Record<string, unknown>, 'fs.')
spy(fs.promises as unknown as Record<string, unknown>, 'fs.promises.')

const log = await Log.memory({ backend, checkpointEvery: 4, maxSegmentBytes: 2048, compression: 'zstd' })
let records = 0
const follower = (async () => {
  for await (const r of log.iterate('s', { follow: true })) {
    records++
    if (r.payload.toString() === 'last') break
  }
})()
for (let i = 0; i < 30; i++) await log.append('s', [`event-${i}`, 'y'.repeat(i * 10)])
const head = await log.head('s')
await log.append('s', 'last', { expectedOffset: head.nextOffset, expectedHash: head.hash })
await follower
await log.checkpoint('s')
await log.read('s', { from: 3, limit: 5 })
await log.read('s', { fromTime: 0 })
await log.get('s', 7)
await log.get('s', 7, { verify: 'genesis' })
const report = await log.verify()
if (!report.ok) throw new Error(JSON.stringify(report))
await log.streams()
await log.flush()
await log.close()
process.stdout.write(JSON.stringify({ fsCalls: calls, records }) + '\n')
