//! The Node-API calls napi-rs does not wrap for use outside a JS call:
//! calling JS from a libuv callback the way Node's own handles do
//! (`node::MakeCallback`/`InternalMakeCallback`, Node's C++ API looked up
//! by symbol, or `napi_make_callback` where missing; in an async context,
//! inside a handle scope),
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
        let status = unsafe { sys::napi_open_handle_scope(env, &mut scope) };
        check(status, "napi_open_handle_scope")?;
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
    /// A strong reference: `value` lives until the reference is deleted.
    pub(crate) fn new(env: RawEnv, value: RawValue) -> napi::Result<Self> {
        Self::with_count(env, value, 1)
    }

    /// A weak reference (see `strengthen`, `weaken`): `value` may be
    /// collected meanwhile, after which `get` fails.
    pub(crate) fn weak(env: RawEnv, value: RawValue) -> napi::Result<Self> {
        Self::with_count(env, value, 0)
    }

    fn with_count(env: RawEnv, value: RawValue, count: u32) -> napi::Result<Self> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: `value` is a live value of `env` (an object or function:
        // the only kinds we hold weakly), on its thread.
        let status = unsafe { sys::napi_create_reference(env, value, count, &mut raw) };
        check(status, "napi_create_reference")?;
        Ok(Self {
            raw,
            _not_send: PhantomData,
        })
    }

    /// Makes a weak reference strong (counts up by one).
    pub(crate) fn strengthen(&self, env: RawEnv) -> napi::Result<()> {
        // SAFETY: the reference belongs to `env` and has not been deleted.
        let status = unsafe { sys::napi_reference_ref(env, self.raw, std::ptr::null_mut()) };
        check(status, "napi_reference_ref")
    }

    /// Undoes one `strengthen` (at zero the reference is weak again).
    pub(crate) fn weaken(&self, env: RawEnv) -> napi::Result<()> {
        // SAFETY: as in `strengthen`; Node-API refuses a count already 0.
        let status = unsafe { sys::napi_reference_unref(env, self.raw, std::ptr::null_mut()) };
        check(status, "napi_reference_unref")
    }

    /// The referenced value, valid in the current handle scope; an error
    /// once a weak reference's value was collected.
    pub(crate) fn get(&self, env: RawEnv) -> napi::Result<RawValue> {
        let mut value = std::ptr::null_mut();
        // SAFETY: the reference belongs to `env` and has not been deleted.
        let status = unsafe { sys::napi_get_reference_value(env, self.raw, &mut value) };
        check(status, "napi_get_reference_value")?;
        if value.is_null() {
            return Err(napi::Error::from_reason(
                "dgram-rs: a weakly held value was collected",
            ));
        }
        Ok(value)
    }

    pub(crate) fn delete(self, env: RawEnv) {
        // SAFETY: as in `get`; consuming `self` makes this the last use.
        unsafe { sys::napi_delete_reference(env, self.raw) };
    }
}

/// Node's own C++ API for calling into JS from native code (`node.h`):
/// `node::MakeCallback` with a `node::async_context` from
/// `node::EmitAsyncInit`, the way Node's handles call JS. Unlike
/// `napi_make_callback`, it puts no `v8::TryCatch` around the call, so an
/// exception thrown by a listener reaches Node's uncaught-exception
/// handling from where it was thrown, exactly as with node:dgram: the
/// printed source line and caret, the async context `'uncaughtException'`
/// handlers run in, non-Error throws, the async_hooks `after` event.
///
/// These are C++ functions, looked up by their Itanium-mangled names (the
/// same in Node 20, 22 and 24; Linux and macOS). Their argument types are
/// trivially copyable: `v8::Local`/`MaybeLocal` are one pointer (the same
/// as a `napi_value` in Node's implementation) and `node::async_context` is
/// two doubles, so the C calling convention applies. On Windows Node 20's
/// `node::MakeCallback` is found under its MSVC-decorated name; where they
/// are missing (Windows on Node 22+, other embedders) `napi_make_callback`
/// is used instead.
///
/// Node 22+ has async context frames (where `AsyncLocalStorage` keeps its
/// stores on Node 24+, and on 22 with `--experimental-async-context-frame`),
/// which `node::MakeCallback` would reset: there the frame is captured when the
/// context is made and passed to the exported `node::InternalMakeCallback`,
/// as Node's own `AsyncResource` does; without that symbol, Node-API again.
mod node_cxx;

/// Where a small batch's per-datagram table starts in the scratch buffer
/// (lib/receive.js reads it as a Uint32Array there).
pub(crate) const SCRATCH_META_AT: usize = 64 * 1024;

