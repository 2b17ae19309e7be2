//! The little of Node-API that the hot calls (record_decoder.rs, record_encoder.rs) use directly,
//! registered as plain callbacks instead of `#[napi]` functions: arguments by position (whose
//! conversion runs no JS), each named in its error, the body run under the panic guard, and
//! outputs written into typed arrays the caller made, checked to share no memory with the inputs
//! or each other before any slice of them exists.

use std::ptr;

use chainlog_core as core;
use napi::bindgen_prelude::*;
use napi::sys;

use crate::js_args::{invalid, typed_array, CoreResult, View};
use crate::js_error::{guard, to_js_error};

/// Throws `err` into JS and returns the null value a callback returns after a throw.
pub(crate) unsafe fn throw(env: sys::napi_env, err: Error) -> sys::napi_value {
    unsafe { JsError::from(err).throw_into(env) };
    ptr::null_mut()
}

fn status(s: sys::napi_status, what: &str) -> CoreResult<()> {
    if s == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(invalid(format!("{what} failed")))
    }
}

/// Runs a callback's body under the panic guard: its value, or its error thrown.
pub(crate) unsafe fn call(
    env: sys::napi_env,
    body: impl FnOnce() -> CoreResult<sys::napi_value>,
) -> sys::napi_value {
    match guard(body) {
        Ok(v) => v,
        Err(e) => unsafe { throw(env, to_js_error(&Env::from_raw(env), e)) },
    }
}

/// A callback whose result is a number.
pub(crate) unsafe fn number_call(
    env: sys::napi_env,
    body: impl FnOnce() -> CoreResult<f64>,
) -> sys::napi_value {
    unsafe {
        call(env, || {
            let n = body()?;
            let mut value = ptr::null_mut();
            status(sys::napi_create_double(env, n, &mut value), "returning")?;
            Ok(value)
        })
    }
}

/// The callback's arguments (missing ones are `undefined`).
pub(crate) unsafe fn args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> CoreResult<[sys::napi_value; N]> {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    let s = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    status(s, "reading the arguments")?;
    Ok(argv)
}

pub(crate) unsafe fn string_arg(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
) -> CoreResult<String> {
    unsafe { String::from_napi_value(env, value) }
        .map_err(|_| invalid(format!("{what} must be a string")))
}

pub(crate) unsafe fn number_arg(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
) -> CoreResult<f64> {
    unsafe { f64::from_napi_value(env, value) }
        .map_err(|_| invalid(format!("{what} must be a number")))
}

/// Whether `value` is undefined or null (an optional argument left out).
pub(crate) unsafe fn is_nullish(env: sys::napi_env, value: sys::napi_value) -> CoreResult<bool> {
    let mut t = 0;
    status(
        unsafe { sys::napi_typeof(env, value, &mut t) },
        "reading an argument's type",
    )?;
    Ok(t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null)
}

/// An input typed array of `kind` as a slice of `T` (u8, u32 or f64 to match the kind).
///
/// # Safety
/// `T` matches `kind`; the slice lives no longer than the call, and nothing writes its memory
/// meanwhile (no JS runs, no shared memory; outputs are checked with `RawOut::overlaps`).
pub(crate) unsafe fn slice_arg<'a, T>(
    env: sys::napi_env,
    value: sys::napi_value,
    kind: sys::napi_typedarray_type,
    what: &str,
) -> CoreResult<&'a [T]> {
    let View { ptr, len } = unsafe { typed_array(env, value, kind, what) }?;
    if len == 0 {
        return Ok(&[]);
    }
    // A typed array's byteOffset is a multiple of its element size, so `ptr` is aligned for T.
    debug_assert!((ptr as usize).is_multiple_of(std::mem::align_of::<T>()));
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<T>(), len) })
}

/// Bytes input (Uint8Array); see `slice_arg`.
pub(crate) unsafe fn bytes_arg<'a>(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
) -> CoreResult<&'a [u8]> {
    unsafe { slice_arg(env, value, sys::TypedarrayType::uint8_array, what) }
}

/// An output typed array's memory, with no slice made of it yet.
pub(crate) struct RawOut {
    ptr: *mut u8,
    /// Elements (bytes for a Uint8Array).
    pub len: usize,
    bytes: usize,
}

impl RawOut {
    /// Whether these bytes and `other`'s share memory.
    pub fn overlaps(&self, other: &[u8]) -> bool {
        ranges_overlap(
            self.ptr as usize,
            self.bytes,
            other.as_ptr() as usize,
            other.len(),
        )
    }

    pub fn overlaps_out(&self, other: &RawOut) -> bool {
        // Addresses only: no slice is made (a zero-length or detached array's pointer may be null).
        ranges_overlap(
            self.ptr as usize,
            self.bytes,
            other.ptr as usize,
            other.bytes,
        )
    }

    /// The bytes as a slice (taking `self`, so at most one slice is made of them).
    ///
    /// # Safety
    /// The typed array must stay alive for the slice's life (an argument of the running call
    /// does), and no other slice made in the call may share its memory (check with `overlaps`).
    pub unsafe fn bytes<'a>(self) -> &'a mut [u8] {
        if self.bytes == 0 {
            &mut []
        } else {
            unsafe { std::slice::from_raw_parts_mut(self.ptr, self.bytes) }
        }
    }
}

fn ranges_overlap(a: usize, a_len: usize, b: usize, b_len: usize) -> bool {
    a_len > 0 && b_len > 0 && a < b + b_len && b < a + a_len
}

/// The memory of `value`, which must be a typed array of `kind`, Uint8Array or Float64Array,
/// over an ordinary ArrayBuffer (`what` names it in errors).
pub(crate) unsafe fn typed_array_out(
    env: sys::napi_env,
    value: sys::napi_value,
    kind: sys::napi_typedarray_type,
    what: &str,
) -> CoreResult<RawOut> {
    let View { ptr, len } = unsafe { typed_array(env, value, kind, what) }?;
    let width = if kind == sys::TypedarrayType::float64_array {
        8
    } else {
        1
    };
    Ok(RawOut {
        ptr,
        len,
        bytes: len * width,
    })
}

/// The core's error for a broken contract, for the callbacks' own checks.
pub(crate) fn refuse(msg: &str) -> core::Error {
    invalid(msg.to_owned())
}
