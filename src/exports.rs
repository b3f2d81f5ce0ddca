//! The napi edge: the module functions index.js and lib/ call besides the
//! `UDP` class (`handle.rs`): registering a copy of index.js, the
//! per-event helper functions, test and benchmark switches, counters.

use napi::bindgen_prelude::Unknown;
use napi::{Env, JsValue};
use napi_derive::napi;

use crate::sys::napi::class::{self, Ret};
use crate::sys::napi::Js;

/// Registers the function events of this copy of index.js's sockets go
/// to: `onevent(kind, …)` with the socket's handle as `this` (see
/// `deliver.rs`); returns the number to create its handles with. Called by
/// index.js when it loads.
/// `scratch` is the Buffer through which small datagrams and batches cross
/// (see `deliver.rs`): 64 KiB of payload, then the batch's table at
/// `SCRATCH_META_AT` (lib/receive.js sizes it).
#[napi(catch_unwind)]
pub fn add_event_handler(env: Env, onevent: Unknown, scratch: Unknown) -> napi::Result<u32> {
    crate::env::add_handler(&env, onevent.raw(), scratch.raw())
}

/// The functions JS calls per event, made without napi-rs's wrappers
/// (`sys::napi::class::functions`):
/// - `callWithTrigger(trigger, recv, func, count, x, y, z)`:
///   `func.call(recv, x, y, z)` with the first `count` of `x, y, z`, and
///   Node's default trigger async id set to `trigger` meanwhile (see
///   `sys::napi::call_with_trigger`): lib/state.js queues a socket's ticks
///   with it, as node:dgram queues them inside
///   `defaultTriggerAsyncIdScope`. A module function, not a handle method:
///   a closed socket's id still works.
/// - `restoreAsyncFrame()`: between two messages of a batch, the socket's
///   async context frame again (see `sys::napi::restore_batch_frame`), for
///   lib/receive.js.
#[napi(catch_unwind)]
pub fn hot_functions(env: Env) -> napi::Result<Js> {
    let list: &[(&std::ffi::CStr, class::Func)] = &[
        (c"callWithTrigger", |a| {
            let args = [a.raw(4)?, a.raw(5)?, a.raw(6)?];
            let n = (a.u32(3)? as usize).min(args.len());
            let (trigger, recv, func) = (a.f64(0)?, a.raw(1)?, a.raw(2)?);
            crate::sys::napi::call_with_trigger(a.env(), trigger, recv, func, &args[..n])?;
            Ok(Ret::Undefined)
        }),
        (c"restoreAsyncFrame", |_| {
            crate::sys::napi::restore_batch_frame();
            Ok(Ret::Undefined)
        }),
    ];
    Ok(Js(class::functions(env.raw(), list)?))
}

/// Whether `callWithTrigger` sets the trigger here: where it cannot
/// (Windows), lib/state.js queues those ticks without the native call.
#[napi(catch_unwind)]
pub fn trigger_scope_available() -> bool {
    crate::sys::napi::trigger_scope_available()
}

/// Whether an async context frame is set now: called inside
/// `AsyncLocalStorage.run()` by lib/receive.js to learn whether stores
/// live in frames (Node 24+, 22 behind a flag).
#[napi(catch_unwind)]
pub fn async_frame_is_set(env: Env) -> bool {
    crate::sys::napi::frame_is_set(env.raw())
}

/// Node's `--test-udp-no-try-send`: every send is queued (for tests of the
/// queued path), as Node's handle does under that flag.
#[napi(catch_unwind)]
pub fn set_no_try_send(on: bool) {
    crate::drivers::send::set_no_try_send(on);
}

/// Received chunks are copied into V8-allocated Buffers (see
/// `deliver::set_copy_chunks`), for lib/receive.js.
#[napi(catch_unwind)]
pub fn set_copy_chunks(on: bool) {
    crate::deliver::set_copy_chunks(on);
}

/// The `process` object of the JS context this addon was loaded in, for
/// index.js to schedule its ticks on, as Node's own dgram uses the real
/// `process`: a copy of index.js loaded in a sandbox (jest gives each test
/// file a `process` object of its own, whose `nextTick` its fake timers
/// replace) would otherwise stall where node:dgram goes on.
#[napi(catch_unwind)]
pub fn host_process(env: Env) -> napi::Result<Unknown<'static>> {
    use napi::bindgen_prelude::JsObjectValue;
    env.get_global()?.get_named_property::<Unknown>("process")
}

/// What the receive drivers did so far in this process (for benchmarks),
/// and how many socket states are alive (for the leak tests).
#[napi(object)]
pub struct ReceiveStats {
    pub js_wakeups: f64,
    pub js_batches: f64,
    pub js_datagrams: f64,
    pub read_aheads: f64,
    pub hand_backs: f64,
    pub ahead_batches: f64,
    pub ahead_datagrams: f64,
    pub runtime_wakeups: f64,
    pub streams: f64,
    pub stream_ticks: f64,
    pub over_budget: f64,
    pub socket_states: f64,
}

#[napi(catch_unwind)]
pub fn receive_stats() -> ReceiveStats {
    use crate::drivers::stats::*;
    ReceiveStats {
        js_wakeups: JS_WAKEUPS.get() as f64,
        js_batches: JS_BATCHES.get() as f64,
        js_datagrams: JS_DATAGRAMS.get() as f64,
        read_aheads: READ_AHEADS.get() as f64,
        hand_backs: HAND_BACKS.get() as f64,
        ahead_batches: AHEAD_BATCHES.get() as f64,
        ahead_datagrams: AHEAD_DATAGRAMS.get() as f64,
        runtime_wakeups: RUNTIME_WAKEUPS.get() as f64,
        streams: STREAMS.get() as f64,
        stream_ticks: STREAM_TICKS.get() as f64,
        over_budget: OVER_BUDGET.get() as f64,
        socket_states: SOCKET_STATES.get() as f64,
    }
}

/// Node's `guessHandleType(fd)`: `"UDP"` for a datagram socket.
#[napi(catch_unwind)]
pub fn guess_handle_type(fd: i64) -> String {
    #[cfg(unix)]
    {
        i32::try_from(fd)
            .map_or("INVALID", crate::sys::fd_type)
            .to_string()
    }
    #[cfg(not(unix))]
    {
        // Node's guessHandleType is libuv's uv_guess_handle: on Windows a
        // disk file is FILE, a console TTY, pipes and sockets PIPE.
        i32::try_from(fd)
            .map_or("INVALID", crate::sys::uv::guess_handle)
            .to_string()
    }
}
