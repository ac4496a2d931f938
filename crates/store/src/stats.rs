//! What the store reports about itself, and the fixed-width values of its counters.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skein_model::{EntityType, Source};

use crate::keys;

/// Counts of one source's stored events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceStats {
    /// Number of stored events.
    pub count: u64,
    /// Time of the earliest stored event (to the microsecond), `None` when there is none.
    pub first: Option<DateTime<Utc>>,
    /// Time of the latest stored event (to the microsecond), `None` when there is none.
    pub last: Option<DateTime<Utc>>,
}

/// Everything `skein stats` prints. The JSON shape starts with what SPEC §6 requires:
/// `{"events":{"entra_signin":N,"storage_blob":N,"cloudtrail":N},"findings":N,"cases":N,...}`;
/// every source and every entity type is always present, with zero when nothing is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Stored events per source.
    pub events: BTreeMap<Source, u64>,
    /// Stored findings.
    pub findings: u64,
    /// Stored cases.
    pub cases: u64,
    /// Per source: count and time span.
    pub sources: BTreeMap<Source, SourceStats>,
    /// Distinct entities per type (tenants included).
    pub entities: BTreeMap<EntityType, u64>,
    /// Records written to the quarantine file.
    pub quarantined: u64,
    /// The database's schema version.
    pub schema_version: u32,
    /// Bytes the database uses on disk (sled's own estimate).
    pub size_on_disk: u64,
}

/// What the store knows about one entity without reading its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySummary {
    /// Time of the earliest event that mentions it (to the microsecond).
    pub first_seen: DateTime<Utc>,
    /// Time of the latest event that mentions it (to the microsecond).
    pub last_seen: DateTime<Utc>,
    /// Number of stored events that mention it.
    pub event_count: u64,
}

/// Length of the encoded counters below.
pub(crate) const SPAN_LEN: usize = 24;

/// A count with a time span in microseconds; the stored form of both [`SourceStats`] and
/// [`EntitySummary`]: `count (u64 BE) | first (i64 BE) | last (i64 BE)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub count: u64,
    pub first: i64,
    pub last: i64,
}

impl Span {
    /// A span of one event at `t`.
    pub fn one(t: i64) -> Span {
        Span {
            count: 1,
            first: t,
            last: t,
        }
    }

    /// Adds one event at `t`.
    pub fn add(&mut self, t: i64) {
        self.count += 1;
        self.first = self.first.min(t);
        self.last = self.last.max(t);
    }

    /// Merges another span into this one.
    pub fn merge(&mut self, other: &Span) {
        self.count += other.count;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }

    pub fn encode(&self) -> [u8; SPAN_LEN] {
        let mut b = [0u8; SPAN_LEN];
        b[..8].copy_from_slice(&self.count.to_be_bytes());
        b[8..16].copy_from_slice(&self.first.to_be_bytes());
        b[16..].copy_from_slice(&self.last.to_be_bytes());
        b
    }

    /// `None` unless `bytes` is exactly [`SPAN_LEN`] long.
    pub fn decode(bytes: &[u8]) -> Option<Span> {
        let b: &[u8; SPAN_LEN] = bytes.try_into().ok()?;
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        let count = u64::from_be_bytes(w);
        w.copy_from_slice(&b[8..16]);
        let first = i64::from_be_bytes(w);
        w.copy_from_slice(&b[16..]);
        let last = i64::from_be_bytes(w);
        Some(Span { count, first, last })
    }

    pub fn source_stats(&self) -> Option<SourceStats> {
        Some(SourceStats {
            count: self.count,
            first: Some(keys::from_micros(self.first)?),
            last: Some(keys::from_micros(self.last)?),
        })
    }

    pub fn entity_summary(&self) -> Option<EntitySummary> {
        Some(EntitySummary {
            first_seen: keys::from_micros(self.first)?,
            last_seen: keys::from_micros(self.last)?,
            event_count: self.count,
        })
    }
}

/// Decodes a big-endian `u64` counter.
pub(crate) fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_round_trips_and_merges() {
        let mut s = Span::one(-5);
        s.add(10);
        s.add(-7);
        assert_eq!(
            s,
            Span {
                count: 3,
                first: -7,
                last: 10
            }
        );
        assert_eq!(Span::decode(&s.encode()), Some(s));
        assert_eq!(Span::decode(&[0; 23]), None);
        let mut t = Span::one(100);
        t.merge(&s);
        assert_eq!((t.count, t.first, t.last), (4, -7, 100));
    }

    #[test]
    fn stats_json_starts_with_the_spec_shape() {
        let stats = StoreStats {
            events: Source::ALL.into_iter().map(|s| (s, 1)).collect(),
            findings: 0,
            cases: 0,
            sources: BTreeMap::new(),
            entities: BTreeMap::new(),
            quarantined: 0,
            schema_version: 1,
            size_on_disk: 0,
        };
        let json = serde_json::to_string(&stats).unwrap();
        assert!(
            json.starts_with(
                r#"{"events":{"entra_signin":1,"storage_blob":1,"cloudtrail":1},"findings":0,"cases":0,"#
            ),
            "{json}"
        );
    }
}
