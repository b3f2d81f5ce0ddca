//! Linux: the sockets a JS thread reads are watched through one epoll
//! instance of ours, which the thread's loop watches with one libuv poll
//! handle, instead of through a libuv poll handle each.
//!
//! Why: a libuv poll handle costs four syscalls per socket that libuv's own
//! UDP handles do not make (`uv_poll_init` adds the descriptor to epoll and
//! deletes it again to check it, and sets it non-blocking again;
//! `uv_poll_start` first deletes it from epoll), about 4 µs here, a sixth
//! of a short-lived socket's life (create, bind, one request and its
//! answer, close: `bench --case churn-rt`). Here a socket costs what
//! node:dgram's costs: one `epoll_ctl` to start watching, one to stop.
//!
//! The price: when several sockets are registered, a wake-up of the loop
//! asks our epoll which of them are ready (one `epoll_wait` more than
//! libuv's own); with one socket (a client, a server on one port) it is
//! read directly. Sockets are served at our descriptor's place in the
//! loop's order of ready descriptors, in the order our epoll reports them,
//! which other handles of the process (node:dgram, node:net, IPC) ready in
//! the same turn can tell apart from libuv's (`__test__/DISCREPANCIES.md`
//! A55).
//!
//! Liveness: the libuv handle is ref'd while a registered socket is, so a
//! socket keeps the loop alive exactly while watched and not unref'd, as
//! its own started poll handle would. A socket whose watch is closed gets
//! one more loop turn through a closing handle, as libuv gives a closed
//! poll handle. Once no socket has been registered for
//! `IDLE_CLOSE`, the handle and the epoll descriptor are closed: an idle
//! program keeps nothing open of ours.

use crate::int_hash::IntMap;
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sys::{self, uv};

/// What a watched socket's readiness calls (the socket's reader).
pub(crate) type OnReady = Rc<dyn Fn(io::Result<()>)>;

/// How long the epoll and its libuv handle stay open without a socket
/// (milliseconds): a program that opens sockets one after another (a
/// request socket each) reuses them.
const IDLE_CLOSE: u64 = 1000;

/// How many times one wake-up asks our epoll again while each answer is
/// full (libuv's count for its own `epoll_wait`).
const MAX_ROUNDS: usize = 48;

/// Each watch's token, for its whole life (a watch stopped and started
/// again inside one wake-up keeps its place in that wake-up's ready list,
/// as a libuv handle's descriptor does); never reused, so a closed
/// socket's token is never taken for another's.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

/// One thread's epoll and the libuv handle that watches it.
struct LoopEpoll {
    lp: *mut uv::Loop,
    epoll: sys::Epoll,
    poll: RefCell<Option<uv::Poll>>,
    idle_timer: RefCell<Option<uv::Timer>>,
    /// The registered sockets' readers, by token.
    watched: RefCell<IntMap<u64, OnReady>>,
    /// Registered sockets that keep the loop alive.
    refs: Cell<usize>,
    /// Reused by each wake-up's `epoll_wait`.
    ready: RefCell<Vec<u64>>,
    /// Closed (idle, or the environment's teardown): a new one is opened
    /// for the next socket.
    shut: Cell<bool>,
}

/// Makes the close callback of one handle being closed at teardown.
pub(crate) type CloseOne<'a> = &'a dyn Fn() -> Box<dyn FnOnce()>;

thread_local! {
    static LOOP_EPOLL: RefCell<Option<Rc<LoopEpoll>>> = const { RefCell::new(None) };
}

