//! Evidence gathered into one finding: events, entities and counted values, and the finding
//! built from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use skein_model::{EntityRole, Finding, FindingEntity};

use super::{Correlation, PackedEntity, Signal};
use crate::finding::{fill_template, json_text};

/// Evidence ids a finding lists at most (the count of all is in `fields.event_count`).
pub const MAX_EVIDENCE: usize = 1_000;
/// Entities a finding lists at most.
pub const MAX_ENTITIES: usize = 500;
/// Distinct values a finding lists at most (the count of all is exact).
pub const MAX_VALUES: usize = 200;

thread_local! {
    /// [`Episode::add_entity`]'s key buffer.
    static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Which role wins when one entity appears in several: an account that acted is more than a
/// target of failed attempts.
fn rank(role: EntityRole) -> u8 {
    match role {
        EntityRole::Actor => 0,
        EntityRole::Source => 1,
        EntityRole::Resource => 2,
        EntityRole::Target => 3,
    }
}

/// The evidence of one finding, growing as events join it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// The group it belongs to (joined key values, lower-cased).
    pub group: String,
    /// The group as the first evidence event wrote it (for the summary).
    pub shown: String,
    /// The first evidence event (`source|id`): with the group, the finding's identity.
    pub anchor: String,
    #[serde(deserialize_with = "skein_model::time::deserialize")]
    pub first: DateTime<Utc>,
    #[serde(deserialize_with = "skein_model::time::deserialize")]
    pub last: DateTime<Utc>,
    pub events: Vec<String>,
    pub event_count: u64,
    /// `type:id` → entity.
    pub entities: BTreeMap<String, FindingEntity>,
    /// Distinct counted values, lower-cased → as first seen (all of them: the count must be
    /// exact; a finding lists the first [`MAX_VALUES`]), and how many there are.
    pub values: BTreeMap<String, String>,
    pub distinct: u64,
    /// Rule-specific values.
    #[serde(with = "fields_text")]
    pub fields: Map<String, Value>,
}

/// An episode's `fields` in a binary layout (the checkpoint's) as their JSON text: a
/// `serde_json::Value` can only be read from a format that describes itself. In JSON they
/// are the object they are.
mod fields_text {
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::{Map, Value};

    pub fn serialize<S: Serializer>(fields: &Map<String, Value>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            fields.serialize(s)
        } else {
            serde_json::to_string(fields)
                .map_err(serde::ser::Error::custom)?
                .serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
        if d.is_human_readable() {
            Map::deserialize(d)
        } else {
            let text = String::deserialize(d)?;
            serde_json::from_str(&text).map_err(D::Error::custom)
        }
    }
}

impl Episode {
    pub fn new(group: String, first: &Signal) -> Episode {
        let shown = if group.is_empty() {
            String::new()
        } else {
            first.group_shown(first.keys().len())
        };
        Episode {
            group,
            shown,
            anchor: first.anchor(),
            first: first.time,
            last: first.time,
            events: Vec::new(),
            event_count: 0,
            entities: BTreeMap::new(),
            values: BTreeMap::new(),
            distinct: 0,
            fields: Map::new(),
        }
    }

    /// Adds an evidence event (and its counted value, if any).
    pub fn add(&mut self, s: &Signal) {
        self.first = self.first.min(s.time);
        self.last = self.last.max(s.time);
        self.event_count += 1;
        if self.events.len() < MAX_EVIDENCE {
            self.events.push(s.event_id().to_string());
        }
        for e in s.entities().iter() {
            self.add_entity(e);
        }
        if let Some(v) = s.value() {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                self.values.entry(v.to_lowercase())
            {
                slot.insert(v.to_string());
                self.distinct += 1;
            }
        }
    }

    fn add_entity(&mut self, e: PackedEntity<'_>) {
        KEY.with_borrow_mut(|key| {
            // The `type:id` key, in a buffer kept between calls: most entities are there
            // already, and the key is allocated only for a new one.
            key.clear();
            key.push_str(e.entity_type.as_str());
            key.push(':');
            key.push_str(e.id);
            let room = self.entities.len() < MAX_ENTITIES;
            match self.entities.get_mut(key.as_str()) {
                Some(have) => {
                    if rank(e.role) < rank(have.role) {
                        have.role = e.role;
                    }
                    if have.name.is_none() {
                        have.name = e.name.map(str::to_string);
                    }
                }
                None if room => {
                    self.entities.insert(key.clone(), e.to_owned());
                }
                None => {}
            }
        });
    }

