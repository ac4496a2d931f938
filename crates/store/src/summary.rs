//! Stored entity summaries: hash partitions of the `entities` tree.
//!
//! Summaries are kept in memory by the writer ([`crate::state`]) and written back as
//! [`PARTITIONS`] packed values rather than one sled key per entity: sled 0.34 costs about
//! 5 µs per small key, and an atomic batch of 100k+ keys holds every replaced node until it
//! ends (hundreds of MB). A partition holds every entity whose `entities` key hashes to it:
//!
//! ```text
//! key   'p' | partition (u16 BE)
//! value format (1) = 1 | applied seq (u64 BE) | entries sorted by key:
//!       key length (u16 LE) | entities key (type tag | canonical id) | span (24)
//! ```
//!
//! `applied seq`: the partition includes every chunk whose seq is below it. After writing the
//! dirty partitions the writer sets the tree-wide mark `\0applied` (same meaning, for every
//! partition). Loading replays each chunk at or above the mark into the partitions that do not
//! include it yet, so a crash between any two of these writes neither loses nor doubles a
//! count.
//!
//! Tokens have no summaries (about one per sign-in, see `write`).

use std::collections::HashMap;

use crate::error::{Result, StoreError};
use crate::stats::{decode_u64, Span, SPAN_LEN};

/// Number of partitions.
pub(crate) const PARTITIONS: usize = 4096;
/// Prefix of every partition key.
pub(crate) const PARTITION_PREFIX: &[u8] = b"p";
/// Key of the tree-wide applied mark, `u64` big-endian.
pub(crate) const APPLIED: &[u8] = b"\0applied";
const FORMAT: u8 = 1;

/// The partition of an `entities` key.
pub(crate) fn partition(key: &[u8]) -> u16 {
    (xxhash_rust::xxh3::xxh3_64(key) % PARTITIONS as u64) as u16
}

pub(crate) fn partition_key(p: u16) -> [u8; 3] {
    let b = p.to_be_bytes();
    [PARTITION_PREFIX[0], b[0], b[1]]
}

pub(crate) fn decode_partition_key(key: &[u8]) -> Option<u16> {
    match key {
        [b'p', hi, lo] => {
            Some(u16::from_be_bytes([*hi, *lo])).filter(|&p| (p as usize) < PARTITIONS)
        }
        _ => None,
    }
}

/// The value of a partition holding `entries`, including chunks below `applied`.
pub(crate) fn encode_partition(applied: u64, entries: &HashMap<Vec<u8>, Span>) -> Vec<u8> {
    let mut sorted: Vec<(&Vec<u8>, &Span)> = entries.iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut v = Vec::with_capacity(9 + entries.len() * (2 + 40 + SPAN_LEN));
    v.push(FORMAT);
    v.extend_from_slice(&applied.to_be_bytes());
    for (k, s) in sorted {
        // Entity ids longer than 64 KiB are cut (they cannot occur in real logs).
        let k = &k[..k.len().min(u16::MAX as usize)];
        v.extend_from_slice(&(k.len() as u16).to_le_bytes());
        v.extend_from_slice(k);
        v.extend_from_slice(&s.encode());
    }
    v
}

/// Entries of a partition: `entities` key and summary.
pub(crate) type Entries = Vec<(Vec<u8>, Span)>;

/// Decodes the partition stored under `key`: its applied seq and entries, in key order.
pub(crate) fn decode_partition(key: &[u8], value: &[u8]) -> Result<(u64, Entries)> {
    let corrupt = |what: &str| StoreError::corrupt("entities", key, what);
    let (&format, rest) = value
        .split_first()
        .ok_or_else(|| corrupt("empty partition"))?;
    if format != FORMAT {
        return Err(corrupt("unknown partition format"));
    }
    let applied = rest
        .get(..8)
        .and_then(decode_u64)
        .ok_or_else(|| corrupt("partition header is short"))?;
    let mut rest = &rest[8..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = rest
            .get(..2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or_else(|| corrupt("truncated entry"))?;
        let k = rest
            .get(2..2 + len)
            .ok_or_else(|| corrupt("truncated entry"))?;
        let span = rest
            .get(2 + len..2 + len + SPAN_LEN)
            .and_then(Span::decode)
            .ok_or_else(|| corrupt("truncated entry"))?;
        out.push((k.to_vec(), span));
        rest = &rest[2 + len + SPAN_LEN..];
    }
    Ok((applied, out))
}

/// The tree-wide applied mark (0 when never written).
pub(crate) fn applied(tree: &sled::Tree) -> Result<u64> {
    match tree
        .get(APPLIED)
        .map_err(StoreError::sled("reading entity summaries"))?
    {
        None => Ok(0),
        Some(v) => decode_u64(&v)
            .ok_or_else(|| StoreError::corrupt("entities", APPLIED, "mark is not 8 bytes")),
    }
}

/// The stored summary of the entity with `entities` key `key`.
pub(crate) fn get(tree: &sled::Tree, key: &[u8]) -> Result<Option<Span>> {
    let pk = partition_key(partition(key));
    let Some(v) = tree
        .get(pk)
        .map_err(StoreError::sled("reading entity summaries"))?
    else {
        return Ok(None);
    };
    let (_, entries) = decode_partition(&pk, &v)?;
    Ok(entries
        .binary_search_by(|(k, _)| k.as_slice().cmp(key))
        .ok()
        .map(|i| entries[i].1))
}

/// Every stored summary whose key starts with `prefix`, in key order (reads every partition).
pub(crate) fn with_prefix(tree: &sled::Tree, prefix: &[u8]) -> Result<Entries> {
    let mut out = Vec::new();
    for r in tree.scan_prefix(PARTITION_PREFIX) {
        let (k, v) = r.map_err(StoreError::sled("reading entity summaries"))?;
        let (_, entries) = decode_partition(&k, &v)?;
        out.extend(entries.into_iter().filter(|(k, _)| k.starts_with(prefix)));
    }
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Distinct stored entities per type tag (index = tag; reads every partition).
pub(crate) fn counts(tree: &sled::Tree) -> Result<[u64; 16]> {
    let mut counts = [0u64; 16];
    for r in tree.scan_prefix(PARTITION_PREFIX) {
        let (k, v) = r.map_err(StoreError::sled("reading entity summaries"))?;
        for (key, _) in decode_partition(&k, &v)?.1 {
            if let Some(c) = key.first().and_then(|&t| counts.get_mut(t as usize)) {
                *c += 1;
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_round_trip() {
        let mut m = HashMap::new();
        m.insert(b"\x01bob".to_vec(), Span::one(5));
        m.insert(b"\x01alice".to_vec(), Span::one(-5));
        let v = encode_partition(42, &m);
        let (applied, entries) = decode_partition(b"p", &v).unwrap();
        assert_eq!(applied, 42);
        assert_eq!(
            entries,
            [
                (b"\x01alice".to_vec(), Span::one(-5)),
                (b"\x01bob".to_vec(), Span::one(5))
            ]
        );
        assert!(decode_partition(b"p", &v[..v.len() - 1]).is_err());
        assert!(decode_partition(b"p", &[2]).is_err());
        assert_eq!(decode_partition_key(&partition_key(4095)), Some(4095));
        assert_eq!(decode_partition_key(b"p\xff\xff"), None);
    }
}
