//! The send path: the calling (JS) thread tries the non-blocking syscall;
//! only when the kernel says `WouldBlock` (or, on Unix, `ENOBUFS`: see
//! `must_wait`), or earlier sends still wait, is
//! the datagram copied into the socket's queue, which a runtime thread
//! drains as the socket becomes writable, reporting each completion to JS
//! (`Event::SendDone`).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use socket2::{SockAddr, SockRef, Socket};

use crate::core::send::{self, Item, Source};
use crate::drivers::shared::{lock, Event, Queued, Shared};

/// What happened to a datagram handed to `send`.
pub(crate) enum Outcome {
    /// Handed to the kernel now: this many bytes.
    Sent(usize),
    /// Queued; an `Event::SendDone` reports it later.
    Queued,
    Failed(io::Error),
}

/// Node's `--test-udp-no-try-send`: every send takes the queued path.
static NO_TRY_SEND: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_no_try_send(on: bool) {
    NO_TRY_SEND.store(on, Ordering::Relaxed);
}

/// Whether a send may be tried now: not while earlier sends wait in the
/// queue, nor while JS has yet to hear that they completed (`behind`): a
/// send written now would be called back before them. libuv counts a
/// queued send until its callback has run, for the same reason.
fn may_try_now(shared: &Shared, behind: bool) -> bool {
    !behind
        && shared.queued_count.load(Ordering::Acquire) == 0
        && !NO_TRY_SEND.load(Ordering::Relaxed)
}

/// Sends one datagram now if possible, else queues it (keeping order with
/// earlier sends; `behind`: some have completed but JS has not heard).
pub(crate) fn send(
    sock: &Arc<Socket>,
    shared: &Arc<Shared>,
    data: &[u8],
    dest: Option<SocketAddr>,
    source: Option<Source>,
    behind: bool,
) -> Outcome {
    if may_try_now(shared, behind) {
        let to = dest.map(SockAddr::from);
        match send::send_once(SockRef::from(&**sock), data, to.as_ref(), source) {
            Ok(n) => return Outcome::Sent(n),
            Err(e) if send::must_wait(&e) => {}
            Err(e) => return Outcome::Failed(e),
        }
    }
    enqueue(sock, shared, data, dest, source)
}

