/** The archive's public option and result types (SPEC §10; README "Beyond one machine"). */
import type { ChainlogError } from '../errors.ts'
import type { ArchiveClientConfig } from './s3.ts'

export type { ArchiveClientConfig }

/** Options of `Archiver.start`. */
export interface ArchiverOptions {
  /** Where to archive: `s3://bucket/prefix`. */
  url: string
  /** S3 client settings (endpoint, region, credentials, forcePathStyle…); default: the SDK's own (environment, ~/.aws). */
  client?: ArchiveClientConfig
  /** Milliseconds between shipping passes. Default 1000: bounds what a lost machine loses. */
  interval?: number
  /** Stops the archiver when aborted. */
  signal?: AbortSignal
  /**
   * Run the shipping thread 10 nice steps below the process (Linux; that thread only), so the
   * appends win a CPU both want. Default false: while the appends keep every core busy a
   * low-priority archiver ships slowly and its lag, the loss bound, grows. No effect where
   * shipping runs on the appends' thread (Log.memory(), client settings that cannot cross).
   */
  lowPriority?: boolean
}

/** One stream's archiving progress. */
export interface ArchiveStreamStatus {
  /** Stream name. */
  stream: string
  /** Offset after the last record HEAD.json lists. */
  shippedOffset: number
  /** The local stream's next offset. */
  localOffset: number
  /** Records (checkpoints included) not yet in the archive. */
  lagRecords: number
  /** Bytes of segment files not yet in the archive. */
  lagBytes: number
  /** When HEAD was last written by this archiver. */
  lastShipped: Date | null
  /** This stream's last failure (cleared by a pass that succeeds). */
  lastError: ChainlogError | null
}

/** `archiver.status()`. */
export interface ArchiverStatus {
  /** The archive's URL. */
  url: string
  /** False once stopped (stop(), the signal, a conflict or the log closed). */
  running: boolean
  /** The error that stopped shipping for good (ERR_ARCHIVE_CONFLICT), or null. */
  stoppedBy: ChainlogError | null
  /** The last pass's error (cleared by a pass that succeeds); passes are retried with backoff. */
  lastError: ChainlogError | null
  /** One entry per local stream with data. */
  streams: ArchiveStreamStatus[]
}

/** Options of `restore`. */
export interface RestoreOptions {
  /** Only these streams (default: all). */
  streams?: Array<string | number>
  /** Restore records with offsets below this, cut at the last batch that ends at or before it. */
  toOffset?: number
  /** Restore records with timestamps at or before this (ms since the epoch, or a Date), cut at a batch end. */
  toTime?: number | Date
  /** S3 client settings, as for Archiver.start. */
  client?: ArchiveClientConfig
  /** Core that checks the chain (default 'auto'). */
  backend?: 'auto' | 'native' | 'js'
  /** Called as objects are downloaded. */
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void
}

/** What `restore` wrote, per stream. */
export interface RestoreReport {
  /** Per restored stream: its next offset, segment files written, bytes, and whether the requested point cut it. */
  streams: Array<{ stream: string; nextOffset: number; segments: number; bytes: number; cut: boolean }>
}

/** Options of `ArchiveReader.open`. */
export interface ArchiveReaderOptions {
  /** S3 client settings, as for Archiver.start. */
  client?: ArchiveClientConfig
  /** Core that checks the chain (default 'auto'). */
  backend?: 'auto' | 'native' | 'js'
}

/** Options of `ArchiveReader.verify`. */
export interface ArchiveVerifyOptions {
  /** Called as objects are downloaded. */
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void
  /** Verifier keys (`name+hash+key`): HEAD's signed note must check with one of them. */
  keys?: string[]
}

/** A stream's HEAD.json as the reader gives it. */
export interface ArchiveHeadInfo {
  /** Offset after the last archived record. */
  nextOffset: number
  /** Chain hash of the record before nextOffset (zeros when none). */
  hash: Buffer
  /** Sealed segments archived whole (numbers 0 … sealedSegments − 1). */
  sealedSegments: number
  /** The active segment's archived bytes [0, end), or null; `gen` when a redaction re-shipped them (their object keys' generation). */
  tail: { num: number; end: number; gen?: string } | null
  /** Timestamp of the record before nextOffset (0 when none). */
  lastTimestamp: number
  /** HEAD's write count. */
  seq: number
  /** The latest signed checkpoint note, when the store signs. */
  note?: string
}
