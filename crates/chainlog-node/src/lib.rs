//! napi-rs binding of chainlog-core: argument conversion, async tasks (libuv pool) whose compute
//! is the same function as the sync twin, and error mapping in one place (`to_js_error`).
//! Per-record results go back as typed arrays and Buffers, never arrays of objects.
//!
//! Numbers arrive as f64 and are checked here (safe integers, ranges) so a fractional or NaN
//! value is ERR_INVALID_ARGUMENT, never a silent truncation by the JS → Rust conversion.
#![deny(clippy::all)]

use chainlog_core::error::{hash_arg, safe_integer};
use chainlog_core::format::{HASH_BYTES, MAX_KIND, MAX_PAYLOAD_BYTES, MAX_SAFE};
use chainlog_core::{self as core, ChainHasher, HashAlgorithm};
use napi::bindgen_prelude::*;
use napi_derive::napi;

mod raw_api;
mod record_decoder;
mod record_encoder;

/// The plain Node-API callbacks (raw_api.rs), registered beside the `#[napi]` functions.
#[napi(module_exports)]
pub fn register_raw_callbacks(mut exports: Object, env: Env) -> Result<()> {
    record_decoder::register(&mut exports, &env)?;
    record_encoder::register(&mut exports, &env)
}

/// The one place core errors become JS errors: the message starts with the stable code, which
/// ts/core/native.ts turns into ChainlogError.code.
pub(crate) fn to_js_error(e: core::Error) -> Error {
    Error::new(Status::GenericFailure, e.to_string())
}

pub(crate) type CoreResult<T> = core::Result<T>;

fn invalid(msg: String) -> core::Error {
    core::Error::InvalidArgument(msg)
}

/// A small integer argument (kind, codec, form, level) within lo..=hi.
pub(crate) fn small_int(value: f64, what: &str, lo: i64, hi: i64) -> CoreResult<i64> {
    if value.is_finite() && value.fract() == 0.0 && value >= lo as f64 && value <= hi as f64 {
        Ok(value as i64)
    } else {
        Err(invalid(format!(
            "{what} must be an integer in {lo}..{hi}, got {value}"
        )))
    }
}

/// A codec argument and its level: the level's range is the core's to check (only for zstd),
/// here only "an integer"; other codecs ignore it.
pub(crate) fn codec_and_level(codec: f64, level: f64) -> CoreResult<(u8, i64)> {
    let codec = small_int(codec, "codec", 0, 2)? as u8;
    let level = if codec == core::format::CODEC_ZSTD {
        small_int(level, "zstd level", 0, 22)?
    } else {
        0
    };
    Ok((codec, level))
}

pub(crate) fn safe_integers(values: &[f64], what: &str) -> CoreResult<Vec<u64>> {
    values.iter().map(|&v| safe_integer(v, what)).collect()
}

fn opt_safe(value: Option<f64>, what: &str) -> CoreResult<Option<u64>> {
    value.map(|v| safe_integer(v, what)).transpose()
}

pub(crate) fn hasher(hash: &str, stream: &str) -> CoreResult<ChainHasher> {
    ChainHasher::new(HashAlgorithm::parse(hash)?, stream.as_bytes())
}

fn f64s(values: Vec<u64>) -> Float64Array {
    Float64Array::new(values.into_iter().map(|v| v as f64).collect())
}

#[napi]
pub fn abi_version() -> u32 {
    core::CORE_ABI
}

// ---- encodeBatch: record_encoder.rs (encodeInto) ---------------------------------------------

// ---- scanSegment ------------------------------------------------------------------------------

#[napi(object, object_to_js = false)]
pub struct ScanInput {
    pub hash: String,
    pub stream: String,
    pub data: Uint8Array,
    pub base_position: f64,
    pub first_offset: Option<f64>,
    pub prev_hash: Option<Uint8Array>,
    pub prev_timestamp: Option<f64>,
    pub verify_chain: bool,
    pub r#final: bool,
}

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

/// A scan's arguments, checked and owned, so the same job runs now or on the libuv pool.
pub struct ScanJob {
    hasher: ChainHasher,
    data: Uint8Array,
    base: u64,
    first_offset: Option<u64>,
    prev_hash: Option<core::Hash>,
    prev_timestamp: Option<u64>,
    verify_chain: bool,
    final_: bool,
}

