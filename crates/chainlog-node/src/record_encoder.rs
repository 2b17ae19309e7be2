//! encodeBatch as `encodeInto(hash, stream, firstOffset, prevHash, kind, codec, level, payloads,
//! lengths, timestamps, into, positionsOut, lastHashOut, hashesOut?, dictionaryId?, batchEnds?,
//! treeFrontier?, treeOut?)`, a plain Node-API callback
//! (see raw_api.rs): every output goes into a typed array the caller made, the records into
//! `into` (at least encoded_bound bytes), their positions into `positionsOut` (one f64 each),
//! the last hash into `lastHashOut` (32 bytes) and, when given, every hash into `hashesOut`
//! (32 bytes each); `batchEnds` (a Uint32Array, or nullish) says where each append call's batch
//! ends; with `treeFrontier` (the stream's Merkle compact range, core::tree) the batch's leaves
//! extend it into `treeOut` (core::tree_out_bytes). Returns the bytes written.
//!
//! Not a `#[napi]` function with an input object and Buffer results: their fixed cost per call
//! (named-property reads, an external Buffer per output with a finalizer) dominated the small
//! calls W1 makes for every checkpoint (docs/perf-notes.md).

use chainlog_core::format::{HASH_BYTES, MAX_KIND};
use chainlog_core::{self as core, HashAlgorithm};
use napi::bindgen_prelude::*;
use napi::sys;

use crate::js_args::{codec_and_level, hash_arg, invalid, safe_integer, safe_integers, small_int};
use crate::raw_api::{
    args, bytes_arg, is_nullish, number_arg, number_call, refuse, slice_arg, string_arg,
    typed_array_out, RawOut,
};

pub(crate) fn register(exports: &mut Object, env: &Env) -> Result<()> {
    let encode = env.create_function::<(), ()>("encodeInto", encode_into_callback)?;
    exports.set_named_property("encodeInto", encode)
}

