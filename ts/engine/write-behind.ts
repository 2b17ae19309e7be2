/**
 * Write-behind for sync 'never': a background fdatasync of the active segment every
 * WRITE_BEHIND_BYTES written, so a rotation's sealing fdatasync finds little left to write. It
 * acknowledges nothing (an append under 'never' was acknowledged when written). One at a time, so
 * a disk slower than the appends does not fill libuv's pool with them.
 *
 * A failure is kept and thrown by every later sync point (done()): the kernel reports a writeback
 * error to one fdatasync only, so a rotation's or a flush's own would otherwise succeed over lost
 * pages. See docs/perf-notes.md for what it measured.
 */
import type { StorageFile } from '../storage/storage.ts'
import type { ChainlogError } from '../errors.ts'

/** Bytes written to the active segment without an fdatasync before one starts in the background. */
const WRITE_BEHIND_BYTES = 16 * 1024 * 1024

export class WriteBehind {
  /** Bytes written to the active segment since its last fdatasync began. */
  private bytesSinceSync = 0
  /** The fdatasync in flight (null once its end was seen). */
  private inFlight: Promise<void> | null = null
  /** bytesSinceSync at which maybeStart next asks its caller to yield. */
  private yieldAt = 0
  private failure: ChainlogError | null = null

  /** `onFailure` turns the fs error into the stream's error (and breaks the stream). */
  constructor(private readonly onFailure: (err: unknown) => ChainlogError) {}

  /** A write of `bytes` landed; `synced`: an fdatasync already covers it. */
  wrote(bytes: number, synced: boolean): void {
    if (synced) this.bytesSinceSync = 0
    else this.bytesSinceSync += bytes
  }

  /** An fdatasync of the active segment began (rotation, flush): nothing before it is pending. */
  synced(): void {
    this.bytesSinceSync = 0
  }

  /**
   * Starts one when due. Returns true when one is due but the last one's end has not been seen:
   * appends that never yield to the event loop (a tight loop of awaited appends settles in
   * microtasks) never let its callback run, so the caller yields once (per WRITE_BEHIND_BYTES).
   */
  maybeStart(handle: StorageFile | null): boolean {
    if (handle === null || this.bytesSinceSync < WRITE_BEHIND_BYTES) return false
    if (this.inFlight !== null) {
      if (this.bytesSinceSync < this.yieldAt) return false
      this.yieldAt += WRITE_BEHIND_BYTES
      return true
    }
    this.bytesSinceSync = 0
    this.yieldAt = WRITE_BEHIND_BYTES
    this.inFlight = handle.datasync().then(
      () => {
        this.inFlight = null
      },
      (err: unknown) => {
        this.inFlight = null
        this.failure ??= this.onFailure(err)
      },
    )
    return false
  }

  /** Waits for the fdatasync in flight, if any; throws if one ever failed. */
  async done(): Promise<void> {
    if (this.inFlight !== null) await this.inFlight
    if (this.failure !== null) throw this.failure
  }

  /** Waits for the fdatasync in flight without throwing (before its handle is closed). */
  async settled(): Promise<void> {
    await this.inFlight
  }
}
