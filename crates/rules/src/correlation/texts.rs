//! A signal's parts in one allocation: the event id, the keys as the event wrote them, the
//! group (the keys lower-cased), the counted value, the place and the packed entities
//! ([`super::packed`]).
//!
//! Every located sign-in and every blob request becomes a signal (~0.9M of 2.5M events in
//! the bench), made on a scanning thread and nearly always dropped on the correlating one.
//! As four strings, a boxed slice and a boxed place, a located sign-in's were seven
//! allocations, freed across threads; here they are one. Saved window states hold
//! them as they always did (see [`super::Signal`]'s `Serialize`).

use serde::{Serialize, Serializer};
use smallvec::SmallVec;

use super::packed::{decode_coordinates, decode_place, encode_place, EntitiesRef, Place};

/// The parts: `event id ‖ keys (joined by \u{1f}) ‖ group ‖ value ‖ place ‖ entities`, and
/// where each ends. Everything before the place was copied from text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SignalTexts {
    bytes: Box<[u8]>,
    id_end: u32,
    /// Where each key ends in `bytes` (the last: where the keys end).
    key_ends: SmallVec<[u32; 3]>,
    group_end: u32,
    /// Where the value ends (and the place starts).
    value_end: u32,
    /// Where the place ends (none: at `value_end`) and the entities start.
    place_end: u32,
    has_value: bool,
}

/// Appends `text` to `out`, returning where it ends. (Event fields are far below 4 GiB, and
/// a position past `u32` only makes the part read back empty: see [`SignalTexts::part`].)
fn push(out: &mut Vec<u8>, text: &str) -> u32 {
    out.extend_from_slice(text.as_bytes());
    end(out)
}

fn end(out: &[u8]) -> u32 {
    u32::try_from(out.len()).unwrap_or(u32::MAX)
}

/// An empty buffer with room for a signal's parts, its keys and its group each `keys_len`
/// bytes long.
fn with_room(
    event_id: &str,
    keys_len: usize,
    value: Option<&str>,
    place: Option<&Place<'_>>,
    entities: &[u8],
) -> Vec<u8> {
    Vec::with_capacity(
        event_id.len()
            + 2 * keys_len
            + value.map_or(0, str::len)
            + place.map_or(0, place_len)
            + entities.len(),
    )
}

/// The bytes [`encode_place`] writes for `p`.
fn place_len(p: &Place<'_>) -> usize {
    16 + [p.ip(), p.city(), p.country()]
        .iter()
        .map(|t| 4 + t.map_or(0, str::len))
        .sum::<usize>()
}

