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
/// Node 22+ keeps `AsyncLocalStorage` in an async context frame that
/// `node::MakeCallback` would reset: there the frame is captured when the
/// context is made and passed to the exported `node::InternalMakeCallback`,
/// as Node's own `AsyncResource` does; without that symbol, Node-API again.
mod node_cxx {
    use std::ffi::{c_char, c_int, c_void};
    use std::sync::OnceLock;

    use super::RawValue;

    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct AsyncIds {
        pub(crate) async_id: f64,
        pub(crate) trigger_async_id: f64,
    }

    pub(crate) type Isolate = c_void;
    type GetCurrent = unsafe extern "C" fn() -> *mut Isolate;
    type EmitInit = unsafe extern "C" fn(*mut Isolate, RawValue, *const c_char, f64) -> AsyncIds;
    type EmitDestroy = unsafe extern "C" fn(*mut Isolate, AsyncIds);
    type MakeCallback = unsafe extern "C" fn(
        *mut Isolate,
        RawValue,
        RawValue,
        c_int,
        *mut RawValue,
        AsyncIds,
    ) -> RawValue;
    type InternalMakeCallback = unsafe extern "C" fn(
        *mut Isolate,
        RawValue,
        RawValue,
        c_int,
        *mut RawValue,
        AsyncIds,
        RawValue,
    ) -> RawValue;
    type GetFrame = unsafe extern "C" fn(*mut Isolate) -> RawValue;
    type SetFrame = unsafe extern "C" fn(*mut Isolate, RawValue);
    /// `v8::Isolate::GetCurrentContext` (a `Local<Context>`: one pointer).
    type GetContext = unsafe extern "C" fn(*mut Isolate) -> RawValue;
    /// `node::GetCurrentEnvironment(Local<Context>)`.
    type GetEnvironment = unsafe extern "C" fn(RawValue) -> *mut c_void;
    /// The constructor and destructor of
    /// `node::AsyncHooks::DefaultTriggerAsyncIdScope` (`this` first).
    type ScopeEnter = unsafe extern "C" fn(*mut c_void, *mut c_void, f64);
    type ScopeExit = unsafe extern "C" fn(*mut c_void);

    /// What sets Node's default trigger async id for a stretch of code, as
    /// Node's own `defaultTriggerAsyncIdScope` does for the ticks
    /// node:dgram queues on behalf of a socket.
    pub(crate) struct TriggerScope {
        pub(crate) get_context: GetContext,
        pub(crate) get_environment: GetEnvironment,
        pub(crate) enter: ScopeEnter,
        pub(crate) exit: ScopeExit,
    }

    /// Room for a `DefaultTriggerAsyncIdScope` (Node 20–26: a pointer and
    /// a double, 16 bytes); four times that, for a Node that grows it.
    #[repr(C, align(16))]
    pub(crate) struct ScopeStorage(pub(crate) [u64; 8]);
    /// `node::MakeCallback` as MSVC compiles it (Windows x64): its
    /// `v8::MaybeLocal<Value>` result is not a POD for the MSVC ABI (it has
    /// constructors and a private member), so it is written through a
    /// hidden pointer passed first (and that pointer returned). The
    /// 16-byte `async_context` is passed by value, which the Win64 C ABI
    /// (Rust's `extern "C"` there too) turns into a pointer to a copy,
    /// as MSVC does.
    #[cfg(windows)]
    type MsvcMakeCallback = unsafe extern "C" fn(
        *mut RawValue,
        *mut Isolate,
        RawValue,
        RawValue,
        c_int,
        *mut RawValue,
        AsyncIds,
    ) -> *mut RawValue;

    pub(crate) enum Call {
        /// Node 20: no async context frames.
        #[cfg_attr(windows, allow(dead_code))] // Windows: `Msvc`
        Plain(MakeCallback),
        /// Node 20 on Windows (MSVC ABI, see `MsvcMakeCallback`).
        #[cfg(windows)]
        Msvc(MsvcMakeCallback),
        /// Node 22+: the frame captured at init is passed along (not on
        /// Windows, where Node 22+ goes through Node-API), and set again
        /// between the messages of a batch (`restore_batch_frame`).
        #[cfg_attr(windows, allow(dead_code))]
        WithFrame(InternalMakeCallback, GetFrame, SetFrame),
    }

    pub(crate) struct Api {
        pub(crate) get_current: GetCurrent,
        pub(crate) emit_init: EmitInit,
        pub(crate) emit_destroy: EmitDestroy,
        pub(crate) call: Call,
        /// Missing on Windows (not looked up) and in other embedders.
        pub(crate) trigger_scope: Option<TriggerScope>,
    }

    static API: OnceLock<Option<Api>> = OnceLock::new();

