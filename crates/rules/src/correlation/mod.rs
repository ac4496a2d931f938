//! Multi-event rules (SPEC §4): Sigma's `event_count`, `value_count`, `temporal` and
//! `temporal_ordered`, and skein's `absence`, `geo_velocity` and `chain`, evaluated over the
//! matches of per-event rules in time order.
//!
//! - [`spec`]: the rule as written (`correlation:` blocks);
//! - this module: the rule compiled against the loaded per-event rules — which rule feeds it,
//!   and the field tokens each one's events are read with ([`Slot`]), and the compact
//!   [`Signal`] a matching event becomes;
//! - [`engine`]: the [`Correlator`], a deterministic state machine over signals in time order
//!   whose whole state can be saved and restored (incremental runs resume from it).
//!
//! Why not `rsigma-eval`'s `CorrelationEngine`: it keeps per group only timestamps in whole
//! seconds and fires as events stream in, so a finding could not name its evidence events,
//! windows would not be exact below a second, and a resumed run could not be shown to give the
//! findings of a full run; it also has no absence, geo-velocity or chain types. Parsing
//! (`rsigma-parser`'s `CorrelationRule`) is reused; the windows are written here.

mod absence;
mod chain;
mod engine;
mod episode;
mod geo;
mod order;
pub(crate) mod packed;
mod signal;
pub mod spec;
mod texts;
mod window;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skein_model::{Severity, Source};

use crate::fields::{self, Resolution};
use crate::rule::{attack_tags, level_score, Rule};
pub use engine::{CheckpointError, Correlator};

/// The maps of window state, hashed with foldhash rather than std's SipHash (which was ~1%
/// of a full run, in the geo and absence lookups). Its seed is random per process too, so
/// keys cannot be crafted against it ahead of time. Iteration order never reaches an
/// output: what a sweep closes is sorted first.
pub(crate) type StateMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub use packed::{EntitiesRef, PackedEntity, Place};
pub use signal::signal;
pub use spec::{CorrelationDef, Kind, Span};
pub use texts::ShownKeys;
use texts::SignalTexts;

/// How a per-event rule's match feeds a correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The `i`-th rule of the correlation's `rules`.
    Input(usize),
    /// A rule whose events an absence looks for.
    Absent,
    /// The `i`-th link of a chain.
    Link(usize),
}

/// One (correlation, per-event rule, role) triple with the field tokens to read.
#[derive(Debug, Clone)]
pub struct Slot {
    pub correlation: usize,
    pub rule: usize,
    pub role: Role,
    /// Keys to read, each a list of alternative field tokens.
    pub keys: Vec<Vec<String>>,
    /// The counted field's token (value_count).
    pub value: Option<String>,
    /// Whether the event's coordinates are needed.
    pub geo: bool,
    /// Whether the signal needs every combination of its keys' alternatives (absence).
    pub tuples: bool,
}

/// A compiled multi-event rule.
#[derive(Debug, Clone)]
pub struct Correlation {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub attack: Vec<String>,
    pub tactics: Vec<String>,
    pub path: String,
    pub line: usize,
    pub def: CorrelationDef,
    pub score: u32,
    /// How long after its last evidence event a finding can still change (the absence's
    /// `after`): an incremental run recomputes findings whose `last_seen` plus this is past
    /// the point it resumes from.
    pub settle: chrono::TimeDelta,
    /// How far back a finding's evidence can reach from the event that completes it.
    pub lookback: chrono::TimeDelta,
}

/// A signal's key hashes: inline up to two (one or two for nearly every signal).
pub type Tuples = smallvec::SmallVec<[u128; 2]>;

