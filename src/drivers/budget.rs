//! The memory read-ahead may hold for JS across every socket of the
//! process. Each socket's queue is bounded (`shared::BATCHES_IN_FLIGHT`
//! batches), but the bounds add up: 200 sockets flooded with 1400 B
//! datagrams behind a JS thread that blocked for a second held ~100 MB
//! more than node:dgram (one batch of GRO runs each), 400 sockets ~160 MB.
//! Past `BUDGET`, no socket starts or goes on reading ahead: the JS loop
//! reads it, as node:dgram reads every socket, and what JS cannot take
//! stays in the kernel, which drops it when the socket's buffer is full.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of read-ahead batches not yet taken by JS past which no more
/// are read ahead (8 busy sockets' full queues of 1 MiB batches; GRO
/// runs from a dgram-rs sender make them up to 3 MiB).
const BUDGET: usize = 64 * 1024 * 1024;

/// Bytes of read-ahead batches not yet taken by JS, in every thread.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// A batch's share of the budget, given back when dropped: JS took the
/// batch, or it was dropped undelivered (receiving stopped, socket closed).
pub(crate) struct Held(usize);

impl Held {
    pub(crate) fn new(bytes: usize) -> Self {
        HELD.fetch_add(bytes, Ordering::AcqRel);
        Self(bytes)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// Whether read-ahead holds as much as it may.
pub(crate) fn exhausted() -> bool {
    HELD.load(Ordering::Acquire) >= BUDGET
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_spent_while_batches_are_held_and_back_once_dropped() {
        // (The one test of this static: others never hold a batch.)
        assert!(!exhausted());
        let most = Held::new(BUDGET - 1);
        assert!(!exhausted());
        let last = Held::new(1);
        assert!(exhausted());
        drop(most);
        assert!(!exhausted());
        drop(last);
        assert_eq!(HELD.load(Ordering::Acquire), 0);
    }
}
