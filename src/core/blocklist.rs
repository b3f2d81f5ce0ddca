//! The receive side of `receiveBlockList`: a `net.BlockList`'s rules as
//! ranges of addresses, checked for every datagram read (on the JS thread
//! or by read-ahead), so that blocked datagrams are dropped before they
//! cost JS anything.
//!
//! JS hands over the list's `rules` strings (`"Address: IPv4 10.0.0.1"`,
//! `"Range: IPv6 ::1-::9"`, `"Subnet: IPv4 10.0.0.0/8"`) and re-sends them
//! whenever the list changes. Addresses are compared as 128-bit numbers
//! with IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), which is how
//! `BlockList.check` matches across families: an IPv4 rule blocks
//! `::ffff:` senders on a dual-stack socket, and `::/0` blocks everything.
//! One exception, also
//! Node's: an IPv6 range whose ends are not both IPv4-mapped never matches
//! an IPv4 sender (the addresses are "not comparable" there).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An inclusive range of blocked addresses.
#[derive(Debug, Clone, Copy)]
struct Range {
    lo: u128,
    hi: u128,
    /// Whether IPv4 senders can match it.
    ipv4: bool,
}

#[derive(Debug, Default)]
pub(crate) struct BlockList {
    ranges: Vec<Range>,
}

impl BlockList {
    /// Parses the rules of a `net.BlockList`; `None` if one of them is in a
    /// form this version does not know (JS then filters by itself).
    pub(crate) fn parse(rules: &[String]) -> Option<Self> {
        let ranges = rules
            .iter()
            .map(|r| parse_rule(r))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { ranges })
    }

    pub(crate) fn blocks(&self, ip: IpAddr) -> bool {
        let v4 = ip.is_ipv4();
        let k = key(ip);
        self.ranges
            .iter()
            .any(|r| r.lo <= k && k <= r.hi && (r.ipv4 || !v4))
    }
}

fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Parses an address of the rule's family (`IPv4` / `IPv6`) to its key.
fn parse_ip(family: &str, s: &str) -> Option<u128> {
    match family {
        "IPv4" => s.parse::<Ipv4Addr>().ok().map(|a| key(a.into())),
        "IPv6" => s.parse::<Ipv6Addr>().ok().map(|a| key(a.into())),
        _ => None,
    }
}

/// Whether a key is an IPv4(-mapped) address.
fn is_v4(k: u128) -> bool {
    k >> 32 == 0xffff
}

fn parse_rule(rule: &str) -> Option<Range> {
    let (kind, rest) = rule.split_once(": ")?;
    let (family, spec) = rest.split_once(' ')?;
    let (lo, hi) = match kind {
        "Address" => {
            let a = parse_ip(family, spec)?;
            (a, a)
        }
        "Range" => {
            let (lo, hi) = spec.split_once('-')?;
            let (lo, hi) = (parse_ip(family, lo)?, parse_ip(family, hi)?);
            return Some(Range {
                lo,
                hi,
                ipv4: is_v4(lo) && is_v4(hi),
            });
        }
        "Subnet" => {
            let (net, prefix) = spec.rsplit_once('/')?;
            let prefix: u32 = prefix.parse().ok()?;
            // An IPv4 prefix counts within the mapped range's last 32 bits.
            let prefix = match family {
                "IPv4" if prefix <= 32 => prefix + 96,
                "IPv6" if prefix <= 128 => prefix,
                _ => return None,
            };
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            let start = parse_ip(family, net)? & mask;
            (start, start | !mask)
        }
        _ => return None,
    };
    Some(Range { lo, hi, ipv4: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(rules: &[&str]) -> BlockList {
        let rules: Vec<String> = rules.iter().map(|s| s.to_string()).collect();
        BlockList::parse(&rules).unwrap_or_default()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn matches_like_net_blocklist() {
        let l = list(&[
            "Address: IPv4 127.0.0.2",
            "Range: IPv4 127.0.1.1-127.0.1.5",
            "Subnet: IPv4 127.1.0.0/16",
            "Subnet: IPv6 fe80::/10",
            "Range: IPv6 ::2-::9",
        ]);
        for yes in [
            "127.0.0.2",
            "::ffff:127.0.0.2",
            "127.0.1.3",
            "127.1.200.7",
            "::ffff:127.1.0.1",
            "fe80::1",
            "::5",
        ] {
            assert!(l.blocks(ip(yes)), "{yes}");
        }
        for no in ["127.0.0.1", "127.0.1.6", "127.2.0.0", "::1", "::a"] {
            assert!(!l.blocks(ip(no)), "{no}");
        }
        // ::/0 covers IPv4 too; 0.0.0.0/0 only IPv4 (and mapped) addresses.
        assert!(list(&["Subnet: IPv6 ::/0"]).blocks(ip("1.2.3.4")));
        assert!(!list(&["Subnet: IPv4 0.0.0.0/0"]).blocks(ip("::1")));
        assert!(list(&["Subnet: IPv4 0.0.0.0/0"]).blocks(ip("::ffff:1.2.3.4")));
        assert!(BlockList::parse(&["Port: IPv4 1".to_string()]).is_none());
        // An IPv6 range with a non-mapped end: not for IPv4 senders.
        let r = list(&["Range: IPv6 ::-::ffff:255.255.255.255"]);
        assert!(!r.blocks(ip("127.0.0.3")));
        assert!(r.blocks(ip("::ffff:127.0.0.3")));
        assert!(list(&["Range: IPv6 ::ffff:127.0.0.1-::ffff:127.0.0.5"]).blocks(ip("127.0.0.3")));
    }
}