/// A JS `Buffer` that native code writes into and JS reads from right
/// after: datagrams up to 2 KiB alone, or a few small ones together, cross
/// into JS through it, copied out by JS into Buffers of their own (cheaper
/// there than a Buffer made natively; a larger one alone gets a Buffer made
/// natively, see `deliver`). JS keeps it to itself (lib/receive.js), but
/// its memory is looked up again for every write, never cached: were it
/// detached (`ArrayBuffer.prototype.transfer()`, a transfer to a worker)
/// its old memory would belong to someone else, and a detached buffer
/// reads as empty, so the write is refused and the caller makes a Buffer.
pub(crate) struct Scratch {
    /// The Buffer (held as `Ref::weak` says).
    buffer: Ref,
}

impl Scratch {
    /// Holds `buffer` weakly, as `Ref::weak` (`reference()` gives the
    /// reference to strengthen): write to it only while it is held strongly.
    pub(crate) fn new(env: RawEnv, buffer: RawValue) -> napi::Result<Self> {
        // (Refuses a value that is not a Buffer or a Uint8Array now.)
        memory(env, buffer)?;
        Ok(Self {
            buffer: Ref::weak(env, buffer)?,
        })
    }

    pub(crate) fn reference(&self) -> &Ref {
        &self.buffer
    }

    /// Lets the Buffer go (see `Ref`: a reference is freed only when
    /// deleted).
    pub(crate) fn release(self, env: RawEnv) {
        self.buffer.delete(env);
    }

    /// The buffer's memory as it is now: `None` if it is gone or detached.
    /// Needs an open handle scope.
    fn current(&self, env: RawEnv) -> Option<(*mut u8, usize)> {
        let value = self.buffer.get(env).ok()?;
        memory(env, value).ok().filter(|(data, _)| !data.is_null())
    }

    /// Copies a small batch in: the payloads back to back from the start,
    /// and `meta` (u32s) at `SCRATCH_META_AT`; false if the buffer is too
    /// short (a copy of index.js from before small batches), detached, or
    /// they do not fit. Needs an open handle scope.
    pub(crate) fn write_small(&self, env: RawEnv, chunks: &[Vec<u8>], meta: &[u32]) -> bool {
        let Some((data, len)) = self.current(env) else {
            return false;
        };
        let bytes: usize = chunks.iter().map(Vec::len).sum();
        if bytes > SCRATCH_META_AT || SCRATCH_META_AT + std::mem::size_of_val(meta) > len {
            return false;
        }
        let mut at = 0;
        for c in chunks {
            // SAFETY: as in `write`; `at + c.len()` stays within the first
            // SCRATCH_META_AT bytes, checked above.
            unsafe { std::ptr::copy_nonoverlapping(c.as_ptr(), data.add(at), c.len()) };
            at += c.len();
        }
        // SAFETY: as in `write`; the meta region fits (checked above). It
        // is written bytewise: no alignment is assumed.
        unsafe {
            std::ptr::copy_nonoverlapping(
                meta.as_ptr().cast::<u8>(),
                data.add(SCRATCH_META_AT),
                std::mem::size_of_val(meta),
            );
        }
        true
    }

    /// Copies `bytes` to the start of the buffer; false if they do not fit
    /// or it is detached. Needs an open handle scope.
    pub(crate) fn write(&self, env: RawEnv, bytes: &[u8]) -> bool {
        let Some((data, len)) = self.current(env) else {
            return false;
        };
        if bytes.len() > len {
            return false;
        }
        // SAFETY: `data` and `len` are the buffer's memory as Node-API
        // reports it just now (not detached: `current` refuses a null
        // pointer), and the buffer is alive (`self.buffer` resolved); we
        // are on its JS thread, where no JS runs before the copy ends, so
        // nothing can detach or free it meanwhile.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len()) };
        true
    }
}

/// A Buffer's (Uint8Array's) memory: where it starts and how long it is
/// (a null start and 0 once its ArrayBuffer is detached).
fn memory(env: RawEnv, buffer: RawValue) -> napi::Result<(*mut u8, usize)> {
    let mut data = std::ptr::null_mut();
    let mut len = 0;
    // SAFETY: `buffer` is a live value of `env` (the caller's handle
    // scope); a value that is not a Buffer or Uint8Array fails.
    let status = unsafe { sys::napi_get_buffer_info(env, buffer, &mut data, &mut len) };
    check(status, "napi_get_buffer_info")?;
    Ok((data.cast(), len))
}

