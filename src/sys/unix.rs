//! Unix helpers: disconnecting a UDP socket, interface names, descriptors
//! (adopting, duplicating, telling their type), readiness (registering with
//! the runtime, waiting for room to send, a waker for such waits), signal
//! masks of our threads, and IPv6 source-specific membership.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Dissolves a UDP socket's association (`connect` with `AF_UNSPEC`).
pub(crate) fn disconnect(sock: &socket2::SockRef<'_>) -> io::Result<()> {
    // SAFETY: an all-zero `sockaddr` is a valid value of the C struct.
    let mut addr: libc::sockaddr = unsafe { std::mem::zeroed() };
    addr.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    let len = std::mem::size_of::<libc::sockaddr>() as libc::socklen_t;
    // SAFETY: `addr` lives for the call and `len` is its size; the fd is a
    // valid socket borrowed from its owner for the duration of the call.
    let rc = unsafe { libc::connect(sock.as_raw_fd(), &addr, len) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    // The BSDs (macOS too) disconnect first and then refuse the address:
    // EAFNOSUPPORT for its family, EINVAL for its length (an IPv6 socket's
    // address is longer than a `sockaddr`). libuv ignores both there.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    if matches!(err.raw_os_error(), Some(libc::EAFNOSUPPORT | libc::EINVAL)) {
        return Ok(());
    }
    Err(err)
}

/// The interface name for a scope id (`fe80::1%eth0`), or the number.
pub(crate) fn interface_name(index: u32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes as `if_indextoname` requires.
    let ptr = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if ptr.is_null() {
        return index.to_string();
    }
    // SAFETY: on success `buf` holds a NUL-terminated name.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The scope id of a zone such as `%eth0`: the interface of that name, 0
/// when there is none. Only names, as libuv on Unix (`if_nametoindex`): a
/// number is the name of no interface.
pub(crate) fn interface_index(name: &str) -> u32 {
    let Ok(c) = CString::new(name) else {
        return 0;
    };
    // SAFETY: `c` is a valid NUL-terminated string for the call.
    unsafe { libc::if_nametoindex(c.as_ptr()) }
}

/// What kind of descriptor `fd` is, in Node's words (`guessHandleType`):
/// `"UDP"`, `"TCP"`, `"PIPE"` (also Unix sockets), `"FILE"`, `"TTY"` or `"UNKNOWN"`.
pub(crate) fn fd_type(fd: i32) -> &'static str {
    if fd < 0 {
        return "INVALID";
    }
    // SAFETY: `stat` is plain old data, for which all zeroes is a value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fstat` only writes the struct it is given; a descriptor
    // that is not open yields an error.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return "UNKNOWN";
    }
    // SAFETY: `isatty` only queries the descriptor (0 when it is none).
    let tty = || unsafe { libc::isatty(fd) } == 1;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFCHR if tty() => "TTY",
        libc::S_IFREG | libc::S_IFCHR => "FILE",
        libc::S_IFIFO => "PIPE",
        libc::S_IFSOCK => {
            // SAFETY: the fd is open (fstat succeeded) and only borrowed here.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            let s = socket2::SockRef::from(&borrowed);
            // libuv's rules: UDP and TCP are datagram / stream sockets of
            // an IP family; a named pipe is a Unix stream socket; anything
            // else (Unix datagram, netlink ...) is unknown. The family comes
            // from the local address (SO_DOMAIN is Linux-only).
            let family = s.local_addr().map(|a| a.family() as libc::c_int);
            let ip = matches!(family, Ok(libc::AF_INET | libc::AF_INET6));
            match s.r#type() {
                Ok(socket2::Type::DGRAM) if ip => "UDP",
                Ok(socket2::Type::STREAM) if ip => "TCP",
                Ok(socket2::Type::STREAM) if matches!(family, Ok(libc::AF_UNIX)) => "PIPE",
                _ => "UNKNOWN",
            }
        }
        _ => "UNKNOWN",
    }
}

/// Takes ownership of a UDP socket descriptor (`bind({ fd })`).
pub(crate) fn adopt_fd(fd: i32) -> io::Result<std::net::UdpSocket> {
    if fd_type(fd) != "UDP" {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `fd` is an open UDP socket (checked above). Ownership cannot
    // be checked for a number from JS: it is the contract of Node's
    // `bind({ fd })`, which hands the descriptor over as `uv_udp_open`
    // takes it (the application must not close or use it any more).
    Ok(unsafe { std::net::UdpSocket::from_raw_fd(fd) })
}

/// A duplicate of `fd` (close-on-exec), owned by the caller: how a cluster
/// worker takes the socket its primary shares, keeping the original open.
pub(crate) fn dup_fd(fd: i32) -> io::Result<std::os::fd::OwnedFd> {
    // SAFETY: `fcntl(F_DUPFD_CLOEXEC)` only reads `fd` (an invalid one yields
    // EBADF) and returns a new descriptor that nothing else owns.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just created above and is owned by no one else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(new) })
}

/// Lets another thread end a `wait_writable` at once (`close()` waking a
/// drain thread that waits for room): an eventfd on Linux, a pipe
/// elsewhere. Once woken it stays readable: every later wait returns at
/// once.
pub(crate) struct Wake {
    /// Polled by the waiting thread.
    rx: OwnedFd,
    /// Written by the waking one (a pipe's other end; an eventfd is both).
    tx: Option<OwnedFd>,
}

impl Wake {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: creates a descriptor; a negative result is an error.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by no one else.
        let rx = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { rx, tx: None })
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn new() -> io::Result<Self> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created, owned by no one else.
        let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&rx, &tx] {
            // SAFETY: `fcntl` on a descriptor we own; failures are reported.
            let ok = unsafe {
                libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) == 0
                    && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) == 0
            };
            if !ok {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Self { rx, tx: Some(tx) })
    }

    pub(crate) fn wake(&self) {
        let fd = self.tx.as_ref().unwrap_or(&self.rx).as_raw_fd();
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of a live u64 (what an eventfd takes;
        // a pipe takes any); a full pipe (already woken) refuses, harmlessly.
        let _ = unsafe { libc::write(fd, std::ptr::from_ref(&one).cast(), 8) };
    }
}

