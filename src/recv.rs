//! The receive task: one per receiving socket, on the shared runtime.
//!
//! At each wake-up it drains the datagrams the kernel has ready (one
//! `recvmmsg` per up to `SLOTS` datagrams on Linux, UDP GRO reads split back
//! into datagrams) into a per-thread arena, packs them into chunks of at
//! most `CHUNK` bytes and hands the whole batch to JS in one call on the
//! environment's channel (`env.rs`). At most `BATCHES_IN_FLIGHT` batches
//! wait for JS (`Shared::credits`), so a blocked JS thread makes the kernel
//! drop instead of our memory grow.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Status;

use crate::addr::LastAddress;
use crate::blocklist::BlockList;
use crate::error;
use crate::io::IoSocket;
use crate::shared::{Envelope, Event, EventSink, Shared};
use crate::sys::Received;

/// Room for the largest UDP datagram.
const SLOT: usize = 64 * 1024;
/// Datagrams per receive syscall.
#[cfg(target_os = "linux")]
const SLOTS: usize = 32;
#[cfg(not(target_os = "linux"))]
const SLOTS: usize = 8;
/// Datagrams per batch handed to JS.
const MAX_BATCH: usize = 256;
/// Payload bytes per batch handed to JS (bounds one batch's memory).
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Messages are views into buffers of at most this size, so one message
/// kept by the application keeps at most this much memory alive.
const CHUNK: usize = 64 * 1024;

/// A batch's payloads, packed into buffers of at most `CHUNK` bytes; a
/// datagram never straddles two (JS relies on that to find them).
#[derive(Default)]
struct Chunks {
    done: Vec<Vec<u8>>,
    bytes: usize,
}

impl Chunks {
    /// Appends a datagram; `upcoming` is how many bytes the current read
    /// still holds (including this datagram), to size a new chunk exactly.
    fn push(&mut self, datagram: &[u8], upcoming: usize) {
        let fits = matches!(self.done.last(), Some(c) if c.len() + datagram.len() <= CHUNK);
        if !fits {
            self.done
                .push(Vec::with_capacity(upcoming.clamp(datagram.len(), CHUNK)));
        }
        if let Some(chunk) = self.done.last_mut() {
            chunk.extend_from_slice(datagram);
        }
        self.bytes += datagram.len();
    }
}

/// Receive buffers, one set per runtime thread: a receive never awaits
/// between filling and copying them out, so sockets can share them.
struct Arena {
    buf: Vec<u8>,
    got: Vec<Received>,
    #[cfg(target_os = "linux")]
    scratch: crate::sys::MmsgScratch,
}

impl Arena {
    fn new() -> Self {
        Self {
            buf: vec![0; SLOT * SLOTS],
            got: Vec::with_capacity(SLOTS),
            #[cfg(target_os = "linux")]
            scratch: crate::sys::MmsgScratch::new(SLOTS),
        }
    }

