//! Portable receive, one datagram per syscall, where `recvmmsg` is missing.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;

use socket2::SockRef;

/// Receives one datagram into `buf` without blocking.
pub(crate) fn recv_from(sock: &SockRef<'_>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the slice is
    // already initialised; `recv_from` only writes bytes into it.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let (n, from) = sock.recv_from(uninit)?;
    let from = from
        .as_socket()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    Ok((n, from))
}
