//! The one tokio runtime shared by every socket of the process, and the
//! busy receive path that runs on it: read-ahead.
//!
//! A socket comes here when the JS thread found more waiting than it reads
//! per wake-up. The task then reads batches into the socket's inbox in
//! parallel with JS emitting the previous ones, at most
//! `BATCHES_IN_FLIGHT` ahead (beyond that it pauses and the kernel drops, as
//! with node:dgram). It hands the socket back to the JS loop
//! (`Event::HandBack`, always its last event) when a drain empties the
//! socket with a small batch (the rate no longer needs a second thread), or
//! when it finds the socket empty after a large one *and* JS has taken every
//! batch. The two thresholds are the hysteresis: the JS loop calls a socket
//! busy when a wake-up finds two full reads waiting (`js_loop::JS_BATCH`),
//! or a stream tick 32 full reads (`js_loop::STREAM_BATCH`, 1,024 datagrams
//! on Linux); read-ahead stays while
//! batches stay large.
//!
//! A socket is registered with the runtime's reactor only while read-ahead
//! runs (and not while it pauses for JS): an idle socket never wakes the
//! runtime thread. The runtime is started when a socket first needs it
//! (read-ahead, a send the kernel refused for now) and shut down when the
//! last socket that used it is closed, so that, as with node:dgram, no
//! thread or descriptor of ours outlives the sockets. Its thread holds no
//! JS state and is not joined (at exit nor at shutdown).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use socket2::Socket;
use tokio::runtime::{Builder, Handle, Runtime};

use crate::core::recv::{self, Drained};
use crate::drivers::budget;
use crate::drivers::shared::{lock, Event, Shared};
use crate::drivers::stats;

/// The runtime while some socket uses it, and how many do (sockets of
/// several worker threads may start or stop using it at once: the count
/// and the runtime change together, under this lock).
static RUNTIME: Mutex<Users> = Mutex::new(Users {
    runtime: None,
    count: 0,
});

struct Users {
    runtime: Option<Runtime>,
    /// Sockets whose `Shared::uses_runtime` is set.
    count: usize,
}

/// Threads of the runtime alive now, its worker and its blocking threads
/// (counted by the runtime's thread start and stop hooks; a runtime shut
/// down a moment ago may still count a thread that is on its way out).
static THREADS: AtomicUsize = AtomicUsize::new(0);
/// The runtime's worker threads (`start`).
const WORKERS: usize = 1;

/// The shared runtime's handle for `shared`'s socket, starting the runtime
/// if no socket uses it; the socket counts as a user until `release`. One
/// worker: the JS thread does the hot work (emitting events); one thread
/// reading ahead is enough, more would only add wake-ups (queued sends
/// drain on blocking threads, `DRAIN_THREADS`).
///
/// A start that fails (no descriptor left for its epoll and eventfd, or no
/// thread: EMFILE, EAGAIN) is not remembered: the caller carries on without
/// the runtime and the next caller tries again, so a moment of descriptor
/// exhaustion costs read-ahead only while it lasts.
pub(crate) fn handle(shared: &Shared) -> io::Result<Handle> {
    let mut users = lock(&RUNTIME);
    let handle = match users.runtime.as_ref() {
        Some(rt) => rt.handle().clone(),
        None => {
            let rt = start()?;
            let handle = rt.handle().clone();
            users.runtime = Some(rt);
            handle
        }
    };
    if !shared.uses_runtime.swap(true, Ordering::AcqRel) {
        users.count += 1;
    }
    Ok(handle)
}

/// How many queues may drain at once, each on a blocking thread of its own
/// (started as needed, ended after `DRAIN_THREAD_IDLE` without work): a
/// queue that stays unwritable must not hold up other sockets' sends, as no
/// libuv socket waits for another. Each waiting queue holds its thread (a
/// `poll` for writability, `drivers::send`), so this is how many sockets
/// may wait for room at once before the next one's sends wait for a thread
/// (8 until session 42: a ninth socket on a congested link waited for a
/// whole queue to empty; `reliability-sendqueue.spec.js`, "sixteen
/// sockets"). A thread that waits costs its stack, not CPU.
const DRAIN_THREADS: usize = 64;
/// How long a drain thread is kept without work: long enough that a link
/// pushing back now and then does not start a thread each time, short
/// enough that a burst of waiting queues leaves no threads behind.
const DRAIN_THREAD_IDLE: Duration = Duration::from_secs(10);

