/**
 * The archive's one door to object storage: `@aws-sdk/client-s3` (an optional peer dependency,
 * imported only when an archive is used) wrapped in the few calls the archive makes, with S3's
 * answers turned into ChainlogErrors. Conditional writes are how the archive refuses to
 * overwrite (SPEC §10): put() reports a 412 as `false`, never as an error.
 */
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { ChainlogError, describe } from '../errors.ts'

/** The S3 client settings the archive accepts (a subset of S3ClientConfig; anything else is passed through). */
export interface ArchiveClientConfig {
  /** e.g. 'http://127.0.0.1:7070' for a server that is not AWS. */
  endpoint?: string
  /** AWS region (signing); default AWS_REGION, else 'us-east-1'. */
  region?: string
  /** Bucket in the path rather than the host name; default true when `endpoint` is given (non-AWS servers). */
  forcePathStyle?: boolean
  /** Static credentials; default: the SDK's chain (AWS_ACCESS_KEY_ID…, ~/.aws). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  [key: string]: unknown
}

/** Where an archive lives: `s3://bucket/prefix`. */
export interface ArchiveLocation {
  bucket: string
  /** '' or a prefix ending in '/'. */
  prefix: string
}

/** A bucket name as S3 allows (3-63 of a-z 0-9 . -), so a typo fails here, not as a signature error. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const MiB = 1024 * 1024
/** The largest object one PutObject takes (S3's limit): larger ones must go multipart. */
const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3
/** S3's limits on one multipart upload: parts (but the last) of at least 5 MiB, at most 10,000 of them, 5 TiB in all. */
const MIN_PART_BYTES = 5 * MiB
const MAX_PARTS = 10_000
const MAX_MULTIPART_BYTES = 5 * 1024 ** 4
/**
 * When putStream() goes multipart, and its part size (grown as needed to stay within 10,000
 * parts). Above 256 MiB (the default maxSegmentBytes, so default segments still go in one PUT),
 * not only above S3's 5 GiB: a part is held in memory, so the SDK retries a failed part alone
 * rather than the archiver re-sending the whole segment on its next pass. 16 MiB parts bound that
 * memory and the bytes one failure costs. Internal, not in the public API: tests lower both
 * (serially, restoring them) to ship a few-MiB segment as several parts.
 */
export const multipartUpload = { aboveBytes: 256 * MiB, partBytes: 16 * MiB }
/**
 * Inactivity limit of a request's socket (no byte sent or received for this long: ERR_IO), and of
 * opening a connection. The SDK sets none, so a server that stalls mid-body would hang a restore
 * or a reader forever; `requestHandler` in the client settings replaces both.
 */
const SOCKET_TIMEOUT_MS = 60_000
const CONNECTION_TIMEOUT_MS = 10_000
/** Attempts of one request before its error is reported (transient network or 5xx failures). */
const SDK_MAX_ATTEMPTS = 3
/**
 * Bodies from this size on are sent with `x-amz-content-sha256: UNSIGNED-PAYLOAD` (tail chunks,
 * indexes, dictionaries): otherwise SigV4 hashes every body on the event loop before sending it
 * and the server hashes it again to check. Their bytes are checked by the chain on restore and
 * verify (and a sealed segment's by the SHA-256 in its metadata); small JSON (HEAD, metadata) stays signed.
 */
const UNSIGNED_PAYLOAD_MIN_BYTES = 64 * 1024

function parseArchiveUrl(url: unknown): ArchiveLocation {
  if (typeof url !== 'string') throw new ChainlogError('ERR_INVALID_ARGUMENT', `url: expected a string 's3://bucket/prefix', got ${describe(url)}`)
  const m = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(url)
  if (m === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `url: expected 's3://bucket/prefix', got ${JSON.stringify(url.slice(0, 200))}`)
  const bucket = m[1]
  if (!BUCKET_NAME.test(bucket)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `url: ${JSON.stringify(bucket)} is not a valid bucket name (3-63 characters of a-z, 0-9, '.', '-')`)
  const path = (m[2] ?? '').replace(/\/+$/, '')
  if (path.split('/').some((p, _i, all) => (p === '' && all.length > 1) || p === '.' || p === '..')) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `url: the prefix ${JSON.stringify(path)} has an empty, '.' or '..' part`)
  }
  return { bucket, prefix: path === '' ? '' : `${path}/` }
}