impl ScanJob {
    fn new(input: ScanInput) -> CoreResult<Self> {
        let hasher = hasher(&input.hash, &input.stream)?;
        let base = safe_integer(input.base_position, "basePosition")?;
        if base + input.data.len() as u64 > MAX_SAFE {
            return Err(invalid(format!(
                "basePosition {base} + {} bytes passes 2^53 - 1",
                input.data.len()
            )));
        }
        Ok(ScanJob {
            hasher,
            base,
            first_offset: opt_safe(input.first_offset, "firstOffset")?,
            prev_hash: input
                .prev_hash
                .as_deref()
                .map(|h| hash_arg(h, "prevHash"))
                .transpose()?,
            prev_timestamp: opt_safe(input.prev_timestamp, "prevTimestamp")?,
            verify_chain: input.verify_chain,
            final_: input.r#final,
            data: input.data,
        })
    }

    fn compute(&self) -> core::ScanOutput {
        core::scan_segment(&core::ScanInput {
            hasher: &self.hasher,
            data: &self.data,
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

#[napi]
pub fn scan_segment(input: ScanInput) -> Result<ScanResult> {
    let job = ScanJob::new(input).map_err(to_js_error)?;
    Ok(scan_result(job.compute()))
}

impl Task for ScanJob {
    type Output = core::ScanOutput;
    type JsValue = ScanResult;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(ScanJob::compute(self))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(scan_result(output))
    }
}

#[napi(ts_return_type = "Promise<ScanResult>")]
pub fn scan_segment_async(input: ScanInput) -> Result<AsyncTask<ScanJob>> {
    Ok(AsyncTask::new(ScanJob::new(input).map_err(to_js_error)?))
}

// ---- findValidRecord --------------------------------------------------------------------------

#[napi(object, object_to_js = false)]
pub struct FindValidRecordInput {
    pub data: Uint8Array,
    pub base_position: f64,
    pub r#final: bool,
}

#[napi(object, object_from_js = false)]
pub struct FindValidRecordResult {
    pub state: String,
    pub position: f64,
    pub need_bytes: f64,
}

#[napi]
pub fn find_valid_record(input: FindValidRecordInput) -> Result<FindValidRecordResult> {
    let base = safe_integer(input.base_position, "basePosition").map_err(to_js_error)?;
    if base + input.data.len() as u64 > MAX_SAFE {
        let msg = format!(
            "basePosition {base} + {} bytes passes 2^53 - 1",
            input.data.len()
        );
        return Err(to_js_error(invalid(msg)));
    }
    let r = core::find_valid_record(&input.data, base, input.r#final);
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
}

// ---- decodeRecords ----------------------------------------------------------------------------

#[napi(object, object_to_js = false)]
pub struct DecodeInput {
    pub hash: String,
    pub stream: String,
    pub data: Uint8Array,
    pub base_position: f64,
    pub positions: Float64Array,
    pub expect_prev_hash: Option<Uint8Array>,
    pub payloads_from: f64,
    pub max_payload_bytes: f64,
}

/// A decode result packed into ONE Float64Array (ts/core/native.ts unpacks it into views): each
/// Buffer or typed array napi creates costs a few microseconds (an external ArrayBuffer and its
/// finalizer), which dominated a one-record decode (a random `get`) with nine of them.
///
/// f64 words: [0] payload bytes P · [1..1+N) offsets · [1+N..1+2N) timestamps · [1+2N..1+3N)
/// payload ends; then bytes: prev hashes 32N · hashes 32N · kinds N · forms N · payloads P.
fn pack_decode(out: core::DecodeOutput) -> Vec<f64> {
    let n = out.offsets.len();
    let p = out.payloads.len();
    let head = 1 + 3 * n;
    let total = head * 8 + 2 * HASH_BYTES * n + 2 * n + p;
    let mut words = vec![0f64; total.div_ceil(8)];
    words[0] = p as f64;
    for (k, &v) in out.offsets.iter().enumerate() {
        words[1 + k] = v as f64;
    }
    for (k, &v) in out.timestamps.iter().enumerate() {
        words[1 + n + k] = v as f64;
    }
    for (k, &v) in out.payload_ends.iter().enumerate() {
        words[1 + 2 * n + k] = v as f64;
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
    }
    words
}

pub struct DecodeJob {
    hasher: ChainHasher,
    data: Uint8Array,
    base: u64,
    positions: Vec<u64>,
    expect_prev_hash: Option<core::Hash>,
    payloads_from: u64,
    max_payload_bytes: u64,
}

impl DecodeJob {
    fn new(input: DecodeInput) -> CoreResult<Self> {
        let max = safe_integer(input.max_payload_bytes, "maxPayloadBytes")?;
        if max > MAX_PAYLOAD_BYTES {
            return Err(invalid(format!(
                "maxPayloadBytes must be 0..{MAX_PAYLOAD_BYTES}, got {max}"
            )));
        }
        Ok(DecodeJob {
            hasher: hasher(&input.hash, &input.stream)?,
            base: safe_integer(input.base_position, "basePosition")?,
            positions: safe_integers(&input.positions, "position")?,
            expect_prev_hash: input
                .expect_prev_hash
                .as_deref()
                .map(|h| hash_arg(h, "expectPrevHash"))
                .transpose()?,
            payloads_from: safe_integer(input.payloads_from, "payloadsFrom")?,
            max_payload_bytes: max,
            data: input.data,
        })
    }

    fn compute(&self) -> CoreResult<core::DecodeOutput> {
        core::decode_records(&core::DecodeInput {
            hasher: &self.hasher,
            data: &self.data,
            base: self.base,
            positions: &self.positions,
            expect_prev_hash: self.expect_prev_hash,
            payloads_from: self.payloads_from,
            max_payload_bytes: self.max_payload_bytes,
        })
    }
}

#[napi]
pub fn decode_records(input: DecodeInput) -> Result<Float64Array> {
    let job = DecodeJob::new(input).map_err(to_js_error)?;
    job.compute()
        .map(|out| Float64Array::new(pack_decode(out)))
        .map_err(to_js_error)
}

impl Task for DecodeJob {
    /// Packed on the pool thread: the JS thread only wraps the words.
    type Output = Vec<f64>;
    type JsValue = Float64Array;

    fn compute(&mut self) -> Result<Self::Output> {
        DecodeJob::compute(self)
            .map(pack_decode)
            .map_err(to_js_error)
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(Float64Array::new(output))
    }
}

#[napi(ts_return_type = "Promise<Float64Array>")]
pub fn decode_records_async(input: DecodeInput) -> Result<AsyncTask<DecodeJob>> {
    Ok(AsyncTask::new(DecodeJob::new(input).map_err(to_js_error)?))
}

// ---- hashes, CRC, codecs ----------------------------------------------------------------------

#[napi]
pub fn commitment(hash: String, payload: Uint8Array) -> Result<Buffer> {
    let alg = HashAlgorithm::parse(&hash).map_err(to_js_error)?;
    Ok(core::commitment(alg, &payload).to_vec().into())
}

#[napi(object, object_to_js = false)]
pub struct RecordHashInput {
    pub stream: String,
    pub prev_hash: Uint8Array,
    pub offset: f64,
    pub timestamp: f64,
    pub kind: f64,
    pub payload_length: f64,
    pub commitment: Uint8Array,
}

fn record_hash_inner(hash: &str, input: &RecordHashInput) -> CoreResult<Buffer> {
    let hasher = hasher(hash, &input.stream)?;
    let prev_hash = hash_arg(&input.prev_hash, "prevHash")?;
    let commitment = hash_arg(&input.commitment, "commitment")?;
    let h = hasher.record_hash(&core::RecordFields {
        prev_hash: &prev_hash,
        offset: safe_integer(input.offset, "offset")?,
        timestamp: safe_integer(input.timestamp, "timestamp")?,
        kind: small_int(input.kind, "kind", 0, MAX_KIND as i64)? as u8,
        payload_length: safe_integer(input.payload_length, "payloadLength")?,
        commitment: &commitment,
    });
    Ok(h.to_vec().into())
}

#[napi]
pub fn record_hash(hash: String, input: RecordHashInput) -> Result<Buffer> {
    record_hash_inner(&hash, &input).map_err(to_js_error)
}

#[napi]
pub fn crc32(data: Uint8Array) -> u32 {
    crc32fast::hash(&data)
}

#[napi]
pub fn compress(codec: f64, level: f64, data: Uint8Array) -> Result<Buffer> {
    let run = || -> CoreResult<Vec<u8>> {
        let (codec, level) = codec_and_level(codec, level)?;
        core::compress(codec, level, &data)
    };
    run().map(Buffer::from).map_err(to_js_error)
}

#[napi]
pub fn decompress(form: f64, stored: Uint8Array, max_bytes: f64) -> Result<Buffer> {
    let run = || -> CoreResult<Vec<u8>> {
        let form = small_int(form, "form", 0, 2)? as u8;
        let max = safe_integer(max_bytes, "maxBytes")?;
        if max > MAX_PAYLOAD_BYTES {
            return Err(invalid(format!(
                "maxBytes must be 0..{MAX_PAYLOAD_BYTES}, got {max}"
            )));
        }
        core::decompress(form, &stored, max)
    };
    run().map(Buffer::from).map_err(to_js_error)
}
