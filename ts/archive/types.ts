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
}

/** One stream's archiving progress. */
export interface ArchiveStreamStatus {
  stream: string
  /** Offset after the last record HEAD.json lists. */
  shippedOffset: number
  /** The local stream's next offset. */
  localOffset: number
  /** Records (checkpoints included) not yet in the archive. */
  lagRecords: number
  /** Bytes of segment files not yet in the archive. */
  lagBytes: number
  lastShipped: Date | null
  lastError: ChainlogError | null
}

/** `archiver.status()`. */
export interface ArchiverStatus {
  url: string
  /** False once stopped (stop(), the signal, a conflict or the log closed). */
  running: boolean
  /** The error that stopped shipping for good (ERR_ARCHIVE_CONFLICT), or null. */
  stoppedBy: ChainlogError | null
  /** The last pass's error (cleared by a pass that succeeds); passes are retried with backoff. */
  lastError: ChainlogError | null
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
  client?: ArchiveClientConfig
  /** Core that checks the chain (default 'auto'). */
  backend?: 'auto' | 'native' | 'js'
  /** Called as objects are downloaded. */
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void
}

/** What `restore` wrote, per stream. */
export interface RestoreReport {
  streams: Array<{ stream: string; nextOffset: number; segments: number; bytes: number; cut: boolean }>
}

/** Options of `ArchiveReader.open`. */
export interface ArchiveReaderOptions {
  client?: ArchiveClientConfig
  backend?: 'auto' | 'native' | 'js'
}

/** A stream's HEAD.json as the reader gives it. */
export interface ArchiveHeadInfo {
  nextOffset: number
  hash: Buffer
  sealedSegments: number
  tail: { num: number; end: number } | null
  lastTimestamp: number
  seq: number
  note?: string
}
