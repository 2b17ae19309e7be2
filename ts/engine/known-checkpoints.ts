/**
 * What backward searches learned about a stream's checkpoints: "a checkpoint at at[i] (−1: the
 * stream start) and none in (at[i], reach[i]]". Answers repeated lookups (random gets) without
 * scanning again.
 */
export class KnownCheckpoints {
  private at: number[] = []
  private reach: number[] = []

  /** The last checkpoint at or before `offset` (null: none) if known; undefined: search. */
  lookup(offset: number): number | null | undefined {
    const i = this.floor(offset)
    if (i >= 0 && this.reach[i] >= offset) return this.at[i] < 0 ? null : this.at[i]
    return undefined
  }

  /** Where a search for `offset` may start (the first offset not yet known to hold no checkpoint), and what is known below it. */
  searchFloor(offset: number): { from: number; below: number | null } {
    const i = this.floor(offset)
    return i >= 0 ? { from: this.reach[i] + 1, below: this.at[i] < 0 ? null : this.at[i] } : { from: 0, below: null }
  }

  /** Records "a checkpoint at `at` (−1: stream start) and none in (at, reach]". */
  learn(at: number, reach: number): void {
    let k = this.at.length
    while (k > 0 && this.at[k - 1] > at) k--
    if (k > 0 && this.at[k - 1] === at) {
      this.reach[k - 1] = Math.max(this.reach[k - 1], reach)
      return
    }
    this.at.splice(k, 0, at)
    this.reach.splice(k, 0, reach)
  }

  /** "No checkpoint in (known, offset]" after a search from searchFloor found none. */
  learnNone(offset: number): void {
    const i = this.floor(offset)
    if (i >= 0) this.reach[i] = Math.max(this.reach[i], offset)
    else this.learn(-1, offset)
  }

  /** Index of the last entry at or before `offset` (−1: none). */
  private floor(offset: number): number {
    let i = -1
    for (let lo = 0, hi = this.at.length - 1; lo <= hi; ) {
      const mid = (lo + hi) >> 1
      if (this.at[mid] <= offset) {
        i = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return i
  }
}
