//! Seeded randomness. Every random choice in the generator goes through [`Rng`], a thin wrapper
//! over `ChaCha8Rng` whose sampling helpers are written here (not borrowed from `rand`), so the
//! output stays byte-identical for a given seed even if upstream sampling algorithms change.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A 128-bit identifier rendered as a lower-case GUID (`8-4-4-4-12`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Guid(pub u128);

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Guid {
    /// Appends the 36-character GUID text to `out`.
    pub fn write_to(self, out: &mut Vec<u8>) {
        let bytes = self.0.to_be_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push(b'-');
            }
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        }
    }
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = Vec::with_capacity(36);
        self.write_to(&mut v);
        f.write_str(std::str::from_utf8(&v).map_err(|_| std::fmt::Error)?)
    }
}

/// Deterministic random source.
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A generator for `seed`, on an independent `stream` (streams never overlap).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stream);
        Rng(r)
    }

    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index into a collection of `n` elements.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(hi >= lo);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Index chosen with probability proportional to `weights[i]`.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total.max(1));
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    /// An item chosen with probability proportional to its weight.
    pub fn pick_w<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|i| u64::from(i.1)).sum();
        let mut x = self.below(total.max(1));
        for (item, w) in items {
            if x < u64::from(*w) {
                return item;
            }
            x -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }

    /// A random version-4 GUID.
    pub fn guid(&mut self) -> Guid {
        let hi = u128::from(self.u64());
        let lo = u128::from(self.u64());
        let mut v = (hi << 64) | lo;
        v = (v & !(0xf_u128 << 76)) | (0x4_u128 << 76);
        v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
        Guid(v)
    }

    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.u64().to_le_bytes());
        b[8..].copy_from_slice(&self.u64().to_le_bytes());
        b
    }

    /// `n` characters drawn from `alphabet`.
    pub fn string_from(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[self.index(alphabet.len())]))
            .collect()
    }

    /// `n` lower-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        self.string_from(HEX, n)
    }
}

/// Base32-ish alphabet AWS uses for access key ids.
pub const AWS_KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Upper-case alphanumerics.
pub const ALNUM_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// An AWS access key id with the given four-letter prefix (`AKIA` long-term, `ASIA` temporary).
pub fn aws_key(rng: &mut Rng, prefix: &str) -> String {
    let mut s = String::with_capacity(20);
    s.push_str(prefix);
    s.push_str(&rng.string_from(AWS_KEY_ALPHABET, 16));
    s
}

/// A deterministic 64-bit mix (SplitMix64 finaliser) for hashing small keys without `Hash`.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Standard base64 (with padding) of `data`.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_format_and_determinism() {
        let mut a = Rng::new(7, 1);
        let mut b = Rng::new(7, 1);
        let g = a.guid();
        assert_eq!(g, b.guid());
        let s = g.to_string();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
    }

    #[test]
    fn base64_matches_reference() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(1, 0);
        for n in 1..200 {
            assert!(r.below(n) < n);
        }
    }
}
