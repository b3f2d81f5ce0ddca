//! Reading datagrams in batches: the work both receive drivers share.
//!
//! One call of `drain` reads what the kernel has ready, up to a limit: on
//! Linux one `recvmmsg` fills up to `SLOTS` slots of a per-thread arena, and
//! a UDP GRO slot is split back into its datagrams. The payloads are packed
//! back to back into chunks of at most `CHUNK` bytes, with a metadata array
//! and a table of sender address strings, which is what JS gets for the
//! whole batch in one call. Datagrams up to `DIRECT_LARGE_MAX` bytes (past
//! `DIRECT_MAX`, fewer per read) are received straight into their chunk:
//! each slot starts with a head the size of the previous read's largest
//! datagram, which a datagram of that size fills exactly, so that runs of
//! equal sizes need no copy at all (see `Arena::prepare`). A chunk whose
//! bytes JS got copies of comes back to be received into again
//! (`recycle`). Nothing here knows about JS or tokio: the caller supplies
//! the read step (a plain non-blocking syscall on the JS thread, one under
//! tokio's readiness on the runtime).

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;

use crate::core::addr::LastAddress;
use crate::core::blocklist::BlockList;
use crate::sys::Received;

/// Room for the largest UDP datagram (or one GRO run of them).
const SLOT: usize = 64 * 1024;
/// Datagrams per receive syscall.
#[cfg(target_os = "linux")]
pub(crate) const SLOTS: usize = 32;
#[cfg(not(target_os = "linux"))]
pub(crate) const SLOTS: usize = 8;
// `drain` marks a read's blocked slots in the bits of a u64.
const _: () = assert!(SLOTS <= 64);
/// Payload bytes past which a batch reads no more (bounds one batch's
/// memory: the last read may add up to `SLOTS` GRO runs of `SLOT` bytes).
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Messages are views into buffers of at most this size, so one message
/// kept by the application keeps at most this much memory alive.
const CHUNK: usize = 64 * 1024;

/// Datagrams up to this size are received into their chunk directly: one
/// read's heads then take at most `CHUNK` bytes.
const DIRECT_MAX: usize = CHUNK / SLOTS;

/// Datagrams up to this size are received into their chunk directly too,
/// `CHUNK / size` (at least 4) per read. Larger ones, and UDP GRO runs past
/// `DIRECT_MAX` (a dgram-rs sender's), are read 32 at a time and copied
/// out: for GRO runs fewer per read cost more than the copy (rs/rs flood
/// of 1400 B: 0.6 → 0.7 µs per datagram).
const DIRECT_LARGE_MAX: usize = CHUNK / 4;

/// A string index meaning "not known" (no destination reported).
pub(crate) const NO_STRING: u32 = u32::MAX;

/// Datagrams read in one go, in the shape JS takes them.
pub(crate) struct Batch {
    /// Payloads back to back; a datagram never straddles two chunks (a
    /// datagram that does not fit the current chunk starts the next).
    pub(crate) chunks: Vec<Vec<u8>>,
    /// Per datagram: length, port, sender (index into `addrs`); with
    /// `recvDestination` also destination (index), interface index and
    /// interface name (index).
    pub(crate) meta: Vec<u32>,
    pub(crate) addrs: Vec<String>,
    /// The number of datagrams.
    pub(crate) count: usize,
}

impl Batch {
    /// The memory the batch holds (its chunks' allocations).
    pub(crate) fn memory(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }
}

/// What one `drain` produced.
pub(crate) struct Drained {
    pub(crate) batch: Option<Batch>,
    /// An error met after the datagrams (e.g. `ECONNREFUSED` on a connected
    /// socket): reported, receiving goes on.
    pub(crate) error: Option<io::Error>,
    /// The last read came back full: more is probably waiting.
    pub(crate) more: bool,
}

/// What a drain needs to know about the socket's receive options.
pub(crate) struct Options<'a> {
    /// `receiveBlockList`: datagrams from these senders are dropped.
    pub(crate) block: Option<&'a BlockList>,
    /// `recvDestination`: report each datagram's destination.
    pub(crate) with_dest: bool,
    /// Stop after this many datagrams (blocked ones count too).
    pub(crate) max_datagrams: usize,
}