// biome-ignore lint/suspicious/noExplicitAny: the SDK module, loaded at run time (optional peer dependency)
type SdkModule = any
let sdk: Promise<SdkModule> | null = null

/** Imports @aws-sdk/client-s3 once; ERR_UNSUPPORTED naming the package when it is not installed. */
function loadSdk(): Promise<SdkModule> {
  sdk ??= import('@aws-sdk/client-s3').catch((err: unknown) => {
    sdk = null
    throw new ChainlogError('ERR_UNSUPPORTED', `an archive needs the package @aws-sdk/client-s3, which is not installed: run \`npm install @aws-sdk/client-s3\` (${(err as Error)?.message ?? err})`, { cause: err })
  })
  return sdk
}

/** An object read back: its bytes and ETag. */
export interface StoredObject {
  body: Buffer
  etag: string
}

const ignore = (): void => {}
const QUIET_LOGGER = { trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore }

/**
 * What the archiver asks of object storage: an ObjectStore on this thread, or the shipping
 * thread's proxy (ship-thread.ts) that runs the same calls on one.
 */
export interface ObjectAccess {
  readonly url: string
  get(rel: string): Promise<StoredObject | null>
  put(rel: string, body: Uint8Array, cond: { ifNoneMatch: true } | { ifMatch: string }): Promise<string | null>
  /**
   * Writes an immutable object once (If-None-Match: *): 'written', 'same' (refused, and the object
   * there holds these bytes: a retry) or 'different' (refused, other bytes or none by now). `body`
   * is given away: the proxy moves its memory to the shipping thread rather than copy it.
   */
  putOnce(rel: string, body: Uint8Array): Promise<'written' | 'same' | 'different'>
  exists(rel: string): Promise<boolean>
  remove(rel: string): Promise<void>
  list(rel: string, delimiter?: string): Promise<{ keys: Array<{ key: string; size: number }>; folders: string[] }>
  close(): void | Promise<void>
}

/** One bucket+prefix, through the SDK. Keys given to its methods are relative to the prefix. */
export class ObjectStore implements ObjectAccess {
  /** A client that never retries, for streamed bodies (made on first use). */
  // biome-ignore lint/suspicious/noExplicitAny: an S3Client of the optional SDK
  private singleAttempt: any = null

  private constructor(
    // biome-ignore lint/suspicious/noExplicitAny: an S3Client of the optional SDK
    private readonly client: any,
    private readonly api: SdkModule,
    readonly location: ArchiveLocation,
    readonly url: string,
    /** The settings `client` was made with. */
    private readonly settings: Record<string, unknown>,
  ) {}

  static async open(url: string, config: ArchiveClientConfig = {}): Promise<ObjectStore> {
    const location = parseArchiveUrl(url)
    if (typeof config !== 'object' || config === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `client: expected S3 client settings (an object), got ${describe(config)}`)
    const api = await loadSdk()
    const settings = {
      region: process.env.AWS_REGION ?? 'us-east-1',
      // Servers that are not AWS (versitygw, MinIO, Ceph…) want the bucket in the path and do not
      // all accept the SDK's default flexible checksums (aws-chunked trailers): send and check
      // checksums only where an operation requires them. Both can be overridden in `config`.
      forcePathStyle: config.endpoint !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: SDK_MAX_ATTEMPTS,
      // Without a logger the SDK prints to the console when a streamed upload fails, which an
      // expected 412 (an object shipped already) does: the archiver reports errors itself.
      logger: QUIET_LOGGER,
      requestHandler: { socketTimeout: SOCKET_TIMEOUT_MS, connectionTimeout: CONNECTION_TIMEOUT_MS },
      ...config,
    }
    return new ObjectStore(new api.S3Client(settings), api, location, url, settings)
  }

  private key(rel: string): string {
    return this.location.prefix + rel
  }

