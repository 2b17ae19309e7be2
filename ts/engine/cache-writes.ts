/**
 * The stream's cache files (offset indexes and the manifest) are written one after another, in
 * the background: an older one never lands after a newer one, appends never wait for a cache
 * file, and flush, rotation and close wait for the queue.
 */
export class CacheWrites {
  private last: Promise<void> = Promise.resolve()

  /** Runs `write` after the writes already queued; its own failure is returned, not passed on to later writes. */
  queue(write: () => Promise<void>): Promise<void> {
    const run = this.last.then(write)
    this.last = run.catch(() => {})
    return run
  }

  /** Resolves once no cache write is in flight. */
  idle(): Promise<void> {
    return this.last
  }
}
