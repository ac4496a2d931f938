//! Sorting a correlation's signals into [`Signal::order`] through a small key per signal.
//!
//! Sorting the signals themselves moved ~140-byte values and, for every comparison of two
//! signals of one second, read both event ids through their texts' pointers (a cache miss
//! each): ~0.3 CPU-s of a full correlate of the bench's 2.14M signals. The keys hold what
//! decides almost every comparison (the time, the source, the id's first eight bytes and,
//! up to eight, its length, and the slot) in 32 bytes, with the signal's position; ids are
//! read whole only when both are longer than eight bytes and their first eight are equal.
//! (An absence's partners, 1.34M of the bench's 2.14M signals, have empty ids: comparing
//! those whole was ~3% of a full correlate's CPU in a profile.) The signals are then put in
//! the keys' order by following the permutation's cycles (one swap per signal), as
//! `slice::sort_by_cached_key` does.

use skein_model::Source;

use super::{id_head, Signal};

/// What orders one signal, and where it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SortKey {
    secs: i64,
    /// Nanoseconds of the second (at least 1e9 in a leap second, as chrono has it: the
    /// order of `(secs, nanos)` is chrono's).
    nanos: u32,
    /// The first eight bytes of the event id as a big-endian number, zero-padded.
    head: u64,
    slot: u32,
    /// The signal's position before sorting.
    at: u32,
    source: Source,
    /// The id's length when it fits in `head` (eight bytes or fewer), [`LONG_ID`] otherwise.
    short_len: u8,
}

/// [`SortKey::short_len`] of an id longer than eight bytes.
const LONG_ID: u8 = 9;

// The length fits in the padding: keys stay 32 bytes.
const _: () = assert!(std::mem::size_of::<SortKey>() == 32);

impl SortKey {
    fn of(s: &Signal, at: u32) -> SortKey {
        let id = s.event_id_bytes();
        SortKey {
            secs: s.time.timestamp(),
            nanos: s.time.timestamp_subsec_nanos(),
            head: id_head(id),
            slot: s.slot,
            at,
            source: s.source,
            short_len: u8::try_from(id.len()).map_or(LONG_ID, |n| n.min(LONG_ID)),
        }
    }
}

/// The order of two ids whose first eight bytes (zero-padded) are equal, from their
/// [`SortKey::short_len`]s, when either fits in eight bytes: it is then a prefix of the
/// other (so the shorter comes first; equal lengths, equal ids). `None`: both are longer,
/// and only their whole texts tell.
fn short_ids_order(a: u8, b: u8) -> Option<std::cmp::Ordering> {
    (a < LONG_ID || b < LONG_ID).then(|| a.cmp(&b))
}

/// Sorts `signals` into [`Signal::order`] (the same order as `sort_unstable_by`: order keys
/// are unique). `keys` is scratch room, kept by the caller between calls.
pub(crate) fn sort_signals(signals: &mut [Signal], keys: &mut Vec<SortKey>) {
    // Positions are u32: a slice of more signals is sorted directly.
    let Ok(n) = u32::try_from(signals.len()) else {
        signals.sort_unstable_by(Signal::order);
        return;
    };
    keys.clear();
    keys.extend(signals.iter().zip(0..n).map(|(s, at)| SortKey::of(s, at)));
    {
        let signals = &*signals;
        keys.sort_unstable_by(|a, b| {
            (a.secs, a.nanos, a.source, a.head)
                .cmp(&(b.secs, b.nanos, b.source, b.head))
                .then_with(|| {
                    short_ids_order(a.short_len, b.short_len).unwrap_or_else(|| {
                        let (x, y) = (&signals[a.at as usize], &signals[b.at as usize]);
                        x.event_id_bytes().cmp(y.event_id_bytes())
                    })
                })
                .then(a.slot.cmp(&b.slot))
        });
    }
    // Signal `i` of the sorted order is at `keys[i].at`, or, when that position was swapped
    // away already, where the swap put it (followed through the keys of the positions
    // before `i`).
    for i in 0..keys.len() {
        let mut at = keys[i].at as usize;
        while at < i {
            at = keys[at].at as usize;
        }
        keys[i].at = at as u32;
        signals.swap(i, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    /// Whether `signals` are in [`Signal::order`].
    fn in_order(signals: &[Signal]) -> bool {
        signals
            .windows(2)
            .all(|w| w[0].order(&w[1]) != std::cmp::Ordering::Greater)
    }

    fn signal(secs: i64, nanos: u32, source: u8, id: &str, slot: u32) -> Signal {
        let source = Source::ALL[usize::from(source) % Source::ALL.len()];
        let time = Utc.timestamp_opt(secs, nanos).single().unwrap_or_default();
        Signal::for_test(time, source, id, slot)
    }

    fn ordered(signals: &[Signal]) -> Vec<(String, u32)> {
        signals
            .iter()
            .map(|s| {
                (
                    format!("{}|{}|{}", s.time, s.source.as_str(), s.event_id()),
                    s.slot,
                )
            })
            .collect()
    }

    proptest! {
        /// Whatever the signals (few distinct times, ids sharing long prefixes, ids
        /// shorter than eight bytes, leap seconds), the order is `sort_unstable_by`'s.
        #[test]
        fn key_sort_gives_the_order_of_sorting_the_signals(
            raw in proptest::collection::vec(
                (0i64..3, prop_oneof![Just(0u32), Just(500_000_000u32), Just(1_500_000_000u32)],
                 0u8..3, "(abcdefgh|abcdefg|)[a-c\u{0}é]{0,3}", 0u32..3),
                0..60),
            again in any::<bool>(),
        ) {
            let mut seen = std::collections::HashSet::new();
            let mut signals: Vec<Signal> = raw
                .into_iter()
                // Order keys are unique: one signal per event and slot.
                .filter(|(s, n, src, id, slot)| seen.insert((*s, *n, *src, id.clone(), *slot)))
                .map(|(s, n, src, id, slot)| signal(s, n, src, &id, slot))
                .collect();
            let mut want = signals.clone();
            want.sort_unstable_by(Signal::order);
            let mut keys = Vec::new();
            if again {
                // Room left by an earlier, longer sort.
                let mut other = signals.clone();
                other.extend(signals.clone());
                sort_signals(&mut other, &mut keys);
            }
            sort_signals(&mut signals, &mut keys);
            prop_assert!(in_order(&signals));
            prop_assert_eq!(ordered(&signals), ordered(&want));
        }
    }
}
