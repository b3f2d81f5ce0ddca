//! The idle receive path: the JS thread's own event loop watches the socket
//! (a libuv poll handle, or on Linux the thread's shared epoll:
//! `loop_epoll`) and, when it is readable, the JS thread reads a
//! batch itself and hands it to its `Sink` in the same callback: one
//! wake-up of one thread per batch, as node:dgram has.
//!
//! When a read finds more waiting than one batch, the JS thread is falling
//! behind: the poller stops watching and tells the sink it is `busy`, which
//! hands the socket to the runtime's read-ahead (`drivers::runtime`). The
//! runtime hands it back later and `watch` resumes here. Only one of the
//! two reads the socket at any time, so datagrams stay in order.
//!
//! A stream (a sender slower than us, one or two datagrams per wake-up)
//! is read on a timer instead: one wake-up per tick carries what arrived
//! in it. When a socket streams, how long its ticks are and when it
//! watches again are decided by `core::stream` (which says why); this
//! module applies it. Streams are a Linux feature (`STREAMS`): the tick is
//! a timerfd watched by the loop (microseconds), where libuv's millisecond
//! timer fires on Windows' ~15.6 ms clock, long enough to overflow a
//! default 64 KiB receive buffer.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Instant;

use socket2::Socket;

use crate::core::recv::{self, Batch, Drained};
use crate::core::stream::{
    holds_a_stream, is_stream, judge_tick, window_lost, AfterTick, StreamTicks, TickSeen,
    STREAK_MAX, STREAM_SHORT, STREAM_STREAK, TICK_START,
};
use crate::drivers::local_sends::{self, LocalPort};
use crate::drivers::shared::Shared;
use crate::drivers::stats;
use crate::sys::uv;

/// Datagrams the JS thread reads per wake-up before it calls the socket
/// busy (two full `recvmmsg` on Linux). libuv reads up to 32.
pub(crate) const JS_BATCH: usize = 2 * recv::SLOTS;

/// How a socket's queue may be read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sharing {
    /// Only this handle reads the socket: read in batches, and ahead.
    Exclusive,
    /// The descriptor may be shared with other handles or processes (a
    /// cluster worker's socket, `bind({ fd })`): whatever is read is
    /// emitted before the next read, one datagram at a time as libuv does,
    /// so that a listener that closes the socket leaves the rest in the
    /// kernel for the others.
    #[cfg_attr(not(unix), allow(dead_code))] // descriptors are adopted on Unix only
    Shared,
}

/// Datagrams a shared socket's wake-up reads at most (libuv's count).
const SHARED_BATCH: usize = LIBUV_TURN;
/// How many datagrams libuv reads from a socket per loop turn.
const LIBUV_TURN: usize = 32;

/// Whether sockets may stream (read on a timer) at all: only where the
/// timer is a timerfd with microsecond ticks.
const STREAMS: bool = cfg!(target_os = "linux");
/// Datagrams one tick reads before it calls the socket busy.
const STREAM_BATCH: usize = 32 * recv::SLOTS;
/// What became of a batch handed to the sink.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Taken {
    /// Emitted; reading may go on.
    All,
    /// The socket stopped receiving meanwhile (a listener closed it):
    /// nothing more may be read in this callback.
    Stopped,
    /// JS emitted the first 32 messages and holds the rest for the next
    /// turns: the poller pauses until the sink `resume`s it.
    Held,
}

/// Where a socket's received data goes (the napi edge). Each call runs JS.
pub(crate) trait Sink {
    fn batch(&self, batch: Batch) -> Taken;
    /// `false`: the socket stopped receiving meanwhile.
    fn error(&self, err: io::Error) -> bool;
    /// More is waiting than the JS thread reads per wake-up: the poller
    /// stopped watching; the sink starts read-ahead.
    fn busy(&self);
}

/// Reads one batch now, without blocking, with the socket's options.
pub(crate) fn read_batch(sock: &Socket, shared: &Shared, max_datagrams: usize) -> Drained {
    shared.with_recv_options(max_datagrams, |opts| {
        recv::drain(&mut |arena, max| arena.read(sock, max), opts)
    })
}

/// How the JS loop watches one socket: a libuv poll handle of its own, or
/// (Linux, a socket only this handle reads) the thread's epoll
/// (`loop_epoll`, which says why).
enum Watch {
    Own(uv::Poll),
    #[cfg(target_os = "linux")]
    Epoll(super::loop_epoll::EpollWatch),
}