impl SignalTexts {
    /// The parts of a signal, as saved.
    pub fn new<'k>(
        event_id: &str,
        keys: impl IntoIterator<Item = &'k str>,
        group: &str,
        value: Option<&str>,
        place: Option<&Place<'_>>,
        entities: &[u8],
    ) -> SignalTexts {
        // (Exact when the keys are as long as the group, as they are in signals read back:
        // the box then takes the vector's buffer as it is.)
        let mut out = with_room(event_id, group.len(), value, place, entities);
        let id_end = push(&mut out, event_id);
        let key_ends = Self::push_keys(&mut out, keys);
        let group_end = push(&mut out, group);
        let value_end = push(&mut out, value.unwrap_or_default());
        let ends = (id_end, key_ends, group_end, value_end, value.is_some());
        Self::finish(out, ends, place, entities)
    }

    /// The rest of a signal's parts after its value (`ends`: where the others end, and
    /// whether there is a value): its place and entities.
    fn finish(
        mut out: Vec<u8>,
        ends: (u32, SmallVec<[u32; 3]>, u32, u32, bool),
        place: Option<&Place<'_>>,
        entities: &[u8],
    ) -> SignalTexts {
        let (id_end, key_ends, group_end, value_end, has_value) = ends;
        if let Some(p) = place {
            encode_place(&mut out, p);
        }
        let place_end = end(&out);
        out.extend_from_slice(entities);
        SignalTexts {
            bytes: out.into_boxed_slice(),
            id_end,
            key_ends,
            group_end,
            value_end,
            place_end,
            has_value,
        }
    }

    /// The parts of a signal whose group is its keys joined and lower-cased exactly as
    /// `str::to_lowercase` lower-cases the joined text (as signals are made); `keys_len` is
    /// the keys' length joined (exact, the buffer is made at its size for ASCII keys).
    pub fn grouped<'k>(
        event_id: &str,
        keys: impl IntoIterator<Item = &'k str>,
        keys_len: usize,
        value: Option<&str>,
        place: Option<&Place<'_>>,
        entities: &[u8],
    ) -> SignalTexts {
        let mut out = with_room(event_id, keys_len, value, place, entities);
        let id_end = push(&mut out, event_id);
        let key_ends = Self::push_keys(&mut out, keys);
        let (from, to) = (id_end as usize, out.len());
        let group_end = match out.get(from..to) {
            Some(keys) if keys.is_ascii() => {
                out.extend_from_within(from..to);
                if let Some(group) = out.get_mut(to..) {
                    group.make_ascii_lowercase();
                }
                end(&out)
            }
            // (The keys were copied from text, whole: they are text.)
            Some(keys) => match std::str::from_utf8(keys) {
                Ok(keys) => {
                    let lowered = keys.to_lowercase();
                    push(&mut out, &lowered)
                }
                Err(_) => end(&out),
            },
            None => end(&out),
        };
        let value_end = push(&mut out, value.unwrap_or_default());
        let ends = (id_end, key_ends, group_end, value_end, value.is_some());
        Self::finish(out, ends, place, entities)
    }

    fn push_keys<'k>(
        out: &mut Vec<u8>,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> SmallVec<[u32; 3]> {
        let mut ends = SmallVec::new();
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 {
                out.push(0x1f);
            }
            ends.push(push(out, key));
        }
        ends
    }

    /// The text `bytes[from..to]` (empty when out of bounds or not text: neither is made
    /// here, and neither panics).
    fn part(&self, from: u32, to: u32) -> &str {
        self.bytes
            .get(from as usize..to as usize)
            .and_then(|b| skein_model::text::utf8(b).ok())
            .unwrap_or_default()
    }

    fn keys_end(&self) -> u32 {
        self.key_ends.last().copied().unwrap_or(self.id_end)
    }

    pub fn event_id(&self) -> &str {
        self.part(0, self.id_end)
    }

    /// The event id's bytes, for ordering (byte order is string order) without reading
    /// them as text.
    pub fn event_id_bytes(&self) -> &[u8] {
        self.bytes.get(..self.id_end as usize).unwrap_or_default()
    }

    pub fn keys(&self) -> ShownKeys<'_> {
        ShownKeys {
            text: self.part(0, self.keys_end()),
            start: self.id_end,
            ends: &self.key_ends,
        }
    }

    pub fn group(&self) -> &str {
        self.part(self.keys_end(), self.group_end)
    }

    pub fn value(&self) -> Option<&str> {
        self.has_value
            .then(|| self.part(self.group_end, self.value_end))
    }

    /// The place, if the signal has one.
    pub fn place(&self) -> Option<Place<'_>> {
        decode_place(self.place_bytes()?)
    }

    /// The place's latitude and longitude, if the signal has a place, without reading its
    /// texts (what geo velocity reads of every located sign-in; the texts only go into a
    /// finding). A place is only ever written whole by `encode_place`, so a signal has
    /// coordinates exactly when it has a place.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        decode_coordinates(self.place_bytes()?)
    }

    /// The place's bytes, if there is a place.
    fn place_bytes(&self) -> Option<&[u8]> {
        self.bytes
            .get(self.value_end as usize..self.place_end as usize)
            .filter(|b| !b.is_empty())
    }

    pub fn entities(&self) -> EntitiesRef<'_> {
        EntitiesRef::new(
            self.bytes
                .get(self.place_end as usize..)
                .unwrap_or_default(),
        )
    }
}

impl std::fmt::Debug for SignalTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalTexts")
            .field("event_id", &self.event_id())
            .field("keys", &self.keys())
            .field("group", &self.group())
            .field("value", &self.value())
            .field("place", &self.place())
            .field("entities", &self.entities())
            .finish()
    }
}

/// A signal's keys: each key's first alternative present on the event, as the event wrote it
/// (`i\u{1e}value`), joined by `\u{1f}`.
#[derive(Clone, Copy)]
pub struct ShownKeys<'a> {
    text: &'a str,
    /// Where the first key starts in `text`.
    start: u32,
    /// Where each key ends in `text`.
    ends: &'a [u32],
}

