//! Reading datagrams in batches: the work both receive drivers share.
//!
//! One call of `drain` reads what the kernel has ready, up to a limit: on
//! Linux one `recvmmsg` fills up to `SLOTS` slots of a per-thread arena, and
//! a UDP GRO slot is split back into its datagrams. The payloads are packed
//! back to back into chunks of at most `CHUNK` bytes, with a metadata array
//! and a table of sender address strings, which is what JS gets for the
//! whole batch in one call. Nothing here knows about JS or tokio: the
//! caller supplies the read step (a plain non-blocking syscall on the JS
//! thread, one under tokio's readiness on the runtime).

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
/// Payload bytes per batch (bounds one batch's memory).
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Messages are views into buffers of at most this size, so one message
/// kept by the application keeps at most this much memory alive.
const CHUNK: usize = 64 * 1024;

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
    buf: Vec<u8>,
    /// Sender strings, formatted once per sender while it repeats.
    last: LastAddress,
    got: Vec<Received>,
    #[cfg(target_os = "linux")]
    scratch: crate::sys::MmsgScratch,
}

impl Arena {
    fn new() -> Self {
        Self {
            last: LastAddress::default(),
            // Zeroed memory from the allocator (calloc: fresh pages are only
            // touched when the kernel writes a datagram into them).
            buf: vec![0; SLOT * SLOTS],
            got: Vec::with_capacity(SLOTS),
            #[cfg(target_os = "linux")]
            scratch: crate::sys::MmsgScratch::new(SLOTS),
        }
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
        crate::sys::recv_batch(
            sock,
            &mut self.scratch,
            &mut self.buf,
            SLOT,
            max,
            &mut self.got,
        )
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn read(&mut self, sock: &socket2::SockRef<'_>, max: usize) -> io::Result<usize> {
        self.got.clear();
        for slot in self.buf.chunks_mut(SLOT).take(max) {
            match crate::sys::recv_from(sock, slot) {
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

/// Packs payloads into chunks of at most `CHUNK` bytes.
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
            let want = SLOTS.min(opts.max_datagrams - read_total);
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
            for (i, r) in arena.got.iter().enumerate() {
                if opts.block.is_some_and(|b| b.blocks(r.from.ip())) {
                    upcoming -= r.len;
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
                let slot = arena.slot(i, r.len);
                let mut at = 0;
                loop {
                    let part = (r.len - at).min(segment);
                    chunks.push(&slot[at..at + part], upcoming);
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
            more = n == want;
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
