/**
 * `log.iterate`: records from an offset on, in chunks of bounded memory; with follow, it waits for
 * new commits (or the stream's creation) and goes on until the log closes or the caller breaks.
 */
import type { Stream } from '../engine/stream.ts'
import type { LogRecord, VerifyMode } from '../types.ts'
import { RecordCursor } from './cursor.ts'
import { damageError } from './damage.ts'

/** What an iterator needs from the log. */
export interface FollowSource {
  /** The stream (opened if it was dormant), or undefined while it does not exist. */
  stream(name: string): Promise<Stream | undefined>
  isClosed(): boolean
  /** Registers a read in flight (close() lets it finish). */
  track<T>(p: Promise<T>): Promise<T>
  /** Resolves on the stream's next commit, on its creation, or on close. */
  waitForAppend(name: string): Promise<void>
}

export function iterateRecords(src: FollowSource, name: string, o: { from: number; verify: VerifyMode; follow: boolean; fromGiven?: boolean }): AsyncIterable<LogRecord> {
return {
    [Symbol.asyncIterator](): AsyncIterator<LogRecord> {
      // A plain iterator over decoded chunks, not an async generator: records already decoded
      // are handed out without resuming a generator per record.
      let cursor: RecordCursor | null = null
      let s: Stream | undefined
      let batch: LogRecord[] = []
      let at = 0
      let finished = false
      const done: IteratorReturnResult<undefined> = { value: undefined, done: true }
      const refill = async (): Promise<IteratorResult<LogRecord>> => {
        try {
          for (;;) {
            if (finished || src.isClosed()) break
            s ??= await src.stream(name)
            // Commits seen before looking: if one lands while we look, we look again instead of waiting.
            const seen = s?.commits
            if (s !== undefined) {
              // Without `from`, a pruned stream is read from its first kept record.
              cursor ??= new RecordCursor(s, o.fromGiven === false ? Math.max(o.from, s.firstOffset) : o.from, o.verify, true)
              const next = await src.track(cursor.next(s.nextOffset))
              if (next !== null) {
                if (next.length === 0) continue
                batch = next
                at = 1
                return { value: next[0], done: false }
              }
              if (s.corrupt !== null) throw damageError(s)
            }
            if (!o.follow || src.isClosed()) break
            s ??= await src.stream(name)
            if (s === undefined || s.commits === seen) await src.waitForAppend(name)
          }
        } catch (err) {
          finished = true
          batch = []
          // A read cut short by close() (a memory log's files are gone then): the iterator ends, as
          // it does at close, rather than failing.
          if (src.isClosed()) return done
          throw err
        }
        finished = true
        batch = []
        return done
      }
      return {
        next: () => (at < batch.length ? Promise.resolve({ value: batch[at++], done: false }) : refill()),
        return: async () => {
          finished = true
          batch = []
          return done
        },
      }
    },
  }
}
