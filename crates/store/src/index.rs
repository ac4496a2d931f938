//! The entity index: which chunks hold events that mention an entity.
//!
//! **Why not one sled key per posting.** A key per (entity, source, bucket) is the obvious
//! layout, but events mention about five indexed entities each and most of those postings are
//! distinct (tokens are unique per sign-in; a user rarely appears twice in ten minutes of one
//! source), and sled 0.34 costs about 5 µs per small random-order key on this class of
//! machine (14.7 µs through `apply_batch`): that caps ingest near 40k events/s. So postings
//! are packed:
//!
//! - a posting is `entity hash (u64 BE) | source tag (1) | bucket (8) | chunk seq (u64 BE)`,
//!   25 bytes — the key of the chunk holding the event — where the entity hash is xxh3-64 of
//!   `entity type tag | canonical id`. (Format 1, written before format 2, had no chunk seq:
//!   such a posting names the whole bucket, read as it is. Naming the chunk matters because a
//!   bucket of a busy source is a dozen chunks: reading an address's events read ten times
//!   the chunks that hold them.);
//! - every batch writes its distinct postings as one **run** per shard, the shard being the
//!   top [`SHARD_BITS`] bits of the entity hash: key `shard (1) | run seq (8 BE)` in the
//!   `by_entity` tree, value `format (1) = 2 | postings sorted`. About 256 sled writes per
//!   batch, whatever its size;
//! - a lookup reads the runs of the entity's shard (a prefix scan), binary-searches each for
//!   the hash and collects the chunks; the reader then decodes those chunks and keeps the
//!   events that [mention](skein_model::Event::mentions) the entity, so a hash collision
//!   costs a wasted decode, never a wrong answer.
//!
//! A lookup reads about `25 × postings / 256` bytes: ≈ 1.5 MB at 2.5M events. Runs are never
//! merged yet; the follow-up when stores grow past tens of millions of events is to compact a
//! shard's runs into one when they pass a count (one atomic sled batch: write the merged run,
//! remove the inputs). Runs are written before the chunks that they describe commit (see
//! `write`): a run of a batch that never committed only names chunks without matching
//! events, and the retry overwrites it (same seq).

use std::collections::{BTreeMap, BTreeSet};

use skein_model::Source;

use crate::error::{Result, StoreError};
use crate::keys;

/// Bits of the entity hash that choose a shard.
pub(crate) const SHARD_BITS: u32 = 8;
/// Length of a posting of format 1 (no chunk seq: the whole bucket).
const BUCKET_POSTING: usize = 8 + 1 + keys::TIME_LEN;
/// Length of a posting of format 2.
const CHUNK_POSTING: usize = BUCKET_POSTING + 8;
/// The format byte of a run of bucket postings (read, no longer written).
const FORMAT_BUCKETS: u8 = 1;
/// The format byte of a run of chunk postings.
const FORMAT_CHUNKS: u8 = 2;

/// The index hash of an entity, from its type tag and canonical id.
pub(crate) fn entity_hash(buf: &mut Vec<u8>, ty_tag: u8, id: &str) -> u64 {
    buf.clear();
    buf.push(ty_tag);
    buf.extend_from_slice(id.as_bytes());
    xxhash_rust::xxh3::xxh3_64(buf)
}

/// The shard of an entity hash (its top [`SHARD_BITS`] bits).
pub(crate) fn shard(hash: u64) -> u8 {
    (hash >> (64 - SHARD_BITS)) as u8
}

/// A posting: entity hash, source tag, bucket and chunk seq.
pub(crate) type Posting = (u64, u8, i64, u64);

/// What a lookup found, by `(source, bucket)`: the seqs of the chunks to read, or `None` for
/// every chunk of the bucket (a format-1 posting).
pub(crate) type Found = BTreeMap<(Source, i64), Option<BTreeSet<u64>>>;

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
        let mut value = Vec::with_capacity(1 + (end - start) * CHUNK_POSTING);
        value.push(FORMAT_CHUNKS);
        for &(h, tag, bucket, chunk) in &postings[start..end] {
            value.extend_from_slice(&h.to_be_bytes());
            value.push(tag);
            value.extend_from_slice(&keys::encode_time(bucket));
            value.extend_from_slice(&chunk.to_be_bytes());
        }
        let mut key = [0u8; 9];
        key[0] = s;
        key[1..].copy_from_slice(&seq.to_be_bytes());
        out.push((key, value));
        start = end;
    }
    out
}

