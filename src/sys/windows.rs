//! Windows helpers: disconnecting a UDP socket and numeric scope ids.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// Windows dissolves a UDP association by connecting to the any-address.
pub(crate) fn disconnect(sock: &socket2::SockRef<'_>) -> io::Result<()> {
    let any: SocketAddr = if sock.local_addr()?.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    sock.connect(&any.into())
}

/// Windows reports scope ids as numbers (`fe80::1%2`), as Node does there.
pub(crate) fn interface_name(index: u32) -> String {
    index.to_string()
}

/// Only numeric scope ids are understood on Windows.
pub(crate) fn interface_index(name: &str) -> u32 {
    name.parse().unwrap_or(0)
}

/// Waits up to `timeout_ms` for the socket to have room to send.
pub(crate) fn wait_writable(
    sock: &impl std::os::windows::io::AsRawSocket,
    timeout_ms: i32,
) -> io::Result<()> {
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
    Ok(())
}
