/**
 * Reads racing a redaction (SPEC §9): a reader that took a segment's record positions before a
 * redaction renamed the rewritten file over it reads the new file at old positions and meets what
 * looks like damage. Such a read is made again once the rewrite is in; damage that stays with no
 * rewrite meanwhile is reported as before.
 */
import { ChainlogError } from '../errors.ts'
import type { Stream } from '../engine/stream.ts'

/** Runs `read`, and again (after `beforeRetry`) each time it failed on damage while one of the stream's segments was being rewritten. */
export async function readAgainAfterRewrite<T>(s: Stream, read: () => Promise<T>, beforeRetry?: () => void): Promise<T> {
  for (;;) {
    const rewrites = s.rewrites
    try {
      return await read()
    } catch (err) {
      const raced = s.rewrites !== rewrites || s.rewriting !== null
      if (!raced || !(err instanceof ChainlogError) || (err.code !== 'ERR_CORRUPT' && err.code !== 'ERR_CHAIN_BROKEN')) throw err
      await s.rewriting
      beforeRetry?.()
    }
  }
}
