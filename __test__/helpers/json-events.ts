/** Small JSON log events with structure (keys repeated, values varying), as services log them. */
export function jsonEvents(from: number, n: number): string[] {
  const levels = ['info', 'warn', 'error', 'debug']
  const services = ['orders', 'payments', 'auth', 'search', 'cart']
  return Array.from({ length: n }, (_, k) => {
    const i = from + k
    const service = services[(i * 7) % 5]
    return JSON.stringify({
      ts: new Date(1_764_897_000_000 + i * 137).toISOString(), level: levels[i % 4], service, host: `node-${(i * 13) % 32}`,
      path: `/api/v1/${service}/${(i * 31) % 1000}`, status: [200, 201, 404, 500][(i * 3) % 4], latency_ms: (i * 7919) % 2000,
      user: `u${(i * 104729) % 1_000_000}`, msg: 'request completed',
    })
  })
}
