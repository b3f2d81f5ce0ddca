//! What a socket's JS thread and its runtime tasks share: the events the
//! runtime produces for JS (read-ahead batches, queued-send completions),
//! the bound on them, the send queue, and the stop signal.
//!
//! Events travel in a per-socket inbox; the socket is then put on its
//! environment's ready list (`JsWaker`) and the JS thread's loop is woken
//! through a libuv async handle. The JS thread takes the events in order.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore};

use crate::core::blocklist::BlockList;
use crate::core::recv::{self, Batch};
use crate::core::send::{Gso, Source};
use crate::drivers::budget;
use crate::sys::uv;

/// How many read-ahead batches may wait for the JS thread at once. When JS
/// falls this far behind, read-ahead pauses and the kernel drops datagrams
/// (as it would with node:dgram), so our memory stays bounded.
pub(crate) const BATCHES_IN_FLIGHT: usize = 8;

/// What the runtime tells a socket's JS side, in order.
pub(crate) enum Event {
    /// Datagrams read ahead, with their share of the process's budget.
    Batch(Batch, budget::Held),
    /// A receive error (e.g. `ECONNREFUSED` on a connected socket).
    RecvError(io::Error),
    /// Read-ahead stopped (the socket is empty and JS caught up): the JS
    /// loop watches the socket again. The last event of a read-ahead period,
    /// whose generation it carries.
    HandBack(u64),
    /// A queued send was written (`Ok(bytes)`) or failed.
    SendDone(io::Result<usize>),
}

/// A send waiting for the socket to become writable.
pub(crate) struct Queued {
    pub(crate) data: Vec<u8>,
    pub(crate) dest: Option<SocketAddr>,
    pub(crate) source: Option<Source>,
}

/// The send queue: datagrams not yet handed to the kernel, in order.
#[derive(Default)]
pub(crate) struct SendQueue {
    pub(crate) items: VecDeque<Queued>,
    /// Whether a drain task is writing them.
    pub(crate) draining: bool,
}

/// An environment's ready list: sockets with events for its JS thread,
/// which `wake` rouses.
pub(crate) struct JsWaker {
    waker: uv::Waker,
    ready: Mutex<Vec<Arc<Shared>>>,
}

impl JsWaker {
    pub(crate) fn new(waker: uv::Waker) -> Self {
        Self {
            waker,
            ready: Mutex::new(Vec::new()),
        }
    }

    /// Puts `shared` on the ready list (once) and wakes the JS thread. If
    /// the JS side closed its wake-up handle (no socket expects events), the
    /// event stays undelivered and the list is emptied, holding nothing.
    ///
    /// The list stays locked until the wake-up is sent or the list dropped:
    /// a socket that opens the handle and then notifies again (see
    /// `Shared::wake_if_pending`) cannot lose its entry to a wake-up that
    /// failed just before.
    pub(crate) fn notify(&self, shared: &Arc<Shared>) {
        let mut ready = lock(&self.ready);
        if !shared.on_ready_list.swap(true, Ordering::AcqRel) {
            ready.push(shared.clone());
        }
        if !self.waker.wake() {
            for s in ready.drain(..) {
                s.on_ready_list.store(false, Ordering::Release);
            }
        }
    }

