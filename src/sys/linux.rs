//! Linux-only syscalls: batch receive (one `recvmmsg(2)` fills many
//! datagram slots, UDP GRO), batch and GSO sends (`sendmmsg`, `UDP_SEGMENT`),
//! sending from a given source (`*_PKTINFO`), the timerfd that paces a
//! stream's ticks, and the epoll instance through which a JS loop watches
//! its sockets (`drivers::loop_epoll`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

/// The C structures `recvmmsg` needs, kept between calls so that a receive
/// allocates nothing. Each header points at its own name and control
/// buffer from the start (the vectors never grow, so their elements never
/// move); a receive only fills in its pair of iovecs, points it there and
/// resets the lengths the kernel overwrote.
pub(crate) struct MmsgScratch {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    names: Vec<libc::sockaddr_storage>,
    /// Per-slot ancillary data (the UDP GRO segment size, the packet's
    /// destination), u64 for alignment.
    controls: Vec<[u64; CONTROL_WORDS]>,
}

/// Room for a GRO cmsg plus an `IP_PKTINFO` and an `IPV6_PKTINFO` one.
const CONTROL_WORDS: usize = 16;
const SOL_UDP: libc::c_int = 17;
const UDP_GRO: libc::c_int = 104;

/// Asks the kernel to coalesce incoming datagrams of one flow (UDP GRO,
/// Linux 5.0+); `recv_batch` reports the segment size to split them again.
/// Failure (an older kernel) just means datagrams arrive one by one.
pub(crate) fn enable_gro(sock: &impl AsRawFd) {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a c_int that lives for the call, as UDP_GRO expects.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            SOL_UDP,
            UDP_GRO,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Asks the kernel for each datagram's destination address and interface
/// (`IP_PKTINFO`, and `IPV6_RECVPKTINFO` on IPv6 sockets, which also get
/// `IP_PKTINFO` for IPv4-mapped traffic unless they are IPv6-only).
pub(crate) fn enable_pktinfo(sock: &impl AsRawFd, ipv6: bool) -> io::Result<()> {
    let v4 = set_int(sock, libc::IPPROTO_IP, libc::IP_PKTINFO, 1);
    if !ipv6 {
        return v4;
    }
    // An IPv6-only socket may refuse the IPv4 option; it needs only this one.
    set_int(sock, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
}

fn set_int(
    sock: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a c_int that lives for the call, passed with its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

// SAFETY: the raw pointers inside point into the scratch's own heap
// buffers (which move with it, never reallocated) or, between calls, at
// slots of a past read that nothing dereferences: the iovecs are rewritten
// before every use, by whichever thread owns the scratch then.
unsafe impl Send for MmsgScratch {}

impl MmsgScratch {
    pub(crate) fn new(slots: usize) -> Self {
        // SAFETY: all-zero bytes are valid values of these plain C structs.
        let (hdr, iov, name) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed(), std::mem::zeroed()) };
        let mut s = Self {
            hdrs: vec![hdr; slots],
            // Two per slot: its head and its tail (see `Slots`).
            iovs: vec![iov; 2 * slots],
            names: vec![name; slots],
            controls: vec![[0; CONTROL_WORDS]; slots],
        };
        let (names, controls) = (s.names.as_mut_ptr(), s.controls.as_mut_ptr());
        for (i, hdr) in s.hdrs.iter_mut().enumerate() {
            // Pointers into the other vectors' heap buffers, which stay put
            // for the scratch's life; `i` is within each vector's length.
            hdr.msg_hdr.msg_name = names.wrapping_add(i).cast();
            hdr.msg_hdr.msg_control = controls.wrapping_add(i).cast();
        }
        s
    }
}

/// Where `recv_batch` puts each datagram: slot `i` is the head `i` of
/// `heads` (none when their size is 0), continued by `tail` bytes of
/// `tails` at `i * tail`. A datagram that fits its head lands there whole,
/// so a caller that guesses the size right receives straight into the
/// buffer it hands on; the tails take what does not fit.
pub(crate) struct Slots<'a> {
    pub(crate) heads: &'a mut super::Heads,
    pub(crate) tails: &'a mut [u8],
    pub(crate) tail: usize,
}

