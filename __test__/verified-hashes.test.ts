import test from 'ava'
import { VerifiedHashes, VerifiedInterval } from '../ts/engine/verified-hashes.ts'

// The verified-hash cache is pure bookkeeping (no core), so it is tested once, not per core.

function interval(start: number, records: number): VerifiedInterval {
  const v = new VerifiedInterval(start, records)
  v.push(Buffer.alloc(records * 32, start % 251), 0, records)
  return v
}

test('the verified-hash cache evicts the least recently used intervals once over its budget, never the one just stored', (t) => {
  const one = interval(0, 100).bytes
  const cache = new VerifiedHashes(3 * one)
  const [a, b, c, d] = [interval(0, 100), interval(100, 100), interval(200, 100), interval(300, 100)]
  t.true(cache.set(-1, a))
  t.true(cache.set(100, b))
  t.true(cache.set(200, c))
  t.is(cache.get(-1), a) // a is now the most recently used; b the least
  t.true(cache.set(300, d))
  t.is(cache.get(100), undefined, 'b, the least recently used, was evicted')
  t.is(cache.get(-1), a)
  t.is(cache.get(200), c)
  t.is(cache.get(300), d)
  // An interval larger than the whole budget is refused and evicts nothing.
  t.false(cache.set(400, interval(400, 400)))
  t.is(cache.get(200), c)
  // Re-storing a grown interval re-measures it: it may push out the oldest others, never itself.
  const grown = interval(0, 250)
  t.true(cache.set(-1, grown))
  t.is(cache.get(-1), grown)
  t.is([cache.get(200), cache.get(300)].filter((x) => x !== undefined).length, 0, 'both older intervals made room for the grown one')
})