    /// Takes the ready list (JS thread).
    pub(crate) fn take_ready(&self) -> Vec<Arc<Shared>> {
        let ready = std::mem::take(&mut *lock(&self.ready));
        for s in &ready {
            s.on_ready_list.store(false, Ordering::Release);
        }
        ready
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Shared {
    /// Unique in the process: how the JS side finds its socket.
    pub(crate) id: u64,
    waker: Arc<JsWaker>,
    on_ready_list: AtomicBool,
    inbox: Mutex<VecDeque<Event>>,
    /// Read-ahead batches JS may still accept (see `BATCHES_IN_FLIGHT`).
    pub(crate) credits: Semaphore,
    /// Signalled when JS has taken every batch (read-ahead may hand back).
    pub(crate) caught_up: Notify,
    /// The generation of the read-ahead period running (0: none). A task
    /// whose generation is not this one stops (recvStop, close, or a later
    /// period began).
    active_gen: AtomicU64,
    read_gen: AtomicU64,
    /// Set once, to stop every task of the socket.
    stopped: AtomicBool,
    stop_notify: Notify,
    pub(crate) queue: Mutex<SendQueue>,
    /// Held while the drain thread writes one queued datagram and reports
    /// it, and while `close()` cancels the queue (see `drivers::send`).
    /// Holds the waker of a drain thread waiting for room meanwhile.
    pub(crate) writing: Mutex<Option<Arc<crate::sys::Wake>>>,
    /// Queued sends not yet written (including one waiting for room).
    /// (`getSendQueueCount()`/`Size()` count until JS hears the completion:
    /// `SocketCtx`.)
    pub(crate) queued_count: AtomicUsize,
    pub(crate) gso: Gso,
    /// The socket's local port once seen (0: not yet), so that the JS
    /// loop's list of this thread's ports (`local_sends`) need not
    /// ask the kernel for it: an explicit bind's port, or what
    /// `address()` read.
    local_port: std::sync::atomic::AtomicU16,
    /// Whether UDP GRO was turned on (see `drivers::runtime`).
    #[cfg(target_os = "linux")]
    pub(crate) gro: AtomicBool,
    /// `receiveBlockList`: senders whose datagrams are dropped on receipt.
    receive_block: Mutex<Option<Arc<BlockList>>>,
    /// `recvDestination`: batches carry each datagram's destination.
    pub(crate) recv_dest: AtomicBool,
    /// The socket's `'message'` listeners take long (JS measures it per
    /// batch): no read-ahead then. It would gain such a consumer nothing
    /// (a read costs ~1 µs against its 50 µs or more per message) and would
    /// add its queue to the kernel's, so that the consumer works through
    /// older datagrams than node:dgram's would.
    pub(crate) slow_consumer: AtomicBool,
    /// Whether JS receives (`recvStart`): the drain thread then hands a
    /// connected socket's pending ICMP error to the receive side before a
    /// queued write, as libuv reads before it writes (`send::write_queued`).
    pub(crate) receiving: AtomicBool,
    /// Counted among the runtime's users (`drivers::runtime`): from its
    /// first read-ahead or queued send until it is closed.
    pub(crate) uses_runtime: AtomicBool,
}

impl Shared {
    pub(crate) fn new(waker: Arc<JsWaker>) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            waker,
            on_ready_list: AtomicBool::new(false),
            inbox: Mutex::new(VecDeque::new()),
            credits: Semaphore::new(BATCHES_IN_FLIGHT),
            caught_up: Notify::new(),
            active_gen: AtomicU64::new(0),
            read_gen: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            stop_notify: Notify::new(),
            queue: Mutex::new(SendQueue::default()),
            writing: Mutex::new(None),
            queued_count: AtomicUsize::new(0),
            gso: Gso::default(),
            local_port: std::sync::atomic::AtomicU16::new(0),
            #[cfg(target_os = "linux")]
            gro: AtomicBool::new(false),
            receive_block: Mutex::new(None),
            recv_dest: AtomicBool::new(false),
            slow_consumer: AtomicBool::new(false),
            receiving: AtomicBool::new(false),
            uses_runtime: AtomicBool::new(false),
        }
    }

    /// Queues an event for JS and wakes the JS thread (runtime side).
    pub(crate) fn post(self: &Arc<Self>, event: Event) {
        lock(&self.inbox).push_back(event);
        self.waker.notify(self);
    }

    /// Whether the next event for JS is a batch.
    pub(crate) fn next_is_batch(&self) -> bool {
        matches!(lock(&self.inbox).front(), Some(Event::Batch(..)))
    }

    /// Wakes the JS thread if events wait (JS thread, right after it
    /// opened its async handle for this socket: the runtime may have posted
    /// them before, when there was no handle to wake, e.g. a queued send
    /// that completed before `send` returned).
    pub(crate) fn wake_if_pending(self: &Arc<Self>) {
        let pending = !lock(&self.inbox).is_empty();
        if pending {
            self.waker.notify(self);
        }
    }

    /// The next event for JS (JS thread).
    pub(crate) fn next_event(&self) -> Option<Event> {
        lock(&self.inbox).pop_front()
    }

    /// Drops every undelivered event (the socket closed) and returns the
    /// outcomes of the send completions among them, oldest first: those
    /// sends were written, or failed, before the close, and their callbacks
    /// get what happened, as libuv reports a closed handle's completed
    /// requests with their own status.
    pub(crate) fn clear_events(&self) -> Vec<io::Result<usize>> {
        lock(&self.inbox)
            .drain(..)
            .filter_map(|e| match e {
                Event::SendDone(result) => Some(result),
                _ => None,
            })
            .collect()
    }