impl<'a> ShownKeys<'a> {
    /// How many keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The first alternatives of keys `range` (clamped to the keys there are), joined by
    /// `\u{1f}`.
    pub fn joined(&self, range: std::ops::Range<usize>) -> &'a str {
        let end = range.end.min(self.len());
        if range.start >= end {
            return "";
        }
        let from = match range.start {
            0 => self.start as usize,
            // After the separator that follows the key before (one byte in UTF-8).
            k => self.ends[k - 1] as usize + 1,
        };
        self.text
            .get(from..self.ends[end - 1] as usize)
            .unwrap_or_default()
    }

    /// Each key's first alternative.
    pub fn firsts(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(|k| self.joined(k..k + 1))
    }
}

impl std::fmt::Debug for ShownKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.firsts()).finish()
    }
}

/// Saved as a list of keys, each the list of its alternatives kept (the first): the layout
/// of the keys of earlier builds, which kept every alternative.
impl Serialize for ShownKeys<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.firsts().map(OneKey))
    }
}

/// A key saved as the list of its alternatives kept: a list of one (a sequence, not a
/// tuple, which a binary layout writes without the length a list is read with), written
/// without making a vector for it.
struct OneKey<'a>(&'a str);

impl Serialize for OneKey<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(std::iter::once(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any parts read back as themselves, the joined keys of any range are the firsts
        /// joined, and a group made from the keys is the joined keys lower-cased.
        #[test]
        fn texts_read_back_as_their_parts(
            id in "[a-zA-Z0-9-]{0,12}",
            keys in prop::collection::vec("[a-zA-Z0-9Σς\u{1e} .@-]{0,8}", 0..4),
            group in "[a-zσ]{0,6}",
            value in prop::option::of("[a-zA-ZΣ]{0,6}"),
            a in 0usize..6,
            b in 0usize..6,
        ) {
            let entities = super::super::packed::pack(&[skein_model::FindingEntity {
                entity_type: skein_model::EntityType::User,
                id: id.clone(),
                role: skein_model::EntityRole::Actor,
                name: value.clone(),
            }]);
            let place = Place::new(51.5, -0.12, value.as_deref(), Some(id.as_str()), None);
            let t = SignalTexts::new(
                &id, keys.iter().map(String::as_str), &group, value.as_deref(), Some(&place), &entities,
            );
            prop_assert_eq!(t.place(), Some(place));
            prop_assert_eq!(t.entities().to_vec().len(), 1);
            prop_assert_eq!(&t.entities().to_vec()[0].id, &id);
            prop_assert_eq!(t.event_id(), id.as_str());
            prop_assert_eq!(t.group(), group.as_str());
            prop_assert_eq!(t.value(), value.as_deref());
            let shown = t.keys();
            prop_assert_eq!(shown.len(), keys.len());
            let (a, b) = (a.min(keys.len()), b.min(keys.len()));
            let want = if a < b { keys[a..b].join("\u{1f}") } else { String::new() };
            prop_assert_eq!(shown.joined(a..b), want.as_str());
            prop_assert_eq!(shown.joined(0..keys.len()), keys.join("\u{1f}"));
            prop_assert_eq!(shown.firsts().collect::<Vec<_>>(), keys.iter().map(String::as_str).collect::<Vec<_>>());
            // Saved as the lists of earlier builds.
            let one_each: Vec<Vec<String>> = keys.iter().map(|k| vec![k.clone()]).collect();
            prop_assert_eq!(serde_json::to_string(&shown).unwrap(), serde_json::to_string(&one_each).unwrap());

            let made = SignalTexts::grouped(
                &id, keys.iter().map(String::as_str), keys.iter().map(String::len).sum(), value.as_deref(), None, &entities,
            );
            prop_assert_eq!(made.place(), None);
            let lowered = keys.join("\u{1f}").to_lowercase();
            prop_assert_eq!(made.group(), lowered.as_str());
            prop_assert_eq!(&made, &SignalTexts::new(&id, keys.iter().map(String::as_str), &lowered, value.as_deref(), None, &entities));
        }
    }
}
