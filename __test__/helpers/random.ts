/** Seeded PRNG (mulberry32) so every randomized test can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function int(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1))
}

/** Payloads of several shapes, so codecs see random, repetitive and text-like data. */
export function payload(rand: () => number, size: number): Buffer {
  const buf = Buffer.alloc(size)
  const shape = int(rand, 0, 3)
  if (shape === 0) {
    for (let i = 0; i < size; i++) buf[i] = int(rand, 0, 255)
  } else if (shape === 1) {
    buf.fill(int(rand, 0, 255))
  } else if (shape === 2) {
    const words = ['{"id":', '"user":"', 'alice', 'bob', '","amount":', '12.50', '},', 'event', ' ', '\n']
    let o = 0
    while (o < size) o += buf.write(words[int(rand, 0, words.length - 1)], o)
  } else {
    const period = int(rand, 1, 64)
    for (let i = 0; i < size; i++) buf[i] = i < period ? int(rand, 0, 255) : buf[i - period]
  }
  return buf
}

export function seedFromEnv(fallback: number): number {
  const s = process.env.CHAINLOG_TEST_SEED
  return s ? Number(s) : fallback
}
