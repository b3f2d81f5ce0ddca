//! Socket options, one function each, on any socket (`SockRef`).
//! Address-family differences (IPv4 vs IPv6 option names) live here.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use socket2::SockRef;

use crate::core::addr;

/// Flags of `bind()`, as JS passes them (the values of libuv's flags).
pub(crate) mod flags {
    pub(crate) const IPV6_ONLY: u32 = 1;
    pub(crate) const REUSE_ADDR: u32 = 4;
    pub(crate) const REUSE_PORT: u32 = 8;
}

fn invalid() -> io::Error {
    io::Error::from(io::ErrorKind::InvalidInput)
}

/// Applies the pre-bind flags as libuv does on each platform.
///
/// `reuseAddr`: `SO_REUSEADDR` on Linux and Windows; on the BSDs and macOS
/// `SO_REUSEPORT` alone (which there implies `SO_REUSEADDR` and lets several
/// sockets share a port as on Linux). `reusePort` (load balancing): Linux's
/// `SO_REUSEPORT`, FreeBSD's `SO_REUSEPORT_LB`; `ENOTSUP` elsewhere (macOS's
/// `SO_REUSEPORT` does not balance). An IPv6 socket on Windows starts
/// IPv6-only, where Node's default is dual-stack: libuv clears the flag
/// unless `ipv6Only` asks for it (ignoring a failure), and so does this.
pub(crate) fn apply_bind_flags(s: &SockRef<'_>, ipv6: bool, f: u32) -> io::Result<()> {
    if f & flags::IPV6_ONLY != 0 {
        if !ipv6 {
            return Err(invalid()); // libuv: IPV6ONLY on an IPv4 socket
        }
        s.set_only_v6(true)?;
    }
    #[cfg(windows)]
    if ipv6 && f & flags::IPV6_ONLY == 0 {
        let _ = s.set_only_v6(false);
    }
    if f & flags::REUSE_ADDR != 0 {
        #[cfg(not(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "openbsd",
            target_os = "netbsd"
        )))]
        s.set_reuse_address(true)?;
        #[cfg(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "openbsd",
            target_os = "netbsd"
        ))]
        s.set_reuse_port(true)?;
    }
    if f & flags::REUSE_PORT != 0 {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        s.set_reuse_port(true)?;
        #[cfg(target_os = "freebsd")]
        s.set_reuse_port_lb(true)?;
        #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    Ok(())
}

/// A failed bind() as libuv reports it: binding to an address of the other
/// family is `EINVAL` on every platform (BSDs say `EAFNOSUPPORT`).
pub(crate) fn bind_error(e: io::Error) -> io::Error {
    if crate::core::error::code_of(&e) == "EAFNOSUPPORT" {
        invalid()
    } else {
        e
    }
}

/// The socket's actual family: a membership call's implicit bind may have
/// created it in the group's family rather than the handle's (as libuv does).
fn is_v6(s: &SockRef<'_>, handle_ipv6: bool) -> bool {
    s.local_addr().map(|a| a.is_ipv6()).unwrap_or(handle_ipv6)
}

pub(crate) fn set_broadcast(s: &SockRef<'_>, on: bool) -> io::Result<()> {
    s.set_broadcast(on)
}

pub(crate) fn set_ttl(s: &SockRef<'_>, ipv6: bool, ttl: u32) -> io::Result<()> {
    if is_v6(s, ipv6) {
        s.set_unicast_hops_v6(ttl)
    } else {
        s.set_ttl_v4(ttl)
    }
}

pub(crate) fn set_multicast_ttl(s: &SockRef<'_>, ipv6: bool, ttl: u32) -> io::Result<()> {
    if is_v6(s, ipv6) {
        s.set_multicast_hops_v6(ttl)
    } else {
        s.set_multicast_ttl_v4(ttl)
    }
}

pub(crate) fn set_multicast_loop(s: &SockRef<'_>, ipv6: bool, on: bool) -> io::Result<()> {
    if is_v6(s, ipv6) {
        s.set_multicast_loop_v6(on)
    } else {
        s.set_multicast_loop_v4(on)
    }
}

/// `setMulticastInterface`: an IPv4 address sets `IP_MULTICAST_IF`, an IPv6
/// one (`::%eth1`) `IPV6_MULTICAST_IF` with its scope, whatever the socket's
/// family, as libuv does (the kernel decides what it accepts); the
/// any-address selects the system default.
pub(crate) fn set_multicast_interface(s: &SockRef<'_>, iface: &str) -> io::Result<()> {
    if let Some(ip) = addr::ip4(iface) {
        return s.set_multicast_if_v4(&ip);
    }
    let (_, index) = addr::ip6(iface).ok_or_else(invalid)?;
    s.set_multicast_if_v6(index)
}

