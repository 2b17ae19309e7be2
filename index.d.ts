// Generated from ts/index.ts by scripts/build.mjs (npm run build): do not edit.
type HashAlgorithm = "blake3" | "sha256";
type BackendName = "native" | "js";
type BackendChoice = "auto" | BackendName;
/** 'always': an append resolves once its bytes are on stable storage (fsync). 'never': once they are handed to the OS. */
export type SyncMode = "always" | "never";
/** How much of the chain a read checks: from the nearest checkpoint ('checkpoint'), from offset 0 ('genesis'), or CRCs only ('none'). */
export type VerifyMode = "checkpoint" | "genesis" | "none";
/** Payload compression: a codec name, or `{ codec: 'zstd', level }`. A compressed form is stored only when strictly smaller. */
export type CompressionOption = "none" | "zstd" | "lz4" | {
	codec: "zstd" | "lz4" | "none";
	level?: number;
};
/** Options of `Log.open`. */
export interface LogOptions {
	/** A segment file is sealed and a new one started past this size. Default 256 MiB. */
	maxSegmentBytes?: number;
	/** Write a checkpoint record after this many records (default 1000); false: only explicit ones and on close. */
	checkpointEvery?: number | false;
	/** Payload compression for new records. Default 'none'. */
	compression?: CompressionOption;
	/** Chain hash of a new store (default 'blake3'); a different value for an existing store is ERR_STORE_MISMATCH. */
	hash?: HashAlgorithm;
	/** Default durability of appends. Default 'always'. */
	sync?: SyncMode;
	/** Which core to use. Default 'auto'. */
	backend?: BackendChoice;
	/** Take no lock and write nothing; sees the appends made before it opened. Default false. */
	readOnly?: boolean;
	/** Largest payload accepted by append (ERR_RECORD_TOO_LARGE beyond). Default 64 MiB. */
	maxRecordBytes?: number;
	/**
	 * File descriptors the store holds at once, shared by all its streams (segment writers and
	 * readers, index and manifest saves); idle ones are closed least recently used first and
	 * reopened on demand. Default: half the process's soft limit (Linux), between 8 and 4096;
	 * 128 where the limit cannot be read. At least 8. Ignored by Log.memory().
	 */
	maxOpenFiles?: number;
	/** Sign each stream's Merkle tree heads as C2SP checkpoints (SPEC §8). */
	tlog?: TlogOptions;
	/** Drop each stream's oldest sealed segments past a size or an age (SPEC §9; see RetentionOptions). */
	retention?: RetentionOptions;
	/**
	 * Under sync 'always', make each round of group commits durable with one write and one
	 * fdatasync of the store journal (`journal.wal`, docs/format.md §11) instead of one fdatasync
	 * per stream's segment; segments are fdatasynced at checkpoints. Default false. Ignored by
	 * Log.memory() and read-only opens (a journal left by a writer is replayed by any writable open).
	 */
	journal?: boolean;
}
/** An Ed25519 signer kept elsewhere (KMS, HSM): sync or async. */
export interface TlogExternalSigner {
	/** The 32-byte Ed25519 public key. */
	publicKey: Uint8Array;
	/** The 64-byte Ed25519 signature of `message`. */
	sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}
/** `tlog` option of Log.open: who signs checkpoints, and under which origin. */
export interface TlogOptions {
	/** The store's origin: 1–200 bytes of printable non-space ASCII, no '+', not ending in '/'. Stream s signs as `<origin>/<s>`. */
	origin: string;
	/** A Go `note` signer key (PRIVATE+KEY+…), a path to a file holding one (outside the store), or `{ publicKey, sign }`. */
	signer: string | TlogExternalSigner;
	/** A file outside the store that keeps the last published size and root of each stream, so a rolled-back store is detected at open. */
	stateFile?: string;
}
/**
 * The `retention` open option (SPEC §9), applied to every stream by the writer at open and after
 * each rotation: the oldest sealed segments are pruned while the stream's segment bytes exceed
 * `maxBytes`, or while the last record of the oldest is older than `maxAgeMs` (its timestamp
 * against the clock). The active segment always stays. With `requireArchived`, only segments an
 * Archiver attached to this log has shipped (its HEAD's `sealed` list) may go.
 */
