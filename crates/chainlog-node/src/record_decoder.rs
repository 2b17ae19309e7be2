//! Single-record decoding for random gets: `recordDecoder(hash, stream)` and
//! `decodeOneInto(decoder, data, basePosition, position, expectPrevHash, maxPayloadBytes, out)`,
//! registered as plain Node-API callbacks.
//!
//! A get decodes one small record, so the call itself is a large share of its cost. A `#[napi]`
//! function opens a native-borrow scope per call (an `Arc<Mutex<…>>` allocated and freed), an
//! `External` argument is looked up in a global registry, and a class method's receiver is
//! registered in a global, mutex-guarded table: a call took 770 ns as a class method, 545 ns as a
//! free function and 485 ns as here (256 B records, a microbench loop). Here: a decoder is
//! an external carrying our type tag, bytes are typed-array views, numbers doubles; napi-rs's own
//! value conversions are used, its call machinery is not.

use std::ffi::c_void;
use std::ptr;
use std::sync::OnceLock;

use chainlog_core::format::HASH_BYTES;
use chainlog_core::{self as core, ChainHasher};
use napi::bindgen_prelude::*;
use napi::sys;

use crate::js_args::{hash_arg, hasher, safe_integer, CoreResult};
use crate::raw_api::{
    args, bytes_arg, call, number_arg, number_call, refuse, string_arg, typed_array_out,
};

/// Bytes of decodeOneInto's output before the payload: f64 offset, f64 timestamp, kind, form,
/// 6 zero bytes, prev hash, hash.
const ONE_HEAD_BYTES: usize = 24 + 2 * HASH_BYTES;

/// Buffers a decoder keeps between calls up to this size (a huge record's are let go).
const MAX_KEPT_DECODE_BYTES: usize = 1 << 20;

/// Marks the externals made here: decodeOneInto never takes another addon's external for ours,
/// nor one of another copy of this addon loaded in the same process (say, two chainlog versions
/// in one dependency tree), whose RecordDecoder may differ: the tag holds an address inside this
/// copy.
fn decoder_tag() -> &'static sys::napi_type_tag {
    static ANCHOR: u8 = 0;
    static TAG: OnceLock<sys::napi_type_tag> = OnceLock::new();
    TAG.get_or_init(|| sys::napi_type_tag {
        lower: 0x6368_6169_6e6c_6f67, // "chainlog"
        upper: &ANCHOR as *const u8 as u64,
    })
}

/// One stream's decoder: its chain hasher and the output buffers, kept from call to call.
struct RecordDecoder {
    hasher: ChainHasher,
    out: core::DecodeOutput,
    scratch: Vec<u8>,
}

pub(crate) fn register(exports: &mut Object, env: &Env) -> Result<()> {
    let make = env.create_function::<(), ()>("recordDecoder", record_decoder_callback)?;
    exports.set_named_property("recordDecoder", make)?;
    let decode = env.create_function::<(), ()>("decodeOneInto", decode_one_into_callback)?;
    exports.set_named_property("decodeOneInto", decode)?;
    Ok(())
}

unsafe extern "C" fn finalize_decoder(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(unsafe { Box::from_raw(data.cast::<RecordDecoder>()) });
}

/// recordDecoder(hash, stream): a tagged external owning a RecordDecoder (freed when collected).
unsafe extern "C" fn record_decoder_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let run = || -> CoreResult<sys::napi_value> {
        let [hash, stream] = unsafe { args::<2>(env, info)? };
        let hash = unsafe { string_arg(env, hash, "hash")? };
        let stream = unsafe { string_arg(env, stream, "stream")? };
        let decoder = Box::new(RecordDecoder {
            hasher: hasher(&hash, &stream)?,
            out: core::DecodeOutput::default(),
            scratch: Vec::new(),
        });
        let data = Box::into_raw(decoder);
        let mut external = ptr::null_mut();
        let s = unsafe {
            sys::napi_create_external(
                env,
                data.cast(),
                Some(finalize_decoder),
                ptr::null_mut(),
                &mut external,
            )
        };
        if s != sys::Status::napi_ok {
            drop(unsafe { Box::from_raw(data) });
            return Err(refuse("creating a record decoder failed"));
        }
        // From here the finalizer owns the box.
        if unsafe { sys::napi_type_tag_object(env, external, decoder_tag()) }
            != sys::Status::napi_ok
        {
            return Err(refuse("tagging a record decoder failed"));
        }
        Ok(external)
    };
    unsafe { call(env, run) }
}

