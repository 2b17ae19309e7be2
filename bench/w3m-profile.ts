/**
 * W3m's commit path, profiled per append and per group (docs/perf-notes.md, "W3m with the journal:
 * what a round costs"): 256 producers of single 256 B appends under sync 'always' over S streams,
 * native core; a warm-up (the JIT still compiles for tens of thousands of appends), then the timed
 * appends with the main thread's CPU profile on. Prints one JSON line: appends/s, p50/p99; process
 * CPU per append (user, system) and each thread's (schedstat: the main thread, V8's and libuv's
 * workers, the core's sync threads); groups (data encodeBatch calls: one per group, bar a
 * checkpoint splitting one) and durability rounds (journal rounds; without the journal and with
 * one stream, its fdatasyncs = its groups); and the main thread's time by item of the commit path,
 * as µs of its CPU per append and per group.
 *
 *   node --import=tsx bench/w3m-profile.ts STREAMS [APPENDS=20000] [--journal] [--warmup N=5000]
 *        [--interval µs=200] [--no-profile] [--save FILE.cpuprofile] [--top N]
 *
 * --no-profile: CPU and rates without the profiler's own cost. --top N: the N functions with the
 * most self time (sampled µs per append; native functions are named wrongly, see summarize).
 * W3M_PROFILE_TIDS=1 names the other threads by id too (to match them with `perf record` output).
 * Run it under `nice -n 19 ionice -c 3` on a shared host (ionice's idle class slows the fdatasyncs).
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { KIND_DATA } from '../ts/core/interface.ts'
import { loadCore } from '../ts/core/load.ts'
import { openW3mStore } from './w3m-store.ts'
import { startCpuProfile } from './cpu-profile.ts'

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { journal: { type: 'boolean' }, 'no-profile': { type: 'boolean' }, interval: { type: 'string' }, save: { type: 'string' }, top: { type: 'string' }, warmup: { type: 'string' } },
})
const journal = args.journal ?? false
const streams = Number(positionals[0] ?? 16)
const appends = Number(positionals[1] ?? 20_000)
const warmup = Number(args.warmup ?? 5_000)
const intervalUs = Number(args.interval ?? 200)
const PRODUCERS = 256

const core = await loadCore('native')
let groups = 0
const encodeBatch = core.encodeBatch.bind(core)
core.encodeBatch = (input) => (input.kind === KIND_DATA && groups++, encodeBatch(input))

const { dir, log, names, event, journalRounds } = await openW3mStore('chainlog-w3m-profile-', streams, journal)

/** `n` appends from 256 producers, round-robin over the streams; their latencies in ms. */
async function run(n: number): Promise<Float64Array> {
  const latencies = new Float64Array(n)
  let issued = 0
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (issued < n) {
        const k = issued++
        const a = performance.now()
        await log.append(names[k % streams], [event])
        latencies[k] = performance.now() - a
      }
    }),
  )
  return latencies
}

/** CPU time so far (ns, kernel included) of each of the process's threads, by thread name (Linux: schedstat). */
function threadCpu(): Map<string, number> {
  const byName = new Map<string, number>()
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim()
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      const key = tid === String(process.pid) ? 'main thread' : process.env.W3M_PROFILE_TIDS === '1' ? `${name} ${tid}` : name
      byName.set(key, (byName.get(key) ?? 0) + ns)
    } catch {
      // the thread ended meanwhile
    }
  }
  return byName
}

/** The main thread's user and system CPU so far, in clock ticks (/proc/self/task/PID/stat fields 14 and 15). */
function mainThreadTicks(): { user: number; system: number } {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]), system: Number(fields[12]) }
}

