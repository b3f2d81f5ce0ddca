//! Per-thread state of the JS side: the thread's event loop, the async
//! handle through which the runtime wakes it (and the prepare and idle
//! handles that start a socket's watch before the loop next polls and bring
//! back a held batch's next messages), the sockets bound on it, and the
//! event function each copy of the JS module registered.
//!
//! Each JS environment (the main thread, each worker) runs on a thread of
//! its own with a loop of its own, so the state is thread-local. A thread
//! may hold several Node-API environments (`napi_env`), one per copy of the
//! addon loaded into it (a module registry reset, as jest makes per test
//! file, loads it again): each socket remembers its own.
//!
//! Nothing here exists for a thread without bound sockets but the handler
//! references: the async handle is opened when the first socket needs the
//! runtime (read-ahead, or a send that had to wait) and closed when the
//! last one no longer does, so an idle or finished program has no open
//! handle of ours; liveness otherwise comes from each socket's watch (its
//! own poll handle, or its share of the thread's: `drivers::loop_epoll`).

use crate::int_hash::IntMap;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use napi::Env;

use crate::drivers::shared::{JsWaker, Shared};
use crate::drivers::shift;
use crate::sys::napi::{self as raw, CleanupDone, RawEnv, Ref};
use crate::sys::uv;

/// What the thread's state asks of its sockets: implemented by
/// `socket::SocketCtx` (a trait keeps this module below it in the layers).
pub(crate) trait ThreadSocket {
    /// The environment the socket belongs to.
    fn owner(&self) -> RawEnv;
    /// Its descriptor, once bound.
    #[cfg(unix)]
    fn fd(&self) -> Option<std::os::fd::RawFd>;
    /// Its state shared with the runtime.
    fn shared(&self) -> &Arc<Shared>;
    /// The deferred start of watching (`defer_watch`).
    fn start_watching(&self);
    /// Whether JS holds the rest of a batch while the JS loop reads it.
    fn holds_while_polled(&self) -> bool;
    /// Delivers up to one batch of what waits for JS; whether more waits.
    fn take_events(&self) -> bool;
    /// Environment teardown: close without calling JS, then `done`.
    fn teardown(&self, done: Box<dyn FnOnce()>);
}

/// One copy of index.js: its environment, event function and scratch
/// buffer (see `deliver.rs`). Both are held strongly only while a socket of
/// that copy can hear events (`holders`): a copy dropped by a module
/// registry reset (jest loads index.js again for every test file) must be
/// collectable once its sockets are closed, as node:dgram's module is. Its
/// handles keep both alive meanwhile from JS (index.js).
pub(crate) struct Handler {
    env: RawEnv,
    func: Ref,
    scratch: raw::Scratch,
    holders: Cell<u32>,
}

impl Handler {
    /// Called from JS (a bind, a close): the copy is alive, and its
    /// handles keep both values; checked anyway, since the scratch buffer
    /// is written through a raw pointer while held.
    fn hold(&self) -> napi::Result<()> {
        if self.holders.get() == 0 {
            self.func.strengthen(self.env)?;
            let scratch = self.scratch.reference();
            let held = scratch.strengthen(self.env).and_then(|()| {
                let alive = self.func.get(self.env).and_then(|_| scratch.get(self.env));
                if alive.is_err() {
                    let _ = scratch.weaken(self.env);
                }
                alive.map(drop)
            });
            if let Err(e) = held {
                let _ = self.func.weaken(self.env);
                return Err(e);
            }
        }
        self.holders.set(self.holders.get() + 1);
        Ok(())
    }

    fn unhold(&self) {
        match self.holders.get() {
            0 => {}
            1 => {
                self.holders.set(0);
                let _ = self.func.weaken(self.env);
                let _ = self.scratch.reference().weaken(self.env);
            }
            n => self.holders.set(n - 1),
        }
    }

    /// The scratch buffer, while it is held strongly.
    fn scratch(&self) -> Option<&raw::Scratch> {
        (self.holders.get() > 0).then_some(&self.scratch)
    }

    /// Deletes its references (Node-API frees a reference only when asked,
    /// even when the environment ends): at the environment's teardown.
    fn release(self) {
        self.func.delete(self.env);
        self.scratch.release(self.env);
    }
}

