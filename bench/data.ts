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