    /// Drops undelivered receive events (receiving stopped), returning the
    /// batches' credits; send completions stay.
    pub(crate) fn drop_received(&self) {
        let mut inbox = lock(&self.inbox);
        let batches = inbox
            .iter()
            .filter(|e| matches!(e, Event::Batch(..)))
            .count();
        inbox.retain(|e| matches!(e, Event::SendDone(_)));
        drop(inbox);
        self.credits.add_permits(batches);
    }

    /// JS took a batch: its credit returns, and read-ahead learns when JS
    /// has caught up.
    pub(crate) fn batch_taken(&self) {
        self.credits.add_permits(1);
        if self.credits.available_permits() >= BATCHES_IN_FLIGHT {
            self.caught_up.notify_one();
        }
    }

    /// Whether JS holds no undelivered batch.
    pub(crate) fn js_caught_up(&self) -> bool {
        self.credits.available_permits() >= BATCHES_IN_FLIGHT
    }

    /// Runs `read` with the options of one drain of this socket (the
    /// block list as it is now, read once per drain).
    pub(crate) fn with_recv_options<R>(
        &self,
        max_datagrams: usize,
        read: impl FnOnce(&recv::Options<'_>) -> R,
    ) -> R {
        let block = lock(&self.receive_block).clone();
        read(&recv::Options {
            block: block.as_deref(),
            with_dest: self.recv_dest.load(Ordering::Relaxed),
            max_datagrams,
        })
    }

    pub(crate) fn set_receive_block_list(&self, list: Option<BlockList>) {
        *lock(&self.receive_block) = list.map(Arc::new);
    }

    /// Starts a read-ahead period (JS thread, before spawning the task);
    /// returns its generation, which its task and hand-back carry.
    pub(crate) fn begin_reading(&self) -> u64 {
        let generation = self.read_gen.fetch_add(1, Ordering::AcqRel) + 1;
        self.active_gen.store(generation, Ordering::Release);
        generation
    }

    /// The generation of the latest read-ahead period.
    pub(crate) fn read_generation(&self) -> u64 {
        self.read_gen.load(Ordering::Acquire)
    }

    /// Ends read-ahead without a hand-back.
    pub(crate) fn end_reading(&self) {
        // Under the inbox lock: a task posting a batch either did so before
        // (and `drop_received` drops it) or sees that its period is over.
        let _inbox = lock(&self.inbox);
        self.active_gen.store(0, Ordering::Release);
        self.stop_notify.notify_waiters();
    }

    /// Whether read-ahead period `generation` is over.
    pub(crate) fn reading_stopped(&self, generation: u64) -> bool {
        self.active_gen.load(Ordering::Acquire) != generation || self.is_stopped()
    }

    /// Resolves once period `generation` is over (or the socket stopped).
    pub(crate) async fn until_reading_stopped(&self, generation: u64) {
        loop {
            // Registered before the flags are read, so a stop in between
            // is not missed.
            let notified = self.stop_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.reading_stopped(generation) {
                return;
            }
            notified.await;
        }
    }

    /// Queues an event of read-ahead period `generation`, unless the period
    /// is over (checked under the inbox lock, see `end_reading`); false then.
    pub(crate) fn post_reading(self: &Arc<Self>, generation: u64, event: Event) -> bool {
        {
            let mut inbox = lock(&self.inbox);
            if self.reading_stopped(generation) {
                return false;
            }
            inbox.push_back(event);
        }
        self.waker.notify(self);
        true
    }

    /// Notes the socket's local port (see `local_port`).
    pub(crate) fn saw_local_port(&self, port: u16) {
        self.local_port.store(port, Ordering::Relaxed);
    }

    /// The socket's local port if seen, else `None`.
    pub(crate) fn seen_local_port(&self) -> Option<u16> {
        Some(self.local_port.load(Ordering::Relaxed)).filter(|&p| p != 0)
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Stops every task of the socket. Idempotent, callable from any thread.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.stop_notify.notify_waiters();
        self.credits.close();
    }

    /// One queued send was written (or failed, or was dropped).
    pub(crate) fn queue_completed(&self) {
        // Saturating: `close()` may have zeroed the count meanwhile.
        let _ = self
            .queued_count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(1))
            });
    }
}

/// Locks a mutex, ignoring poisoning: our critical sections leave the data
/// consistent even if a panic unwound through them.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
