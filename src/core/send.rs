//! Writing datagrams: one at a time, or a burst in as few syscalls as the
//! kernel allows (on Linux: one UDP GSO `sendmsg` for a run of equal-size
//! datagrams to one destination, one `sendmmsg` for the others). Plain
//! non-blocking syscalls; what to do when the kernel says `WouldBlock`
//! (or `ENOBUFS`: `must_wait`) is the caller's business (see
//! `drivers::send`).

use std::io;
use std::net::{IpAddr, SocketAddr};
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicUsize, Ordering};

use socket2::{SockAddr, SockRef};

/// A local source address (and interface index, 0 for any) to send from,
/// instead of the one the kernel would pick (`sendFrom`).
pub(crate) type Source = (IpAddr, u32);

/// One datagram of a burst: payload and destination (`None`: the
/// connected peer).
pub(crate) type Item<'a> = (&'a [u8], Option<SocketAddr>);

/// One non-blocking send, retried on `EINTR`.
pub(crate) fn send_once(
    s: SockRef<'_>,
    data: &[u8],
    dest: Option<&SockAddr>,
    source: Option<Source>,
) -> io::Result<usize> {
    if let Some((ip, ifindex)) = source {
        #[cfg(target_os = "linux")]
        return crate::sys::send_from(&*s, data, dest, ip, ifindex);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (ip, ifindex);
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
    }
    loop {
        let r = match dest {
            Some(a) => s.send_to(data, a),
            None => s.send(data),
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Whether a send the kernel refused with `e` stays queued and is tried
/// again, as libuv does: `WouldBlock`, and on Unix `ENOBUFS` too (what a
/// datagram of several IP fragments gets when the send buffer cannot hold
/// all of them beside what it holds now). The caller waits for room.
pub(crate) fn must_wait(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || no_buffer_space(e)
}

/// `ENOBUFS` on Unix, which libuv retries: the socket may poll writable
/// meanwhile, so room cannot be waited for, only retried after a while.
pub(crate) fn no_buffer_space(e: &io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ENOBUFS);
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// What a socket learnt about UDP GSO: the smallest datagram size the
/// kernel refused to segment (so that sizes this large are not tried
/// again), and how many bytes one GSO send may carry given the socket's
/// send buffer (0: not read yet).
///
/// The kernel checks a send against the send buffer once, before the
/// send: a GSO send of 60 KB is taken whole by a socket whose buffer holds
/// 8 KB, where the same datagrams sent one by one (node:dgram) meet
/// `EAGAIN` and wait. An application that keeps its send buffer small to
/// pace itself would overfill a queue downstream (a shaping qdisc drops
/// the tail). So a run carries at most half the send buffer: with the
/// default buffer (208 KiB) runs are as large as the kernel allows.
#[derive(Debug)]
pub(crate) struct Gso {
    #[cfg(target_os = "linux")]
    refused_size: AtomicUsize,
    #[cfg(target_os = "linux")]
    max_bytes: AtomicUsize,
}

#[allow(clippy::derivable_impls)] // derivable only where GSO does not exist
impl Default for Gso {
    fn default() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            refused_size: AtomicUsize::new(usize::MAX),
            #[cfg(target_os = "linux")]
            max_bytes: AtomicUsize::new(0),
        }
    }
}

impl Gso {
    /// The socket's send buffer changed: read it again before the next run.
    pub(crate) fn send_buffer_changed(&self) {
        #[cfg(target_os = "linux")]
        self.max_bytes.store(0, Ordering::Relaxed);
    }

    /// Payload bytes one GSO send of this socket may carry (one
    /// `getsockopt` the first time, and after `send_buffer_changed`).
    #[cfg(target_os = "linux")]
    fn max_bytes(&self, s: &SockRef<'_>) -> usize {
        let known = self.max_bytes.load(Ordering::Relaxed);
        if known != 0 {
            return known;
        }
        // (Unreadable: as the default buffer would allow.)
        let max = s
            .send_buffer_size()
            .map_or(GSO_MAX_BYTES, |b| (b / 2).clamp(1, GSO_MAX_BYTES));
        self.max_bytes.store(max, Ordering::Relaxed);
        max
    }
}

/// Whether this kernel knows UDP GSO: learnt from the first socket that
/// has a run to send (`KERNEL_GSO_*`), the same for every socket after.
#[cfg(target_os = "linux")]
static KERNEL_GSO: std::sync::atomic::AtomicU8 =
    std::sync::atomic::AtomicU8::new(KERNEL_GSO_UNKNOWN);
#[cfg(target_os = "linux")]
const KERNEL_GSO_UNKNOWN: u8 = 0;
#[cfg(target_os = "linux")]
const KERNEL_GSO_YES: u8 = 1;
#[cfg(target_os = "linux")]
const KERNEL_GSO_NO: u8 = 2;

#[cfg(target_os = "linux")]
fn kernel_gso(s: &SockRef<'_>) -> bool {
    match KERNEL_GSO.load(Ordering::Relaxed) {
        KERNEL_GSO_YES => true,
        KERNEL_GSO_NO => false,
        _ => {
            let yes = crate::sys::gso_supported(&**s);
            let state = if yes { KERNEL_GSO_YES } else { KERNEL_GSO_NO };
            KERNEL_GSO.store(state, Ordering::Relaxed);
            yes
        }
    }
}

/// Payload bytes one GSO send may carry (below the 64 KiB IP limit).
#[cfg(target_os = "linux")]
const GSO_MAX_BYTES: usize = 60_000;
/// Datagrams per `sendmmsg` (the kernel's `UIO_MAXIOV`).
#[cfg(target_os = "linux")]
const MMSG_MAX: usize = 1024;

/// Writes `items` in order, as many as the kernel takes now. Returns how
/// many were written, and the error of the one after them (`WouldBlock`
/// when the socket buffer is full) if the burst stopped early.
pub(crate) fn write_burst(
    s: SockRef<'_>,
    gso: &Gso,
    items: &[Item<'_>],
) -> (usize, Option<io::Error>) {
    let mut i = 0;
    #[cfg(target_os = "linux")]
    let max_bytes = match items {
        [_, _, ..] => gso.max_bytes(&s),
        _ => GSO_MAX_BYTES, // (no run to make)
    };
    while i < items.len() {
        #[cfg(target_os = "linux")]
        {
            let run = gso_run(gso, &items[i..], max_bytes);
            if run >= 2 && kernel_gso(&s) && send_run_gso(&s, gso, &items[i..i + run]) {
                i += run;
                continue;
            }
            // The items up to the next GSO run, in one sendmmsg.
            let mut end = i + 1;
            let gso_runs = KERNEL_GSO.load(Ordering::Relaxed) != KERNEL_GSO_NO;
            while end < items.len()
                && end - i < MMSG_MAX
                && !(gso_runs && gso_run(gso, &items[end..], max_bytes) >= 2)
            {
                end += 1;
            }
            if end - i >= 2 {
                let batch: Vec<(&[u8], Option<SockAddr>)> = items[i..end]
                    .iter()
                    .map(|(d, a)| (*d, a.map(SockAddr::from)))
                    .collect();
                if let Ok(n) = crate::sys::send_batch(&*s, &batch) {
                    i += n;
                    if n > 0 {
                        continue;
                    }
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = gso;
        // One alone: it attributes its own error.
        let (data, dest) = items[i];
        let to = dest.map(SockAddr::from);
        if let Err(e) = send_once(SockRef::from(&*s), data, to.as_ref(), None) {
            return (i, Some(e));
        }
        i += 1;
    }
    (i, None)
}

/// How many leading items qualify for one GSO send: same destination, the
/// same non-zero size (the last may be shorter, but not empty: an empty
/// segment adds no bytes to the send, so the kernel would never cut it
/// out and the datagram would be lost), within the kernel limits.
#[cfg(target_os = "linux")]
fn gso_run(gso: &Gso, items: &[Item<'_>], max_bytes: usize) -> usize {
    let Some((first, dest)) = items.first() else {
        return 0;
    };
    let size = first.len();
    if size == 0 || size >= gso.refused_size.load(Ordering::Relaxed) {
        return 0;
    }
    let mut n = 0;
    let mut bytes = 0;
    for (data, d) in items.iter().take(crate::sys::GSO_MAX_SEGMENTS) {
        if d != dest || data.is_empty() || data.len() > size || bytes + data.len() > max_bytes {
            break;
        }
        n += 1;
        bytes += data.len();
        if data.len() < size {
            break; // a shorter datagram can only end a run
        }
    }
    n
}

/// Whether a GSO send failed because the kernel will not segment this
/// size (no UDP GSO, segments larger than the route allows, a run over
/// 64 KiB): not for an error that any send could meet (a pending ICMP
/// report, a refused destination, no room), which the datagrams, sent one
/// by one, meet or not as node:dgram's would, and which says nothing about
/// the next run.
#[cfg(target_os = "linux")]
fn refuses_gso(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::EIO | libc::EMSGSIZE | libc::EOPNOTSUPP | libc::ENOPROTOOPT)
    )
}

/// Tries one GSO send of `run`; false means "send these another way".
#[cfg(target_os = "linux")]
fn send_run_gso(s: &SockRef<'_>, gso: &Gso, run: &[Item<'_>]) -> bool {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let size = run[0].0.len();
    let dest = run[0].1.map(SockAddr::from);
    let result = SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        for (data, _) in run {
            buf.extend_from_slice(data);
        }
        crate::sys::send_gso(&**s, &buf, size as u16, dest.as_ref())
    });
    match result {
        Ok(_) => true,
        Err(e) => {
            if refuses_gso(&e) {
                gso.refused_size.fetch_min(size, Ordering::Relaxed);
            }
            false
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Writes `payloads` to a fresh loopback receiver as one burst and
    /// checks that each arrives, alone and in order.
    fn burst_arrives(payloads: &[&[u8]]) {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let to = rx.local_addr().unwrap();
        let tx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        tx.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let items: Vec<Item<'_>> = payloads.iter().map(|p| (*p, Some(to))).collect();
        let (n, err) = write_burst(SockRef::from(&tx), &Gso::default(), &items);
        assert_eq!((n, err.map(|e| e.kind())), (payloads.len(), None));
        let mut buf = [0u8; 256];
        for p in payloads {
            let got = loop {
                match rx.recv(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            };
            assert_eq!(&buf[..got], *p);
        }
    }

    #[test]
    fn a_burst_arrives_whole_and_in_order() {
        // Equal sizes (a GSO run), then mixed sizes (sendmmsg).
        let payloads: Vec<Vec<u8>> = (0..10u8)
            .map(|i| vec![i; 100])
            .chain((10..15u8).map(|i| vec![i; 10 + usize::from(i)]))
            .collect();
        burst_arrives(&payloads.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_datagram_after_a_run_is_sent_on_its_own() {
        burst_arrives(&[b"a", b"", b"b", b"b", b""]);
    }

    #[test]
    fn this_kernel_knows_gso_and_a_kernel_without_it_gets_one_datagram_per_item() {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        assert!(crate::sys::gso_supported(&s));
        // As on a kernel without GSO (the other tests pass either way).
        KERNEL_GSO.store(KERNEL_GSO_NO, Ordering::Relaxed);
        let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 100]).collect();
        burst_arrives(&payloads.iter().map(Vec::as_slice).collect::<Vec<_>>());
        KERNEL_GSO.store(KERNEL_GSO_UNKNOWN, Ordering::Relaxed);
    }

    #[test]
    fn a_pending_icmp_error_does_not_turn_gso_off() {
        // A connected socket whose peer port is closed: each datagram
        // draws an ICMP report that the next send returns.
        let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = gone.local_addr().unwrap();
        drop(gone);
        let tx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        tx.connect(&to.into()).unwrap();
        let gso = Gso::default();
        let run: Vec<Item<'_>> = vec![(&b"abcd"[..], None); 2];
        let refused = (0..100).any(|_| {
            let _ = tx.send(b"x");
            !send_run_gso(&SockRef::from(&tx), &gso, &run)
        });
        assert!(refused, "no send met the ICMP report");
        assert_eq!(gso.refused_size.load(Ordering::Relaxed), usize::MAX);
    }

    #[test]
    fn an_unreachable_item_reports_its_error_and_stops_the_burst() {
        let tx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        tx.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let too_big = vec![0u8; 70_000];
        let items: Vec<Item<'_>> = vec![(&too_big[..], Some("127.0.0.1:9".parse().unwrap()))];
        let (n, err) = write_burst(SockRef::from(&tx), &Gso::default(), &items);
        assert_eq!(n, 0);
        assert_eq!(err.and_then(|e| e.raw_os_error()), Some(libc::EMSGSIZE));
    }
}
