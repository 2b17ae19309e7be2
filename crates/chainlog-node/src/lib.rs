//! napi-rs binding of chainlog-core: argument conversion (js_args.rs), async tasks (libuv pool)
//! whose compute is the same function as the sync twin, and error mapping in one place
//! (js_error.rs). Per-record results go back as typed arrays and Buffers, never arrays of objects.
//!
//! Arguments are positional, never fields of an input object: napi-rs converts an object's
//! fields one by one, so a getter on a later field could run JS (detach or shrink a buffer)
//! after the pointer of an earlier one was taken. A positional argument's conversion runs no JS.
//! An async task copies its bytes before it is queued: JS runs while the pool thread works.
//! Every entry point runs its body under `guard`, so a panic is an error, not an abort (and
//! `catch_unwind` covers napi-rs's own conversions around the body the same way).
#![deny(clippy::all)]

use chainlog_core::format::{HASH_BYTES, MAX_KIND, MAX_PAYLOAD_BYTES};
use chainlog_core::{self as core, ChainHasher, HashAlgorithm};
use napi::bindgen_prelude::*;
use napi_derive::napi;

pub mod datasync;
mod js_args;
mod js_error;
mod raw_api;
mod record_decoder;
mod record_encoder;

use js_args::{
    check_span, codec_and_level, hasher, invalid, numbers_arg, opt_safe, safe_integer,
    safe_integers, small_int, Bytes, CoreResult,
};
use js_error::{guard, to_js_error};

/// The plain Node-API callbacks (raw_api.rs), registered beside the `#[napi]` functions.
#[napi(module_exports)]
pub fn register_raw_callbacks(mut exports: Object, env: Env) -> Result<()> {
    record_decoder::register(&mut exports, &env)?;
    record_encoder::register(&mut exports, &env)
}

/// Runs a synchronous entry point's body under the panic guard, its error made a JS error.
fn sync_call<T>(env: &Env, body: impl FnOnce() -> CoreResult<T>) -> Result<T> {
    guard(body).map_err(|e| to_js_error(env, e))
}

fn f64s(values: Vec<u64>) -> Float64Array {
    Float64Array::new(values.into_iter().map(|v| v as f64).collect())
}

#[napi(catch_unwind)]
pub fn abi_version() -> u32 {
    core::CORE_ABI
}

// ---- encodeBatch: record_encoder.rs (encodeInto) ---------------------------------------------

// ---- scanSegment ------------------------------------------------------------------------------

#[napi(object, object_from_js = false)]
pub struct ScanResult {
    pub count: u32,
    pub positions: Float64Array,
    pub offsets: Float64Array,
    pub timestamps: Float64Array,
    pub kinds: Uint8Array,
    pub valid_length: f64,
    pub next_offset: Option<f64>,
    pub last_timestamp: Option<f64>,
    pub last_hash: Option<Buffer>,
    pub stop: String,
    pub stop_position: f64,
    pub stop_offset: Option<f64>,
    pub reason: String,
    pub need_bytes: f64,
    pub next_valid_position: f64,
    pub search_from: f64,
}

/// A scan's arguments, checked and owned (the bytes copied), so the same job runs now or on
/// the libuv pool.
pub type ScanJob = ScanJobOf<Vec<u8>>;

/// scanSegment's positional arguments, as converted.
struct ScanArgs<'a> {
    hash: &'a str,
    stream: &'a str,
    data: &'a [u8],
    base_position: f64,
    first_offset: Option<f64>,
    prev_hash: Option<Bytes>,
    prev_timestamp: Option<f64>,
    verify_chain: bool,
    final_: bool,
}

/// scanSegment's arguments as JS passed them, shared by the sync and the async call.
struct RawScanArgs<'a, 'js> {
    hash: &'a str,
    stream: &'a str,
    data: Unknown<'js>,
    base_position: f64,
    first_offset: Option<f64>,
    prev_hash: Unknown<'js>,
    prev_timestamp: Option<f64>,
    verify_chain: bool,
    final_: bool,
}