/// Builds the runtime. tokio panics where the OS refuses it a thread (a
/// pids limit, `ulimit -u`) instead of returning an error, and a panic here
/// would abort the process from inside a libuv callback: a thread is
/// started first to ask the OS (the refusal comes back as EAGAIN), and a
/// panic left (the limit reached in between) becomes an error too.
///
/// Its threads are counted in `THREADS` (see `spawn_blocking`).
fn start() -> io::Result<Runtime> {
    probe_thread()?;
    std::panic::catch_unwind(|| {
        Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .max_blocking_threads(DRAIN_THREADS)
            .thread_keep_alive(DRAIN_THREAD_IDLE)
            .thread_name("dgram-rs-io")
            .on_thread_start(|| {
                THREADS.fetch_add(1, Ordering::AcqRel);
                crate::sys::block_process_signals();
            })
            .on_thread_stop(|| {
                THREADS.fetch_sub(1, Ordering::AcqRel);
            })
            .enable_io()
            .build()
    })
    .unwrap_or_else(|_| Err(io::Error::other("dgram-rs: no thread for the runtime")))
}

/// Asks the OS for a thread: EAGAIN where it would refuse one.
fn probe_thread() -> io::Result<()> {
    std::thread::Builder::new()
        .name("dgram-rs-probe".into())
        .spawn(|| {})?
        .join()
        .map_err(|_| io::Error::other("dgram-rs: thread probe failed"))
}

/// Runs `task` on a blocking thread of the runtime (`shared`'s socket then
/// counts as a user). tokio's `spawn_blocking` panics when the OS refuses a
/// thread and it has no blocking thread at all, after queueing the task
/// (which then runs whenever a thread appears: the caller's `task` must
/// tolerate running late, or never). So while the runtime has no blocking
/// thread (none started yet, or all ended after `DRAIN_THREAD_IDLE`) the
/// OS is asked first, and a refusal is an error, without tokio's panic and
/// its message on stderr. A panic left (the limit reached in between, or a
/// thread counted that was ending) is an error too.
pub(crate) fn spawn_blocking(
    shared: &Shared,
    task: impl FnOnce() + Send + 'static,
) -> io::Result<()> {
    let rt = handle(shared)?;
    // One spawn at a time: the probe and the spawn it vouches for together.
    let _users = lock(&RUNTIME);
    if THREADS.load(Ordering::Acquire) <= WORKERS {
        probe_thread()?;
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(rt.spawn_blocking(task))
    }))
    .map_err(|_| io::Error::from(io::ErrorKind::WouldBlock))
}