/// Receives up to `max` datagrams without blocking into `slots`. Each
/// datagram (or GRO-coalesced run of datagrams) lands at the start of its
/// slot; `out` receives one entry per slot, in arrival order. Returns the
/// number of slots filled.
pub(crate) fn recv_batch(
    sock: &impl AsRawFd,
    scratch: &mut MmsgScratch,
    slots: Slots<'_>,
    max: usize,
    out: &mut Vec<super::Received>,
) -> io::Result<usize> {
    let Slots { heads, tails, tail } = slots;
    let head = heads.head();
    let tail = tail.max(1);
    let n = max.min(scratch.hdrs.len()).min(tails.len() / tail);
    let (head_base, with_head) = heads.slots_base().unwrap_or((std::ptr::null_mut(), 0));
    let tail_base = tails.as_mut_ptr();
    for (i, (hdr, iovs)) in scratch
        .hdrs
        .iter_mut()
        .zip(scratch.iovs.chunks_exact_mut(2))
        .take(n)
        .enumerate()
    {
        // Slot `i`: its head (if it has one), continued by its tail.
        let tail_iov = libc::iovec {
            iov_base: tail_base.wrapping_add(i * tail).cast(),
            iov_len: tail,
        };
        if i < with_head {
            iovs[0] = libc::iovec {
                iov_base: head_base.wrapping_add(i * head).cast(),
                iov_len: head,
            };
            iovs[1] = tail_iov;
            hdr.msg_hdr.msg_iovlen = 2;
        } else {
            iovs[0] = tail_iov;
            hdr.msg_hdr.msg_iovlen = 1;
        }
        // From the slice just written (the one linked at creation points at
        // the same place, but Rust's borrows are clearer this way).
        hdr.msg_hdr.msg_iov = iovs.as_mut_ptr();
        hdr.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        hdr.msg_hdr.msg_controllen = (CONTROL_WORDS * 8) as _;
    }
    let got = loop {
        // SAFETY: the first `n` headers point at live iovecs (set above),
        // names and control buffers (linked by `new`) owned by `scratch`,
        // and the
        // iovecs at slots of `slots`, which outlive the call: a head is
        // `head` bytes of the spare capacity `Heads::prepare` reserved for
        // slot `i < with_head`, a tail `tail` bytes of `tails` at
        // `i * tail`, within it as `n <= tails.len() / tail`; the kernel
        // writes only within the lengths given. The fd is borrowed from its
        // owner for the call.
        let rc = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                scratch.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT as _, // c_uint on musl
                std::ptr::null_mut(),
            )
        };
        if rc >= 0 {
            break rc as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    for i in 0..got {
        let len = scratch.hdrs[i].msg_len as usize;
        // A sender without an IP address cannot happen on a UDP socket; keep
        // the slot anyway so that indices stay aligned with `slots`.
        let addr = to_socket_addr(&scratch.names[i])
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (segment, dest) = ancillary(&scratch.hdrs[i].msg_hdr);
        heads.set_written(i, len);
        out.push(super::Received {
            len,
            from: addr,
            segment,
            dest,
        });
    }
    Ok(got)
}

/// What the kernel attached to a message: the UDP GRO segment size (or 0)
/// and the packet's destination address and interface (`*_PKTINFO`).
fn ancillary(msg: &libc::msghdr) -> (usize, Option<(IpAddr, u32)>) {
    let mut segment = 0;
    let mut dest = None;
    // SAFETY: `msg` was filled by recvmmsg with a control buffer we own and
    // `msg_controllen` set by the kernel; the CMSG_* macros walk exactly it,
    // and each payload is read unaligned as the type its level/type pair
    // defines.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (SOL_UDP, UDP_GRO) => {
                    let seg = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    segment = usize::try_from(seg).unwrap_or(0);
                }
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in_pktinfo>());
                    let ip = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                    dest = Some((ip.into(), info.ipi_ifindex as u32));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    let ip = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                    dest = Some((ip.into(), info.ipi6_ifindex));
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    (segment, dest)
}

/// Sends one datagram from the local address `source` (and out of
/// interface `ifindex` when non-zero): `sendmsg` with `IP_PKTINFO` for an
/// IPv4 source (IPv4 sockets), `IPV6_PKTINFO` for an IPv6 one. IPv6
/// sockets always pass an IPv6 source, IPv4-mapped for IPv4 traffic: the
/// kernel applies that to IPv4-mapped destinations and refuses it (EINVAL)
/// for IPv6 ones, where an `IP_PKTINFO` would be silently ignored.
pub(crate) fn send_from(
    sock: &impl AsRawFd,
    data: &[u8],
    dest: Option<&socket2::SockAddr>,
    source: IpAddr,
    ifindex: u32,
) -> io::Result<usize> {
    match source {
        IpAddr::V4(a) => {
            // SAFETY: all-zero bytes are a valid value of this plain C struct.
            let mut v4: libc::in_pktinfo = unsafe { std::mem::zeroed() };
            v4.ipi_ifindex = ifindex as libc::c_int;
            v4.ipi_spec_dst.s_addr = u32::from(a).to_be();
            send_with_cmsg(sock, data, dest, libc::IPPROTO_IP, libc::IP_PKTINFO, v4)
        }
        IpAddr::V6(a) => {
            // SAFETY: as above.
            let mut v6: libc::in6_pktinfo = unsafe { std::mem::zeroed() };
            v6.ipi6_ifindex = ifindex;
            v6.ipi6_addr.s6_addr = a.octets();
            send_with_cmsg(sock, data, dest, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, v6)
        }
    }
}

