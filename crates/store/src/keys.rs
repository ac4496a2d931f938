//! Key encoding of every tree. All keys sort in the order the readers need under sled's
//! lexicographic byte order.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `chunks` | `source tag (1) \| bucket (8) \| chunk seq (8, BE)` | a chunk: events of one source and one bucket, without their raw records (the `chunk` module) |
//! | `chunk_raws` | the `chunks` key | the raw records of that chunk's events (the `chunk` module) |
//! | `chunk_ids` | the `chunks` key | the 16-byte hashes of that chunk's events, in the chunk's order |
//! | `by_entity` | `shard (1) \| run seq (8, BE)` | a run of postings `entity hash \| source \| bucket` (the `index` module) |
//! | `entities` | `'p' \| partition (2, BE)` | packed summaries of the entities whose `entity type tag (1) \| canonical id` key hashes there (the `summary` module) |
//! | `finding_blocks` | block number (8, BE) | up to 64 findings: their ids, rules and digests, then their JSON in zstd (the `finding_blocks` and `findings` modules) |
//! | `finding_heads` | block number (8, BE) | the block's ids, rules and digests alone (its head, as in the block), written and removed with the block |
//! | `changes` | a batch's first chunk seq (8, BE) | what the batch stored, per source (the `changes` module) |
//! | `checkpoints` | a name chosen by the reader (UTF-8) | the reader's bytes (the `changes` module) |
//!
//! `bucket` is the event time floored to [`BUCKET_MICROS`] (10 minutes), encoded like every
//! time: microseconds since the Unix epoch as a big-endian `i64` with its sign bit flipped, so
//! that negative (pre-1970) times sort before positive ones. `chunk seq` is a store-wide
//! counter, so the chunks of one bucket sort in the order they were written.
//!
//! [`escape_into`] is an order-preserving escape of `0x00` (`0x01 0x01`) and `0x01`
//! (`0x01 0x02`) for keys that need a `0x00` terminator after a variable-length id.

use chrono::{DateTime, Utc};
use skein_model::{EntityType, Source};

/// Length of an encoded time.
pub const TIME_LEN: usize = 8;

