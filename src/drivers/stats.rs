//! Counters of what the receive drivers did, for tuning and for the
//! benchmarks, and a gauge of live socket states for the leak tests
//! (`receiveStats()` in the binding; not part of the public API). Relaxed
//! atomics: a few increments per wake-up, not per datagram.

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    pub(crate) fn add(&self, n: usize) {
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn sub(&self, n: usize) {
        self.0.fetch_sub(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Poll callbacks on JS threads (wake-ups of the idle path).
pub(crate) static JS_WAKEUPS: Counter = Counter::new();
/// Batches and datagrams read on JS threads.
pub(crate) static JS_BATCHES: Counter = Counter::new();
pub(crate) static JS_DATAGRAMS: Counter = Counter::new();
/// Switches to read-ahead, and hand-backs to the JS loop.
pub(crate) static READ_AHEADS: Counter = Counter::new();
pub(crate) static HAND_BACKS: Counter = Counter::new();
/// Batches and datagrams read ahead on the runtime.
pub(crate) static AHEAD_BATCHES: Counter = Counter::new();
pub(crate) static AHEAD_DATAGRAMS: Counter = Counter::new();
/// Async-handle wake-ups of JS threads by the runtime.
pub(crate) static RUNTIME_WAKEUPS: Counter = Counter::new();
/// Read-ahead periods ended because the process's read-ahead held its
/// budget (`drivers::budget`).
pub(crate) static OVER_BUDGET: Counter = Counter::new();
/// Streams detected, and their timer ticks.
pub(crate) static STREAMS: Counter = Counter::new();
pub(crate) static STREAM_TICKS: Counter = Counter::new();
/// Socket states alive (`SocketCtx`): open handles, unbound ones not yet
/// collected, closed ones whose close has not finished, those an
/// environment's teardown closed (until their handles are collected), and
/// each thread's closed stand-in. A closed handle waiting for V8 to collect it holds none
/// (a gauge, for the leak tests).
pub(crate) static SOCKET_STATES: Counter = Counter::new();