/// A per-event rule's match as one correlation slot needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub time: DateTime<Utc>,
    pub source: Source,
    pub slot: u32,
    /// The event id; per key, the first of its alternatives present on the event, prefixed
    /// with the alternative's index (`0\u{1e}value`), as the event has it (compared ignoring
    /// case); the group (the keys joined, lower-cased, where the signal is made, on the
    /// scanning threads); the counted value as the event has it; the place; and the
    /// entities, packed. One allocation.
    texts: SignalTexts,
    /// For an absence: every combination of the keys' alternatives, lower-cased, as a
    /// stable 128-bit hash ([`tuple_hashes`]).
    pub tuples: Tuples,
}

impl Signal {
    /// The total order signals are processed in.
    pub fn order_key(&self) -> (DateTime<Utc>, Source, &str, u32) {
        (self.time, self.source, self.event_id(), self.slot)
    }

    /// [`Signal::order_key`]'s order, faster: ids are compared by their first eight bytes
    /// first (signals of one second are many, and `memcmp` was most of sorting them).
    pub fn order(&self, other: &Signal) -> std::cmp::Ordering {
        self.time
            .cmp(&other.time)
            .then(self.source.cmp(&other.source))
            .then_with(|| ids_order(self.event_id_bytes(), other.event_id_bytes()))
            .then(self.slot.cmp(&other.slot))
    }

    /// The evidence reference used in finding ids: `source|id`.
    pub fn anchor(&self) -> String {
        format!("{}|{}", self.source.as_str(), self.event_id())
    }

    /// The id of the event it was made from (empty for an absence's partner).
    pub fn event_id(&self) -> &str {
        self.texts.event_id()
    }

    /// [`Signal::event_id`]'s bytes (byte order is string order).
    fn event_id_bytes(&self) -> &[u8] {
        self.texts.event_id_bytes()
    }

    /// A signal with only a time, a source, an event id and a slot.
    #[cfg(test)]
    fn for_test(time: DateTime<Utc>, source: Source, event_id: &str, slot: u32) -> Signal {
        Signal {
            time,
            source,
            slot,
            texts: SignalTexts::new(event_id, [], "", None, None, &[]),
            tuples: Tuples::new(),
        }
    }

    /// Each key's first alternative present on the event.
    pub fn keys(&self) -> ShownKeys<'_> {
        self.texts.keys()
    }

    /// The keys joined and lower-cased: what the signal is grouped by.
    pub fn group(&self) -> &str {
        self.texts.group()
    }

    /// The counted value, as the event has it.
    pub fn value(&self) -> Option<&str> {
        self.texts.value()
    }

    /// Where the event came from (for geo velocity).
    pub fn place(&self) -> Option<Place<'_>> {
        self.texts.place()
    }

    /// [`Signal::place`]'s latitude and longitude, without its texts.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        self.texts.coordinates()
    }

    /// The entities the event names, with their roles (none for an absence's partner).
    pub fn entities(&self) -> EntitiesRef<'_> {
        self.texts.entities()
    }

    /// [`Signal::group`] as the event wrote it, for summaries.
    pub(crate) fn group_shown(&self, n: usize) -> String {
        self.keys().joined(0..n).to_string()
    }
}

/// Two ids in string order: by their first eight bytes as one number (zero-padded: a
/// shorter id sorts first, as in string order; equal numbers are compared whole).
fn ids_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    id_head(a).cmp(&id_head(b)).then_with(|| a.cmp(b))
}

/// An id's first eight bytes as a big-endian number, zero-padded (ordered as the bytes are,
/// a shorter id first).
fn id_head(s: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = s.len().min(8);
    word[..n].copy_from_slice(&s[..n]);
    u64::from_be_bytes(word)
}

/// A [`Signal`] as saved: its fields in the order and layout they always had.
#[derive(Serialize)]
struct SignalOut<'a> {
    time: &'a DateTime<Utc>,
    source: Source,
    event_id: &'a str,
    slot: u32,
    keys: ShownKeys<'a>,
    group: &'a str,
    tuples: &'a Tuples,
    value: Option<&'a str>,
    place: Option<Place<'a>>,
    entities: EntitiesRef<'a>,
}

