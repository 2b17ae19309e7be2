/**
 * The HTTP ingestion example (examples/http-ingest/server.mjs), run as a user runs it: a real
 * server process on 127.0.0.1 (a free port), events POSTed concurrently over keep-alive
 * connections, the server killed with SIGKILL under load and started again on the same directory,
 * then stopped gracefully with SIGTERM. Every event that got a 200 must be in the store at the
 * offset the 200 named, byte for byte, and the store must verify.
 */
import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { BACKENDS } from './helpers/cores.ts'
import { ensureBuilt, ROOT } from './helpers/dist.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'
import type { BackendName } from '../ts/core/interface.ts'

const SERVER = join(ROOT, 'examples', 'http-ingest', 'server.mjs')
const STREAMS = ['orders', 'payments', 'tenant-7', 'audit']
const CONNECTIONS = 16
/** Acknowledged events before each stop (a kill, then a graceful shutdown). */
const ACKS_BEFORE_KILL = 150

// The example imports 'chainlog' (the package, by its own name): that is dist/.
test.before(() => ensureBuilt())

interface Server {
  child: ChildProcess
  port: number
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function start(dir: string, backend: BackendName): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER, '--dir', dir, '--port', '0', '--host', '127.0.0.1', '--backend', backend], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })))
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find((l) => l.includes('"listening"'))
      if (line !== undefined) resolve({ child, port: JSON.parse(line).port, exited })
    })
    exited.then(({ code }) => reject(new Error(`the server exited (code ${code}) before listening: ${err}`)))
  })
}

interface Ack {
  stream: string
  offset: number
  body: string
}

function post(agent: Agent, port: number, stream: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent, method: 'POST', path: `/streams/${stream}/events`, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }))
      res.on('error', reject)
      // A response cut off by the kill ends neither way on every Node version: close says so.
      res.on('close', () => { if (!res.complete) reject(Object.assign(new Error('response cut off'), { code: 'ECONNRESET' })) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** CONNECTIONS clients posting events until `stop()` or the server goes away; returns the 200s. */
function load(port: number, tag: string): { acks: Ack[]; stop: () => Promise<void>; firstAcks: Promise<void> } {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const acks: Ack[] = []
  let stopped = false
  let firstAcks = () => {}
  const gotSome = new Promise<void>((r) => (firstAcks = r))
  const client = async (c: number) => {
    for (let n = 0; !stopped; n++) {
      const stream = STREAMS[(c + n) % STREAMS.length]
      const body = JSON.stringify({ tag, client: c, n, pad: 'x'.repeat((c * 7 + n) % 200) })
      try {
        const r = await post(agent, port, stream, body)
        if (r.status !== 200) throw new Error(`status ${r.status}: ${JSON.stringify(r.json)}`)
        acks.push({ stream, offset: r.json.offset as number, body })
        if (acks.length >= ACKS_BEFORE_KILL) firstAcks()
      } catch (err) {
        if (stopped) return
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'EPIPE' || /socket hang up/.test(String(err))) return // the server is gone
        throw err
      }
    }
  }
  const running = Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => client(c)))
  return {
    acks,
    firstAcks: gotSome,
    stop: async () => {
      stopped = true
      await running
      agent.destroy()
    },
  }
}

for (const backend of BACKENDS) {
  test(`${backend}: the HTTP ingestion example loses no acknowledged event across a SIGKILL and a graceful restart`, async (t) => {
    const dir = tempDir(t, 'http-ingest')
    const first = await start(dir, backend)
    t.teardown(() => first.child.kill('SIGKILL'))
    const a = load(first.port, 'first')
    await a.firstAcks
    first.child.kill('SIGKILL') // under load: requests in flight are lost, never acknowledged ones
    t.is((await first.exited).signal, 'SIGKILL')
    await a.stop()

    const second = await start(dir, backend)
    t.teardown(() => second.child.kill('SIGKILL'))
    const b = load(second.port, 'second')
    await b.firstAcks
    second.child.kill('SIGTERM') // graceful: in-flight requests finish, then close()
    const exit = await second.exited
    await b.stop()
    t.deepEqual(exit, { code: 0, signal: null }, 'a graceful shutdown exits 0')

    const acks = [...a.acks, ...b.acks]
    t.true(a.acks.length >= ACKS_BEFORE_KILL && b.acks.length >= ACKS_BEFORE_KILL, `${a.acks.length} + ${b.acks.length} acknowledged`)
    const log = await openLog(t, backend, dir, { readOnly: true })
    let lost = 0
    for (const ack of acks) {
      const r = await log.get(ack.stream, ack.offset, { verify: 'none' })
      if (r?.payload.toString() !== ack.body) lost++
    }
    t.is(lost, 0, `${lost} of ${acks.length} acknowledged events lost or changed`)
    const offsets = new Set(acks.map((x) => `${x.stream}@${x.offset}`))
    t.is(offsets.size, acks.length, 'no offset was acknowledged twice')
    t.true((await log.verify()).ok)
    t.log(`${acks.length} acknowledged events (${a.acks.length} before the kill, ${b.acks.length} after the restart), 0 lost`)
  })
}