    pub(crate) fn api() -> Option<&'static Api> {
        API.get_or_init(resolve).as_ref()
    }

    /// The same functions under their MSVC-decorated names (node.exe
    /// exports them for addons linked against node.lib). Node 22+'s
    /// `InternalMakeCallback` is not looked up here: without it Node-API
    /// is used, as before.
    #[cfg(windows)]
    fn resolve() -> Option<Api> {
        use crate::sys::uv::host_fn;
        // SAFETY: as in the Itanium `resolve`; `GetCurrent` returns a
        // pointer, `EmitAsyncInit` an `async_context` (a 16-byte C struct:
        // hidden return pointer in both ABIs), `EmitAsyncDestroy` takes one
        // by value (by reference to a copy in both).
        unsafe {
            if host_fn::<GetFrame>(c"?GetContinuationPreservedEmbedderData@Isolate@v8@@QEAA?AV?$Local@VValue@v8@@@2@XZ").is_some() {
                return None;
            }
            Some(Api {
                get_current: host_fn(c"?GetCurrent@Isolate@v8@@SAPEAV12@XZ")?,
                emit_init: host_fn(c"?EmitAsyncInit@node@@YA?AUasync_context@1@PEAVIsolate@v8@@V?$Local@VObject@v8@@@4@PEBDN@Z")?,
                emit_destroy: host_fn(c"?EmitAsyncDestroy@node@@YAXPEAVIsolate@v8@@Uasync_context@1@@Z")?,
                call: Call::Msvc(host_fn(c"?MakeCallback@node@@YA?AV?$MaybeLocal@VValue@v8@@@v8@@PEAVIsolate@3@V?$Local@VObject@v8@@@3@V?$Local@VFunction@v8@@@3@HPEAV?$Local@VValue@v8@@@3@Uasync_context@1@@Z")?),
                trigger_scope: None,
            })
        }
    }

    #[cfg(not(windows))]
    fn resolve() -> Option<Api> {
        use crate::sys::uv::host_fn;
        // SAFETY: each symbol, when the host exports it, is the function of
        // node.h / v8.h with the signature given by the type it is read as
        // (see the module comment for why the C ABI matches).
        unsafe {
            let get_current: GetCurrent = host_fn(c"_ZN2v87Isolate10GetCurrentEv")?;
            let emit_init: EmitInit =
                host_fn(c"_ZN4node13EmitAsyncInitEPN2v87IsolateENS0_5LocalINS0_6ObjectEEEPKcd")?;
            let emit_destroy: EmitDestroy =
                host_fn(c"_ZN4node16EmitAsyncDestroyEPN2v87IsolateENS_13async_contextE")?;
            let get_frame: Option<GetFrame> =
                host_fn(c"_ZN2v87Isolate36GetContinuationPreservedEmbedderDataEv");
            let call = match get_frame {
                Some(frame) => Call::WithFrame(
                    host_fn(c"_ZN4node20InternalMakeCallbackEPN2v87IsolateENS0_5LocalINS0_6ObjectEEENS3_INS0_8FunctionEEEiPNS3_INS0_5ValueEEENS_13async_contextES9_")?,
                    frame,
                    host_fn(c"_ZN2v87Isolate36SetContinuationPreservedEmbedderDataENS_5LocalINS_5ValueEEE")?,
                ),
                None => Call::Plain(host_fn(
                    c"_ZN4node12MakeCallbackEPN2v87IsolateENS0_5LocalINS0_6ObjectEEENS3_INS0_8FunctionEEEiPNS3_INS0_5ValueEEENS_13async_contextE",
                )?),
            };
            let trigger_scope = (|| {
                Some(TriggerScope {
                    get_context: host_fn(c"_ZN2v87Isolate17GetCurrentContextEv")?,
                    get_environment: host_fn(
                        c"_ZN4node21GetCurrentEnvironmentEN2v85LocalINS0_7ContextEEE",
                    )?,
                    enter: host_fn(
                        c"_ZN4node10AsyncHooks26DefaultTriggerAsyncIdScopeC1EPNS_11EnvironmentEd",
                    )?,
                    exit: host_fn(c"_ZN4node10AsyncHooks26DefaultTriggerAsyncIdScopeD1Ev")?,
                })
            })();
            Some(Api {
                get_current,
                emit_init,
                emit_destroy,
                call,
                trigger_scope,
            })
        }
    }
}

/// Where a small batch's per-datagram table starts in the scratch buffer
/// (lib/receive.js reads it as a Uint32Array there).
pub(crate) const SCRATCH_META_AT: usize = 64 * 1024;

/// A JS `Buffer` that native code writes into and JS reads from right
/// after: datagrams up to 2 KiB alone, or a few small ones together, cross
/// into JS through it, copied out by JS into Buffers of their own (cheaper
/// there than a Buffer made natively; a larger one alone gets a Buffer made
/// natively, see `deliver`). Held by a reference, so its memory stays put;
/// JS never hands it out.
pub(crate) struct Scratch {
    /// Keeps the Buffer (and so `data`) alive.
    buffer: Ref,
    data: *mut u8,
    len: usize,
}

