/**
 * Run in a child process (so its memory is its own): restores or verifies an archive and prints
 * one JSON line with the peak `process.memoryUsage()` seen while doing it. `arrayBuffers` is the
 * figure that matters: Buffers (downloaded bytes, scan copies) live outside the V8 heap, so
 * `--max-old-space-size` does not bound them. Sampled from a timer, which runs whenever the work
 * awaits (network reads, the native core's scans, file writes).
 *
 * Two ways to sample. Raw (every 2 ms): what the process holds, dead Buffers included — V8
 * collects them only once about 64 MiB more external memory has been allocated since its last
 * full GC, so any download that allocates as it goes shows up to ~64 MiB of garbage on top of
 * what it keeps. Live (`"live": true`, run with --expose-gc): a full GC before each sample
 * (every 20 ms), so the figure is what the work keeps reachable — the bound its design sets.
 *
 *   node [--expose-gc] --import=tsx archive-memory-child.ts '{"job":"restore"|"verify","url":…,"client":…,"dir":…,"backend":…,"live"?:true}'
 */
import { ArchiveReader, restore } from '../../ts/index.ts'

const { job, url, client, dir, backend, live } = JSON.parse(process.argv[2])
const collect = live === true ? (globalThis.gc as () => void) : () => {}
if (live === true && typeof globalThis.gc !== 'function') throw new Error('live sampling needs --expose-gc')
const peak = { arrayBuffers: 0, rss: 0 }
const sample = () => {
  collect()
  const m = process.memoryUsage()
  peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers)
  peak.rss = Math.max(peak.rss, m.rss)
}
sample()
const baseline = { ...peak }
const timer = setInterval(sample, live === true ? 20 : 2)
const started = performance.now()
let bytes = 0
let ok = true
if (job === 'restore') {
  const report = await restore(url, dir, { client, backend })
  bytes = report.streams.reduce((n, s) => n + s.bytes, 0)
} else {
  const reader = await ArchiveReader.open(url, { client, backend })
  try {
    const report = await reader.verify(undefined, { onProgress: (p) => (bytes = p.bytesDone) })
    ok = report.ok
  } finally {
    reader.close()
  }
}
const ms = performance.now() - started
clearInterval(timer)
sample()
console.log(JSON.stringify({ job, ok, bytes, ms, baseline, peak }))
