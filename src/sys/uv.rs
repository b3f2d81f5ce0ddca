//! libuv, as the Node process hosting us exports it: the event loop of the
//! JS thread we run on (one per environment: the main thread, each worker).
//!
//! We must use *that* libuv, not a copy of our own, so its functions are
//! looked up in the host process at run time (every platform's `node`
//! exports them; on Windows a DLL cannot leave them unresolved at link
//! time, and looking them up everywhere keeps one code path). Handles are
//! allocated with `uv_handle_size`, so nothing here depends on the layout
//! of libuv's structs beyond its stable C API.
//!
//! The wrappers are JS-thread objects (`!Send`): a handle is created,
//! started, stopped and closed on the thread whose loop owns it, and its
//! memory, with the Rust callback it carries, is freed in its close
//! callback, as libuv requires. Only `Waker::wake` may be called from other
//! threads.
//!
//! There is no `Drop` that closes: `uv_close` needs the loop alive and a
//! later turn of it, which a destructor cannot know (a finalizer may run
//! during environment teardown, after the loop's last turn). Owners close
//! explicitly (`close(self, …)`), and the environment's cleanup hook closes
//! what is still open (`env.rs`); a wrapper dropped without `close` leaks
//! its handle rather than risk freeing memory libuv still links to.

use std::ffi::{c_int, c_void};
use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use super::host::host_fn;

/// An opaque `uv_loop_t`.
pub(crate) type Loop = c_void;
/// An opaque `uv_handle_t` (any handle type).
type Handle = c_void;

/// libuv's socket descriptor type.
#[cfg(unix)]
pub(crate) type OsSock = c_int;
#[cfg(windows)]
pub(crate) type OsSock = usize;

// `uv_handle_type` values (stable across libuv 1.x).
const UV_ASYNC: c_int = 1;
const UV_IDLE: c_int = 6;
const UV_POLL: c_int = 8;
const UV_PREPARE: c_int = 9;
const UV_TIMER: c_int = 13;
// `uv_poll_event`.
const UV_READABLE: c_int = 1;

type PollCb = unsafe extern "C" fn(*mut Handle, c_int, c_int);
type AsyncCb = unsafe extern "C" fn(*mut Handle);
type CloseCb = unsafe extern "C" fn(*mut Handle);
type TimerCb = unsafe extern "C" fn(*mut Handle);

/// The libuv functions we use, resolved once from the host process.
struct Api {
    handle_size: unsafe extern "C" fn(c_int) -> usize,
    handle_set_data: unsafe extern "C" fn(*mut Handle, *mut c_void),
    handle_get_data: unsafe extern "C" fn(*const Handle) -> *mut c_void,
    poll_init_socket: unsafe extern "C" fn(*mut Loop, *mut Handle, OsSock) -> c_int,
    poll_start: unsafe extern "C" fn(*mut Handle, c_int, PollCb) -> c_int,
    poll_stop: unsafe extern "C" fn(*mut Handle) -> c_int,
    async_init: unsafe extern "C" fn(*mut Loop, *mut Handle, AsyncCb) -> c_int,
    prepare_init: unsafe extern "C" fn(*mut Loop, *mut Handle) -> c_int,
    prepare_start: unsafe extern "C" fn(*mut Handle, AsyncCb) -> c_int,
    idle_init: unsafe extern "C" fn(*mut Loop, *mut Handle) -> c_int,
    idle_start: unsafe extern "C" fn(*mut Handle, AsyncCb) -> c_int,
    async_send: unsafe extern "C" fn(*mut Handle) -> c_int,
    timer_init: unsafe extern "C" fn(*mut Loop, *mut Handle) -> c_int,
    timer_start: unsafe extern "C" fn(*mut Handle, TimerCb, u64, u64) -> c_int,
    close: unsafe extern "C" fn(*mut Handle, Option<CloseCb>),
    ref_: unsafe extern "C" fn(*mut Handle),
    unref: unsafe extern "C" fn(*mut Handle),
}

static API: OnceLock<Option<Api>> = OnceLock::new();

fn api() -> io::Result<&'static Api> {
    API.get_or_init(resolve_api).as_ref().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "dgram-rs: the host process does not export libuv",
        )
    })
}

