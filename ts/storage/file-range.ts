/**
 * One file opened for reading by path, outside any Storage: how the archive's shipping thread
 * (ts/archive/ship-worker.ts) reads a sealed segment's bytes. It keeps one descriptor for the
 * whole upload, so a file renamed over meanwhile (a redaction's rewrite) is read as it was.
 * Failures are thrown as the file system throws them (an Error with an errno `code`).
 */
import { open } from 'node:fs/promises'

export interface FileRange {
  /** Exactly `length` bytes at `position`, in a Buffer of its own; a file shorter than that is an error. */
  read(position: number, length: number): Promise<Buffer>
  close(): Promise<void>
}

export async function openFileRange(path: string): Promise<FileRange> {
  const h = await open(path, 'r')
  return {
    async read(position, length) {
      // Its own memory (never the pool): the bytes may be transferred to another thread.
      const buf = Buffer.from(new ArrayBuffer(length))
      let done = 0
      while (done < length) {
        const { bytesRead } = await h.read(buf, done, length - done, position + done)
        if (bytesRead === 0) throw Object.assign(new Error(`${path}: ${length} bytes at ${position} asked, the file ends ${length - done} bytes short`), { code: 'ESHORT' })
        done += bytesRead
      }
      return buf
    },
    close: () => h.close(),
  }
}
