//! A finding's JSON, written by hand: byte for byte what `serde_json::to_writer` writes for
//! it (the property tests below compare the two on any finding), faster (see
//! [`crate::json_text`]).
//!
//! Why not serde_json: a full correlate stores ~116k findings (~130 MB of JSON), and
//! serde_json's escaping of their strings was ~3% of the run, the whole serialisation ~7%.

use crate::json_text::{key, list, object, str_member, strings, time, unsigned};
use crate::{EntityRole, EntityType, Finding, FindingEntity};

fn entity(out: &mut Vec<u8>, e: &FindingEntity) -> serde_json::Result<()> {
    FindingEntity::write_parts_json(out, e.entity_type, &e.id, e.role, e.name.as_deref());
    Ok(())
}

impl FindingEntity {
    /// Appends the JSON of the entity with these parts, exactly as [`Finding::write_json`]
    /// writes it in a finding's `entities` (for findings written without a [`Finding`]).
    pub fn write_parts_json(
        out: &mut Vec<u8>,
        entity_type: EntityType,
        id: &str,
        role: EntityRole,
        name: Option<&str>,
    ) {
        out.push(b'{');
        str_member(out, true, "type", entity_type.as_str());
        str_member(out, false, "id", id);
        str_member(out, false, "role", role.as_str());
        if let Some(name) = name {
            str_member(out, false, "name", name);
        }
        out.push(b'}');
    }
}

impl Finding {
    /// Appends this finding's JSON to `out`: exactly what `serde_json::to_writer` writes
    /// (the field order of the struct, no spaces), faster.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        // Every field named, none left out (no `..`): a field added to `Finding` and not
        // written here does not compile.
        let Finding {
            id,
            rule,
            title,
            severity,
            score,
            first_seen,
            last_seen,
            entities,
            events,
            attack,
            summary,
            fields,
        } = self;
        out.push(b'{');
        str_member(out, true, "id", id);
        str_member(out, false, "rule", rule);
        str_member(out, false, "title", title);
        str_member(out, false, "severity", severity.as_str());
        key(out, false, "score");
        unsigned(out, u64::from(*score));
        key(out, false, "first_seen");
        time(out, first_seen)?;
        key(out, false, "last_seen");
        time(out, last_seen)?;
        key(out, false, "entities");
        list(out, entities, entity)?;
        key(out, false, "events");
        strings(out, events)?;
        key(out, false, "attack");
        strings(out, attack)?;
        str_member(out, false, "summary", summary);
        key(out, false, "fields");
        object(out, fields)?;
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::json_text::string;
    use crate::Severity;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Text with everything JSON escapes, non-ASCII, and long runs without either.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-zA-Z0-9 .@:/-]{0,40}",
            2 => "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é€😀]{0,12}",
            1 => "[ -~]{0,80}",
            1 => any::<String>(),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    prop_compose! {
        pub(crate) fn finding()(
            texts in prop::collection::vec(text(), 6),
            severity in prop::sample::select(Severity::ALL.to_vec()),
            score in any::<u32>(),
            secs in prop_oneof![4 => 0i64..4_000_000_000, 1 => -70_000_000_000i64..300_000_000_000],
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|m| m * 1_000_000),
                (0u32..1_000_000).prop_map(|u| u * 1000),
                0u32..2_000_000_000,
            ],
            span in 0i64..100_000,
            entities in prop::collection::vec(
                (0usize..9, text(), 0usize..4, prop::option::of(text())),
                0..4,
            ),
            events in prop::collection::vec(text(), 0..3),
            attack in prop::collection::vec(text(), 0..3),
            fields in prop::collection::btree_map(text(), value(), 0..5),
        ) -> Finding {
            let types = [
                EntityType::User, EntityType::App, EntityType::Ip, EntityType::Token,
                EntityType::Tenant, EntityType::Storage, EntityType::AwsPrincipal,
                EntityType::AwsKey, EntityType::AwsSession,
            ];
            let first = chrono::Utc.timestamp_opt(secs, nanos).single().unwrap_or_default();
            let mut t = texts.into_iter();
            Finding {
                id: t.next().unwrap_or_default(),
                rule: t.next().unwrap_or_default(),
                title: t.next().unwrap_or_default(),
                severity,
                score,
                first_seen: first,
                last_seen: first + chrono::TimeDelta::seconds(span),
                entities: entities
                    .into_iter()
                    .map(|(ty, id, role, name)| FindingEntity {
                        entity_type: types[ty],
                        id,
                        role: EntityRole::ALL[role],
                        name,
                    })
                    .collect(),
                events,
                attack,
                summary: t.next().unwrap_or_default(),
                fields: fields.into_iter().collect(),
            }
        }
    }

    #[test]
    fn every_escape_is_serde_jsons() {
        let all: String = (0u8..0x80).map(char::from).collect();
        for text in [all.as_str(), "", "\"", "\\", "abcdefgh\u{1}", "é\"€\n😀"] {
            let mut out = Vec::new();
            string(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any finding is written exactly as serde_json writes it.
        #[test]
        fn findings_are_written_as_serde_json_writes_them(f in finding()) {
            let mut ours = Vec::new();
            f.write_json(&mut ours).unwrap();
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&f).unwrap()
            );
        }

        /// Any text, escaped at any position of an 8-byte word.
        #[test]
        fn any_text_is_escaped_as_serde_json_escapes_it(prefix in 0usize..8, text in text()) {
            let text = format!("{}{text}", "x".repeat(prefix));
            let mut ours = Vec::new();
            string(&mut ours, &text);
            prop_assert_eq!(ours, serde_json::to_vec(&text).unwrap());
        }
    }
}
