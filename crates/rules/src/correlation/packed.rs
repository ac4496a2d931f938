//! A signal's entities and place packed as bytes, kept in the signal's one allocation with
//! its texts ([`super::texts`]).
//!
//! A full run makes hundreds of thousands of signals that name entities (every located
//! sign-in, blob request and failed sign-in), and nearly all of them are dropped without
//! becoming a finding, on another thread than the one that made them. As a
//! `Vec<FindingEntity>`, each signal's entities were one allocation per id and name plus the
//! vector: a profile had making and freeing them at ~5% of a run. They are packed as bytes
//! ([`pack`], read through [`EntitiesRef`]), and a [`PackedEntity`] is read back only when a
//! signal joins a finding. A located sign-in's [`Place`] (coordinates, address, city,
//! country) is packed the same way ([`encode_place`]) and read back as a borrowed view.
//! Saved window states hold both in the layout they always had (a list of entities, a place
//! of five fields: the same JSON).

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use skein_model::{EntityRole, EntityType, FindingEntity};

use crate::finding::EntitySink;

/// The entities of a signal, in order, packed: per entity its type tag, its role, the id's
/// length (u32, little-endian) and bytes, then the name's length plus one (0: no name) and
/// bytes.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct EntitiesRef<'a>(&'a [u8]);

/// One entity of an [`EntitiesRef`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedEntity<'a> {
    pub entity_type: EntityType,
    pub role: EntityRole,
    pub id: &'a str,
    pub name: Option<&'a str>,
}

impl PackedEntity<'_> {
    pub fn to_owned(self) -> FindingEntity {
        FindingEntity {
            entity_type: self.entity_type,
            id: self.id.to_string(),
            role: self.role,
            name: self.name.map(str::to_string),
        }
    }
}

fn role_tag(role: EntityRole) -> u8 {
    match role {
        EntityRole::Actor => 0,
        EntityRole::Source => 1,
        EntityRole::Target => 2,
        EntityRole::Resource => 3,
    }
}

fn role_of(tag: u8) -> Option<EntityRole> {
    Some(match tag {
        0 => EntityRole::Actor,
        1 => EntityRole::Source,
        2 => EntityRole::Target,
        3 => EntityRole::Resource,
        _ => return None,
    })
}

/// Appends one entity to `out` in the layout of [`EntitiesRef`].
fn append(
    out: &mut Vec<u8>,
    entity_type: EntityType,
    role: EntityRole,
    id: &str,
    name: Option<&str>,
) {
    out.push(entity_type.tag());
    out.push(role_tag(role));
    // Ids and names are event fields: far below 4 GiB.
    out.extend_from_slice(&(id.len() as u32).to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    match name {
        Some(n) => {
            out.extend_from_slice(&(n.len() as u32 + 1).to_le_bytes());
            out.extend_from_slice(n.as_bytes());
        }
        None => out.extend_from_slice(&0u32.to_le_bytes()),
    }
}

/// The next entity of `bytes` and what follows it (`None` at the end, or on bytes not
/// made by [`append`]).
fn next(bytes: &[u8]) -> Option<(PackedEntity<'_>, &[u8])> {
    fn take_u32(b: &[u8]) -> Option<(usize, &[u8])> {
        let (n, rest) = b.split_first_chunk::<4>()?;
        Some((u32::from_le_bytes(*n) as usize, rest))
    }
    fn take_str(b: &[u8], len: usize) -> Option<(&str, &[u8])> {
        let (text, rest) = b.split_at_checked(len)?;
        Some((skein_model::text::utf8(text).ok()?, rest))
    }
    let (&[ty, role], rest) = bytes.split_first_chunk::<2>()?;
    let (id_len, rest) = take_u32(rest)?;
    let (id, rest) = take_str(rest, id_len)?;
    let (name_len, rest) = take_u32(rest)?;
    let (name, rest) = match name_len {
        0 => (None, rest),
        n => {
            let (name, rest) = take_str(rest, n - 1)?;
            (Some(name), rest)
        }
    };
    Some((
        PackedEntity {
            entity_type: EntityType::from_tag(ty)?,
            role: role_of(role)?,
            id,
            name,
        },
        rest,
    ))
}

/// Packs an event's entities as [`crate::finding::entities_in`] finds them, in buffers
/// kept from one signal to the next.
#[derive(Debug, Default)]
pub(crate) struct Packer {
    bytes: Vec<u8>,
    /// Each entity's type and where its id is in `bytes` (to drop repeats).
    ids: Vec<(EntityType, std::ops::Range<usize>)>,
}

impl Packer {
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.ids.clear();
    }

    /// The entities added since the last [`Packer::clear`], packed.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl EntitySink for Packer {
    fn has(&self, ty: EntityType, id: &str) -> bool {
        self.ids
            .iter()
            .any(|(t, r)| *t == ty && self.bytes.get(r.clone()) == Some(id.as_bytes()))
    }

    fn add(&mut self, ty: EntityType, id: &str, role: EntityRole, name: Option<&str>) {
        // The id follows the type, the role and its length.
        let start = self.bytes.len() + 6;
        append(&mut self.bytes, ty, role, id, name);
        self.ids.push((ty, start..start + id.len()));
    }
}

