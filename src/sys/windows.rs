//! Windows helpers: disconnecting a UDP socket and numeric scope ids.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// Windows dissolves a UDP association by connecting to the any-address.
pub(crate) fn disconnect(sock: &tokio::net::UdpSocket) -> io::Result<()> {
    let any: SocketAddr = match sock.local_addr()? {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    socket2::SockRef::from(sock).connect(&any.into())
}

/// Windows reports scope ids as numbers (`fe80::1%2`), as Node does there.
pub(crate) fn interface_name(index: u32) -> String {
    index.to_string()
}

/// Only numeric scope ids are understood on Windows.
pub(crate) fn interface_index(name: &str) -> u32 {
    name.parse().unwrap_or(0)
}
