//! Key encoding of every tree. All keys sort in the order the readers need under sled's
//! lexicographic byte order.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `events` | `source tag (1) \| time (8) \| event id` | postcard-encoded [`Event`](skein_model::Event) |
//! | `ids` | `source tag (1) \| event id` | the `events` key (the de-duplication index) |
//! | `by_entity` | `entity type tag (1) \| escaped entity id \| 0x00 \| time (8) \| source tag (1) \| event id` | empty |
//! | `entities` | `entity type tag (1) \| entity id` | [`EntitySummary`](crate::EntitySummary), 24 bytes |
//!
//! `time` is the event time in microseconds since the Unix epoch as a big-endian `i64` with
//! its sign bit flipped, so that negative (pre-1970) times sort before positive ones.
//!
//! In `by_entity` the entity id is followed by a `0x00` terminator, so that the id `ab` does
//! not share a prefix with the id `abc`. To keep the terminator unambiguous, the id is escaped
//! in an order-preserving way: `0x00` becomes `0x01 0x01` and `0x01` becomes `0x01 0x02`;
//! every other byte is kept.

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

/// Key of an event in the `events` tree.
pub fn event_key(source: Source, micros: i64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + TIME_LEN + id.len());
    k.push(source.tag());
    k.extend_from_slice(&encode_time(micros));
    k.extend_from_slice(id.as_bytes());
    k
}

/// The parts of an `events` key: source, time in microseconds and the id bytes.
pub fn decode_event_key(key: &[u8]) -> Option<(Source, i64, &[u8])> {
    let (&tag, rest) = key.split_first()?;
    let source = Source::from_tag(tag)?;
    let t = read_time(rest)?;
    Some((source, t, &rest[TIME_LEN..]))
}

/// Key of an event in the `ids` tree.
pub fn id_key(source: Source, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(source.tag());
    k.extend_from_slice(id.as_bytes());
    k
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

/// The prefix of every `by_entity` key of one entity (ends with the `0x00` terminator).
pub fn entity_index_prefix(ty: EntityType, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + id.len() + TIME_LEN + 1 + 40);
    k.push(ty.tag());
    escape_into(&mut k, id.as_bytes());
    k.push(0x00);
    k
}

/// Key of one event in the `by_entity` index.
pub fn by_entity_key(
    ty: EntityType,
    entity_id: &str,
    micros: i64,
    source: Source,
    event_id: &str,
) -> Vec<u8> {
    let mut k = entity_index_prefix(ty, entity_id);
    k.extend_from_slice(&encode_time(micros));
    k.push(source.tag());
    k.extend_from_slice(event_id.as_bytes());
    k
}

