//! encodeBatch as `encodeInto(hash, stream, firstOffset, prevHash, kind, codec, level, payloads,
//! lengths, timestamps, into, positionsOut, lastHashOut, hashesOut?)`, a plain Node-API callback
//! (see raw_api.rs): every output goes into a typed array the caller made, the records into
//! `into` (at least encoded_bound bytes), their positions into `positionsOut` (one f64 each),
//! the last hash into `lastHashOut` (32 bytes) and, when given, every hash into `hashesOut`
//! (32 bytes each). Returns the bytes written.
//!
//! As a `#[napi]` function taking an input object and returning Buffers, a call's fixed cost was
//! about 5 µs (1-record calls, 6.6 µs in all): a dozen named-property reads, and an external
//! Buffer per output, each with a finalizer and a cleanup hook to register and later sweep. W1
//! makes two calls per batch of 1000 (the records and their checkpoint).

use chainlog_core::error::{hash_arg, safe_integer};
use chainlog_core::format::{HASH_BYTES, MAX_KIND};
use chainlog_core::{self as core, HashAlgorithm};
use napi::bindgen_prelude::*;
use napi::sys;

use crate::raw_api::{args, is_nullish, return_number, typed_array_out, RawOut};
use crate::{codec_and_level, safe_integers, small_int, to_js_error};

pub(crate) fn register(exports: &mut Object, env: &Env) -> Result<()> {
    let encode = env.create_function::<(), ()>("encodeInto", encode_into_callback)?;
    exports.set_named_property("encodeInto", encode)
}

unsafe extern "C" fn encode_into_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let run = || -> Result<f64> {
        let [hash, stream, first_offset, prev_hash, kind, codec, level, payloads, lengths, timestamps, into, positions_out, last_hash_out, hashes_out] =
            unsafe { args::<14>(env, info)? };
        let hash = unsafe { String::from_napi_value(env, hash)? };
        let stream = unsafe { String::from_napi_value(env, stream)? };
        let first_offset = unsafe { f64::from_napi_value(env, first_offset)? };
        let prev_hash = unsafe { <&[u8]>::from_napi_value(env, prev_hash)? };
        let kind = unsafe { f64::from_napi_value(env, kind)? };
        let codec = unsafe { f64::from_napi_value(env, codec)? };
        let level = unsafe { f64::from_napi_value(env, level)? };
        let payloads = unsafe { <&[u8]>::from_napi_value(env, payloads)? };
        let lengths = unsafe { <&[u32]>::from_napi_value(env, lengths)? };
        let timestamps = unsafe { <&[f64]>::from_napi_value(env, timestamps)? };

        let u8s = sys::TypedarrayType::uint8_array;
        let outs = [
            unsafe { typed_array_out(env, into, u8s, "into")? },
            unsafe {
                typed_array_out(
                    env,
                    positions_out,
                    sys::TypedarrayType::float64_array,
                    "positionsOut",
                )?
            },
            unsafe { typed_array_out(env, last_hash_out, u8s, "lastHashOut")? },
        ];
        let hashes_out = if unsafe { is_nullish(env, hashes_out)? } {
            None
        } else {
            Some(unsafe { typed_array_out(env, hashes_out, u8s, "hashesOut")? })
        };
        // The outputs are written while the inputs are read: none may share memory with an
        // input or with another output (views of one ArrayBuffer can overlap).
        let inputs: [&[u8]; 4] = [prev_hash, payloads, as_bytes(lengths), as_bytes(timestamps)];
        let all_outs: Vec<&RawOut> = outs.iter().chain(hashes_out.as_ref()).collect();
        for (k, out) in all_outs.iter().enumerate() {
            if inputs.iter().any(|i| out.overlaps(i))
                || all_outs[..k].iter().any(|o| out.overlaps_out(o))
            {
                return Err(Error::new(
                    Status::InvalidArg,
                    "the outputs of encodeInto must not overlap its inputs or each other"
                        .to_owned(),
                ));
            }
        }
        let [into, positions_out, last_hash_out] = outs;
        let input = EncodeArgs {
            hash: &hash,
            stream: &stream,
            first_offset,
            prev_hash,
            kind,
            codec,
            level,
            payloads,
            lengths,
            timestamps,
            want_hashes: hashes_out.is_some(),
        };
        // SAFETY: an argument of this call, checked above to be disjoint from every other slice.
        let written = encode(&input, unsafe { into.bytes() }).map_err(to_js_error)?;
        // The batch is checked first (its errors come before any about the outputs' sizes).
        let n = lengths.len();
        if positions_out.len != n
            || last_hash_out.len != HASH_BYTES
            || hashes_out.as_ref().is_some_and(|h| h.len != n * HASH_BYTES)
        {
            return Err(Error::new(
                Status::InvalidArg,
                format!("encodeInto wants positionsOut of {n} entries, lastHashOut of {HASH_BYTES} bytes and hashesOut of {n} × {HASH_BYTES} bytes"),
            ));
        }
        // SAFETY: as for `into`.
        let (positions_out, last_hash_out) =
            unsafe { (positions_out.bytes(), last_hash_out.bytes()) };
        // A Float64Array holds its numbers in the platform's byte order.
        for (out, &p) in positions_out.chunks_exact_mut(8).zip(&written.positions) {
            out.copy_from_slice(&(p as f64).to_ne_bytes());
        }
        last_hash_out.copy_from_slice(&written.last_hash);
        if let (Some(out), Some(hashes)) = (hashes_out, written.hashes) {
            // SAFETY: as for `into`.
            unsafe { out.bytes() }.copy_from_slice(&hashes);
        }
        Ok(written.len as f64)
    };
    unsafe { return_number(env, run()) }
}

/// The bytes of a typed array's elements (for the overlap check only).
fn as_bytes<T>(values: &[T]) -> &[u8] {
    // SAFETY: the same memory, viewed as bytes; u32 and f64 have no padding.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), std::mem::size_of_val(values)) }
}

struct EncodeArgs<'a> {
    hash: &'a str,
    stream: &'a str,
    first_offset: f64,
    prev_hash: &'a [u8],
    kind: f64,
    codec: f64,
    level: f64,
    payloads: &'a [u8],
    lengths: &'a [u32],
    timestamps: &'a [f64],
    want_hashes: bool,
}

/// Checks the arguments (in the order encodeBatch always did) and encodes into `into`.
fn encode(a: &EncodeArgs<'_>, into: &mut [u8]) -> core::Result<core::EncodedInto> {
    let hash = HashAlgorithm::parse(a.hash)?;
    let first_offset = safe_integer(a.first_offset, "firstOffset")?;
    let prev_hash = hash_arg(a.prev_hash, "prevHash")?;
    let kind = small_int(a.kind, "kind", 0, MAX_KIND as i64)? as u8;
    let (codec, level) = codec_and_level(a.codec, a.level)?;
    let timestamps = safe_integers(a.timestamps, "timestamp")?;
    let input = core::EncodeInput {
        hash,
        stream: a.stream.as_bytes(),
        first_offset,
        prev_hash,
        kind,
        codec,
        level,
        payloads: a.payloads,
        lengths: a.lengths,
        timestamps: &timestamps,
        want_hashes: a.want_hashes,
    };
    let bound = core::encoded_bound(a.payloads.len(), a.lengths.len());
    core::encode_batch_into(&input, into)?.ok_or_else(|| {
        core::Error::InvalidArgument(format!(
            "into must hold at least {bound} bytes, got {}",
            into.len()
        ))
    })
}
