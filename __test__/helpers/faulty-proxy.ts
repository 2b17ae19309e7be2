/**
 * A real TCP proxy on 127.0.0.1 in front of the test S3 server, for network faults the server
 * itself never makes: it forwards bytes both ways and follows the HTTP/1.1 exchanges on each
 * connection (request method and path, response Content-Length) so a test can
 *  - cut: close the connection after N bytes of the body of the next response to a matching GET;
 *  - stall: stop passing that body on after N bytes, keeping the connection open;
 *  - hold: stop forwarding requests upstream once a request line matches, until release().
 * Responses without a Content-Length (chunked) end the following of that connection: its bytes
 * still pass, unfaulted. Start it with FaultyProxy.start(port) and close() it (test.after.always).
 */
import { type Server, type Socket, connect, createServer } from 'node:net'

interface BodyFault {
  /** Matches the request line ("GET /bucket/key?… HTTP/1.1"). */
  request: RegExp
  afterBytes: number
  kind: 'cut' | 'stall'
  /** Resolved when the fault has happened. */
  done: () => void
}

export class FaultyProxy {
  private readonly sockets = new Set<Socket>()
  private bodyFault: BodyFault | null = null
  private hold: { request: RegExp; reached: () => void } | null = null
  private holding = false
  private requestCut: { request: RegExp; afterBytes: number; done: () => void } | null = null
  private readonly held: Array<() => void> = []

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** A proxy to 127.0.0.1:`upstreamPort`. */
  static async start(upstreamPort: number): Promise<FaultyProxy> {
    let proxy: FaultyProxy | undefined
    const server = createServer((client) => proxy?.pipe(client, upstreamPort))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    proxy = new FaultyProxy(server, (server.address() as { port: number }).port)
    return proxy
  }

  /** The next response to a request matching `request` is cut (connection closed) after `afterBytes` bytes of its body; resolves when it was. */
  cutBody(request: RegExp, afterBytes: number): Promise<void> {
    return this.armBody(request, afterBytes, 'cut')
  }

  /** As cutBody(), but the connection stays open and nothing more of that response is passed on. */
  stallBody(request: RegExp, afterBytes: number): Promise<void> {
    return this.armBody(request, afterBytes, 'stall')
  }

  /** The next request matching `request` has its connection closed after `afterBytes` bytes of it went upstream; resolves when it was. */
  cutRequest(request: RegExp, afterBytes: number): Promise<void> {
    return new Promise((done) => {
      this.requestCut = { request, afterBytes, done }
    })
  }

  /** Once a request line matches `request`, nothing more goes upstream (on any connection) until release(); resolves then. */
  holdRequests(request: RegExp): Promise<void> {
    return new Promise((reached) => {
      this.hold = { request, reached }
    })
  }

  release(): void {
    this.hold = null
    this.holding = false
    for (const resume of this.held.splice(0)) resume()
  }

  /** No fault armed any more (one armed but not reached is dropped). */
  disarm(): void {
    this.bodyFault = null
    this.requestCut = null
    this.release()
  }

  async close(): Promise<void> {
    this.disarm()
    for (const s of this.sockets) s.destroy()
    await new Promise((r) => this.server.close(r))
  }

  private armBody(request: RegExp, afterBytes: number, kind: BodyFault['kind']): Promise<void> {
    return new Promise((done) => {
      this.bodyFault = { request, afterBytes, kind, done }
    })
  }

