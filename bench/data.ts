/** Deterministic payloads for the workloads: the same bytes for every subject and every run. */

/** `count` payloads of `size` bytes, mostly incompressible (a PRNG), like hashed or encrypted events. */
export function binaryPayloads(count: number, size: number, seed = 1): Buffer[] {
  let s = seed >>> 0
  return Array.from({ length: count }, () => {
    const b = Buffer.alloc(size)
    for (let i = 0; i < size; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0
      b[i] = s >>> 24
    }
    return b
  })
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']
const ACTIONS = ['order.placed', 'order.paid', 'order.shipped', 'cart.updated', 'user.login', 'refund.issued']

/** `count` JSON-like events of exactly `size` bytes: repeated keys, varied values, as audit logs are. */
export function jsonPayloads(count: number, size: number, seed = 7): Buffer[] {
  let s = seed >>> 0
  const next = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s % n
  }
  return Array.from({ length: count }, (_, i) => {
    const items: string[] = []
    let text = ''
    while (text.length < size) {
      items.push(JSON.stringify({
        sku: `SKU-${100000 + next(900000)}`, qty: 1 + next(9), price: (next(100000) / 100).toFixed(2),
        note: USERS[next(USERS.length)] + ' ' + ACTIONS[next(ACTIONS.length)],
      }))
      text = JSON.stringify({ seq: i, user: USERS[next(USERS.length)], action: ACTIONS[next(ACTIONS.length)], at: 1700000000000 + i * 37, items })
    }
    return Buffer.from(text.slice(0, size))
  })
}

const LEVELS = ['info', 'info', 'info', 'warn', 'error', 'debug']
const SERVICES = ['orders', 'payments', 'auth', 'search', 'cart', 'inventory', 'shipping']
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE']
const ROUTES = ['/api/v1/orders', '/api/v1/orders/:id', '/api/v1/users/me', '/api/v1/cart/items', '/api/v1/search', '/healthz', '/api/v1/payments/:id/capture']
const MESSAGES = ['request completed', 'request completed', 'upstream timeout, retrying', 'cache miss', 'bad quantity', 'payment authorized']
const AGENTS = ['Chrome/131', 'Safari/18.1', 'okhttp/4.12', 'python-requests/2.32', 'Go-http-client/2.0']

/**
 * `count` structured log events of exactly `size` bytes (W4s), as a service logs them: the same
 * keys in every event, values drawn from small vocabularies (level, service, route, agent) or
 * varying freely (time, latency, user, trace ID, sizes). Padded to `size` with a request-ID
 * field of random hex, never with blanks, so padding does not flatter a compressor.
 */
export function logEvents(count: number, size: number, seed = 11): Buffer[] {
  let s = seed >>> 0
  const next = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s % n
  }
  const hex = (n: number) => {
    let out = ''
    while (out.length < n) out += next(0x10000).toString(16).padStart(4, '0')
    return out.slice(0, n)
  }
  const all = Buffer.alloc(count * size)
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const service = SERVICES[next(SERVICES.length)]
    const head = JSON.stringify({
      ts: new Date(1_764_000_000_000 + i * 3 + next(3)).toISOString(), level: LEVELS[next(LEVELS.length)], service,
      host: `${service}-${next(12)}`, method: METHODS[next(METHODS.length)], route: ROUTES[next(ROUTES.length)],
      status: [200, 200, 200, 201, 204, 400, 404, 500][next(8)], ms: next(1500),
      user: `u${next(500_000)}`, trace: hex(16), ua: AGENTS[next(AGENTS.length)], msg: MESSAGES[next(MESSAGES.length)],
    })
    // ,"req":"<hex>"} fills the event to exactly `size` bytes.
    const text = `${head.slice(0, -1)},"req":"${hex(Math.max(0, size - head.length - 9))}"}`.slice(0, size)
    const b = all.subarray(i * size, (i + 1) * size)
    b.write(text.padEnd(size, '0'), 'latin1')
    out.push(b)
  }
  return out
}
