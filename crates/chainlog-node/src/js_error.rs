//! The one place core errors become JS errors, and the guard that turns a panic into one.
//!
//! A core error crosses as a JS `Error` whose properties are the ChainlogError's fields:
//! `code` (the stable code), and `position` / `offset` when the core knows where the failure is.
//! ts/core/native.ts reads the properties; nothing parses the message.
//!
//! A panic is a chainlog bug (every input is checked; shared memory, whose contents could change
//! after a check, is refused): it crosses as ERR_INVALID_ARGUMENT whose message says so, so the
//! process lives and the caller sees a ChainlogError, never an abort.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use chainlog_core as core;
use napi::bindgen_prelude::*;
use napi::sys;

use crate::js_args::CoreResult;

/// `e` as a napi error carrying a JS Error with `code`, `position` and `offset`.
pub(crate) fn to_js_error(env: &Env, e: core::Error) -> Error {
    // SAFETY: `env` is the running call's (or the completing task's, on the JS thread).
    match unsafe { js_error_value(env.raw(), &e) } {
        Some(value) => Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), value) }),
        // Only when the environment is going away: a plain error still says what failed.
        None => Error::new(Status::GenericFailure, e.to_string()),
    }
}

unsafe fn js_error_value(env: sys::napi_env, e: &core::Error) -> Option<sys::napi_value> {
    let string = |s: &str| {
        let mut v = ptr::null_mut();
        let ok = unsafe {
            sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v)
        };
        (ok == sys::Status::napi_ok).then_some(v)
    };
    let code = string(e.code())?;
    let message = string(e.message())?;
    let mut error = ptr::null_mut();
    if unsafe { sys::napi_create_error(env, code, message, &mut error) } != sys::Status::napi_ok {
        return None;
    }
    let detail = e.detail();
    let numbers = [("position\0", detail.position), ("offset\0", detail.offset)];
    for (name, value) in numbers {
        if let Some(v) = value {
            let mut n = ptr::null_mut();
            if unsafe { sys::napi_create_double(env, v as f64, &mut n) } != sys::Status::napi_ok {
                return None;
            }
            unsafe { sys::napi_set_named_property(env, error, name.as_ptr().cast(), n) };
        }
    }
    Some(error)
}

/// Runs `body`, turning a panic into an error (see the module comment).
pub(crate) fn guard<T>(body: impl FnOnce() -> CoreResult<T>) -> CoreResult<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(panicked(payload)))
}

fn panicked(payload: Box<dyn Any + Send>) -> core::Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    core::Error::InvalidArgument(
        format!("the native core failed inside a call ({what}); this is a chainlog bug, please report it").into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_invalid_argument_error_naming_it() {
        let r: CoreResult<()> = guard(|| panic!("boom"));
        let e = r.unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARGUMENT");
        assert!(e.message().contains("boom"), "{}", e.message());
        let formatted: CoreResult<()> = guard(|| panic!("{} {}", "formatted", 7));
        assert!(formatted.unwrap_err().message().contains("formatted 7"));
        assert_eq!(guard(|| Ok(5)).unwrap(), 5);
    }
}
