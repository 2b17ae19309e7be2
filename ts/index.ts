/** The chainlog package: the Log, its error class, and the option and result types. */
export { Log, RECOVERY_WARNING } from './log.ts'
export { ChainlogError, ERROR_CODES, type ErrorCode, type ChainlogErrorDetails } from './errors.ts'
export type {
  LogOptions, AppendOptions, AppendResult, ReadOptions, IterateOptions, GetOptions, LogRecord, HeadInfo, CheckpointResult,
  VerifyOptions, VerifyReport, StreamReport, StreamDamage, VerifyProblem, RecoveryEvent, SyncMode, VerifyMode, CompressionOption,
  RepairOptions, RepairResult,
} from './types.ts'
export { Archiver } from './archive/archiver.ts'
export { ArchiveReader } from './archive/reader.ts'
export { restore } from './archive/restore.ts'
export { forkRestored } from './archive/fork.ts'
export type {
  ArchiverOptions, ArchiverStatus, ArchiveStreamStatus, ArchiveClientConfig, RestoreOptions, RestoreReport, ArchiveReaderOptions, ArchiveHeadInfo, ArchiveVerifyOptions,
} from './archive/types.ts'
export type { TrainDictionaryOptions, TrainDictionaryResult } from './types.ts'
export type { RedactOptions, RedactResult } from './types.ts'
export type { PruneOptions, PruneResult, RetentionOptions } from './types.ts'
export type { TlogOptions, TlogExternalSigner } from './types.ts'
export type { TreeHead, InclusionProof, ConsistencyProof } from './read/provable.ts'