/// This thread's epoll, opened on first use with `lp`, the thread's loop.
fn loop_epoll(lp: *mut uv::Loop) -> io::Result<Rc<LoopEpoll>> {
    if let Some(ep) = LOOP_EPOLL.with(|l| l.borrow().clone()) {
        if ep.lp == lp {
            return Ok(ep);
        }
        // One loop per thread: another loop here would be a bug of ours.
        return Err(io::Error::other(
            "dgram-rs: a second event loop on one thread",
        ));
    }
    let ep = Rc::new(LoopEpoll {
        lp,
        epoll: sys::Epoll::new()?,
        poll: RefCell::new(None),
        idle_timer: RefCell::new(None),
        watched: RefCell::new(IntMap::default()),
        refs: Cell::new(0),
        ready: RefCell::new(Vec::with_capacity(sys::EPOLL_BATCH)),
        shut: Cell::new(false),
    });
    let weak = Rc::downgrade(&ep);
    let poll = uv::Poll::new(lp, ep.epoll.raw(), move |_| {
        if let Some(ep) = weak.upgrade() {
            dispatch(&ep);
        }
    })?;
    // Started for its whole life (restarting takes it out of the loop's
    // epoll and puts it back): an empty epoll is never readable, and an
    // unref'd handle keeps nothing alive.
    poll.set_ref(false);
    if let Err(e) = poll.start() {
        poll.close(None);
        return Err(e);
    }
    *ep.poll.borrow_mut() = Some(poll);
    LOOP_EPOLL.with(|l| *l.borrow_mut() = Some(ep.clone()));
    Ok(ep)
}

/// The loop found our epoll readable: call the ready sockets' readers.
/// Each may run JS, which may register, stop or close sockets: no borrow
/// is held across a call, and a token whose socket is not watched (any
/// more) is skipped.
///
/// Our epoll is asked when the loop comes to our descriptor, not when the
/// loop polled: a socket that an earlier callback of this poll phase made
/// readable (a send from another handle of the process) is read in this
/// turn, where libuv would read it in the next (`__test__/DISCREPANCIES.md`
/// A55).
fn dispatch(ep: &Rc<LoopEpoll>) {
    let single = {
        let watched = ep.watched.borrow();
        (watched.len() == 1).then(|| watched.values().next().cloned())
    };
    if let Some(Some(on_ready)) = single {
        // The only socket registered is the one that is ready. (A pending
        // socket error is readiness too; the read collects and reports it.)
        on_ready(Ok(()));
        return;
    }
    let mut tokens = std::mem::take(&mut *ep.ready.borrow_mut());
    for _ in 0..MAX_ROUNDS {
        if ep.epoll.ready(&mut tokens).is_err() {
            break;
        }
        for token in &tokens {
            let on_ready = ep.watched.borrow().get(token).cloned();
            if let Some(on_ready) = on_ready {
                on_ready(Ok(()));
            }
        }
        if tokens.len() < sys::EPOLL_BATCH {
            break;
        }
    }
    *ep.ready.borrow_mut() = tokens;
}

impl LoopEpoll {
    /// A registered socket starts (`+1`) or stops (`-1`) keeping the loop
    /// alive.
    fn shift_refs(&self, delta: isize) {
        if let Some(any) = super::shift(&self.refs, delta) {
            if let Some(p) = self.poll.borrow().as_ref() {
                p.set_ref(any);
            }
        }
    }

    /// The last socket left: close everything if none comes back soon.
    fn arm_idle_close(self: &Rc<Self>) {
        if self.shut.get() {
            return;
        }
        if self.idle_timer.borrow().is_none() {
            let weak = Rc::downgrade(self);
            let Ok(timer) = uv::Timer::new(self.lp, move || {
                if let Some(ep) = weak.upgrade() {
                    if ep.watched.borrow().is_empty() {
                        ep.shut(None);
                    }
                }
            }) else {
                return; // out of memory: stays open until teardown
            };
            timer.set_ref(false);
            *self.idle_timer.borrow_mut() = Some(timer);
        }
        if let Some(t) = self.idle_timer.borrow().as_ref() {
            let _ = t.start(IDLE_CLOSE);
        }
    }

    /// Closes the libuv handles (the epoll descriptor goes with the last
    /// reference); at teardown, `close_one` makes each one's close callback.
    fn shut(&self, close_one: Option<CloseOne<'_>>) {
        self.shut.set(true);
        LOOP_EPOLL.with(|l| {
            let mut l = l.borrow_mut();
            if l.as_ref().is_some_and(|ep| std::ptr::eq(&**ep, self)) {
                l.take();
            }
        });
        if let Some(t) = self.idle_timer.borrow_mut().take() {
            t.close(close_one.map(|f| f()));
        }
        if let Some(p) = self.poll.borrow_mut().take() {
            p.close(close_one.map(|f| f()));
        }
    }
}

