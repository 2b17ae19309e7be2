/**
 * What the engine costs in W1 (docs/perf-notes.md, "W1 native against its floor"): one subject's
 * W1 (1M × 256 B in batches of 1000, sync never, after a 100k warm-up) in this process, printing
 * wall and process CPU (all threads) per record as one JSON line, with the main thread's CPU per
 * record in the timed run and the other threads' (Linux: /proc/self/task/<tid>/schedstat; libuv's
 * pool, V8's helpers and the native core's threads are all named "node", so they are listed by
 * CPU, largest first; a thread that ended during the run is not counted). Subjects:
 * native (no `tlog`: the Merkle tree is built only when first asked for, as in `npm run bench`);
 * native-tree (opened with `tlog`: the tree follows the commits and checkpoints carry signed
 * notes, issue 17's "with the Merkle tree on"); floor; floor-wb (the floor with the engine's
 * write-behind: an async fdatasync every 16 MiB); floor-tree and floor-wb-tree (the same with the
 * Merkle tree extended in the encode call, as native-tree's engine does). Run them interleaved,
 * several times, and compare medians:
 *
 *   for i in 1 2 3 4 5; do for s in native native-tree floor floor-wb floor-tree; do node --import=tsx bench/w1-engine.ts $s; done; done
 *
 * `--records N`: N records in the timed run instead of 1M (a longer run shows what is paid once per
 * process, such as V8 compiling the engine's code on its helper threads, and what per record).
 * `--profile DIR`: a CPU profile of the main thread over the timed run only, sampled every 200 µs,
 * written to DIR/<subject>-<pid>.cpuprofile (by function, per batch:
 * node bench/cpu-profile-summary.mjs --functions 1000 FILE).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCpuProfile } from './cpu-profile.ts'
import { binaryPayloads } from './data.ts'
import { openSubject } from './subjects.ts'

const WRITE_BEHIND_BYTES = 16 * 1024 * 1024 // ts/engine/write-behind.ts
const SUBJECTS = ['native', 'native-tree', 'floor', 'floor-wb', 'floor-tree', 'floor-wb-tree']
const subject = process.argv[2] ?? 'native'
const profileAt = process.argv.indexOf('--profile')
const profileDir = profileAt > 0 ? process.argv[profileAt + 1] : undefined
const recordsAt = process.argv.indexOf('--records')
const timedRecords = recordsAt > 0 ? Number(process.argv[recordsAt + 1]) : 1_000_000
if (!SUBJECTS.includes(subject)) throw new Error(`unknown subject ${subject}; known: ${SUBJECTS.join(', ')}`)

/** CPU ns each live thread has run, by tid; empty where /proc is absent. */
function threadCpu(): Map<string, number> {
  const threads = new Map<string, number>()
  if (!existsSync('/proc/self/task')) return threads
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      threads.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]))
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads
}

const batch = binaryPayloads(1000, 256)
let result = {}
for (const records of [100_000, timedRecords]) {
  const dir = mkdtempSync(join(tmpdir(), 'chainlog-w1-engine-'))
  const s = await openSubject(subject.startsWith('native') ? 'native' : 'floor', dir, {
    sync: 'never', writeBehindBytes: subject.startsWith('floor-wb') ? WRITE_BEHIND_BYTES : undefined, tree: subject.endsWith('-tree'),
  })
  const profile = records === timedRecords && profileDir !== undefined ? await startCpuProfile(200) : undefined
  const threads0 = threadCpu()
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < records; i += batch.length) await s.append(batch)
  const wallNs = Number(process.hrtime.bigint() - t0) / records
  const cpu = process.cpuUsage(cpu0)
  await profile?.stop(join(profileDir!, `${subject}-${process.pid}.cpuprofile`))
  let mainNs = 0
  const otherNs: number[] = []
  for (const [tid, ns] of threadCpu()) {
    // The main thread's tid is the pid; a thread started during the run counts from 0.
    const perRecord = (ns - (threads0.get(tid) ?? 0)) / records
    if (tid === String(process.pid)) mainNs = perRecord
    else if (perRecord >= 0.5) otherNs.push(perRecord)
  }
  await s.close()
  rmSync(dir, { recursive: true, force: true })
  result = {
    subject, wallNsPerRecord: Math.round(wallNs), cpuNsPerRecord: Math.round(((cpu.user + cpu.system) * 1000) / records), recordsPerSec: Math.round(1e9 / wallNs),
    mainCpuNsPerRecord: Math.round(mainNs), otherThreadsCpuNsPerRecord: otherNs.sort((a, b) => b - a).map(Math.round),
  }
}
console.log(JSON.stringify(result))