impl RawScanArgs<'_, '_> {
    /// Converts the byte arguments and runs `body` on the result (the sync call scans the
    /// borrowed bytes at once; the async one copies them into its task).
    fn with<T>(self, env: &Env, body: impl FnOnce(ScanArgs<'_>) -> CoreResult<T>) -> Result<T> {
        sync_call(env, || {
            let data = Bytes::arg(env, self.data, "data")?;
            body(ScanArgs {
                hash: self.hash,
                stream: self.stream,
                data: data.as_slice(),
                base_position: self.base_position,
                first_offset: self.first_offset,
                prev_hash: Bytes::opt_arg(env, self.prev_hash, "prevHash")?,
                prev_timestamp: self.prev_timestamp,
                verify_chain: self.verify_chain,
                final_: self.final_,
            })
        })
    }
}

impl<'a> ScanArgs<'a> {
    /// Checks everything; `data` is borrowed by the sync call and copied by the async one.
    fn checked<D>(self, data: impl FnOnce(&'a [u8]) -> D) -> CoreResult<ScanJobOf<D>> {
        let hasher = hasher(self.hash, self.stream)?;
        let base = safe_integer(self.base_position, "basePosition")?;
        check_span(base, self.data.len())?;
        Ok(ScanJobOf {
            hasher,
            base,
            first_offset: opt_safe(self.first_offset, "firstOffset")?,
            prev_hash: self.prev_hash.as_ref().map(Bytes::hash).transpose()?,
            prev_timestamp: opt_safe(self.prev_timestamp, "prevTimestamp")?,
            verify_chain: self.verify_chain,
            final_: self.final_,
            data: data(self.data),
        })
    }
}

/// A checked scan over bytes `D`: borrowed (`&[u8]`, the sync call) or owned (`Vec<u8>`, a task).
pub struct ScanJobOf<D> {
    hasher: ChainHasher,
    data: D,
    base: u64,
    first_offset: Option<u64>,
    prev_hash: Option<core::Hash>,
    prev_timestamp: Option<u64>,
    verify_chain: bool,
    final_: bool,
}

impl<D: AsRef<[u8]>> ScanJobOf<D> {
    fn compute(&self) -> core::ScanOutput {
        core::scan_segment(&core::ScanInput {
            hasher: &self.hasher,
            data: self.data.as_ref(),
            base: self.base,
            first_offset: self.first_offset,
            prev_hash: self.prev_hash,
            prev_timestamp: self.prev_timestamp,
            verify_chain: self.verify_chain,
            final_: self.final_,
        })
    }
}

fn scan_result(out: core::ScanOutput) -> ScanResult {
    let none_is_minus_one = |v: Option<u64>| v.map_or(-1.0, |p| p as f64);
    ScanResult {
        count: out.count() as u32,
        valid_length: out.valid_length as f64,
        next_offset: out.next_offset.map(|v| v as f64),
        last_timestamp: out.last_timestamp.map(|v| v as f64),
        last_hash: out.last_hash.map(|h| h.to_vec().into()),
        stop: out.stop.as_str().to_string(),
        stop_position: out.stop_position as f64,
        stop_offset: out.stop_offset.map(|v| v as f64),
        need_bytes: out.need_bytes as f64,
        next_valid_position: none_is_minus_one(out.next_valid_position),
        search_from: none_is_minus_one(out.search_from),
        kinds: Uint8Array::new(out.kinds),
        positions: f64s(out.positions),
        offsets: f64s(out.offsets),
        timestamps: f64s(out.timestamps),
        reason: out.reason,
    }
}

#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn scan_segment(
    env: Env,
    hash: String,
    stream: String,
    #[napi(ts_arg_type = "Uint8Array")] data: Unknown<'_>,
    base_position: f64,
    first_offset: Option<f64>,
    #[napi(ts_arg_type = "Uint8Array | undefined | null")] prev_hash: Unknown<'_>,
    prev_timestamp: Option<f64>,
    verify_chain: bool,
    is_final: bool,
) -> Result<ScanResult> {
    let raw = RawScanArgs {
        hash: &hash,
        stream: &stream,
        data,
        base_position,
        first_offset,
        prev_hash,
        prev_timestamp,
        verify_chain,
        final_: is_final,
    };
    raw.with(&env, |args| Ok(scan_result(args.checked(|d| d)?.compute())))
}

impl Task for ScanJob {
    /// A JS error can be made only on the JS thread: the core's error waits for `resolve`.
    type Output = CoreResult<core::ScanOutput>;
    type JsValue = ScanResult;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(guard(|| Ok(ScanJobOf::compute(self))))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        output.map(scan_result).map_err(|e| to_js_error(&env, e))
    }
}