impl Scratch {
    /// Holds `buffer` weakly, as `Ref::weak` (`reference()` gives the
    /// reference to strengthen): write to it only while it is held strongly.
    pub(crate) fn new(env: RawEnv, buffer: RawValue) -> napi::Result<Self> {
        let mut data = std::ptr::null_mut();
        let mut len = 0;
        // SAFETY: `buffer` is a live value of `env`; a non-Buffer fails.
        let status = unsafe { sys::napi_get_buffer_info(env, buffer, &mut data, &mut len) };
        check(status, "napi_get_buffer_info")?;
        Ok(Self {
            buffer: Ref::weak(env, buffer)?,
            data: data.cast(),
            len,
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

    /// Copies a small batch in: the payloads back to back from the start,
    /// and `meta` (u32s) at `SCRATCH_META_AT`; false if the buffer is too short (a
    /// copy of index.js from before small batches) or they do not fit.
    pub(crate) fn write_small(&self, chunks: &[Vec<u8>], meta: &[u32]) -> bool {
        let bytes: usize = chunks.iter().map(Vec::len).sum();
        if bytes > SCRATCH_META_AT || SCRATCH_META_AT + std::mem::size_of_val(meta) > self.len {
            return false;
        }
        let mut at = 0;
        for c in chunks {
            // SAFETY: as in `write`; `at + c.len()` stays within the first
            // SCRATCH_META_AT bytes, checked above.
            unsafe { std::ptr::copy_nonoverlapping(c.as_ptr(), self.data.add(at), c.len()) };
            at += c.len();
        }
        // SAFETY: as in `write`; the meta region fits (checked above). It
        // is written bytewise: no alignment is assumed.
        unsafe {
            std::ptr::copy_nonoverlapping(
                meta.as_ptr().cast::<u8>(),
                self.data.add(SCRATCH_META_AT),
                std::mem::size_of_val(meta),
            );
        }
        true
    }

    /// Copies `bytes` to the start of the buffer; false if they do not fit.
    pub(crate) fn write(&self, bytes: &[u8]) -> bool {
        if bytes.len() > self.len {
            return false;
        }
        // SAFETY: the buffer holds `self.len` bytes at `self.data`, kept
        // alive (and its backing store in place: a Buffer's does not move,
        // and this one is never transferred or detached) by `self.buffer`,
        // which the caller holds strongly (see `new`); we are on its JS
        // thread, where no JS runs during the copy.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data, bytes.len()) };
        true
    }
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
/// waits until `done` is called (after our handles finished closing).
/// Ends the environment's wait for our teardown: when `done` is called, or
/// when the last holder lets go of it without (teardown cut short by a
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
pub(crate) mod value {
    use super::{check, RawEnv, RawValue};
    use napi::sys;

    /// A `Buffer` holding a copy of `data`.
    pub(crate) fn buffer_copy(env: RawEnv, data: &[u8]) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        let mut ignored = std::ptr::null_mut();
        // SAFETY: `data` is valid for `data.len()` bytes; Node copies them.
        let status = unsafe {
            sys::napi_create_buffer_copy(
                env,
                data.len(),
                data.as_ptr().cast(),
                &mut ignored,
                &mut out,
            )
        };
        check(status, "napi_create_buffer_copy")?;
        Ok(out)
    }

    /// A `Buffer` over `data` itself, which it owns and frees when
    /// collected: no copy, but a finalizer (worth it for large batches).
    /// Where external buffers are not allowed, a copy.
    pub(crate) fn buffer_from_vec(env: RawEnv, data: Vec<u8>) -> napi::Result<RawValue> {
        let mut data = std::mem::ManuallyDrop::new(data);
        let (ptr, len, cap) = (data.as_mut_ptr(), data.len(), data.capacity());
        let mut out = std::ptr::null_mut();
        // SAFETY: the Vec's allocation stays alive until the finalizer,
        // which rebuilds and drops the Vec from the hint (its capacity).
        let status = unsafe {
            sys::napi_create_external_buffer(
                env,
                len,
                ptr.cast(),
                Some(free_vec),
                cap as *mut std::ffi::c_void,
                &mut out,
            )
        };
        match status {
            sys::Status::napi_ok => Ok(out),
            // Refused before Node took the data (external buffers not
            // allowed, as in Electron; an exception pending): ours again,
            // copied instead.
            sys::Status::napi_no_external_buffers_allowed | sys::Status::napi_pending_exception => {
                // SAFETY: the parts of the Vec leaked above; Node returns
                // these statuses before it takes the data, so not freed.
                let data = unsafe { Vec::from_raw_parts(ptr, len, cap) };
                buffer_copy(env, &data)
            }
            // Failed after Node took it: Node frees what it cannot wrap
            // (through `free_vec`), so the data is no longer ours to read
            // or free.
            status => Err(napi::Error::new(
                napi::Status::from(status),
                "napi_create_external_buffer",
            )),
        }
    }

    unsafe extern "C" fn free_vec(
        _env: RawEnv,
        data: *mut std::ffi::c_void,
        hint: *mut std::ffi::c_void,
    ) {
        // SAFETY: `data` and the capacity in `hint` are those of a Vec<u8>
        // leaked by `buffer_from_vec`; the length is irrelevant to freeing.
        drop(unsafe { Vec::from_raw_parts(data.cast::<u8>(), 0, hint as usize) });
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
        let status = unsafe {
            sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out)
        };
        check(status, "napi_create_string_utf8")?;
        Ok(out)
    }

    pub(crate) fn uint32(env: RawEnv, n: u32) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: plain value creation on the env's thread.
        let status = unsafe { sys::napi_create_uint32(env, n, &mut out) };
        check(status, "napi_create_uint32")?;
        Ok(out)
    }

    pub(crate) fn boolean(env: RawEnv, b: bool) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: plain value creation on the env's thread.
        let status = unsafe { sys::napi_get_boolean(env, b, &mut out) };
        check(status, "napi_get_boolean")?;
        Ok(out)
    }

