/**
 * Writes W4s's events (bench/data.ts logEvents, the bench's seed and size) end to end into one
 * file, for the Rust probe crates/chainlog-core/examples/w4s_probe.rs:
 *   node --import=tsx bench/w4s-events.ts .cache/w4s-events.bin [count]
 * The first 10,000 are the stream's history, which W4s trains its dictionary on.
 */
import { writeFileSync } from 'node:fs'
import { logEvents } from './data.ts'

const [out = '.cache/w4s-events.bin', count = '210000'] = process.argv.slice(2)
writeFileSync(out, Buffer.concat(logEvents(Number(count), 256)))
console.log(`${count} × 256 B W4s events → ${out}`)
