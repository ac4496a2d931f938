//! A case's JSON, written by hand with [`skein_model::json_text`]: byte for byte what
//! `serde_json::to_writer` writes for it (the property test below compares the two on any
//! case). A sweep encodes the week-long cases whole each time (thousands of findings and
//! timeline entries, each with its times), and serde_json's encoding was ~8% of a sweep.

use skein_model::json_text::{key, list, str_member, string, strings, time, unsigned};

use crate::model::{
    Case, CaseEntity, CaseFinding, CaseGraph, GraphEdge, GraphNode, HubEntity, ScorePart,
    TimelineEntry,
};

type Written = serde_json::Result<()>;

fn score_part(out: &mut Vec<u8>, p: &ScorePart) -> Written {
    let ScorePart { points, reason } = p;
    key(out, true, "points");
    unsigned(out, u64::from(*points));
    str_member(out, false, "reason", reason);
    Ok(())
}

fn finding(out: &mut Vec<u8>, f: &CaseFinding) -> Written {
    let CaseFinding {
        id,
        rule,
        title,
        severity,
        score,
        first_seen,
        last_seen,
        summary,
        attack,
        events,
        entities,
    } = f;
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
    str_member(out, false, "summary", summary);
    key(out, false, "attack");
    strings(out, attack)?;
    key(out, false, "events");
    strings(out, events)?;
    key(out, false, "entities");
    strings(out, entities)?;
    Ok(())
}

fn entity(out: &mut Vec<u8>, e: &CaseEntity) -> Written {
    let CaseEntity {
        entity_type,
        id,
        name,
        roles,
        findings,
        joins,
    } = e;
    str_member(out, true, "type", entity_type.as_str());
    str_member(out, false, "id", id);
    if let Some(name) = name {
        str_member(out, false, "name", name);
    }
    key(out, false, "roles");
    list(out, roles, |out, r| {
        string(out, r.as_str());
        Ok(())
    })?;
    key(out, false, "findings");
    unsigned(out, *findings as u64);
    key(out, false, "joins");
    out.extend_from_slice(if *joins { b"true" } else { b"false" });
    Ok(())
}

fn timeline_entry(out: &mut Vec<u8>, t: &TimelineEntry) -> Written {
    let TimelineEntry {
        time: at,
        kind,
        finding,
        rule,
        source,
        event,
        text,
    } = t;
    key(out, true, "time");
    time(out, at)?;
    str_member(out, false, "kind", kind);
    str_member(out, false, "finding", finding);
    str_member(out, false, "rule", rule);
    if let Some(source) = source {
        str_member(out, false, "source", source.as_str());
    }
    if let Some(event) = event {
        str_member(out, false, "event", event);
    }
    str_member(out, false, "text", text);
    Ok(())
}

fn graph(out: &mut Vec<u8>, g: &CaseGraph) -> Written {
    let CaseGraph { nodes, edges } = g;
    key(out, true, "nodes");
    list(out, nodes, |out, n| {
        let GraphNode {
            key: node_key,
            entity_type,
            id,
            name,
        } = n;
        out.push(b'{');
        str_member(out, true, "key", node_key);
        str_member(out, false, "type", entity_type.as_str());
        str_member(out, false, "id", id);
        if let Some(name) = name {
            str_member(out, false, "name", name);
        }
        out.push(b'}');
        Ok(())
    })?;
    key(out, false, "edges");
    list(out, edges, |out, e| {
        let GraphEdge {
            from,
            to,
            kind,
            reason,
        } = e;
        out.push(b'{');
        str_member(out, true, "from", from);
        str_member(out, false, "to", to);
        str_member(out, false, "kind", kind);
        str_member(out, false, "reason", reason);
        out.push(b'}');
        Ok(())
    })
}

fn hub(out: &mut Vec<u8>, h: &HubEntity) -> Written {
    let HubEntity {
        entity_type,
        id,
        accounts,
    } = h;
    str_member(out, true, "type", entity_type.as_str());
    str_member(out, false, "id", id);
    key(out, false, "accounts");
    unsigned(out, *accounts as u64);
    Ok(())
}

/// `{` members written by `members` `}`.
fn object<T>(
    out: &mut Vec<u8>,
    value: &T,
    members: impl Fn(&mut Vec<u8>, &T) -> Written,
) -> Written {
    out.push(b'{');
    members(out, value)?;
    out.push(b'}');
    Ok(())
}