    /// The finding this evidence gives under `rule`.
    pub fn finding(&self, rule: &Correlation) -> Finding {
        let mut fields = self.fields.clone();
        let p = &rule.def.presentation;
        fields.insert("event_count".into(), Value::from(self.event_count));
        if matches!(rule.def.kind, super::Kind::ValueCount { .. }) {
            let count = p
                .count_as
                .clone()
                .unwrap_or_else(|| "distinct_values".into());
            let values = p.values_as.clone().unwrap_or_else(|| "values".into());
            fields.insert(count, Value::from(self.distinct));
            fields.insert(
                values,
                Value::Array(
                    self.values
                        .values()
                        .take(MAX_VALUES)
                        .cloned()
                        .map(Value::String)
                        .collect(),
                ),
            );
        } else if let Some(name) = &p.count_as {
            fields.insert(name.clone(), Value::from(self.event_count));
        }
        fields.insert("window".into(), Value::from(rule.def.timespan.text.clone()));
        if let super::Kind::Absence { before, .. } = &rule.def.kind {
            fields.insert("lookback".into(), Value::from(before.text.clone()));
        }
        fields.insert(
            "span_seconds".into(),
            Value::from((self.last - self.first).num_milliseconds() as f64 / 1000.0),
        );
        if self.event_count as usize > self.events.len() {
            fields.insert("events_truncated".into(), Value::Bool(true));
        }
        let mut entities: Vec<FindingEntity> = self.entities.values().cloned().collect();
        entities.sort_by_key(|e| rank(e.role));
        let summary = render(rule, self, &fields);
        Finding {
            id: Finding::stable_id(&rule.id, [self.group.as_str(), self.anchor.as_str()]),
            rule: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity,
            score: rule.score,
            first_seen: self.first,
            last_seen: self.last,
            entities,
            events: self.events.clone(),
            attack: rule.attack.clone(),
            summary,
            fields,
        }
    }
}

/// A value of the group for the summary: the key's value without its alternative index.
fn group_value(rule: &Correlation, group: &str, name: &str) -> Option<String> {
    let specs = match &rule.def.kind {
        super::Kind::Absence { keys, .. } => keys,
        _ => &rule.def.group_by,
    };
    let i = specs
        .iter()
        .position(|alts| alts.iter().any(|a| a == name))?;
    let part = group.split('\u{1f}').nth(i)?;
    Some(
        part.split_once('\u{1e}')
            .map_or(part, |(_, v)| v)
            .to_string(),
    )
}

/// The summary: the rule's template with `{fields.NAME}`, `{group.FIELD}`, `{window}` and
/// `{entity.TYPE}` (the first entity of that type: its readable name, else its id) filled in,
/// or a default sentence.
fn render(rule: &Correlation, ep: &Episode, fields: &Map<String, Value>) -> String {
    let Some(template) = &rule.def.presentation.summary else {
        return format!(
            "{}: {} events from {} to {}",
            rule.title,
            ep.event_count,
            ep.first.to_rfc3339(),
            ep.last.to_rfc3339()
        );
    };
    fill_template(template, |name| {
        if name == "window" {
            rule.def.timespan.text.clone()
        } else if let Some(f) = name.strip_prefix("fields.") {
            fields.get(f).map_or_else(|| "-".into(), json_text)
        } else if let Some(g) = name.strip_prefix("group.") {
            group_value(rule, &ep.shown, g).unwrap_or_else(|| "-".into())
        } else if let Some(ty) = name.strip_prefix("entity.") {
            ep.entities
                .values()
                .find(|e| e.entity_type.as_str() == ty)
                .map_or_else(
                    || "-".into(),
                    |e| e.name.clone().unwrap_or_else(|| e.id.clone()),
                )
        } else {
            format!("{{{name}}}")
        }
    })
}