/// Receive buffers, one set per thread: a drain never waits between
/// filling and copying them out, so every socket of a thread shares them.
pub(crate) struct Arena {
    /// The slots' tails (their whole room when there are no heads).
    buf: Vec<u8>,
    /// The next read's heads, back to back: the chunk JS will get (see
    /// `prepare`).
    heads: crate::sys::Heads,
    /// The largest slot of the last read (a UDP GRO run past `DIRECT_MAX`
    /// counts as `SLOT`): the guess for the next one.
    guess: usize,
    /// Sender strings, formatted once per sender while it repeats.
    last: LastAddress,
    got: Vec<Received>,
    #[cfg(target_os = "linux")]
    scratch: crate::sys::MmsgScratch,
    /// An error met by the last read after it had datagrams (one datagram
    /// per syscall): the failed call consumed it, so the drain reports it
    /// after them. (`recvmmsg` keeps such an error for the next call.)
    #[cfg(not(target_os = "linux"))]
    late_error: Option<io::Error>,
}

impl Arena {
    fn new() -> Self {
        Self {
            last: LastAddress::default(),
            // Zeroed memory from the allocator (calloc: fresh pages are only
            // touched when the kernel writes a datagram into them).
            buf: vec![0; SLOT * SLOTS],
            heads: crate::sys::Heads::new(),
            guess: 0,
            got: Vec::with_capacity(SLOTS),
            #[cfg(target_os = "linux")]
            scratch: crate::sys::MmsgScratch::new(SLOTS),
            #[cfg(not(target_os = "linux"))]
            late_error: None,
        }
    }

    /// The error the last read met after its datagrams, if it kept one.
    fn take_late_error(&mut self) -> Option<io::Error> {
        #[cfg(not(target_os = "linux"))]
        return self.late_error.take();
        #[cfg(target_os = "linux")]
        None
    }

    /// Sets up the heads of a read of up to `want` datagrams, each as large
    /// as the largest datagram of the last read (a flood of equal sizes then
    /// lands back to back, ready to hand over), and returns how many slots
    /// the read may fill. Heads take at most `CHUNK` bytes: a read of
    /// datagrams larger than `DIRECT_MAX` (up to `DIRECT_LARGE_MAX`) fills
    /// fewer slots (one syscall per `CHUNK / guess` datagrams costs less
    /// than copying each out of its tail, which for a run of 8 KiB
    /// datagrams from a node:dgram sender was the receiver's largest
    /// user-space cost).
    fn prepare(&mut self, want: usize) -> usize {
        let guess = if cfg!(target_os = "linux") {
            self.guess
        } else {
            0
        };
        let (head, want) = match guess {
            0..=DIRECT_MAX => (guess, want),
            _ if guess <= DIRECT_LARGE_MAX => (guess, want.min(CHUNK / guess)),
            _ => (0, want),
        };
        self.heads.prepare(head, want);
        want
    }

    /// Reads up to `max` (at most `SLOTS`) datagrams from `sock` without
    /// blocking; returns how many slots were filled (`WouldBlock` when none).
    #[cfg(target_os = "linux")]
    pub(crate) fn read(
        &mut self,
        sock: &impl std::os::fd::AsRawFd,
        max: usize,
    ) -> io::Result<usize> {
        self.got.clear();
        let slots = crate::sys::Slots {
            heads: &mut self.heads,
            tails: &mut self.buf,
            tail: SLOT,
        };
        crate::sys::recv_batch(sock, &mut self.scratch, slots, max, &mut self.got)
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn read<'s, S>(&mut self, sock: &'s S, max: usize) -> io::Result<usize>
    where
        socket2::SockRef<'s>: From<&'s S>,
    {
        let sock = socket2::SockRef::from(sock);
        self.got.clear();
        for slot in self.buf.chunks_mut(SLOT).take(max) {
            match crate::sys::recv_from(&sock, slot) {
                Ok((len, from)) => self.got.push(Received {
                    len,
                    from,
                    segment: 0,
                    dest: None,
                }),
                Err(e) if self.got.is_empty() => return Err(e),
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        self.late_error = Some(e);
                    }
                    break;
                }
            }
        }
        Ok(self.got.len())
    }

    /// Bytes `from..to` of slot `i`, which the kernel filled head first:
    /// the part in its head and the part in its tail.
    fn slot(&self, i: usize, from: usize, to: usize) -> (&[u8], &[u8]) {
        let head = self.heads.head_of(i);
        let in_head = self.heads.bytes(i).get(..to.min(head)).unwrap_or_default();
        let in_tail = &self.buf[i * SLOT..i * SLOT + to.saturating_sub(head)];
        (
            in_head.get(from..).unwrap_or_default(),
            in_tail.get(from.saturating_sub(head)..).unwrap_or_default(),
        )
    }
}