impl Watch {
    fn start(&self) -> io::Result<()> {
        match self {
            Self::Own(p) => p.start(),
            #[cfg(target_os = "linux")]
            Self::Epoll(w) => w.start(),
        }
    }

    fn stop(&self) {
        match self {
            Self::Own(p) => p.stop(),
            #[cfg(target_os = "linux")]
            Self::Epoll(w) => w.stop(),
        }
    }

    fn set_ref(&self, on: bool) {
        match self {
            Self::Own(p) => p.set_ref(on),
            #[cfg(target_os = "linux")]
            Self::Epoll(w) => w.set_ref(on),
        }
    }

    fn close(self, on_closed: Option<Box<dyn FnOnce()>>) {
        match self {
            Self::Own(p) => p.close(on_closed),
            #[cfg(target_os = "linux")]
            Self::Epoll(w) => w.close(on_closed),
        }
    }
}

struct Inner {
    poll: RefCell<Option<Watch>>,
    sharing: Sharing,
    sock: std::sync::Weak<Socket>,
    shared: Arc<Shared>,
    sink: RefCell<Option<Weak<dyn Sink>>>,
    /// The JS loop reads the socket (by poll, or by timer in a stream).
    watching: Cell<bool>,
    lp: *mut uv::Loop,
    /// A stream's timer: exists only while the socket streams.
    ticker: RefCell<Option<Ticker>>,
    /// Whether the socket streams (`core::stream`).
    streaming: Cell<bool>,
    /// The current stream's ticks (`judge_tick`).
    stream: Cell<StreamTicks>,
    /// The socket's receive buffer size, read when a stream starts.
    rcvbuf: Cell<usize>,
    /// The current window of wake-ups counted toward a stream: when it
    /// began, how many wake-ups and datagrams it has seen.
    window_start: Cell<Option<Instant>>,
    window_wakeups: Cell<u32>,
    window_datagrams: Cell<usize>,
    /// Wake-ups a window needs to be a stream (`STREAM_STREAK` doubled
    /// after each stream that did not pay, `STREAM_SHORT`).
    streak: Cell<u32>,
    /// The thread's count of sends (`local_sends::sends`) when last compared (at a
    /// wake-up counted toward a stream, or a stream's tick): when it has
    /// moved, the application is answering (`answered`).
    sends_seen: Cell<u64>,
    /// The socket's local port, as the thread's sends are compared to it.
    port: Rc<LocalPort>,
    refd: Cell<bool>,
    /// A libuv poll handle left started, unref'd, by JS's `recvStop`
    /// until its next callback stops it or `watch` takes it back
    /// (`unwatch_soon`). Set only while that handle is started.
    stop_pending: Cell<bool>,
}