unsafe extern "C" fn encode_into_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let run = || -> core::Result<f64> {
        let [hash, stream, first_offset, prev_hash, kind, codec, level, payloads, lengths, timestamps, into, positions_out, last_hash_out, hashes_out, dictionary, batch_ends, tree_frontier, tree_out] =
            unsafe { args::<18>(env, info)? };
        let hash = unsafe { string_arg(env, hash, "hash")? };
        let stream = unsafe { string_arg(env, stream, "stream")? };
        let first_offset = unsafe { number_arg(env, first_offset, "firstOffset")? };
        let prev_hash = unsafe { bytes_arg(env, prev_hash, "prevHash")? };
        let kind = unsafe { number_arg(env, kind, "kind")? };
        let codec = unsafe { number_arg(env, codec, "codec")? };
        let level = unsafe { number_arg(env, level, "level")? };
        let dictionary = if unsafe { is_nullish(env, dictionary)? } {
            0.0
        } else {
            unsafe { number_arg(env, dictionary, "dictionaryId")? }
        };
        let payloads = unsafe { bytes_arg(env, payloads, "payloads")? };
        let lengths: &[u32] =
            unsafe { slice_arg(env, lengths, sys::TypedarrayType::uint32_array, "lengths")? };
        let timestamps: &[f64] = unsafe {
            slice_arg(
                env,
                timestamps,
                sys::TypedarrayType::float64_array,
                "timestamps",
            )?
        };

        let batch_ends: &[u32] = if unsafe { is_nullish(env, batch_ends)? } {
            &[]
        } else {
            unsafe {
                slice_arg(
                    env,
                    batch_ends,
                    sys::TypedarrayType::uint32_array,
                    "batchEnds",
                )?
            }
        };

        let u8s = sys::TypedarrayType::uint8_array;
        let with_tree = !unsafe { is_nullish(env, tree_frontier)? };
        let tree_frontier: &[u8] = if with_tree {
            unsafe { bytes_arg(env, tree_frontier, "treeFrontier")? }
        } else {
            &[]
        };
        let tree_out = if with_tree {
            Some(unsafe { typed_array_out(env, tree_out, u8s, "treeOut")? })
        } else {
            None
        };
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
        let inputs: [&[u8]; 6] = [
            tree_frontier,
            prev_hash,
            payloads,
            as_bytes(lengths),
            as_bytes(timestamps),
            as_bytes(batch_ends),
        ];
        let all_outs: Vec<&RawOut> = outs
            .iter()
            .chain(hashes_out.as_ref())
            .chain(tree_out.as_ref())
            .collect();
        for (k, out) in all_outs.iter().enumerate() {
            if inputs.iter().any(|i| out.overlaps(i))
                || all_outs[..k].iter().any(|o| out.overlaps_out(o))
            {
                return Err(refuse(
                    "the outputs of encodeInto must not overlap its inputs or each other",
                ));
            }
        }
        let [into, positions_out, last_hash_out] = outs;
        // Checked in the order encodeBatch always did.
        let hash = HashAlgorithm::parse(&hash)?;
        let first_offset = safe_integer(first_offset, "firstOffset")?;
        let prev_hash = hash_arg(prev_hash, "prevHash")?;
        let kind = small_int(kind, "kind", 0, MAX_KIND as i64)? as u8;
        let (codec, level) = codec_and_level(codec, level)?;
        let dictionary = small_int(dictionary, "dictionaryId", 0, u32::MAX as i64)? as u32;
        let timestamps = safe_integers(timestamps, "timestamp")?;
        let input = core::EncodeInput {
            hash,
            stream: stream.as_bytes(),
            first_offset,
            prev_hash,
            kind,
            codec,
            level,
            dictionary,
            payloads,
            lengths,
            timestamps: &timestamps,
            // The tree's leaves are the chain hashes.
            want_hashes: hashes_out.is_some() || tree_out.is_some(),
            batch_ends,
        };
        // The batch is checked first (its errors come before any about the outputs' sizes),
        // then every output's size: nothing is written unless all of them fit.
        core::check_batch(&input)?;
        let n = lengths.len();
        let bound = core::encoded_bound(payloads.len(), n);
        if into.len < bound {
            return Err(invalid(format!(
                "into must hold at least {bound} bytes, got {}",
                into.len
            )));
        }
        if positions_out.len != n
            || last_hash_out.len != HASH_BYTES
            || hashes_out.as_ref().is_some_and(|h| h.len != n * HASH_BYTES)
        {
            return Err(invalid(format!("encodeInto wants positionsOut of {n} entries, lastHashOut of {HASH_BYTES} bytes and hashesOut of {n} × {HASH_BYTES} bytes")));
        }
        let tree_bytes = core::tree_out_bytes(first_offset, n);
        if tree_out.is_some() {
            core::check_frontier(tree_frontier, first_offset)?;
        }
        if tree_out.as_ref().is_some_and(|t| t.len != tree_bytes) {
            return Err(invalid(format!(
                "treeOut must hold {tree_bytes} bytes for {n} leaves after a tree of {first_offset}"
            )));
        }
        // SAFETY: arguments of this call, checked above to be disjoint from every other slice.
        let (into, positions_out, last_hash_out) =
            unsafe { (into.bytes(), positions_out.bytes(), last_hash_out.bytes()) };
        let written = core::encode_batch_into(&input, into)?
            .ok_or_else(|| refuse("into is shorter than the bound it was checked against"))?;
        debug_assert!(written.positions.len() == n && written.len <= bound);
        // A Float64Array holds its numbers in the platform's byte order.
        for (out, &p) in positions_out.chunks_exact_mut(8).zip(&written.positions) {
            out.copy_from_slice(&(p as f64).to_ne_bytes());
        }
        last_hash_out.copy_from_slice(&written.last_hash);
        if let (Some(out), Some(hashes)) = (tree_out, written.hashes.as_deref()) {
            // SAFETY: as for `into`.
            core::extend_tree(tree_frontier, first_offset, hashes, unsafe { out.bytes() })?;
        }
        if let (Some(out), Some(hashes)) = (hashes_out, written.hashes) {
            // SAFETY: as for `into`.
            unsafe { out.bytes() }.copy_from_slice(&hashes);
        }
        Ok(written.len as f64)
    };
    unsafe { number_call(env, run) }
}

/// The bytes of a typed array's elements (for the overlap check only).
fn as_bytes<T>(values: &[T]) -> &[u8] {
    // SAFETY: the same memory, viewed as bytes; u32 and f64 have no padding.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), std::mem::size_of_val(values)) }
}