export interface RetentionOptions {
	/** Prune while the stream's segment files hold more than this many bytes (the active segment always stays). */
	maxBytes?: number;
	/** Prune segments whose last record's timestamp is older than this many milliseconds. */
	maxAgeMs?: number;
	/** Prune only segments an Archiver on this log has seen in its archive's HEAD (none without one). */
	requireArchived?: boolean;
}
/** Options of `log.prune`. */
export interface PruneOptions {
	/** Whole sealed segments whose records all lie below this offset go (their next offset ≤ it). */
	before: number;
	/** Only say what would go; nothing changes (allowed on a read-only log). */
	dryRun?: boolean;
}
/** What `log.prune` dropped (or, with dryRun, would drop). */
export interface PruneResult {
	/** The stream's first offset after the prune. */
	firstOffset: number;
	/** Segment files removed. */
	segments: number;
	/** Their bytes. */
	bytes: number;
}
/** Options of `log.append`. */
export interface AppendOptions {
	/** Append only if the stream's next offset is this; else ERR_OFFSET_CONFLICT and nothing is written. */
	expectedOffset?: number;
	/** Append only if the stream's head hash is this (zeros for an empty stream); else ERR_OFFSET_CONFLICT. */
	expectedHash?: Uint8Array;
	/** Timestamp of the events (ms since the epoch) instead of the clock; must not go backwards. */
	timestamp?: number;
	/** Durability of this append, overriding the log's `sync`. */
	sync?: SyncMode;
}
/** What `log.append` wrote. */
export interface AppendResult {
	/** Offset of the first event of the call. */
	firstOffset: number;
	/** Offset of the last event of the call. */
	lastOffset: number;
	/** The stream's next offset after this append (past a checkpoint that followed it). */
	nextOffset: number;
	/** The stream's head hash after this append: pass it back as expectedHash with nextOffset. */
	hash: Buffer;
}
/** Options of `log.read`. */
export interface ReadOptions {
	/** First offset to return. Default 0. */
	from?: number;
	/** Start at the first record whose timestamp is at or after this (ms since the epoch). */
	fromTime?: number;
	/** At most this many records. */
	limit?: number;
	/** Soft cap on payload bytes: the first record always comes, then reading stops before the total would exceed it. */
	maxBytes?: number;
	/** How much of the chain to check. Default 'checkpoint'. */
	verify?: VerifyMode;
}
/** Options of `log.iterate`. */
export interface IterateOptions {
	/** First offset to yield. Default 0. */
	from?: number;
	/** How much of the chain to check. Default 'checkpoint'. */
	verify?: VerifyMode;
	/** Keep the iterator open and yield records appended through this Log, until close() or break. */
	follow?: boolean;
}
/** Options of `log.get`. */
export interface GetOptions {
	/** How much of the chain to check. Default 'checkpoint'. */
	verify?: VerifyMode;
}
/** A data record as read back. */
export interface LogRecord {
	/** Position of the record in its stream (0, 1, 2, …; checkpoints take offsets too). */
	offset: number;
	/** Milliseconds since the Unix epoch; never decreasing within a stream. */
	timestamp: number;
	/** 'data' for appended events ('tombstone' is reserved). */
	kind: "data" | "tombstone";
	/** The event bytes, decompressed. */
	payload: Buffer;
	/** Chain hash of this record (32 bytes). */
	hash: Buffer;
	/** Chain hash of the record before it (32 zero bytes at offset 0). */
	prevHash: Buffer;
	/** Present (true) when the record was redacted (`log.redact`): its payload is gone and `payload` is empty. */
	redacted?: true;
}
/** The head of a stream, from `log.head`. */
export interface HeadInfo {
	/** The offset the next append will get. */
	nextOffset: number;
	/** Chain hash of the last record (32 zero bytes for an empty stream). */
	hash: Buffer;
	/** Number of segment files. */
	segments: number;
	/** Offset of the last checkpoint record, or null when there is none (or `damage` hides it). */
	lastCheckpoint: number | null;
	/** The first offset the stream still holds: 0, or where a prune left it (SPEC §9). */
	firstOffset: number;
	/** Present when the stream is known to be damaged: found at open, or by this call. */
	damage?: StreamDamage;
}
/**
 * Damage in a stream, as `log.head` reports it. Reads stop at `offset`; `verify()` lists every
 * problem of the stream.
 */