/// One socket's watch on the JS thread's loop.
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
        sharing: Sharing,
    ) -> io::Result<Self> {
        let port = LocalPort::new(Arc::downgrade(sock), shared.clone());
        let inner = Rc::new(Inner {
            poll: RefCell::new(None),
            sharing,
            sock: Arc::downgrade(sock),
            shared,
            sink: RefCell::new(None),
            watching: Cell::new(false),
            lp,
            ticker: RefCell::new(None),
            streaming: Cell::new(false),
            stream: Cell::new(StreamTicks::START),
            rcvbuf: Cell::new(0),
            window_start: Cell::new(None),
            window_wakeups: Cell::new(0),
            window_datagrams: Cell::new(0),
            streak: Cell::new(STREAM_STREAK),
            sends_seen: Cell::new(local_sends::sends()),
            port,
            refd: Cell::new(true),
            stop_pending: Cell::new(false),
        });
        let weak = Rc::downgrade(&inner);
        let on_ready = move |status| {
            if let Some(inner) = weak.upgrade() {
                on_readable(&inner, status);
            }
        };
        // A descriptor others may hold keeps a libuv handle of its own:
        // libuv's check refuses one the loop already watches (`EEXIST`).
        #[cfg(target_os = "linux")]
        let watch = match sharing {
            Sharing::Exclusive => Watch::Epoll(super::loop_epoll::EpollWatch::new(
                lp,
                os_sock(sock),
                on_ready,
            )),
            Sharing::Shared => Watch::Own(uv::Poll::new(lp, os_sock(sock), on_ready)?),
        };
        #[cfg(not(target_os = "linux"))]
        let watch = Watch::Own(uv::Poll::new(lp, os_sock(sock), on_ready)?);
        *inner.poll.borrow_mut() = Some(watch);
        Ok(Self { inner })
    }

    /// A handle to read the socket with once the owner has let go of its
    /// borrow of the poller (reading runs JS, which may close the socket).
    pub(crate) fn turn_reader(&self) -> TurnReader {
        TurnReader(self.inner.clone())
    }

    /// Who gets the data read here.
    pub(crate) fn set_sink(&self, sink: Weak<dyn Sink>) {
        *self.inner.sink.borrow_mut() = Some(sink);
    }

    /// Starts watching (idle mode).
    pub(crate) fn watch(&self) -> io::Result<()> {
        watch(&self.inner)
    }

    /// Stops watching: JS stopped receiving (`recvStop`).
    pub(crate) fn unwatch(&self) {
        unwatch_soon(&self.inner);
    }

    /// Reads again after a pause (`Taken::Held`): by poll, or on a
    /// stream's next tick.
    pub(crate) fn resume(&self) -> io::Result<()> {
        let inner = &self.inner;
        if inner.watching.get() {
            return Ok(());
        }
        if !inner.streaming.get() {
            return watch(inner);
        }
        if let Some(t) = inner.ticker.borrow().as_ref() {
            t.start(inner.stream.get().tick_us)?;
        }
        inner.watching.set(true);
        Ok(())
    }

    pub(crate) fn set_ref(&self, on: bool) {
        self.inner.refd.set(on);
        if let Some(p) = self.inner.poll.borrow().as_ref() {
            // (A handle whose stop is pending stays unref'd.)
            if !self.inner.stop_pending.get() {
                p.set_ref(on);
            }
        }
        if let Some(t) = self.inner.ticker.borrow().as_ref() {
            t.set_ref(on);
        }
    }

    /// Closes the handles; `on_closed` runs in the loop's close phase.
    pub(crate) fn close(&self, on_closed: Option<Box<dyn FnOnce()>>) {
        self.inner.port.forget();
        self.inner.watching.set(false);
        self.inner.streaming.set(false);
        self.inner.sink.borrow_mut().take();
        // Taken out first: no borrow is held while `on_closed` may run at
        // once (no poll handle, or a close that cannot get its extra turn),
        // and it may reach this poller again.
        let ticker = self.inner.ticker.borrow_mut().take();
        if let Some(t) = ticker {
            t.close();
        }
        let poll = self.inner.poll.borrow_mut().take();
        if let Some(p) = poll {
            p.close(on_closed);
        } else if let Some(f) = on_closed {
            f();
        }
    }
}

fn watch(inner: &Inner) -> io::Result<()> {
    end_stream(inner);
    if inner.stop_pending.replace(false) {
        // Still started, and whatever its loop gathered this turn for the
        // socket is still to come.
        if let Some(p) = inner.poll.borrow().as_ref() {
            p.set_ref(inner.refd.get());
        }
        inner.watching.set(true);
        return Ok(());
    }
    let started = match inner.poll.borrow().as_ref() {
        Some(p) => p.start(),
        None => return Ok(()),
    };
    #[cfg(target_os = "linux")]
    let started = started.or_else(|e| own_poll_instead(inner, e));
    started?;
    inner.watching.set(true);
    Ok(())
}

/// The thread's epoll could not be opened (no descriptor free, for a
/// moment maybe): the socket gets a libuv poll handle of its own, which
/// needs none, as node:dgram's socket needs none to receive.
#[cfg(target_os = "linux")]
fn own_poll_instead(inner: &Inner, err: io::Error) -> io::Result<()> {
    let own = match inner.poll.borrow().as_ref() {
        Some(Watch::Epoll(w)) => w.own_poll()?,
        _ => return Err(err),
    };
    own.set_ref(inner.refd.get());
    if let Err(e) = own.start() {
        own.close(None);
        return Err(e);
    }
    // The epoll watch was never registered: dropping it does nothing.
    inner.poll.borrow_mut().replace(Watch::Own(own));
    Ok(())
}

