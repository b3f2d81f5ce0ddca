//! The idle receive path: the JS thread's own event loop watches the socket
//! (a libuv poll handle) and, when it is readable, the JS thread reads a
//! batch itself and hands it to its `Sink` in the same callback: one
//! wake-up of one thread per batch, as node:dgram has.
//!
//! When a read finds more waiting than one batch, the JS thread is falling
//! behind: the poller stops watching and tells the sink it is `busy`, which
//! hands the socket to the runtime's read-ahead (`drivers::runtime`). The
//! runtime hands it back later and `watch` resumes here. Only one of the
//! two reads the socket at any time, so datagrams stay in order.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use socket2::Socket;

use crate::core::recv::{self, Batch, Drained};
use crate::drivers::shared::Shared;
use crate::sys::uv;

/// Datagrams the JS thread reads per wake-up before it calls the socket
/// busy (two full `recvmmsg` on Linux). libuv reads up to 32.
pub(crate) const JS_BATCH: usize = 2 * recv::SLOTS;

/// Where a socket's received data goes (the napi edge). Each call runs JS;
/// `false` means the socket stopped receiving meanwhile (a listener closed
/// it), so nothing more may be read in this callback.
pub(crate) trait Sink {
    fn batch(&self, batch: Batch) -> bool;
    fn error(&self, err: io::Error) -> bool;
    /// More is waiting than the JS thread reads per wake-up: the poller
    /// stopped watching; the sink starts read-ahead.
    fn busy(&self);
}

/// Reads one batch now, without blocking, with the socket's options.
pub(crate) fn read_batch(sock: &Socket, shared: &Shared, max_datagrams: usize) -> Drained {
    let block = shared.receive_block_list();
    let opts = recv::Options {
        block: block.as_deref(),
        with_dest: shared.recv_dest.load(std::sync::atomic::Ordering::Relaxed),
        max_datagrams,
    };
    #[cfg(target_os = "linux")]
    return recv::drain(&mut |arena| arena.read(sock), &opts);
    #[cfg(not(target_os = "linux"))]
    return recv::drain(
        &mut |arena| arena.read(&socket2::SockRef::from(sock)),
        &opts,
    );
}

struct Inner {
    poll: RefCell<Option<uv::Poll>>,
    sock: std::sync::Weak<Socket>,
    shared: Arc<Shared>,
    sink: RefCell<Option<Weak<dyn Sink>>>,
    watching: Cell<bool>,
}

/// One socket's poll handle on the JS thread's loop.
pub(crate) struct Poller {
    inner: Rc<Inner>,
}

impl Poller {
    /// Creates the (idle) poll handle for `sock` on `lp`, this thread's
    /// loop. `EEXIST` if the loop already watches that descriptor.
    pub(crate) fn new(
        lp: *mut uv::Loop,
        sock: &Arc<Socket>,
        shared: Arc<Shared>,
    ) -> io::Result<Self> {
        let inner = Rc::new(Inner {
            poll: RefCell::new(None),
            sock: Arc::downgrade(sock),
            shared,
            sink: RefCell::new(None),
            watching: Cell::new(false),
        });
        let weak = Rc::downgrade(&inner);
        let poll = uv::Poll::new(lp, os_sock(sock), move |status| {
            if let Some(inner) = weak.upgrade() {
                on_readable(&inner, status);
            }
        })?;
        *inner.poll.borrow_mut() = Some(poll);
        Ok(Self { inner })
    }

    /// Who gets the data read here.
    pub(crate) fn set_sink(&self, sink: Weak<dyn Sink>) {
        *self.inner.sink.borrow_mut() = Some(sink);
    }

    /// Starts watching (idle mode).
    pub(crate) fn watch(&self) -> io::Result<()> {
        watch(&self.inner)
    }

    /// Stops watching (receiving stopped, or read-ahead took over).
    pub(crate) fn unwatch(&self) {
        unwatch(&self.inner);
    }

    pub(crate) fn set_ref(&self, on: bool) {
        if let Some(p) = self.inner.poll.borrow().as_ref() {
            p.set_ref(on);
        }
    }

    /// Closes the poll handle; `on_closed` runs in the loop's close phase.
    pub(crate) fn close(&self, on_closed: Option<Box<dyn FnOnce()>>) {
        self.inner.watching.set(false);
        self.inner.sink.borrow_mut().take();
        if let Some(p) = self.inner.poll.borrow_mut().take() {
            p.close(on_closed);
        } else if let Some(f) = on_closed {
            f();
        }
    }
}

fn watch(inner: &Inner) -> io::Result<()> {
    if let Some(p) = inner.poll.borrow().as_ref() {
        p.start()?;
        inner.watching.set(true);
    }
    Ok(())
}

fn unwatch(inner: &Inner) {
    if let Some(p) = inner.poll.borrow().as_ref() {
        p.stop();
    }
    inner.watching.set(false);
}

fn on_readable(inner: &Inner, status: io::Result<()>) {
    let sink = inner.sink.borrow().as_ref().and_then(Weak::upgrade);
    let (Some(sink), Some(sock)) = (sink, inner.sock.upgrade()) else {
        return;
    };
    // libuv stops a poll handle whose socket reports an error (a pending
    // ICMP report on a connected socket): the read below collects and
    // reports it, then watching resumes.
    let errored = status.is_err();
    let Drained { batch, error, more } = read_batch(&sock, &inner.shared, JS_BATCH);
    drop(sock);
    if let Some(batch) = batch {
        if !sink.batch(batch) {
            return;
        }
    }
    if let Some(err) = error {
        if !sink.error(err) {
            return;
        }
    }
    if !inner.watching.get() {
        return; // stopped by JS meanwhile
    }
    if more {
        unwatch(inner);
        sink.busy();
    } else if errored {
        if let Err(e) = watch(inner) {
            sink.error(e);
        }
    }
}

#[cfg(unix)]
fn os_sock(sock: &Socket) -> uv::OsSock {
    std::os::fd::AsRawFd::as_raw_fd(sock)
}

#[cfg(windows)]
fn os_sock(sock: &Socket) -> uv::OsSock {
    std::os::windows::io::AsRawSocket::as_raw_socket(sock) as uv::OsSock
}