/// libuv's `uv_guess_handle(fd)` in Node's words (`guessHandleType`):
/// `"TCP"`, `"TTY"`, `"UDP"`, `"FILE"`, `"PIPE"` or `"UNKNOWN"`.
#[cfg(windows)]
pub(crate) fn guess_handle(fd: c_int) -> &'static str {
    type Guess = unsafe extern "C" fn(c_int) -> c_int;
    // SAFETY: `uv_guess_handle(uv_file) -> uv_handle_type`, libuv 1.x; it
    // only inspects the descriptor (an invalid one is UV_UNKNOWN_HANDLE).
    let kind = unsafe { host_fn::<Guess>(c"uv_guess_handle").map_or(0, |f| f(fd)) };
    match kind {
        12 => "TCP",
        14 => "TTY",
        15 => "UDP",
        17 => "FILE",
        7 => "PIPE",
        _ => "UNKNOWN",
    }
}

fn resolve_api() -> Option<Api> {
    // SAFETY: each field's type is the C signature of the libuv function of
    // that name, stable across libuv 1.x.
    unsafe {
        Some(Api {
            handle_size: host_fn(c"uv_handle_size")?,
            handle_set_data: host_fn(c"uv_handle_set_data")?,
            handle_get_data: host_fn(c"uv_handle_get_data")?,
            poll_init_socket: host_fn(c"uv_poll_init_socket")?,
            poll_start: host_fn(c"uv_poll_start")?,
            poll_stop: host_fn(c"uv_poll_stop")?,
            async_init: host_fn(c"uv_async_init")?,
            prepare_init: host_fn(c"uv_prepare_init")?,
            prepare_start: host_fn(c"uv_prepare_start")?,
            idle_init: host_fn(c"uv_idle_init")?,
            idle_start: host_fn(c"uv_idle_start")?,
            async_send: host_fn(c"uv_async_send")?,
            timer_init: host_fn(c"uv_timer_init")?,
            timer_start: host_fn(c"uv_timer_start")?,
            close: host_fn(c"uv_close")?,
            ref_: host_fn(c"uv_ref")?,
            unref: host_fn(c"uv_unref")?,
        })
    }
}

/// A libuv error code (negative) as an `io::Error`.
fn uv_error(code: c_int) -> io::Error {
    #[cfg(unix)]
    return io::Error::from_raw_os_error(-code);
    // libuv's codes are its own there: named by libuv (`uv_err_name`), so
    // that JS gets the code Node would show, not UNKNOWN.
    #[cfg(not(unix))]
    return io::Error::other(UvError(err_name(code)));
}

/// A libuv error that is not an OS error number, by its libuv name
/// (`EADDRINUSE`, …; `UNKNOWN` if libuv has none).
#[derive(Debug)]
pub(crate) struct UvError(pub(crate) String);

impl std::fmt::Display for UvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UvError {}

