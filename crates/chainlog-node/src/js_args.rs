//! JavaScript's argument conventions, checked at the boundary so the core sees only Rust values:
//! numbers arrive as f64 (a fractional, NaN or unsafe value is ERR_INVALID_ARGUMENT, never a
//! silent truncation), hashes as 32-byte arrays, and bytes as typed-array views.
//!
//! A view's memory is read in place only while the JS thread is inside the call and no JS runs:
//! the positional arguments' conversions call no getter, and a view over a SharedArrayBuffer is
//! refused (another thread could write it while Rust reads, after checks have passed). Work that
//! outlives the call (an async task) copies the bytes first.

use std::ptr;

use chainlog_core::format::{CODEC_ZSTD, MAX_SAFE};
use chainlog_core::{self as core, ChainHasher, HashAlgorithm};
use napi::bindgen_prelude::*;
use napi::sys;

pub(crate) type CoreResult<T> = core::Result<T>;

pub(crate) fn invalid(msg: String) -> core::Error {
    core::Error::InvalidArgument(msg.into())
}

/// A JS number that must be a non-negative safe integer (offsets, timestamps, positions).
pub(crate) fn safe_integer(value: f64, what: &str) -> CoreResult<u64> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= MAX_SAFE as f64 {
        Ok(value as u64)
    } else {
        Err(invalid(format!(
            "{what} must be a non-negative safe integer, got {value}"
        )))
    }
}

pub(crate) fn safe_integers(values: &[f64], what: &str) -> CoreResult<Vec<u64>> {
    values.iter().map(|&v| safe_integer(v, what)).collect()
}

pub(crate) fn opt_safe(value: Option<f64>, what: &str) -> CoreResult<Option<u64>> {
    value.map(|v| safe_integer(v, what)).transpose()
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
    let level = if codec == CODEC_ZSTD {
        small_int(level, "zstd level", 0, 22)?
    } else {
        0
    };
    Ok((codec, level))
}

/// A 32-byte hash given by the caller.
pub(crate) fn hash_arg(bytes: &[u8], what: &str) -> CoreResult<core::Hash> {
    bytes
        .try_into()
        .map_err(|_| invalid(format!("{what} must be 32 bytes, got {}", bytes.len())))
}

pub(crate) fn hasher(hash: &str, stream: &str) -> CoreResult<ChainHasher> {
    ChainHasher::new(HashAlgorithm::parse(hash)?, stream.as_bytes())
}

/// `base + len` stays a safe integer (every position inside the data is one).
pub(crate) fn check_span(base: u64, len: usize) -> CoreResult<()> {
    if base + len as u64 > MAX_SAFE {
        return Err(invalid(format!(
            "basePosition {base} + {len} bytes passes 2^53 - 1"
        )));
    }
    Ok(())
}

/// A typed array's memory: its first byte and its length in elements.
pub(crate) struct View {
    pub ptr: *mut u8,
    pub len: usize,
}

/// The memory of `value`, which must be a typed array of `kind` (Uint8Array, Uint32Array or
/// Float64Array) over an ordinary ArrayBuffer. `what` names the argument in errors.
///
/// # Safety
/// `env` and `value` come from the running call.
pub(crate) unsafe fn typed_array(
    env: sys::napi_env,
    value: sys::napi_value,
    kind: sys::napi_typedarray_type,
    what: &str,
) -> CoreResult<View> {
    let name = match kind {
        sys::TypedarrayType::float64_array => "a Float64Array",
        sys::TypedarrayType::uint32_array => "a Uint32Array",
        _ => "a Uint8Array",
    };
    // Anything but a typed array (a DataView, a plain object, a string) fails here.
    let mut found = 0;
    let mut len = 0;
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let s = unsafe {
        sys::napi_get_typedarray_info(
            env,
            value,
            &mut found,
            &mut len,
            &mut data,
            &mut buffer,
            ptr::null_mut(),
        )
    };
    if s != sys::Status::napi_ok || found != kind {
        return Err(invalid(format!("{what} must be {name}")));
    }
    // napi_is_arraybuffer is false for a SharedArrayBuffer (V8's IsArrayBuffer excludes it).
    let mut ordinary = false;
    let s = unsafe { sys::napi_is_arraybuffer(env, buffer, &mut ordinary) };
    if s != sys::Status::napi_ok || !ordinary {
        return Err(invalid(format!(
            "{what} must not be a view of a SharedArrayBuffer (another thread could change it while it is read)"
        )));
    }
    debug_assert!(len == 0 || !data.is_null(), "a non-empty view has memory");
    Ok(View {
        ptr: data.cast(),
        len,
    })
}

