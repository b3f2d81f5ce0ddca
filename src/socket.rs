//! The JS-thread side of one socket: its OS socket, which of the two
//! receive drivers reads it, what keeps the event loop alive for it, and
//! the events it hands to JS.
//!
//! Receive modes: `Stopped`; `Watching`, the JS loop watches the socket
//! (its poll handle, or the thread's shared epoll) and the JS thread reads
//! it (`drivers::js_loop`); `ReadAhead`, the runtime reads it
//! (`drivers::runtime`) until it hands it back.
//!
//! At most 32 messages are emitted per socket per loop turn, as libuv reads
//! at most 32 datagrams per turn: JS keeps the rest of a larger batch
//! (`held`), the thread's idle handle brings the socket back on the next
//! turn for the next 32 (`take_events`), and nothing more is read or
//! delivered for it until JS has emitted them all (the poller pauses).
//!
//! Liveness, as Node's rules: a socket keeps the process alive while it is
//! receiving and ref'd, or while sends wait in its queue. While watching,
//! that is its watch (`uv_ref`/`uv_unref` on its poll handle, or its count
//! on the thread's shared one); while reading ahead, holding a batch or
//! with queued sends, it is counted on the thread's async handle.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use socket2::Socket;

use crate::core::recv::Batch;
use crate::core::send::{Item, Source};
use crate::deliver;
use crate::drivers::js_loop::{Poller, Sharing, Sink, Taken};
use crate::drivers::runtime;
use crate::drivers::send::{self as sender, Outcome};
use crate::drivers::shared::{Event, Shared};
use crate::env::{ThreadSocket, ThreadState};
use crate::sys::napi::{AsyncContext, CallContext, RawEnv, RawValue, Ref};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Stopped,
    Watching,
    ReadAhead,
}

/// What `close` found of the socket's queued sends.
#[derive(Default)]
pub(crate) struct Closed {
    /// Sends not yet written: their callbacks get `ECANCELED`.
    pub(crate) cancelled: usize,
    /// Outcomes of sends that completed before the close, oldest first,
    /// whose events JS has not had.
    pub(crate) completed: Vec<io::Result<usize>>,
}

pub(crate) struct SocketCtx {
    pub(crate) env: RawEnv,
    /// Which event function (copy of index.js) events go to.
    pub(crate) handler: u32,
    pub(crate) thread: Rc<ThreadState>,
    me: Weak<SocketCtx>,
    pub(crate) shared: Arc<Shared>,
    sock: RefCell<Option<Arc<Socket>>>,
    /// The JS loop's watch on the socket: made when the socket is adopted
    /// (a shared descriptor: `EEXIST` must come at once), otherwise just
    /// before the loop first waits for I/O after `recvStart`, so that a
    /// socket closed in the turn it was bound (a short-lived one) costs its
    /// loop nothing, as with libuv's own deferred registration.
    poller: RefCell<Option<Poller>>,
    sharing: Cell<Sharing>,
    mode: Cell<Mode>,
    receiving: Cell<bool>,
    refd: Cell<bool>,
    closed: Cell<bool>,
    /// Datagrams at most left in the batch JS holds (it emitted 32 of it
    /// this turn), 0 when it holds none.
    held: Cell<usize>,
    /// A receive error read after the held batch, reported after it.
    held_error: RefCell<Option<io::Error>>,
    /// Sizes of the queued sends whose completion JS has not been told yet,
    /// oldest first (completions come in send order). As with libuv, a send
    /// counts as queued until its callback runs, not until it is written:
    /// `getSendQueueCount()`/`Size()` and the order of later sends go by it.
    unheard: RefCell<VecDeque<usize>>,
    unheard_bytes: Cell<usize>,
    /// Whether this socket counts as a user of the thread's async handle,
    /// and as keeping the loop alive through it.
    uses_async: Cell<bool>,
    keeps_alive: Cell<bool>,
    /// Waiting for the thread's prepare handle to start watching (see
    /// `poller`), and counted there as keeping the loop alive meanwhile.
    watch_pending: Cell<bool>,
    watch_counted: Cell<bool>,
    async_ctx: RefCell<Option<AsyncContext>>,
    /// The async id of `async_ctx`, where Node's C++ API made it (the
    /// handle's `getAsyncId()`).
    pub(crate) async_id: Option<f64>,
    /// The handle object (`this` of events), held while the socket is open.
    this_ref: RefCell<Option<Ref>>,
    /// The sender of the last one-datagram event (see `deliver::batch`).
    last_sender: RefCell<String>,
}