  /** The object, or null when there is none (optionally a byte range [start, end)). */
  async get(rel: string, range?: { start: number; end: number }): Promise<StoredObject | null> {
    try {
      const out = await this.client.send(new this.api.GetObjectCommand({
        Bucket: this.location.bucket, Key: this.key(rel), Range: range === undefined ? undefined : `bytes=${range.start}-${range.end - 1}`,
      }))
      const body = Buffer.from(await out.Body.transformToByteArray())
      return { body, etag: out.ETag ?? '' }
    } catch (err) {
      if (isMissingObject(err)) return null
      throw this.failure(err, `GET ${rel}`)
    }
  }

  /**
   * The object's bytes as they arrive (never held whole), or null when there is none. The body
   * is pulled as it is read, so a consumer that stops reading stops the download; a failure
   * mid-body is ERR_IO, as from get(). Not retried (a body half read cannot be replayed): read it
   * through, or `return()` the iterator to drop the connection.
   */
  async getStream(rel: string): Promise<AsyncGenerator<Uint8Array> | null> {
    // biome-ignore lint/suspicious/noExplicitAny: a GetObject output of the optional SDK
    let out: any
    try {
      out = await this.client.send(new this.api.GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(rel) }))
    } catch (err) {
      if (isMissingObject(err)) return null
      throw this.failure(err, `GET ${rel}`)
    }
    const body = out.Body as AsyncIterable<Uint8Array> & { destroy?: () => void }
    const failure = (err: unknown) => this.failure(err, `GET ${rel} (reading the body)`)
    return (async function* chunks() {
      try {
        for await (const chunk of body) yield chunk
      } catch (err) {
        throw failure(err)
      } finally {
        // Stopped early: free the socket rather than leave the rest of the body unread.
        body.destroy?.()
      }
    })()
  }

  /**
   * Writes the object only if the condition holds: `ifNoneMatch` (it must not exist) or `ifMatch`
   * (its ETag must be this). Returns the new ETag, or null when the server refused (412).
   */
  async put(rel: string, body: Uint8Array, cond: { ifNoneMatch: true } | { ifMatch: string }): Promise<string | null> {
    try {
      const command = new this.api.PutObjectCommand({
        Bucket: this.location.bucket, Key: this.key(rel), Body: body, ContentLength: body.length,
        ...('ifMatch' in cond ? { IfMatch: cond.ifMatch } : { IfNoneMatch: '*' }),
      })
      if (body.length >= UNSIGNED_PAYLOAD_MIN_BYTES) command.middlewareStack.add(unsignedPayload, { step: 'build', name: 'chainlogUnsignedPayload' })
      const out = await this.client.send(command)
      return out.ETag ?? ''
    } catch (err) {
      // 409 ConditionalRequestConflict: a concurrent conditional write to the same key won.
      if (statusOf(err) === 412 || statusOf(err) === 409) return null
      throw this.failure(err, `PUT ${rel}`)
    }
  }

  async putOnce(rel: string, body: Uint8Array): Promise<'written' | 'same' | 'different'> {
    if ((await this.put(rel, body, { ifNoneMatch: true })) !== null) return 'written'
    const there = await this.get(rel)
    return there !== null && Buffer.compare(there.body, body) === 0 ? 'same' : 'different'
  }

  /**
   * put() of a body too large to hold: `body()` streams its `length` bytes. Up to
   * multipartUpload.aboveBytes in a single PUT, not retried by the SDK (a stream cannot be
   * replayed: a failure is the caller's to retry); larger, as a multipart upload (putMultipart).
   * Either way the condition holds for the whole object: null when it is refused (412).
   */
  async putStream(rel: string, body: () => Readable, length: number, cond: { ifNoneMatch: true }): Promise<string | null> {
    if (length > MAX_MULTIPART_BYTES) {
      throw new ChainlogError('ERR_UNSUPPORTED', `${this.url}: PUT ${rel}: ${length} bytes is more than one S3 object holds (${MAX_MULTIPART_BYTES}); use a smaller maxSegmentBytes`)
    }
    if (length > Math.min(multipartUpload.aboveBytes, MAX_SINGLE_PUT_BYTES)) return this.putMultipart(rel, body(), length)
    try {
      this.singleAttempt ??= new this.api.S3Client({ ...this.settings, maxAttempts: 1 })
      const out = await this.singleAttempt.send(
        new this.api.PutObjectCommand({ Bucket: this.location.bucket, Key: this.key(rel), Body: body(), ContentLength: length, IfNoneMatch: cond.ifNoneMatch ? '*' : undefined }),
      )
      return out.ETag ?? ''
    } catch (err) {
      if (statusOf(err) === 412 || statusOf(err) === 409) return null
      throw this.failure(err, `PUT ${rel}`)
    }
  }

  /**
   * A multipart upload of `source`'s `length` bytes, read one part at a time (only that part is
   * held, so the SDK may retry it), completed with If-None-Match: * so an object written meanwhile
   * is never replaced: null then. Parts are invisible until the complete; on any failure the
   * upload is aborted, so nothing (not even billed parts) is left behind, unless the abort fails
   * too (a lifecycle rule that aborts incomplete uploads is the safety net, README).
   */
  private async putMultipart(rel: string, source: Readable, length: number): Promise<string | null> {
    const partBytes = Math.max(multipartUpload.partBytes, MIN_PART_BYTES, Math.ceil(length / MAX_PARTS / MiB) * MiB)
    const target = { Bucket: this.location.bucket, Key: this.key(rel) }
    let uploadId: string | undefined
    let step = 'CreateMultipartUpload'
    try {
      uploadId = (await this.client.send(new this.api.CreateMultipartUploadCommand(target))).UploadId
      const parts: Array<{ PartNumber: number; ETag: string }> = []
      let sent = 0
      // One part at a time, so one part is all the upload holds (reading the next one while this
      // one is sent would hold two; on a loaded 2-core host it measured within noise of this).
      for await (const part of partsOf(source, partBytes)) {
        const PartNumber = parts.length + 1
        step = `UploadPart ${PartNumber}`
        const command = new this.api.UploadPartCommand({ ...target, UploadId: uploadId, PartNumber, Body: part, ContentLength: part.length })
        command.middlewareStack.add(unsignedPayload, { step: 'build', name: 'chainlogUnsignedPayload' })
        parts.push({ PartNumber, ETag: (await this.client.send(command)).ETag })
        sent += part.length
      }
      if (sent !== length) throw new ChainlogError('ERR_IO', `${this.url}: PUT ${rel}: the body gave ${sent} bytes, not the ${length} announced; the upload was aborted`)
      step = 'CompleteMultipartUpload'
      try {
        const out = await this.client.send(new this.api.CompleteMultipartUploadCommand({ ...target, UploadId: uploadId, IfNoneMatch: '*', MultipartUpload: { Parts: parts } }))
        uploadId = undefined
        return out.ETag ?? ''
      } catch (err) {
        if (statusOf(err) === 412 || statusOf(err) === 409) return null
        throw err
      }
    } catch (err) {
      throw this.failure(err, `PUT ${rel} (multipart, ${step})`)
    } finally {
      source.destroy()
      // Best effort: the upload is invisible either way, and its own failure is reported above.
      if (uploadId !== undefined) await this.client.send(new this.api.AbortMultipartUploadCommand({ ...target, UploadId: uploadId })).catch(ignore)
    }
  }

  /** Whether the object exists (a HEAD request). */
  async exists(rel: string): Promise<boolean> {
    try {
      await this.client.send(new this.api.HeadObjectCommand({ Bucket: this.location.bucket, Key: this.key(rel) }))
      return true
    } catch (err) {
      if (isMissingObject(err)) return false
      throw this.failure(err, `HEAD ${rel}`)
    }
  }

  /** SHA-256 of the object's bytes, streamed (never held whole); null when there is none. */
  async sha256(rel: string): Promise<{ sha256: string; size: number } | null> {
    const body = await this.getStream(rel)
    if (body === null) return null
    const h = createHash('sha256')
    let size = 0
    for await (const chunk of body) {
      h.update(chunk)
      size += chunk.length
    }
    return { sha256: h.digest('hex'), size }
  }

  async remove(rel: string): Promise<void> {
    try {
      await this.client.send(new this.api.DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.key(rel) }))
    } catch (err) {
      if (isMissingObject(err)) return
      throw this.failure(err, `DELETE ${rel}`)
    }
  }

  /** Keys under `rel` (relative to the prefix), with sizes; with `delimiter`, also the common prefixes ("folders"). */
  async list(rel: string, delimiter?: string): Promise<{ keys: Array<{ key: string; size: number }>; folders: string[] }> {
    const keys: Array<{ key: string; size: number }> = []
    const folders: string[] = []
    let token: string | undefined
    do {
      let out: { Contents?: Array<{ Key: string; Size?: number }>; CommonPrefixes?: Array<{ Prefix: string }>; IsTruncated?: boolean; NextContinuationToken?: string }
      try {
        out = await this.client.send(new this.api.ListObjectsV2Command({
          Bucket: this.location.bucket, Prefix: this.key(rel), Delimiter: delimiter, ContinuationToken: token,
        }))
      } catch (err) {
        throw this.failure(err, `LIST ${rel}`)
      }
      const cut = this.location.prefix.length
      for (const c of out.Contents ?? []) keys.push({ key: c.Key.slice(cut), size: c.Size ?? 0 })
      for (const p of out.CommonPrefixes ?? []) folders.push(p.Prefix.slice(cut))
      token = out.IsTruncated ? out.NextContinuationToken : undefined
    } while (token !== undefined)
    return { keys, folders }
  }

  close(): void {
    this.client.destroy()
    this.singleAttempt?.destroy()
  }

  /** An SDK failure as a ChainlogError: settings the caller must fix are ERR_INVALID_ARGUMENT, the rest ERR_IO. */
  private failure(err: unknown, what: string): ChainlogError {
    if (err instanceof ChainlogError) return err
    const name = nameOf(err)
    const status = statusOf(err)
    const where = `${this.url}: ${what}`
    const details = { cause: err, s3Code: name, status }
    if (name === 'NoSuchBucket') return new ChainlogError('ERR_INVALID_ARGUMENT', `${where}: the bucket ${this.location.bucket} does not exist`, details)
    if ((name !== undefined && CREDENTIAL_ERRORS.has(name)) || status === 403) {
      return new ChainlogError('ERR_INVALID_ARGUMENT', `${where}: the server refused the credentials (${name ?? status}); check the client's credentials and region`, details)
    }
    const message = err instanceof Error ? err.message : String(err)
    return new ChainlogError('ERR_IO', `${where} failed: ${name ?? ''}${status ? ` (HTTP ${status})` : ''} ${message}`.trim(), details)
  }
}