    /// Receives up to `SLOTS` datagrams into the arena (`self.got`).
    #[cfg(target_os = "linux")]
    fn recv(&mut self, sock: &IoSocket, direct: bool) -> io::Result<usize> {
        self.got.clear();
        let mut slots: Vec<&mut [u8]> = self.buf.chunks_mut(SLOT).collect();
        let mut f = |s: socket2::SockRef<'_>| {
            crate::sys::recv_batch(&*s, &mut self.scratch, &mut slots, &mut self.got)
        };
        if direct {
            f(sock.sock())
        } else {
            sock.try_read(f)
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn recv(&mut self, sock: &IoSocket, direct: bool) -> io::Result<usize> {
        self.got.clear();
        for slot in self.buf.chunks_mut(SLOT) {
            let r = if direct && self.got.is_empty() {
                crate::sys::recv_from(&sock.sock(), slot)
            } else {
                sock.try_read(|s| crate::sys::recv_from(&s, slot))
            };
            match r {
                Ok((len, from)) => self.got.push(Received {
                    len,
                    from,
                    segment: 0,
                    dest: None,
                }),
                Err(e) if self.got.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok(self.got.len())
    }

    fn slot(&self, i: usize, len: usize) -> &[u8] {
        &self.buf[i * SLOT..i * SLOT + len]
    }
}

thread_local! {
    static ARENA: RefCell<Option<Arena>> = const { RefCell::new(None) };
}

/// What one wake-up produced: datagrams, and an error met after them.
struct Drained {
    batch: Option<Event>,
    error: Option<io::Error>,
    /// Whether a receive syscall came back full: the socket is busy.
    busy: bool,
}

/// A string index meaning "not known" (no destination reported).
const NO_STRING: u32 = u32::MAX;

/// What a batch needs to know about the socket's receive options.
struct Options<'a> {
    block: Option<&'a BlockList>,
    with_dest: bool,
}

/// The destination fields of a batch's datagrams: each distinct
/// (destination, interface) pair costs its strings (and the interface name
/// lookup, a syscall) once per batch, whatever order they come in.
#[derive(Default)]
struct DestTable {
    seen: Vec<(std::net::IpAddr, u32, [u32; 3])>,
}

impl DestTable {
    fn fields(&mut self, r: &Received, table: &mut Vec<String>) -> [u32; 3] {
        let Some((ip, ifindex)) = r.dest else {
            return [NO_STRING, 0, NO_STRING];
        };
        if let Some((_, _, fields)) = self.seen.iter().find(|(i, f, _)| *i == ip && *f == ifindex) {
            return *fields;
        }
        // An IPv6 socket reports IPv4 traffic as IPv4-mapped, as its senders.
        let shown = match (ip, r.from) {
            (std::net::IpAddr::V4(a), SocketAddr::V6(_)) => {
                std::net::IpAddr::V6(a.to_ipv6_mapped())
            }
            _ => ip,
        };
        let scoped = match shown {
            std::net::IpAddr::V6(a) if a.is_unicast_link_local() => {
                SocketAddr::V6(std::net::SocketAddrV6::new(a, 0, 0, ifindex))
            }
            other => SocketAddr::new(other, 0),
        };
        table.push(crate::addr::to_js(&scoped));
        let local = (table.len() - 1) as u32;
        let name = match self.seen.iter().find(|(_, f, _)| *f == ifindex) {
            Some((_, _, known)) => known[2],
            None => {
                table.push(crate::sys::interface_name(ifindex));
                (table.len() - 1) as u32
            }
        };
        let fields = [local, ifindex, name];
        self.seen.push((ip, ifindex, fields));
        fields
    }
}

/// Drains the ready datagrams. `direct` makes the first receive bypass
/// tokio's readiness, to collect a pending socket error (tokio reports it as
/// error readiness, which its readable path does not act on).
fn drain(sock: &IoSocket, last: &mut LastAddress, mut direct: bool, opts: &Options<'_>) -> Drained {
    ARENA.with(|cell| {
        let mut cell = cell.borrow_mut();
        let arena = cell.get_or_insert_with(Arena::new);
        let mut chunks = Chunks::default();
        let mut busy = false;
        let mut meta = Vec::new();
        let mut addrs = Vec::new();
        let mut error = None;
        let mut dests = DestTable::default();
        last.reset();
        let mut count = 0;
        // Slots read, dropped ones included: a flood from a blocked sender
        // must not keep this loop (and the runtime's one thread) busy.
        let mut read = 0;
        while count < MAX_BATCH && read < MAX_BATCH && chunks.bytes < MAX_BATCH_BYTES {
            let n = match arena.recv(sock, std::mem::take(&mut direct)) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            read += n;
            let mut upcoming: usize = arena.got.iter().map(|r| r.len).sum();
            for (i, r) in arena.got.iter().enumerate() {
                // receiveBlockList: dropped here, as if never received.
                if opts.block.is_some_and(|b| b.blocks(r.from.ip())) {
                    upcoming -= r.len;
                    continue;
                }
                let idx = last.index(&r.from, &mut addrs) as u32;
                let port = u32::from(r.from.port());
                let dest = if opts.with_dest {
                    Some(dests.fields(r, &mut addrs))
                } else {
                    None
                };
                // A GRO-coalesced slot holds several datagrams of `segment`
                // bytes (the last may be shorter): one entry each.
                let segment = if r.segment == 0 { r.len } else { r.segment };
                let slot = arena.slot(i, r.len);
                let mut at = 0;
                loop {
                    let part = (r.len - at).min(segment);
                    chunks.push(&slot[at..at + part], upcoming);
                    upcoming -= part;
                    // Per datagram: length, port, sender (index into
                    // `addrs`); with recvDestination also the destination
                    // (index), interface index and interface name (index).
                    meta.extend_from_slice(&[part as u32, port, idx]);
                    if let Some(d) = dest {
                        meta.extend_from_slice(&d);
                    }
                    count += 1;
                    at += part;
                    if at == r.len {
                        break;
                    }
                }
            }
            if n < SLOTS {
                break; // the kernel had no more
            }
            busy = true;
        }
        let batch = (count > 0).then_some(Event::Batch {
            chunks: chunks.done,
            meta,
            addrs,
        });
        Drained { batch, error, busy }
    })
}

/// Receives until the socket is stopped or JS goes away.
///
/// The task holds the socket only weakly, and strongly only inside one poll
/// or one drain: `close()` on the JS thread then drops the last reference
/// itself, so the descriptor is closed (and its port free) when `close()`
/// returns, without waiting for this thread.
pub(crate) async fn run(sock: Weak<IoSocket>, shared: Arc<Shared>, sink: Arc<EventSink>) {
    // Waiting needs the socket registered with the runtime (see io.rs).
    match sock.upgrade().map(|s| s.register()) {
        Some(Ok(())) => {}
        Some(Err(err)) => {
            // Reported like a receive error (libuv aborts instead).
            let envelope = Envelope {
                shared: shared.clone(),
                event: Event::RecvError(error::code_of(&err)),
            };
            let _ = sink.call(envelope, ThreadsafeFunctionCallMode::NonBlocking);
            return;
        }
        None => return, // closed meanwhile
    }
    let mut last = LastAddress::default();
    loop {
        // Back-pressure: wait until JS has room for another batch.
        let permit = tokio::select! {
            p = shared.credits.acquire() => p,
            _ = shared.stopped() => return,
        };
        match permit {
            Ok(p) => p.forget(),
            Err(_) => return, // credits closed: stopped
        }
        let mut error_pending = false;
        if shared.connected.load(std::sync::atomic::Ordering::Acquire) {
            // A connected socket also wakes for a pending socket error (an
            // ICMP report), which Node reports as a `recvmsg` error. That
            // wait needs the socket held strongly; close() then waits the
            // moment it takes this task to let go.
            let Some(strong) = sock.upgrade() else {
                return;
            };
            tokio::select! {
                r = strong.readable_or_error() => match r {
                    Ok(error) => error_pending = error,
                    Err(_) => return,
                },
                _ = shared.stopped() => return,
                _ = shared.mode_changed.notified() => {}
            }
        } else {
            let readable = std::future::poll_fn(|cx| match sock.upgrade() {
                Some(s) => s.poll_readable(cx),
                None => std::task::Poll::Ready(Err(io::Error::from(io::ErrorKind::NotConnected))),
            });
            tokio::select! {
                r = readable => if r.is_err() { return },
                _ = shared.stopped() => return,
                _ = shared.mode_changed.notified() => {}
            }
        }
        if shared.is_stopped() {
            return;
        }
        let Some(strong) = sock.upgrade() else {
            return;
        };
        let block = shared.receive_block_list();
        let opts = Options {
            block: block.as_deref(),
            with_dest: shared.recv_dest.load(std::sync::atomic::Ordering::Relaxed),
        };
        let Drained { batch, error, busy } = drain(&strong, &mut last, error_pending, &opts);
        // UDP GRO only once the socket is busy: enabling it flips a kernel
        // static key (costly text patching on every CPU) when it is the
        // first such socket, and again at close, which would make every
        // short-lived socket pay for it.
        #[cfg(target_os = "linux")]
        if busy && !shared.gro.swap(true, std::sync::atomic::Ordering::Relaxed) {
            crate::sys::enable_gro(&*strong.sock());
        }
        #[cfg(not(target_os = "linux"))]
        let _ = busy;
        drop(strong);
        // A batch keeps its credit until JS takes it; errors travel free
        // (they are rare: one per ICMP report on a connected socket).
        if let Some(batch) = batch {
            let envelope = Envelope {
                shared: shared.clone(),
                event: batch,
            };
            if sink.call(envelope, ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                return; // JS is gone (env teardown)
            }
        } else {
            shared.credits.add_permits(1);
        }
        if let Some(err) = error {
            // Reported like Node's recvmsg errors; receiving goes on.
            let envelope = Envelope {
                shared: shared.clone(),
                event: Event::RecvError(error::code_of(&err)),
            };
            if sink.call(envelope, ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                return;
            }
        }
    }
}
