//! The send path: try the non-blocking syscall on the calling (JS) thread;
//! only when the kernel says `WouldBlock` (or earlier sends still wait)
//! copy the datagram into the socket's queue, drained by a runtime task.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use socket2::{SockAddr, SockRef};

use crate::error;
use crate::io::IoSocket;
use crate::shared::{lock, Envelope, Event, EventSink, Queued, Shared};

/// What `send` did with a datagram.
pub(crate) enum Sent {
    /// Handed to the kernel now: this many bytes.
    Now(usize),
    /// Queued; a `SendDone` event reports it later.
    Queued,
}

/// A local source address (and interface index, 0 for any) to send from,
/// instead of the one the kernel would pick (`sendFrom`).
pub(crate) type Source = (IpAddr, u32);

/// One non-blocking send, retried on `EINTR`.
pub(crate) fn send_once(
    s: SockRef<'_>,
    data: &[u8],
    dest: Option<&SockAddr>,
    source: Option<Source>,
) -> io::Result<usize> {
    if let Some((ip, ifindex)) = source {
        #[cfg(target_os = "linux")]
        return crate::sys::send_from(&*s, data, dest, ip, ifindex);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (ip, ifindex);
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
    }
    loop {
        let r = match dest {
            Some(a) => s.send_to(data, a),
            None => s.send(data),
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// What happened to one datagram of a `send_many` batch.
pub(crate) enum Outcome {
    Sent(usize),
    Queued,
    Failed(io::Error),
}

/// Payload bytes one GSO send may carry (below the 64 KiB IP limit).
#[cfg(target_os = "linux")]
const GSO_MAX_BYTES: usize = 60_000;

/// Sends a batch of datagrams in order. On Linux, runs of datagrams of one
/// size to one destination go out in a single UDP GSO `sendmsg` (the kernel
/// splits them back into datagrams), the datagrams between such runs in one
/// `sendmmsg`; a datagram the kernel refuses there goes through `send`
/// alone, which attributes its error or queues it, and the rest follow.
pub(crate) fn send_many(
    sock: &Arc<IoSocket>,
    shared: &Arc<Shared>,
    items: &[(&[u8], Option<SocketAddr>)],
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(items.len());
    let mut i = 0;
    while i < items.len() {
        #[cfg(target_os = "linux")]
        {
            let run = gso_run(shared, &items[i..]);
            if run >= 2 && send_run_gso(sock, shared, &items[i..i + run]) {
                out.extend(
                    items[i..i + run]
                        .iter()
                        .map(|(d, _)| Outcome::Sent(d.len())),
                );
                i += run;
                continue;
            }
            // The items up to the next GSO run, in one sendmmsg.
            let mut end = i + 1;
            while end < items.len() && end - i < MMSG_MAX && gso_run(shared, &items[end..]) < 2 {
                end += 1;
            }
            if end - i >= 2 && shared.queued_count.load(Ordering::Acquire) == 0 {
                let batch: Vec<(&[u8], Option<SockAddr>)> = items[i..end]
                    .iter()
                    .map(|(d, a)| (*d, a.map(SockAddr::from)))
                    .collect();
                if let Ok(n) = crate::sys::send_batch(&*sock.sock(), &batch) {
                    out.extend(items[i..i + n].iter().map(|(d, _)| Outcome::Sent(d.len())));
                    i += n;
                    if n > 0 {
                        continue;
                    }
                }
            }
        }
        let (data, dest) = items[i];
        out.push(match send(sock, shared, data, dest, None) {
            Ok(Sent::Now(n)) => Outcome::Sent(n),
            Ok(Sent::Queued) => Outcome::Queued,
            Err(e) => Outcome::Failed(e),
        });
        i += 1;
    }
    out
}

/// Datagrams per `sendmmsg` (the kernel's `UIO_MAXIOV`).
#[cfg(target_os = "linux")]
const MMSG_MAX: usize = 1024;

/// How many leading items qualify for one GSO send: same destination, the
/// same non-zero size (the last may be shorter), within the kernel limits.
#[cfg(target_os = "linux")]
fn gso_run(shared: &Shared, items: &[(&[u8], Option<SocketAddr>)]) -> usize {
    let Some((first, dest)) = items.first() else {
        return 0;
    };
    let size = first.len();
    if size == 0
        || size >= shared.gso_refused_size.load(Ordering::Relaxed)
        || shared.queued_count.load(Ordering::Acquire) > 0
    {
        return 0;
    }
    let mut n = 0;
    let mut bytes = 0;
    for (data, d) in items.iter().take(crate::sys::GSO_MAX_SEGMENTS) {
        if d != dest || data.len() > size || bytes + data.len() > GSO_MAX_BYTES {
            break;
        }
        n += 1;
        bytes += data.len();
        if data.len() < size {
            break; // a shorter datagram can only end a run
        }
    }
    n
}

/// Tries one GSO send of `run`; false means "send these one by one".
#[cfg(target_os = "linux")]
fn send_run_gso(sock: &IoSocket, shared: &Shared, run: &[(&[u8], Option<SocketAddr>)]) -> bool {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let size = run[0].0.len();
    let dest = run[0].1.map(SockAddr::from);
    let result = SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        for (data, _) in run {
            buf.extend_from_slice(data);
        }
        crate::sys::send_gso(&*sock.sock(), &buf, size as u16, dest.as_ref())
    });
    match result {
        Ok(_) => true,
        Err(e) => {
            // Not WouldBlock: the kernel refuses GSO for this size (no GSO
            // support, or segments larger than the route allows). Remember,
            // so that sizes this large are not tried again on this socket.
            if e.kind() != io::ErrorKind::WouldBlock {
                shared.gso_refused_size.fetch_min(size, Ordering::Relaxed);
            }
            false
        }
    }
}

/// Sends now if possible, else queues (keeping order with earlier sends).
pub(crate) fn send(
    sock: &Arc<IoSocket>,
    shared: &Arc<Shared>,
    data: &[u8],
    dest: Option<SocketAddr>,
    source: Option<Source>,
) -> io::Result<Sent> {
    if shared.queued_count.load(Ordering::Acquire) == 0 {
        let to = dest.map(SockAddr::from);
        match send_once(sock.sock(), data, to.as_ref(), source) {
            Ok(n) => return Ok(Sent::Now(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    shared.queued_count.fetch_add(1, Ordering::AcqRel);
    shared.queued_bytes.fetch_add(data.len(), Ordering::AcqRel);
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
        let rt = crate::runtime::handle()?;
        let sink = crate::env::sink(shared).map_err(|e| io::Error::other(e.reason.clone()))?;
        let (sock, shared) = (Arc::downgrade(sock), shared.clone());
        #[cfg(unix)]
        rt.spawn_blocking(move || drain(sock, shared, sink));
        #[cfg(not(unix))]
        rt.spawn(drain(sock, shared, sink));
    }
    Ok(Sent::Queued)
}

/// Takes the next queued datagram, or marks the queue idle.
fn next_queued(shared: &Shared) -> Option<Queued> {
    let mut q = lock(&shared.queue);
    let item = q.items.pop_front();
    if item.is_none() {
        q.draining = false;
    }
    item
}

/// Reports one completed queued send to JS; false when JS is gone.
fn report(shared: &Arc<Shared>, sink: &EventSink, len: usize, result: io::Result<usize>) -> bool {
    shared.queue_completed(len);
    let event = match result {
        Ok(n) => Event::SendDone {
            bytes: n as u32,
            error: None,
        },
        Err(e) => Event::SendDone {
            bytes: len as u32,
            error: Some(error::code_of(&e)),
        },
    };
    let envelope = Envelope {
        shared: shared.clone(),
        event,
    };
    sink.call(envelope, ThreadsafeFunctionCallMode::NonBlocking) == napi::Status::Ok
}

/// Writes queued datagrams in order as the socket becomes writable (on a
/// blocking thread, see `io.rs` for why).
#[cfg(unix)]
fn drain(sock: Weak<IoSocket>, shared: Arc<Shared>, sink: Arc<EventSink>) {
    while let Some(item) = next_queued(&shared) {
        let dest = item.dest.map(SockAddr::from);
        // Held weakly (see recv::run): closing never waits for this thread.
        let Some(sock) = sock.upgrade() else {
            return;
        };
        let result = sock.send_waiting(
            |s| send_once(s, &item.data, dest.as_ref(), item.source),
            || shared.is_stopped(),
        );
        drop(sock);
        if shared.is_stopped() || !report(&shared, &sink, item.data.len(), result) {
            return;
        }
    }
}

#[cfg(not(unix))]
async fn drain(sock: Weak<IoSocket>, shared: Arc<Shared>, sink: Arc<EventSink>) {
    while let Some(item) = next_queued(&shared) {
        let Some(sock) = sock.upgrade() else {
            return;
        };
        let result = tokio::select! {
            r = sock.send_async(&item.data, item.dest, item.source) => r,
            _ = shared.stopped() => return,
        };
        if !report(&shared, &sink, item.data.len(), result) {
            return;
        }
    }
}

/// Drops every queued send (on close) and returns how many were still
/// pending (the one being written included), and whether a drain thread is
/// writing them. JS calls that many of its newest pending callbacks with
/// `ECANCELED`, as libuv cancels the requests it has not written; the ones
/// before them completed and get their bytes.
pub(crate) fn cancel_all(shared: &Shared) -> (usize, bool) {
    let mut q = lock(&shared.queue);
    q.items.clear();
    shared.queued_bytes.store(0, Ordering::Release);
    (shared.queued_count.swap(0, Ordering::AcqRel), q.draining)
}
