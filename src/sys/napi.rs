//! The Node-API calls napi-rs does not wrap for use outside a JS call:
//! calling JS from a libuv callback the way Node's own handles do
//! (`napi_make_callback` in an async context, inside a handle scope),
//! references that keep JS values alive between such calls, and the
//! environment's async cleanup hook.
//!
//! Everything here runs on the JS thread of the environment `env` belongs
//! to; the types are `!Send` to keep it so.

use std::ffi::c_void;
use std::marker::PhantomData;

use napi::sys;

pub(crate) type RawEnv = sys::napi_env;
pub(crate) type RawValue = sys::napi_value;
pub(crate) type RawAsyncContext = sys::napi_async_context;

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(napi::Status::from(status), what))
    }
}

/// A handle scope: JS values created while it is open are released when it
/// closes. Needed around any JS work done from a libuv callback.
pub(crate) struct HandleScope {
    env: RawEnv,
    scope: sys::napi_handle_scope,
    _not_send: PhantomData<*mut ()>,
}

impl HandleScope {
    pub(crate) fn open(env: RawEnv) -> napi::Result<Self> {
        let mut scope = std::ptr::null_mut();
        // SAFETY: `env` is the live environment of this (JS) thread.
        check(
            unsafe { sys::napi_open_handle_scope(env, &mut scope) },
            "napi_open_handle_scope",
        )?;
        Ok(Self {
            env,
            scope,
            _not_send: PhantomData,
        })
    }
}

impl Drop for HandleScope {
    fn drop(&mut self) {
        // SAFETY: the scope was opened on this thread and is closed once,
        // innermost first (scopes are only ever used as stack values).
        unsafe { sys::napi_close_handle_scope(self.env, self.scope) };
    }
}

/// A strong reference to a JS value. Released by `delete`; a reference
/// that is only dropped leaks its value (never a dangling use).
pub(crate) struct Ref {
    raw: sys::napi_ref,
    _not_send: PhantomData<*mut ()>,
}

impl Ref {
    pub(crate) fn new(env: RawEnv, value: RawValue) -> napi::Result<Self> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: `value` is a live value of `env`, on its thread.
        check(
            unsafe { sys::napi_create_reference(env, value, 1, &mut raw) },
            "napi_create_reference",
        )?;
        Ok(Self {
            raw,
            _not_send: PhantomData,
        })
    }

    /// The referenced value, valid in the current handle scope.
    pub(crate) fn get(&self, env: RawEnv) -> napi::Result<RawValue> {
        let mut value = std::ptr::null_mut();
        // SAFETY: the reference belongs to `env` and has not been deleted.
        check(
            unsafe { sys::napi_get_reference_value(env, self.raw, &mut value) },
            "napi_get_reference_value",
        )?;
        Ok(value)
    }

    pub(crate) fn delete(self, env: RawEnv) {
        // SAFETY: as in `get`; consuming `self` makes this the last use.
        unsafe { sys::napi_delete_reference(env, self.raw) };
    }
}

/// The async context (async_hooks resource) that JS calls made for a
/// socket run in: `executionAsyncResource()` is the resource object, and
/// the `AsyncLocalStorage` store active when the context was made is the
/// store its callbacks see, as for Node's own handles.
pub(crate) struct AsyncContext {
    raw: sys::napi_async_context,
    _not_send: PhantomData<*mut ()>,
}

impl AsyncContext {
    /// A context of type `name` for `resource`, triggered by the current
    /// execution context.
    pub(crate) fn new(env: RawEnv, resource: RawValue, name: &str) -> napi::Result<Self> {
        let mut js_name = std::ptr::null_mut();
        let mut raw = std::ptr::null_mut();
        // SAFETY: `name` is valid UTF-8 of the given length; `resource` is a
        // live object of `env`.
        unsafe {
            check(
                sys::napi_create_string_utf8(
                    env,
                    name.as_ptr().cast(),
                    name.len() as isize,
                    &mut js_name,
                ),
                "napi_create_string_utf8",
            )?;
            check(
                sys::napi_async_init(env, resource, js_name, &mut raw),
                "napi_async_init",
            )?;
        }
        Ok(Self {
            raw,
            _not_send: PhantomData,
        })
    }

    /// The context, for `make_callback`.
    pub(crate) fn raw(&self) -> RawAsyncContext {
        self.raw
    }

    /// Ends the context (async_hooks `destroy`).
    pub(crate) fn destroy(self, env: RawEnv) {
        // SAFETY: made by napi_async_init on this env; consumed here.
        unsafe { sys::napi_async_destroy(env, self.raw) };
    }
}

/// Calls `func` with `this = recv` in `ctx`, as Node calls JS from libuv:
/// `process.nextTick` callbacks and microtasks run when it returns. If the
/// function throws, the exception is handed to Node's uncaught-exception
/// handling (`'uncaughtException'`, or the process exits) and `false` is
/// returned.
///
/// Must be called from a libuv callback (no JS on the stack), inside a
/// `HandleScope`, with a context that is not destroyed during the call.
pub(crate) fn make_callback(
    env: RawEnv,
    ctx: RawAsyncContext,
    recv: RawValue,
    func: RawValue,
    args: &[RawValue],
) -> napi::Result<bool> {
    let mut result = std::ptr::null_mut();
    // SAFETY: all values belong to `env` and live in the caller's handle
    // scope; `args` is a valid array of `args.len()` values.
    let status = unsafe {
        sys::napi_make_callback(env, ctx, recv, func, args.len(), args.as_ptr(), &mut result)
    };
    if status == sys::Status::napi_pending_exception {
        report_exception(env);
        return Ok(false);
    }
    check(status, "napi_make_callback").map(|()| true)
}

