//! Converting between the address strings JS uses and socket addresses.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::sys;

/// What C code sees of a JS string: Node hands address strings to libuv as
/// C strings, which end at the first NUL.
pub(crate) fn c_str(s: &str) -> &str {
    s.split('\0').next().unwrap_or(s)
}

/// An IPv4 literal, read as libuv's `uv_ip4_addr` reads it.
pub(crate) fn ip4(s: &str) -> Option<Ipv4Addr> {
    c_str(s).parse().ok()
}

/// An IPv6 literal with an optional `%zone`, read as libuv's `uv_ip6_addr`
/// reads it: the address before the first `%` (cut to 39 bytes, libuv's
/// buffer), the zone an interface name (a number on Windows), an unknown
/// one scope 0.
pub(crate) fn ip6(s: &str) -> Option<(Ipv6Addr, u32)> {
    let s = c_str(s);
    match s.split_once('%') {
        Some((host, zone)) => {
            let host = host.get(..host.len().min(39)).unwrap_or(host);
            let ip = host.parse().ok()?;
            Some((ip, sys::interface_index(zone)))
        }
        None => s.parse().ok().map(|ip| (ip, 0)),
    }
}

/// Parses `ip` (an IP literal already resolved by JS, IPv6 optionally with a
/// `%scope`) for a socket of the given family. A literal of the other family
/// is `EINVAL`, as libuv's `uv_ip4_addr`/`uv_ip6_addr` make it.
pub(crate) fn parse(ip: &str, port: u16, ipv6: bool) -> io::Result<SocketAddr> {
    let invalid = || io::Error::from(io::ErrorKind::InvalidInput);
    if !ipv6 {
        let v4 = ip4(ip).ok_or_else(invalid)?;
        return Ok(SocketAddrV4::new(v4, port).into());
    }
    let (v6, scope) = ip6(ip).ok_or_else(invalid)?;
    Ok(SocketAddrV6::new(v6, port, 0, scope).into())
}

/// Parses a local source address for `sendFrom`: an IP literal, IPv6 with
/// an optional `%scope` giving the interface. An IPv6 socket also takes
/// IPv4, as IPv4-mapped IPv6 (see `sys::send_from`).
pub(crate) fn parse_source(ip: &str, ipv6: bool) -> io::Result<(IpAddr, u32)> {
    let invalid = || io::Error::from(io::ErrorKind::InvalidInput);
    if let Some(v4) = ip4(ip) {
        return Ok(if ipv6 {
            (v4.to_ipv6_mapped().into(), 0)
        } else {
            (v4.into(), 0)
        });
    }
    if !ipv6 {
        return Err(invalid());
    }
    match parse(ip, 0, true)? {
        SocketAddr::V6(a) => Ok(((*a.ip()).into(), a.scope_id())),
        SocketAddr::V4(_) => Err(invalid()),
    }
}

/// The address string Node reports: IPv6 link-local unicast addresses
/// carry `%ifname` (a number on Windows). Others never do, although the
/// kernel gives a scope to more of them (a socket bound to `ff02::1%lo`:
/// node reports `ff02::1`).
pub(crate) fn to_js(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) if a.scope_id() != 0 && a.ip().is_unicast_link_local() => {
            format!("{}%{}", a.ip(), sys::interface_name(a.scope_id()))
        }
        SocketAddr::V6(a) => a.ip().to_string(),
    }
}

/// A one-entry cache for the sender address string of a run of datagrams:
/// a flood from one peer costs one string per batch, and formatting it once
/// per thread until the sender changes (it lives with the receive arena).
#[derive(Default)]
pub(crate) struct LastAddress {
    /// The last sender formatted, with its string.
    formatted: Option<(IpAddr, u32, String)>,
    /// The index of that sender in the current batch's table, if there.
    in_table: Option<usize>,
}

impl LastAddress {
    /// Starts a new batch (a new table).
    pub(crate) fn new_batch(&mut self) {
        self.in_table = None;
    }

    /// The index of `addr` in `table`, appending its string when it differs
    /// from the previous datagram's sender.
    pub(crate) fn index(&mut self, addr: &SocketAddr, table: &mut Vec<String>) -> usize {
        let scope = match addr {
            SocketAddr::V6(a) => a.scope_id(),
            SocketAddr::V4(_) => 0,
        };
        let same = matches!(&self.formatted, Some((ip, sc, _)) if *ip == addr.ip() && *sc == scope);
        if same {
            if let Some(idx) = self.in_table.filter(|i| *i < table.len()) {
                return idx;
            }
        } else {
            self.formatted = Some((addr.ip(), scope, to_js(addr)));
        }
        let text = self
            .formatted
            .as_ref()
            .map_or_else(String::new, |(_, _, t)| t.clone());
        table.push(text);
        let idx = table.len() - 1;
        self.in_table = Some(idx);
        idx
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_nul_ends_an_address_as_it_ends_a_c_string() {
        assert_eq!(ip4("127.0.0.1\0junk"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(ip6("::1\0x").map(|(ip, _)| ip), Some(Ipv6Addr::LOCALHOST));
        assert_eq!(ip4("\x00127.0.0.1"), None);
    }

    #[test]
    fn an_ipv6_zone_names_an_interface_and_needs_an_address_before_it() {
        // A number names no interface (libuv on Unix): scope 0.
        assert_eq!(ip6("fe80::1%1"), Some(("fe80::1".parse().unwrap(), 0)));
        assert_eq!(ip6("fe80::1%no-such-interface").map(|(_, s)| s), Some(0));
        assert_eq!(ip6("%lo"), None);
        assert_eq!(ip6("x%lo"), None);
        // IPv4 literals take no zone.
        assert_eq!(ip4("239.1.1.1%lo"), None);
    }

    #[test]
    fn the_address_before_a_zone_is_read_up_to_39_bytes() {
        let long = "0000:0000:0000:0000:0000:ffff:127.100.200.201";
        assert!(ip6(long).is_some());
        assert_eq!(ip6(&format!("{long}%lo")), None);
        assert!(ip6("0000:0000:0000:0000:0000:0000:0000:0001%lo").is_some());
    }
}
