/** The chainlog package: the Log, its error class, and the option and result types. */
export { Log, RECOVERY_WARNING } from './log.ts'
export { ChainlogError, ERROR_CODES, type ErrorCode, type ChainlogErrorDetails } from './errors.ts'
export type {
  LogOptions, AppendOptions, AppendResult, ReadOptions, IterateOptions, GetOptions, LogRecord, HeadInfo, CheckpointResult,
  VerifyOptions, VerifyReport, StreamReport, StreamDamage, VerifyProblem, RecoveryEvent, SyncMode, VerifyMode, CompressionOption,
  RepairOptions, RepairResult,
} from './types.ts'
