//! The little of Node-API that the hot calls (record_decoder.rs, record_encoder.rs) use directly,
//! registered as plain callbacks instead of `#[napi]` functions: arguments by position, errors
//! thrown as napi-rs errors, and outputs written into typed arrays the caller made, checked to
//! share no memory with the inputs or each other before any slice of them exists.

use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

/// Throws `err` into JS and returns the null value a callback returns after a throw.
pub(crate) unsafe fn throw(env: sys::napi_env, err: Error) -> sys::napi_value {
    unsafe { JsError::from(err).throw_into(env) };
    ptr::null_mut()
}

pub(crate) fn status(s: sys::napi_status, what: &str) -> Result<()> {
    if s == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(Status::InvalidArg, format!("{what} failed")))
    }
}

/// The callback's arguments (missing ones are `undefined`).
pub(crate) unsafe fn args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Result<[sys::napi_value; N]> {
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

/// A callback's number result, or its error thrown.
pub(crate) unsafe fn return_number(env: sys::napi_env, result: Result<f64>) -> sys::napi_value {
    let mut value = ptr::null_mut();
    match result.and_then(|n| {
        status(
            unsafe { sys::napi_create_double(env, n, &mut value) },
            "returning",
        )
    }) {
        Ok(()) => value,
        Err(e) => unsafe { throw(env, e) },
    }
}

/// Whether `value` is undefined or null (an optional argument left out).
pub(crate) unsafe fn is_nullish(env: sys::napi_env, value: sys::napi_value) -> Result<bool> {
    let mut t = 0;
    status(
        unsafe { sys::napi_typeof(env, value, &mut t) },
        "reading an argument's type",
    )?;
    Ok(t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null)
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

/// The memory of `value`, which must be a typed array of `kind`, Uint8Array or Float64Array
/// (`what` names it in errors).
pub(crate) unsafe fn typed_array_out(
    env: sys::napi_env,
    value: sys::napi_value,
    kind: sys::napi_typedarray_type,
    what: &str,
) -> Result<RawOut> {
    let mut found = 0;
    let mut len = 0;
    let mut data = ptr::null_mut();
    let s = unsafe {
        sys::napi_get_typedarray_info(
            env,
            value,
            &mut found,
            &mut len,
            &mut data,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    status(s, &format!("reading {what}"))?;
    let (width, name) = if kind == sys::TypedarrayType::float64_array {
        (8, "a Float64Array")
    } else {
        (1, "a Uint8Array")
    };
    if found != kind {
        return Err(Error::new(
            Status::InvalidArg,
            format!("{what} must be {name}"),
        ));
    }
    Ok(RawOut {
        ptr: data.cast(),
        len,
        bytes: len * width,
    })
}