fn unwatch(inner: &Inner) {
    end_stream(inner);
    stop_poll(inner);
    inner.watching.set(false);
}

/// `unwatch` for JS's `recvStop`. libuv's `uv_poll_stop` also drops the
/// events its loop gathered for the descriptor this turn, which
/// `uv_udp_recv_stop` keeps: a socket that another socket's listener stops
/// and restarts would then miss this turn and come after its immediates,
/// where node:dgram emits it in the same turn. So a libuv poll handle
/// (every socket off Linux; shared descriptors on Linux) stays started,
/// unref'd, and its next callback stops it, unless `watch` takes it back
/// first. (The thread's own epoll, `loop_epoll`, keeps gathered events.)
fn unwatch_soon(inner: &Inner) {
    let polled = inner.watching.get() && !inner.streaming.get();
    match inner.poll.borrow().as_ref() {
        Some(p @ Watch::Own(_)) if polled => {
            p.set_ref(false);
            inner.stop_pending.set(true);
            inner.watching.set(false);
        }
        _ => unwatch(inner),
    }
}

/// Stops the poll handle now (a pending stop included).
fn stop_poll(inner: &Inner) {
    if let Some(p) = inner.poll.borrow().as_ref() {
        p.stop();
        if inner.stop_pending.replace(false) {
            p.set_ref(inner.refd.get());
        }
    }
}

/// JS holds a batch (`Taken::Held`): nothing is read until `resume`. A
/// stream's tick is simply not re-armed (it fired), so the stream goes on
/// afterwards as it was.
fn pause(inner: &Inner) {
    inner.watching.set(false);
    if !inner.streaming.get() {
        stop_poll(inner);
    }
}

fn end_stream(inner: &Inner) {
    if inner.streaming.replace(false) {
        // The timer goes with its stream: a polled socket holds one
        // descriptor, as node:dgram's does (a timerfd kept for a stream
        // that may never come back made a server with many sockets that
        // once streamed hit its descriptor limit sooner than node's).
        let ticker = inner.ticker.borrow_mut().take();
        if let Some(t) = ticker {
            t.close();
        }
    }
    inner.window_start.set(None);
}

/// Whether the thread sent anything since the socket's last wake-up (or
/// tick): then it is answering what arrives, maybe by another socket, and
/// a tick's delay would be the exchange's. (Sends from other threads or
/// processes, and answers by other means, are not seen.)
fn answered(inner: &Inner) -> bool {
    let now = local_sends::sends();
    inner.sends_seen.replace(now) != now
}

/// Counts a wake-up toward a stream; on a stream, switches from the poll
/// handle to the timer.
fn note_wakeup(inner: &Rc<Inner>, count: usize, bytes: usize) {
    let now = Instant::now();
    if answered(inner) {
        inner.window_start.set(None);
        return;
    }
    let Some(start) = inner.window_start.get() else {
        inner.window_start.set(Some(now));
        inner.window_wakeups.set(1);
        inner.window_datagrams.set(count);
        return;
    };
    // A window already longer than its wake-ups may average can no longer
    // pass: a new one starts here, so a stream that begins during a long
    // window (`streak` goes up to 4,096: a second of them) is seen within
    // one window of its start, not after that one has failed.
    let span = now.duration_since(start);
    if window_lost(span, inner.streak.get()) {
        inner.window_start.set(Some(now));
        inner.window_wakeups.set(1);
        inner.window_datagrams.set(count);
        return;
    }
    let wakeups = inner.window_wakeups.get() + 1;
    let datagrams = inner.window_datagrams.get() + count;
    if wakeups < inner.streak.get() {
        inner.window_wakeups.set(wakeups);
        inner.window_datagrams.set(datagrams);
        return;
    }
    inner.window_start.set(None);
    if STREAMS && is_stream(span, wakeups, datagrams) {
        let _ = start_stream(inner, count, bytes);
    }
}