await run(warmup)
const ticks0 = mainThreadTicks()
const profile = args['no-profile'] ? null : await startCpuProfile(intervalUs)
const threads0 = threadCpu()
const groups0 = groups
const rounds0 = journalRounds()
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const latencies = await run(appends)
const seconds = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
const threads = [...threadCpu()].map(([name, ns]) => [name, ns - (threads0.get(name) ?? 0)] as const).filter(([, ns]) => ns > 0)
const mainNs = threads.find(([name]) => name === 'main thread')?.[1] ?? 0
const ticks = mainThreadTicks()
/** Clock ticks are 10 ms (USER_HZ 100): coarse, but the split of the main thread's CPU between user and kernel. */
const mainSystemShare = (ticks.system - ticks0.system) / Math.max(1, ticks.user - ticks0.user + ticks.system - ticks0.system)
const timedGroups = groups - groups0
const rounds = journal ? journalRounds() - rounds0 : streams === 1 ? timedGroups : null
const profilePath = args.save ?? join(dir, 'timed.cpuprofile')
await profile?.stop(profilePath)
const { byItem, top, sampledMs, idleMs } = profile === null ? { byItem: [], top: [], sampledMs: 0, idleMs: 0 } : summarize(profilePath, Number(args.top ?? 0))
await log.close()
rmSync(dir, { recursive: true, force: true })