pub(crate) struct ThreadState {
    pub(crate) lp: *mut uv::Loop,
    waker: uv::Waker,
    pub(crate) js_waker: Arc<JsWaker>,
    wakeup: RefCell<Option<uv::Async>>,
    /// Sockets that need the async handle (read-ahead or queued sends).
    users: Cell<usize>,
    /// Of those, the ones that keep the loop alive meanwhile.
    keepalive: Cell<usize>,
    /// Bound sockets, for their runtime events and for teardown.
    sockets: RefCell<IntMap<u64, Weak<dyn ThreadSocket>>>,
    /// The event function of each copy of index.js on the thread.
    /// Indexed by the number `add_handler` returned; a slot is emptied
    /// when its environment is torn down.
    handlers: RefCell<Vec<Option<Handler>>>,
    /// Environments being torn down: nothing may call into their JS.
    torn_down: RefCell<Vec<RawEnv>>,
    /// Sockets to start watching before the loop next waits for I/O, and
    /// the prepare handle that does it (open only while some are waiting).
    pending_watch: RefCell<Vec<Weak<dyn ThreadSocket>>>,
    prepare: RefCell<Option<uv::TurnHandle>>,
    /// How many of `pending_watch` keep the loop alive (receiving and not
    /// unref()'d): the prepare handle is ref'd only while some do, as an
    /// unref()'d libuv handle would not keep it alive.
    pending_refs: Cell<usize>,
    /// A closing handle is in flight that keeps the loop for one more turn
    /// (see `keep_one_turn`).
    turn_kept: Cell<bool>,
    /// Sockets whose JS holds the rest of a batch (see `SocketCtx`), and
    /// the idle handle that brings them back each turn (open only while
    /// some do: it keeps the loop from waiting for I/O).
    holding: RefCell<Vec<Weak<dyn ThreadSocket>>>,
    idle: RefCell<Option<uv::TurnHandle>>,
}

thread_local! {
    static THREAD: RefCell<Option<Rc<ThreadState>>> = const { RefCell::new(None) };
}

/// This thread's state, made on first use with `env`'s loop.
pub(crate) fn thread(env: &Env) -> napi::Result<Rc<ThreadState>> {
    if let Some(t) = THREAD.with(|t| t.borrow().clone()) {
        return Ok(t);
    }
    let lp = env.get_uv_event_loop()?.cast::<uv::Loop>();
    let waker = uv::Waker::default();
    let state = Rc::new(ThreadState {
        lp,
        js_waker: Arc::new(JsWaker::new(waker.clone())),
        waker,
        wakeup: RefCell::new(None),
        users: Cell::new(0),
        keepalive: Cell::new(0),
        sockets: RefCell::new(IntMap::default()),
        handlers: RefCell::new(Vec::new()),
        torn_down: RefCell::new(Vec::new()),
        pending_watch: RefCell::new(Vec::new()),
        prepare: RefCell::new(None),
        pending_refs: Cell::new(0),
        turn_kept: Cell::new(false),
        holding: RefCell::new(Vec::new()),
        idle: RefCell::new(None),
    });
    THREAD.with(|t| *t.borrow_mut() = Some(state.clone()));
    Ok(state)
}

/// Registers `onevent`, the function events of sockets created by one copy
/// of index.js go to (`this` is the socket's handle), and returns its
/// number, which that copy passes to each handle it creates. Called once by
/// each copy when it loads: a module registry reset loads index.js again
/// over the same addon and environment, and each copy must hear its own
/// sockets.
pub(crate) fn add_handler(
    env: &Env,
    onevent: raw::RawValue,
    scratch: raw::RawValue,
) -> napi::Result<u32> {
    let t = thread(env)?;
    let handler = Handler {
        env: env.raw(),
        func: Ref::weak(env.raw(), onevent)?,
        scratch: raw::Scratch::new(env.raw(), scratch)?,
        holders: Cell::new(0),
    };
    let first_of_env = !t
        .handlers
        .borrow()
        .iter()
        .flatten()
        .any(|h| h.env == env.raw());
    if first_of_env {
        let raw_env = env.raw();
        raw::add_async_cleanup_hook(raw_env, move |done| teardown(raw_env, done))?;
    }
    let mut handlers = t.handlers.borrow_mut();
    handlers.push(Some(handler));
    Ok(u32::try_from(handlers.len() - 1).unwrap_or(u32::MAX))
}