/// The teardown of the thread's last environment: closes the thread's
/// epoll and its handles, each handle's close callback made by `close_one`.
pub(crate) fn teardown(close_one: CloseOne<'_>) {
    if let Some(ep) = LOOP_EPOLL.with(|l| l.borrow().clone()) {
        ep.watched.borrow_mut().clear();
        ep.shut(Some(close_one));
    }
}

/// One socket's watch through the thread's epoll: the interface of
/// `uv::Poll` (start, stop, ref, close), one `epoll_ctl` per start and
/// per stop.
pub(crate) struct EpollWatch {
    lp: *mut uv::Loop,
    fd: RawFd,
    token: u64,
    on_ready: OnReady,
    refd: Cell<bool>,
    /// While watched: the epoll it is registered with.
    registered: RefCell<Option<Rc<LoopEpoll>>>,
}

impl EpollWatch {
    /// A (stopped) watch of `fd` for the loop `lp` (this thread's). Makes
    /// no syscall: the epoll is opened or joined at `start`.
    pub(crate) fn new(
        lp: *mut uv::Loop,
        fd: RawFd,
        on_ready: impl Fn(io::Result<()>) + 'static,
    ) -> Self {
        Self {
            lp,
            fd,
            token: NEXT_TOKEN.fetch_add(1, Ordering::Relaxed),
            on_ready: Rc::new(on_ready),
            refd: Cell::new(true),
            registered: RefCell::new(None),
        }
    }

    pub(crate) fn start(&self) -> io::Result<()> {
        if self.registered.borrow().is_some() {
            return Ok(());
        }
        let ep = loop_epoll(self.lp)?;
        if let Err(e) = ep.epoll.add(self.fd, self.token) {
            if ep.watched.borrow().is_empty() {
                ep.arm_idle_close(); // (a new epoll nobody else uses)
            }
            return Err(e);
        }
        ep.watched
            .borrow_mut()
            .insert(self.token, self.on_ready.clone());
        if self.refd.get() {
            ep.shift_refs(1);
        }
        *self.registered.borrow_mut() = Some(ep);
        Ok(())
    }

    pub(crate) fn stop(&self) {
        let Some(ep) = self.registered.borrow_mut().take() else {
            return;
        };
        // (Fails only if the descriptor is gone, which takes it out anyway.)
        let _ = ep.epoll.delete(self.fd);
        let now_empty = {
            let mut watched = ep.watched.borrow_mut();
            watched.remove(&self.token);
            watched.is_empty()
        };
        if self.refd.get() {
            ep.shift_refs(-1);
        }
        if now_empty {
            ep.arm_idle_close();
        }
    }

    /// A (stopped) libuv poll handle of the socket's own with the same
    /// reader, for when the thread's epoll cannot be opened.
    pub(crate) fn own_poll(&self) -> io::Result<uv::Poll> {
        let on_ready = self.on_ready.clone();
        uv::Poll::new(self.lp, self.fd, move |status| on_ready(status))
    }

    /// Whether the watch keeps the loop alive while started.
    pub(crate) fn set_ref(&self, on: bool) {
        if self.refd.replace(on) == on {
            return;
        }
        if let Some(ep) = self.registered.borrow().as_ref() {
            ep.shift_refs(if on { 1 } else { -1 });
        }
    }

    /// Stops watching; `on_closed` runs in the loop's close phase, which
    /// keeps the loop for one more turn, as a closing libuv handle does.
    pub(crate) fn close(self, on_closed: Option<Box<dyn FnOnce()>>) {
        self.stop();
        let f = on_closed.unwrap_or_else(|| Box::new(|| {}));
        // Out of memory for a handle: no extra turn, `f` now.
        if let Err(f) = uv::close_phase(self.lp, f) {
            f();
        }
    }
}

impl Drop for EpollWatch {
    /// A watch dropped without `close` (its socket's reader went away)
    /// must not leave a registration behind: the level-triggered epoll
    /// would report the socket for ever.
    fn drop(&mut self) {
        self.stop();
    }
}