    pub(crate) fn double(env: RawEnv, n: f64) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: plain value creation on the env's thread.
        let status = unsafe { sys::napi_create_double(env, n, &mut out) };
        check(status, "napi_create_double")?;
        Ok(out)
    }

    /// A plain object with the given properties.
    pub(crate) fn object(
        env: RawEnv,
        props: &[(&std::ffi::CStr, RawValue)],
    ) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: the names are NUL-terminated, the values live in scope.
        unsafe {
            check(sys::napi_create_object(env, &mut out), "napi_create_object")?;
            for (name, v) in props {
                check(
                    sys::napi_set_named_property(env, out, name.as_ptr(), *v),
                    "napi_set_named_property",
                )?;
            }
        }
        Ok(out)
    }

    pub(crate) fn undefined(env: RawEnv) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: plain value lookup on the env's thread.
        let status = unsafe { sys::napi_get_undefined(env, &mut out) };
        check(status, "napi_get_undefined")?;
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
pub(crate) mod class {
    use std::ffi::c_void;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use napi::sys;

    use super::{check, value, RawEnv, RawValue};
    use crate::int_hash::IntMap;

    /// Most arguments a native function takes (the instance's number, the
    /// instance and a method's own).
    const MAX_ARGS: usize = 10;

    /// A call's `this` and arguments.
    pub(crate) struct Args {
        env: RawEnv,
        this: RawValue,
        argv: [RawValue; MAX_ARGS],
        argc: usize,
    }

    /// What a method returns to JS.
    pub(crate) enum Ret {
        Undefined,
        Bool(bool),
        U32(u32),
        F64(f64),
        Value(RawValue),
    }

    pub(crate) type Method<T> = fn(&T, &Args) -> napi::Result<Ret>;

    fn type_error(what: &str) -> napi::Error {
        napi::Error::new(napi::Status::InvalidArg, what)
    }

    impl Args {
        /// Drops the first `n` arguments and makes the next one `this`
        /// (the JS half passes the instance as an argument: a call with a
        /// receiver of its own, `fn.call(instance, ...)`, takes V8's slow
        /// path for native functions).
        fn shift(&mut self, n: usize) {
            let argc = self.argc.min(MAX_ARGS);
            if n < argc {
                self.this = self.argv[n];
            }
            let skip = (n + 1).min(argc);
            self.argv.rotate_left(skip);
            self.argc = argc - skip;
        }

        pub(crate) fn env(&self) -> RawEnv {
            self.env
        }

        pub(crate) fn this(&self) -> RawValue {
            self.this
        }

        /// Argument `i` (undefined when absent).
        pub(crate) fn raw(&self, i: usize) -> napi::Result<RawValue> {
            if i < self.argc.min(MAX_ARGS) {
                Ok(self.argv[i])
            } else {
                value::undefined(self.env)
            }
        }

        fn type_of(&self, i: usize) -> napi::Result<sys::napi_valuetype> {
            let mut ty = 0;
            // SAFETY: a live value of `env` on its thread.
            let status = unsafe { sys::napi_typeof(self.env, self.raw(i)?, &mut ty) };
            check(status, "napi_typeof")?;
            Ok(ty)
        }

        /// Whether argument `i` is undefined or null.
        pub(crate) fn is_nullish(&self, i: usize) -> napi::Result<bool> {
            let ty = self.type_of(i)?;
            Ok(ty == sys::ValueType::napi_undefined || ty == sys::ValueType::napi_null)
        }

        pub(crate) fn u32(&self, i: usize) -> napi::Result<u32> {
            let mut n = 0;
            // SAFETY: as in `type_of`; a non-number fails.
            let status = unsafe { sys::napi_get_value_uint32(self.env, self.raw(i)?, &mut n) };
            check(status, "expected a number")?;
            Ok(n)
        }

        pub(crate) fn f64(&self, i: usize) -> napi::Result<f64> {
            let mut n = 0.0;
            // SAFETY: as in `type_of`; a non-number fails.
            let status = unsafe { sys::napi_get_value_double(self.env, self.raw(i)?, &mut n) };
            check(status, "expected a number")?;
            Ok(n)
        }

        pub(crate) fn i32(&self, i: usize) -> napi::Result<i32> {
            let mut n = 0;
            // SAFETY: as in `type_of`; a non-number fails.
            let status = unsafe { sys::napi_get_value_int32(self.env, self.raw(i)?, &mut n) };
            check(status, "expected a number")?;
            Ok(n)
        }