/// scanSegment on the libuv pool, over a copy of `data` taken now.
#[napi(catch_unwind, ts_return_type = "Promise<ScanResult>")]
#[allow(clippy::too_many_arguments)]
pub fn scan_segment_async(
    env: Env,
    hash: String,
    stream: String,
    #[napi(ts_arg_type = "Uint8Array")] data: Unknown<'_>,
    base_position: f64,
    first_offset: Option<f64>,
    #[napi(ts_arg_type = "Uint8Array | undefined | null")] prev_hash: Unknown<'_>,
    prev_timestamp: Option<f64>,
    verify_chain: bool,
    is_final: bool,
) -> Result<AsyncTask<ScanJob>> {
    let raw = RawScanArgs {
        hash: &hash,
        stream: &stream,
        data,
        base_position,
        first_offset,
        prev_hash,
        prev_timestamp,
        verify_chain,
        final_: is_final,
    };
    let job = raw.with(&env, |args| args.checked(<[u8]>::to_vec))?;
    Ok(AsyncTask::new(job))
}

// ---- findValidRecord --------------------------------------------------------------------------

#[napi(object, object_from_js = false)]
pub struct FindValidRecordResult {
    pub state: String,
    pub position: f64,
    pub need_bytes: f64,
}

#[napi(catch_unwind)]
pub fn find_valid_record(
    env: Env,
    #[napi(ts_arg_type = "Uint8Array")] data: Unknown<'_>,
    base_position: f64,
    is_final: bool,
) -> Result<FindValidRecordResult> {
    sync_call(&env, || {
        let data = Bytes::arg(&env, data, "data")?;
        let base = safe_integer(base_position, "basePosition")?;
        check_span(base, data.as_slice().len())?;
        let r = core::find_valid_record(data.as_slice(), base, is_final);
        let state = match r.state {
            core::FindState::Found => "found",
            core::FindState::None => "none",
            core::FindState::More => "more",
        };
        Ok(FindValidRecordResult {
            state: state.into(),
            position: r.position as f64,
            need_bytes: r.need_bytes as f64,
        })
    })
}

// ---- decodeRecords ----------------------------------------------------------------------------

/// A decode result packed into ONE Float64Array (ts/core/native.ts unpacks it into views): each
/// Buffer or typed array napi creates costs a few microseconds (an external ArrayBuffer and its
/// finalizer), which dominated a one-record decode (a random `get`) with nine of them.
///
/// f64 words: [0] record count N · [1] payload bytes P · [2..2+N) offsets · [2+N..2+2N)
/// timestamps · [2+2N..2+3N) payload ends; then bytes: prev hashes 32N · hashes 32N · kinds N ·
/// forms N · payloads P. The count is the result's own, never re-read from the caller's input.
fn pack_decode(out: core::DecodeOutput) -> Vec<f64> {
    let n = out.offsets.len();
    let p = out.payloads.len();
    debug_assert!(
        out.timestamps.len() == n
            && out.payload_ends.len() == n
            && out.kinds.len() == n
            && out.forms.len() == n
            && out.hashes.len() == n * HASH_BYTES
            && out.prev_hashes.len() == n * HASH_BYTES,
        "a decode output has one entry of each kind per record"
    );
    let head = 2 + 3 * n;
    let total = head * 8 + 2 * HASH_BYTES * n + 2 * n + p;
    let mut words = vec![0f64; total.div_ceil(8)];
    words[0] = n as f64;
    words[1] = p as f64;
    for (k, &v) in out.offsets.iter().enumerate() {
        words[2 + k] = v as f64;
    }
    for (k, &v) in out.timestamps.iter().enumerate() {
        words[2 + n + k] = v as f64;
    }
    for (k, &v) in out.payload_ends.iter().enumerate() {
        words[2 + 2 * n + k] = v as f64;
    }
    {
        // SAFETY: a [f64] viewed as bytes (every bit pattern is a valid f64; u8 has alignment 1).
        let bytes: &mut [u8] = unsafe {
            std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8)
        };
        let mut at = head * 8;
        for part in [
            &out.prev_hashes,
            &out.hashes,
            &out.kinds,
            &out.forms,
            &out.payloads,
        ] {
            bytes[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        debug_assert!(at == total, "the packed parts fill the words exactly");
    }
    words
}

/// decodeRecords's positional arguments, as converted.
struct DecodeArgs<'a> {
    hash: &'a str,
    stream: &'a str,
    data: &'a [u8],
    base_position: f64,
    positions: Vec<f64>,
    expect_prev_hash: Option<Bytes>,
    payloads_from: f64,
    max_payload_bytes: f64,
}