thread_local! {
    static ARENA: RefCell<Option<Arena>> = const { RefCell::new(None) };
}

/// Gives a batch's chunk whose bytes were copied (not handed to JS) back
/// to this thread's reads, to receive into again.
pub(crate) fn recycle(chunk: Vec<u8>) {
    ARENA.with(|cell| {
        if let Ok(mut arena) = cell.try_borrow_mut() {
            if let Some(arena) = arena.as_mut() {
                arena.heads.give_back(chunk);
            }
        }
    });
}

/// Packs payloads into chunks of at most `CHUNK` bytes.
#[derive(Default)]
struct Chunks {
    done: Vec<Vec<u8>>,
    bytes: usize,
}

impl Chunks {
    /// Appends a datagram given in two parts; `upcoming` is how many bytes
    /// the current read still holds (including this datagram), to size a
    /// new chunk exactly.
    fn push(&mut self, (first, second): (&[u8], &[u8]), upcoming: usize) {
        let len = first.len() + second.len();
        let fits = matches!(self.done.last(), Some(c) if c.len() + len <= CHUNK);
        if !fits {
            self.done
                .push(Vec::with_capacity(upcoming.clamp(len, CHUNK)));
        }
        if let Some(chunk) = self.done.last_mut() {
            chunk.extend_from_slice(first);
            chunk.extend_from_slice(second);
        }
        self.bytes += len;
    }

