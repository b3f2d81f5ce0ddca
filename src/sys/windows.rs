//! Windows helpers: disconnecting a UDP socket, numeric scope ids, waiting
//! for room to send, IPv6 source-specific membership (and the no-ops that
//! stand for Unix's waker and signal masks).

use std::io;

/// Windows dissolves a UDP association by connecting to an all-zero
/// address (family `AF_UNSPEC`), which is what libuv passes.
pub(crate) fn disconnect(sock: &socket2::SockRef<'_>) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{
        connect, WSAGetLastError, SOCKADDR, SOCKADDR_STORAGE, SOCKET_ERROR,
    };
    // SAFETY: an all-zero SOCKADDR_STORAGE is a valid value of the C struct.
    let addr: SOCKADDR_STORAGE = unsafe { std::mem::zeroed() };
    let len = std::mem::size_of::<SOCKADDR_STORAGE>() as i32;
    // SAFETY: `addr` lives for the call and `len` is its size; the socket
    // is borrowed from its owner for the duration of the call.
    let rc = unsafe {
        connect(
            sock.as_raw_socket() as usize,
            (&addr as *const SOCKADDR_STORAGE).cast::<SOCKADDR>(),
            len,
        )
    };
    if rc == SOCKET_ERROR {
        // SAFETY: reads the calling thread's last Winsock error.
        return Err(io::Error::from_raw_os_error(unsafe { WSAGetLastError() }));
    }
    Ok(())
}

/// Windows reports scope ids as numbers (`fe80::1%2`), as Node does there.
pub(crate) fn interface_name(index: u32) -> String {
    index.to_string()
}

/// Only numeric scope ids are understood on Windows.
pub(crate) fn interface_index(name: &str) -> u32 {
    name.parse().unwrap_or(0)
}

/// Unix ends a drain thread's wait with an eventfd or a pipe; `WSAPoll`
/// takes sockets only, so here there is no waker: `close()` shuts its own
/// socket down instead, and a shared one's drain thread lets go when its
/// wait times out.
pub(crate) struct Wake;

impl Wake {
    pub(crate) fn new() -> io::Result<Self> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub(crate) fn wake(&self) {}

    pub(crate) fn clear(&self) {}
}

/// Sleeps `timeout` (no waker here; not reached: ENOBUFS is not waited
/// out on Windows, as libuv does not).
pub(crate) fn wait_woken(_wake: Option<&Wake>, timeout: std::time::Duration) -> io::Result<()> {
    std::thread::sleep(timeout);
    Ok(())
}

/// Waits up to `timeout_ms` for the socket to have room to send: true if
/// it came, false when the time ran out.
pub(crate) fn wait_writable(
    sock: &impl std::os::windows::io::AsRawSocket,
    _wake: Option<&Wake>,
    timeout_ms: i32,
) -> io::Result<bool> {
    use windows_sys::Win32::Networking::WinSock::{WSAPoll, POLLWRNORM, WSAPOLLFD};
    let mut pfd = WSAPOLLFD {
        fd: sock.as_raw_socket() as usize,
        events: POLLWRNORM,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid WSAPOLLFD that lives for the call.
    let rc = unsafe { WSAPoll(&mut pfd, 1, timeout_ms) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc != 0)
}

/// Joins or leaves an IPv6 source-specific multicast group
/// (`MCAST_JOIN_SOURCE_GROUP`), as libuv does on Windows.
pub(crate) fn ssm_v6(
    sock: &impl std::os::windows::io::AsRawSocket,
    source: std::net::Ipv6Addr,
    group: std::net::Ipv6Addr,
    interface: u32,
    join: bool,
) -> io::Result<()> {
    use windows_sys::Win32::Networking::WinSock::{
        setsockopt, WSAGetLastError, AF_INET6, GROUP_SOURCE_REQ, IPPROTO_IPV6,
        MCAST_JOIN_SOURCE_GROUP, MCAST_LEAVE_SOURCE_GROUP, SOCKADDR_IN6, SOCKADDR_STORAGE,
        SOCKET_ERROR,
    };
    fn storage(ip: std::net::Ipv6Addr) -> SOCKADDR_STORAGE {
        // SAFETY: all-zero bytes are a valid SOCKADDR_STORAGE, which is
        // large and aligned enough to hold the SOCKADDR_IN6 written into it.
        unsafe {
            let mut s: SOCKADDR_STORAGE = std::mem::zeroed();
            let a = (&mut s as *mut SOCKADDR_STORAGE).cast::<SOCKADDR_IN6>();
            (*a).sin6_family = AF_INET6;
            (*a).sin6_addr.u.Byte = ip.octets();
            s
        }
    }
    let req = GROUP_SOURCE_REQ {
        gsr_interface: interface,
        gsr_group: storage(group),
        gsr_source: storage(source),
    };
    let opt = if join {
        MCAST_JOIN_SOURCE_GROUP
    } else {
        MCAST_LEAVE_SOURCE_GROUP
    } as i32; // small constants (45, 46)

    // SAFETY: `req` is a complete GROUP_SOURCE_REQ that lives for the call,
    // passed with its exact size; the socket is borrowed from its owner.
    let rc = unsafe {
        setsockopt(
            sock.as_raw_socket() as usize,
            IPPROTO_IPV6,
            opt,
            (&req as *const GROUP_SOURCE_REQ).cast::<u8>(),
            std::mem::size_of::<GROUP_SOURCE_REQ>() as i32,
        )
    };
    if rc == SOCKET_ERROR {
        // SAFETY: reads the calling thread's last Winsock error.
        return Err(io::Error::from_raw_os_error(unsafe { WSAGetLastError() }));
    }
    Ok(())
}

/// Signals are a Unix matter (see the Unix `block_process_signals`).
pub(crate) fn block_process_signals() {}