/// The async context (async_hooks resource) that JS calls made for a
/// socket run in: `executionAsyncResource()` is the resource object, and
/// the `AsyncLocalStorage` store active when the context was made is the
/// store its callbacks see, as for Node's own handles.
pub(crate) enum AsyncContext {
    Node {
        ids: node_cxx::AsyncIds,
        /// Node 22+: the async context frame active at init.
        frame: Option<Ref>,
    },
    Napi(sys::napi_async_context, PhantomData<*mut ()>),
}

/// An async context ready for one `make_callback` (valid in the current
/// handle scope).
#[derive(Clone, Copy)]
pub(crate) enum CallContext {
    Node(node_cxx::AsyncIds, RawValue),
    Napi(sys::napi_async_context),
}

impl AsyncContext {
    /// A context of type `name` for `resource`, triggered by the current
    /// execution context.
    pub(crate) fn new(
        env: RawEnv,
        resource: RawValue,
        name: &std::ffi::CStr,
    ) -> napi::Result<Self> {
        if let Some(api) = node_cxx::api() {
            // SAFETY: called on the JS thread inside a JS call (the isolate
            // is current, a context entered); `resource` is a live object
            // and `name` NUL-terminated.
            let (ids, frame) = unsafe {
                let isolate = (api.get_current)();
                let ids = (api.emit_init)(isolate, resource, name.as_ptr(), -1.0);
                let frame = match api.call {
                    node_cxx::Call::WithFrame(_, get_frame, _) => Some(get_frame(isolate)),
                    node_cxx::Call::Plain(_) => None,
                    #[cfg(windows)]
                    node_cxx::Call::Msvc(_) => None,
                };
                (ids, frame)
            };
            let frame = match frame {
                Some(f) if !f.is_null() && !is_undefined(env, f) => Some(Ref::new(env, f)?),
                _ => None,
            };
            return Ok(Self::Node { ids, frame });
        }
        let mut js_name = std::ptr::null_mut();
        let mut raw = std::ptr::null_mut();
        let name = name.to_str().unwrap_or("UDPWRAP");
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
        Ok(Self::Napi(raw, PhantomData))
    }

    /// The async id of the context, where Node's C++ API made it.
    pub(crate) fn async_id(&self) -> Option<f64> {
        match self {
            Self::Node { ids, .. } => Some(ids.async_id),
            Self::Napi(..) => None,
        }
    }

    /// The context, for `make_callback` in the current handle scope.
    pub(crate) fn prepare(&self, env: RawEnv) -> napi::Result<CallContext> {
        Ok(match self {
            Self::Node { ids, frame } => {
                let frame = match frame {
                    Some(f) => f.get(env)?,
                    None => value::undefined(env)?,
                };
                CallContext::Node(*ids, frame)
            }
            Self::Napi(raw, _) => CallContext::Napi(*raw),
        })
    }

    /// Frees what the context holds without ending it in async_hooks: at
    /// environment teardown, where no JS runs. (A Node-API context,
    /// `napi_async_destroy`'s to free, is left: it would emit `destroy`.)
    pub(crate) fn release(self, env: RawEnv) {
        if let Self::Node { frame: Some(f), .. } = self {
            f.delete(env);
        }
    }

    /// Ends the context (async_hooks `destroy`).
    pub(crate) fn destroy(self, env: RawEnv) {
        match self {
            Self::Node { ids, frame } => {
                if let Some(api) = node_cxx::api() {
                    // SAFETY: on the JS thread; the ids came from emit_init.
                    unsafe { (api.emit_destroy)((api.get_current)(), ids) };
                }
                if let Some(f) = frame {
                    f.delete(env);
                }
            }
            // SAFETY: made by napi_async_init on this env; consumed here.
            Self::Napi(raw, _) => unsafe {
                sys::napi_async_destroy(env, raw);
            },
        }
    }
}

/// Whether `call_with_trigger` can set the trigger (Node's C++ API has
/// the scope: not on Windows, nor in other embedders).
pub(crate) fn trigger_scope_available() -> bool {
    node_cxx::api().is_some_and(|api| api.trigger_scope.is_some())
}

