//! Per-environment state: the one channel from the runtime to this JS
//! environment (the main thread, or a worker), shared by all its sockets.
//!
//! One threadsafe function per environment rather than per socket: creating
//! and finalising one per socket costs time, and its finalisation waits for
//! the event loop, so a program that churns sockets without yielding to the
//! loop would pile them up. It is ref'd while at least one socket keeps the
//! process alive (see `Liveness`).
//!
//! Each environment runs on a thread of its own, so the state is
//! thread-local. At environment teardown (a worker terminated with sockets
//! open), a cleanup hook stops every socket still tracked.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use napi::bindgen_prelude::{Buffer, Function, Uint32Array, Unknown};
use napi::threadsafe_function::ThreadsafeCallContext;
use napi::Env;
use napi_derive::napi;

use crate::io::IoSocket;
use crate::shared::{
    lock, Envelope, Event, EventArgs, EventSink, Shared, KIND_BATCH, KIND_RECV_ERROR,
    KIND_SEND_DONE,
};
use crate::{recv, runtime, sys};

/// One JS copy's channel: each `setDispatcher` call adds one, and a socket
/// reports on the channel of the copy that created it.
struct Channel {
    sink: Arc<EventSink>,
    /// Sockets of this channel currently keeping the loop alive.
    keep_alive: usize,
    refd: bool,
}

struct EnvState {
    channels: Vec<Channel>,
    sockets: Vec<Weak<Shared>>,
    /// Receive tasks waiting for `startReceiving` (see `defer_start`).
    pending: Vec<(Weak<IoSocket>, Arc<Shared>)>,
}

thread_local! {
    static STATE: RefCell<Option<EnvState>> = const { RefCell::new(None) };
}

/// Registers `dispatch(id, kind, buffer, meta, strings)`, the JS function
/// events go to, and returns its channel number, which that copy of
/// index.js passes to every `UdpHandle` it creates. Called by index.js when
/// it loads (once per copy of it in this environment).
#[napi(catch_unwind)]
pub fn set_dispatcher(
    env: Env,
    dispatch: Function<EventArgs, Unknown<'static>>,
) -> napi::Result<u32> {
    let sink = dispatch
        .build_threadsafe_function::<Envelope>()
        .weak::<true>()
        .callee_handled::<false>()
        .build_callback(|ctx: ThreadsafeCallContext<Envelope>| {
            let Envelope { shared, event } = ctx.value;
            let id = shared.id;
            Ok(match event {
                Event::Batch {
                    chunks,
                    meta,
                    addrs,
                } => {
                    shared.credits.add_permits(1);
                    let buffers = chunks.into_iter().map(Buffer::from).collect();
                    (id, KIND_BATCH, buffers, Some(Uint32Array::new(meta)), addrs).into()
                }
                Event::RecvError(code) => {
                    (id, KIND_RECV_ERROR, Vec::new(), None, vec![code]).into()
                }
                Event::SendDone { bytes, error } => {
                    {
                        let mut l = lock(&shared.liveness);
                        l.pending_sends = l.pending_sends.saturating_sub(1);
                    }
                    sync_liveness(&ctx.env, &shared)?;
                    let bytes = Some(Uint32Array::new(vec![bytes]));
                    (
                        id,
                        KIND_SEND_DONE,
                        Vec::new(),
                        bytes,
                        error.into_iter().collect(),
                    )
                        .into()
                }
            })
        })?;
    // A second call comes from a second copy of the JS module in this
    // environment (a module registry reset, as jest makes per test file,
    // maybe in a new vm context): it gets its own channel, so each copy
    // hears its own sockets and no others, with its own keep-alive count.
    let (first, index) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let channel = Channel {
            sink: Arc::new(sink),
            keep_alive: 0,
            refd: false,
        };
        match s.as_mut() {
            Some(st) => {
                st.channels.push(channel);
                (false, st.channels.len() - 1)
            }
            None => {
                *s = Some(EnvState {
                    channels: vec![channel],
                    sockets: Vec::new(),
                    pending: Vec::new(),
                });
                (true, 0)
            }
        }
    });
    if first {
        env.add_env_cleanup_hook((), |()| teardown())?;
    }
    Ok(u32::try_from(index).unwrap_or(u32::MAX))
}