#[cfg(not(unix))]
fn err_name(code: c_int) -> String {
    type ErrName = unsafe extern "C" fn(c_int) -> *const std::ffi::c_char;
    // SAFETY: `uv_err_name(int) -> const char*`, libuv 1.x: a static,
    // NUL-terminated name for a known code (an allocated message for an
    // unknown one, which we do not keep: UNKNOWN then).
    let name = unsafe {
        host_fn::<ErrName>(c"uv_err_name")
            .map(|f| f(code))
            .filter(|p| !p.is_null())
            .map(|p| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    match name {
        Some(n)
            if n.starts_with('E')
                && n.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
        {
            n
        }
        _ => "UNKNOWN".to_string(),
    }
}

/// The memory of one handle (sized by libuv) and the Rust state its
/// callbacks use. Boxed so that it never moves while libuv knows it.
struct Slot<S> {
    /// The uv handle itself; u128 words for alignment.
    raw: Box<[u128]>,
    state: S,
    on_closed: Option<Box<dyn FnOnce()>>,
}

impl<S> Slot<S> {
    fn new(kind: c_int, state: S) -> io::Result<*mut Slot<S>> {
        let api = api()?;
        // SAFETY: uv_handle_size only maps a handle type to a size.
        let size = unsafe { (api.handle_size)(kind) };
        let words = size.div_ceil(std::mem::size_of::<u128>()).max(1);
        let slot = Box::into_raw(Box::new(Slot {
            raw: vec![0u128; words].into_boxed_slice(),
            state,
            on_closed: None,
        }));
        // SAFETY: `slot` is a live allocation we own; the handle's data
        // field points back at it for the callbacks.
        unsafe { (api.handle_set_data)(Self::handle(slot), slot.cast()) };
        Ok(slot)
    }

    fn handle(slot: *mut Slot<S>) -> *mut Handle {
        // SAFETY: `slot` is live (callers hold it until the close callback).
        unsafe { (*slot).raw.as_mut_ptr().cast() }
    }

    /// The slot a handle's callback is about.
    ///
    /// # Safety
    /// `h` must be a handle made by `Slot::<S>::new`, not yet freed.
    unsafe fn of(h: *mut Handle) -> *mut Slot<S> {
        // SAFETY: per the contract, the data field holds the slot pointer.
        unsafe { (api_unchecked().handle_get_data)(h).cast() }
    }

    /// Frees a slot whose handle was never initialised.
    fn discard(slot: *mut Slot<S>) {
        // SAFETY: libuv never saw this handle; we own the allocation.
        drop(unsafe { Box::from_raw(slot) });
    }

    /// Closes the handle; the slot is freed in the close callback, after
    /// running `on_closed`.
    fn close(slot: *mut Slot<S>, on_closed: Option<Box<dyn FnOnce()>>) {
        let api = api_unchecked();
        // SAFETY: the slot is live and its handle initialised; uv_close is
        // called once (the wrappers give up the slot here) and frees
        // nothing itself: `closed::<S>` frees the slot afterwards.
        unsafe {
            (*slot).on_closed = on_closed;
            (api.close)(Self::handle(slot), Some(closed::<S>));
        }
    }
}

/// `uv_close` callback: runs the owner's `on_closed`, frees the slot.
unsafe extern "C" fn closed<S>(h: *mut Handle) {
    // Contained whole: nothing may unwind into libuv.
    super::contain(move || {
        // SAFETY: libuv calls this once per handle closed by `Slot::close`,
        // after which it never touches the handle again: the slot is ours.
        let slot = unsafe { Box::from_raw(Slot::<S>::of(h)) };
        let Slot {
            on_closed, state, ..
        } = *slot;
        if let Some(f) = on_closed {
            f();
        }
        drop(state);
    });
}

/// The API after a handle exists (so it was resolved).
fn api_unchecked() -> &'static Api {
    match API.get() {
        Some(Some(api)) => api,
        // A handle exists only if `api()` succeeded before.
        _ => unreachable!("libuv handle without libuv"),
    }
}

/// A poll handle watching a socket for readability on the JS thread's loop.
/// Level-triggered: while started, `on_readable` runs at every loop turn
/// where the socket has data (or an error) pending.
pub(crate) struct Poll {
    slot: *mut Slot<Box<dyn FnMut(io::Result<()>)>>,
}

type PollState = Box<dyn FnMut(io::Result<()>)>;

impl Poll {
    /// Creates a (stopped) poll handle for `sock` on `lp`, the loop of the
    /// calling thread (`napi_get_uv_event_loop`). Fails with `EEXIST` when
    /// the loop already watches that descriptor, as `uv_udp_open` does.
    pub(crate) fn new(
        lp: *mut Loop,
        sock: OsSock,
        on_readable: impl FnMut(io::Result<()>) + 'static,
    ) -> io::Result<Poll> {
        let state: PollState = Box::new(on_readable);
        let slot = Slot::new(UV_POLL, state)?;
        // SAFETY: `lp` is this thread's live loop (the caller's contract),
        // the handle memory is ours and stays put until closed.
        let rc = unsafe { (api_unchecked().poll_init_socket)(lp, Slot::handle(slot), sock) };
        if rc != 0 {
            Slot::discard(slot);
            return Err(uv_error(rc));
        }
        Ok(Poll { slot })
    }

    pub(crate) fn start(&self) -> io::Result<()> {
        // SAFETY: the handle is initialised and open (closing consumes self).
        let rc = unsafe {
            (api_unchecked().poll_start)(Slot::handle(self.slot), UV_READABLE, poll_ready)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(uv_error(rc))
        }
    }

    pub(crate) fn stop(&self) {
        // SAFETY: as in `start`.
        unsafe { (api_unchecked().poll_stop)(Slot::handle(self.slot)) };
    }

    /// Whether the handle keeps the loop alive while started (`uv_ref`).
    pub(crate) fn set_ref(&self, on: bool) {
        set_ref(Slot::handle(self.slot), on);
    }

    /// Stops and closes the handle; `on_closed` runs in the loop's close
    /// phase, after which the handle's memory and callback are freed.
    pub(crate) fn close(self, on_closed: Option<Box<dyn FnOnce()>>) {
        Slot::close(self.slot, on_closed);
    }
}

unsafe extern "C" fn poll_ready(h: *mut Handle, status: c_int, _events: c_int) {
    // SAFETY: libuv only calls this for our started poll handles, whose
    // slot lives until their close callback. Only the `state` field is
    // borrowed: the callback may close the handle, which writes the slot's
    // `on_closed` field (and frees nothing until later).
    let state = unsafe { &mut (*Slot::<PollState>::of(h)).state };
    let result = if status < 0 {
        Err(uv_error(status))
    } else {
        Ok(())
    };
    super::contain(|| state(result));
}

type TimerState = Box<dyn FnMut()>;

/// A one-shot timer on the JS thread's loop (libuv's millisecond clock; a
/// stream's ticks on Linux use a timerfd instead, see `drivers::js_loop`).
pub(crate) struct Timer {
    slot: *mut Slot<TimerState>,
}

impl Timer {
    /// Creates a (stopped) timer on `lp`, this thread's loop.
    pub(crate) fn new(lp: *mut Loop, on_fire: impl FnMut() + 'static) -> io::Result<Timer> {
        let state: TimerState = Box::new(on_fire);
        let slot = Slot::new(UV_TIMER, state)?;
        // SAFETY: as in `Poll::new`.
        let rc = unsafe { (api_unchecked().timer_init)(lp, Slot::handle(slot)) };
        if rc != 0 {
            Slot::discard(slot);
            return Err(uv_error(rc));
        }
        Ok(Timer { slot })
    }

    /// Fires once, `ms` milliseconds from the loop's current time.
    pub(crate) fn start(&self, ms: u64) -> io::Result<()> {
        // SAFETY: the handle is initialised and open (closing consumes self).
        let rc =
            unsafe { (api_unchecked().timer_start)(Slot::handle(self.slot), timer_fired, ms, 0) };
        if rc == 0 {
            Ok(())
        } else {
            Err(uv_error(rc))
        }
    }

    pub(crate) fn set_ref(&self, on: bool) {
        set_ref(Slot::handle(self.slot), on);
    }

    pub(crate) fn close(self, on_closed: Option<Box<dyn FnOnce()>>) {
        Slot::close(self.slot, on_closed);
    }
}

unsafe extern "C" fn timer_fired(h: *mut Handle) {
    // SAFETY: as in `poll_ready`, for our timer handles.
    let state = unsafe { &mut (*Slot::<TimerState>::of(h)).state };
    super::contain(state);
}

fn set_ref(h: *mut Handle, on: bool) {
    let api = api_unchecked();
    // SAFETY: `h` is an initialised, not yet closed handle of ours.
    unsafe {
        if on {
            (api.ref_)(h)
        } else {
            (api.unref)(h)
        }
    }
}

/// Where other threads find an async handle to wake the JS thread: empty
/// once the handle is closed, so a late wake-up is a no-op, never a use of
/// freed memory.
#[derive(Clone, Default)]
pub(crate) struct Waker(Arc<Mutex<Option<AsyncPtr>>>);

#[derive(Clone, Copy)]
struct AsyncPtr(*mut Handle);
// SAFETY: uv_async_send is the one libuv call documented as safe from any
// thread; the pointer is only used for it, under the Waker's lock, which
// `Async::close` takes before closing the handle.
unsafe impl Send for AsyncPtr {}

impl Waker {
    /// Wakes the loop, which then runs the async handle's callback (several
    /// wake-ups before it runs are merged into one). False when the handle
    /// is closed (nobody will run).
    pub(crate) fn wake(&self) -> bool {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match *guard {
            Some(AsyncPtr(h)) => {
                // SAFETY: the handle is open while it sits in the slot (see
                // `Async::close`), and uv_async_send is thread-safe.
                unsafe { (api_unchecked().async_send)(h) };
                true
            }
            None => false,
        }
    }
}

type AsyncState = Box<dyn FnMut()>;

/// An async handle: lets other threads (via its `Waker`) make the JS
/// thread's loop run `on_wake`.
pub(crate) struct Async {
    slot: *mut Slot<AsyncState>,
    waker: Waker,
}

impl Async {
    /// Creates the handle on `lp` (this thread's loop) and publishes it in
    /// `waker`.
    pub(crate) fn new(
        lp: *mut Loop,
        waker: Waker,
        on_wake: impl FnMut() + 'static,
    ) -> io::Result<Async> {
        let state: AsyncState = Box::new(on_wake);
        let slot = Slot::new(UV_ASYNC, state)?;
        // SAFETY: as in `Poll::new`.
        let rc = unsafe { (api_unchecked().async_init)(lp, Slot::handle(slot), async_ready) };
        if rc != 0 {
            Slot::discard(slot);
            return Err(uv_error(rc));
        }
        *waker.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(AsyncPtr(Slot::handle(slot)));
        Ok(Async { slot, waker })
    }

    pub(crate) fn set_ref(&self, on: bool) {
        set_ref(Slot::handle(self.slot), on);
    }

    /// Unpublishes the handle (later wake-ups do nothing), then closes it.
    pub(crate) fn close(self, on_closed: Option<Box<dyn FnOnce()>>) {
        self.waker
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        Slot::close(self.slot, on_closed);
    }
}

unsafe extern "C" fn async_ready(h: *mut Handle) {
    // SAFETY: as in `poll_ready`, for our async handles.
    let state = unsafe { &mut (*Slot::<AsyncState>::of(h)).state };
    super::contain(state);
}

/// Where in a loop turn a `TurnHandle`'s callback runs.
#[derive(Clone, Copy)]
pub(crate) enum Phase {
    /// Just before the loop waits for I/O.
    Prepare,
    /// Before that, and the loop does not wait for I/O while one is
    /// started.
    Idle,
}

type TurnState = Box<dyn FnMut()>;

/// A prepare or idle handle: its callback runs at every loop turn, in its
/// `Phase`, from `start` until closed. A prepare handle is also the
/// cheapest way to get a callback in the loop's close phase
/// (`close_phase`).
pub(crate) struct TurnHandle {
    slot: *mut Slot<TurnState>,
    phase: Phase,
}

impl TurnHandle {
    /// Creates a (stopped) handle on `lp`, this thread's loop.
    pub(crate) fn new(
        lp: *mut Loop,
        phase: Phase,
        on_turn: impl FnMut() + 'static,
    ) -> io::Result<TurnHandle> {
        let api = api()?;
        let (kind, init) = match phase {
            Phase::Prepare => (UV_PREPARE, api.prepare_init),
            Phase::Idle => (UV_IDLE, api.idle_init),
        };
        let state: TurnState = Box::new(on_turn);
        let slot = Slot::new(kind, state)?;
        // SAFETY: as in `Poll::new`.
        let rc = unsafe { init(lp, Slot::handle(slot)) };
        if rc != 0 {
            Slot::discard(slot);
            return Err(uv_error(rc));
        }
        Ok(TurnHandle { slot, phase })
    }

    pub(crate) fn start(&self) -> io::Result<()> {
        let api = api_unchecked();
        let start = match self.phase {
            Phase::Prepare => api.prepare_start,
            Phase::Idle => api.idle_start,
        };
        // SAFETY: the handle is initialised and open (closing consumes self).
        let rc = unsafe { start(Slot::handle(self.slot), turn_ready) };
        if rc == 0 {
            Ok(())
        } else {
            Err(uv_error(rc))
        }
    }

    pub(crate) fn set_ref(&self, on: bool) {
        set_ref(Slot::handle(self.slot), on);
    }

    pub(crate) fn close(self, on_closed: Option<Box<dyn FnOnce()>>) {
        Slot::close(self.slot, on_closed);
    }
}

unsafe extern "C" fn turn_ready(h: *mut Handle) {
    // SAFETY: as in `poll_ready`, for our prepare and idle handles.
    let state = unsafe { &mut (*Slot::<TurnState>::of(h)).state };
    super::contain(state);
}

/// Runs `f` in the loop's close phase of this turn (after the check phase,
/// where `setImmediate` callbacks run), as libuv reports a closed handle's
/// requests: through a handle made only to be closed.
/// Without a handle (out of memory) `f` comes back, not called.
pub(crate) fn close_phase(lp: *mut Loop, f: Box<dyn FnOnce()>) -> Result<(), Box<dyn FnOnce()>> {
    match TurnHandle::new(lp, Phase::Prepare, || {}) {
        Ok(h) => {
            h.close(Some(f));
            Ok(())
        }
        Err(_) => Err(f),
    }
}
