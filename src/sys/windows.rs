//! Windows helpers: disconnecting a UDP socket and numeric scope ids.

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
