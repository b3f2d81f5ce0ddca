//! A hasher for the small integer keys of per-thread tables (tokens,
//! ports, pointers): one multiply and a fold. The standard SipHash guards
//! against keys chosen by an attacker, which these are not (we make them),
//! and cost more per socket than the rest of a table lookup. A leaf module:
//! every layer may use it.

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64((self.0 << 8) | u64::from(*b));
        }
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing; the fold brings the product's high bits, which
        // depend on every bit of `n`, down to the low bits that pick a
        // bucket (pointers and ports differ mostly in their middle bits).
        let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

pub(crate) type IntMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<IntHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_pointers_and_ports_spread_over_buckets() {
        let bucket = |n: u64| {
            let mut h = IntHasher::default();
            h.write_u64(n);
            h.finish() & 63
        };
        let ptrs: std::collections::HashSet<u64> = (0..64u64)
            .map(|i| bucket(0x5555_0000_1000 + i * 64))
            .collect();
        let ports: std::collections::HashSet<u64> = (0..64u64).map(|i| bucket(40000 + i)).collect();
        assert!(ptrs.len() > 32, "{} buckets", ptrs.len());
        assert!(ports.len() > 32, "{} buckets", ports.len());
    }
}