/** SDK middleware (build step, before signing): the signature covers the request but not the body's hash. */
// biome-ignore lint/suspicious/noExplicitAny: SDK middleware types of the optional SDK
function unsignedPayload(next: (args: any) => Promise<unknown>): (args: any) => Promise<unknown> {
  return (args) => {
    args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
    return next(args)
  }
}

/** What servers answer to unknown keys or bad signatures (XAdminUserNotFound: versitygw's unknown access key). */
const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidClientTokenId', 'XAdminUserNotFound'])

/** A 404 about the object itself (not the bucket, not the user). */
function isMissingObject(err: unknown): boolean {
  const name = nameOf(err)
  return statusOf(err) === 404 && (name === 'NoSuchKey' || name === 'NotFound')
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
}

function nameOf(err: unknown): string | undefined {
  const e = err as { name?: string; Code?: string }
  return e?.Code ?? e?.name
}

/** `source`'s bytes in parts of `partBytes` (the last one shorter), each copied into its own buffer as it arrives. */
async function* partsOf(source: Readable, partBytes: number): AsyncGenerator<Buffer> {
  let part = Buffer.allocUnsafe(partBytes)
  let filled = 0
  for await (const chunk of source as AsyncIterable<Buffer>) {
    for (let at = 0; at < chunk.length; ) {
      const n = chunk.copy(part, filled, at)
      filled += n
      at += n
      if (filled === partBytes) {
        yield part
        part = Buffer.allocUnsafe(partBytes)
        filled = 0
      }
    }
  }
  if (filled > 0) yield part.subarray(0, filled)
}