/// Switches to ticks, unless the receive buffer is too small for the
/// datagrams of the last wake-up (`count`, `bytes`): `Ok(false)`.
fn start_stream(inner: &Rc<Inner>, count: usize, bytes: usize) -> io::Result<bool> {
    let rcvbuf = inner
        .sock
        .upgrade()
        .and_then(|s| s.recv_buffer_size().ok())
        .unwrap_or(0);
    if !holds_a_stream(rcvbuf, count, bytes) {
        return Ok(false);
    }
    let weak = Rc::downgrade(inner);
    let ticker = Ticker::new(inner.lp, move || {
        if let Some(inner) = weak.upgrade() {
            on_tick(&inner);
        }
    })?;
    ticker.set_ref(inner.refd.get());
    if let Err(e) = ticker.start(TICK_START) {
        ticker.close();
        return Err(e);
    }
    inner.rcvbuf.set(rcvbuf);
    inner.stream.set(StreamTicks::START);
    // (Not streaming until now, so there was no ticker to replace.)
    let before = inner.ticker.borrow_mut().replace(ticker);
    if let Some(t) = before {
        t.close();
    }
    stop_poll(inner);
    inner.streaming.set(true);
    stats::STREAMS.add(1);
    Ok(true)
}

/// A stream's tick: read what arrived since the last one.
fn on_tick(inner: &Rc<Inner>) {
    stats::STREAM_TICKS.add(1);
    let sink = inner.sink.borrow().as_ref().and_then(Weak::upgrade);
    let Some(sink) = sink else {
        return;
    };
    let (count, bytes, more, taken) = read_and_emit(inner, &*sink, STREAM_BATCH);
    if !inner.watching.get() || !inner.streaming.get() || taken == Taken::Stopped {
        return; // stopped by JS meanwhile
    }
    let held = taken == Taken::Held;
    let seen = TickSeen {
        count,
        bytes,
        more,
        held,
        // (Not compared on a held tick, which goes on whatever: the sends
        // made meanwhile count at the next tick that can end the stream.)
        answered: !held && answered(inner),
        slow: slow_consumer(inner),
        rcvbuf: inner.rcvbuf.get(),
    };
    let mut stream = inner.stream.get();
    let next = judge_tick(&mut stream, &seen);
    inner.stream.set(stream);
    if stream.ticks == STREAM_SHORT + 1 {
        inner.streak.set(STREAM_STREAK); // this one pays
    }
    match next {
        AfterTick::ReadAhead => {
            unwatch(inner);
            stats::READ_AHEADS.add(1);
            sink.busy();
        }
        AfterTick::End { back_off } => {
            if back_off {
                inner.streak.set((inner.streak.get() * 2).min(STREAK_MAX));
            }
            if let Err(e) = watch(inner) {
                sink.error(e);
            }
        }
        // The next tick is armed when JS has emitted the held batch.
        AfterTick::Hold => pause(inner),
        AfterTick::Again => {
            let started = inner
                .ticker
                .borrow()
                .as_ref()
                .map(|t| t.start(stream.tick_us));
            if let Some(Err(e)) = started {
                resume_watching(inner, &*sink, e);
            }
        }
    }
}

/// What wakes a stream's ticks: on Linux a one-shot timerfd watched by a
/// poll handle (microseconds), elsewhere libuv's timer (milliseconds).
/// Streams are Linux-only (`STREAMS`), so the second is not used today; it
/// is kept so that turning `STREAMS` on elsewhere (with a clock fine
/// enough, see the module's comment) needs no other change.
///
/// The timerfd is re-armed after each tick, so the next one comes a tick
/// after the reading ended: a periodic timer ticked too early behind a
/// slow listener and, in phase with a sender's own 1 ms timer, often found
/// nothing (streams ended and restarted: a paced 50k/s stream cost 15 %
/// more CPU).
enum Ticker {
    /// Whether the poll handle is started: it stays so while the stream
    /// lasts (restarting an active libuv poll handle takes the descriptor
    /// out of epoll and puts it back: two `epoll_ctl`s per tick).
    #[cfg(target_os = "linux")]
    Fd(Rc<crate::sys::TimerFd>, uv::Poll, Cell<bool>),
    #[cfg(not(target_os = "linux"))]
    Uv(uv::Timer),
}

impl Ticker {
    #[cfg(target_os = "linux")]
    fn new(lp: *mut uv::Loop, mut on_tick: impl FnMut() + 'static) -> io::Result<Self> {
        let fd = Rc::new(crate::sys::TimerFd::new()?);
        let theirs = fd.clone();
        // The poll handle's callback holds the timerfd, which is closed
        // when that is freed, after the handle closed.
        let poll = uv::Poll::new(lp, fd.raw(), move |_| {
            theirs.clear();
            on_tick();
        })?;
        Ok(Self::Fd(fd, poll, Cell::new(false)))
    }