/// A multicast group or source address as libuv reads one: IPv4, else IPv6
/// with an optional `%zone` (ignored) (`EINVAL`).
pub(crate) fn parse_group(group: &str) -> io::Result<IpAddr> {
    match addr::ip4(group) {
        Some(v4) => Ok(v4.into()),
        None => addr::ip6(group)
            .map(|(v6, _)| v6.into())
            .ok_or_else(invalid),
    }
}

/// The interface of an IPv4 membership: an IPv4 address (libuv's
/// `uv_inet_pton`, no zone), or any.
fn v4_interface(iface: Option<&str>) -> io::Result<Ipv4Addr> {
    match iface {
        Some(i) => addr::ip4(i).ok_or_else(invalid),
        None => Ok(Ipv4Addr::UNSPECIFIED),
    }
}

/// The interface of an IPv6 membership: the scope of an IPv6 address such as
/// `::%eth0` (0, the system's choice, without a zone or interface).
fn v6_interface_index(iface: Option<&str>) -> io::Result<u32> {
    match iface {
        Some(i) => addr::ip6(i).map(|(_, index)| index).ok_or_else(invalid),
        None => Ok(0),
    }
}

/// Joins (`join`) or leaves a multicast group, optionally on the interface
/// with the given address (IPv4) or scope (IPv6).
pub(crate) fn membership(
    s: &SockRef<'_>,
    group: &str,
    iface: Option<&str>,
    join: bool,
) -> io::Result<()> {
    match parse_group(group)? {
        IpAddr::V4(g) => {
            let i = v4_interface(iface)?;
            if join {
                s.join_multicast_v4(&g, &i)
            } else {
                s.leave_multicast_v4(&g, &i)
            }
        }
        IpAddr::V6(g) => {
            let index = v6_interface_index(iface)?;
            if join {
                s.join_multicast_v6(&g, index)
            } else {
                s.leave_multicast_v6(&g, index)
            }
        }
    }
}

/// Source-specific multicast (IPv6 where libuv has it: Linux, macOS, Windows).
pub(crate) fn source_membership(
    s: &SockRef<'_>,
    source: &str,
    group: &str,
    iface: Option<&str>,
    join: bool,
) -> io::Result<()> {
    let (src, grp) = (parse_group(source)?, parse_group(group)?);
    match (src, grp) {
        (IpAddr::V4(src), IpAddr::V4(grp)) => {
            let i = v4_interface(iface)?;
            // Where socket2 (and libuv) have it: Windows too.
            #[cfg(not(any(
                target_os = "solaris",
                target_os = "illumos",
                target_os = "netbsd",
                target_os = "openbsd",
                target_os = "dragonfly"
            )))]
            {
                if join {
                    s.join_ssm_v4(&src, &grp, &i)
                } else {
                    s.leave_ssm_v4(&src, &grp, &i)
                }
            }
            #[cfg(any(
                target_os = "solaris",
                target_os = "illumos",
                target_os = "netbsd",
                target_os = "openbsd",
                target_os = "dragonfly"
            ))]
            {
                let _ = (s, src, grp, i, join);
                Err(io::Error::from(io::ErrorKind::Unsupported))
            }
        }
        (IpAddr::V6(src), IpAddr::V6(grp)) => {
            let index = v6_interface_index(iface)?;
            #[cfg(any(
                target_os = "linux",
                target_os = "android",
                target_os = "macos",
                target_os = "ios",
                windows
            ))]
            return crate::sys::ssm_v6(&**s, src, grp, index, join);
            #[cfg(not(any(
                target_os = "linux",
                target_os = "android",
                target_os = "macos",
                target_os = "ios",
                windows
            )))]
            {
                let _ = (s, src, grp, index, join);
                Err(io::Error::from(io::ErrorKind::Unsupported))
            }
        }
        _ => Err(invalid()),
    }
}

/// Reads (`size == 0`) or sets a kernel buffer size, returning the value the
/// kernel reports afterwards (Linux doubles what was asked).
pub(crate) fn buffer_size(s: &SockRef<'_>, recv: bool, size: usize) -> io::Result<usize> {
    if size > 0 {
        if recv {
            s.set_recv_buffer_size(size)?;
        } else {
            s.set_send_buffer_size(size)?;
        }
    }
    if recv {
        s.recv_buffer_size()
    } else {
        s.send_buffer_size()
    }
}
