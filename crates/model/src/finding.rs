//! Findings (SPEC §5): what a rule concluded about one or more events.
//!
//! Field names are part of the product's interface (tools parse them), so they are fixed here
//! and covered by a test. Findings are stored and exchanged as JSON; unlike [`crate::Event`]
//! they are not postcard-encoded (their `fields` are free-form JSON). Their entities
//! ([`FindingEntity`]) are, inside the correlation state a run saves for the next.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::EntityType;

/// How bad a finding (or a case) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown severity {s:?} (expected informational, low, medium, high or critical)")
            })
    }
}

/// The part an entity played in a finding. Cases join findings through attacker-side roles
/// (`source`, and `actor` when the actor succeeded); a `target` of failed attempts does not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityRole {
    /// The account, key or session that acted.
    Actor,
    /// Where the activity came from (an address).
    Source,
    /// An account or resource the activity was aimed at.
    Target,
    /// Context the activity touched (tenant, storage account, application).
    Resource,
}

impl EntityRole {
    /// Every role, in declaration order.
    pub const ALL: [EntityRole; 4] = [
        EntityRole::Actor,
        EntityRole::Source,
        EntityRole::Target,
        EntityRole::Resource,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityRole::Actor => "actor",
            EntityRole::Source => "source",
            EntityRole::Target => "target",
            EntityRole::Resource => "resource",
        }
    }
}

impl FromStr for EntityRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityRole::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown role {s:?} (expected actor, source, target or resource)")
            })
    }
}

/// An entity named by a finding, with its role and, where known, a readable name (the UPN of
/// a user whose id is an object id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct FindingEntity {
    #[serde(rename = "type")]
    pub entity_type: EntityType,
    pub id: String,
    pub role: EntityRole,
    #[serde(default)]
    pub name: Option<String>,
}

/// In JSON (findings as stored and printed) an entity without a name has no `name`; a
/// binary layout (the correlation state's, postcard) has every field in its place, as such
/// a layout must.
impl Serialize for FindingEntity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let omit_name = self.name.is_none() && s.is_human_readable();
        let mut st = s.serialize_struct("FindingEntity", if omit_name { 3 } else { 4 })?;
        st.serialize_field("type", &self.entity_type)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("role", &self.role)?;
        if omit_name {
            st.skip_field("name")?;
        } else {
            st.serialize_field("name", &self.name)?;
        }
        st.end()
    }
}

/// One finding, as stored and printed (SPEC §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable: the same rule over the same evidence always gives the same id
    /// ([`Finding::stable_id`]), so re-running `correlate` adds nothing.
    pub id: String,
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    /// 0–100.
    pub score: u32,
    #[serde(deserialize_with = "crate::time::deserialize")]
    pub first_seen: DateTime<Utc>,
    #[serde(deserialize_with = "crate::time::deserialize")]
    pub last_seen: DateTime<Utc>,
    pub entities: Vec<FindingEntity>,
    /// The source's own ids of the evidence events.
    pub events: Vec<String>,
    /// ATT&CK technique ids (`T1586.003`).
    pub attack: Vec<String>,
    pub summary: String,
    /// Rule-specific values (`threat_score`, `matched`, `distinct_users`, ...).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Finding {
    /// The id of the finding of `rule` over evidence identified by `keys` (for example
    /// `source|event id`, in a stable order): `F-` and 16 hex digits of an FNV-1a/64 hash.
    /// FNV is written out here because the model crate keeps no hashing dependency; the id
    /// only has to be stable and well spread, not cryptographic.
    pub fn stable_id<'a>(rule: &str, keys: impl IntoIterator<Item = &'a str>) -> String {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h = OFFSET;
        let mut feed = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(PRIME);
            }
        };
        feed(rule.as_bytes());
        for k in keys {
            feed(&[0x1f]);
            feed(k.as_bytes());
        }
        format!("F-{h:016x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn json_field_names_are_the_documented_ones() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let f = Finding {
            id: Finding::stable_id("risky-signin", ["entra_signin|abc"]),
            rule: "risky-signin".into(),
            title: "Risky sign-in".into(),
            severity: Severity::High,
            score: 70,
            first_seen: t,
            last_seen: t,
            entities: vec![FindingEntity {
                entity_type: EntityType::User,
                id: "u1".into(),
                role: EntityRole::Actor,
                name: Some("alice@contoso.com".into()),
            }],
            events: vec!["abc".into()],
            attack: vec!["T1078.004".into()],
            summary: "s".into(),
            fields: serde_json::Map::new(),
        };
        let v = serde_json::to_value(&f).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        for k in [
            "id",
            "rule",
            "title",
            "severity",
            "score",
            "first_seen",
            "last_seen",
            "entities",
            "events",
            "attack",
            "summary",
            "fields",
        ] {
            assert!(keys.contains(&k), "{k} missing");
        }
        assert_eq!(v["severity"], "high");
        assert_eq!(v["entities"][0]["type"], "user");
        assert_eq!(v["entities"][0]["role"], "actor");
        let back: Finding = serde_json::from_value(v).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn ids_are_stable_and_depend_on_rule_and_evidence() {
        let a = Finding::stable_id("r", ["x", "y"]);
        assert_eq!(a, Finding::stable_id("r", ["x", "y"]));
        assert_ne!(a, Finding::stable_id("r", ["xy"]));
        assert_ne!(a, Finding::stable_id("s", ["x", "y"]));
        assert_eq!(a.len(), 18);
    }
}
