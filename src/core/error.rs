//! Turning OS errors into the libuv-style names Node reports (`EADDRINUSE`).
//!
//! The addon hands JS errors whose message is the name (see `handle.rs`);
//! `lib/errors.js` turns that into Node's shape (errno, syscall, address,
//! port, message).

use std::io;

/// The libuv name of an OS error, e.g. `"EADDRINUSE"`.
pub(crate) fn code_of(err: &io::Error) -> String {
    if let Some(n) = err.raw_os_error() {
        if let Some(name) = os_code(n) {
            return name.to_string();
        }
        // Unknown to our table: hand the number to JS, which asks Node.
        return format!("ERRNO:{n}");
    }
    match err.kind() {
        io::ErrorKind::InvalidInput => "EINVAL",
        io::ErrorKind::WouldBlock => "EAGAIN",
        io::ErrorKind::AddrInUse => "EADDRINUSE",
        io::ErrorKind::AddrNotAvailable => "EADDRNOTAVAIL",
        io::ErrorKind::PermissionDenied => "EACCES",
        io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
        io::ErrorKind::NotConnected => "ENOTCONN",
        io::ErrorKind::OutOfMemory => "ENOMEM",
        io::ErrorKind::Unsupported => "ENOTSUP",
        _ => "UNKNOWN",
    }
    .to_string()
}

#[cfg(unix)]
fn os_code(n: i32) -> Option<&'static str> {
    use libc::*;
    Some(match n {
        EACCES => "EACCES",
        EADDRINUSE => "EADDRINUSE",
        EADDRNOTAVAIL => "EADDRNOTAVAIL",
        EAFNOSUPPORT => "EAFNOSUPPORT",
        EAGAIN => "EAGAIN",
        EALREADY => "EALREADY",
        EBADF => "EBADF",
        ECONNREFUSED => "ECONNREFUSED",
        ECONNRESET => "ECONNRESET",
        EDESTADDRREQ => "EDESTADDRREQ",
        EFAULT => "EFAULT",
        EHOSTUNREACH => "EHOSTUNREACH",
        EINTR => "EINTR",
        EINVAL => "EINVAL",
        EISCONN => "EISCONN",
        EMFILE => "EMFILE",
        EMSGSIZE => "EMSGSIZE",
        ENETDOWN => "ENETDOWN",
        ENETUNREACH => "ENETUNREACH",
        ENFILE => "ENFILE",
        ENOBUFS => "ENOBUFS",
        ENODEV => "ENODEV",
        ENOENT => "ENOENT",
        ENOMEM => "ENOMEM",
        ENOPROTOOPT => "ENOPROTOOPT",
        ENOSYS => "ENOSYS",
        ENOTCONN => "ENOTCONN",
        ENOTSOCK => "ENOTSOCK",
        ENOTSUP => "ENOTSUP",
        EPERM => "EPERM",
        EPIPE => "EPIPE",
        EPROTONOSUPPORT => "EPROTONOSUPPORT",
        ETIMEDOUT => "ETIMEDOUT",
        _ => return None,
    })
}

#[cfg(windows)]
fn os_code(n: i32) -> Option<&'static str> {
    use windows_sys::Win32::Networking::WinSock::*;
    Some(match n {
        WSAEACCES => "EACCES",
        WSAEADDRINUSE => "EADDRINUSE",
        WSAEADDRNOTAVAIL => "EADDRNOTAVAIL",
        WSAEAFNOSUPPORT => "EAFNOSUPPORT",
        WSAEWOULDBLOCK => "EAGAIN",
        WSAEALREADY => "EALREADY",
        WSAEBADF | WSAENOTSOCK => "EBADF",
        WSAECONNREFUSED => "ECONNREFUSED",
        WSAECONNRESET => "ECONNRESET",
        WSAEFAULT => "EFAULT",
        WSAEHOSTUNREACH => "EHOSTUNREACH",
        WSAEINTR => "EINTR",
        WSAEINVAL => "EINVAL",
        WSAEISCONN => "EISCONN",
        WSAEMFILE => "EMFILE",
        WSAEMSGSIZE => "EMSGSIZE",
        WSAENETDOWN => "ENETDOWN",
        WSAENETUNREACH => "ENETUNREACH",
        WSAENOBUFS => "ENOBUFS",
        WSAENOPROTOOPT => "ENOPROTOOPT",
        WSAENOTCONN => "ENOTCONN",
        WSAEOPNOTSUPP => "ENOTSUP",
        WSAETIMEDOUT => "ETIMEDOUT",
        _ => return None,
    })
}

#[cfg(not(any(unix, windows)))]
fn os_code(_n: i32) -> Option<&'static str> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn names_os_errors_like_libuv() {
        assert_eq!(
            code_of(&io::Error::from_raw_os_error(libc::EADDRINUSE)),
            "EADDRINUSE"
        );
        assert_eq!(code_of(&io::Error::from_raw_os_error(libc::EBADF)), "EBADF");
        assert_eq!(code_of(&io::Error::from_raw_os_error(4095)), "ERRNO:4095");
        assert_eq!(
            code_of(&io::Error::from(io::ErrorKind::InvalidInput)),
            "EINVAL"
        );
    }
}
