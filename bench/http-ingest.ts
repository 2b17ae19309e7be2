/**
 * The service row (issue #18 item 6): requests/s of the HTTP ingestion example
 * (examples/http-ingest/server.mjs) under 64 keep-alive connections, over 1 and 16 streams, with
 * durable appends (fdatasync before the 200). Subjects, all behind the same server code:
 *   native, js   chainlog (sync 'always') on each core
 *   jsonl        the baseline a user would write by hand: one JSON-lines file per stream, lines
 *                queued while a write is in flight go out together (group commit: one write and
 *                one fdatasync per group)
 * The server runs in a child process, the load generator here; both on 127.0.0.1 only. Each run
 * sends a fixed number of requests (a bounded loop) after a warm-up; subjects are interleaved run
 * by run; figures are the median, min and max of the runs. Needs `npm run build` (the example
 * imports the package by its name).
 *
 *   node --import=tsx bench/http-ingest.ts [--quick] [--runs 3] [--requests 20000]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { fmt, percentile, summarize, type Summary } from './stats.ts'

const SERVER = fileURLToPath(new URL('../examples/http-ingest/server.mjs', import.meta.url))
const SUBJECTS = ['native', 'js', 'jsonl'] as const
type Subject = (typeof SUBJECTS)[number]
const STREAM_COUNTS = [1, 16]
const CONNECTIONS = 64
const EVENT_BYTES = 256
const WARMUP_REQUESTS = 500

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean' }, runs: { type: 'string' }, requests: { type: 'string' },
    serve: { type: 'string' }, dir: { type: 'string' },
  },
})

interface Store {
  append(stream: string, body: Buffer): Promise<{ offset: number }>
  head(stream: string): Promise<{ nextOffset: number }>
  close(): Promise<void>
}

/**
 * The hand-written baseline: a JSON-lines file per stream, group commit. What a careful user
 * writes: appends queue while a write and fdatasync are in flight, then go out together.
 */
function jsonLinesStore(dir: string): Store {
  interface File { handle: Promise<FileHandle>; pending: Array<{ line: string; resolve: (offset: number) => void; reject: (err: unknown) => void }>; writing: boolean; lines: number }
  const files = new Map<string, File>()
  const flush = async (f: File) => {
    f.writing = true
    const handle = await f.handle
    while (f.pending.length > 0) {
      const group = f.pending.splice(0)
      try {
        await handle.write(group.map((g) => g.line).join(''))
        await handle.datasync()
        for (const g of group) g.resolve(f.lines++)
      } catch (err) {
        for (const g of group) g.reject(err)
      }
    }
    f.writing = false
  }
  return {
    append(stream, body) {
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(stream) || stream.startsWith('.')) return Promise.reject(Object.assign(new Error('bad stream name'), { code: 'ERR_INVALID_ARGUMENT' }))
      let f = files.get(stream)
      if (f === undefined) {
        f = { handle: open(join(dir, `${stream}.jsonl`), 'a'), pending: [], writing: false, lines: 0 }
        files.set(stream, f)
      }
      const file = f
      return new Promise((resolve, reject) => {
        file.pending.push({ line: JSON.stringify({ time: Date.now(), event: body.toString('utf8') }) + '\n', resolve: (offset) => resolve({ offset }), reject })
        if (!file.writing) void flush(file)
      })
    },
    async head(stream) {
      return { nextOffset: files.get(stream)?.lines ?? 0 }
    },
    async close() {
      for (const f of files.values()) await (await f.handle).close()
    },
  }
}

/** Server mode: `--serve <subject> --dir D` listens on 127.0.0.1 and prints its port. */
async function serve(subject: Subject, dir: string): Promise<void> {
  const example = (await import(SERVER)) as {
    createIngestServer(store: Store): { server: import('node:http').Server; shutdown(): Promise<void> }
    chainlogStore(log: unknown): Store
  }
  let store: Store
  if (subject === 'jsonl') store = jsonLinesStore(dir)
  else {
    const { Log } = (await import('chainlog' as string)) as typeof import('../ts/index.ts')
    store = example.chainlogStore(await Log.open(dir, { backend: subject, sync: 'always' }))
  }
  const { server, shutdown } = example.createIngestServer(store)
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + '\n')
  })
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)))
}