/// A [`Signal`] as read back.
#[derive(Deserialize)]
struct SignalIn {
    /// (Read back with the strict RFC 3339 parser first, as events are.)
    #[serde(deserialize_with = "skein_model::time::deserialize")]
    time: DateTime<Utc>,
    source: Source,
    event_id: String,
    slot: u32,
    /// Each key's alternatives (builds before the keys were packed kept them all; only the
    /// first counts).
    keys: Vec<Vec<String>>,
    group: String,
    tuples: Tuples,
    value: Option<String>,
    place: Option<packed::PlaceFields>,
    entities: packed::PackedIn,
}

impl Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SignalOut {
            time: &self.time,
            source: self.source,
            event_id: self.event_id(),
            slot: self.slot,
            keys: self.keys(),
            group: self.group(),
            tuples: &self.tuples,
            value: self.value(),
            place: self.place(),
            entities: self.entities(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = SignalIn::deserialize(deserializer)?;
        let firsts = s
            .keys
            .iter()
            .map(|alternatives| alternatives.first().map_or("", String::as_str));
        Ok(Signal {
            time: s.time,
            source: s.source,
            slot: s.slot,
            texts: SignalTexts::new(
                &s.event_id,
                firsts,
                &s.group,
                s.value.as_deref(),
                s.place.as_ref().map(packed::PlaceFields::as_place).as_ref(),
                &s.entities.0,
            ),
            tuples: s.tuples,
        })
    }
}

/// A field of `rule`'s events by the name a correlation uses (an alias resolved first), as
/// a token; `needs_raw` is set when only the original record holds it.
fn token_for(
    def: &CorrelationDef,
    rule: &Rule,
    name: &str,
    needs_raw: &mut bool,
) -> Result<String, String> {
    let actual = def
        .aliases
        .get(name)
        .map(|m| {
            m.get(&rule.id)
                .cloned()
                .ok_or_else(|| format!("alias {name:?} has no field for rule {:?}", rule.id))
        })
        .transpose()?
        .unwrap_or_else(|| name.to_string());
    match fields::resolve(&actual, &rule.sources) {
        Resolution::Field(f) => Ok(fields::token(f)),
        Resolution::Raw if !fields::is_valid_canonical(&actual) => {
            Err(format!("{actual}: not a field of the canonical model"))
        }
        Resolution::Raw => {
            *needs_raw = true;
            Ok(fields::raw_token(&actual))
        }
    }
}

fn tokens(
    def: &CorrelationDef,
    rule: &Rule,
    specs: &[Vec<String>],
    needs_raw: &mut bool,
) -> Result<Vec<Vec<String>>, String> {
    specs
        .iter()
        .map(|alts| {
            alts.iter()
                .map(|n| token_for(def, rule, n, needs_raw))
                .collect()
        })
        .collect()
}

/// What compiling a correlation against the loaded rules gives.
pub struct Compiled {
    pub correlation: Correlation,
    pub slots: Vec<Slot>,
    pub needs_raw: bool,
}