impl SocketCtx {
    /// A socket's state, created with its JS handle object `this`: its async
    /// context (type `UDPWRAP`) starts now, in the current execution
    /// context, as Node's handle's does.
    pub(crate) fn new(env: &napi::Env, this: RawValue, handler: u32) -> napi::Result<Rc<Self>> {
        let thread = crate::env::thread(env)?;
        let async_ctx = AsyncContext::new(env.raw(), this, c"UDPWRAP")?;
        Ok(Self::with(env.raw(), handler, thread, Some(async_ctx)))
    }

    /// What a handle holds once closed, in place of its socket's state: a
    /// state closed from the start, one per thread, that answers every
    /// handle method as a closed socket's does (none of them depends on
    /// which socket it was). A closed handle object lives until V8 collects
    /// it; without this its ~600 bytes of socket state would too, and a
    /// process that opens and closes many sockets would hold that much per
    /// socket between collections (the churn benchmark's native memory).
    /// (Its `env` and `handler`, the first closed socket's, are never used:
    /// it has no handle object to hold and no events.)
    pub(crate) fn closed_stand_in(like: &SocketCtx) -> Rc<Self> {
        thread_local! {
            static STAND_IN: RefCell<Option<Rc<SocketCtx>>> = const { RefCell::new(None) };
        }
        let make = || {
            let ctx = Self::with(like.env, like.handler, like.thread.clone(), None);
            ctx.closed.set(true);
            ctx
        };
        STAND_IN.with(|s| s.borrow_mut().get_or_insert_with(make).clone())
    }

    fn with(
        env: RawEnv,
        handler: u32,
        thread: Rc<ThreadState>,
        async_ctx: Option<AsyncContext>,
    ) -> Rc<Self> {
        let shared = Arc::new(Shared::new(thread.js_waker.clone()));
        crate::drivers::stats::SOCKET_STATES.add(1);
        Rc::new_cyclic(|me| Self {
            env,
            handler,
            thread,
            me: me.clone(),
            shared,
            sock: RefCell::new(None),
            poller: RefCell::new(None),
            sharing: Cell::new(Sharing::Exclusive),
            mode: Cell::new(Mode::Stopped),
            receiving: Cell::new(false),
            refd: Cell::new(true),
            closed: Cell::new(false),
            held: Cell::new(0),
            held_error: RefCell::new(None),
            unheard: RefCell::new(VecDeque::new()),
            unheard_bytes: Cell::new(0),
            uses_async: Cell::new(false),
            keeps_alive: Cell::new(false),
            watch_pending: Cell::new(false),
            watch_counted: Cell::new(false),
            async_id: async_ctx.as_ref().and_then(AsyncContext::async_id),
            async_ctx: RefCell::new(async_ctx),
            this_ref: RefCell::new(None),
            last_sender: RefCell::new(String::new()),
        })
    }