/// A Uint8Array argument of a `#[napi]` function, read in place for the call's duration.
/// Not `Send` (it holds a raw pointer): a task that outlives the call copies the slice.
pub(crate) struct Bytes {
    view: View,
    what: &'static str,
}

impl Bytes {
    /// `value` as a Uint8Array argument named `what` (taken as `Unknown` so errors name it).
    pub fn arg(env: &Env, value: Unknown<'_>, what: &'static str) -> CoreResult<Self> {
        // SAFETY: both from the running call.
        let view = unsafe {
            typed_array(
                env.raw(),
                value.raw(),
                sys::TypedarrayType::uint8_array,
                what,
            )
        }?;
        Ok(Bytes { view, what })
    }

    /// An optional argument: undefined or null is None.
    pub fn opt_arg(env: &Env, value: Unknown<'_>, what: &'static str) -> CoreResult<Option<Self>> {
        match value.get_type() {
            Ok(ValueType::Undefined | ValueType::Null) => Ok(None),
            _ => Self::arg(env, value, what).map(Some),
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        if self.view.len == 0 {
            &[]
        } else {
            // SAFETY: a typed array argument of the running call, not shared with another thread
            // (checked in `typed_array`), and no JS runs before the call returns: the memory
            // stays as it was when converted.
            unsafe { std::slice::from_raw_parts(self.view.ptr, self.view.len) }
        }
    }

    pub fn hash(&self) -> CoreResult<core::Hash> {
        hash_arg(self.as_slice(), self.what)
    }
}

/// A Float64Array argument named `what`, copied out at once.
pub(crate) fn numbers_arg(
    env: &Env,
    value: Unknown<'_>,
    what: &'static str,
) -> CoreResult<Vec<f64>> {
    // SAFETY: both from the running call.
    let view = unsafe {
        typed_array(
            env.raw(),
            value.raw(),
            sys::TypedarrayType::float64_array,
            what,
        )
    }?;
    let mut values = vec![0f64; view.len];
    if view.len > 0 {
        // SAFETY: as in Bytes::as_slice; copied as bytes, so the source needs no alignment.
        unsafe {
            ptr::copy_nonoverlapping(view.ptr, values.as_mut_ptr().cast::<u8>(), view.len * 8)
        };
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_integers_are_whole_non_negative_and_at_most_2_53_minus_1() {
        for bad in [1.5, f64::NAN, -1.0, f64::INFINITY, 9007199254740992.0] {
            assert!(
                matches!(safe_integer(bad, "x"), Err(core::Error::InvalidArgument(_))),
                "{bad}"
            );
        }
        assert_eq!(safe_integer(9007199254740991.0, "x").unwrap(), MAX_SAFE);
        assert_eq!(safe_integer(0.0, "x").unwrap(), 0);
    }

    #[test]
    fn small_ints_and_hashes_are_checked_by_name() {
        assert!(small_int(3.0, "kind", 0, 2).is_err());
        assert_eq!(small_int(2.0, "kind", 0, 2).unwrap(), 2);
        let e = hash_arg(&[0; 31], "prevHash").unwrap_err();
        assert_eq!(e.message(), "prevHash must be 32 bytes, got 31");
        assert!(check_span(MAX_SAFE - 10, 11).is_err());
        assert!(check_span(MAX_SAFE - 10, 10).is_ok());
    }
}
