//! The entity index: which `(source, bucket)`s hold events that mention an entity.
//!
//! **Why not one sled key per posting.** A key per (entity, source, bucket) is the obvious
//! layout, but events mention about five indexed entities each and most of those postings are
//! distinct (tokens are unique per sign-in; a user rarely appears twice in ten minutes of one
//! source), and sled 0.34 costs about 5 µs per small random-order key on this class of
//! machine (14.7 µs through `apply_batch`): that caps ingest near 40k events/s. So postings
//! are packed:
//!
//! - a posting is `entity hash (u64 BE) | source tag (1) | bucket (8)`, 17 bytes, where the
//!   entity hash is xxh3-64 of `entity type tag | canonical id`;
//! - every batch writes its distinct postings as one **run** per shard, the shard being the
//!   top [`SHARD_BITS`] bits of the entity hash: key `shard (1) | run seq (8 BE)` in the
//!   `by_entity` tree, value `format (1) = 1 | postings sorted`. About 256 sled writes per
//!   batch, whatever its size;
//! - a lookup reads the runs of the entity's shard (a prefix scan), binary-searches each for
//!   the hash and collects the buckets; the reader then decodes those buckets and keeps the
//!   events whose [`entities`](skein_model::Event::entities) include the entity, so a hash
//!   collision costs a wasted decode, never a wrong answer.
//!
//! A lookup reads about `17 × postings / 256` bytes: ≈ 1 MB at 2.5M events. Runs are never
//! merged yet; the follow-up when stores grow past tens of millions of events is to compact a
//! shard's runs into one when they pass a count (one atomic sled batch: write the merged run,
//! remove the inputs). Runs are written before the chunks that they describe commit (see
//! `write`): a run of a batch that never committed only names buckets without matching
//! events, and the retry overwrites it (same seq).

use std::collections::BTreeSet;

use skein_model::Source;

use crate::error::{Result, StoreError};
use crate::keys;

/// Bits of the entity hash that choose a shard.
pub(crate) const SHARD_BITS: u32 = 8;
/// Length of a posting.
const POSTING: usize = 8 + 1 + keys::TIME_LEN;
/// The format byte of a run.
const FORMAT: u8 = 1;

/// The index hash of an entity, from its type tag and canonical id.
pub(crate) fn entity_hash(buf: &mut Vec<u8>, ty_tag: u8, id: &str) -> u64 {
    buf.clear();
    buf.push(ty_tag);
    buf.extend_from_slice(id.as_bytes());
    xxhash_rust::xxh3::xxh3_64(buf)
}

fn shard(hash: u64) -> u8 {
    (hash >> (64 - SHARD_BITS)) as u8
}

/// A posting: entity hash, source tag and bucket.
pub(crate) type Posting = (u64, u8, i64);

/// The runs of one batch: `(key, value)` for each shard that has postings. Sorts and
/// de-duplicates `postings`.
pub(crate) fn runs(postings: &mut Vec<Posting>, seq: u64) -> Vec<([u8; 9], Vec<u8>)> {
    postings.sort_unstable();
    postings.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    while start < postings.len() {
        let s = shard(postings[start].0);
        let mut end = start;
        while end < postings.len() && shard(postings[end].0) == s {
            end += 1;
        }
        let mut value = Vec::with_capacity(1 + (end - start) * POSTING);
        value.push(FORMAT);
        for &(h, tag, bucket) in &postings[start..end] {
            value.extend_from_slice(&h.to_be_bytes());
            value.push(tag);
            value.extend_from_slice(&keys::encode_time(bucket));
        }
        let mut key = [0u8; 9];
        key[0] = s;
        key[1..].copy_from_slice(&seq.to_be_bytes());
        out.push((key, value));
        start = end;
    }
    out
}

/// The `(source, bucket)`s where the entity with index hash `hash` has postings, in order.
pub(crate) fn lookup(tree: &sled::Tree, hash: u64) -> Result<BTreeSet<(Source, i64)>> {
    let mut found = BTreeSet::new();
    let want = hash.to_be_bytes();
    for r in tree.scan_prefix([shard(hash)]) {
        let (k, v) = r.map_err(StoreError::sled("reading the entity index"))?;
        let corrupt = |what: &str| StoreError::corrupt("by_entity", &k, what);
        let (&format, body) = v.split_first().ok_or_else(|| corrupt("empty run"))?;
        if format != FORMAT {
            return Err(corrupt("unknown run format"));
        }
        let (postings, rest) = body.as_chunks::<POSTING>();
        if !rest.is_empty() {
            return Err(corrupt("run is not a whole number of postings"));
        }
        let first = postings.partition_point(|p| p[..8] < want[..]);
        for p in postings[first..].iter().take_while(|p| p[..8] == want[..]) {
            let source = Source::from_tag(p[8]).ok_or_else(|| corrupt("unknown source tag"))?;
            let mut b = [0u8; keys::TIME_LEN];
            b.copy_from_slice(&p[9..]);
            found.insert((source, keys::decode_time(b)));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_found_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("by_entity").unwrap();
        let mut buf = Vec::new();
        let a = entity_hash(&mut buf, 1, "alice");
        let b = entity_hash(&mut buf, 1, "bob");
        let tag = Source::Cloudtrail.tag();
        let mut postings = vec![(a, tag, 600), (b, tag, 0), (a, tag, -600), (a, tag, 600)];
        for (k, v) in runs(&mut postings, 1) {
            tree.insert(k, v).unwrap();
        }
        let mut more = vec![(a, Source::EntraSignin.tag(), 0)];
        for (k, v) in runs(&mut more, 2) {
            tree.insert(k, v).unwrap();
        }
        let got: Vec<_> = lookup(&tree, a).unwrap().into_iter().collect();
        assert_eq!(
            got,
            [
                (Source::EntraSignin, 0),
                (Source::Cloudtrail, -600),
                (Source::Cloudtrail, 600)
            ]
        );
        assert_eq!(lookup(&tree, b).unwrap().len(), 1);
        assert!(lookup(&tree, entity_hash(&mut buf, 2, "alice"))
            .unwrap()
            .is_empty());
    }
}