/// Compiles `def` (defined at `path:line`) against `rules`; `index` is the position the
/// correlation will have. Errors are messages.
pub fn compile(
    def: CorrelationDef,
    rules: &[Rule],
    index: usize,
    path: &str,
    line: usize,
) -> Result<Compiled, Vec<String>> {
    let mut errors = Vec::new();
    if def.id.trim().is_empty() {
        errors.push("the correlation has no `id`".to_string());
    }
    let find = |id: &str| rules.iter().position(|r| r.id == id || r.title == id);
    let resolve = |names: &[String], what: &str, errors: &mut Vec<String>| -> Vec<usize> {
        names
            .iter()
            .filter_map(|n| {
                let found = find(n);
                if found.is_none() {
                    errors.push(format!("{what}: no per-event rule with id {n:?} is loaded"));
                }
                found
            })
            .collect()
    };
    let inputs = resolve(&def.rules, "correlation.rules", &mut errors);
    let absent = match &def.kind {
        Kind::Absence { absent, .. } => resolve(absent, "correlation.absent", &mut errors),
        _ => Vec::new(),
    };
    let severity = match def.level.as_deref() {
        Some(l) => l.parse::<Severity>().map_err(|e| errors.push(e)).ok(),
        None => {
            errors.push("the correlation has no `level`".into());
            None
        }
    };
    if def.presentation.score.is_some_and(|s| s > 100) {
        errors.push("skein.score must be 0-100".into());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let severity = severity.unwrap_or(Severity::Medium);
    let mut needs_raw = false;
    let mut slots = Vec::new();
    let tuples = matches!(def.kind, Kind::Absence { .. });
    let mut push =
        |rule: usize, role: Role, keys: Vec<Vec<String>>, value: Option<String>, geo: bool| {
            slots.push(Slot {
                correlation: index,
                rule,
                role,
                keys,
                value,
                geo,
                tuples,
            })
        };
    match &def.kind {
        Kind::EventCount { .. } | Kind::Temporal { .. } | Kind::GeoVelocity { .. } => {
            let geo = matches!(def.kind, Kind::GeoVelocity { .. });
            for (i, &r) in inputs.iter().enumerate() {
                match tokens(&def, &rules[r], &def.group_by, &mut needs_raw) {
                    Ok(keys) => push(r, Role::Input(i), keys, None, geo),
                    Err(e) => errors.push(e),
                }
            }
        }
        Kind::ValueCount { field, .. } => {
            for (i, &r) in inputs.iter().enumerate() {
                let keys = tokens(&def, &rules[r], &def.group_by, &mut needs_raw);
                let value = token_for(&def, &rules[r], field, &mut needs_raw);
                match (keys, value) {
                    (Ok(k), Ok(v)) => push(r, Role::Input(i), k, Some(v), false),
                    (Err(e), _) | (_, Err(e)) => errors.push(e),
                }
            }
        }
        Kind::Absence { keys, .. } => {
            for (i, &r) in inputs.iter().enumerate() {
                match tokens(&def, &rules[r], keys, &mut needs_raw) {
                    Ok(k) => push(r, Role::Input(i), k, None, false),
                    Err(e) => errors.push(e),
                }
            }
            for &r in &absent {
                match tokens(&def, &rules[r], keys, &mut needs_raw) {
                    Ok(k) => push(r, Role::Absent, k, None, false),
                    Err(e) => errors.push(e),
                }
            }
        }
        Kind::Chain { links } => {
            for (i, &r) in inputs.iter().enumerate() {
                // This link's side of its own join, then its side of the next link's.
                let mut specs: Vec<Vec<String>> = links[i]
                    .join
                    .iter()
                    .map(|(_, to)| vec![to.clone()])
                    .collect();
                if let Some(next) = links.get(i + 1) {
                    specs.extend(next.join.iter().map(|(from, _)| vec![from.clone()]));
                }
                match tokens(&def, &rules[r], &specs, &mut needs_raw) {
                    Ok(k) => push(r, Role::Link(i), k, None, false),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (attack, tactics) = attack_tags(&def.tags);
    let (settle, lookback) = match &def.kind {
        Kind::Absence { before, after, .. } => (
            after.duration(),
            before.duration() + def.timespan.duration(),
        ),
        _ => (chrono::TimeDelta::zero(), def.timespan.duration()),
    };
    Ok(Compiled {
        correlation: Correlation {
            id: def.id.clone(),
            title: def.title.clone(),
            description: def.description.clone(),
            severity,
            attack,
            tactics,
            path: path.to_string(),
            line,
            score: def
                .presentation
                .score
                .unwrap_or_else(|| level_score(severity)),
            settle,
            lookback,
            def,
        },
        slots,
        needs_raw,
    })
}

/// Names of the per-event rules that correlations read without `generate: true`: they give
/// signals only, no findings of their own (Sigma's `generate` semantics).
pub fn silent_rules(correlations: &[Correlation]) -> BTreeMap<String, ()> {
    let mut out = BTreeMap::new();
    for c in correlations.iter().filter(|c| !c.def.generate) {
        for r in &c.def.rules {
            out.insert(r.clone(), ());
        }
        if let Kind::Absence { absent, .. } = &c.def.kind {
            for r in absent {
                out.insert(r.clone(), ());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use skein_model::{EntityRole, EntityType, FindingEntity};

    /// A signal as earlier builds derived its saved form: every part a field of its own.
    #[derive(Debug, Serialize)]
    struct OldSignal {
        time: DateTime<Utc>,
        source: Source,
        event_id: String,
        slot: u32,
        keys: Vec<Vec<String>>,
        group: String,
        tuples: Tuples,
        value: Option<String>,
        place: Option<Box<OldPlace>>,
        entities: Vec<FindingEntity>,
    }

    #[derive(Debug, Clone, Serialize)]
    struct OldPlace {
        lat: f64,
        lon: f64,
        ip: Option<String>,
        city: Option<String>,
        country: Option<String>,
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![3 => "[a-zA-Z0-9@.-]{0,10}", 1 => "[\u{1e}\u{1f}éΣ\"]{0,4}"]
    }

    prop_compose! {
        fn old_signal()(
            secs in 0i64..4_000_000_000,
            source in prop::sample::select(Source::ALL.to_vec()),
            event_id in text(),
            slot in 0u32..5,
            keys in prop::collection::vec(text(), 0..3),
            group in text(),
            tuples in prop::collection::vec(any::<u128>(), 0..3),
            value in prop::option::of(text()),
            place in prop::option::of((-90.0f64..90.0, -180.0f64..180.0,
                prop::option::of(text()), prop::option::of(text()), prop::option::of(text()))),
            entities in prop::collection::vec((text(), prop::option::of(text())), 0..3),
        ) -> OldSignal {
            OldSignal {
                time: DateTime::from_timestamp(secs, 0).unwrap_or_default(),
                source,
                event_id,
                slot,
                keys: keys.into_iter().map(|k| vec![k]).collect(),
                group,
                tuples: tuples.into_iter().collect(),
                value,
                place: place.map(|(lat, lon, ip, city, country)| {
                    Box::new(OldPlace { lat, lon, ip, city, country })
                }),
                entities: entities
                    .into_iter()
                    .map(|(id, name)| FindingEntity {
                        entity_type: EntityType::User,
                        id,
                        role: EntityRole::Actor,
                        name,
                    })
                    .collect(),
            }
        }
    }

    proptest! {
        /// A signal is saved exactly as earlier builds saved it (postcard, the checkpoint's
        /// layout, and JSON), and what they saved reads back as the same signal: states
        /// saved before a signal's parts shared one allocation resume unchanged.
        #[test]
        fn signals_keep_the_saved_layout_of_earlier_builds(old in old_signal()) {
            let bytes = postcard::to_allocvec(&old).unwrap();
            let signal: Signal = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(postcard::to_allocvec(&signal).unwrap(), bytes);
            let json = serde_json::to_string(&old).unwrap();
            let from_json: Signal = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(serde_json::to_string(&from_json).unwrap(), json);
            prop_assert_eq!(from_json, signal);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Ids compare as strings do: sharing prefixes, of any length, with zero bytes.
        #[test]
        fn ids_order_as_strings(a in "[ab\u{0}é]{0,10}", b in "[ab\u{0}é]{0,10}") {
            prop_assert_eq!(ids_order(a.as_bytes(), b.as_bytes()), a.cmp(&b));
            prop_assert_eq!(ids_order(a.as_bytes(), a.as_bytes()), std::cmp::Ordering::Equal);
        }
    }
}