/// One `sendmsg` of `data` to `dest` (`None`: the connected peer) with one
/// control message (`level`, `kind`) carrying `value`.
fn send_with_cmsg<T: Copy>(
    sock: &impl AsRawFd,
    data: &[u8],
    dest: Option<&socket2::SockAddr>,
    level: libc::c_int,
    kind: libc::c_int,
    value: T,
) -> io::Result<usize> {
    // Room for one cmsg (checked below), aligned for cmsghdr.
    let mut control = [0u64; 8];
    let size = std::mem::size_of::<T>() as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    if unsafe { libc::CMSG_SPACE(size) } as usize > std::mem::size_of_val(&control) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid; every pointer set below refers
    // to locals (`iov`, `control`, `dest`) that outlive the `sendmsg` call,
    // and the kernel only reads through them. The CMSG_* macros are given
    // the header and the buffer checked above to hold the one cmsg.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        if let Some(d) = dest {
            msg.msg_name = d.as_ptr() as *mut libc::c_void;
            msg.msg_namelen = d.len();
        }
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        // `as _`: socklen_t on musl, usize on glibc.
        msg.msg_controllen = libc::CMSG_SPACE(size) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = kind;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<T>(), value);
        loop {
            let rc = libc::sendmsg(sock.as_raw_fd(), &msg, 0);
            if rc >= 0 {
                return Ok(rc as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

fn to_socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a `sockaddr_in` for AF_INET, and
            // `sockaddr_storage` is large and aligned enough to hold one.
            let a =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for `sockaddr_in6` under AF_INET6.
            let a = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(
                SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    u32::from_be(a.sin6_flowinfo),
                    a.sin6_scope_id,
                )
                .into(),
            )
        }
        _ => None,
    }
}

