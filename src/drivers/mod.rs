//! The two receive drivers and the send drain, between the socket core and
//! the napi edge: `js_loop` reads on the JS thread while a socket is idle,
//! `runtime` reads ahead on the background runtime while it is busy, and
//! `send` queues what the kernel cannot take now; `loop_epoll` is how the
//! JS loop watches many sockets at the cost of one (Linux); `budget` bounds
//! what read-ahead holds across the process; `local_sends` tells `js_loop`
//! what the thread's own sends may have fed. `shared` is the state a
//! socket's JS side and its runtime tasks share; `stats` counts what the
//! drivers did (for tests and benchmarks).

pub(crate) mod budget;
pub(crate) mod js_loop;
pub(crate) mod local_sends;
#[cfg(target_os = "linux")]
pub(crate) mod loop_epoll;
pub(crate) mod runtime;
pub(crate) mod send;
pub(crate) mod shared;
pub(crate) mod stats;

/// Adds `delta` to a count of sockets that keep a handle ref'd; returns
/// whether any do when that changed (the handle's new ref state).
pub(crate) fn shift(count: &std::cell::Cell<usize>, delta: isize) -> Option<bool> {
    let before = count.get();
    let after = before.saturating_add_signed(delta);
    count.set(after);
    ((before == 0) != (after == 0)).then_some(after > 0)
}
