// Generated from ts/index.ts by scripts/build.mjs (npm run build): do not edit.
type HashAlgorithm = "blake3" | "sha256";
type BackendName = "native" | "js";
type BackendChoice = "auto" | BackendName;
export type SyncMode = "always" | "never";
export type VerifyMode = "checkpoint" | "genesis" | "none";
export type CompressionOption = "none" | "zstd" | "lz4" | {
	codec: "zstd" | "lz4" | "none";
	level?: number;
};
export interface LogOptions {
	maxSegmentBytes?: number;
	checkpointEvery?: number | false;
	compression?: CompressionOption;
	hash?: HashAlgorithm;
	sync?: SyncMode;
	backend?: BackendChoice;
	readOnly?: boolean;
	maxRecordBytes?: number;
}
export interface AppendOptions {
	expectedOffset?: number;
	expectedHash?: Uint8Array;
	timestamp?: number;
	sync?: SyncMode;
}
export interface AppendResult {
	firstOffset: number;
	lastOffset: number;
	/** The stream's next offset after this append (past a checkpoint that followed it). */
	nextOffset: number;
	/** The stream's head hash after this append: pass it back as expectedHash with nextOffset. */
	hash: Buffer;
}
export interface ReadOptions {
	from?: number;
	fromTime?: number;
	limit?: number;
	maxBytes?: number;
	verify?: VerifyMode;
}
export interface IterateOptions {
	from?: number;
	verify?: VerifyMode;
	follow?: boolean;
}
export interface GetOptions {
	verify?: VerifyMode;
}
export interface LogRecord {
	offset: number;
	timestamp: number;
	kind: "data" | "tombstone";
	payload: Buffer;
	hash: Buffer;
	prevHash: Buffer;
}
export interface HeadInfo {
	nextOffset: number;
	hash: Buffer;
	segments: number;
	lastCheckpoint: number | null;
}
export interface CheckpointResult {
	offset: number;
	hash: Buffer;
}
export interface VerifyProblem {
	offset: number | null;
	code: "ERR_CORRUPT" | "ERR_CHAIN_BROKEN";
	message: string;
}
export interface StreamReport {
	stream: string;
	records: number;
	checkpoints: number;
	head: {
		nextOffset: number;
		hash: Buffer;
	};
	problems: VerifyProblem[];
}
export interface VerifyReport {
	ok: boolean;
	streams: StreamReport[];
}
export interface VerifyOptions {
	onProgress?: (progress: {
		bytesDone: number;
		bytesTotal: number;
	}) => void;
}
export interface RecoveryEvent {
	stream: string;
	segment: number;
	/** 'truncated': a torn tail was cut off. 'corrupt': damage found; nothing was cut. */
	action: "truncated" | "corrupt";
	position: number;
	offset: number | null;
	/** Bytes cut off ('truncated'), or bytes after the damage ('corrupt'). */
	bytes: number;
	reason: string;
}
/** Warning code emitted when open cut a torn tail or found damage. */
export declare const RECOVERY_WARNING = "CHAINLOG_RECOVERY";
export declare class Log {
	private readonly ctx;
	private readonly lock;
	/** What open-time recovery did: torn tails cut off, damage found (nothing cut). */
	readonly recovered: readonly RecoveryEvent[];
	private closed;
	private closing;
	private readonly streamsByName;
	private creationWaiters;
	private constructor();
	/** Opens (or creates) the store at `dir`: takes the LOCK unless readOnly, recovers every stream's tail. */
	static open(dir: string, options?: LogOptions): Promise<Log>;
	get backend(): BackendName;
	/** Appends events to a stream; see SPEC §3 for conditions, ordering and group commit. */
	append(stream: string | number, events: Uint8Array | string | Array<Uint8Array | string>, options?: AppendOptions): Promise<AppendResult>;
	/** Writes a checkpoint record now. */
	checkpoint(stream: string | number): Promise<CheckpointResult>;
	read(stream: string | number, options?: ReadOptions): Promise<LogRecord[]>;
	/** Records from `from` on with bounded memory; with follow, waits for new ones until close() or break. */
	iterate(stream: string | number, options?: IterateOptions): AsyncIterable<LogRecord>;
	get(stream: string | number, offset: number, options?: GetOptions): Promise<LogRecord | undefined>;
	head(stream: string | number): Promise<HeadInfo>;
	verify(stream?: string | number, options?: VerifyOptions): Promise<VerifyReport>;
	streams(): Promise<string[]>;
	/** Waits for queued appends and makes everything written so far durable. */
	flush(): Promise<void>;
	/** Finishes queued appends, checkpoints changed streams, saves indexes and manifests, releases the LOCK. */
	close(): Promise<void>;
	private shutdown;
	/** Resolves on the stream's next commit, on its creation if it does not exist yet, or on close(). */
	private waitForAppend;
	private streamForWrite;
	private checkOpen;
	private checkWritable;
}
/**
 * The one error class chainlog throws. `code` is stable and documented in SPEC §4;
 * messages say what was expected, what was found, and where.
 */
export declare const ERROR_CODES: readonly [
	"ERR_INVALID_ARGUMENT",
	"ERR_RECORD_TOO_LARGE",
	"ERR_OFFSET_CONFLICT",
	"ERR_CHAIN_BROKEN",
	"ERR_CORRUPT",
	"ERR_LOCKED",
	"ERR_CLOSED",
	"ERR_READ_ONLY",
	"ERR_STORE_MISMATCH",
	"ERR_UNSUPPORTED",
	"ERR_IO"
];
export type ErrorCode = (typeof ERROR_CODES)[number];
export interface ChainlogErrorDetails {
	/** The underlying error (for ERR_IO: the fs error). */
	cause?: unknown;
	/** errno code of an I/O failure, e.g. 'ENOSPC'. */
	errno?: string;
	stream?: string;
	offset?: number;
	position?: number;
	[key: string]: unknown;
}
export declare class ChainlogError extends Error {
	readonly code: ErrorCode;
	readonly details: ChainlogErrorDetails;
	constructor(code: ErrorCode, message: string, details?: ChainlogErrorDetails);
}

export {};