impl Wake {
    /// Takes back earlier wakes, so that the next wait waits.
    pub(crate) fn clear(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reads into a live local buffer of that length; the
        // descriptor is non-blocking, so an empty one fails at once.
        while unsafe { libc::read(self.rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }
}

/// Waits up to `timeout` for `wake` (or sleeps that long without one);
/// to the microsecond where `ppoll` exists, else in whole milliseconds.
pub(crate) fn wait_woken(wake: Option<&Wake>, timeout: std::time::Duration) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd: wake.map_or(-1, |w| w.rx.as_raw_fd()),
        events: libc::POLLIN,
        revents: 0,
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `pfd` is one valid pollfd (a negative fd is ignored) and
    // `ts` a timespec (all-zero is valid, then filled in), both living for
    // the call; no signal mask.
    let rc = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        // At most an hour: the conversions cannot fail.
        ts.tv_sec = timeout.as_secs().min(3600).try_into().unwrap_or(0);
        ts.tv_nsec = timeout.subsec_nanos() as libc::c_long; // < 10^9: fits
        libc::ppoll(&mut pfd, 1, &ts, std::ptr::null())
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    // SAFETY: `pfd` is one valid pollfd (a negative fd is ignored) that
    // lives for the call.
    let rc = unsafe {
        let ms = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
        libc::poll(&mut pfd, 1, ms)
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

/// Waits up to `timeout_ms` for the socket to have room to send, or for
/// `wake`: true if either came (or a signal cut the wait short), false
/// when the time ran out.
pub(crate) fn wait_writable(
    sock: &impl AsRawFd,
    wake: Option<&Wake>,
    timeout_ms: i32,
) -> io::Result<bool> {
    let mut pfds = [
        libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.map_or(-1, |w| w.rx.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let n = if wake.is_some() { 2 } else { 1 };
    // SAFETY: `pfds` holds `n` valid pollfds that live for the call.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), n, timeout_ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(rc != 0)
}

/// A socket registered with the current tokio runtime's reactor: it holds
/// the socket, so the descriptor stays open while registered.
pub(crate) struct Registered(std::sync::Arc<socket2::Socket>);

impl AsRawFd for Registered {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

/// Registers `sock` with the current runtime for readability only.
pub(crate) fn register_readable(
    sock: std::sync::Arc<socket2::Socket>,
) -> io::Result<tokio::io::unix::AsyncFd<Registered>> {
    // SAFETY: tokio asks that the descriptor stay open and refer to the same
    // socket while registered: the AsyncFd owns a strong reference to the
    // socket, so it is closed at the earliest when the AsyncFd is dropped,
    // after deregistration.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(
            Registered(sock),
            tokio::io::Interest::READABLE,
        )
    }
    .map_err(|e| e.into_parts().1)
}

/// Joins or leaves an IPv6 source-specific multicast group
/// (`MCAST_JOIN_SOURCE_GROUP`), which socket2 does not wrap; Linux and
/// macOS, as libuv. macOS checks the addresses' `sin6_len`.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
))]
pub(crate) fn ssm_v6(
    sock: &impl AsRawFd,
    source: std::net::Ipv6Addr,
    group: std::net::Ipv6Addr,
    interface: u32,
    join: bool,
) -> io::Result<()> {
    fn storage(ip: std::net::Ipv6Addr) -> libc::sockaddr_storage {
        // SAFETY: all-zero bytes are a valid sockaddr_storage, which is
        // large and aligned enough to hold the sockaddr_in6 written into it.
        unsafe {
            let mut s: libc::sockaddr_storage = std::mem::zeroed();
            let a = (&mut s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
            (*a).sin6_family = libc::AF_INET6 as libc::sa_family_t;
            (*a).sin6_addr.s6_addr = ip.octets();
            #[cfg(any(target_os = "macos", target_os = "ios"))]
            {
                (*a).sin6_len = std::mem::size_of::<libc::sockaddr_in6>() as u8;
            }
            s
        }
    }
    let req = libc::group_source_req {
        gsr_interface: interface,
        gsr_group: storage(group),
        gsr_source: storage(source),
    };
    let opt = if join {
        libc::MCAST_JOIN_SOURCE_GROUP
    } else {
        libc::MCAST_LEAVE_SOURCE_GROUP
    };
    // SAFETY: `req` is a complete group_source_req that lives for the call,
    // passed with its exact size; the fd is borrowed from its owner.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            opt,
            (&req as *const libc::group_source_req).cast(),
            std::mem::size_of::<libc::group_source_req>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Blocks the signals sent to the process in the calling thread, one of
/// ours (the runtime's, a send drain's): the kernel then delivers them to
/// Node's threads (libuv's handlers would forward them from any thread,
/// but a library's threads have no business receiving them; Node's V8
/// platform threads block SIGUSR1, its inspector thread all). Faults stay
/// deliverable.
pub(crate) fn block_process_signals() {
    // SAFETY: `set` is initialised by sigfillset before use;
    // pthread_sigmask changes only the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for fault in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
        ] {
            libc::sigdelset(&mut set, fault);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