impl Case {
    /// Appends this case's JSON to `out`: exactly what `serde_json::to_writer` writes (the
    /// field order of the structs, no spaces), faster.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Written {
        // Every field named, none left out (no `..`), here and in each part's writer: a
        // field added to the model and not written does not compile.
        let Case {
            id,
            title,
            severity,
            score,
            score_parts,
            first_seen,
            last_seen,
            tactics,
            attack,
            clouds,
            findings,
            entities,
            timeline,
            graph: case_graph,
            hubs,
        } = self;
        out.push(b'{');
        str_member(out, true, "id", id);
        str_member(out, false, "title", title);
        str_member(out, false, "severity", severity.as_str());
        key(out, false, "score");
        unsigned(out, u64::from(*score));
        key(out, false, "score_parts");
        list(out, score_parts, |out, p| object(out, p, score_part))?;
        key(out, false, "first_seen");
        time(out, first_seen)?;
        key(out, false, "last_seen");
        time(out, last_seen)?;
        key(out, false, "tactics");
        strings(out, tactics)?;
        key(out, false, "attack");
        strings(out, attack)?;
        key(out, false, "clouds");
        strings(out, clouds)?;
        key(out, false, "findings");
        list(out, findings, |out, f| object(out, f, finding))?;
        key(out, false, "entities");
        list(out, entities, |out, e| object(out, e, entity))?;
        key(out, false, "timeline");
        list(out, timeline, |out, t| object(out, t, timeline_entry))?;
        key(out, false, "graph");
        object(out, case_graph, graph)?;
        key(out, false, "hubs");
        list(out, hubs, |out, h| object(out, h, hub))?;
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;
    use skein_model::{EntityRole, EntityType, Severity, Source};

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z0-9 .@:/-]{0,24}",
            1 => "[a-z\"\\\\\u{0}-\u{1f}é😀]{0,8}",
        ]
    }

    fn texts() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(text(), 0..3)
    }

    fn when() -> impl Strategy<Value = DateTime<Utc>> {
        (
            0i64..4_000_000_000,
            prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|m| m * 1_000_000),
                0u32..1_000_000_000
            ],
        )
            .prop_map(|(s, n)| Utc.timestamp_opt(s, n).single().unwrap_or_default())
    }

    fn entity_type() -> impl Strategy<Value = EntityType> {
        prop::sample::select(EntityType::ALL.to_vec())
    }

    fn severity() -> impl Strategy<Value = Severity> {
        prop::sample::select(Severity::ALL.to_vec())
    }

    fn case_finding() -> impl Strategy<Value = CaseFinding> {
        (
            (text(), text(), text(), severity(), any::<u32>()),
            (when(), when(), text(), texts(), texts(), texts()),
        )
            .prop_map(
                |(
                    (id, rule, title, severity, score),
                    (first_seen, last_seen, summary, attack, events, entities),
                )| {
                    CaseFinding {
                        id,
                        rule,
                        title,
                        severity,
                        score,
                        first_seen,
                        last_seen,
                        summary,
                        attack,
                        events,
                        entities,
                    }
                },
            )
    }

    fn case_entity() -> impl Strategy<Value = CaseEntity> {
        let roles = prop::collection::vec(prop::sample::select(EntityRole::ALL.to_vec()), 0..3);
        (
            entity_type(),
            text(),
            prop::option::of(text()),
            roles,
            any::<usize>(),
            any::<bool>(),
        )
            .prop_map(
                |(entity_type, id, name, roles, findings, joins)| CaseEntity {
                    entity_type,
                    id,
                    name,
                    roles,
                    findings,
                    joins,
                },
            )
    }

    fn timeline_entry() -> impl Strategy<Value = TimelineEntry> {
        (
            when(),
            text(),
            text(),
            text(),
            prop::option::of(prop::sample::select(Source::ALL.to_vec())),
            prop::option::of(text()),
            text(),
        )
            .prop_map(
                |(time, kind, finding, rule, source, event, text)| TimelineEntry {
                    time,
                    kind,
                    finding,
                    rule,
                    source,
                    event,
                    text,
                },
            )
    }

    fn case_graph() -> impl Strategy<Value = CaseGraph> {
        let node = (text(), entity_type(), text(), prop::option::of(text())).prop_map(
            |(key, entity_type, id, name)| GraphNode {
                key,
                entity_type,
                id,
                name,
            },
        );
        let edge =
            (text(), text(), text(), text()).prop_map(|(from, to, kind, reason)| GraphEdge {
                from,
                to,
                kind,
                reason,
            });
        (
            prop::collection::vec(node, 0..3),
            prop::collection::vec(edge, 0..3),
        )
            .prop_map(|(nodes, edges)| CaseGraph { nodes, edges })
    }

    prop_compose! {
        fn case()(
            head in (text(), text(), severity(), any::<u32>(), when(), when()),
            score_parts in prop::collection::vec(
                (any::<u32>(), text()).prop_map(|(points, reason)| ScorePart { points, reason }),
                0..3,
            ),
            lists in (texts(), texts(), texts()),
            findings in prop::collection::vec(case_finding(), 0..3),
            entities in prop::collection::vec(case_entity(), 0..3),
            timeline in prop::collection::vec(timeline_entry(), 0..3),
            graph in case_graph(),
            hubs in prop::collection::vec(
                (entity_type(), text(), any::<usize>())
                    .prop_map(|(entity_type, id, accounts)| HubEntity { entity_type, id, accounts }),
                0..2,
            ),
        ) -> Case {
            let (id, title, severity, score, first_seen, last_seen) = head;
            let (tactics, attack, clouds) = lists;
            Case {
                id, title, severity, score, score_parts, first_seen, last_seen, tactics,
                attack, clouds, findings, entities, timeline, graph, hubs,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any case is written exactly as serde_json writes it.
        #[test]
        fn cases_are_written_as_serde_json_writes_them(c in case()) {
            let mut ours = Vec::new();
            c.write_json(&mut ours).unwrap();
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&c).unwrap()
            );
        }
    }
}