impl ThreadState {
    /// Event function number `index` (see `add_handler`), in the current
    /// handle scope.
    pub(crate) fn handler(&self, env: RawEnv, index: u32) -> napi::Result<raw::RawValue> {
        match self.handlers.borrow().get(index as usize) {
            Some(Some(h)) if h.env == env => h.func.get(env),
            _ => Err(napi::Error::from_reason(
                "dgram-rs: no event handler registered",
            )),
        }
    }

    /// A socket of handler `index` holds its handle object (it can hear
    /// events): the handler is held strongly until `unhold_handler`.
    pub(crate) fn hold_handler(&self, index: u32) -> napi::Result<()> {
        match self.handlers.borrow().get(index as usize) {
            Some(Some(h)) => h.hold(),
            _ => Err(napi::Error::from_reason(
                "dgram-rs: no event handler registered",
            )),
        }
    }

    pub(crate) fn unhold_handler(&self, index: u32) {
        if let Some(Some(h)) = self.handlers.borrow().get(index as usize) {
            h.unhold();
        }
    }

    /// Copies `bytes` into handler `index`'s scratch buffer; false if
    /// there is none or they do not fit.
    pub(crate) fn write_scratch(&self, index: u32, bytes: &[u8]) -> bool {
        self.handlers
            .borrow()
            .get(index as usize)
            .and_then(Option::as_ref)
            .is_some_and(|h| h.scratch().is_some_and(|s| s.write(h.env, bytes)))
    }

    /// Copies a small batch into handler `index`'s scratch buffer (see
    /// `Scratch::write_small`); false if there is none or it does not fit.
    pub(crate) fn write_small(&self, index: u32, chunks: &[Vec<u8>], meta: &[u32]) -> bool {
        self.handlers
            .borrow()
            .get(index as usize)
            .and_then(Option::as_ref)
            .is_some_and(|h| {
                h.scratch()
                    .is_some_and(|s| s.write_small(h.env, chunks, meta))
            })
    }

    pub(crate) fn is_torn_down(&self, env: RawEnv) -> bool {
        self.torn_down.borrow().contains(&env)
    }

    pub(crate) fn add_socket(&self, id: u64, ctx: Weak<dyn ThreadSocket>) {
        self.sockets.borrow_mut().insert(id, ctx);
    }

    /// Whether a socket of this thread already owns descriptor `fd` (libuv
    /// refuses to open a socket its loop watches: `EEXIST`; ours may not be
    /// watched yet, see `SocketCtx::poller`).
    #[cfg(unix)]
    pub(crate) fn owns_fd(&self, fd: std::os::fd::RawFd) -> bool {
        self.sockets
            .borrow()
            .values()
            .filter_map(Weak::upgrade)
            .any(|s| s.fd() == Some(fd))
    }

    pub(crate) fn remove_socket(&self, id: u64) {
        self.sockets.borrow_mut().remove(&id);
    }

    /// Has `ctx` start watching its socket just before the loop next waits
    /// for I/O. The prepare handle that does it keeps the loop alive until
    /// then, as the started watcher of a libuv handle would.
    pub(crate) fn defer_watch(self: &Rc<Self>, ctx: Weak<dyn ThreadSocket>) -> std::io::Result<()> {
        if self.prepare.borrow().is_none() {
            let weak = Rc::downgrade(self);
            let prepare = uv::TurnHandle::new(self.lp, uv::Phase::Prepare, move || {
                if let Some(t) = weak.upgrade() {
                    t.start_pending();
                }
            })?;
            prepare.start()?;
            // Liveness comes with the sockets that count (`count_pending_ref`).
            prepare.set_ref(self.pending_refs.get() > 0);
            *self.prepare.borrow_mut() = Some(prepare);
        }
        self.pending_watch.borrow_mut().push(ctx);
        Ok(())
    }

    /// One socket waiting in `pending_watch` starts (`+1`) or stops (`-1`)
    /// keeping the loop alive.
    pub(crate) fn count_pending_ref(&self, delta: isize) {
        if let Some(any) = shift(&self.pending_refs, delta) {
            if let Some(p) = self.prepare.borrow().as_ref() {
                p.set_ref(any);
            }
        }
    }