/// Hands the pending exception to Node's uncaught-exception handling.
fn report_exception(env: RawEnv) {
    let mut err = std::ptr::null_mut();
    // SAFETY: an exception is pending on `env` (napi_make_callback said
    // so); taking it clears it, and napi_fatal_exception takes any value.
    unsafe {
        if sys::napi_get_and_clear_last_exception(env, &mut err) == sys::Status::napi_ok {
            sys::napi_fatal_exception(env, err);
        }
    }
}

/// Completion token of an async cleanup hook: the environment's teardown
/// waits until `done` is called (after our handles finished closing).
pub(crate) struct CleanupDone(sys::napi_async_cleanup_hook_handle);

impl CleanupDone {
    pub(crate) fn done(self) {
        // SAFETY: the handle came from the hook invocation and is removed
        // once (consuming self).
        unsafe { sys::napi_remove_async_cleanup_hook(self.0) };
    }
}

type Teardown = Box<dyn FnOnce(CleanupDone)>;

/// Registers `on_teardown`, run once when the environment is torn down
/// (a worker terminated, the process exiting) while it still exists; it
/// must eventually call `CleanupDone::done`.
pub(crate) fn add_async_cleanup_hook(
    env: RawEnv,
    on_teardown: impl FnOnce(CleanupDone) + 'static,
) -> napi::Result<()> {
    let data: *mut Teardown = Box::into_raw(Box::new(Box::new(on_teardown)));
    let mut handle = std::ptr::null_mut();
    // SAFETY: `cleanup_hook` takes back `data` exactly once, when the hook
    // runs; on failure to register it is taken back here.
    let status = unsafe {
        sys::napi_add_async_cleanup_hook(env, Some(cleanup_hook), data.cast(), &mut handle)
    };
    if status != sys::Status::napi_ok {
        // SAFETY: not registered: we still own `data`.
        drop(unsafe { Box::from_raw(data) });
    }
    check(status, "napi_add_async_cleanup_hook")
}

unsafe extern "C" fn cleanup_hook(handle: sys::napi_async_cleanup_hook_handle, data: *mut c_void) {
    // SAFETY: `data` is the box leaked by `add_async_cleanup_hook`, handed
    // to us once.
    let on_teardown = unsafe { Box::from_raw(data.cast::<Teardown>()) };
    on_teardown(CleanupDone(handle));
}

/// Builders of the JS values events carry (in the current handle scope).
pub(crate) mod value {
    use super::{check, RawEnv, RawValue};
    use napi::sys;

    /// A `Buffer` holding a copy of `data`.
    pub(crate) fn buffer_copy(env: RawEnv, data: &[u8]) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        let mut ignored = std::ptr::null_mut();
        // SAFETY: `data` is valid for `data.len()` bytes; Node copies them.
        check(
            unsafe {
                sys::napi_create_buffer_copy(
                    env,
                    data.len(),
                    data.as_ptr().cast(),
                    &mut ignored,
                    &mut out,
                )
            },
            "napi_create_buffer_copy",
        )?;
        Ok(out)
    }

    /// A `Uint32Array` holding a copy of `data`.
    pub(crate) fn uint32_array(env: RawEnv, data: &[u32]) -> napi::Result<RawValue> {
        let bytes = std::mem::size_of_val(data);
        let mut store: *mut std::ffi::c_void = std::ptr::null_mut();
        let mut buffer = std::ptr::null_mut();
        let mut out = std::ptr::null_mut();
        // SAFETY: Node allocates `bytes` bytes at `store` (suitably aligned
        // for any element type), which we fill from `data` before use.
        unsafe {
            check(
                sys::napi_create_arraybuffer(env, bytes, &mut store, &mut buffer),
                "napi_create_arraybuffer",
            )?;
            if bytes > 0 {
                std::ptr::copy_nonoverlapping(data.as_ptr(), store.cast::<u32>(), data.len());
            }
            check(
                sys::napi_create_typedarray(
                    env,
                    sys::TypedarrayType::uint32_array,
                    data.len(),
                    buffer,
                    0,
                    &mut out,
                ),
                "napi_create_typedarray",
            )?;
        }
        Ok(out)
    }

    pub(crate) fn string(env: RawEnv, s: &str) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: `s` is valid UTF-8 of the given length.
        check(
            unsafe {
                sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out)
            },
            "napi_create_string_utf8",
        )?;
        Ok(out)
    }

    pub(crate) fn uint32(env: RawEnv, n: u32) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: plain value creation on the env's thread.
        check(
            unsafe { sys::napi_create_uint32(env, n, &mut out) },
            "napi_create_uint32",
        )?;
        Ok(out)
    }

    pub(crate) fn undefined(env: RawEnv) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: as above.
        check(
            unsafe { sys::napi_get_undefined(env, &mut out) },
            "napi_get_undefined",
        )?;
        Ok(out)
    }

    /// An array of `items`.
    pub(crate) fn array(env: RawEnv, items: &[RawValue]) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: the items are live values of `env` in the current scope.
        unsafe {
            check(
                sys::napi_create_array_with_length(env, items.len(), &mut out),
                "napi_create_array_with_length",
            )?;
            for (i, item) in items.iter().enumerate() {
                check(
                    sys::napi_set_element(env, out, i as u32, *item),
                    "napi_set_element",
                )?;
            }
        }
        Ok(out)
    }
}
