/**
 * Read handles of one stream's segments: opened on demand (opening a file costs more than reading
 * a record), kept for the few segments used last, and closed least recently used first (a handle
 * evicted while a read uses it is closed when that read ends).
 */
import type { Storage, StorageFile } from '../storage/storage.ts'
import { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import { segmentFileName } from '../storage/segment-file.ts'
import type { Segment } from './segment.ts'

/** Read handles kept open per stream. */
const MAX_OPEN_READERS = 4

export class ReaderHandles {
  /** Segments with a read handle, least recently used first. */
  private readonly open: Segment[] = []
  /** Handles on files a segment's file replaced, still used by reads in flight (see replaced). */
  private retired: Array<{ seg: Segment; reader: Promise<StorageFile> }> = []

  constructor(
    private readonly storage: Storage,
    private readonly stream: string,
  ) {}

  /** `length` bytes at `position` of a segment; ERR_CORRUPT when the file ends before them. */
  async read(seg: Segment, position: number, length: number): Promise<Buffer> {
    const handle = await this.acquire(seg)
    let data: Buffer
    try {
      data = await handle.read(position, length)
    } catch (err) {
      throw ioError(err, `cannot read ${seg.path} at ${position}`, { stream: this.stream, position })
    } finally {
      this.release(seg)
    }
    if (data.length !== length) {
      throw new ChainlogError('ERR_CORRUPT', `stream ${this.stream}: ${segmentFileName(seg.num)} ends at ${position + data.length}, expected at least ${position + length} bytes`, {
        stream: this.stream, position: position + data.length,
      })
    }
    return data
  }

  /**
   * The same read with a synchronous pread when the segment's read handle is already open: a small
   * random read through libuv's pool costs more than the read itself. Null: use read().
   */
  readSync(seg: Segment, position: number, length: number): Buffer | null {
    const handle = seg.readerHandle
    if (handle === null) return null
    const k = this.open.indexOf(seg)
    if (k < 0) return null
    if (k !== this.open.length - 1) {
      this.open.splice(k, 1)
      this.open.push(seg)
    }
    return handle.readSync(position, length)
  }

  /** Closes the segment's read handle now (its file is about to go away). */
  drop(seg: Segment): void {
    const k = this.open.indexOf(seg)
    if (k < 0) return
    this.open.splice(k, 1)
    closeReader(seg)
  }

  /**
   * The segment's file was replaced by another under its name (a redaction's rename): the next
   * read opens the new file; reads in flight finish on the old handle, closed once no read of the
   * segment is left (closing it under them would make the handle reopen the path).
   */
  replaced(seg: Segment): void {
    const k = this.open.indexOf(seg)
    if (k >= 0) this.open.splice(k, 1)
    if (seg.readerUsers === 0 || seg.reader === null) {
      closeReader(seg)
      return
    }
    this.retired.push({ seg, reader: seg.reader })
    seg.reader = null
    seg.readerHandle = null
  }

  closeAll(): void {
    for (const seg of this.open.splice(0)) closeReader(seg)
    for (const r of this.retired.splice(0)) r.reader.then((h) => h.close()).catch(() => {})
  }

  private async acquire(seg: Segment): Promise<StorageFile> {
    seg.readerUsers++
    const k = this.open.indexOf(seg)
    if (k >= 0) this.open.splice(k, 1)
    this.open.push(seg)
    if (seg.reader === null) {
      const opening = this.storage.open(seg.path, 'read')
      seg.reader = opening
      opening.then((h) => {
        if (seg.reader === opening) seg.readerHandle = h
      }, () => {})
    }
    this.evict()
    try {
      return await seg.reader
    } catch (err) {
      seg.readerUsers--
      seg.reader = null
      const i = this.open.indexOf(seg)
      if (i >= 0) this.open.splice(i, 1)
      throw ioError(err, `cannot open the segment ${seg.path}`, { stream: this.stream })
    }
  }

  private release(seg: Segment): void {
    seg.readerUsers--
    if (seg.readerUsers === 0 && this.retired.length > 0) this.closeRetired(seg)
    if (seg.readerUsers === 0 && !this.open.includes(seg)) closeReader(seg) // evicted while in use
  }

  /** No read of `seg` is left: the handles of the files it replaced can go. */
  private closeRetired(seg: Segment): void {
    const done = this.retired.filter((r) => r.seg === seg)
    if (done.length === 0) return
    this.retired = this.retired.filter((r) => r.seg !== seg)
    for (const r of done) r.reader.then((h) => h.close()).catch(() => {})
  }

  private evict(): void {
    while (this.open.length > MAX_OPEN_READERS) {
      const old = this.open.shift()!
      if (old.readerUsers === 0) closeReader(old)
    }
  }
}

function closeReader(seg: Segment): void {
  const p = seg.reader
  seg.reader = null
  seg.readerHandle = null
  p?.then((h) => h.close()).catch(() => {})
}