/// Calls `func(...args)` with `this = recv` and Node's default trigger
/// async id set to `trigger` meanwhile, where Node's C++ API allows (else
/// a plain call): what node:dgram does for the ticks it queues on behalf of
/// a socket (send callbacks, `'connect'`, `'close'`), whose
/// `triggerAsyncId()` is then the socket's. An exception thrown by `func`
/// is left pending for the caller's JS. On the JS thread, inside a JS call.
pub(crate) fn call_with_trigger(
    env: RawEnv,
    trigger: f64,
    recv: RawValue,
    func: RawValue,
    args: &[RawValue],
) -> napi::Result<()> {
    // (A negative or NaN id would fail the scope's CHECK: a plain call.)
    let scope = node_cxx::api()
        .filter(|_| trigger >= 0.0)
        .and_then(|api| Some((api, api.trigger_scope.as_ref()?, trigger)));
    let mut storage = node_cxx::ScopeStorage([0; 8]);
    let this = storage.0.as_mut_ptr().cast::<c_void>();
    let mut entered = false;
    if let Some((api, s, t)) = scope {
        // SAFETY: on the JS thread inside a JS call, so the isolate is
        // current and a context entered; the environment of that context
        // is Node's (null otherwise: skipped). `this` is 64 bytes, 16-byte
        // aligned, more than the scope object (16 bytes), and is destroyed
        // below before it goes out of scope.
        unsafe {
            let context = (s.get_context)((api.get_current)());
            let node_env = (s.get_environment)(context);
            if !node_env.is_null() {
                (s.enter)(this, node_env, t);
                entered = true;
            }
        }
    }
    let mut result = std::ptr::null_mut();
    // SAFETY: `recv`, `func` and `args` are live values of `env`, on its
    // thread.
    let status =
        unsafe { sys::napi_call_function(env, recv, func, args.len(), args.as_ptr(), &mut result) };
    if let (true, Some((_, s, _))) = (entered, scope) {
        // SAFETY: the object `enter` constructed at `this`, destroyed once.
        unsafe { (s.exit)(this) };
    }
    match status {
        sys::Status::napi_ok | sys::Status::napi_pending_exception => Ok(()),
        other => check(other, "napi_call_function"),
    }
}

fn is_undefined(env: RawEnv, v: RawValue) -> bool {
    let mut ty = 0;
    // SAFETY: `v` is a live value of `env`.
    let ok = unsafe { sys::napi_typeof(env, v, &mut ty) } == sys::Status::napi_ok;
    ok && ty == sys::ValueType::napi_undefined
}

/// Calls `func` with `this = recv` in `ctx`, as Node calls JS from libuv:
/// `process.nextTick` callbacks and microtasks run when it returns. If the
/// function throws, the exception goes to Node's uncaught-exception
/// handling (`'uncaughtException'`, or the process exits). Returns the
/// boolean the function returned, `None` when it returned none: the event
/// function always returns one, which tells a completed call from one that
/// threw (`node::MakeCallback` returns `undefined` for a throw).
///
/// Must be called from a libuv callback (no JS on the stack), inside a
/// `HandleScope`, with a context that is not destroyed during the call.
pub(crate) fn make_callback(
    env: RawEnv,
    ctx: CallContext,
    recv: RawValue,
    func: RawValue,
    args: &[RawValue],
) -> napi::Result<Option<bool>> {
    match ctx {
        CallContext::Node(ids, frame) => {
            let Some(api) = node_cxx::api() else {
                return Err(napi::Error::from_reason("node::MakeCallback vanished"));
            };
            let mut argv = args.to_vec();
            // SAFETY: on the JS thread from a libuv callback, in a handle
            // scope; every value is live in it and `argv` holds
            // `argv.len()` of them. An empty result means the call threw
            // (already reported as uncaught, as node:dgram's would be) or
            // JS cannot run any more (a terminating worker).
            let result = unsafe {
                let isolate = (api.get_current)();
                let argc = argv.len() as std::ffi::c_int;
                match api.call {
                    node_cxx::Call::Plain(f) => {
                        f(isolate, recv, func, argc, argv.as_mut_ptr(), ids)
                    }
                    node_cxx::Call::WithFrame(f, _, _) => {
                        // The frame the call runs in, for
                        // `restore_batch_frame` (the previous one back
                        // after: calls may nest).
                        let outer = BATCH_FRAME.replace(Some(frame));
                        let result = f(isolate, recv, func, argc, argv.as_mut_ptr(), ids, frame);
                        BATCH_FRAME.set(outer);
                        result
                    }
                    #[cfg(windows)]
                    node_cxx::Call::Msvc(f) => {
                        let mut out: RawValue = std::ptr::null_mut();
                        f(&mut out, isolate, recv, func, argc, argv.as_mut_ptr(), ids);
                        out
                    }
                }
            };
            Ok(if result.is_null() {
                None
            } else {
                as_bool(env, result)
            })
        }
        CallContext::Napi(raw) => {
            let mut result = std::ptr::null_mut();
            // SAFETY: all values belong to `env` and live in the caller's
            // handle scope; `args` is a valid array of `args.len()` values.
            let status = unsafe {
                sys::napi_make_callback(
                    env,
                    raw,
                    recv,
                    func,
                    args.len(),
                    args.as_ptr(),
                    &mut result,
                )
            };
            if status == sys::Status::napi_pending_exception {
                report_exception(env);
                return Ok(None);
            }
            check(status, "napi_make_callback").map(|()| as_bool(env, result))
        }
    }
}