    #[cfg(not(target_os = "linux"))]
    fn new(lp: *mut uv::Loop, on_tick: impl FnMut() + 'static) -> io::Result<Self> {
        Ok(Self::Uv(uv::Timer::new(lp, on_tick)?))
    }

    fn start(&self, micros: u64) -> io::Result<()> {
        match self {
            #[cfg(target_os = "linux")]
            Self::Fd(fd, poll, started) => {
                fd.arm(micros)?;
                if !started.get() {
                    poll.start()?;
                    started.set(true);
                }
                Ok(())
            }
            #[cfg(not(target_os = "linux"))]
            Self::Uv(t) => t.start(micros.div_ceil(1000)),
        }
    }

    fn set_ref(&self, on: bool) {
        match self {
            #[cfg(target_os = "linux")]
            Self::Fd(_, poll, _) => poll.set_ref(on),
            #[cfg(not(target_os = "linux"))]
            Self::Uv(t) => t.set_ref(on),
        }
    }

    fn close(self) {
        match self {
            #[cfg(target_os = "linux")]
            Self::Fd(_, poll, _) => poll.close(None),
            #[cfg(not(target_os = "linux"))]
            Self::Uv(t) => t.close(None),
        }
    }
}

/// Reads a paused socket in the turn JS emitted the last of a held batch.
pub(crate) struct TurnReader(Rc<Inner>);

impl TurnReader {
    /// JS emitted the last of a held batch of `batch_count` messages (32 a
    /// turn): libuv would have gone on reading in this turn, up to its 32,
    /// and found what arrived meanwhile (the replies the listeners sent to
    /// the socket itself, written at their lookup ticks). Read that now,
    /// still paused: the owner resumes the poll from the next turn on.
    pub(crate) fn read_rest_of_turn(&self, batch_count: usize) {
        let inner = &*self.0;
        if inner.sharing != Sharing::Exclusive || inner.streaming.get() || batch_count == 0 {
            return;
        }
        let sink = inner.sink.borrow().as_ref().and_then(Weak::upgrade);
        let Some(sink) = sink else {
            return;
        };
        let mut count = (batch_count - 1) % LIBUV_TURN + 1;
        while count < LIBUV_TURN {
            let (read, _, _, taken) = read_and_emit(inner, &*sink, LIBUV_TURN - count);
            count += read;
            if read == 0 || taken != Taken::All {
                break;
            }
        }
    }
}

fn resume_watching(inner: &Inner, sink: &dyn Sink, err: io::Error) {
    if let Err(e) = watch(inner) {
        sink.error(e);
    } else {
        sink.error(err);
    }
}

fn on_readable(inner: &Rc<Inner>, status: io::Result<()>) {
    if inner.stop_pending.get() {
        stop_poll(inner); // JS stopped receiving (`unwatch_soon`)
        return;
    }
    stats::JS_WAKEUPS.add(1);
    let sink = inner.sink.borrow().as_ref().and_then(Weak::upgrade);
    let Some(sink) = sink else {
        return;
    };
    // libuv stops a poll handle whose socket reports an error (a pending
    // ICMP report on a connected socket): the read below collects and
    // reports it, then watching resumes. (The shared epoll reports such a
    // socket as readable and keeps watching it.)
    let errored = status.is_err();
    let (count, bytes, more, taken) = match inner.sharing {
        // A slow consumer gets what libuv reads per turn: nothing is held
        // in JS beyond it, the rest waits in the kernel as for node:dgram.
        Sharing::Exclusive => {
            let max = if slow_consumer(inner) {
                LIBUV_TURN
            } else {
                JS_BATCH
            };
            let sends = local_sends::to_this_thread();
            let first = read_and_emit(inner, &*sink, max);
            if local_sends::to_this_thread() == sends {
                first
            } else {
                read_again(inner, &*sink, first)
            }
        }
        Sharing::Shared => {
            for _ in 0..SHARED_BATCH {
                if !read_and_emit(inner, &*sink, 1).2 || !inner.watching.get() {
                    break;
                }
            }
            // Never read ahead nor left waiting, nor held (one at a time).
            (0, 0, false, Taken::All)
        }
    };
    if !inner.watching.get() || taken == Taken::Stopped {
        return; // stopped by JS meanwhile
    }
    // A slow consumer is left to the JS loop: libuv's reads, its buffering
    // (asked after the read: the batch just emitted may have shown it).
    let slow = slow_consumer(inner);
    let more = more && !slow;
    if taken == Taken::Held {
        hold(inner, &*sink, more);
        return;
    }
    if more {
        unwatch(inner);
        stats::READ_AHEADS.add(1);
        sink.busy();
    } else if errored {
        if let Err(e) = watch(inner) {
            sink.error(e);
        }
    } else if inner.sharing == Sharing::Exclusive && !slow {
        note_wakeup(inner, count, bytes);
    }
}