    /// A socket closed without a libuv handle to close (never bound, or
    /// closed before its watch started): libuv's closing handle would keep
    /// the loop for one more turn (a `'beforeExit'` listener that closes a
    /// socket is called again), so a closing handle of ours does; one per
    /// turn is enough.
    pub(crate) fn keep_one_turn(self: &Rc<Self>) {
        if self.turn_kept.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        let closed = uv::close_phase(
            self.lp,
            Box::new(move || {
                if let Some(t) = weak.upgrade() {
                    t.turn_kept.set(false);
                }
            }),
        );
        if let Err(f) = closed {
            f(); // out of memory: no extra turn
        }
    }

    /// Forgets `ctx`'s deferred start (it closed first).
    pub(crate) fn cancel_watch(&self, ctx: &Weak<dyn ThreadSocket>) {
        let mut pending = self.pending_watch.borrow_mut();
        // A socket closing before its watch started is usually the one
        // deferred last (a bind that failed, a probe): search from the end.
        // `remove`, not `swap_remove`: the others start in the order they
        // were deferred, as libuv starts its watchers, which is the order
        // their waiting datagrams are emitted in.
        if let Some(i) = pending.iter().rposition(|w| w.ptr_eq(ctx)) {
            pending.remove(i);
        }
    }

    fn start_pending(&self) {
        if let Some(p) = self.prepare.borrow_mut().take() {
            p.close(None);
        }
        let pending = std::mem::take(&mut *self.pending_watch.borrow_mut());
        self.pending_refs.set(0);
        for ctx in pending.iter().filter_map(Weak::upgrade) {
            ctx.start_watching();
        }
    }

    /// A socket starts needing the async handle: open it if it is not.
    pub(crate) fn acquire(self: &Rc<Self>) -> std::io::Result<()> {
        if self.wakeup.borrow().is_none() {
            let weak = Rc::downgrade(self);
            let handle = uv::Async::new(self.lp, self.waker.clone(), move || {
                if let Some(t) = weak.upgrade() {
                    t.on_wake();
                }
            })?;
            handle.set_ref(self.keepalive.get() > 0);
            *self.wakeup.borrow_mut() = Some(handle);
        }
        self.users.set(self.users.get() + 1);
        Ok(())
    }

    /// A socket no longer needs the async handle: close it after the last.
    pub(crate) fn release(&self) {
        let users = self.users.get().saturating_sub(1);
        self.users.set(users);
        if users == 0 {
            if let Some(handle) = self.wakeup.borrow_mut().take() {
                handle.close(None);
                // Nothing is delivered until a socket needs it again.
                self.js_waker.take_ready();
            }
        }
    }

    /// A socket starts (`+1`) or stops (`-1`) keeping the loop alive
    /// through the async handle.
    pub(crate) fn keep_alive(&self, delta: isize) {
        if let Some(any) = shift(&self.keepalive, delta) {
            if let Some(h) = self.wakeup.borrow().as_ref() {
                h.set_ref(any);
            }
        }
    }

    /// The async handle's callback: deliver what the runtime produced, at
    /// most one batch per socket per loop turn (a socket with more is put
    /// back on the ready list), so that a backlog read ahead does not keep
    /// timers, I/O and other sockets waiting, as libuv's reads of 32
    /// datagrams per turn do not.
    fn on_wake(self: &Rc<Self>) {
        crate::drivers::stats::RUNTIME_WAKEUPS.add(1);
        for shared in self.js_waker.take_ready() {
            let ctx = self
                .sockets
                .borrow()
                .get(&shared.id)
                .and_then(Weak::upgrade);
            // A polled socket holding a batch goes on in the idle phase,
            // which takes its events after it (here if there is no idle
            // handle).
            let idling = self.idle.borrow().is_some();
            if let Some(ctx) = ctx.filter(|c| !(idling && c.holds_while_polled())) {
                if ctx.take_events() {
                    self.come_back(&ctx);
                }
            }
        }
    }