    /// JS receives or not; the drain thread reads it too (see
    /// `Shared::receiving`).
    fn set_receiving(&self, on: bool) {
        self.receiving.set(on);
        self.shared
            .receiving
            .store(on, std::sync::atomic::Ordering::Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Open and not `unref()`'d (Node's `handle.hasRef()`).
    pub(crate) fn has_ref(&self) -> bool {
        !self.closed.get() && self.refd.get()
    }

    /// The bound socket.
    pub(crate) fn sock(&self) -> Option<Arc<Socket>> {
        self.sock.borrow().clone()
    }

    /// Takes `sock` (bound, non-blocking) as this handle's socket and keeps
    /// the handle object `this` alive while the socket is open. A shared
    /// descriptor (`sharing`: others may read it too) gets its own poll
    /// handle now (`EEXIST` if the loop already watches it); an exclusive
    /// one gets its watch when the loop next waits (see `poller`). On
    /// failure `sock` is not kept.
    pub(crate) fn attach(
        &self,
        sock: &Arc<Socket>,
        this: RawValue,
        sharing: Sharing,
    ) -> io::Result<()> {
        self.sharing.set(sharing);
        *self.sock.borrow_mut() = Some(sock.clone());
        if sharing == Sharing::Shared {
            if let Err(e) = self.make_poller() {
                self.sock.borrow_mut().take();
                return Err(e);
            }
        }
        if let Err(e) = self.hold_this(this) {
            self.sock.borrow_mut().take();
            if let Some(p) = self.poller.borrow_mut().take() {
                p.close(None);
            }
            return Err(io::Error::other(e.reason));
        }
        self.thread.add_socket(self.shared.id, self.me.clone());
        Ok(())
    }

    /// Makes the socket's watch (`Poller`).
    fn make_poller(&self) -> io::Result<()> {
        let Some(sock) = self.sock() else {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        };
        let poller = Poller::new(
            self.thread.lp,
            &sock,
            self.shared.clone(),
            self.sharing.get(),
        )?;
        let me: Weak<dyn Sink> = self.me.clone();
        poller.set_sink(me);
        poller.set_ref(self.refd.get());
        *self.poller.borrow_mut() = Some(poller);
        Ok(())
    }

    /// Starts receiving: the JS loop watches the socket (from its next wait
    /// for I/O, unless the watch exists already; see `poller`).
    pub(crate) fn recv_start(&self) -> io::Result<()> {
        if self.receiving.get() || self.closed.get() {
            return Ok(());
        }
        if self.mode.get() == Mode::Stopped {
            let has_poller = self.poller.borrow().is_some();
            if has_poller {
                if let Some(p) = self.poller.borrow().as_ref() {
                    p.watch()?;
                }
            } else {
                self.thread.defer_watch(self.me.clone())?;
                self.watch_pending.set(true);
            }
            self.mode.set(Mode::Watching);
        }
        self.set_receiving(true);
        self.update_liveness();
        Ok(())
    }

    /// The deferred start of watching (see `poller`), just before the loop
    /// waits for I/O.
    pub(crate) fn start_watching(&self) {
        // The thread forgot its count of the waiting sockets.
        self.watch_pending.set(false);
        self.watch_counted.set(false);
        if self.closed.get() || !self.receiving.get() || self.mode.get() != Mode::Watching {
            return;
        }
        let made = if self.poller.borrow().is_some() {
            Ok(())
        } else {
            self.make_poller()
        };
        let started = made.and_then(|()| match self.poller.borrow().as_ref() {
            Some(p) => p.watch(),
            None => Ok(()),
        });
        if let Err(e) = started {
            let _ = deliver::recv_error(self, &e);
        }
    }

    /// Stops receiving; the socket stays open (Node's `_stopReceiving`).
    pub(crate) fn recv_stop(&self) {
        self.set_receiving(false);
        self.held.set(0);
        self.held_error.borrow_mut().take();
        match self.mode.get() {
            Mode::Watching => {
                if let Some(p) = self.poller.borrow().as_ref() {
                    p.unwatch();
                }
            }
            Mode::ReadAhead => {
                self.shared.end_reading();
                self.shared.drop_received();
            }
            Mode::Stopped => {}
        }
        self.mode.set(Mode::Stopped);
        self.update_liveness();
    }

    /// `socket.ref()` / `unref()`.
    pub(crate) fn set_ref(&self, on: bool) {
        self.refd.set(on);
        if let Some(p) = self.poller.borrow().as_ref() {
            p.set_ref(on);
        }
        self.update_liveness();
    }

    /// The socket was connected or disconnected, or its send buffer
    /// resized: a queued datagram waiting for room is tried again at once,
    /// as libuv's next try would see the change.
    pub(crate) fn send_room_changed(&self) {
        self.shared.gso.send_buffer_changed();
        sender::wake_writer(&self.shared);
    }

    /// Sends one datagram (now, or queued when the kernel pushes back).
    pub(crate) fn send(
        &self,
        sock: &Arc<Socket>,
        data: &[u8],
        dest: Option<SocketAddr>,
        source: Option<Source>,
    ) -> Outcome {
        crate::drivers::local_sends::note_sends_to([dest]);
        let behind = self.has_unheard();
        let outcome = sender::send(sock, &self.shared, data, dest, source, behind);
        if matches!(outcome, Outcome::Queued) {
            self.queued([data.len()]);
        }
        outcome
    }

    /// Sends a burst, in order.
    pub(crate) fn send_many(&self, sock: &Arc<Socket>, items: &[Item<'_>]) -> Vec<Outcome> {
        crate::drivers::local_sends::note_sends_to(items.iter().map(|(_, dest)| *dest));
        let behind = self.has_unheard();
        let outcomes = sender::send_many(sock, &self.shared, items, behind);
        let queued = outcomes
            .iter()
            .zip(items)
            .filter(|(o, _)| matches!(o, Outcome::Queued))
            .map(|(_, (data, _))| data.len());
        self.queued(queued);
        outcomes
    }

    fn queued(&self, sizes: impl IntoIterator<Item = usize>) {
        let mut unheard = self.unheard.borrow_mut();
        let before = unheard.len();
        for size in sizes {
            unheard.push_back(size);
            self.unheard_bytes.set(self.unheard_bytes.get() + size);
        }
        let grew = unheard.len() > before;
        drop(unheard);
        if grew {
            self.update_liveness();
        }
    }

    fn has_unheard(&self) -> bool {
        !self.unheard.borrow().is_empty()
    }

    /// Forgets the queued sends (closed: their outcomes are settled apart).
    fn forget_unheard(&self) {
        self.unheard.borrow_mut().clear();
        self.unheard_bytes.set(0);
    }

    /// `getSendQueueCount()`: queued sends whose callbacks have not run.
    pub(crate) fn send_queue_count(&self) -> usize {
        self.unheard.borrow().len()
    }

    /// `getSendQueueSize()`: their bytes.
    pub(crate) fn send_queue_size(&self) -> usize {
        self.unheard_bytes.get()
    }

    /// Holds the handle object, `this`, while the socket can hear events
    /// (from `attach`, or from a close that must report `CLOSED` to a
    /// socket never attached), and with it its copy of index.js's event
    /// handler (see `env::Handler`).
    pub(crate) fn hold_this(&self, this: RawValue) -> napi::Result<()> {
        if self.this_ref.borrow().is_some() || self.closed.get() {
            return Ok(());
        }
        let this_ref = Ref::new(self.env, this)?;
        if let Err(e) = self.thread.hold_handler(self.handler) {
            this_ref.delete(self.env);
            return Err(e);
        }
        *self.this_ref.borrow_mut() = Some(this_ref);
        Ok(())
    }

    /// Undoes `hold_this`.
    fn unhold_this(&self) {
        let this_ref = self.this_ref.borrow_mut().take();
        if let Some(r) = this_ref {
            r.delete(self.env);
            self.thread.unhold_handler(self.handler);
        }
    }

    /// Closes the socket now (the port is free when this returns). Queued
    /// sends are dropped: returns how many were cancelled, and the outcomes
    /// of those that completed but whose events JS has not had. With
    /// `notify`, JS hears `CLOSED` in the loop's close phase (where libuv
    /// reports a closed handle's requests).
    pub(crate) fn close(&self, notify: bool) -> Closed {
        if self.closed.replace(true) {
            return Closed::default();
        }
        // (Stops the socket's tasks too.)
        let (cancelled, unwoken) = sender::cancel_all(&self.shared);
        let completed = self.shared.clear_events();
        let sock = self.sock.borrow_mut().take();
        // A drain thread that no waker reached may be waiting for room:
        // shutting our own socket down wakes it at once. Not a descriptor
        // others hold too (a cluster's, or one passed in): it is one kernel
        // socket with theirs, whose sends would fail (EPIPE) and polls spin.
        let shared_fd = self.sharing.get() == Sharing::Shared;
        if unwoken && !shared_fd {
            if let Some(s) = sock.as_ref() {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
        self.set_receiving(false);
        self.held.set(0);
        self.held_error.borrow_mut().take();
        self.mode.set(Mode::Stopped);
        self.forget_unheard();
        self.update_liveness();
        self.thread.remove_socket(self.shared.id);
        let poller = self.poller.borrow_mut().take();
        if poller.is_none() {
            if self.watch_pending.replace(false) {
                let me: Weak<dyn ThreadSocket> = self.me.clone();
                self.thread.cancel_watch(&me);
            }
            // No libuv handle closes, where Node's would keep the loop.
            self.thread.keep_one_turn();
        }
        match poller {
            // (The callback holds the state: its handle lets go of it now,
            // see `UdpHandle::close`. The caller holds it too: always Some.)
            Some(p) => {
                let held = self.me.upgrade();
                p.close(Some(Box::new(move || {
                    if let Some(ctx) = held {
                        ctx.finish_close(notify);
                    }
                })));
            }
            // JS is told in the close phase, as libuv reports a closed
            // handle; inside one of this socket's own events the async
            // context is in use: it too ends in the close phase.
            None if notify || deliver::in_event() => self.finish_close_later(notify),
            None => self.finish_close(false),
        }
        match sock {
            // An unwoken drain thread (no waker: Windows, or none could be
            // made) lets go when its wait times out; not waited for here.
            Some(s) if unwoken && shared_fd => drop(s),
            Some(s) => release_socket(s),
            None => {}
        }
        runtime::release(&self.shared);
        Closed {
            cancelled,
            completed,
        }
    }

    /// `finish_close` in the loop's close phase (now if it cannot be
    /// scheduled there).
    fn finish_close_later(&self, notify: bool) {
        // (Held until then: see `close`.)
        let held = self.me.upgrade();
        let later = crate::sys::uv::close_phase(
            self.thread.lp,
            Box::new(move || {
                if let Some(ctx) = held {
                    ctx.finish_close(notify);
                }
            }),
        );
        if let Err(f) = later {
            f();
        }
    }

    /// The end of `close`, in the close phase when the socket had a poll
    /// handle: tell JS if asked, then end the async context and let the
    /// handle object go.
    fn finish_close(&self, notify: bool) {
        if self.thread.is_torn_down(self.env) {
            return;
        }
        if notify {
            let _ = deliver::closed(self);
        }
        if let Some(ctx) = self.async_ctx.borrow_mut().take() {
            ctx.destroy(self.env);
        }
        self.unhold_this();
    }

    /// Environment teardown: close without calling JS; `done` runs once the
    /// watch is closed. The environment is still alive here (an
    /// async cleanup hook), so the reference to the handle object is
    /// deleted now: Node-API would not free it later.
    pub(crate) fn teardown(&self, done: Box<dyn FnOnce()>) {
        self.unhold_this();
        if let Some(ctx) = self.async_ctx.borrow_mut().take() {
            ctx.release(self.env);
        }
        self.closed.set(true);
        // Stops the socket's tasks and wakes a drain thread waiting for
        // room, which then lets go of the socket (see `release_socket`).
        let _ = sender::cancel_all(&self.shared);
        let _ = self.shared.clear_events(); // nobody left to call back
        self.set_receiving(false);
        // (As in `close`: held replies no longer keep the thread's handle.)
        self.held.set(0);
        self.held_error.borrow_mut().take();
        self.mode.set(Mode::Stopped);
        self.forget_unheard();
        self.update_liveness();
        self.thread.remove_socket(self.shared.id);
        let poller = self.poller.borrow_mut().take();
        match poller {
            Some(p) => p.close(Some(done)),
            None => done(),
        }
        if let Some(s) = self.sock.borrow_mut().take() {
            release_socket(s);
        }
        runtime::release(&self.shared);
    }

    /// Delivers what the runtime produced for this socket (called from the
    /// thread's async handle, or its idle handle while JS holds a batch),
    /// up to one batch: first the next 32 messages of the batch JS holds,
    /// if it holds one; returns whether more waits.
    pub(crate) fn take_events(&self) -> bool {
        let mut delivered_batch = false;
        let held = self.held.get();
        if held > 0 && !self.closed.get() {
            let done = deliver::resume(self, held).unwrap_or(true);
            if !done && self.receiving.get() && !self.closed.get() {
                return true;
            }
            self.end_hold(held);
            delivered_batch = true;
        }
        while !self.closed.get() {
            if delivered_batch && self.shared.next_is_batch() {
                return true;
            }
            let Some(event) = self.shared.next_event() else {
                return false;
            };
            match event {
                // (`_held`: the budget's share goes once JS has the batch.)
                Event::Batch(batch, _held) => {
                    let count = batch.count;
                    let done = !self.receiving.get() || deliver::batch(self, batch).unwrap_or(true);
                    self.shared.batch_taken();
                    if !done && self.receiving.get() && !self.closed.get() {
                        self.held.set(count);
                        self.update_liveness();
                        return true;
                    }
                    delivered_batch = true;
                }
                Event::RecvError(err) => {
                    if self.receiving.get() {
                        let _ = deliver::recv_error(self, &err);
                    }
                }
                Event::HandBack(generation) => self.handed_back(generation),
                Event::SendDone(result) => {
                    let oldest = self.unheard.borrow_mut().pop_front();
                    if let Some(size) = oldest {
                        self.unheard_bytes
                            .set(self.unheard_bytes.get().saturating_sub(size));
                        self.update_liveness();
                        let _ = deliver::send_done(self, result);
                    }
                }
            }
        }
        false
    }

    /// Whether JS holds the rest of a batch (more than one turn's messages)
    /// while the JS loop reads the socket (not read-ahead).
    pub(crate) fn holds_while_polled(&self) -> bool {
        self.held.get() > 0 && self.mode.get() == Mode::Watching
    }

    /// JS emitted the last of the batch of `count` messages it held:
    /// reading goes on where it paused, in this turn as far as libuv's 32
    /// a turn allow.
    fn end_hold(&self, count: usize) {
        self.held.set(0);
        let err = self.held_error.borrow_mut().take();
        if let Some(err) = err {
            let _ = deliver::recv_error(self, &err);
        }
        if self.mode.get() == Mode::Watching && self.receiving.get() && !self.closed.get() {
            let reader = self.poller.borrow().as_ref().map(Poller::turn_reader);
            if let Some(reader) = reader {
                reader.read_rest_of_turn(count);
            }
        }
        if self.held.get() == 0
            && self.mode.get() == Mode::Watching
            && self.receiving.get()
            && !self.closed.get()
        {
            // From the next turn on: the idle phase comes before the poll
            // phase, where a poll restarted now could bring a second 32.
            let me = self.me.clone();
            let later = crate::sys::uv::close_phase(
                self.thread.lp,
                Box::new(move || {
                    if let Some(ctx) = me.upgrade() {
                        ctx.resume_reading();
                    }
                }),
            );
            if let Err(f) = later {
                f();
            }
        }
        self.update_liveness();
    }

    /// The poller reads again after a hold, unless the socket moved on
    /// meanwhile (closed, stopped, handed to read-ahead, holding again).
    fn resume_reading(&self) {
        if self.held.get() > 0
            || self.mode.get() != Mode::Watching
            || !self.receiving.get()
            || self.closed.get()
        {
            return;
        }
        let resumed = match self.poller.borrow().as_ref() {
            Some(p) => p.resume(),
            None => Ok(()),
        };
        if let Err(e) = resumed {
            let _ = deliver::recv_error(self, &e);
        }
    }

    /// Read-ahead ended: the JS loop watches the socket again.
    fn handed_back(&self, generation: u64) {
        if self.mode.get() != Mode::ReadAhead || generation != self.shared.read_generation() {
            return; // a stale hand-back (receiving stopped meanwhile)
        }
        self.mode.set(Mode::Stopped);
        if self.receiving.get() {
            let started = match self.poller.borrow().as_ref() {
                Some(p) => p.watch(),
                None => Ok(()),
            };
            match started {
                Ok(()) => self.mode.set(Mode::Watching),
                Err(e) => {
                    let _ = deliver::recv_error(self, &e);
                }
            }
        }
        self.update_liveness();
    }

    /// Brings the socket's share of the thread's async handle and of the
    /// loop's liveness in line with its state.
    fn update_liveness(&self) {
        let reading = self.mode.get() == Mode::ReadAhead || self.held.get() > 0;
        let queued = self.has_unheard();
        let uses = reading || queued;
        let keeps = (reading && self.receiving.get() && self.refd.get()) || queued;
        if uses && !self.uses_async.get() {
            // Failing to open an async handle (out of memory) leaves events
            // undelivered; there is nothing better to do here.
            if self.thread.acquire().is_ok() {
                self.uses_async.set(true);
                self.shared.wake_if_pending();
            }
        }
        if keeps != self.keeps_alive.get() && (self.uses_async.get() || !keeps) {
            self.thread.keep_alive(if keeps { 1 } else { -1 });
            self.keeps_alive.set(keeps);
        }
        if !uses && self.uses_async.get() {
            self.uses_async.set(false);
            self.thread.release();
        }
        let waits = self.watch_pending.get()
            && self.receiving.get()
            && self.refd.get()
            && !self.closed.get();
        if waits != self.watch_counted.replace(waits) {
            self.thread.count_pending_ref(if waits { 1 } else { -1 });
        }
    }
}

impl Sink for SocketCtx {
    fn batch(&self, batch: Batch) -> Taken {
        let count = batch.count;
        let done = deliver::batch(self, batch).unwrap_or(true);
        if !self.receiving.get() || self.closed.get() {
            return Taken::Stopped;
        }
        if done {
            return Taken::All;
        }
        // The rest on the next turns (the poller pauses meanwhile).
        self.held.set(count);
        self.update_liveness();
        if let Some(me) = self.me.upgrade() {
            let me: Rc<dyn ThreadSocket> = me;
            self.thread.come_back(&me);
        }
        Taken::Held
    }

    fn error(&self, err: io::Error) -> bool {
        if self.held.get() > 0 {
            *self.held_error.borrow_mut() = Some(err);
            return true;
        }
        let _ = deliver::recv_error(self, &err);
        self.receiving.get() && !self.closed.get()
    }

    fn busy(&self) {
        let Some(sock) = self.sock() else {
            return;
        };
        self.mode.set(Mode::ReadAhead);
        self.update_liveness();
        if runtime::start_read_ahead(&sock, &self.shared).is_err() {
            // No runtime (it could not start: EMFILE), or the process's
            // read-ahead is at its budget: the JS loop keeps reading, as
            // node:dgram always does; nothing for JS to see.
            self.mode.set(Mode::Watching);
            self.update_liveness();
            if let Some(p) = self.poller.borrow().as_ref() {
                let _ = p.watch();
            }
        }
    }
}

impl ThreadSocket for SocketCtx {
    fn owner(&self) -> RawEnv {
        self.env
    }

    #[cfg(unix)]
    fn fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.sock.borrow().as_ref().map(|s| s.as_raw_fd())
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn start_watching(&self) {
        SocketCtx::start_watching(self);
    }

    fn holds_while_polled(&self) -> bool {
        SocketCtx::holds_while_polled(self)
    }

    fn take_events(&self) -> bool {
        SocketCtx::take_events(self)
    }

    fn teardown(&self, done: Box<dyn FnOnce()>) {
        SocketCtx::teardown(self, done);
    }
}

impl deliver::EventTarget for SocketCtx {
    fn env(&self) -> RawEnv {
        self.env
    }

    fn thread(&self) -> &ThreadState {
        &self.thread
    }

    fn handler(&self) -> u32 {
        self.handler
    }

    fn receiver(&self, env: RawEnv) -> napi::Result<Option<RawValue>> {
        self.this_ref
            .borrow()
            .as_ref()
            .map(|r| r.get(env))
            .transpose()
    }

    fn call_context(&self, env: RawEnv) -> napi::Result<Option<CallContext>> {
        self.async_ctx
            .borrow()
            .as_ref()
            .map(|c| c.prepare(env))
            .transpose()
    }

    fn last_sender(&self) -> &RefCell<String> {
        &self.last_sender
    }

    fn is_closed(&self) -> bool {
        self.closed.get()
    }
}

impl Drop for SocketCtx {
    /// Normally once a close has finished (the handle holds the closed
    /// stand-in by then). A handle collected without `close()` (an unbound
    /// socket: bound ones are held by `this_ref` until closed) ends its
    /// async context here; at environment teardown nothing may touch JS.
    /// The stand-in goes at thread exit, with nothing to end.
    fn drop(&mut self) {
        crate::drivers::stats::SOCKET_STATES.sub(1);
        self.shared.stop();
        runtime::release(&self.shared);
        if let Some(ctx) = self.async_ctx.get_mut().take() {
            if !self.thread.is_torn_down(self.env) {
                ctx.destroy(self.env);
            }
        }
        if !self.thread.is_torn_down(self.env) {
            self.unhold_this();
        }
    }
}

/// Drops our reference to the socket, normally the last one, so that the
/// descriptor is closed and the port free when `close()` returns. A
/// runtime task may hold it too: a read-ahead while registered (waiting
/// or reading), a send drain while writing or waiting for room. The caller
/// has stopped both (and woken a waiting drain), so they let go as soon as
/// their thread runs: wait for that, up to 100 ms (yielding the CPU; a
/// drain no waker reached lets go when its wait times out, later).
fn release_socket(sock: Arc<Socket>) {
    let weak = Arc::downgrade(&sock);
    drop(sock);
    // The usual case: no clock read (a socket's close is on churn's path).
    if weak.strong_count() == 0 {
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    while weak.strong_count() > 0 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
}