/// `entities` packed.
pub(crate) fn pack(entities: &[FindingEntity]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entities {
        append(&mut out, e.entity_type, e.role, &e.id, e.name.as_deref());
    }
    out
}

impl<'a> EntitiesRef<'a> {
    /// Packed entities (bytes made by [`pack`] or a [`Packer`]; others read back as the
    /// entities before the first that does not make sense).
    pub(crate) fn new(bytes: &'a [u8]) -> EntitiesRef<'a> {
        EntitiesRef(bytes)
    }

    pub fn iter(&self) -> impl Iterator<Item = PackedEntity<'a>> {
        let mut rest: &'a [u8] = self.0;
        std::iter::from_fn(move || {
            let (e, after) = next(rest)?;
            rest = after;
            Some(e)
        })
    }

    pub fn to_vec(&self) -> Vec<FindingEntity> {
        self.iter().map(PackedEntity::to_owned).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for EntitiesRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for EntitiesRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A binary layout writes a list's length first: counted before (the packed form
        // has no count of its own).
        let count = self.iter().count();
        let mut seq = serializer.serialize_seq(Some(count))?;
        for e in self.iter() {
            seq.serialize_element(&e.to_owned())?;
        }
        seq.end()
    }
}

/// Entities as saved (a list), read back packed.
pub(crate) struct PackedIn(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for PackedIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<FindingEntity>::deserialize(deserializer).map(|v| PackedIn(pack(&v)))
    }
}

/// A place an event came from, read from the signal's bytes ([`encode_place`]): located
/// sign-ins become signals by the hundred thousand, nearly all dropped, and their place's
/// coordinates and three texts were two more allocations each. Saved as the five fields it
/// always had.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Place<'a> {
    pub lat: f64,
    pub lon: f64,
    ip: Option<&'a str>,
    city: Option<&'a str>,
    country: Option<&'a str>,
}

/// A [`Place`] as read back from a saved state.
#[derive(Deserialize)]
pub(crate) struct PlaceFields {
    lat: f64,
    lon: f64,
    ip: Option<String>,
    city: Option<String>,
    country: Option<String>,
}

impl PlaceFields {
    pub(crate) fn as_place(&self) -> Place<'_> {
        Place::new(
            self.lat,
            self.lon,
            self.ip.as_deref(),
            self.city.as_deref(),
            self.country.as_deref(),
        )
    }
}