/// Sends datagrams with one `sendmmsg(2)`, each to its own destination
/// (`None`: the connected peer). Returns how many the kernel took, in
/// order; an error means the first one failed (later ones were not tried).
pub(crate) fn send_batch(
    sock: &impl AsRawFd,
    items: &[(&[u8], Option<socket2::SockAddr>)],
) -> io::Result<usize> {
    let mut iovs: Vec<libc::iovec> = items
        .iter()
        .map(|(data, _)| libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(items.len());
    for (i, (_, dest)) in items.iter().enumerate() {
        // SAFETY: an all-zero mmsghdr is a valid value of the C struct.
        let mut hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        if let Some(d) = dest {
            hdr.msg_hdr.msg_name = d.as_ptr() as *mut libc::c_void;
            hdr.msg_hdr.msg_namelen = d.len();
        }
        hdr.msg_hdr.msg_iov = &mut iovs[i];
        hdr.msg_hdr.msg_iovlen = 1;
        hdrs.push(hdr);
    }
    loop {
        // SAFETY: every header points at an iovec in `iovs` and a name in
        // `items`, both alive and unmoved for the call; the kernel only
        // reads the payloads and names and writes `msg_len`.
        let rc = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                hdrs.len() as libc::c_uint,
                libc::MSG_DONTWAIT as _, // c_uint on musl
            )
        };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Largest number of segments one UDP GSO send may carry (the kernel's
/// `UDP_MAX_SEGMENTS` is 64 on older kernels).
pub(crate) const GSO_MAX_SEGMENTS: usize = 64;

/// Sends `data` as datagrams of `segment` bytes each (the last may be
/// shorter) in one `sendmsg` with `UDP_SEGMENT` (UDP GSO, Linux 4.18+).
pub(crate) fn send_gso(
    sock: &impl AsRawFd,
    data: &[u8],
    segment: u16,
    dest: Option<&socket2::SockAddr>,
) -> io::Result<usize> {
    send_with_cmsg(sock, data, dest, SOL_UDP, UDP_SEGMENT, segment)
}

const UDP_SEGMENT: libc::c_int = 103;

/// Whether the kernel knows UDP GSO. A kernel older than 4.18 ignores a
/// `UDP_SEGMENT` control message it does not know and would send a whole
/// run as one datagram; the socket option of the same name, which it
/// refuses (`ENOPROTOOPT`), tells them apart.
pub(crate) fn gso_supported(sock: &impl AsRawFd) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` live for the call; `len` is `value`'s size.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            SOL_UDP,
            UDP_SEGMENT,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0
}

/// A one-shot timer with microsecond resolution whose expiry makes its
/// descriptor readable, so that a JS loop's poll handle can wait for it
/// (libuv's own timers tick in milliseconds).
pub(crate) struct TimerFd(std::os::fd::OwnedFd);

impl TimerFd {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; a non-negative result is a new descriptor
        // that we own from here on.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(Self(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }))
    }

    /// Expires once, `micros` from now (0 disarms).
    pub(crate) fn arm(&self, micros: u64) -> io::Result<()> {
        // SAFETY: all-zero bytes are a valid (disarmed) itimerspec.
        let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
        spec.it_value.tv_sec = (micros / 1_000_000) as _;
        spec.it_value.tv_nsec = ((micros % 1_000_000) * 1000) as _;
        // SAFETY: `spec` lives for the call; the old value is not asked for.
        let rc =
            unsafe { libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Consumes an expiry, so that the descriptor is no longer readable.
    pub(crate) fn clear(&self) {
        let mut expirations = 0u64;
        // SAFETY: reads at most 8 bytes into `expirations`; a timerfd with
        // nothing to report fails with EAGAIN, which is fine.
        unsafe {
            libc::read(
                self.0.as_raw_fd(),
                (&mut expirations as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    pub(crate) fn raw(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

/// An epoll instance of our own: level-triggered readability of the
/// descriptors added, each reported with the token it was added with.
pub(crate) struct Epoll {
    fd: std::os::fd::OwnedFd,
    /// `epoll_wait`'s output, kept between calls.
    events: std::cell::RefCell<Vec<libc::epoll_event>>,
}

/// How many ready descriptors one `Epoll::ready` call reports at most
/// (libuv's count per `epoll_wait`); the rest stay ready (level-triggered)
/// for the next call.
pub(crate) const EPOLL_BATCH: usize = 1024;

impl Epoll {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; a non-negative result is a new descriptor
        // that we own from here on.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            fd: unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) },
            events: std::cell::RefCell::new(Vec::new()),
        })
    }

    pub(crate) fn raw(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// Watches `fd` for readability, reported as `token`.
    pub(crate) fn add(&self, fd: std::os::fd::RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `event` lives for the call; the kernel checks `fd`.
        let rc = unsafe { libc::epoll_ctl(self.raw(), libc::EPOLL_CTL_ADD, fd, &mut event) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Stops watching `fd` (an error if it was not watched).
    pub(crate) fn delete(&self, fd: std::os::fd::RawFd) -> io::Result<()> {
        // Ignored by the kernel, but kernels before 2.6.9 wanted non-null.
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as in `add`.
        let rc = unsafe { libc::epoll_ctl(self.raw(), libc::EPOLL_CTL_DEL, fd, &mut event) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The tokens of descriptors ready now (without waiting), at most
    /// `EPOLL_BATCH`, into `out` (cleared first).
    pub(crate) fn ready(&self, out: &mut Vec<u64>) -> io::Result<()> {
        out.clear();
        let mut events = self.events.borrow_mut();
        events.clear();
        events.reserve(EPOLL_BATCH);
        // SAFETY: the kernel writes at most `EPOLL_BATCH` events into the
        // vector's spare capacity (reserved above); a zero timeout never
        // blocks.
        let n = unsafe {
            libc::epoll_wait(
                self.raw(),
                events.as_mut_ptr(),
                EPOLL_BATCH as libc::c_int,
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel initialised the first `n` (≤ EPOLL_BATCH).
        unsafe { events.set_len(n as usize) };
        // (`epoll_event` is packed on x86-64: the field is read by value.)
        out.extend(events.iter().map(|e| e.u64));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Epoll;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    /// A socket is reported with its token while a datagram waits, and
    /// not once it is read (level-triggered) or no longer watched.
    #[test]
    fn epoll_reports_ready_sockets_by_token() {
        let ep = Epoll::new().expect("epoll");
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind a");
        let b = UdpSocket::bind("127.0.0.1:0").expect("bind b");
        ep.add(a.as_raw_fd(), 7).expect("add a");
        ep.add(b.as_raw_fd(), 9).expect("add b");
        let mut ready = Vec::new();
        ep.ready(&mut ready).expect("ready");
        assert!(ready.is_empty());
        a.send_to(b"x", b.local_addr().expect("addr"))
            .expect("send");
        ep.ready(&mut ready).expect("ready");
        assert_eq!(ready, vec![9]);
        ep.ready(&mut ready).expect("ready");
        assert_eq!(ready, vec![9], "still ready until read");
        let mut buf = [0u8; 8];
        b.recv_from(&mut buf).expect("recv");
        ep.ready(&mut ready).expect("ready");
        assert!(ready.is_empty());
        a.send_to(b"y", b.local_addr().expect("addr"))
            .expect("send");
        ep.delete(b.as_raw_fd()).expect("delete");
        ep.ready(&mut ready).expect("ready");
        assert!(ready.is_empty(), "no longer watched");
        assert!(ep.delete(b.as_raw_fd()).is_err(), "deleted twice");
    }
}