/// The chunks where the entity with index hash `hash` has postings.
pub(crate) fn lookup(tree: &sled::Tree, hash: u64) -> Result<Found> {
    let mut found = Found::new();
    for r in tree.scan_prefix([shard(hash)]) {
        let (k, v) = r.map_err(StoreError::sled("reading the entity index"))?;
        let corrupt = |what: &str| StoreError::corrupt("by_entity", &k, what);
        match v.split_first() {
            Some((&FORMAT_CHUNKS, body)) => {
                collect::<CHUNK_POSTING>(body, hash, &mut found).map_err(corrupt)?;
            }
            Some((&FORMAT_BUCKETS, body)) => {
                collect::<BUCKET_POSTING>(body, hash, &mut found).map_err(corrupt)?;
            }
            Some(_) => return Err(corrupt("unknown run format")),
            None => return Err(corrupt("empty run")),
        }
    }
    Ok(found)
}

/// Adds the postings of `hash` in a run's sorted postings of `LEN` bytes to `found`.
fn collect<const LEN: usize>(
    body: &[u8],
    hash: u64,
    found: &mut Found,
) -> std::result::Result<(), &'static str> {
    let want = hash.to_be_bytes();
    let (postings, rest) = body.as_chunks::<LEN>();
    if !rest.is_empty() {
        return Err("run is not a whole number of postings");
    }
    let first = postings.partition_point(|p| p[..8] < want[..]);
    for p in postings[first..].iter().take_while(|p| p[..8] == want[..]) {
        let source = Source::from_tag(p[8]).ok_or("unknown source tag")?;
        let mut b = [0u8; keys::TIME_LEN];
        b.copy_from_slice(&p[9..9 + keys::TIME_LEN]);
        let chunk = p
            .get(BUCKET_POSTING..)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map(u64::from_be_bytes);
        let entry = found
            .entry((source, keys::decode_time(b)))
            .or_insert_with(|| Some(BTreeSet::new()));
        match (entry, chunk) {
            (Some(seqs), Some(seq)) => {
                seqs.insert(seq);
            }
            // A bucket posting: every chunk of the bucket.
            (entry, None) => *entry = None,
            (None, Some(_)) => {}
        }
    }
    Ok(())
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
        let mut postings = vec![
            (a, tag, 600, 3),
            (b, tag, 0, 1),
            (a, tag, -600, 1),
            (a, tag, 600, 3),
            (a, tag, 600, 5),
        ];
        for (k, v) in runs(&mut postings, 1) {
            tree.insert(k, v).unwrap();
        }
        let mut more = vec![(a, Source::EntraSignin.tag(), 0, 9)];
        for (k, v) in runs(&mut more, 9) {
            tree.insert(k, v).unwrap();
        }
        let got: Vec<_> = lookup(&tree, a).unwrap().into_iter().collect();
        let seqs = |s: &[u64]| Some(s.iter().copied().collect::<BTreeSet<u64>>());
        assert_eq!(
            got,
            [
                ((Source::EntraSignin, 0), seqs(&[9])),
                ((Source::Cloudtrail, -600), seqs(&[1])),
                ((Source::Cloudtrail, 600), seqs(&[3, 5]))
            ]
        );
        assert_eq!(lookup(&tree, b).unwrap().len(), 1);
        assert!(lookup(&tree, entity_hash(&mut buf, 2, "alice"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_run_of_bucket_postings_from_an_older_state_names_whole_buckets() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("by_entity").unwrap();
        let a = entity_hash(&mut Vec::new(), 1, "alice");
        let tag = Source::Cloudtrail.tag();
        // Format 1, as written before chunk postings: hash | tag | bucket.
        let mut old = vec![FORMAT_BUCKETS];
        for bucket in [0i64, 600] {
            old.extend_from_slice(&a.to_be_bytes());
            old.push(tag);
            old.extend_from_slice(&keys::encode_time(bucket));
        }
        let mut key = [0u8; 9];
        key[0] = shard(a);
        tree.insert(key, old).unwrap();
        for (k, v) in runs(&mut vec![(a, tag, 600, 7), (a, tag, 1200, 8)], 2) {
            tree.insert(k, v).unwrap();
        }
        let got: Vec<_> = lookup(&tree, a).unwrap().into_iter().collect();
        assert_eq!(
            got,
            [
                ((Source::Cloudtrail, 0), None),
                ((Source::Cloudtrail, 600), None),
                ((Source::Cloudtrail, 1200), Some(BTreeSet::from([8])))
            ],
            "a bucket named by an old run is read whole"
        );
        tree.insert([key[0], 0, 0, 0, 0, 0, 0, 0, 9], vec![2u8, 1, 2, 3])
            .unwrap();
        let err = lookup(&tree, a).unwrap_err().to_string();
        assert!(err.contains("whole number of postings"), "{err}");
    }
}
