//! Socket options, one function each, on any socket (`SockRef`).
//! Address-family differences (IPv4 vs IPv6 option names) live here.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use socket2::SockRef;

use crate::sys;

/// Flags of `bind()`, as JS passes them (the values of libuv's flags).
pub(crate) mod flags {
    pub(crate) const IPV6_ONLY: u32 = 1;
    pub(crate) const REUSE_ADDR: u32 = 4;
    pub(crate) const REUSE_PORT: u32 = 8;
}

fn invalid() -> io::Error {
    io::Error::from(io::ErrorKind::InvalidInput)
}

/// Applies the pre-bind flags. `SO_REUSEADDR` is what libuv sets for
/// `reuseAddr` on Linux and Windows; on BSD-likes it also sets `SO_REUSEPORT`
/// so that several sockets can share a port as on Linux.
pub(crate) fn apply_bind_flags(s: &SockRef<'_>, ipv6: bool, f: u32) -> io::Result<()> {
    if f & flags::IPV6_ONLY != 0 {
        if !ipv6 {
            return Err(invalid()); // libuv: IPV6ONLY on an IPv4 socket
        }
        s.set_only_v6(true)?;
    }
    if f & flags::REUSE_ADDR != 0 {
        s.set_reuse_address(true)?;
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
        s.set_reuse_port(true)?;
    }
    if f & flags::REUSE_PORT != 0 {
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        s.set_reuse_port(true)?;
        #[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos")))))]
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
/// one (`::%eth1`, `::%2`) `IPV6_MULTICAST_IF` with its scope, whatever the
/// socket's family, as libuv does (the kernel decides what it accepts); the
/// any-address selects the system default.
pub(crate) fn set_multicast_interface(s: &SockRef<'_>, iface: &str) -> io::Result<()> {
    if let Ok(ip) = iface.parse::<Ipv4Addr>() {
        return s.set_multicast_if_v4(&ip);
    }
    let (host, scope) = iface.split_once('%').unwrap_or((iface, ""));
    host.parse::<Ipv6Addr>().map_err(|_| invalid())?;
    let index = if scope.is_empty() {
        0
    } else {
        sys::interface_index(scope)
    };
    s.set_multicast_if_v6(index)
}

/// Checks that a multicast group or source address parses (`EINVAL`).
pub(crate) fn parse_group(addr: &str) -> io::Result<IpAddr> {
    let (host, _) = addr.split_once('%').unwrap_or((addr, ""));
    host.parse::<IpAddr>().map_err(|_| invalid())
}

/// The interface of an IPv6 membership: the scope of `::%eth0` / `::%2`,
/// or 0 (the system's choice) for a plain address or none.
fn v6_interface_index(iface: Option<&str>) -> io::Result<u32> {
    match iface {
        Some(i) => match i.split_once('%') {
            Some((_, scope)) => Ok(sys::interface_index(scope)),
            None => i.parse::<Ipv6Addr>().map(|_| 0).map_err(|_| invalid()),
        },
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
    let (host, _) = group.split_once('%').unwrap_or((group, ""));
    match host.parse::<IpAddr>().map_err(|_| invalid())? {
        IpAddr::V4(g) => {
            let i = match iface {
                Some(i) => i.parse::<Ipv4Addr>().map_err(|_| invalid())?,
                None => Ipv4Addr::UNSPECIFIED,
            };
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

/// Source-specific multicast (IPv4; IPv6 SSM is reported as unsupported).
pub(crate) fn source_membership(
    s: &SockRef<'_>,
    source: &str,
    group: &str,
    iface: Option<&str>,
    join: bool,
) -> io::Result<()> {
    // As libuv parses them: IPv4, or IPv6 with an optional `%zone`.
    let parse = |a: &str| match a.parse::<Ipv4Addr>() {
        Ok(v4) => Ok(IpAddr::V4(v4)),
        Err(_) => {
            let (host, _) = a.split_once('%').unwrap_or((a, ""));
            host.parse::<Ipv6Addr>()
                .map(IpAddr::V6)
                .map_err(|_| invalid())
        }
    };
    let (src, grp) = (parse(source)?, parse(group)?);
    match (src, grp) {
        (IpAddr::V4(src), IpAddr::V4(grp)) => {
            let i = match iface {
                Some(i) => i.parse::<Ipv4Addr>().map_err(|_| invalid())?,
                None => Ipv4Addr::UNSPECIFIED,
            };
            #[cfg(not(any(target_os = "windows", target_os = "solaris", target_os = "illumos")))]
            {
                if join {
                    s.join_ssm_v4(&src, &grp, &i)
                } else {
                    s.leave_ssm_v4(&src, &grp, &i)
                }
            }
            #[cfg(any(target_os = "windows", target_os = "solaris", target_os = "illumos"))]
            {
                let _ = (s, src, grp, i, join);
                Err(io::Error::from(io::ErrorKind::Unsupported))
            }
        }
        (IpAddr::V6(src), IpAddr::V6(grp)) => {
            let index = v6_interface_index(iface)?;
            #[cfg(target_os = "linux")]
            return sys::ssm_v6(&**s, src, grp, index, join);
            #[cfg(not(target_os = "linux"))]
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