        pub(crate) fn i64(&self, i: usize) -> napi::Result<i64> {
            let mut n = 0;
            // SAFETY: as in `type_of`; a non-number fails.
            let status = unsafe { sys::napi_get_value_int64(self.env, self.raw(i)?, &mut n) };
            check(status, "expected a number")?;
            Ok(n)
        }

        pub(crate) fn bool(&self, i: usize) -> napi::Result<bool> {
            let mut b = false;
            // SAFETY: as in `type_of`; a non-boolean fails.
            let status = unsafe { sys::napi_get_value_bool(self.env, self.raw(i)?, &mut b) };
            check(status, "expected a boolean")?;
            Ok(b)
        }

        /// A string argument.
        pub(crate) fn string(&self, i: usize) -> napi::Result<String> {
            string_of(self.env, self.raw(i)?)
        }

        /// A string argument, or `None` for undefined/null.
        pub(crate) fn opt_string(&self, i: usize) -> napi::Result<Option<String>> {
            if self.is_nullish(i)? {
                return Ok(None);
            }
            self.string(i).map(Some)
        }

        /// The bytes of a Buffer / TypedArray / DataView argument, valid
        /// for the call.
        pub(crate) fn bytes(&self, i: usize) -> napi::Result<&[u8]> {
            bytes_of(self.env, self.raw(i)?)
        }

        /// The elements of an array argument.
        pub(crate) fn array(&self, i: usize) -> napi::Result<Vec<RawValue>> {
            let arr = self.raw(i)?;
            let mut len = 0;
            // SAFETY: as in `type_of`; a non-array fails.
            let status = unsafe { sys::napi_get_array_length(self.env, arr, &mut len) };
            check(status, "expected an array")?;
            (0..len)
                .map(|k| {
                    let mut v = std::ptr::null_mut();
                    // SAFETY: `arr` is an array of `len` elements.
                    let status = unsafe { sys::napi_get_element(self.env, arr, k, &mut v) };
                    check(status, "napi_get_element")?;
                    Ok(v)
                })
                .collect()
        }

        /// A Uint32Array argument's elements, copied.
        pub(crate) fn u32_array(&self, i: usize) -> napi::Result<Vec<u32>> {
            let bytes = self.bytes(i)?;
            Ok(bytes
                .chunks_exact(4)
                .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        }

        /// Calls `f` with an `Int32Array` argument's elements, to write
        /// results into (JS reads them after the call returns). `borrowed`
        /// are the other arguments' bytes that the call reads meanwhile:
        /// an array sharing memory with one of them is refused.
        pub(crate) fn with_i32_array_mut<R>(
            &self,
            i: usize,
            borrowed: &[&[u8]],
            f: impl FnOnce(&mut [i32]) -> napi::Result<R>,
        ) -> napi::Result<R> {
            let v = self.raw(i)?;
            let (mut ty, mut n, mut data, mut ab, mut off) =
                (0, 0, std::ptr::null_mut(), std::ptr::null_mut(), 0);
            // SAFETY: `v` is a live argument, rooted for the call; a value
            // that is no typed array fails.
            let status = unsafe {
                sys::napi_get_typedarray_info(
                    self.env, v, &mut ty, &mut n, &mut data, &mut ab, &mut off,
                )
            };
            check(status, "expected an Int32Array")?;
            if ty != sys::TypedarrayType::int32_array {
                return Err(type_error("expected an Int32Array"));
            }
            if n == 0 || data.is_null() {
                return f(&mut []);
            }
            let (start, end) = (data as usize, data as usize + n * 4);
            let overlaps = |b: &&[u8]| {
                let at = b.as_ptr() as usize;
                !b.is_empty() && at < end && start < at + b.len()
            };
            if borrowed.iter().any(overlaps) {
                return Err(type_error("expected an Int32Array of its own"));
            }
            // SAFETY: an Int32Array's data is `n` aligned i32s, alive while
            // the argument is; no JS runs during `f`, and no slice that `f`
            // may read lies in the same memory (`borrowed`, checked above),
            // so nothing else touches them; the slice does not outlive `f`.
            f(unsafe { std::slice::from_raw_parts_mut(data.cast::<i32>(), n) })
        }

        /// Calls `f` with a string argument, read into a stack buffer when
        /// short (IP literals always are): no allocation per call.
        pub(crate) fn with_str<R>(
            &self,
            i: usize,
            f: impl FnOnce(&str) -> napi::Result<R>,
        ) -> napi::Result<R> {
            self.with_value_str(self.raw(i)?, f)
        }

        /// `with_str` for a string value (an array element).
        pub(crate) fn with_value_str<R>(
            &self,
            v: RawValue,
            f: impl FnOnce(&str) -> napi::Result<R>,
        ) -> napi::Result<R> {
            let mut buf = [0u8; 64];
            let mut written = 0;
            // SAFETY: `buf` has room for `buf.len()` bytes including the NUL
            // Node writes; a non-string fails.
            let status = unsafe {
                sys::napi_get_value_string_utf8(
                    self.env,
                    v,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut written,
                )
            };
            check(status, "expected a string")?;
            // Node stops before a character that does not fit (up to 4
            // bytes) and keeps one byte for the NUL: more room left than
            // that means the whole string was read.
            if written + 4 < buf.len() {
                let s = std::str::from_utf8(&buf[..written])
                    .map_err(|_| type_error("invalid UTF-8"))?;
                return f(s);
            }
            // Possibly cut short: read it whole.
            f(&string_of(self.env, v)?)
        }

        /// The env, for the element helpers.
        pub(crate) fn string_of(&self, v: RawValue) -> napi::Result<String> {
            string_of(self.env, v)
        }

        pub(crate) fn bytes_of(&self, v: RawValue) -> napi::Result<&[u8]> {
            bytes_of(self.env, v)
        }

        /// A value's number as a u32, or `None` when it is no number.
        pub(crate) fn opt_u32_of(&self, v: RawValue) -> napi::Result<Option<u32>> {
            let mut ty = 0;
            // SAFETY: a live value of `env` on its thread.
            let status = unsafe { sys::napi_typeof(self.env, v, &mut ty) };
            check(status, "napi_typeof")?;
            if ty != sys::ValueType::napi_number {
                return Ok(None);
            }
            let mut n = 0;
            // SAFETY: as above; `v` is a number.
            let status = unsafe { sys::napi_get_value_uint32(self.env, v, &mut n) };
            check(status, "expected a number")?;
            Ok(Some(n))
        }
    }

