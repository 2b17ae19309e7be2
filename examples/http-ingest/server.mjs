/**
 * An HTTP ingestion service on chainlog: POST an event, get 200 with its offset once it is durable.
 *
 *   node examples/http-ingest/server.mjs --dir ./data [--port 8080] [--host 127.0.0.1] [--backend auto|native|js]
 *
 *   POST /streams/<stream>/events   the request body is one event (any bytes, at most 1 MiB)
 *        → 200 {"offset":12,"nextOffset":13,"hash":"…"} once the event is on stable storage
 *   GET  /streams/<stream>/head     → 200 {"nextOffset":13,"hash":"…","damage":…}
 *   GET  /health                    → 200 {"ok":true}
 *
 * What makes it a service rather than a loop:
 * - Durable before 200: the log opens with `sync: 'always'`, so an append resolves after its
 *   fdatasync. Concurrent requests share fdatasyncs through chainlog's group commit: nothing to
 *   batch by hand, and one connection's slow disk wait never blocks the event loop.
 * - One stream per route (`/streams/orders/events`, `/streams/tenant-42/events`): each stream has
 *   its own chain, its own segment files and its own commit queue.
 * - Errors map to statuses: a bad stream name 400, a too large event 413, a damaged stream 503 (its
 *   appends are refused until it is repaired; other streams go on), anything else 500.
 * - Graceful shutdown on SIGTERM/SIGINT: stop accepting connections, let requests in flight
 *   finish (their appends are acknowledged or failed, never dropped), then `log.close()` (a
 *   checkpoint per changed stream, indexes saved, the lock released). A kill -9 instead loses
 *   nothing acknowledged: the next start recovers the tail (see the README's "Durability").
 *
 * `createIngestServer` takes any store with append(stream, bytes) and close(), so the benchmark
 * (bench/http-ingest.ts) runs the same HTTP code over chainlog and over a hand-written file.
 */
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { Log } from 'chainlog'

/** Largest event body accepted (413 beyond, without reading the rest). */
export const MAX_EVENT_BYTES = 1024 * 1024

const EVENTS_ROUTE = /^\/streams\/([^/]+)\/events$/
const HEAD_ROUTE = /^\/streams\/([^/]+)\/head$/

/** A store over a chainlog Log: what the server needs of it. */
export function chainlogStore(log) {
  return {
    async append(stream, body) {
      const r = await log.append(stream, body)
      return { offset: r.firstOffset, nextOffset: r.nextOffset, hash: r.hash.toString('hex') }
    },
    async head(stream) {
      const h = await log.head(stream)
      return { nextOffset: h.nextOffset, hash: h.hash.toString('hex'), ...(h.damage ? { damage: h.damage } : {}) }
    },
    close: () => log.close(),
  }
}

/** The HTTP status for an error of the store. */
function statusFor(err) {
  switch (err?.code) {
    case 'ERR_INVALID_ARGUMENT': return 400
    case 'ERR_RECORD_TOO_LARGE': return 413
    case 'ERR_CORRUPT': case 'ERR_CHAIN_BROKEN': case 'ERR_CLOSED': return 503
    default: return 500
  }
}

function reply(res, status, body, closing) {
  const text = JSON.stringify(body)
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }
  // Shutting down: a keep-alive client would go on sending on its connection; this ends it.
  if (closing) headers.connection = 'close'
  res.writeHead(status, headers)
  res.end(text)
}

/** Reads the whole body, or null once it passes MAX_EVENT_BYTES. */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = []
    let size = 0
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > MAX_EVENT_BYTES) {
        req.removeAllListeners('data')
        req.resume()
        resolve(null)
      } else parts.push(chunk)
    })
    req.on('end', () => resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts, size)))
    req.on('error', reject)
  })
}

/**
 * An http.Server serving `store`. `shutdown()` stops accepting, waits for the requests in flight,
 * then closes the store.
 */
export function createIngestServer(store) {
  let inFlight = 0
  let idle = () => {}
  let closing = false
  const server = createServer(async (req, res) => {
    inFlight++
    const send = (r, status, body) => reply(r, status, body, closing)
    try {
      const url = req.url ?? '/'
      let m
      if (req.method === 'POST' && (m = EVENTS_ROUTE.exec(url))) {
        const body = await readBody(req)
        if (body === null) return send(res, 413, { error: `an event is at most ${MAX_EVENT_BYTES} bytes` })
        send(res, 200, await store.append(decodeURIComponent(m[1]), body))
      } else if (req.method === 'GET' && (m = HEAD_ROUTE.exec(url))) {
        send(res, 200, await store.head(decodeURIComponent(m[1])))
      } else if (req.method === 'GET' && url === '/health') {
        send(res, 200, { ok: true })
      } else {
        send(res, 404, { error: 'routes: POST /streams/<stream>/events, GET /streams/<stream>/head, GET /health' })
      }
    } catch (err) {
      if (!res.headersSent) send(res, statusFor(err), { error: err?.message ?? String(err), code: err?.code })
    } finally {
      if (--inFlight === 0) idle()
    }
  })
  server.keepAliveTimeout = 5000
  const shutdown = async () => {
    closing = true
    await new Promise((resolve) => {
      server.close(() => resolve())
      server.closeIdleConnections()
    })
    // server.close() waits for every connection to end: requests still running finish first,
    // and their responses close their connections.
    if (inFlight > 0) await new Promise((resolve) => { idle = resolve })
    await store.close()
  }
  return { server, shutdown }
}

async function main() {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' }, backend: { type: 'string', default: 'auto' } },
  })
  if (!values.dir) {
    process.stderr.write('usage: node server.mjs --dir <store> [--port 8080] [--host 127.0.0.1] [--backend auto|native|js]\n')
    process.exit(2)
  }
  const log = await Log.open(values.dir, { sync: 'always', backend: values.backend })
  const { server, shutdown } = createIngestServer(chainlogStore(log))
  server.listen(Number(values.port), values.host, () => {
    const { address, port } = server.address()
    process.stdout.write(JSON.stringify({ listening: `http://${address}:${port}`, port, backend: log.backend }) + '\n')
  })
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    shutdown().then(() => process.exit(0), (err) => {
      process.stderr.write(`shutdown failed: ${err?.message ?? err}\n`)
      process.exit(1)
    })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main()