    /// Appends a chunk already filled with datagrams back to back. JS moves
    /// to the next chunk when a datagram does not fit the rest of the
    /// current one, so an empty chunk is kept only as the first.
    fn push_filled(&mut self, chunk: Vec<u8>) {
        if chunk.is_empty() && !self.done.is_empty() {
            return;
        }
        self.bytes += chunk.len();
        self.done.push(chunk);
    }
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
        table.push(crate::core::addr::to_js(&scoped));
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

/// Reads the datagrams the kernel has ready, up to `opts.max_datagrams`,
/// with `read` (one receive syscall of at most the given number of
/// datagrams into the arena: the caller decides how it waits for
/// readiness). A `WouldBlock` ends the drain quietly; another error ends it
/// and is returned after the datagrams read before it.
pub(crate) fn drain(
    read: &mut dyn FnMut(&mut Arena, usize) -> io::Result<usize>,
    opts: &Options<'_>,
) -> Drained {
    ARENA.with(|cell| {
        let mut cell = cell.borrow_mut();
        let arena = cell.get_or_insert_with(Arena::new);
        let mut chunks = Chunks::default();
        let mut more = false;
        // Sized for a full read's table at once (three u32s per datagram,
        // six with destinations): no regrowth on the common path.
        let mut meta = Vec::with_capacity(6 * SLOTS.min(opts.max_datagrams));
        let mut addrs = Vec::with_capacity(1);
        let mut error = None;
        let mut dests = DestTable::default();
        arena.last.new_batch();
        let mut count = 0;
        // Slots read, dropped ones included: a flood from a blocked sender
        // must not keep the reading thread busy forever.
        let mut read_total = 0;
        while count < opts.max_datagrams
            && read_total < opts.max_datagrams
            && chunks.bytes < MAX_BATCH_BYTES
        {
            // A GRO slot may hold many datagrams: the limit only bounds
            // how many slots one read fills.
            let want = arena.prepare(SLOTS.min(opts.max_datagrams - read_total));
            let n = match read(arena, want) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    more = false;
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    more = false;
                    break;
                }
            };
            read_total += n;
            let mut upcoming: usize = arena.got.iter().map(|r| r.len).sum();
            // Every datagram whole in its head: they are moved together in
            // place (not at all when each filled its head), and the heads
            // become the chunk. Otherwise they are copied out.
            let direct = arena.heads.head() > 0
                && (arena.got.iter().enumerate()).all(|(i, r)| arena.heads.whole(i, r.len));
            // Slots from blocked senders (bit per slot; at most 32 slots).
            let mut blocked = 0u64;
            for (i, r) in arena.got.iter().enumerate() {
                if opts.block.is_some_and(|b| b.blocks(r.from.ip())) {
                    upcoming -= r.len;
                    blocked |= 1 << i;
                    continue;
                }
                let idx = arena.last.index(&r.from, &mut addrs) as u32;
                let port = u32::from(r.from.port());
                let dest = if opts.with_dest {
                    Some(dests.fields(r, &mut addrs))
                } else {
                    None
                };
                // A GRO-coalesced slot holds several datagrams of `segment`
                // bytes (the last may be shorter): one entry each.
                let segment = if r.segment == 0 { r.len } else { r.segment };
                let mut at = 0;
                loop {
                    let part = (r.len - at).min(segment);
                    if !direct {
                        chunks.push(arena.slot(i, at, at + part), upcoming);
                    }
                    upcoming -= part;
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
            if direct {
                chunks.push_filled(arena.heads.take_packed(|i| blocked & (1 << i) == 0));
            }
            // A UDP GRO run beyond DIRECT_MAX counts as a full slot: the
            // runs' sizes vary, so they are read into the tails.
            arena.guess = (arena.got.iter())
                .map(|r| {
                    if r.segment != 0 && r.len > DIRECT_MAX {
                        SLOT
                    } else {
                        r.len
                    }
                })
                .max()
                .unwrap_or(0);
            more = n == want;
            if let Some(e) = arena.take_late_error() {
                error = Some(e);
                more = false;
            }
            if !more {
                break; // the kernel had no more
            }
        }
        let batch = (count > 0).then_some(Batch {
            chunks: chunks.done,
            meta,
            addrs,
            count,
        });
        Drained { batch, error, more }
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        (rx, tx)
    }

    fn opts(max: usize) -> Options<'static> {
        Options {
            block: None,
            with_dest: false,
            max_datagrams: max,
        }
    }

    #[test]
    fn drains_datagrams_in_order_into_chunks() {
        let (rx, tx) = pair();
        for i in 0..40u8 {
            tx.send(&vec![i; 100 + usize::from(i)]).unwrap();
        }
        let d = drain(&mut |a, max| a.read(&rx, max), &opts(256));
        assert!(d.error.is_none());
        let b = d.batch.unwrap();
        assert_eq!(b.count, 40);
        assert_eq!(b.addrs, vec!["127.0.0.1".to_string()]);
        let mut bytes = b.chunks.concat().into_iter();
        for i in 0..40u8 {
            let len = b.meta[usize::from(i) * 3] as usize;
            assert_eq!(len, 100 + usize::from(i));
            assert_eq!(
                b.meta[usize::from(i) * 3 + 1],
                u32::from(tx.local_addr().unwrap().port())
            );
            assert!((0..len).all(|_| bytes.next() == Some(i)));
        }
        assert!(!d.more);
        // Nothing left: the next drain finds the socket empty.
        let d = drain(&mut |a, max| a.read(&rx, max), &opts(256));
        assert!(d.batch.is_none() && d.error.is_none());
    }

    #[test]
    fn stops_at_the_limit_and_says_more_is_waiting() {
        let (rx, tx) = pair();
        for _ in 0..(SLOTS * 2 + 1) {
            tx.send(b"x").unwrap();
        }
        let d = drain(&mut |a, max| a.read(&rx, max), &opts(SLOTS));
        assert_eq!(d.batch.unwrap().count, SLOTS);
        assert!(d.more);
        let d = drain(&mut |a, max| a.read(&rx, max), &opts(1024));
        assert_eq!(d.batch.unwrap().count, SLOTS + 1);
        assert!(!d.more);
    }

    /// Checks a batch against the payloads sent, in order.
    fn assert_payloads(b: &Batch, sent: &[Vec<u8>]) {
        assert_eq!(b.count, sent.len());
        let bytes = b.chunks.concat();
        let mut at = 0;
        for (k, want) in sent.iter().enumerate() {
            let len = b.meta[k * 3] as usize;
            assert_eq!(&bytes[at..at + len], &want[..], "datagram {k}");
            at += len;
        }
        assert_eq!(at, bytes.len());
    }

    fn payload(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
    }

    #[test]
    fn receives_into_the_chunk_when_sizes_repeat() {
        let (rx, tx) = pair();
        let drain_all = |sent: &[Vec<u8>]| {
            for p in sent {
                tx.send(p).unwrap();
            }
            let d = drain(&mut |a, max| a.read(&rx, max), &opts(256));
            let b = d.batch.unwrap();
            assert_payloads(&b, sent);
            b
        };
        // The first read learns the size; the second lands in its heads,
        // one chunk with no room left over.
        drain_all(&(0..5).map(|k| payload(500, k)).collect::<Vec<_>>());
        let b = drain_all(&(0..10).map(|k| payload(500, 50 + k)).collect::<Vec<_>>());
        assert_eq!(b.chunks.len(), 1);
        assert_eq!(b.chunks[0].len(), 5000);
        // The heads' buffer itself (a copy would be sized to fit).
        assert_eq!(b.chunks[0].capacity(), SLOTS * 500);
        // Smaller ones and empty ones are moved together; a larger one
        // (past its head) is copied out with the rest of its read.
        let mixed = [100, 500, 0, 300, 500, 0, 1]
            .iter()
            .enumerate()
            .map(|(k, &len)| payload(len, k as u8))
            .collect::<Vec<_>>();
        drain_all(&mixed);
        drain_all(&[payload(499, 1), payload(501, 2), payload(7, 3)]);
        drain_all(&[payload(0, 0), payload(0, 0)]);
        drain_all(&[payload(0, 0), payload(30, 9)]);
        // Past `DIRECT_MAX`: learnt, then into fewer, larger heads.
        drain_all(&[payload(DIRECT_MAX + 1, 4), payload(DIRECT_MAX + 1, 5)]);
        drain_all(&[payload(DIRECT_MAX + 1, 6), payload(10, 7)]);
        // Past `DIRECT_LARGE_MAX`, through the arena only.
        drain_all(&[payload(DIRECT_LARGE_MAX + 1, 8), payload(5, 9)]);
        drain_all(&[payload(DIRECT_LARGE_MAX + 1, 10), payload(5, 11)]);
    }

    #[test]
    fn receives_larger_datagrams_into_their_chunk_a_few_per_read() {
        let (rx, tx) = pair();
        let size = 8 * 1024;
        let per_read = CHUNK / size;
        let reads = std::cell::Cell::new(0);
        let mut read = |a: &mut Arena, max: usize| {
            reads.set(reads.get() + 1);
            a.read(&rx, max)
        };
        tx.send(&payload(size, 0)).unwrap();
        let first = drain(&mut read, &opts(256)).batch.unwrap();
        assert_payloads(&first, &[payload(size, 0)]);
        // A chunk JS got a copy of comes back to be received into again.
        recycle(first.chunks.into_iter().next().unwrap());
        let sent = (0..per_read + 3)
            .map(|k| payload(size, k as u8))
            .collect::<Vec<_>>();
        for p in &sent {
            tx.send(p).unwrap();
        }
        reads.set(0);
        let d = drain(&mut read, &opts(256));
        let b = d.batch.unwrap();
        assert_payloads(&b, &sent);
        // A full read of `per_read` heads, then one of the rest.
        assert_eq!(reads.get(), 2);
        assert_eq!(b.chunks.len(), 2);
        assert_eq!(b.chunks[0].len(), per_read * size);
        assert!(!d.more);
    }

    #[test]
    fn drops_blocked_senders_from_the_chunk() {
        let (rx, tx) = pair();
        let other = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
        other.connect(rx.local_addr().unwrap()).unwrap();
        let list = BlockList::parse(&["Address: IPv4 127.0.0.2".to_string()]).unwrap();
        let o = Options {
            block: Some(&list),
            with_dest: false,
            max_datagrams: 64,
        };
        for round in 0..2u8 {
            let mut kept = Vec::new();
            for k in 0..6u8 {
                let p = payload(200, round * 10 + k);
                if k % 2 == 0 {
                    other.send(&p).unwrap();
                } else {
                    tx.send(&p).unwrap();
                    kept.push(p);
                }
            }
            let d = drain(&mut |a, max| a.read(&rx, max), &o);
            assert_payloads(&d.batch.unwrap(), &kept);
        }
    }

    #[test]
    fn drops_blocked_senders() {
        let (rx, tx) = pair();
        tx.send(b"a").unwrap();
        let list = BlockList::parse(&["Address: IPv4 127.0.0.1".to_string()]).unwrap();
        let o = Options {
            block: Some(&list),
            with_dest: false,
            max_datagrams: 64,
        };
        let d = drain(&mut |a, max| a.read(&rx, max), &o);
        assert!(d.batch.is_none());
    }
}
