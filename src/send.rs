//! The send path: try the non-blocking syscall on the calling (JS) thread;
//! only when the kernel says `WouldBlock` (or earlier sends still wait)
//! copy the datagram into the socket's queue, drained by a runtime task.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use socket2::SockAddr;

use crate::error;
use crate::io::IoSocket;
use crate::shared::{lock, Event, EventSink, Queued, Shared, TaskGuard};

/// What `send` did with a datagram.
pub(crate) enum Sent {
    /// Handed to the kernel now: this many bytes.
    Now(usize),
    /// Queued; a `SendDone` event reports it later.
    Queued,
}

/// One non-blocking send, retried on `EINTR`.
fn try_send(sock: &IoSocket, data: &[u8], dest: Option<&SockAddr>) -> io::Result<usize> {
    let s = sock.sock();
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

/// Sends now if possible, else queues (keeping order with earlier sends).
pub(crate) fn send(
    sock: &Arc<IoSocket>,
    shared: &Arc<Shared>,
    sink: &Arc<EventSink>,
    data: &[u8],
    dest: Option<SocketAddr>,
) -> io::Result<Sent> {
    if shared.queued_count.load(Ordering::Acquire) == 0 {
        let to = dest.map(SockAddr::from);
        match try_send(sock, data, to.as_ref()) {
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
        });
        !std::mem::replace(&mut q.draining, true)
    };
    if start {
        let guard = shared.task_started();
        let rt = crate::runtime::handle()?;
        let (sock, shared, sink) = (sock.clone(), shared.clone(), sink.clone());
        #[cfg(unix)]
        rt.spawn_blocking(move || drain(sock, shared, sink, guard));
        #[cfg(not(unix))]
        rt.spawn(drain(sock, shared, sink, guard));
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
fn report(shared: &Shared, sink: &EventSink, len: usize, result: io::Result<usize>) -> bool {
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
    sink.call(event, ThreadsafeFunctionCallMode::NonBlocking) == napi::Status::Ok
}

/// Writes queued datagrams in order as the socket becomes writable (on a
/// blocking thread, see `io.rs` for why).
#[cfg(unix)]
fn drain(sock: Arc<IoSocket>, shared: Arc<Shared>, sink: Arc<EventSink>, _guard: TaskGuard) {
    while let Some(item) = next_queued(&shared) {
        let dest = item.dest.map(SockAddr::from);
        let result = sock.send_waiting(&item.data, dest.as_ref(), || shared.is_stopped());
        if shared.is_stopped() || !report(&shared, &sink, item.data.len(), result) {
            return;
        }
    }
}

#[cfg(not(unix))]
async fn drain(sock: Arc<IoSocket>, shared: Arc<Shared>, sink: Arc<EventSink>, _guard: TaskGuard) {
    let mut stop = shared.stop_signal();
    while let Some(item) = next_queued(&shared) {
        let result = tokio::select! {
            r = sock.send_async(&item.data, item.dest) => r,
            _ = stop.changed() => return,
        };
        if !report(&shared, &sink, item.data.len(), result) {
            return;
        }
    }
}

/// Drops every queued send (on close) and returns how many there were.
pub(crate) fn cancel_all(shared: &Shared) -> usize {
    let mut q = lock(&shared.queue);
    let n = q.items.len();
    q.items.clear();
    shared.queued_count.store(0, Ordering::Release);
    shared.queued_bytes.store(0, Ordering::Release);
    n
}
