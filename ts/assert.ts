/**
 * Invariant checks at the engine's state transitions. A failure is a bug in chainlog, never a
 * user error: it throws at once, before a wrong state can reach a file.
 */
class InvariantError extends Error {
  override name = 'ChainlogInvariantError'
}

export function assert(condition: boolean, what: string): asserts condition {
  if (!condition) throw new InvariantError(`chainlog invariant violated: ${what}`)
}