/// The RecordDecoder behind `value`, when it is one of ours.
unsafe fn decoder_arg<'a>(
    env: sys::napi_env,
    value: sys::napi_value,
) -> CoreResult<&'a mut RecordDecoder> {
    let mut ours = false;
    let s = unsafe { sys::napi_check_object_type_tag(env, value, decoder_tag(), &mut ours) };
    if s != sys::Status::napi_ok || !ours {
        return Err(refuse("decoder must come from recordDecoder()"));
    }
    let mut data = ptr::null_mut();
    if unsafe { sys::napi_get_value_external(env, value, &mut data) } != sys::Status::napi_ok {
        return Err(refuse("decoder must come from recordDecoder()"));
    }
    debug_assert!(!data.is_null(), "a tagged decoder holds its box");
    // SAFETY: tagged by record_decoder_callback, so `data` is its live Box<RecordDecoder> (the
    // external is an argument of this call, so it cannot be collected meanwhile), and the JS
    // thread is in this call: nothing else holds a reference to it.
    Ok(unsafe { &mut *data.cast::<RecordDecoder>() })
}

/// decodeRecords of the one record at `position` (payload included), written into `out`:
/// f64 offset · f64 timestamp · kind u8 · form u8 · 6 zero bytes · prev hash 32 · hash 32 ·
/// payload. Same checks and errors as decodeRecords. Returns the payload length, or
/// −(bytes needed) when `out` is too small (nothing else is written then). `out` must not
/// overlap `data` or `expectPrevHash`.
unsafe extern "C" fn decode_one_into_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let run = || -> CoreResult<f64> {
        let [decoder, data, base, position, expect, max, out] = unsafe { args::<7>(env, info)? };
        let decoder = unsafe { decoder_arg(env, decoder)? };
        let data = unsafe { bytes_arg(env, data, "data")? };
        let base = unsafe { number_arg(env, base, "basePosition")? };
        let position = unsafe { number_arg(env, position, "position")? };
        let expect = if unsafe { crate::raw_api::is_nullish(env, expect)? } {
            None
        } else {
            Some(unsafe { bytes_arg(env, expect, "expectPrevHash")? })
        };
        let max = unsafe { number_arg(env, max, "maxPayloadBytes")? };
        // `out` is written while `data` and `expect` are read: checked to share no memory with
        // them before it becomes a slice (views of one ArrayBuffer can overlap).
        let out = unsafe { typed_array_out(env, out, sys::TypedarrayType::uint8_array, "out")? };
        if out.overlaps(data) || expect.is_some_and(|e| out.overlaps(e)) {
            return Err(refuse("out must not overlap data or expectPrevHash"));
        }
        // SAFETY: an argument of this call, disjoint from every other slice made in it.
        let out = unsafe { out.bytes() };
        let result = decode_one_into(decoder, data, base, position, expect, max, out);
        if decoder.out.payloads.capacity() > MAX_KEPT_DECODE_BYTES {
            decoder.out = core::DecodeOutput::default();
        }
        if decoder.scratch.capacity() > MAX_KEPT_DECODE_BYTES {
            decoder.scratch = Vec::new();
        }
        result
    };
    unsafe { number_call(env, run) }
}

fn decode_one_into(
    decoder: &mut RecordDecoder,
    data: &[u8],
    base_position: f64,
    position: f64,
    expect_prev_hash: Option<&[u8]>,
    max_payload_bytes: f64,
    out: &mut [u8],
) -> CoreResult<f64> {
    let positions = [safe_integer(position, "position")?];
    core::decode_one_record(
        &core::DecodeInput {
            hasher: &decoder.hasher,
            data,
            base: safe_integer(base_position, "basePosition")?,
            positions: &positions,
            expect_prev_hash: expect_prev_hash
                .map(|h| hash_arg(h, "expectPrevHash"))
                .transpose()?,
            payloads_from: 0,
            max_payload_bytes: safe_integer(max_payload_bytes, "maxPayloadBytes")?,
        },
        &mut decoder.out,
        &mut decoder.scratch,
    )?;
    let d = &decoder.out;
    debug_assert!(
        d.offsets.len() == 1 && d.hashes.len() == HASH_BYTES,
        "one record decoded"
    );
    let need = ONE_HEAD_BYTES + d.payloads.len();
    if out.len() < need {
        return Ok(-(need as f64));
    }
    out[0..8].copy_from_slice(&(d.offsets[0] as f64).to_le_bytes());
    out[8..16].copy_from_slice(&(d.timestamps[0] as f64).to_le_bytes());
    out[16] = d.kinds[0];
    out[17] = d.forms[0];
    out[18..24].fill(0);
    out[24..24 + HASH_BYTES].copy_from_slice(&d.prev_hashes[..HASH_BYTES]);
    out[24 + HASH_BYTES..ONE_HEAD_BYTES].copy_from_slice(&d.hashes[..HASH_BYTES]);
    out[ONE_HEAD_BYTES..need].copy_from_slice(&d.payloads);
    Ok(d.payloads.len() as f64)
}
