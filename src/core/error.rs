//! Turning OS errors into the libuv-style names Node reports (`EADDRINUSE`).
//!
//! The addon hands JS errors whose message is the name (see `handle.rs`);
//! `lib/errors.js` turns that into Node's shape (errno, syscall, address,
//! port, message).

use std::io;

use crate::sys::uv::UvError;

/// The libuv name of an OS error, e.g. `"EADDRINUSE"`.
pub(crate) fn code_of(err: &io::Error) -> String {
    if let Some(n) = err.raw_os_error() {
        if let Some(name) = os_code(n) {
            return name.to_string();
        }
        // Unknown to our table: hand the number to JS, which asks Node
        // (Unix; on Windows libuv's own table is complete: UNKNOWN).
        return format!("ERRNO:{n}");
    }
    if let Some(uv) = err.get_ref().and_then(|e| e.downcast_ref::<UvError>()) {
        return uv.0.clone();
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

/// The names libuv's `uv_translate_sys_error` gives Winsock and Win32
/// errors (the socket-related ones; note `WSAEINTR` is `ECANCELED` and
/// `WSAEPFNOSUPPORT` `EINVAL` there). Anything else is `UNKNOWN` to libuv.
#[cfg(windows)]
fn os_code(n: i32) -> Option<&'static str> {
    use windows_sys::Win32::Foundation::*;
    use windows_sys::Win32::Networking::WinSock::*;
    // Win32 error codes are u32 constants; WSA ones i32.
    if let Ok(win32) = u32::try_from(n) {
        let name = match win32 {
            ERROR_NOACCESS | ERROR_ACCESS_DENIED => Some("EACCES"),
            ERROR_ADDRESS_ALREADY_ASSOCIATED => Some("EADDRINUSE"),
            ERROR_INVALID_FLAGS | ERROR_INVALID_HANDLE => Some("EBADF"),
            ERROR_OPERATION_ABORTED => Some("ECANCELED"),
            ERROR_CONNECTION_ABORTED => Some("ECONNABORTED"),
            ERROR_CONNECTION_REFUSED => Some("ECONNREFUSED"),
            ERROR_NETNAME_DELETED => Some("ECONNRESET"),
            ERROR_HOST_UNREACHABLE => Some("EHOSTUNREACH"),
            ERROR_INVALID_PARAMETER | ERROR_INSUFFICIENT_BUFFER => Some("EINVAL"),
            ERROR_TOO_MANY_OPEN_FILES => Some("EMFILE"),
            ERROR_NETWORK_UNREACHABLE => Some("ENETUNREACH"),
            ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY => Some("ENOMEM"),
            ERROR_NOT_CONNECTED => Some("ENOTCONN"),
            ERROR_NOT_SUPPORTED => Some("ENOTSUP"),
            _ => None,
        };
        if name.is_some() {
            return name;
        }
    }
    Some(match n {
        WSAEACCES => "EACCES",
        WSAEADDRINUSE => "EADDRINUSE",
        WSAEADDRNOTAVAIL => "EADDRNOTAVAIL",
        WSAEAFNOSUPPORT => "EAFNOSUPPORT",
        WSAEWOULDBLOCK => "EAGAIN",
        WSAEALREADY => "EALREADY",
        WSAEINTR => "ECANCELED",
        WSAECONNABORTED => "ECONNABORTED",
        WSAECONNREFUSED => "ECONNREFUSED",
        WSAECONNRESET => "ECONNRESET",
        WSAEFAULT => "EFAULT",
        WSAEHOSTUNREACH => "EHOSTUNREACH",
        WSAEINVAL | WSAEPFNOSUPPORT => "EINVAL",
        WSAEISCONN => "EISCONN",
        WSAEMFILE => "EMFILE",
        WSAEMSGSIZE => "EMSGSIZE",
        WSAENETUNREACH => "ENETUNREACH",
        WSAENOBUFS => "ENOBUFS",
        WSAENOTCONN => "ENOTCONN",
        WSAENOTSOCK => "ENOTSOCK",
        WSAESHUTDOWN => "EPIPE",
        WSAEPROTONOSUPPORT => "EPROTONOSUPPORT",
        WSAETIMEDOUT => "ETIMEDOUT",
        WSAESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        _ => "UNKNOWN",
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
