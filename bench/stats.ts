/** Median, min and max of repeated runs: what every figure in bench/ reports. */
export interface Summary {
  median: number
  min: number
  max: number
  runs: number
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: values.length }
}

/** Runs `fn` once to warm up, then `runs` times; returns the per-run rates of `units / seconds`. */
export async function measureRate(runs: number, units: number, fn: () => unknown | Promise<unknown>): Promise<Summary> {
  await fn()
  const rates: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    await fn()
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    rates.push(units / seconds)
  }
  return summarize(rates)
}

export function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`
  return n.toFixed(1)
}

/** The value at quantile q (0..1) of `values` (sorted copy; nearest rank). */
export function percentile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort()
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}