/// decodeRecords's arguments as JS passed them, shared by the sync and the async call.
struct RawDecodeArgs<'a, 'js> {
    hash: &'a str,
    stream: &'a str,
    data: Unknown<'js>,
    base_position: f64,
    positions: Unknown<'js>,
    expect_prev_hash: Unknown<'js>,
    payloads_from: f64,
    max_payload_bytes: f64,
}

impl RawDecodeArgs<'_, '_> {
    /// Converts the array arguments and runs `body` on the result (the sync call decodes the
    /// borrowed bytes at once; the async one copies them into its task).
    fn with<T>(self, env: &Env, body: impl FnOnce(DecodeArgs<'_>) -> CoreResult<T>) -> Result<T> {
        sync_call(env, || {
            let data = Bytes::arg(env, self.data, "data")?;
            body(DecodeArgs {
                hash: self.hash,
                stream: self.stream,
                data: data.as_slice(),
                base_position: self.base_position,
                positions: numbers_arg(env, self.positions, "positions")?,
                expect_prev_hash: Bytes::opt_arg(env, self.expect_prev_hash, "expectPrevHash")?,
                payloads_from: self.payloads_from,
                max_payload_bytes: self.max_payload_bytes,
            })
        })
    }
}

/// A checked decode over bytes `D`: borrowed (the sync call) or owned (a task).
pub struct DecodeJobOf<D> {
    hasher: ChainHasher,
    data: D,
    base: u64,
    positions: Vec<u64>,
    expect_prev_hash: Option<core::Hash>,
    payloads_from: u64,
    max_payload_bytes: u64,
}

pub type DecodeJob = DecodeJobOf<Vec<u8>>;

impl<'a> DecodeArgs<'a> {
    fn checked<D>(self, data: impl FnOnce(&'a [u8]) -> D) -> CoreResult<DecodeJobOf<D>> {
        let max = safe_integer(self.max_payload_bytes, "maxPayloadBytes")?;
        if max > MAX_PAYLOAD_BYTES {
            return Err(invalid(format!(
                "maxPayloadBytes must be 0..{MAX_PAYLOAD_BYTES}, got {max}"
            )));
        }
        Ok(DecodeJobOf {
            hasher: hasher(self.hash, self.stream)?,
            base: safe_integer(self.base_position, "basePosition")?,
            positions: safe_integers(&self.positions, "position")?,
            expect_prev_hash: self
                .expect_prev_hash
                .as_ref()
                .map(Bytes::hash)
                .transpose()?,
            payloads_from: safe_integer(self.payloads_from, "payloadsFrom")?,
            max_payload_bytes: max,
            data: data(self.data),
        })
    }
}

impl<D: AsRef<[u8]>> DecodeJobOf<D> {
    fn compute(&self) -> CoreResult<core::DecodeOutput> {
        core::decode_records(&core::DecodeInput {
            hasher: &self.hasher,
            data: self.data.as_ref(),
            base: self.base,
            positions: &self.positions,
            expect_prev_hash: self.expect_prev_hash,
            payloads_from: self.payloads_from,
            max_payload_bytes: self.max_payload_bytes,
        })
    }
}

#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn decode_records(
    env: Env,
    hash: String,
    stream: String,
    #[napi(ts_arg_type = "Uint8Array")] data: Unknown<'_>,
    base_position: f64,
    #[napi(ts_arg_type = "Float64Array")] positions: Unknown<'_>,
    #[napi(ts_arg_type = "Uint8Array | undefined | null")] expect_prev_hash: Unknown<'_>,
    payloads_from: f64,
    max_payload_bytes: f64,
) -> Result<Float64Array> {
    let raw = RawDecodeArgs {
        hash: &hash,
        stream: &stream,
        data,
        base_position,
        positions,
        expect_prev_hash,
        payloads_from,
        max_payload_bytes,
    };
    let words = raw.with(&env, |args| args.checked(|d| d)?.compute().map(pack_decode))?;
    Ok(Float64Array::new(words))
}

impl Task for DecodeJob {
    /// Packed on the pool thread: the JS thread only wraps the words (or makes the error).
    type Output = CoreResult<Vec<f64>>;
    type JsValue = Float64Array;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(guard(|| DecodeJobOf::compute(self).map(pack_decode)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        output
            .map(Float64Array::new)
            .map_err(|e| to_js_error(&env, e))
    }
}

/// decodeRecords on the libuv pool, over a copy of `data` taken now: the records it returns are
/// exactly the bytes it hashed, whatever JS does to `data` meanwhile.
#[napi(catch_unwind, ts_return_type = "Promise<Float64Array>")]
#[allow(clippy::too_many_arguments)]
pub fn decode_records_async(
    env: Env,
    hash: String,
    stream: String,
    #[napi(ts_arg_type = "Uint8Array")] data: Unknown<'_>,
    base_position: f64,
    #[napi(ts_arg_type = "Float64Array")] positions: Unknown<'_>,
    #[napi(ts_arg_type = "Uint8Array | undefined | null")] expect_prev_hash: Unknown<'_>,
    payloads_from: f64,
    max_payload_bytes: f64,
) -> Result<AsyncTask<DecodeJob>> {
    let raw = RawDecodeArgs {
        hash: &hash,
        stream: &stream,
        data,
        base_position,
        positions,
        expect_prev_hash,
        payloads_from,
        max_payload_bytes,
    };
    let job = raw.with(&env, |args| args.checked(<[u8]>::to_vec))?;
    Ok(AsyncTask::new(job))
}

// ---- hashes, CRC, codecs ----------------------------------------------------------------------

#[napi(catch_unwind)]
pub fn commitment(
    env: Env,
    hash: String,
    #[napi(ts_arg_type = "Uint8Array")] payload: Unknown<'_>,
) -> Result<Buffer> {
    sync_call(&env, || {
        let payload = Bytes::arg(&env, payload, "payload")?;
        let alg = HashAlgorithm::parse(&hash)?;
        Ok(core::commitment(alg, payload.as_slice()).to_vec().into())
    })
}

/// The chain hash of one record, from its fields (positional: see the module comment).
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn record_hash(
    env: Env,
    hash: String,
    stream: String,
    #[napi(ts_arg_type = "Uint8Array")] prev_hash: Unknown<'_>,
    offset: f64,
    timestamp: f64,
    kind: f64,
    payload_length: f64,
    #[napi(ts_arg_type = "Uint8Array")] commitment: Unknown<'_>,
) -> Result<Buffer> {
    sync_call(&env, || {
        let hasher = hasher(&hash, &stream)?;
        let prev_hash = Bytes::arg(&env, prev_hash, "prevHash")?.hash()?;
        let commitment = Bytes::arg(&env, commitment, "commitment")?.hash()?;
        let h = hasher.record_hash(&core::RecordFields {
            prev_hash: &prev_hash,
            offset: safe_integer(offset, "offset")?,
            timestamp: safe_integer(timestamp, "timestamp")?,
            // A data record whose batch continues (SPEC §2) hashes its kind byte 0x80.
            kind: if kind == f64::from(core::format::KIND_BATCH_CONTINUES) {
                core::format::KIND_BATCH_CONTINUES
            } else {
                small_int(kind, "kind", 0, MAX_KIND as i64)? as u8
            },
            payload_length: safe_integer(payload_length, "payloadLength")?,
            commitment: &commitment,
        });
        Ok(h.to_vec().into())
    })
}

#[napi(catch_unwind)]
pub fn crc32(env: Env, #[napi(ts_arg_type = "Uint8Array")] data: Unknown<'_>) -> Result<u32> {
    sync_call(&env, || {
        Ok(crc32fast::hash(Bytes::arg(&env, data, "data")?.as_slice()))
    })
}

#[napi(catch_unwind)]
pub fn compress(
    env: Env,
    codec: f64,
    level: f64,
    #[napi(ts_arg_type = "Uint8Array")] data: Unknown<'_>,
) -> Result<Buffer> {
    sync_call(&env, || {
        let data = Bytes::arg(&env, data, "data")?;
        let (codec, level) = codec_and_level(codec, level)?;
        core::compress(codec, level, data.as_slice()).map(Buffer::from)
    })
}

#[napi(catch_unwind)]
pub fn decompress(
    env: Env,
    form: f64,
    #[napi(ts_arg_type = "Uint8Array")] stored: Unknown<'_>,
    max_bytes: f64,
) -> Result<Buffer> {
    sync_call(&env, || {
        let stored = Bytes::arg(&env, stored, "stored")?;
        let form = small_int(form, "form", 0, 4)? as u8;
        let max = safe_integer(max_bytes, "maxBytes")?;
        if max > MAX_PAYLOAD_BYTES {
            return Err(invalid(format!(
                "maxBytes must be 0..{MAX_PAYLOAD_BYTES}, got {max}"
            )));
        }
        core::decompress(form, stored.as_slice(), max).map(Buffer::from)
    })
}

// ---- zstd dictionaries (chainlog-core dictionary.rs) -------------------------------------------

/// Loads a zstd dictionary into the process-wide set (counted); returns its ID.
#[napi(catch_unwind)]
pub fn load_dictionary(
    env: Env,
    #[napi(ts_arg_type = "Uint8Array")] bytes: Unknown<'_>,
) -> Result<u32> {
    sync_call(&env, || {
        core::dictionary::load(Bytes::arg(&env, bytes, "bytes")?.as_slice())
    })
}

/// Undoes one loadDictionary.
#[napi(catch_unwind)]
pub fn unload_dictionary(env: Env, id: f64) -> Result<()> {
    sync_call(&env, || {
        core::dictionary::unload(small_int(id, "id", 1, u32::MAX as i64)? as u32)
    })
}

/// The form-4 stored form of `data` with the loaded dictionary `id`.
#[napi(catch_unwind)]
pub fn compress_with_dictionary(
    env: Env,
    id: f64,
    level: f64,
    #[napi(ts_arg_type = "Uint8Array")] data: Unknown<'_>,
) -> Result<Buffer> {
    sync_call(&env, || {
        let data = Bytes::arg(&env, data, "data")?;
        let id = small_int(id, "id", 1, u32::MAX as i64)? as u32;
        let level = small_int(level, "level", 0, 22)?;
        core::compress_with_dictionary(id, level, data.as_slice()).map(Buffer::from)
    })
}

/// Training's arguments, copied: it runs on the libuv pool (a second or so of CPU).
pub struct TrainJob {
    samples: Vec<u8>,
    sizes: Vec<u32>,
    capacity: usize,
}

impl Task for TrainJob {
    type Output = CoreResult<Vec<u8>>;
    type JsValue = Buffer;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(guard(|| {
            core::dictionary::train(&self.samples, &self.sizes, self.capacity)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        output.map(Buffer::from).map_err(|e| to_js_error(&env, e))
    }
}

/// Trains a zstd dictionary of at most `capacity` bytes on the samples (end to end, one length
/// each in `sizes`), on the libuv pool.
#[napi(catch_unwind, ts_return_type = "Promise<Buffer>")]
pub fn train_dictionary_async(
    env: Env,
    #[napi(ts_arg_type = "Uint8Array")] samples: Unknown<'_>,
    #[napi(ts_arg_type = "Uint32Array")] sizes: Unknown<'_>,
    capacity: f64,
) -> Result<AsyncTask<TrainJob>> {
    let job = sync_call(&env, || {
        let samples = Bytes::arg(&env, samples, "samples")?.as_slice().to_vec();
        let sizes = numbers_u32(&env, sizes)?;
        let capacity = small_int(capacity, "capacity", 0, u32::MAX as i64)? as usize;
        Ok(TrainJob {
            samples,
            sizes,
            capacity,
        })
    })?;
    Ok(AsyncTask::new(job))
}

/// A Uint32Array argument, copied out.
fn numbers_u32(env: &Env, value: Unknown<'_>) -> CoreResult<Vec<u32>> {
    // SAFETY: both from the running call.
    let view = unsafe {
        js_args::typed_array(
            env.raw(),
            value.raw(),
            napi::sys::TypedarrayType::uint32_array,
            "sizes",
        )
    }?;
    let mut values = vec![0u32; view.len];
    if view.len > 0 {
        // SAFETY: as in Bytes::as_slice; copied as bytes, so the source needs no alignment.
        unsafe {
            std::ptr::copy_nonoverlapping(view.ptr, values.as_mut_ptr().cast::<u8>(), view.len * 4)
        };
    }
    Ok(values)
}
