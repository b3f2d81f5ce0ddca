//! The send path: try the non-blocking syscall on the calling (JS) thread;
//! only when the kernel says `WouldBlock` (or earlier sends still wait)
//! copy the datagram into the socket's queue, drained by a runtime task.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use socket2::{SockAddr, SockRef};
use tokio::net::UdpSocket;

use crate::error;
use crate::shared::{lock, Event, EventSink, Queued, Shared};

/// What `send` did with a datagram.
pub(crate) enum Sent {
    /// Handed to the kernel now: this many bytes.
    Now(usize),
    /// Queued; a `SendDone` event reports it later.
    Queued,
}

/// One non-blocking send, retried on `EINTR`.
fn try_send(sock: &UdpSocket, data: &[u8], dest: Option<&SockAddr>) -> io::Result<usize> {
    let s = SockRef::from(sock);
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
    sock: &Arc<UdpSocket>,
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
        rt.spawn(drain(sock.clone(), shared.clone(), sink.clone(), guard));
    }
    Ok(Sent::Queued)
}

/// Writes queued datagrams in order as the socket becomes writable.
async fn drain(sock: Arc<UdpSocket>, shared: Arc<Shared>, sink: Arc<EventSink>, _guard: crate::shared::TaskGuard) {
    let mut stop = shared.stop_signal();
    loop {
        let item = {
            let mut q = lock(&shared.queue);
            match q.items.pop_front() {
                Some(item) => item,
                None => {
                    q.draining = false;
                    return;
                }
            }
        };
        let result = tokio::select! {
            r = async {
                match item.dest {
                    Some(to) => sock.send_to(&item.data, to).await,
                    None => sock.send(&item.data).await,
                }
            } => r,
            _ = stop.changed() => return,
        };
        shared.queue_completed(item.data.len());
        let event = match result {
            Ok(n) => Event::SendDone { bytes: n as u32, error: None },
            Err(e) => Event::SendDone {
                bytes: item.data.len() as u32,
                error: Some(error::code_of(&e)),
            },
        };
        if sink.call(event, ThreadsafeFunctionCallMode::NonBlocking) != napi::Status::Ok {
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
