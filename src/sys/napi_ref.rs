//! `napi_ref_threadsafe_function` / `napi_unref_threadsafe_function`, which
//! napi-rs 3 only exposes through deprecated `&mut self` methods. They decide
//! whether a socket keeps the Node event loop alive (`socket.ref()`).

use napi::{sys, Env, Status};

/// Makes the threadsafe function `raw` keep the event loop alive (`on`) or not.
///
/// Must be called on the JS thread that owns `env`, with a threadsafe function
/// that has not been released yet.
pub(crate) fn set_threadsafe_function_ref(
    env: &Env,
    raw: sys::napi_threadsafe_function,
    on: bool,
) -> napi::Result<()> {
    // SAFETY: `env` is the live environment of the current (JS) thread, as
    // every caller runs inside a Node-API callback, and `raw` belongs to a
    // threadsafe function whose `Arc` the caller holds, so it is not released.
    // Both calls are idempotent per the Node-API documentation.
    let status = unsafe {
        if on {
            sys::napi_ref_threadsafe_function(env.raw(), raw)
        } else {
            sys::napi_unref_threadsafe_function(env.raw(), raw)
        }
    };
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            Status::from(status),
            "threadsafe function ref",
        ))
    }
}