thread_local! {
    /// The async context frame of the `make_callback` in progress on this
    /// thread (a value of its caller's handle scope, live during the call).
    static BATCH_FRAME: std::cell::Cell<Option<RawValue>> = const { std::cell::Cell::new(None) };
}

/// Sets the async context frame back to the one the current
/// `make_callback` entered, as between two datagrams Node leaves one
/// callback and enters the next in the socket's frame: a listener's
/// `AsyncLocalStorage.enterWith()` must not carry over to the next message
/// of a batch (Node 24+, where stores live in frames). Does nothing where
/// frames are not passed along (Node 20, Windows, outside a callback).
pub(crate) fn restore_batch_frame() {
    let Some(frame) = BATCH_FRAME.get() else {
        return;
    };
    if let Some(node_cxx::Api {
        get_current,
        call: node_cxx::Call::WithFrame(_, _, set_frame),
        ..
    }) = node_cxx::api()
    {
        // SAFETY: on the JS thread inside that `make_callback` (the frame
        // is live in its caller's handle scope); `set_frame` is V8's
        // setter of the value `get_frame` reads.
        unsafe { set_frame(get_current(), frame) };
    }
}

/// Whether an async context frame is set now (inside
/// `AsyncLocalStorage.run()` this tells whether stores live in frames).
pub(crate) fn frame_is_set(env: RawEnv) -> bool {
    match node_cxx::api() {
        Some(node_cxx::Api {
            get_current,
            call: node_cxx::Call::WithFrame(_, get_frame, _),
            ..
        }) => {
            // SAFETY: on the JS thread in a JS call; the result is a value
            // in the current handle scope.
            let frame = unsafe { get_frame(get_current()) };
            !frame.is_null() && !is_undefined(env, frame)
        }
        _ => false,
    }
}

fn as_bool(env: RawEnv, v: RawValue) -> Option<bool> {
    let mut b = false;
    // SAFETY: `v` is a live value of `env`; a non-boolean fails.
    let status = unsafe { sys::napi_get_value_bool(env, v, &mut b) };
    (status == sys::Status::napi_ok).then_some(b)
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
/// waits until `done` is called (after our handles finished closing), or
/// until the last holder lets go of it without (teardown cut short by a
/// panic: better to let the environment end than to hang it).
pub(crate) struct CleanupDone(Option<sys::napi_async_cleanup_hook_handle>);

impl CleanupDone {
    pub(crate) fn done(self) {
        drop(self);
    }
}

impl Drop for CleanupDone {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            // SAFETY: the handle came from the hook invocation and is
            // removed once (taken out of the option).
            unsafe { sys::napi_remove_async_cleanup_hook(handle) };
        }
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
    super::contain(move || on_teardown(CleanupDone(Some(handle))));
}

/// Builders of the JS values events carry (in the current handle scope).
pub(crate) mod value;

/// The native half of a JS class whose methods call straight into Rust.
/// The class itself is written in JS (`lib/udp-handle.js`): its
/// constructor calls `create`, which builds the Rust value (freed by a
/// finalizer on the instance, `napi_add_finalizer`) and returns its number,
/// kept in a private field; each method passes that number and the
/// instance to its native function. (Not an External: Node 20's
/// `napi_create_external` leaks a wrapper for each External still alive
/// when its environment ends, a worker's for instance.)
/// napi-rs's own classes cost about 300 ns per method call (borrow
/// tracking, registries), and `napi_wrap`/`napi_unwrap` (a private property
/// lookup, ~800 instructions a call) about half of that again: a socket's
/// hot calls (`send`, `bind`, `close`, ...) cannot afford either.
pub(crate) mod class;

/// A raw JS value returned from a `#[napi]` function as is.
pub(crate) struct Js(pub(crate) RawValue);

impl napi::bindgen_prelude::ToNapiValue for Js {
    unsafe fn to_napi_value(_env: RawEnv, val: Self) -> napi::Result<RawValue> {
        Ok(val.0)
    }
}