function startServer(subject: Subject, dir: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', fileURLToPath(import.meta.url), '--serve', subject, '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve({ child, port: JSON.parse(out.split('\n')[0]).port })
    })
    child.on('exit', (code) => reject(new Error(`the ${subject} server exited (code ${code}) before listening`)))
  })
}

function post(agent: Agent, port: number, path: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent, method: 'POST', path, headers: { 'content-length': body.length } }, (res) => {
      res.resume()
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** `total` requests over `CONNECTIONS` keep-alive connections; returns requests/s and latencies (ms). */
async function drive(port: number, streams: number, total: number): Promise<{ rate: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const body = Buffer.from(JSON.stringify({ type: 'order', pad: 'x'.repeat(EVENT_BYTES - 30) }).slice(0, EVENT_BYTES))
  const latencies = new Float64Array(total)
  let next = 0
  const client = async () => {
    for (let i = next++; i < total; i = next++) {
      const t0 = process.hrtime.bigint()
      await post(agent, port, `/streams/s${i % streams}/events`, body)
      latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6
    }
  }
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONNECTIONS }, client))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  agent.destroy()
  return { rate: total / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
}

async function run(subject: Subject, streams: number, total: number): Promise<{ rate: number; p50: number; p99: number }> {
  const dir = mkdtempSync(join(tmpdir(), `chainlog-bench-http-${subject}-`))
  const { child, port } = await startServer(subject, dir)
  try {
    await drive(port, streams, WARMUP_REQUESTS)
    return await drive(port, streams, total)
  } finally {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const quick = args.quick ?? false
  const runs = Number(args.runs ?? (quick ? 3 : 5))
  const total = Number(args.requests ?? (quick ? 5_000 : 20_000))
  const results = new Map<string, Array<{ rate: number; p50: number; p99: number }>>()
  for (let r = 0; r < runs; r++) {
    for (const streams of STREAM_COUNTS) {
      for (const subject of SUBJECTS) {
        const key = `${subject}/${streams}`
        const one = await run(subject, streams, total)
        results.set(key, [...(results.get(key) ?? []), one])
        process.stderr.write(`run ${r + 1}/${runs} ${key}: ${fmt(one.rate)} req/s\n`)
      }
    }
  }
  const rows: Array<{ subject: Subject; streams: number; rate: Summary; p50: number; p99: number; vsJsonl: number }> = []
  for (const streams of STREAM_COUNTS) {
    const base = summarize(results.get(`jsonl/${streams}`)!.map((x) => x.rate)).median
    for (const subject of SUBJECTS) {
      const rs = results.get(`${subject}/${streams}`)!
      const rate = summarize(rs.map((x) => x.rate))
      rows.push({ subject, streams, rate, p50: summarize(rs.map((x) => x.p50)).median, p99: summarize(rs.map((x) => x.p99)).median, vsJsonl: rate.median / base })
    }
  }
  const lines = [
    `HTTP ingestion (examples/http-ingest): ${CONNECTIONS} keep-alive connections, ${EVENT_BYTES} B events, durable (fdatasync before 200), ${total} requests a run, median of ${runs} runs (min–max)`,
    '',
    '| streams | subject | requests/s | p50 ms | p99 ms | vs JSON lines |',
    '|---|---|---|---|---|---|',
    ...rows.map((x) => `| ${x.streams} | ${x.subject === 'jsonl' ? 'JSON lines + group commit (by hand)' : `chainlog ${x.subject}`} | ${fmt(x.rate.median)} (${fmt(x.rate.min)}–${fmt(x.rate.max)}) | ${x.p50.toFixed(2)} | ${x.p99.toFixed(2)} | ${x.vsJsonl.toFixed(2)}× |`),
  ]
  process.stdout.write(lines.join('\n') + '\n')
  const out = new URL('./results/', import.meta.url).pathname
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, `http-ingest${quick ? '-quick' : ''}-latest.json`), JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, connections: CONNECTIONS, eventBytes: EVENT_BYTES, requests: total, runs, rows }, null, 2) + '\n')
}

if (args.serve !== undefined) await serve(args.serve as Subject, args.dir!)
else await main()