latencies.sort()
const perAppend = (us: number) => +(us / appends).toFixed(2)
const perGroup = (us: number) => +(us / timedGroups).toFixed(2)
console.log(
  JSON.stringify({
    streams,
    journal,
    appends,
    appendsPerSec: Math.round(appends / seconds),
    p50: +latencies[latencies.length >> 1].toFixed(2),
    p99: +latencies[Math.floor(latencies.length * 0.99)].toFixed(2),
    cpuMicrosPerAppend: perAppend(cpu.user + cpu.system),
    userMicrosPerAppend: perAppend(cpu.user),
    systemMicrosPerAppend: perAppend(cpu.system),
    cpuCores: +((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2),
    groups: timedGroups,
    appendsPerGroup: +(appends / timedGroups).toFixed(2),
    rounds,
    roundsPer10k: rounds === null ? null : +((rounds * 10_000) / appends).toFixed(1),
    groupsPerRound: rounds === null ? null : +(timedGroups / rounds).toFixed(1),
    roundMsMean: rounds === null ? null : +((seconds * 1000) / rounds).toFixed(2),
    // CPU per append of each thread (ns → µs), by name: the main thread, libuv's pool, V8's workers, the core's sync threads.
    mainThreadSystemShare: +mainSystemShare.toFixed(2),
    threadMicrosPerAppend: Object.fromEntries(threads.sort((a, b) => b[1] - a[1]).map(([name, ns]) => [name, perAppend(ns / 1000)])),
    ...(profile === null ? {} : { profiledMainThreadMicrosPerAppend: perAppend((sampledMs - idleMs) * 1000), mainThreadIdleShare: +(idleMs / sampledMs).toFixed(2) }),
    // µs of main-thread self time per append and per group, by item of the commit path.
    // The profiler samples the main thread in wall time: a thread the other tenants keep off the
    // CPU is still sampled in whatever it was doing. So each item's share of the sampled busy time
    // is charged against the main thread's measured CPU (schedstat) instead.
    items: Object.fromEntries(byItem.map(([item, ms]) => [item, { perAppend: perAppend((ms / (sampledMs - idleMs)) * mainNs / 1000), perGroup: perGroup((ms / (sampledMs - idleMs)) * mainNs / 1000) }])),
    ...(top.length > 0 ? { top: top.map(([fn, ms]) => [fn, perAppend(ms * 1000)]) } : {}),
  }),
)

/**
 * Self time by item. A sample belongs to the first frame of its stack, from the leaf up, that is
 * chainlog's or the probe's code: what Node's internals (Buffer, fs) and the native core's calls
 * (whose names V8 reports wrongly: read them by their caller) cost is charged to the code that
 * called them. An await's continuation starts a stack of its own (its root is the microtask
 * queue), so a sample is charged to the function that resumed, not to its caller.
 */
function summarize(path: string, topN: number) {
  const p = JSON.parse(readFileSync(path, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>
    samples: number[]
    timeDeltas: number[]
  }
  const ITEMS: Array<[string, (fn: string, file: string) => boolean]> = [
    ['encodeBatch native call (+ its buffers)', (fn, file) => (file === 'core/native.ts' && fn !== 'crc32') || file === 'core/interface.ts' || fn === 'core.encodeBatch'],
    ['segment write: writeSync and its syscall', (fn, file) => file === 'storage/disk-storage.ts' && fn === 'write'],
    ['file handle bookkeeping (open-files budget)', (_fn, file) => file === 'storage/disk-storage.ts' || file === 'storage/open-files.ts'],
    ['offset index', (_fn, file) => file === 'storage/offset-index.ts' || file === 'engine/segment-indexes.ts'],
    ['Merkle tree / checkpoint policy', (_fn, file) => /^engine\/(stream-tree|checkpoint|known-checkpoints)\.ts$/.test(file)],
    ['journal entry build + CRC + round', (fn, file) => /^(engine\/journal|storage\/journal-file)\.ts$/.test(file) || (file === 'core/native.ts' && fn === 'crc32')],
    ['commit.ts: plan, encoder, write step, settle', (_fn, file) => file === 'engine/commit.ts'],
    ['stream.ts: prepareWrite, applyCommit, syncWrite, afterCommit', (_fn, file) => /^engine\/(stream|segment|write-behind|sync-window)\.ts$/.test(file)],
    ['queue + Log.append (commit-queue, log.ts, append-input, validate)', () => true],
  ]
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  /** The item of a stack whose leaf is node `id`. */
  const itemOf = (id: number): string => {
    const leaf = byId.get(id)!.callFrame
    if (leaf.url === '' && leaf.functionName === '(garbage collector)') return 'GC'
    if (leaf.url === '' && leaf.functionName === '(program)') return '(program): V8 and libuv outside any JS frame'
    // The binding's fdatasync only queues the request (strace -f: every fdatasync runs on a pool
    // thread); the sampler charges it the wait until the loop marks itself idle (200–300 µs a call).
    if (leaf.url === '' && (leaf.functionName === '(idle)' || leaf.functionName === 'fdatasync')) return '(idle)'
    // tsx transpiles with esbuild's keepNames: each closure made gets a __name() call. The bundled
    // bench worker (bench/run.ts) and dist/ do not pay it.
    const up = parent.get(id)
    if (leaf.functionName === '__name' || (up !== undefined && byId.get(up)!.callFrame.functionName === '__name')) return "tsx's __name (keepNames; not in dist/ or the bench bundle)"
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { functionName: fn, url } = byId.get(at)!.callFrame
      if (url === 'node:inspector') return '(profiler)'
      const file = /\/(?:ts|bench)\/(.*)$/.exec(url)?.[1]
      if (file === undefined) continue
      if (url.includes('/bench/') && fn !== 'core.encodeBatch') return 'bench producers'
      return ITEMS.find(([, test]) => test(fn, file))![0]
    }
    return 'event loop, timers, microtasks (no chainlog frame)'
  }
  const items = new Map<string, number>()
  const fns = new Map<string, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const ms = (p.timeDeltas[i] ?? 0) / 1000
    const item = itemOf(p.samples[i])
    items.set(item, (items.get(item) ?? 0) + ms)
    const { functionName, url } = byId.get(p.samples[i])!.callFrame
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(ts|bench)\//, '$1/')}`
    fns.set(key, (fns.get(key) ?? 0) + ms)
  }
  // The profiler's own stop and the idle loop are not the appends' work.
  const idleMs = items.get('(idle)') ?? 0
  const profilerMs = items.get('(profiler)') ?? 0
  items.delete('(idle)')
  items.delete('(profiler)')
  const sampledMs = [...items.values()].reduce((a, b) => a + b, idleMs)
  const byItem = [...items].sort((a, b) => b[1] - a[1])
  const top = [...fns].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, topN)
  return { byItem, top, sampledMs, idleMs, profilerMs }
}