/// Sends a burst in order, in as few syscalls as possible; from the first
/// datagram the kernel cannot take now, the rest are queued behind it.
pub(crate) fn send_many(
    sock: &Arc<Socket>,
    shared: &Arc<Shared>,
    items: &[Item<'_>],
    behind: bool,
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(items.len());
    // Once one of these is queued, the rest wait behind it even if the drain
    // thread empties the queue meanwhile: its completion reaches JS later
    // than a write made now would, and callbacks must come in send order.
    let mut behind = behind;
    let mut i = 0;
    while i < items.len() {
        if !may_try_now(shared, behind) {
            let (data, dest) = items[i];
            out.push(enqueue(sock, shared, data, dest, None));
            behind = true;
            i += 1;
            continue;
        }
        let (written, err) = send::write_burst(SockRef::from(&**sock), &shared.gso, &items[i..]);
        out.extend(
            items[i..i + written]
                .iter()
                .map(|(d, _)| Outcome::Sent(d.len())),
        );
        i += written;
        match err {
            None => {}
            Some(e) if send::must_wait(&e) => {
                let (data, dest) = items[i];
                out.push(enqueue(sock, shared, data, dest, None));
                behind = true;
                i += 1;
            }
            Some(e) => {
                out.push(Outcome::Failed(e));
                i += 1;
            }
        }
    }
    out
}

fn enqueue(
    sock: &Arc<Socket>,
    shared: &Arc<Shared>,
    data: &[u8],
    dest: Option<SocketAddr>,
    source: Option<Source>,
) -> Outcome {
    shared.queued_count.fetch_add(1, Ordering::AcqRel);
    let start = {
        let mut q = lock(&shared.queue);
        q.items.push_back(Queued {
            data: data.to_vec(),
            dest,
            source,
        });
        !std::mem::replace(&mut q.draining, true)
    };
    if start {
        if let Err(e) = spawn_drain(sock, shared) {
            // Nowhere to drain it: undo, and fail this one.
            let mut q = lock(&shared.queue);
            q.items.pop_back();
            q.draining = false;
            drop(q);
            shared.queue_completed();
            return Outcome::Failed(e);
        }
    }
    Outcome::Queued
}

/// Runs a queue's drain on a blocking thread of the runtime, or, when the
/// runtime cannot start (no descriptor left for its epoll: EMFILE) or gets
/// no thread, on a thread of its own: the drain needs no descriptor, and
/// libuv queues such a send too. Fails (EAGAIN) only if the OS refuses
/// that thread as well.
///
/// A spawn that tokio refused may still run its task later
/// (`runtime::spawn_blocking`): the claim makes sure exactly one run
/// drains, and none once a failure was reported: two drains of one queue
/// would reorder its datagrams.
fn spawn_drain(sock: &Arc<Socket>, shared: &Arc<Shared>) -> io::Result<()> {
    let claim = Arc::new(AtomicBool::new(false));
    let task = || {
        let (sock, shared, claim) = (Arc::downgrade(sock), shared.clone(), claim.clone());
        move || {
            if !claim.swap(true, Ordering::AcqRel) {
                drain(sock, shared);
            }
        }
    };
    if crate::drivers::runtime::spawn_blocking(shared, task()).is_ok() {
        return Ok(());
    }
    let task = task();
    let spawned = std::thread::Builder::new()
        .name("dgram-rs-send".into())
        .spawn(move || {
            crate::sys::block_process_signals();
            task();
        })
        .map(drop);
    if spawned.is_err() {
        claim.store(true, Ordering::Release);
    }
    spawned
}

/// Takes the next queued datagram, or marks the queue idle and lets its
/// waker go (the next drain makes one): in one step under both locks,
/// taken in `cancel_all`'s order, so that a drain started by a send right
/// after cannot have its waker taken by this one's end.
fn next_queued(shared: &Shared) -> Option<Queued> {
    let mut writing = lock(&shared.writing);
    let mut q = lock(&shared.queue);
    let item = q.items.pop_front();
    if item.is_none() {
        q.draining = false;
        writing.take();
    }
    item
}

/// Writes queued datagrams in order as the socket becomes writable, on a
/// blocking thread of the runtime (waiting with `poll(POLLOUT)`: a reactor
/// registration for writability would wake the runtime at every send).
fn drain(sock: Weak<Socket>, shared: Arc<Shared>) {
    while let Some(item) = next_queued(&shared) {
        let dest = item.dest.map(SockAddr::from);
        // Held only while writing: closing never waits for this thread long.
        let Some(sock) = sock.upgrade() else {
            return;
        };
        let written = write_queued(&sock, &shared, &item, dest.as_ref());
        drop(sock);
        if !written {
            return; // cancelled by close()
        }
    }
}

/// Writes one queued datagram, waiting for room, and reports its outcome;
/// false if `close()` cancelled it first. The write and its report happen
/// under `Shared::writing`, which `cancel_all` takes too: a datagram is
/// either written and reported, or cancelled (ECANCELED) and never written,
/// as libuv, which writes on the thread that closes.
fn write_queued(
    sock: &Socket,
    shared: &Arc<Shared>,
    item: &Queued,
    dest: Option<&SockAddr>,
) -> bool {
    let complete = |result: io::Result<usize>| {
        shared.queue_completed();
        shared.post(Event::SendDone(result));
        true
    };
    // Written only when the kernel reports room (or first), as libuv
    // writes its queue when the socket polls writable: not at each timeout
    // of the wait, which would let datagrams out sooner than Node's.
    let mut try_write = true;
    // After ENOBUFS the socket polls writable while the datagram still does
    // not fit: libuv tries again at each loop turn; here after a pause that
    // doubles from NO_BUFFER_PAUSE_MIN to NO_BUFFER_PAUSE_MAX (zero while
    // the kernel says room): what frees the buffer (earlier datagrams
    // leaving the interface) takes microseconds on a busy link, and a
    // datagram that can never fit should not keep a core busy.
    let mut pause = Duration::ZERO;
    loop {
        let wake = {
            let mut writing = lock(&shared.writing);
            if shared.is_stopped() {
                return false;
            }
            if try_write {
                // A connected socket's pending ICMP error (ECONNREFUSED …):
                // libuv reads before it writes, so a receiving socket's
                // error comes out as 'error' (recvmsg), not in this write.
                if dest.is_none() && shared.receiving.load(Ordering::Acquire) {
                    if let Ok(Some(e)) = sock.take_error() {
                        shared.post(Event::RecvError(e));
                    }
                }
                match send::send_once(SockRef::from(sock), &item.data, dest, item.source) {
                    Err(e) if send::no_buffer_space(&e) => {
                        pause = (pause * 2).clamp(NO_BUFFER_PAUSE_MIN, NO_BUFFER_PAUSE_MAX);
                    }
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            || e.kind() == io::ErrorKind::Interrupted =>
                    {
                        pause = Duration::ZERO;
                    }
                    result => return complete(result),
                }
            }
            // Made under the lock, so that a close() after it finds it.
            if writing.is_none() {
                *writing = crate::sys::Wake::new().ok().map(Arc::new);
            }
            writing.clone()
        };
        // Waiting without the lock: close() wakes this wait (or, with no
        // waker, shuts an unshared socket down; see `cancel_all`), and the
        // next round sees it stopped; connect(), disconnect() and a new
        // send buffer size wake it too (`wake_writer`), as they change
        // what the write gives.
        let waited = if !pause.is_zero() {
            crate::sys::wait_woken(wake.as_deref(), pause).map(|()| true)
        } else {
            crate::sys::wait_writable(sock, wake.as_deref(), 50)
        };
        if let Some(w) = &wake {
            w.clear();
        }
        match waited {
            Ok(ready) => try_write = ready,
            Err(e) => {
                let _writing = lock(&shared.writing);
                if shared.is_stopped() {
                    return false;
                }
                return complete(Err(e));
            }
        }
    }
}

/// The pauses between two tries of a datagram refused with ENOBUFS.
const NO_BUFFER_PAUSE_MIN: Duration = Duration::from_micros(100);
const NO_BUFFER_PAUSE_MAX: Duration = Duration::from_millis(8);

/// The socket was connected or disconnected, or its send buffer resized:
/// a queued datagram waiting for room is tried again now (what it gets may
/// have changed: libuv's next try, at its next loop turn, sees the new
/// state).
pub(crate) fn wake_writer(shared: &Shared) {
    if let Some(w) = lock(&shared.writing).as_ref() {
        w.wake();
    }
}

/// Drops every queued send (on close) and returns how many were still
/// pending (one waiting for room included), and whether a drain thread is
/// at work that could not be woken (no waker: Windows, or none could be
/// made). Stops the socket's tasks first, under `Shared::writing`, so
/// that no queued datagram is written after this returns, and wakes a
/// drain thread waiting for room, which then lets go of the socket. JS
/// calls that many of its newest pending callbacks with `ECANCELED`, as
/// libuv cancels the requests it has not written; the ones before them
/// completed and get their outcome.
pub(crate) fn cancel_all(shared: &Shared) -> (usize, bool) {
    // Not while a queued datagram is being written: after this, none is.
    let mut writing = lock(&shared.writing);
    shared.stop();
    let woken = writing.take().inspect(|w| w.wake()).is_some();
    let mut q = lock(&shared.queue);
    q.items.clear();
    (
        shared.queued_count.swap(0, Ordering::AcqRel),
        q.draining && !woken,
    )
}
