//! The JS thread's own sends, as its sockets' receive path needs to know
//! them (`js_loop`): how many it made (a socket whose thread sends between
//! its wake-ups is answering what arrives, not receiving a stream), and
//! how many may have reached one of the thread's own sockets at once (then
//! the socket that woke is read again before the turn ends, as libuv
//! does). The ports of the thread's watched sockets are learnt lazily, at
//! the first send after a socket started watching: a program that never
//! sends pays no `getsockname`.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use socket2::Socket;

use crate::drivers::shared::Shared;
use crate::int_hash::IntMap;

thread_local! {
    /// Sends made on this thread that may have reached one of its sockets
    /// at once (to a port one of them is bound to, or on a connected
    /// socket, whose peer may be one).
    static TO_THIS_THREAD: Cell<u64> = const { Cell::new(0) };
    /// Every send made on this thread, on any socket.
    static SENDS: Cell<u64> = const { Cell::new(0) };
    /// The local ports of this thread's watched sockets (how many sockets
    /// each), as learnt.
    static PORTS: RefCell<IntMap<u16, usize>> = RefCell::new(IntMap::default());
    /// Watched sockets whose port is still to be learnt.
    static PENDING: RefCell<Vec<Weak<LocalPort>>> = const { RefCell::new(Vec::new()) };
}

/// Every send made on this thread so far (a count that wraps).
pub(crate) fn sends() -> u64 {
    SENDS.with(Cell::get)
}

/// Sends made on this thread so far that may have reached one of its own
/// sockets (a count that wraps).
pub(crate) fn to_this_thread() -> u64 {
    TO_THIS_THREAD.with(Cell::get)
}

/// A socket of this thread sends to `dests` (`None`: its connected peer).
pub(crate) fn note_sends_to(dests: impl IntoIterator<Item = Option<SocketAddr>>) {
    SENDS.with(|n| n.set(n.get().wrapping_add(1)));
    learn_pending();
    let local = PORTS.with(|p| {
        let p = p.borrow();
        dests
            .into_iter()
            .any(|d| d.is_none_or(|d| p.contains_key(&d.port())))
    });
    if local {
        TO_THIS_THREAD.with(|n| n.set(n.get().wrapping_add(1)));
    }
}

/// One watched socket's place among the thread's ports: learnt at the
/// next send, counted until `forget` (or the value goes).
pub(crate) struct LocalPort {
    sock: std::sync::Weak<Socket>,
    shared: Arc<Shared>,
    port: Cell<Option<u16>>,
    /// Forgotten before its port was learnt: never learn it.
    gone: Cell<bool>,
}

impl LocalPort {
    /// A socket starts watching: its port is learnt at the thread's next
    /// send. Entries gone before that are dropped from the list as it grows.
    pub(crate) fn new(sock: std::sync::Weak<Socket>, shared: Arc<Shared>) -> Rc<Self> {
        let entry = Rc::new(Self {
            sock,
            shared,
            port: Cell::new(None),
            gone: Cell::new(false),
        });
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            if p.len() >= 64 && p.len().is_power_of_two() {
                p.retain(|w| w.strong_count() > 0);
            }
            p.push(Rc::downgrade(&entry));
        });
        entry
    }

    /// The socket stops watching for good: its port no longer counts.
    pub(crate) fn forget(&self) {
        self.gone.set(true);
        if let Some(port) = self.port.take() {
            // try_with: also reached while the thread's locals are destroyed.
            let _ = PORTS.try_with(|p| {
                let mut p = p.borrow_mut();
                if let Some(n) = p.get_mut(&port) {
                    *n -= 1;
                    if *n == 0 {
                        p.remove(&port);
                    }
                }
            });
        }
    }
}

impl Drop for LocalPort {
    fn drop(&mut self) {
        self.forget();
    }
}

fn learn_pending() {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    for entry in pending.iter().filter_map(Weak::upgrade) {
        if entry.gone.get() {
            continue;
        }
        // Asked of the kernel only if neither the bind nor `address()` said.
        let port = entry.shared.seen_local_port().or_else(|| {
            entry
                .sock
                .upgrade()
                .and_then(|s| s.local_addr().ok())
                .and_then(|a| a.as_socket())
                .map(|a| a.port())
        });
        if let Some(port) = port {
            entry.port.set(Some(port));
            PORTS.with(|p| *p.borrow_mut().entry(port).or_insert(0) += 1);
        }
    }
}