    fn string_of(env: RawEnv, v: RawValue) -> napi::Result<String> {
        let mut len = 0;
        // SAFETY: a null buffer asks for the length; then `buf` has room for
        // it and the NUL terminator Node writes.
        unsafe {
            check(
                sys::napi_get_value_string_utf8(env, v, std::ptr::null_mut(), 0, &mut len),
                "expected a string",
            )?;
            let mut buf = vec![0u8; len + 1];
            let mut written = 0;
            check(
                sys::napi_get_value_string_utf8(
                    env,
                    v,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut written,
                ),
                "napi_get_value_string_utf8",
            )?;
            buf.truncate(written);
            String::from_utf8(buf).map_err(|_| type_error("invalid UTF-8"))
        }
    }

    fn bytes_of<'a>(env: RawEnv, v: RawValue) -> napi::Result<&'a [u8]> {
        let mut data: *mut c_void = std::ptr::null_mut();
        let mut len = 0;
        // SAFETY: `v` is a live value; the typed-array / DataView queries
        // fail for anything else. The bytes stay valid for the call: the
        // value is an argument, rooted until the callback returns, and no
        // JS runs while the slice is used.
        unsafe {
            let mut is = false;
            if sys::napi_is_typedarray(env, v, &mut is) == sys::Status::napi_ok && is {
                let (mut ty, mut n, mut ab, mut off) = (0, 0, std::ptr::null_mut(), 0);
                check(
                    sys::napi_get_typedarray_info(
                        env, v, &mut ty, &mut n, &mut data, &mut ab, &mut off,
                    ),
                    "napi_get_typedarray_info",
                )?;
                len = n * element_size(ty);
            } else if sys::napi_is_dataview(env, v, &mut is) == sys::Status::napi_ok && is {
                let (mut ab, mut off) = (std::ptr::null_mut(), 0);
                check(
                    sys::napi_get_dataview_info(env, v, &mut len, &mut data, &mut ab, &mut off),
                    "napi_get_dataview_info",
                )?;
            } else {
                return Err(type_error("expected a Buffer, TypedArray or DataView"));
            }
            if len == 0 || data.is_null() {
                return Ok(&[]);
            }
            Ok(std::slice::from_raw_parts(data.cast::<u8>(), len))
        }
    }

    fn element_size(ty: sys::napi_typedarray_type) -> usize {
        use sys::TypedarrayType as T;
        match ty {
            T::int16_array | T::uint16_array => 2,
            T::int32_array | T::uint32_array | T::float32_array => 4,
            T::float64_array | T::bigint64_array | T::biguint64_array => 8,
            _ => 1,
        }
    }

    thread_local! {
        /// Our instances' values on this thread and their types, by the
        /// number JS holds for each (what `create` returned): a native
        /// function given any other number, or one of another class's
        /// instance, throws instead of reading memory it does not own.
        static LIVE: std::cell::RefCell<IntMap<u64, (std::any::TypeId, usize)>> =
            std::cell::RefCell::new(IntMap::default());
        /// The next instance's number (from 1; exact in a JS number for
        /// 2^53 instances).
        static NEXT_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(1) };
    }

