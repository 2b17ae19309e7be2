/**
 * The store's durability rounds: the fdatasyncs that appends under sync 'always' (and flush) owe,
 * gathered across the store's streams. Requests made before the event loop's next turn form one
 * round; a round of two or more files goes to the native core's datasyncMany, which runs all of
 * them at once on threads of its own and settles them together. Through libuv's pool (4 threads
 * unless the application sets UV_THREADPOOL_SIZE) 16 streams' fdatasyncs ran 4 at a time, and
 * the file system merges concurrent fdatasyncs into one journal commit only when they are in
 * flight together; settling a round together keeps its streams in step, so their next groups
 * meet in the next round again (docs/perf-notes.md has what was measured, and what was not kept).
 *
 * A round of one file, the JS core, Windows and memory storage: the file's own datasync(),
 * through libuv's pool, as before.
 */
import { getSystemErrorName } from 'node:util'
import type { ChainlogCore } from '../core/interface.ts'
import type { StorageFile } from '../storage/storage.ts'

interface Waiter {
  file: StorageFile
  resolve: () => void
  reject: (err: unknown) => void
}

export class SyncWindow {
  private waiting: Waiter[] = []
  /** A round is scheduled or in flight: the next one starts when it has settled. */
  private busy = false

  /**
   * `maxOpenFiles`: the store's descriptor budget. A round's files hold their descriptors until
   * the last of them has one, so a round takes at most half the budget: the other half serves the
   * operations that never wait for a round, and the budget's no-deadlock rule (open-files.ts) holds.
   */
  constructor(
    private readonly core: Pick<ChainlogCore, 'datasyncMany'>,
    maxOpenFiles: number,
  ) {
    this.maxRound = Math.max(1, Math.floor(maxOpenFiles / 2))
  }

  private readonly maxRound: number

  /** fdatasync of `file`, in the next round; rejects as the file's own datasync() would. */
  datasync(file: StorageFile): Promise<void> {
    if (this.core.datasyncMany === undefined || file.datasyncVia === undefined) return file.datasync()
    return new Promise((resolve, reject) => {
      this.waiting.push({ file, resolve, reject })
      if (!this.busy) this.schedule()
    })
  }

  /**
   * setImmediate, not a microtask: the streams the last round woke commit their next groups in
   * microtasks of this turn, and their fdatasyncs should share the next round.
   */
  private schedule(): void {
    this.busy = true
    setImmediate(() => this.round())
  }

  private round(): void {
    const batch = this.waiting.splice(0, this.maxRound)
    let pending = batch.length
    const settled = () => {
      if (--pending > 0) return
      if (this.waiting.length > 0) this.schedule()
      else this.busy = false
    }
    for (const w of batch) {
      const { resolve, reject } = w
      w.resolve = () => (resolve(), settled())
      w.reject = (err) => (reject(err), settled())
    }
    if (batch.length === 1) {
      batch[0].file.datasync().then(batch[0].resolve, batch[0].reject)
      return
    }
    // Each file hands over its descriptor (kept open until its callback settles); once every
    // file has, or has failed before it could, one datasyncMany syncs them all.
    const fds: number[] = []
    let arrived = 0
    let release!: (r: Int32Array | Error) => void
    const outcome = new Promise<Int32Array | Error>((resolve) => (release = resolve))
    const arrive = () => {
      if (++arrived < batch.length) return
      if (fds.length === 0) release(new Int32Array(0))
      else this.core.datasyncMany!(fds).then(release, (err: Error) => release(err))
    }
    for (const w of batch) {
      let handedOver = false
      w.file
        .datasyncVia!(async (fd) => {
          handedOver = true
          const slot = fds.push(fd) - 1
          arrive()
          const r = await outcome
          if (r instanceof Error) throw r
          if (r[slot] !== 0) throw errnoError(r[slot])
        })
        .then(w.resolve, (err: unknown) => {
          if (!handedOver) arrive()
          w.reject(err)
        })
    }
  }
}

/** The error fs would throw for an fdatasync that failed with `errno`. */
function errnoError(errno: number): NodeJS.ErrnoException {
  let code: string
  try {
    code = getSystemErrorName(-errno)
  } catch {
    code = 'EIO'
  }
  return Object.assign(new Error(`${code}: fdatasync failed`), { code, errno: -errno, syscall: 'fdatasync' })
}
