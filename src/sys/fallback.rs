//! Portable receive, one datagram per syscall, where `recvmmsg` is missing.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;

use socket2::SockRef;

/// Receives one datagram into `buf` without blocking.
///
/// On Windows a datagram sent earlier to a closed port (or whose TTL ran
/// out) makes the next receive fail with `WSAECONNRESET` (`WSAENETRESET`),
/// even on an unconnected socket; libuv ignores both and reads on, and so
/// does this (the failed call has consumed the report).
pub(crate) fn recv_from(sock: &SockRef<'_>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the slice is
    // already initialised; `recv_from` only writes bytes into it.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    #[cfg(windows)]
    let (n, from) = loop {
        match sock.recv_from(uninit) {
            Err(e) if is_icmp_reset(&e) => continue,
            result => break result?,
        }
    };
    #[cfg(not(windows))]
    let (n, from) = sock.recv_from(uninit)?;
    let from = from
        .as_socket()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    Ok((n, from))
}

#[cfg(windows)]
fn is_icmp_reset(e: &io::Error) -> bool {
    use windows_sys::Win32::Networking::WinSock::{WSAECONNRESET, WSAENETRESET};
    matches!(e.raw_os_error(), Some(WSAECONNRESET | WSAENETRESET))
}