export interface StreamDamage {
	/** ERR_CORRUPT for damaged bytes or framing; ERR_CHAIN_BROKEN for a hash link that does not hold. */
	code: "ERR_CORRUPT" | "ERR_CHAIN_BROKEN";
	/** Offset of the damaged record (the offset it should have). */
	offset: number;
	/** Segment number of the file it is in, when known. */
	segment: number | null;
	/** Byte position of the damage in that segment file, when known. */
	position: number | null;
	/** What is wrong. */
	reason: string;
	/**
	 * True when open found the damage at the end of the stream: the head (`nextOffset`, `hash`) is
	 * the record before it, and appends fail with this code until the damage is removed. False when
	 * it lies behind the head: records after it are intact and appends go on, unless the writer's
	 * checkpoint policy has to look back across the damage (it reads up to `checkpointEvery`
	 * records back on the first append after open), which then fails with this code.
	 */
	appendsRefused: boolean;
}
/** The checkpoint record written by `log.checkpoint`. */
export interface CheckpointResult {
	/** Offset of the checkpoint record. */
	offset: number;
	/** Chain hash of the checkpoint record, the stream's new head. */
	hash: Buffer;
	/** The Merkle tree the checkpoint covers: the records before it (= offset). */
	treeSize: number;
	/** RFC 6962 root of that tree (SHA-256). */
	root: Buffer;
	/** The signed C2SP checkpoint of that tree, published after the records were made durable (only when the store signs). */
	note?: string;
}
/** One problem found by `log.verify`. */
export interface VerifyProblem {
	/** Offset of the damaged record, or null when it could not be read. */
	offset: number | null;
	/** ERR_CORRUPT for damaged bytes or framing; ERR_CHAIN_BROKEN for a hash link that does not hold. */
	code: "ERR_CORRUPT" | "ERR_CHAIN_BROKEN";
	/** What was expected, what was found, and where. */
	message: string;
}
/** The verification of one stream. */
export interface StreamReport {
	/** Stream name. */
	stream: string;
	/** Valid records the segment files hold, before and after any damage (a damaged record is a problem, not counted): events, checkpoints and tombstones. */
	records: number;
	/** Data records (appended events) among them. */
	events: number;
	/** Checkpoint records among them. */
	checkpoints: number;
	/** The offset after the last valid record the files hold, and that record's hash. */
	head: {
		nextOffset: number;
		hash: Buffer;
	};
	/** Where the checked records start: 0, or the first kept offset of a pruned stream. */
	firstOffset?: number;
	/** Every problem found, one per damaged record or range, in file order (at most 100); empty when the stream is sound. */
	problems: VerifyProblem[];
}
/** The result of `log.verify`. */
export interface VerifyReport {
	/** True when no stream has a problem. */
	ok: boolean;
	/** One report per stream checked. */
	streams: StreamReport[];
}
/** Options of `log.verify`. */
export interface VerifyOptions {
	/** Called as the check advances, with bytes done and the total to check (for a progress bar). */
	onProgress?: (progress: {
		bytesDone: number;
		bytesTotal: number;
	}) => void;
	/** Signed notes (C2SP checkpoints) kept elsewhere: the records must give their roots (SPEC §8). */
	trusted?: string[];
	/** Verifier keys the trusted and published notes must be signed with. */
	keys?: string[];
}
/** What open-time recovery did to a stream (see `log.recovered`). */
export interface RecoveryEvent {
	/** Stream name. */
	stream: string;
	/** Segment number of the file concerned. */
	segment: number;
	/**
	 * 'truncated': a torn tail was cut off (stream '' and segment -1: the journal's own tail).
	 * 'corrupt': damage found; nothing was cut. 'replayed': a journal entry's bytes, which the
	 * segment lacked, were written back (offset null). 'skipped': a journal entry not applied (reason says why).
	 */
	action: "truncated" | "corrupt" | "replayed" | "skipped";
	/** Byte position in the segment where the bad record starts. */
	position: number;
	/** Offset of the bad record when its header could be read, else null. */
	offset: number | null;
	/** Bytes cut off ('truncated'), or bytes after the damage ('corrupt'). */
	bytes: number;
	/** Why the record was judged torn or damaged. */
	reason: string;
}
/** Options of `log.trainDictionary`. */
export interface TrainDictionaryOptions {
	/**
	 * What to train on: a number N takes the stream's last N data records (default 10,000, fewer
	 * when the stream holds fewer); an array gives the sample events themselves.
	 */
	samples?: number | Array<Uint8Array | string>;
	/** Largest dictionary, in bytes: 256..1 MiB, default 16 KiB. */
	maxBytes?: number;
}
/** What `log.trainDictionary` stored. */
export interface TrainDictionaryResult {
	/** The dictionary's ID, which every zstd frame made with it names. */
	id: number;
	/** Its size in bytes. */
	bytes: number;
	/** Its file in the stream's directory. */
	file: string;
	/** How many samples it was trained on. */
	samples: number;
}
/** Options of `log.repair()`. */
export interface RepairOptions {
	/** Only say what would be moved; change nothing (the CLI without --yes). Default false. */
	dryRun?: boolean;
}
/** What `log.repair()` did (or, with dryRun, would do). */
export interface RepairResult {
	/** The stream's stored name. */
	stream: string;
	/** true when bytes were moved and the stream takes appends again. */
	repaired: boolean;
	/** What was (or would be) done, or why nothing was. */
	reason: string;
	/** The active segment cut (or to cut); null for a healthy stream. */
	segment: number | null;
	/** The byte position of the cut in that segment (after the last whole batch before the damage); null for a healthy stream. */
	position: number | null;
	/** The stream's next offset after the cut; null for a healthy stream. */
	offset: number | null;
	/** Bytes moved (or to move) to quarantine. */
	bytes: number;
	/** The quarantine file that holds (or would hold) them. */
	quarantine: string | null;
}
/** Options of `log.redact()`. */
export interface RedactOptions {
	/** Why the payload was erased (a request number, say): UTF-8, at most 1 KiB, stored in the tombstone. Default ''. */
	reason?: string;
}
/** What `log.redact()` did. */
export interface RedactResult {
	/** The record redacted. */
	offset: number;
	/** The offset of the tombstone that records the redaction; null when the record was redacted already (nothing was written). */
	tombstoneOffset: number | null;
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
	"ERR_IO",
	"ERR_ARCHIVE_CONFLICT",
	"ERR_PRUNED"
];
/** One of the stable error codes of SPEC §4 (see ERROR_CODES). */
export type ErrorCode = (typeof ERROR_CODES)[number];
/** Structured context of a ChainlogError: where it happened and what caused it. */
export interface ChainlogErrorDetails {
	/** The underlying error (for ERR_IO: the fs error). */
	cause?: unknown;
	/** errno code of an I/O failure, e.g. 'ENOSPC'. */
	errno?: string;
	/** The stream the error concerns. */
	stream?: string;
	/** The record offset the error concerns (for ERR_OFFSET_CONFLICT: the stream's next offset). */
	offset?: number;
	/** Byte position within the segment file, for damage found on disk. */
	position?: number;
	[key: string]: unknown;
}
/** The one error class chainlog throws: test `code`, which is stable, rather than the message. */
export declare class ChainlogError extends Error {
	/** The stable error code, e.g. 'ERR_OFFSET_CONFLICT'. */
	readonly code: ErrorCode;
	/** Where the error happened (stream, offset, position) and its cause. */
	readonly details: ChainlogErrorDetails;
	/** Creates an error with its code, a message saying what was expected, what was found and where, and details. */
	constructor(code: ErrorCode, message: string, details?: ChainlogErrorDetails);
}
/** A tree head: size and RFC 6962 root. */
export interface TreeHead {
	size: number;
	root: Buffer;
}
/** An inclusion proof of one record. */
export interface InclusionProof {
	index: number;
	treeSize: number;
	root: Buffer;
	proof: Buffer[];
	/** The record's chain-hash preimage (its leaf data is H(extra) under the store's hash). */
	extra: Buffer;
	/** The published note of exactly this tree size, when there is one. */
	checkpoint?: string;
	/** The C2SP tlog-proof text (only with a note of this size). */
	text?: string;
}
/** A consistency proof between two tree sizes. */
export interface ConsistencyProof {
	oldSize: number;
	newSize: number;
	proof: Buffer[];
	/** The tlog-witness add-checkpoint body (only with a published note of the new size). */
	text?: string;
}
/** Warning code emitted when open cut a torn tail or found damage. */
export declare const RECOVERY_WARNING = "CHAINLOG_RECOVERY";
/** An open chainlog store: many named streams in one directory. Create one with `Log.open(dir, options)`; call `close()` when done. */
export declare class Log {
	private readonly ctx;
	private readonly lock;
	private readonly streamSet;
	private readonly recoveredEvents;
	private readonly provable;
	private closed;
	/** Reads in flight (read, get, head, verify, an iterator's next chunk): close() lets them finish before it frees a memory log. */
	private readonly reads;
	private closing;
	private creationWaiters;
	/** Retention runs started after rotations: close() waits for them. */
	private readonly retentionRuns;
	private constructor();
	/**
	 * What recovery did: torn tails cut off, damage found (nothing cut). Streams of a store that was
	 * closed cleanly are opened on first use; what their opening finds is added then.
	 */
	get recovered(): readonly RecoveryEvent[];
	/** Opens (or creates) the store at `dir`: takes the LOCK unless readOnly, recovers every stream's tail. */
	static open(dir: string, options?: LogOptions): Promise<Log>;
	/**
	 * A log held in memory: the same API, records and hashes as a store on disk given the same
	 * appends, and no file touched (for tests of applications that use chainlog). `sync` is
	 * accepted and has nothing to make durable; `readOnly` is refused (there is nothing to read
	 * that this log did not write). `close()` frees it; `saveTo(dir)` writes it out as a store.
	 */
	static memory(options?: LogOptions): Promise<Log>;
	private static openOn;
	/**
	 * Writes a memory log out as a store directory that `Log.open(dir)` and `chainlog verify`
	 * accept (fixtures, bug reports). `dir` must not exist or be empty. Waits for the appends
	 * made before it, like flush().
	 */
	saveTo(dir: string): Promise<void>;
	/** The core this log runs on: 'native' or 'js'. */
	get backend(): BackendName;
	/** Appends events to a stream; see SPEC §3 for conditions, ordering and group commit. */
	append(stream: string | number, events: Uint8Array | string | Array<Uint8Array | string>, options?: AppendOptions): Promise<AppendResult>;
	/**
	 * Writes a checkpoint record now; returns it with the Merkle tree head of the records before it,
	 * and, when the store signs (tlog), that head's signed note, published once the records are durable.
	 */
	checkpoint(stream: string | number): Promise<CheckpointResult>;
	/** The verifier key (Go `note` vkey) of a stream's checkpoints; needs a store opened with `tlog`. */
	vkey(stream: string | number): string;
	/** The RFC 6962 tree head (size, SHA-256 root) of a stream's first `size` records (default: all). */
	treeHead(stream: string | number, size?: number): Promise<TreeHead>;
	/** The inclusion proof of record `offset` (default tree: the last published note's, else all records), as C2SP tlog-proof text when a note of that size exists. */
	prove(stream: string | number, offset: number, options?: {
		treeSize?: number;
	}): Promise<InclusionProof>;
	/** The consistency proof between two tree sizes of a stream (default new size: the last published note's, else all records). */
	consistency(stream: string | number, oldSize: number, newSize?: number): Promise<ConsistencyProof>;
	/**
	 * Writes a static C2SP tlog-tiles log of the stream at its last published note to `dir` (which
	 * must not exist or be empty): tiles of every level with `.p/<W>` partials, entry bundles, and
	 * `checkpoint` — what a tlog-tiles client reads over HTTP.
	 */
	exportTiles(stream: string | number, dir: string): Promise<void>;
	private withProvable;
	/** Data records of a stream in offset order (checkpoints skipped), from `from` or the first record at or after `fromTime`, capped by `limit` and (softly) `maxBytes`, checked per `verify` (default 'checkpoint'). Returns [] past the end. */
	read(stream: string | number, options?: ReadOptions): Promise<LogRecord[]>;
	private readRecords;
	/** Records from `from` on with bounded memory; with follow, waits for new ones until close() or break. */
	iterate(stream: string | number, options?: IterateOptions): AsyncIterable<LogRecord>;
	/** What an iterator needs from this log (read/follow.ts). */
	private readonly followSource;
	/** The data record at `offset`, checked per `verify` (default 'checkpoint'); undefined past the end or where a checkpoint sits. */
	get(stream: string | number, offset: number, options?: GetOptions): Promise<LogRecord | undefined>;
	private getRecord;
	/**
	 * A stream's next offset, head hash (zeros when empty), number of segments and last checkpoint
	 * offset; with `damage` when the stream is known to be damaged. Never throws on damage.
	 */
	head(stream: string | number): Promise<HeadInfo>;
	private headOf;
	/** Checks one stream, or all: framing and CRCs, contiguous offsets, prev links, checkpoint payloads, index and manifest agreement. Never throws on damage: every problem is listed with its offset in the report. `onProgress` reports bytes done and total. */
	verify(stream?: string | number, options?: VerifyOptions): Promise<VerifyReport>;
	private verifyStreams;
	/** SPEC §8: each stream's tree, recomputed from its records, against the trusted notes and its published checkpoint. */
	private verifyTrees;
	/**
	 * Repairs a stream that recovery marked damaged at the end of its active segment (SPEC §9):
	 * moves the bytes from the cut to the end of that segment into `<stream>/quarantine/`
	 * (durable before anything is cut), cuts after the last whole batch before the damage, and
	 * makes the stream take appends again. A healthy stream: a no-op result. `dryRun`: says what
	 * it would move and changes nothing (allowed on a read-only log). Damage in a sealed segment: ERR_UNSUPPORTED; a checkpoint
	 * record or a published tree head (`<stream>/checkpoint`, the state file) past the cut: ERR_CHAIN_BROKEN.
	 */
	repair(stream: string | number, options?: RepairOptions): Promise<RepairResult>;
	/**
	 * Erases the payload of the data record at `offset` from every file of the store (SPEC §9):
	 * a tombstone (kind 2: u64 offset ‖ the UTF-8 `reason`, ≤ 1 KiB) is appended and made durable,
	 * then the record's segment is rewritten with the record in form 3 (original length and
	 * commitment only), so its chain hash, the chain, the tree and every note stay valid. Appends
	 * made meanwhile wait for it. A record redacted already: `tombstoneOffset` null, nothing written.
	 */
	redact(stream: string | number, offset: number, options?: RedactOptions): Promise<RedactResult>;
	/**
	 * Drops a stream's oldest sealed segments whose records all lie below `before` (SPEC §9): the
	 * Merkle tiles of those records are made durable first (proofs and trusted notes signed before
	 * still check), then `<stream>/pruned.json`, then the segments go. The active segment always
	 * stays. Reads of a lower offset are ERR_PRUNED from then on. `dryRun`: what would go, nothing
	 * changed (allowed on a read-only log). Returns the stream's first offset after it and what went.
	 */
	prune(stream: string | number, options: PruneOptions): Promise<PruneResult>;
	/** What a prune needs before pruned.json is written: the tree's tiles durable below its offset. */
	private readonly prepareTiles;
	/** Applies the `retention` option to one stream now. */
	private retain;
	/** After a rotation: the retention policy runs off the append path; close() waits for it. A failure is a warning (tried again after the next rotation). */
	private retainInBackground;
	/** The names of the store's streams. */
	streams(): Promise<string[]>;
	/** Waits for queued appends and makes everything written so far durable. */
	flush(): Promise<void>;
	/** Finishes queued appends, checkpoints changed streams, saves indexes and manifests, releases the LOCK. */
	close(): Promise<void>;
	private shutdown;
	/** Resolves on the stream's next commit, on its creation if it does not exist yet, or on close(). */
	private waitForAppend;
	/** A stream created by its first append; followers waiting for it wake. */
	private newStream;
	/** The stream called `stream`, if it exists (opened on first use). Open ones are found without validation or a promise. */
	private streamNamed;
	private tracked;
	/**
	 * Trains a zstd dictionary on the stream's own events (an admin operation; the native core
	 * only) and stores it, durably, in the stream's directory; from then on the stream's zstd
	 * records are compressed with it (SPEC §2, form 4).
	 */
	trainDictionary(stream: string | number, options?: TrainDictionaryOptions): Promise<TrainDictionaryResult>;
	private checkOpen;
	private checkWritable;
}
interface ArchiveInfo {
	format: number;
	storeId: string;
	hash: HashAlgorithm;
	created: string;
	origin?: string;
}
/** The S3 client settings the archive accepts (a subset of S3ClientConfig; anything else is passed through). */
export interface ArchiveClientConfig {
	/** e.g. 'http://127.0.0.1:7070' for a server that is not AWS. */
	endpoint?: string;
	/** AWS region (signing); default AWS_REGION, else 'us-east-1'. */
	region?: string;
	/** Bucket in the path rather than the host name; default true when `endpoint` is given (non-AWS servers). */
	forcePathStyle?: boolean;
	/** Static credentials; default: the SDK's chain (AWS_ACCESS_KEY_ID…, ~/.aws). */
	credentials?: {
		accessKeyId: string;
		secretAccessKey: string;
		sessionToken?: string;
	};
	[key: string]: unknown;
}
/** Options of `Archiver.start`. */
export interface ArchiverOptions {
	/** Where to archive: `s3://bucket/prefix`. */
	url: string;
	/** S3 client settings (endpoint, region, credentials, forcePathStyle…); default: the SDK's own (environment, ~/.aws). */
	client?: ArchiveClientConfig;
	/** Milliseconds between shipping passes. Default 1000: bounds what a lost machine loses. */
	interval?: number;
	/** Stops the archiver when aborted. */
	signal?: AbortSignal;
	/**
	 * Run the shipping thread 10 nice steps below the process (Linux; that thread only), so the
	 * appends win a CPU both want. Default false: while the appends keep every core busy a
	 * low-priority archiver ships slowly and its lag, the loss bound, grows. No effect where
	 * shipping runs on the appends' thread (Log.memory(), client settings that cannot cross).
	 */
	lowPriority?: boolean;
}
/** One stream's archiving progress. */
export interface ArchiveStreamStatus {
	/** Stream name. */
	stream: string;
	/** Offset after the last record HEAD.json lists. */
	shippedOffset: number;
	/** The local stream's next offset. */
	localOffset: number;
	/** Records (checkpoints included) not yet in the archive. */
	lagRecords: number;
	/** Bytes of segment files not yet in the archive. */
	lagBytes: number;
	/** When HEAD was last written by this archiver. */
	lastShipped: Date | null;
	/** This stream's last failure (cleared by a pass that succeeds). */
	lastError: ChainlogError | null;
}
/** `archiver.status()`. */
export interface ArchiverStatus {
	/** The archive's URL. */
	url: string;
	/** False once stopped (stop(), the signal, a conflict or the log closed). */
	running: boolean;
	/** The error that stopped shipping for good (ERR_ARCHIVE_CONFLICT), or null. */
	stoppedBy: ChainlogError | null;
	/** The last pass's error (cleared by a pass that succeeds); passes are retried with backoff. */
	lastError: ChainlogError | null;
	/** One entry per local stream with data. */
	streams: ArchiveStreamStatus[];
}
/** Options of `restore`. */
export interface RestoreOptions {
	/** Only these streams (default: all). */
	streams?: Array<string | number>;
	/** Restore records with offsets below this, cut at the last batch that ends at or before it. */
	toOffset?: number;
	/** Restore records with timestamps at or before this (ms since the epoch, or a Date), cut at a batch end. */
	toTime?: number | Date;
	/** S3 client settings, as for Archiver.start. */
	client?: ArchiveClientConfig;
	/** Core that checks the chain (default 'auto'). */
	backend?: "auto" | "native" | "js";
	/** Called as objects are downloaded. */
	onProgress?: (progress: {
		bytesDone: number;
		bytesTotal: number;
	}) => void;
}
/** What `restore` wrote, per stream. */
export interface RestoreReport {
	/** Per restored stream: its next offset, segment files written, bytes, and whether the requested point cut it. */
	streams: Array<{
		stream: string;
		nextOffset: number;
		segments: number;
		bytes: number;
		cut: boolean;
	}>;
}
/** Options of `ArchiveReader.open`. */
export interface ArchiveReaderOptions {
	/** S3 client settings, as for Archiver.start. */
	client?: ArchiveClientConfig;
	/** Core that checks the chain (default 'auto'). */
	backend?: "auto" | "native" | "js";
}
/** Options of `ArchiveReader.verify`. */
export interface ArchiveVerifyOptions {
	/** Called as objects are downloaded. */
	onProgress?: (progress: {
		bytesDone: number;
		bytesTotal: number;
	}) => void;
	/** Verifier keys (`name+hash+key`): HEAD's signed note must check with one of them. */
	keys?: string[];
}
/** A stream's HEAD.json as the reader gives it. */
export interface ArchiveHeadInfo {
	/** Offset after the last archived record. */
	nextOffset: number;
	/** Chain hash of the record before nextOffset (zeros when none). */
	hash: Buffer;
	/** Sealed segments archived whole (numbers 0 … sealedSegments − 1). */
	sealedSegments: number;
	/** The active segment's archived bytes [0, end), or null; `gen` when a redaction re-shipped them (their object keys' generation). */
	tail: {
		num: number;
		end: number;
		gen?: string;
	} | null;
	/** Timestamp of the record before nextOffset (0 when none). */
	lastTimestamp: number;
	/** HEAD's write count. */
	seq: number;
	/** The latest signed checkpoint note, when the store signs. */
	note?: string;
}
/** Ships a live store to S3-compatible object storage (README "Beyond one machine"); create one with `Archiver.start(log, options)`. */
export declare class Archiver {
	private readonly store;
	private readonly objects;
	private readonly uploadSealed;
	private readonly info;
	private readonly interval;
	private readonly signal;
	private readonly states;
	private chain;
	private timer;
	private stopped;
	private stopping;
	private fatal;
	private lastError;
	private failures;
	private readonly onAbort;
	private constructor();
	/**
	 * Starts shipping `log` to `options.url` (`s3://bucket/prefix`). Checks first that the server
	 * honours conditional writes (else ERR_UNSUPPORTED) and that the prefix holds this store's
	 * archive or nothing. Shipping then runs every `interval` ms until stop() or `signal` aborts.
	 */
	static start(log: unknown, options: ArchiverOptions): Promise<Archiver>;
	/** The archive's identity (archive.json). */
	get archive(): Readonly<ArchiveInfo>;
	/** Ships everything synced now and resolves when the archive's HEADs include it; rejects with what stopped it. */
	sync(): Promise<void>;
	/** Per stream: what the archive holds, how far behind it is, the last error; and whether shipping has stopped. */
	status(): Promise<ArchiverStatus>;
	/** Stops shipping (waits for the cycle in flight; ships nothing more). Safe to call twice. */
	stop(): Promise<void>;
	private schedule;
	/** One shipping pass after the ones queued; failures are counted for the backoff and kept for status(). */
	private runCycle;
	private cycle;
	private shipStream;
	/**
	 * Whether the object under segment `seg`'s original keys, past HEAD and holding other bytes, is
	 * a leftover of these same records (its metadata missing: an upload never finished; or naming
	 * the same offsets and chain hashes: the bytes differ by a redaction only). Otherwise it is a fork.
	 */
	private sameHistoryLeftover;
	/**
	 * Waits until the local copies of the redacted records are rewritten (form 3): a tombstone is
	 * synced before its redaction rewrites the segment, and shipping the old bytes would put the
	 * payload in the bucket. The redaction runs in the stream's queue: its turn ends when it is done.
	 */
	private awaitRedacted;
	/** Ships one sealed segment (bytes, index, metadata); its chain position for HEAD, and its tombstones. */
	private shipSealed;
	/**
	 * Reads HEAD and checks that this store may extend it: same archive, and HEAD's (nextOffset,
	 * hash) on the local chain. Otherwise ERR_ARCHIVE_CONFLICT (this store diverged from the
	 * archive, or is behind it).
	 */
	private resume;
}
/** Reads and verifies an archive straight from the bucket; create one with `ArchiveReader.open(url, options)`, close() when done. */
export declare class ArchiveReader {
	private readonly objects;
	private readonly core;
	private readonly hash;
	/** The origin archive.json records (signed notes must be `<origin>/<stream>`), if any. */
	private readonly origin;
	private readonly metas;
	private readonly dictionaryReleases;
	private constructor();
	/** Opens the archive at `url` (`s3://bucket/prefix`) for reading; close() when done. */
	static open(url: string, options?: ArchiveReaderOptions): Promise<ArchiveReader>;
	/** The archived streams' names. */
	streams(): Promise<string[]>;
	/** A stream's HEAD.json: what the archive holds of it. */
	head(stream: string | number): Promise<ArchiveHeadInfo>;
	/**
	 * Data records from `from` on, downloaded and decoded a bounded piece at a time (never a whole
	 * segment), with the whole chain checked from offset 0: a record is yielded once the chain up to
	 * it checks; damage found later in the stream (or a segment whose SHA-256 differs from its
	 * metadata) throws at that point.
	 */
	iterate(stream: string | number, options?: {
		from?: number;
	}): AsyncGenerator<LogRecord>;
	private records;
	/**
	 * The data record at `offset` (undefined past HEAD or where a checkpoint sits): in a sealed
	 * segment, two small ranged GETs through the archived index (the record and the one before it,
	 * whose hash its prev_hash must be: else ERR_CHAIN_BROKEN); in the tail, the tail's bytes with
	 * the chain checked from offset 0.
	 */
	get(stream: string | number, offset: number): Promise<LogRecord | undefined>;
	/**
	 * Checks every archived stream (or one) from offset 0 to HEAD; never throws on damage: problems
	 * are listed per stream with their offset. When HEAD carries a signed note, the archived records
	 * must give its tree root; with `keys` (verifier keys), the note must also be signed by one of
	 * them under the archive's origin.
	 */
	verify(stream?: string | number, options?: ArchiveVerifyOptions): Promise<VerifyReport>;
	/** Releases the S3 client's connections and the dictionaries get() loaded. */
	close(): void;
	/** get() decodes form-4 records: the stream's archived dictionaries, loaded once per reader. */
	private loadDictionaries;
	/**
	 * What a segment's first record must link to: the previous segment's last hash (from its
	 * metadata, which must agree with this one's firstPrevHash), zeros for segment 0.
	 */
	private prevHashOfSegment;
	/** Segment metadata under the generation HEAD names (cached by key: a new generation is a new key). */
	private meta;
}
/** Restores the archive at `url` into `dir` (which must not exist or be empty); returns what each stream got. */
export declare function restore(url: string, dir: string, options?: RestoreOptions): Promise<RestoreReport>;
/** Gives a store restored behind its archive a new origin so it opens writable; ERR_INVALID_ARGUMENT when it is not such a store or the origin is the archive's. */
export declare function forkRestored(dir: string, origin: string): Promise<void>;

export {};
