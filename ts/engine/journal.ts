/**
 * The store journal (LogOptions.journal; docs/format.md §11): under sync 'always', one fdatasync
 * of one file makes a whole round of all streams' groups durable. A group still writes its bytes
 * to its segment as before (same bytes, same position); instead of fdatasyncing the segment it
 * hands a copy to the journal, and resolves when the round that carries it is on stable storage.
 * Entries handed over before the event loop's next turn form one round: ONE write at the
 * journal's end, then ONE fdatasync of it.
 *
 * A checkpoint fdatasyncs every segment file with journaled bytes (through the SyncWindow, so the
 * descriptor budget holds) and then empties the journal durably: when the journal passes
 * CHECKPOINT_BYTES, at close, and before anything rewrites, truncates or deletes segment files
 * (Stream.quiesce, repair, prune). Rounds and checkpoints run one at a time, in order, so no
 * journaled entry is emptied before its segment bytes were synced.
 *
 * A failed round fails exactly its groups (their segment writes are rolled back by the commit
 * path) and its bytes are cut off the journal again; if that cut or a checkpoint fails, the
 * journal is broken: every later round fails with that error until the store is reopened (whose
 * replay restores what the journal holds).
 */
import type { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import { encodeJournalEntry, journalPath } from '../storage/journal-file.ts'
import type { Storage, StorageFile } from '../storage/storage.ts'
import type { SyncWindow } from './sync-window.ts'

/** The journal is emptied (after a checkpoint) once it holds this many bytes. */
const CHECKPOINT_BYTES = 16 * 1024 * 1024

interface Pending {
  entry: Buffer
  file: StorageFile
  resolve: () => void
  reject: (err: unknown) => void
}

export class Journal {
  private waiting: Pending[] = []
  /** Checkpoints asked for: settled by the next checkpoint that starts after they were asked. */
  private checkpointWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  /** Segment files holding journaled bytes not yet fdatasynced. */
  private readonly dirty = new Set<StorageFile>()
  private busy = false
  /** The segment files the checkpoint in flight is syncing, and when it is done with them. */
  private syncing: { files: Set<StorageFile>; done: Promise<unknown> } | null = null
  private _broken: ChainlogError | null = null
  /** Rounds written and checkpoints made so far (for tests and benchmarks). */
  rounds = 0
  checkpoints = 0

  private constructor(
    private readonly file: StorageFile,
    private readonly path: string,
    private readonly crc32: (d: Uint8Array) => number,
    private readonly syncWindow: SyncWindow,
    /** Bytes in the journal file. */
    private size: number,
  ) {}

  /** Set once a failed round could not be cut back off the journal, or a checkpoint failed: every later round fails with it. */
  get broken(): ChainlogError | null {
    return this._broken
  }

  /** Opens (creating or emptying) the journal of a store whose journal was replayed at open (journal-replay.ts). */
  static async open(storage: Storage, dir: string, crc32: (d: Uint8Array) => number, syncWindow: SyncWindow): Promise<Journal> {
    const path = journalPath(dir)
    let file: StorageFile
    try {
      // 'create' empties it: replay emptied it already, durably, or found it absent.
      file = await storage.open(path, 'create')
      await storage.syncDir(dir)
    } catch (err) {
      throw ioError(err, `cannot create the journal ${path}`)
    }
    return new Journal(file, path, crc32, syncWindow, 0)
  }

  /**
   * Makes `bytes`, just written at `position` of segment `segment` of `stream` (open as `file`),
   * durable in the next round. The bytes are copied at once: the caller may reuse its buffer.
   */
  record(stream: string, segment: number, position: number, bytes: Uint8Array, file: StorageFile): Promise<void> {
    if (this._broken !== null) return Promise.reject(this._broken)
    const entry = encodeJournalEntry(this.crc32, stream, segment, position, bytes)
    return new Promise((resolve, reject) => {
      this.waiting.push({ entry, file, resolve, reject })
      this.kick()
    })
  }

  /** Syncs every segment with journaled bytes, then empties the journal; after the rounds already asked for. */
  checkpoint(): Promise<void> {
    if (this._broken !== null) return Promise.reject(this._broken)
    return new Promise((resolve, reject) => {
      this.checkpointWaiters.push({ resolve, reject })
      this.kick()
    })
  }

  /**
   * `file` was fdatasynced whole by its owner (a rotation sealing it), which is about to close it:
   * its journaled bytes are durable. Waits for a checkpoint syncing it, so none reopens it after.
   */
  async release(file: StorageFile): Promise<void> {
    this.dirty.delete(file)
    const syncing = this.syncing
    if (syncing?.files.has(file)) await syncing.done
  }

  /** After a final checkpoint (close). */
  async close(): Promise<void> {
    await this.file.close().catch(() => {})
  }

  private kick(): void {
    if (this.busy) return
    this.busy = true
    void this.run()
  }

  /** Rounds and checkpoints, one at a time, until nothing waits. */
  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.checkpointWaiters.length > 0 || (this.size >= CHECKPOINT_BYTES && this._broken === null)) {
          await this.checkpointNow()
          continue
        }
        // setImmediate, not a microtask: the streams the last round woke commit their next groups
        // in microtasks of this turn, and their entries should share the next round.
        await new Promise((resolve) => setImmediate(resolve))
        if (this.waiting.length === 0) {
          if (this.checkpointWaiters.length > 0) continue
          return
        }
        await this.round()
      }
    } finally {
      this.busy = false
      if (this.waiting.length > 0 || this.checkpointWaiters.length > 0) this.kick()
    }
  }

  private async round(): Promise<void> {
    const batch = this.waiting
    this.waiting = []
    if (this._broken !== null) {
      for (const p of batch) p.reject(this._broken)
      return
    }
    const at = this.size
    const data = batch.length === 1 ? batch[0].entry : Buffer.concat(batch.map((p) => p.entry))
    try {
      await this.file.write(data, at)
      await this.file.datasync()
    } catch (err) {
      const e = ioError(err, `the journal ${this.path}: write of ${data.length} bytes at ${at} or its fdatasync failed; the round's appends were rolled back`)
      try {
        await this.file.truncate(at)
        await this.file.datasync()
      } catch (cutErr) {
        this._broken ??= ioError(cutErr, `the journal ${this.path} could not be cut back after a failed round; reopen the log to recover`)
      }
      for (const p of batch) p.reject(e)
      return
    }
    this.size = at + data.length
    this.rounds++
    for (const p of batch) {
      this.dirty.add(p.file)
      p.resolve()
    }
  }

  private async checkpointNow(): Promise<void> {
    const waiters = this.checkpointWaiters
    this.checkpointWaiters = []
    if (this._broken !== null) {
      for (const w of waiters) w.reject(this._broken)
      return
    }
    const files = [...this.dirty]
    this.dirty.clear()
    try {
      const all = Promise.allSettled(files.map((f) => this.syncWindow.datasync(f)))
      this.syncing = { files: new Set(files), done: all }
      const synced = await all
      this.syncing = null
      const failed = synced.find((r) => r.status === 'rejected')
      if (failed !== undefined) throw failed.reason
      await this.file.truncate(0)
      await this.file.datasync()
      this.size = 0
      this.checkpoints++
    } catch (err) {
      this.syncing = null
      // The journal still holds what the segments may lack: kept, and a reopen replays it.
      for (const f of files) this.dirty.add(f)
      this._broken ??= ioError(err, `the journal ${this.path}: a checkpoint (fdatasync of ${files.length} segment files, then emptying the journal) failed; reopen the log to recover`)
      for (const w of waiters) w.reject(this._broken)
      return
    }
    for (const w of waiters) w.resolve()
  }
}