    /// The native half of a class: `{ create, methods, getters }`, where
    /// `create(instance, ...args)` builds the new instance's value with
    /// `ctor` and returns its number, and each of `methods` / `getters` is
    /// a function `(number, instance, ...args)`; `ctor` and the methods see
    /// `instance` as `this`.
    pub(crate) fn parts<T: 'static>(
        env: RawEnv,
        ctor: fn(&Args) -> napi::Result<T>,
        methods: &[(&'static std::ffi::CStr, Method<T>)],
        getters: &[(&'static std::ffi::CStr, Method<T>)],
    ) -> napi::Result<RawValue> {
        // Each function's Rust callee is its callback's data: nothing to
        // allocate, nothing to free when a worker's environment (which
        // makes its own parts) ends.
        let table = |list: &[(&'static std::ffi::CStr, Method<T>)]| {
            function_table(
                env,
                call::<T>,
                list.iter().map(|(n, m)| (*n, *m as *mut c_void)),
            )
        };
        let create = function(env, c"create", create::<T>, ctor as *mut c_void)?;
        value::object(
            env,
            &[
                (c"create", create),
                (c"methods", table(methods)?),
                (c"getters", table(getters)?),
            ],
        )
    }

    /// A module function that reads its arguments itself.
    pub(crate) type Func = fn(&Args) -> napi::Result<Ret>;

    /// An object of plain functions, for the hot ones: a `#[napi]`
    /// function pays napi-rs's borrow tracking (~900 instructions a call).
    pub(crate) fn functions(
        env: RawEnv,
        list: &[(&'static std::ffi::CStr, Func)],
    ) -> napi::Result<RawValue> {
        function_table(
            env,
            call_fn,
            list.iter().map(|(n, f)| (*n, *f as *mut c_void)),
        )
    }

    type Callback = unsafe extern "C" fn(RawEnv, sys::napi_callback_info) -> RawValue;

    /// `{ name: function }` for each `(name, data)`: functions that run
    /// `cb` with `data`.
    fn function_table(
        env: RawEnv,
        cb: Callback,
        list: impl Iterator<Item = (&'static std::ffi::CStr, *mut c_void)>,
    ) -> napi::Result<RawValue> {
        let fns = list
            .map(|(n, data)| Ok((n, function(env, n, cb, data)?)))
            .collect::<napi::Result<Vec<_>>>()?;
        value::object(env, &fns)
    }

    fn function(
        env: RawEnv,
        name: &std::ffi::CStr,
        cb: Callback,
        data: *mut c_void,
    ) -> napi::Result<RawValue> {
        let mut out = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated (`NAPI_AUTO_LENGTH`); `data` is
        // read back only by `cb`, which is this module's for the same T.
        let status = unsafe {
            sys::napi_create_function(
                env,
                name.as_ptr(),
                usize::MAX as isize,
                Some(cb),
                data,
                &mut out,
            )
        };
        check(status, "napi_create_function")?;
        Ok(out)
    }

    /// Reads a call's `this`, arguments and data pointer.
    ///
    /// # Safety
    /// `info` must be the callback info of the current call of `env`.
    unsafe fn args_of(
        env: RawEnv,
        info: sys::napi_callback_info,
    ) -> napi::Result<(Args, *mut c_void)> {
        let mut args = Args {
            env,
            this: std::ptr::null_mut(),
            argv: [std::ptr::null_mut(); MAX_ARGS],
            argc: MAX_ARGS,
        };
        let mut data = std::ptr::null_mut();
        // SAFETY: per the contract; `argv` has room for `argc` values.
        let status = unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut args.argc,
                args.argv.as_mut_ptr(),
                &mut args.this,
                &mut data,
            )
        };
        check(status, "napi_get_cb_info")?;
        Ok((args, data))
    }

    /// Throws `err` as a JS Error whose message is its reason: a TypeError
    /// for a value of the wrong kind (a status other than the generic
    /// failure of our own coded errors, whose reason is an errno code).
    fn throw(env: RawEnv, err: &napi::Error) {
        let msg = std::ffi::CString::new(err.reason.replace('\0', " ")).unwrap_or_default();
        // SAFETY: a NUL-terminated message; on the env's thread.
        unsafe {
            if err.status == napi::Status::GenericFailure {
                sys::napi_throw_error(env, std::ptr::null(), msg.as_ptr());
            } else {
                sys::napi_throw_type_error(env, std::ptr::null(), msg.as_ptr());
            }
        }
    }

    fn to_js(env: RawEnv, ret: napi::Result<Ret>) -> RawValue {
        let value = ret.and_then(|r| match r {
            Ret::Undefined => value::undefined(env),
            Ret::Bool(b) => value::boolean(env, b),
            Ret::U32(n) => value::uint32(env, n),
            Ret::F64(n) => value::double(env, n),
            Ret::Value(v) => Ok(v),
        });
        match value {
            Ok(v) => v,
            Err(e) => {
                throw(env, &e);
                std::ptr::null_mut()
            }
        }
    }

    unsafe extern "C" fn create<T: 'static>(
        env: RawEnv,
        info: sys::napi_callback_info,
    ) -> RawValue {
        let made = catch_unwind(AssertUnwindSafe(|| -> napi::Result<RawValue> {
            // SAFETY: Node calls this with the info of the current call.
            let (mut args, data) = unsafe { args_of(env, info)? };
            args.shift(0);
            // SAFETY: `data` is the `ctor` given to `parts::<T>`.
            let ctor: fn(&Args) -> napi::Result<T> = unsafe { std::mem::transmute(data) };
            let value = Box::into_raw(Box::new(ctor(&args)?));
            let id = NEXT_ID.with(|n| {
                let id = n.get();
                n.set(id + 1);
                id
            });
            // SAFETY: `args.this()` is the call's first argument, the new
            // instance (Node refuses anything but an object); ownership of
            // `value` passes to the finalizer, which Node calls once, when
            // the instance is collected or its environment ends. The hint
            // carries the number (pointer-sized on every target we build).
            let added = unsafe {
                sys::napi_add_finalizer(
                    env,
                    args.this(),
                    value.cast(),
                    Some(finalize::<T>),
                    id as usize as *mut c_void,
                    std::ptr::null_mut(),
                )
            };
            if added != sys::Status::napi_ok {
                // SAFETY: not adopted: still ours.
                drop(unsafe { Box::from_raw(value) });
                check(added, "napi_add_finalizer")?;
            }
            LIVE.with(|l| {
                l.borrow_mut()
                    .insert(id, (std::any::TypeId::of::<T>(), value as usize))
            });
            value::double(env, id as f64)
        }));
        match made {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => {
                throw(env, &e);
                std::ptr::null_mut()
            }
            Err(_) => {
                throw(
                    env,
                    &napi::Error::from_reason("dgram-rs: panic in constructor"),
                );
                std::ptr::null_mut()
            }
        }
    }

    unsafe extern "C" fn finalize<T: 'static>(_env: RawEnv, data: *mut c_void, hint: *mut c_void) {
        // try_with: also reached while the thread's locals are destroyed.
        let _ = LIVE.try_with(|l| l.borrow_mut().remove(&(hint as usize as u64)));
        // SAFETY: `data` is the Box<T> made by `create::<T>`, handed back
        // once, when its instance is collected or its environment ends.
        drop(unsafe { Box::from_raw(data.cast::<T>()) });
    }

    unsafe extern "C" fn call_fn(env: RawEnv, info: sys::napi_callback_info) -> RawValue {
        let ret = catch_unwind(AssertUnwindSafe(|| -> napi::Result<Ret> {
            // SAFETY: Node calls this with the info of the current call.
            let (args, data) = unsafe { args_of(env, info)? };
            // SAFETY: `data` is a Func given to `functions` (a fn pointer,
            // the size of a data pointer).
            let f = unsafe { std::mem::transmute::<*mut c_void, Func>(data) };
            f(&args)
        }));
        match ret {
            Ok(r) => to_js(env, r),
            Err(_) => {
                throw(
                    env,
                    &napi::Error::from_reason("dgram-rs: panic in a function"),
                );
                std::ptr::null_mut()
            }
        }
    }

    unsafe extern "C" fn call<T: 'static>(env: RawEnv, info: sys::napi_callback_info) -> RawValue {
        let ret = catch_unwind(AssertUnwindSafe(|| -> napi::Result<Ret> {
            // SAFETY: Node calls this with the info of the current call.
            let (mut args, data) = unsafe { args_of(env, info)? };
            let mut id = 0.0f64;
            let first = if args.argc > 0 {
                args.argv[0]
            } else {
                std::ptr::null_mut()
            };
            let is_number = !first.is_null() && {
                // SAFETY: a live argument of the call; a non-number fails.
                let status = unsafe { sys::napi_get_value_double(env, first, &mut id) };
                status == sys::Status::napi_ok
            };
            if !is_number || id.fract() != 0.0 || id < 1.0 {
                return Err(type_error("Illegal invocation"));
            }
            let Some((type_id, value)) = LIVE.with(|l| l.borrow().get(&(id as u64)).copied())
            else {
                return Err(type_error("Illegal invocation"));
            };
            if type_id != std::any::TypeId::of::<T>() {
                return Err(type_error("Illegal invocation"));
            }
            let value = value as *mut c_void;
            // Then the instance, which the method sees as `this`, then the
            // method's own arguments.
            args.shift(1);
            // SAFETY: `data` is a Method<T> given to `parts::<T>` (a fn
            // pointer, the size of a data pointer); `value` is a live
            // Box<T> of ours (in `LIVE` as a T: made by `create::<T>`, not yet
            // finalized), alive for the call (finalizers run from the
            // loop, never inside a native call), and methods only take
            // shared references.
            let (method, this) = unsafe {
                (
                    std::mem::transmute::<*mut c_void, Method<T>>(data),
                    &*value.cast::<T>(),
                )
            };
            method(this, &args)
        }));
        match ret {
            Ok(r) => to_js(env, r),
            Err(_) => {
                throw(
                    env,
                    &napi::Error::from_reason("dgram-rs: panic in a method"),
                );
                std::ptr::null_mut()
            }
        }
    }
}

/// A raw JS value returned from a `#[napi]` function as is.
pub(crate) struct Js(pub(crate) RawValue);

impl napi::bindgen_prelude::ToNapiValue for Js {
    unsafe fn to_napi_value(_env: RawEnv, val: Self) -> napi::Result<RawValue> {
        Ok(val.0)
    }
}