impl<'a> Place<'a> {
    pub fn new(
        lat: f64,
        lon: f64,
        ip: Option<&'a str>,
        city: Option<&'a str>,
        country: Option<&'a str>,
    ) -> Place<'a> {
        Place {
            lat,
            lon,
            ip,
            city,
            country,
        }
    }

    pub fn ip(&self) -> Option<&'a str> {
        self.ip
    }

    pub fn city(&self) -> Option<&'a str> {
        self.city
    }

    pub fn country(&self) -> Option<&'a str> {
        self.country
    }
}

/// Appends `place` to `out`: the coordinates (f64, little-endian), then each text as its
/// length plus one (u32, little-endian; 0: none) and its bytes.
pub(crate) fn encode_place(out: &mut Vec<u8>, place: &Place<'_>) {
    out.extend_from_slice(&place.lat.to_le_bytes());
    out.extend_from_slice(&place.lon.to_le_bytes());
    for text in [place.ip, place.city, place.country] {
        match text {
            // Event fields are far below 4 GiB.
            Some(t) => {
                out.extend_from_slice(&(t.len() as u32 + 1).to_le_bytes());
                out.extend_from_slice(t.as_bytes());
            }
            None => out.extend_from_slice(&0u32.to_le_bytes()),
        }
    }
}

fn f64_at(b: &[u8]) -> Option<(f64, &[u8])> {
    let (n, rest) = b.split_first_chunk::<8>()?;
    Some((f64::from_le_bytes(*n), rest))
}

/// The latitude and longitude [`encode_place`] wrote first in `bytes` (the texts after them
/// are not read).
pub(crate) fn decode_coordinates(bytes: &[u8]) -> Option<(f64, f64)> {
    let (lat, rest) = f64_at(bytes)?;
    let (lon, _) = f64_at(rest)?;
    Some((lat, lon))
}

/// The place [`encode_place`] wrote as `bytes` (`None` on other bytes).
pub(crate) fn decode_place(bytes: &[u8]) -> Option<Place<'_>> {
    fn text_at(b: &[u8]) -> Option<(Option<&str>, &[u8])> {
        let (n, rest) = b.split_first_chunk::<4>()?;
        match u32::from_le_bytes(*n) as usize {
            0 => Some((None, rest)),
            n => {
                let (text, rest) = rest.split_at_checked(n - 1)?;
                Some((Some(skein_model::text::utf8(text).ok()?), rest))
            }
        }
    }
    let (lat, rest) = f64_at(bytes)?;
    let (lon, rest) = f64_at(rest)?;
    let (ip, rest) = text_at(rest)?;
    let (city, rest) = text_at(rest)?;
    let (country, rest) = text_at(rest)?;
    rest.is_empty()
        .then_some(Place::new(lat, lon, ip, city, country))
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    fn entity() -> impl Strategy<Value = FindingEntity> {
        (
            prop::sample::select(EntityType::ALL.to_vec()),
            prop::sample::select(vec![
                EntityRole::Actor,
                EntityRole::Source,
                EntityRole::Target,
                EntityRole::Resource,
            ]),
            ".{0,40}",
            prop::option::of(".{0,20}"),
        )
            .prop_map(|(entity_type, role, id, name)| FindingEntity {
                entity_type,
                id,
                role,
                name,
            })
    }

    proptest! {
        /// Any list of entities packs and reads back as itself, and is saved as the same
        /// JSON as the list.
        #[test]
        fn entities_round_trip(list in prop::collection::vec(entity(), 0..6)) {
            let bytes = pack(&list);
            let packed = EntitiesRef::new(&bytes);
            prop_assert_eq!(packed.to_vec(), list.clone());
            prop_assert_eq!(packed.is_empty(), list.is_empty());
            let json = serde_json::to_string(&packed).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&list).unwrap());
            let back: PackedIn = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back.0, bytes);
        }

        /// Damaged bytes never panic: reading stops where they stop making sense.
        #[test]
        fn damaged_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = EntitiesRef::new(&bytes).to_vec();
        }
    }
}
