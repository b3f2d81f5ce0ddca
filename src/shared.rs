//! State shared between a socket's JS-thread handle and its runtime tasks.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Buffer, FnArgs, Uint32Array, Unknown};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use tokio::sync::Semaphore;

use crate::blocklist::BlockList;

/// How many receive batches may wait for the JS thread at once. When JS is
/// blocked, the receive task stops reading and the kernel drops datagrams,
/// so our memory stays bounded by this many batches.
pub(crate) const BATCHES_IN_FLIGHT: usize = 8;

/// What a socket's runtime tasks tell JS.
pub(crate) enum Event {
    /// Datagrams: payloads back to back in `chunks` (a datagram that does
    /// not fit the current chunk starts the next); `meta` holds (length,
    /// port, index into `addrs`) per datagram.
    Batch {
        chunks: Vec<Vec<u8>>,
        meta: Vec<u32>,
        addrs: Vec<String>,
    },
    /// A receive error (e.g. `ECONNREFUSED` on a connected socket).
    RecvError(String),
    /// A send that had to wait for the socket to become writable completed.
    SendDone { bytes: u32, error: Option<String> },
}

/// An event and the socket it is about.
pub(crate) struct Envelope {
    pub(crate) shared: Arc<Shared>,
    pub(crate) event: Event,
}

/// The JS arguments an event becomes: `(socket id, kind, buffer, meta,
/// strings)`.
pub(crate) type EventArgs = FnArgs<(u32, u32, Vec<Buffer>, Option<Uint32Array>, Vec<String>)>;

pub(crate) const KIND_BATCH: u32 = 0;
pub(crate) const KIND_RECV_ERROR: u32 = 1;
pub(crate) const KIND_SEND_DONE: u32 = 2;

/// The channel from the runtime to one JS environment, shared by all its
/// sockets (see `env.rs`): weak (unref'd) unless some socket keeps the
/// process alive; errors thrown by listeners become `uncaughtException`,
/// as in Node.
pub(crate) type EventSink =
    ThreadsafeFunction<Envelope, Unknown<'static>, EventArgs, Status, false, true, 0>;

/// Whether a socket keeps the event loop alive: when it receives and is
/// ref'd (`socket.ref()`), or while sends wait in its queue (as libuv's
/// pending send requests do).
#[derive(Default)]
pub(crate) struct Liveness {
    pub(crate) unrefd: bool,
    pub(crate) receiving: bool,
    pub(crate) pending_sends: u32,
    /// Whether this socket is currently counted as keeping the loop alive.
    pub(crate) counted: bool,
}

impl Liveness {
    pub(crate) fn wanted(&self) -> bool {
        (self.receiving && !self.unrefd) || self.pending_sends > 0
    }
}

/// A send waiting for the socket to become writable.
pub(crate) struct Queued {
    pub(crate) data: Vec<u8>,
    pub(crate) dest: Option<SocketAddr>,
    pub(crate) source: Option<crate::send::Source>,
}

/// The send queue: items not yet handed to the kernel, in order.
#[derive(Default)]
pub(crate) struct SendQueue {
    pub(crate) items: VecDeque<Queued>,
    /// Whether a drain task is running for this queue.
    pub(crate) draining: bool,
}

pub(crate) struct Shared {
    /// The socket's id, by which JS finds the `Socket` an event is for.
    pub(crate) id: u32,
    /// The environment channel (JS copy) its events go to (`env.rs`).
    pub(crate) channel: usize,
    pub(crate) liveness: Mutex<Liveness>,
    /// Whether the socket is connected (it then also reports ICMP errors,
    /// see `recv::run`), and a wake-up for the receive task when that changes.
    pub(crate) connected: std::sync::atomic::AtomicBool,
    pub(crate) mode_changed: tokio::sync::Notify,
    /// Whether UDP GRO was turned on (see `recv::run`).
    #[cfg(target_os = "linux")]
    pub(crate) gro: std::sync::atomic::AtomicBool,
    /// Set once, to stop every task of the socket; `stop_notify` wakes them.
    /// (A flag and a `Notify` rather than a `watch` channel: sockets are
    /// created by the ten thousand, and this allocates nothing.)
    stopped: std::sync::atomic::AtomicBool,
    stop_notify: tokio::sync::Notify,
    /// Receive batches JS may still accept (see `BATCHES_IN_FLIGHT`).
    pub(crate) credits: Semaphore,
    pub(crate) queue: Mutex<SendQueue>,
    /// Queued sends not yet completed (including the one being written),
    /// and their bytes: `getSendQueueCount()` / `getSendQueueSize()`.
    pub(crate) queued_count: AtomicUsize,
    pub(crate) queued_bytes: AtomicUsize,
    /// The smallest datagram size UDP GSO was refused for (usize::MAX: none).
    #[cfg(target_os = "linux")]
    pub(crate) gso_refused_size: AtomicUsize,
    /// `receiveBlockList`: senders whose datagrams the receive task drops.
    receive_block: Mutex<Option<Arc<BlockList>>>,
    /// `recvDestination`: batches carry each datagram's destination.
    pub(crate) recv_dest: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub(crate) fn new(id: u32, channel: usize) -> Self {
        Self {
            id,
            channel,
            liveness: Mutex::new(Liveness::default()),
            connected: std::sync::atomic::AtomicBool::new(false),
            mode_changed: tokio::sync::Notify::new(),
            #[cfg(target_os = "linux")]
            gro: std::sync::atomic::AtomicBool::new(false),
            stopped: std::sync::atomic::AtomicBool::new(false),
            stop_notify: tokio::sync::Notify::new(),
            credits: Semaphore::new(BATCHES_IN_FLIGHT),
            queue: Mutex::new(SendQueue::default()),
            queued_count: AtomicUsize::new(0),
            queued_bytes: AtomicUsize::new(0),
            #[cfg(target_os = "linux")]
            gso_refused_size: AtomicUsize::new(usize::MAX),
            receive_block: Mutex::new(None),
            recv_dest: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The current receive block list (read once per receive wake-up).
    pub(crate) fn receive_block_list(&self) -> Option<Arc<BlockList>> {
        lock(&self.receive_block).clone()
    }

    pub(crate) fn set_receive_block_list(&self, list: Option<BlockList>) {
        *lock(&self.receive_block) = list.map(Arc::new);
    }

    /// Resolves once the socket is stopped.
    pub(crate) async fn stopped(&self) {
        loop {
            // Registered before the flag is read, so a stop in between is
            // not missed.
            let notified = self.stop_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
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

    pub(crate) fn queue_completed(&self, bytes: usize) {
        // Saturating: `close()` may have zeroed the counters meanwhile.
        let sub = |a: &AtomicUsize, n: usize| {
            let _ = a.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
        };
        sub(&self.queued_count, 1);
        sub(&self.queued_bytes, bytes);
    }
}

/// Locks a mutex, ignoring poisoning: our critical sections leave the data
/// consistent even if a panic unwound through them.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
