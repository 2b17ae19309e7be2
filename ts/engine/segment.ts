/**
 * One segment of a stream as the engine knows it: its extent, its record positions, and the
 * handles open on its file (the file itself is storage/segment-file.ts's business).
 */
import type { StorageFile } from '../storage/storage.ts'
import { INDEX_SUFFIX } from '../storage/segment-file.ts'
import type { PositionList } from '../storage/offset-index.ts'

/** One segment of a stream, as the engine knows it. */
export class Segment {
  /** Validated (and, for the active segment, committed) length in bytes. */
  size: number
  /** Offset after the last valid record (for a sealed segment: the next segment's first offset). */
  nextOffset: number
  /** Record positions, when loaded (always for the active segment). */
  index: PositionList | null = null
  /** Entries of `index` known to be on disk in the `.idx` file. */
  persistedEntries = 0
  /** Writer handle, open only on the active segment of a writable log. */
  handle: StorageFile | null = null
  /** Cached read handle (opening a file costs more than reading a record) and its users. */
  reader: Promise<StorageFile> | null = null
  /** The same handle once opened (for synchronous small reads). */
  readerHandle: StorageFile | null = null
  readerUsers = 0

  constructor(
    readonly num: number,
    readonly path: string,
    readonly firstOffset: number,
    size: number,
    nextOffset: number,
  ) {
    this.size = size
    this.nextOffset = nextOffset
  }

  get indexPath(): string {
    return this.path + INDEX_SUFFIX
  }

  get records(): number {
    return this.nextOffset - this.firstOffset
  }
}