/// A socket's channel, for its tasks.
pub(crate) fn sink(shared: &Shared) -> napi::Result<Arc<EventSink>> {
    STATE
        .with(|s| {
            s.borrow()
                .as_ref()
                .and_then(|st| st.channels.get(shared.channel))
                .map(|c| c.sink.clone())
        })
        .ok_or_else(|| napi::Error::from_reason("dgram-rs: setDispatcher was not called"))
}

/// Tracks a receiving socket so that teardown can stop it.
pub(crate) fn track(shared: &Arc<Shared>) {
    STATE.with(|s| {
        if let Some(st) = s.borrow_mut().as_mut() {
            // Closed sockets are pruned when the list is full: amortised O(1).
            if st.sockets.len() >= 64 && st.sockets.len() == st.sockets.capacity() {
                st.sockets.retain(|w| w.strong_count() > 0);
            }
            st.sockets.push(Arc::downgrade(shared));
        }
    });
}

/// Queues the start of a socket's receive task for the next
/// `startReceiving()`, which JS calls from `setImmediate` when this returns
/// true (the queue was empty).
///
/// Spawning the task wakes the runtime thread, and the task's first wait
/// registers the socket with epoll (and its stop another wake-up): a few
/// tens of microseconds per socket, mostly cross-CPU wake-ups. Deferred to
/// the event loop's next turn, a socket closed before then (a short-lived
/// one) costs none of it, and sockets bound in one turn share one wake-up.
/// Nothing is lost meanwhile: the kernel queues datagrams and errors, and
/// JS could not take them before the loop turns anyway. libuv, too, only
/// registers a socket at its next poll.
pub(crate) fn defer_start(sock: Weak<IoSocket>, shared: Arc<Shared>) -> bool {
    STATE.with(|s| match s.borrow_mut().as_mut() {
        Some(st) => {
            st.pending.push((sock, shared));
            st.pending.len() == 1
        }
        None => false,
    })
}

/// Forgets a socket's deferred start (it is closing).
pub(crate) fn cancel_start(shared: &Arc<Shared>) {
    STATE.with(|s| {
        if let Some(st) = s.borrow_mut().as_mut() {
            // Sockets usually close in the order they started: search from
            // the end.
            if let Some(i) = st.pending.iter().rposition(|(_, p)| Arc::ptr_eq(p, shared)) {
                st.pending.swap_remove(i);
            }
        }
    });
}

/// Starts the receive tasks `defer_start` queued.
#[napi(catch_unwind)]
pub fn start_receiving() -> napi::Result<()> {
    let pending = STATE.with(|s| {
        s.borrow_mut()
            .as_mut()
            .map(|st| std::mem::take(&mut st.pending))
            .unwrap_or_default()
    });
    if pending.is_empty() {
        return Ok(());
    }
    let rt = runtime::handle().map_err(|e| crate::error::to_napi(&e))?;
    for (sock, shared) in pending {
        if !shared.is_stopped() && sock.strong_count() > 0 {
            let sink = sink(&shared)?;
            rt.spawn(recv::run(sock, shared, sink));
        }
    }
    Ok(())
}

/// Counts the socket in or out of the environment's keep-alive sockets
/// after its `Liveness` changed, and refs or unrefs the channel to match.
pub(crate) fn sync_liveness(env: &Env, shared: &Shared) -> napi::Result<()> {
    let delta: isize = {
        let mut l = lock(&shared.liveness);
        let want = l.wanted();
        if want == l.counted {
            return Ok(());
        }
        l.counted = want;
        if want {
            1
        } else {
            -1
        }
    };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let Some(st) = s.as_mut() else {
            return Ok(());
        };
        let Some(ch) = st.channels.get_mut(shared.channel) else {
            return Ok(());
        };
        ch.keep_alive = ch.keep_alive.saturating_add_signed(delta);
        let want = ch.keep_alive > 0;
        if want != ch.refd {
            sys::set_threadsafe_function_ref(env, ch.sink.raw(), want)?;
            ch.refd = want;
        }
        Ok(())
    })
}

fn teardown() {
    let Some(state) = STATE.with(|s| s.borrow_mut().take()) else {
        return;
    };
    for shared in state.sockets.iter().filter_map(Weak::upgrade) {
        shared.stop();
    }
}
