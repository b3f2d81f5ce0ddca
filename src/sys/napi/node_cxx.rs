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
    use crate::sys::host::host_fn;
    // SAFETY: as in the Itanium `resolve`; `GetCurrent` returns a
    // pointer, `EmitAsyncInit` an `async_context` (a 16-byte C struct:
    // hidden return pointer in both ABIs), `EmitAsyncDestroy` takes one
    // by value (by reference to a copy in both).
    unsafe {
        if host_fn::<GetFrame>(
            c"?GetContinuationPreservedEmbedderData@Isolate@v8@@QEAA?AV?$Local@VValue@v8@@@2@XZ",
        )
        .is_some()
        {
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
    use crate::sys::host::host_fn;
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