    /// `ctx` has more for JS than one turn takes: the rest of a batch JS
    /// holds, while the JS loop reads the socket, on the next turn's idle
    /// phase (no syscall); runtime events, and a held batch while the
    /// runtime reads ahead, through the async handle, whose callbacks come
    /// in the poll phase, where the runtime's batches are delivered too:
    /// one delivery per socket per turn either way.
    pub(crate) fn come_back(self: &Rc<Self>, ctx: &Rc<dyn ThreadSocket>) {
        if !ctx.holds_while_polled() {
            self.js_waker.notify(ctx.shared());
            return;
        }
        if self.idle.borrow().is_none() {
            let weak = Rc::downgrade(self);
            let started = uv::TurnHandle::new(self.lp, uv::Phase::Idle, move || {
                if let Some(t) = weak.upgrade() {
                    t.on_idle();
                }
            })
            .and_then(|idle| {
                // Liveness is the async handle's (the sockets' share of it).
                idle.set_ref(false);
                match idle.start() {
                    Ok(()) => Ok(idle),
                    Err(e) => {
                        idle.close(None);
                        Err(e)
                    }
                }
            });
            match started {
                Ok(idle) => *self.idle.borrow_mut() = Some(idle),
                // No handle (out of memory): through the async handle.
                Err(_) => {
                    self.js_waker.notify(ctx.shared());
                    return;
                }
            }
        }
        self.holding.borrow_mut().push(Rc::downgrade(ctx));
    }

    /// The idle handle's callback: the next 32 messages of each held batch.
    fn on_idle(self: &Rc<Self>) {
        let holding = std::mem::take(&mut *self.holding.borrow_mut());
        for ctx in holding.iter().filter_map(Weak::upgrade) {
            if !ctx.holds_while_polled() {
                // Read-ahead took over since (or receiving stopped): its
                // turn comes in the poll phase.
                self.js_waker.notify(ctx.shared());
            } else if ctx.take_events() {
                self.come_back(&ctx);
            }
        }
        if self.holding.borrow().is_empty() {
            if let Some(idle) = self.idle.borrow_mut().take() {
                idle.close(None);
            }
        }
    }
}

/// Environment teardown (a worker terminated or the process exiting with
/// sockets open): close the handles of `env`'s sockets without calling JS,
/// and report done once libuv has closed them all.
fn teardown(env: RawEnv, done: CleanupDone) {
    let Some(t) = THREAD.with(|t| t.borrow().clone()) else {
        done.done();
        return;
    };
    t.torn_down.borrow_mut().push(env);
    let ours: Vec<Rc<dyn ThreadSocket>> = t
        .sockets
        .borrow()
        .values()
        .filter_map(Weak::upgrade)
        .filter(|s| s.owner() == env)
        .collect();
    // Counts the handles still closing (the socket polls, maybe the async
    // handle); the last close callback reports done.
    let pending = Rc::new(Cell::new(1usize));
    let done = Rc::new(RefCell::new(Some(done)));
    let finish = {
        let (pending, done) = (pending.clone(), done.clone());
        move || {
            pending.set(pending.get() - 1);
            if pending.get() == 0 {
                if let Some(d) = done.borrow_mut().take() {
                    d.done();
                }
            }
        }
    };
    for s in ours {
        pending.set(pending.get() + 1);
        let f = finish.clone();
        s.teardown(Box::new(f));
    }
    for slot in t.handlers.borrow_mut().iter_mut() {
        if slot.as_ref().is_some_and(|h| h.env == env) {
            if let Some(h) = slot.take() {
                h.release();
            }
        }
    }
    let last_env = t
        .handlers
        .borrow()
        .iter()
        .flatten()
        .all(|h| t.torn_down.borrow().contains(&h.env));
    if last_env {
        t.pending_watch.borrow_mut().clear();
        t.holding.borrow_mut().clear();
        if let Some(idle) = t.idle.borrow_mut().take() {
            pending.set(pending.get() + 1);
            let f = finish.clone();
            idle.close(Some(Box::new(f)));
        }
        if let Some(p) = t.prepare.borrow_mut().take() {
            pending.set(pending.get() + 1);
            let f = finish.clone();
            p.close(Some(Box::new(f)));
        }
        if let Some(handle) = t.wakeup.borrow_mut().take() {
            pending.set(pending.get() + 1);
            let f = finish.clone();
            handle.close(Some(Box::new(f)));
        }
        #[cfg(target_os = "linux")]
        crate::drivers::loop_epoll::teardown(&|| {
            pending.set(pending.get() + 1);
            Box::new(finish.clone())
        });
    }
    finish();
}