/// Microseconds since the Unix epoch (rounded down) of `time`. Every `DateTime<Utc>` fits.
pub fn micros(time: &DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// The time at `micros` microseconds since the epoch, `None` outside chrono's range.
pub fn from_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

/// Order-preserving encoding of a signed time: big-endian with the sign bit flipped.
pub fn encode_time(micros: i64) -> [u8; TIME_LEN] {
    ((micros as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`encode_time`].
pub fn decode_time(bytes: [u8; TIME_LEN]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// Reads an encoded time at the start of `bytes`.
fn read_time(bytes: &[u8]) -> Option<i64> {
    let t: [u8; TIME_LEN] = bytes.get(..TIME_LEN)?.try_into().ok()?;
    Some(decode_time(t))
}

/// The prefix of every `events` key of `source`.
pub fn source_prefix(source: Source) -> [u8; 1] {
    [source.tag()]
}

/// Appends `id` to `out`, escaped as described in the module documentation.
pub fn escape_into(out: &mut Vec<u8>, id: &[u8]) {
    for &b in id {
        match b {
            0x00 => out.extend_from_slice(&[0x01, 0x01]),
            0x01 => out.extend_from_slice(&[0x01, 0x02]),
            b => out.push(b),
        }
    }
}

/// Inverse of [`escape_into`]; `None` for a sequence that escaping cannot produce.
pub fn unescape(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut it = bytes.iter();
    while let Some(&b) = it.next() {
        match b {
            0x00 => return None,
            0x01 => match it.next()? {
                0x01 => out.push(0x00),
                0x02 => out.push(0x01),
                _ => return None,
            },
            b => out.push(b),
        }
    }
    Some(out)
}

/// Key of an entity in the `entities` tree.
pub fn entity_key(ty: EntityType, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(ty.tag());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The parts of an `entities` key.
pub fn decode_entity_key(key: &[u8]) -> Option<(EntityType, &str)> {
    let (&tag, id) = key.split_first()?;
    Some((EntityType::from_tag(tag)?, std::str::from_utf8(id).ok()?))
}

/// The smallest key greater than every key that starts with `prefix`, `None` when there is
/// none (the prefix is all `0xff`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Length of a bucket: 10 minutes in microseconds.
pub const BUCKET_MICROS: i64 = 600_000_000;

/// The bucket (start time in microseconds) holding time `micros`.
pub fn bucket_of(micros: i64) -> i64 {
    micros.saturating_sub(micros.rem_euclid(BUCKET_MICROS))
}

/// Length of a `chunks` key.
pub const CHUNK_KEY_LEN: usize = 1 + TIME_LEN + 8;

/// A `chunks` key: source, bucket and the chunk's sequence number.
pub type ChunkKey = [u8; CHUNK_KEY_LEN];

/// The `chunks` key of chunk `seq` of `source` in `bucket`.
pub fn chunk_key(source: Source, bucket: i64, seq: u64) -> ChunkKey {
    let mut k = [0u8; CHUNK_KEY_LEN];
    k[0] = source.tag();
    k[1..1 + TIME_LEN].copy_from_slice(&encode_time(bucket));
    k[1 + TIME_LEN..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The parts of a `chunks` key: source, bucket and sequence number.
pub fn decode_chunk_key(key: &[u8]) -> Option<(Source, i64, u64)> {
    if key.len() != CHUNK_KEY_LEN {
        return None;
    }
    let source = Source::from_tag(key[0])?;
    let bucket = read_time(&key[1..])?;
    let seq = u64::from_be_bytes(key[1 + TIME_LEN..].try_into().ok()?);
    Some((source, bucket, seq))
}

/// The prefix of every chunk of `source` in `bucket` (a `chunks` key without its seq).
pub fn bucket_prefix(source: Source, bucket: i64) -> [u8; 1 + TIME_LEN] {
    let mut k = [0u8; 1 + TIME_LEN];
    k[0] = source.tag();
    k[1..].copy_from_slice(&encode_time(bucket));
    k
}

/// Key bounds `[lower, upper)` under `prefix` (followed by an encoded bucket) of every bucket
/// that may hold times in `[from, to)`. Readers filter on the exact time as well.
pub fn bucket_bounds(
    prefix: &[u8],
    from: Option<&DateTime<Utc>>,
    to: Option<&DateTime<Utc>>,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut lower = prefix.to_vec();
    if let Some(from) = from {
        lower.extend_from_slice(&encode_time(bucket_of(micros(from))));
    }
    let upper = match to {
        Some(to) => {
            let mut u = prefix.to_vec();
            u.extend_from_slice(&encode_time(bucket_of(micros(to)).saturating_add(1)));
            Some(u)
        }
        None => prefix_end(prefix),
    };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_encoding_orders_negative_before_positive() {
        let values = [i64::MIN, -1_000_000, -1, 0, 1, 1_000_000, i64::MAX];
        for w in values.windows(2) {
            assert!(encode_time(w[0]) < encode_time(w[1]), "{w:?}");
            assert_eq!(decode_time(encode_time(w[0])), w[0]);
        }
    }

    #[test]
    fn escaping_round_trips_and_keeps_the_terminator_unique() {
        let id = b"a\x00b\x01c\x02";
        let mut e = Vec::new();
        escape_into(&mut e, id);
        assert!(!e.contains(&0));
        assert_eq!(unescape(&e).as_deref(), Some(&id[..]));
        assert_eq!(unescape(b"\x01\x03"), None);
        assert_eq!(unescape(b"\x01"), None);
    }

    #[test]
    fn prefix_end_skips_ff() {
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
        assert_eq!(prefix_end(&[3, 0]), Some(vec![3, 1]));
    }

    #[test]
    fn buckets_floor_to_ten_minutes() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(BUCKET_MICROS - 1), 0);
        assert_eq!(bucket_of(BUCKET_MICROS), BUCKET_MICROS);
        assert_eq!(bucket_of(-1), -BUCKET_MICROS);
        assert!(bucket_of(i64::MIN) <= i64::MIN + BUCKET_MICROS);
        assert_eq!(bucket_of(i64::MAX) % BUCKET_MICROS, 0);
    }

    #[test]
    fn chunk_keys_decode() {
        let k = chunk_key(Source::StorageBlob, -BUCKET_MICROS, 7);
        assert_eq!(
            decode_chunk_key(&k),
            Some((Source::StorageBlob, -BUCKET_MICROS, 7))
        );
        assert!(k.starts_with(&bucket_prefix(Source::StorageBlob, -BUCKET_MICROS)));
        assert_eq!(decode_chunk_key(&[9, 0]), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn source() -> impl Strategy<Value = Source> {
            prop::sample::select(Source::ALL.to_vec())
        }

        proptest! {
            #[test]
            fn time_encoding_round_trips_and_keeps_order(a in any::<i64>(), b in any::<i64>()) {
                prop_assert_eq!(decode_time(encode_time(a)), a);
                prop_assert_eq!(a.cmp(&b), encode_time(a).cmp(&encode_time(b)));
            }

            #[test]
            fn chunk_keys_round_trip_and_sort_by_source_bucket_seq(
                s1 in source(), b1 in any::<i64>(), q1 in any::<u64>(),
                s2 in source(), b2 in any::<i64>(), q2 in any::<u64>(),
            ) {
                let k1 = chunk_key(s1, b1, q1);
                let k2 = chunk_key(s2, b2, q2);
                prop_assert_eq!(decode_chunk_key(&k1), Some((s1, b1, q1)));
                prop_assert_eq!(k1.cmp(&k2), (s1.tag(), b1, q1).cmp(&(s2.tag(), b2, q2)));
            }

            #[test]
            fn escaping_round_trips_and_keeps_order(a in any::<Vec<u8>>(), b in any::<Vec<u8>>()) {
                let (mut ea, mut eb) = (Vec::new(), Vec::new());
                escape_into(&mut ea, &a);
                escape_into(&mut eb, &b);
                prop_assert!(!ea.contains(&0));
                prop_assert_eq!(unescape(&ea), Some(a.clone()));
                prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
            }

            #[test]
            fn bucket_bounds_contain_every_bucket_of_the_range(
                from in -10_000_000_000i64..10_000_000_000,
                to in -10_000_000_000i64..10_000_000_000,
                t in -10_000_000_000i64..10_000_000_000,
            ) {
                let dt = |m: i64| from_micros(m).unwrap();
                let p = source_prefix(Source::Cloudtrail);
                let key = chunk_key(Source::Cloudtrail, bucket_of(t), 3);
                let (lower, upper) = bucket_bounds(&p, Some(&dt(from)), Some(&dt(to)));
                let inside = key.as_slice() >= lower.as_slice()
                    && upper.as_ref().is_none_or(|u| key.as_slice() < u.as_slice());
                if from <= t && t < to {
                    prop_assert!(inside);
                }
            }
        }
    }
}