fn slow_consumer(inner: &Inner) -> bool {
    inner
        .shared
        .slow_consumer
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// JS holds the rest of a batch: pause until the sink resumes the poller,
/// or, when more is waiting than a wake-up reads, hand the socket to
/// read-ahead now (it reads while JS emits, and JS takes what it read
/// after the held batch).
fn hold(inner: &Inner, sink: &dyn Sink, more: bool) {
    if more {
        unwatch(inner);
        stats::READ_AHEADS.add(1);
        sink.busy();
    } else {
        pause(inner);
    }
}

/// After a read that JS emitted in full, if its listeners sent to one of
/// this thread's sockets (`local_sends::to_this_thread`): libuv reads a socket again after
/// its callbacks, until it finds it empty or has read 32 datagrams in the
/// turn, so a datagram that arrived while the listeners ran (the socket's
/// send to itself, a reply from a socket of the same process, written at
/// its lookup tick) is emitted in this turn, before its immediates. The
/// same here, at one `recvmmsg` more per such wake-up (libuv's last
/// `recvmsg` finds the socket empty too). Otherwise what could have come
/// meanwhile is another process's, whose timing no one can count on: the
/// next wake-up reads it (reading on after every reply to a remote server
/// cost 6–10 % of an echo client's round trips). A read that reaches the
/// turn's count leaves the rest to the next turn's poll (not to
/// read-ahead: it was not a full batch).
fn read_again(
    inner: &Inner,
    sink: &dyn Sink,
    first: (usize, usize, bool, Taken),
) -> (usize, usize, bool, Taken) {
    let (mut count, mut bytes, more, mut taken) = first;
    if more {
        return first;
    }
    let mut last = count;
    while last > 0 && taken == Taken::All && count < LIBUV_TURN && inner.watching.get() {
        let (c, b, _, t) = read_and_emit(inner, sink, LIBUV_TURN - count);
        count += c;
        bytes += b;
        taken = t;
        last = c;
    }
    (count, bytes, false, taken)
}

/// Reads up to `max` datagrams and hands them to the sink; returns how
/// many were read and their bytes, whether more are waiting (and the sink
/// still receives), and what the sink did with them.
fn read_and_emit(inner: &Inner, sink: &dyn Sink, max: usize) -> (usize, usize, bool, Taken) {
    let Some(sock) = inner.sock.upgrade() else {
        return (0, 0, false, Taken::Stopped);
    };
    let Drained { batch, error, more } = read_batch(&sock, &inner.shared, max);
    drop(sock);
    let count = batch.as_ref().map_or(0, |b| b.count);
    let bytes = batch
        .as_ref()
        .map_or(0, |b| b.chunks.iter().map(Vec::len).sum());
    let mut taken = Taken::All;
    if let Some(batch) = batch {
        stats::JS_BATCHES.add(1);
        stats::JS_DATAGRAMS.add(count);
        taken = sink.batch(batch);
        if taken == Taken::Stopped {
            return (count, bytes, false, taken);
        }
    }
    // (While JS holds a batch, the sink keeps an error for after it.)
    if let Some(err) = error {
        if !sink.error(err) {
            return (count, bytes, false, Taken::Stopped);
        }
    }
    (count, bytes, more, taken)
}

#[cfg(unix)]
fn os_sock(sock: &Socket) -> uv::OsSock {
    std::os::fd::AsRawFd::as_raw_fd(sock)
}

#[cfg(windows)]
fn os_sock(sock: &Socket) -> uv::OsSock {
    std::os::windows::io::AsRawSocket::as_raw_socket(sock) as uv::OsSock
}