  private pipe(client: Socket, upstreamPort: number): void {
    const server = connect(upstreamPort, '127.0.0.1')
    for (const s of [client, server]) {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    }
    // The response body being faulted on this connection: bytes of it passed on so far.
    let faulted: { fault: BodyFault; passed: number } | null = null
    const end = () => {
      client.destroy()
      server.destroy()
    }
    // A side that finishes has its last bytes passed on before the other side is closed (a
    // destroy would drop what is still queued); a side that breaks breaks the other.
    // A stalled response stays stalled even when the server closes its side after sending it all.
    const stalled = () => faulted?.fault.kind === 'stall'
    client.on('end', () => server.end())
    server.on('end', () => stalled() || client.end())
    client.on('error', end)
    server.on('error', () => stalled() || end())
    client.on('close', () => server.end())
    server.on('close', () => stalled() || client.end())
    const exchange = new Exchanges()

    // Bytes of the request being cut passed upstream so far.
    let cutting: { afterBytes: number; passed: number; done: () => void } | null = null
    client.on('data', (data: Buffer) => {
      for (const { line, at } of exchange.requestLines(data)) {
        if (this.hold?.request.test(line)) {
          this.holding = true
          this.hold.reached()
        }
        if (cutting === null && this.requestCut !== null && this.requestCut.request.test(line)) {
          cutting = { ...this.requestCut, passed: -at }
          this.requestCut = null
        }
      }
      if (cutting !== null) {
        const room = cutting.afterBytes - cutting.passed
        cutting.passed += data.length
        if (cutting.passed >= cutting.afterBytes) {
          server.write(data.subarray(0, room))
          cutting.done()
          end()
          return
        }
      }
      if (!this.holding) {
        server.write(data)
        return
      }
      client.pause()
      this.held.push(() => {
        server.write(data)
        client.resume()
      })
    })

    server.on('data', (data: Buffer) => {
      if (faulted === null) {
        const fault = this.bodyFault
        for (const at of exchange.responseBodies(data)) {
          if (fault?.request.test(at.request)) {
            this.bodyFault = null
            faulted = { fault, passed: -at.bodyStart }
            break
          }
        }
        if (faulted === null) {
          client.write(data)
          return
        }
      }
      // Counted from the body's first byte in this chunk (passed starts negative by its offset).
      const room = faulted.fault.afterBytes - faulted.passed
      if (room > 0) client.write(data.subarray(0, Math.min(data.length, room)))
      faulted.passed += data.length
      if (faulted.passed >= faulted.fault.afterBytes && room > 0) {
        faulted.fault.done()
        if (faulted.fault.kind === 'cut') end()
      }
    })
  }
}

/**
 * The HTTP/1.1 exchanges of one connection, followed from its bytes: request lines as requests
 * arrive, and where each response's body starts. Requests are not pipelined by the SDK, so
 * responses answer them in order; 1xx responses (100 Continue) answer nothing.
 */
class Exchanges {
  private requestBuf = Buffer.alloc(0)
  private requestBodyLeft = 0
  private readonly pending: string[] = []
  private responseBuf = Buffer.alloc(0)
  private responseBodyLeft = 0
  private lost = false

  /** Request lines that begin in `data`, with their offsets in it. */
  requestLines(data: Buffer): Array<{ line: string; at: number }> {
    const lines: Array<{ line: string; at: number }> = []
    let rest = data
    while (rest.length > 0) {
      if (this.requestBodyLeft > 0) {
        const n = Math.min(this.requestBodyLeft, rest.length)
        this.requestBodyLeft -= n
        rest = rest.subarray(n)
        continue
      }
      const at = data.length - rest.length - this.requestBuf.length
      this.requestBuf = Buffer.concat([this.requestBuf, rest])
      rest = Buffer.alloc(0)
      const end = this.requestBuf.indexOf('\r\n\r\n')
      if (end < 0) break
      const head = this.requestBuf.subarray(0, end).toString('latin1')
      rest = this.requestBuf.subarray(end + 4)
      this.requestBuf = Buffer.alloc(0)
      const line = head.split('\r\n')[0]
      lines.push({ line, at })
      this.pending.push(line)
      this.requestBodyLeft = contentLength(head) ?? 0
    }
    return lines
  }

  /** For each response whose body starts in `data`: its request line and the body's offset in `data`. */
  responseBodies(data: Buffer): Array<{ request: string; bodyStart: number }> {
    const out: Array<{ request: string; bodyStart: number }> = []
    let at = 0
    while (at < data.length && !this.lost) {
      if (this.responseBodyLeft > 0) {
        const n = Math.min(this.responseBodyLeft, data.length - at)
        this.responseBodyLeft -= n
        at += n
        continue
      }
      const before = this.responseBuf.length
      this.responseBuf = Buffer.concat([this.responseBuf, data.subarray(at)])
      const end = this.responseBuf.indexOf('\r\n\r\n')
      if (end < 0) break
      const head = this.responseBuf.subarray(0, end).toString('latin1')
      at += end + 4 - before
      this.responseBuf = Buffer.alloc(0)
      const status = Number(head.split(' ')[1])
      if (status >= 100 && status < 200) continue
      const request = this.pending.shift() ?? ''
      const length = request.startsWith('HEAD ') || status === 204 || status === 304 ? 0 : contentLength(head)
      if (length === undefined) {
        this.lost = true
        break
      }
      if (length > 0) out.push({ request, bodyStart: at })
      this.responseBodyLeft = length
    }
    return out
  }
}

function contentLength(head: string): number | undefined {
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head)
  return m === null ? undefined : Number(m[1])
}