/// `shared`'s socket is closed (JS thread): it no longer counts as a user,
/// and the last one's close shuts the runtime down. Its tasks have stopped
/// (`Shared::stop`); those of a socket closed mid-write end with it. Not
/// waiting: the thread exits, and closes the reactor's descriptors, by
/// itself.
pub(crate) fn release(shared: &Shared) {
    if !shared.uses_runtime.swap(false, Ordering::AcqRel) {
        return;
    }
    let mut users = lock(&RUNTIME);
    users.count = users.count.saturating_sub(1);
    if users.count == 0 {
        if let Some(rt) = users.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Datagrams per read-ahead batch (bounds one batch's memory with the
/// byte limit in `core::recv`).
const AHEAD_BATCH: usize = 256;
/// A drain that brings fewer datagrams than this (and empties the socket)
/// ends read-ahead: at that rate the JS loop reads well enough by itself,
/// and reading ahead would only cost each batch a wake-up of both threads.
const SMALL_BATCH: usize = 32;

/// Starts reading `sock` ahead (JS thread; the JS loop stopped watching it).
pub(crate) fn start_read_ahead(sock: &Arc<Socket>, shared: &Arc<Shared>) -> io::Result<()> {
    if budget::exhausted() {
        // The JS loop goes on reading it (`drivers::budget`).
        return Err(io::ErrorKind::OutOfMemory.into());
    }
    let rt = handle(shared)?;
    let generation = shared.begin_reading();
    // UDP GRO only once a socket is busy: enabling it flips a kernel static
    // key (costly text patching on every CPU) when it is the first such
    // socket, and again at close, which would make every short-lived socket
    // pay for it.
    #[cfg(target_os = "linux")]
    if !shared.gro.swap(true, std::sync::atomic::Ordering::Relaxed) {
        crate::sys::enable_gro(&**sock);
    }
    rt.spawn(read_ahead(Arc::downgrade(sock), shared.clone(), generation));
    Ok(())
}

/// What ended one registered stretch of reading.
enum Pause {
    /// JS has every batch and the socket is empty, or the process's
    /// read-ahead holds its budget (`drivers::budget`): hand back.
    Idle,
    /// JS holds `BATCHES_IN_FLIGHT` batches: wait for room, unregistered.
    Full,
    /// Stopped (recvStop, close) or the socket is gone: end quietly.
    Stop,
}

async fn read_ahead(sock: Weak<Socket>, shared: Arc<Shared>, generation: u64) {
    loop {
        match read_registered(&sock, &shared, generation).await {
            Pause::Stop => return,
            Pause::Idle => {
                if shared.post_reading(generation, Event::HandBack(generation)) {
                    stats::HAND_BACKS.add(1);
                }
                return;
            }
            Pause::Full => {
                tokio::select! {
                    permit = shared.credits.acquire() => match permit {
                        // Give the credit back: the next drain takes it.
                        Ok(p) => drop(p),
                        Err(_) => return,
                    },
                    _ = shared.until_reading_stopped(generation) => return,
                }
            }
        }
    }
}

/// Registers the socket with the reactor and reads until a pause; the
/// registration (and our hold on the descriptor) ends with the stretch.
async fn read_registered(sock: &Weak<Socket>, shared: &Arc<Shared>, generation: u64) -> Pause {
    // Held strongly while registered: the descriptor must stay open until
    // it is unregistered (close() waits the moment this takes).
    let Some(sock) = sock.upgrade() else {
        return Pause::Stop;
    };
    if shared.reading_stopped(generation) {
        return Pause::Stop;
    }
    let reg = match Registration::new(&sock) {
        Ok(r) => r,
        Err(e) => {
            // Reported like a receive error; the JS loop takes over again.
            shared.post_reading(generation, Event::RecvError(e));
            return Pause::Idle;
        }
    };
    loop {
        if shared
            .slow_consumer
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            // The JS loop reads for a slow consumer, as libuv would.
            return Pause::Idle;
        }
        if budget::exhausted() {
            // (Its hand-back reaches JS after the batches before it.)
            stats::OVER_BUDGET.add(1);
            return Pause::Idle;
        }
        let permit = match shared.credits.try_acquire() {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::NoPermits) => return Pause::Full,
            Err(tokio::sync::TryAcquireError::Closed) => return Pause::Stop,
        };
        let error_pending = tokio::select! {
            r = reg.readable_or_error() => match r {
                Ok(e) => e,
                Err(_) => return Pause::Stop,
            },
            _ = shared.until_reading_stopped(generation) => return Pause::Stop,
        };
        // A pending socket error is collected by a direct read (tokio
        // reports it as error readiness, which its read path ignores).
        let mut direct = error_pending;
        let Drained { batch, error, more } = shared.with_recv_options(AHEAD_BATCH, |opts| {
            recv::drain(
                &mut |arena, max| {
                    if std::mem::take(&mut direct) {
                        arena.read(&*sock, max)
                    } else {
                        reg.try_read(|| arena.read(&*sock, max))
                    }
                },
                opts,
            )
        });
        let count = batch.as_ref().map_or(0, |b| b.count);
        match batch {
            // The batch keeps its credit until JS takes it.
            Some(b) => {
                let held = budget::Held::new(b.memory());
                if !shared.post_reading(generation, Event::Batch(b, held)) {
                    return Pause::Stop;
                }
                stats::AHEAD_BATCHES.add(1);
                stats::AHEAD_DATAGRAMS.add(count);
                permit.forget();
            }
            None => drop(permit),
        }
        if let Some(err) = error {
            if !shared.post_reading(generation, Event::RecvError(err)) {
                return Pause::Stop;
            }
        }
        if more {
            continue;
        }
        if count < SMALL_BATCH {
            // The rate fell to what the JS loop reads at a wake-up or a
            // stream tick: hand back (after this batch, in order).
            return Pause::Idle;
        }
        // The socket looked empty: read on if more arrives before JS has
        // caught up; hand back if JS catches up first.
        loop {
            let caught_up = shared.caught_up.notified();
            tokio::pin!(caught_up);
            caught_up.as_mut().enable();
            if shared.js_caught_up() && !reg.is_readable() {
                return Pause::Idle;
            }
            tokio::select! {
                r = reg.readable_or_error() => match r {
                    Ok(_) => break,
                    Err(_) => return Pause::Stop,
                },
                _ = &mut caught_up => {}
                _ = shared.until_reading_stopped(generation) => return Pause::Stop,
            }
        }
    }
}

/// A socket's readiness registration with the reactor, for readability
/// (and errors) only: tokio's `UdpSocket` would also register for
/// writability, and every datagram sent would then wake the runtime thread
/// when the kernel frees its buffer. It holds the socket open until dropped.
#[cfg(unix)]
struct Registration {
    fd: tokio::io::unix::AsyncFd<crate::sys::Registered>,
}

#[cfg(unix)]
impl Registration {
    fn new(sock: &Arc<Socket>) -> io::Result<Self> {
        Ok(Self {
            fd: crate::sys::register_readable(sock.clone())?,
        })
    }

    /// Waits until the socket has datagrams or a pending error; true when
    /// an error is pending.
    async fn readable_or_error(&self) -> io::Result<bool> {
        let mut guard = self
            .fd
            .ready(tokio::io::Interest::READABLE | tokio::io::Interest::ERROR)
            .await?;
        let error = guard.ready().is_error();
        if error {
            // The read that follows consumes the error; tokio would
            // otherwise keep reporting it.
            guard.clear_ready_matching(tokio::io::Ready::ERROR);
        }
        Ok(error)
    }

    /// Whether the reactor has seen the socket readable since the last
    /// `WouldBlock`.
    fn is_readable(&self) -> bool {
        use std::task::{Context, Poll, Waker};
        let mut cx = Context::from_waker(Waker::noop());
        matches!(self.fd.poll_read_ready(&mut cx), Poll::Ready(Ok(_)))
    }

    /// Runs a non-blocking read; `WouldBlock` clears the readiness.
    fn try_read<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.fd.try_io(tokio::io::Interest::READABLE, |_| f())
    }
}

#[cfg(not(unix))]
struct Registration {
    sock: tokio::net::UdpSocket,
}

#[cfg(not(unix))]
impl Registration {
    fn new(sock: &Arc<Socket>) -> io::Result<Self> {
        let clone: std::net::UdpSocket = sock.try_clone()?.into();
        Ok(Self {
            sock: tokio::net::UdpSocket::from_std(clone)?,
        })
    }

    async fn readable_or_error(&self) -> io::Result<bool> {
        let ready = self
            .sock
            .ready(tokio::io::Interest::READABLE | tokio::io::Interest::ERROR)
            .await?;
        Ok(ready.is_error())
    }

    fn is_readable(&self) -> bool {
        use std::task::{Context, Poll, Waker};
        let mut cx = Context::from_waker(Waker::noop());
        matches!(self.sock.poll_recv_ready(&mut cx), Poll::Ready(Ok(())))
    }

    fn try_read<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.sock.try_io(tokio::io::Interest::READABLE, f)
    }
}