/// The event that a `by_entity` key points at, given the length of the entity's prefix:
/// its time, source and id bytes.
pub fn decode_by_entity_suffix(key: &[u8], prefix_len: usize) -> Option<(i64, Source, &[u8])> {
    let rest = key.get(prefix_len..)?;
    let t = read_time(rest)?;
    let (&tag, id) = rest[TIME_LEN..].split_first()?;
    Some((t, Source::from_tag(tag)?, id))
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

/// Key bounds `[lower, upper)` for the time range `[from, to)` under `prefix`. The bounds
/// are in whole microseconds and may include events up to a microsecond outside the range,
/// so readers filter on the exact time as well.
pub fn time_bounds(
    prefix: &[u8],
    from: Option<&DateTime<Utc>>,
    to: Option<&DateTime<Utc>>,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut lower = prefix.to_vec();
    if let Some(from) = from {
        lower.extend_from_slice(&encode_time(micros(from)));
    }
    let upper = match to {
        Some(to) => {
            let mut u = prefix.to_vec();
            u.extend_from_slice(&encode_time(micros(to).saturating_add(1)));
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
    fn entity_prefixes_do_not_overlap() {
        let ab = entity_index_prefix(EntityType::User, "ab");
        let abc = by_entity_key(EntityType::User, "abc", 0, Source::Cloudtrail, "x");
        assert!(!abc.starts_with(&ab));
        let k = by_entity_key(EntityType::User, "ab", -5, Source::Cloudtrail, "x");
        assert!(k.starts_with(&ab));
        assert_eq!(
            decode_by_entity_suffix(&k, ab.len()),
            Some((-5, Source::Cloudtrail, &b"x"[..]))
        );
    }

    #[test]
    fn prefix_end_skips_ff() {
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
        assert_eq!(prefix_end(&[3, 0]), Some(vec![3, 1]));
    }

    #[test]
    fn event_keys_decode() {
        let k = event_key(Source::StorageBlob, -42, "id-1");
        assert_eq!(
            decode_event_key(&k),
            Some((Source::StorageBlob, -42, &b"id-1"[..]))
        );
        assert_eq!(decode_event_key(&[9, 0]), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn source() -> impl Strategy<Value = Source> {
            prop::sample::select(Source::ALL.to_vec())
        }

        fn entity_type() -> impl Strategy<Value = EntityType> {
            prop::sample::select(EntityType::ALL.to_vec())
        }

        proptest! {
            #[test]
            fn time_encoding_round_trips_and_keeps_order(a in any::<i64>(), b in any::<i64>()) {
                prop_assert_eq!(decode_time(encode_time(a)), a);
                prop_assert_eq!(a.cmp(&b), encode_time(a).cmp(&encode_time(b)));
            }

            #[test]
            fn event_keys_round_trip_and_sort_by_source_then_time(
                s1 in source(), t1 in any::<i64>(), id1 in ".{0,20}",
                s2 in source(), t2 in any::<i64>(), id2 in ".{0,20}",
            ) {
                let k1 = event_key(s1, t1, &id1);
                let k2 = event_key(s2, t2, &id2);
                prop_assert_eq!(decode_event_key(&k1), Some((s1, t1, id1.as_bytes())));
                if (s1.tag(), t1) != (s2.tag(), t2) {
                    prop_assert_eq!(k1.cmp(&k2), (s1.tag(), t1).cmp(&(s2.tag(), t2)));
                }
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
            fn entity_index_keys_group_by_entity_then_time(
                ty in entity_type(), id in any::<String>(), other in any::<String>(),
                t1 in any::<i64>(), t2 in any::<i64>(), s in source(), ev in ".{0,20}",
            ) {
                let prefix = entity_index_prefix(ty, &id);
                let k1 = by_entity_key(ty, &id, t1, s, &ev);
                let k2 = by_entity_key(ty, &id, t2, s, &ev);
                prop_assert!(k1.starts_with(&prefix));
                prop_assert_eq!(
                    decode_by_entity_suffix(&k1, prefix.len()),
                    Some((t1, s, ev.as_bytes()))
                );
                if t1 != t2 {
                    prop_assert_eq!(k1.cmp(&k2), t1.cmp(&t2));
                }
                if other != id {
                    let k3 = by_entity_key(ty, &other, t1, s, &ev);
                    prop_assert!(!k3.starts_with(&prefix));
                }
                let (lower, upper) = time_bounds(&prefix, None, None);
                prop_assert!(k1 >= lower);
                prop_assert!(upper.is_none_or(|u| k1 < u));
            }

            #[test]
            fn time_bounds_contain_exactly_the_range(
                from in -10_000i64..10_000, to in -10_000i64..10_000, t in -10_000i64..10_000,
            ) {
                let dt = |m: i64| from_micros(m).unwrap();
                let p = source_prefix(Source::Cloudtrail);
                let key = event_key(Source::Cloudtrail, t, "id");
                let (lower, upper) = time_bounds(&p, Some(&dt(from)), Some(&dt(to)));
                let inside = key >= lower && upper.as_ref().is_none_or(|u| key < *u);
                // Bounds are coarse by at most one microsecond at the top.
                prop_assert_eq!(inside, from <= t && t <= to);
            }
        }
    }
}
