//! The STIX 2.1 export: one `bundle` that the OASIS `stix2` library parses with
//! `allow_custom=False` (the integration tests run it).
//!
//! Mapping:
//! - skein itself: an `identity` (`identity_class` `system`), the `created_by_ref` of every
//!   object it writes;
//! - a case: a `grouping` (`context` `suspicious-activity`) named after the case, its severity,
//!   score and score parts, tactics and clouds in `description`, its ATT&CK techniques as
//!   `mitre-attack` external references, and every object below in `object_refs`;
//! - entities: users, applications, AWS principals and role sessions are `user-account`
//!   SCOs (`user_id` the entity id, `account_login`/`display_name` its name), IP addresses
//!   `ipv4-addr` or `ipv6-addr` SCOs, tenants `identity` objects (`organization`). Tokens,
//!   AWS access keys and storage accounts have no STIX object of their own: they are named in
//!   the notes of the findings that involve them;
//! - a finding: an `observed-data` over its entities' SCOs (first and last seen,
//!   `number_observed` its evidence events) when it has any, and always a `note` (`abstract`
//!   the rule and title, `content` the summary, severity, score, techniques, entities and
//!   evidence event ids) referring to the case's grouping and the observed data;
//! - a link of the case graph between two entities that have objects: a `relationship`
//!   (`related-to`) whose `description` is the link's kind and reason.
//!
//! Identifiers are deterministic: SCOs follow STIX 2.1 §2.9 (UUIDv5 in the SCO namespace over
//! the canonical JSON of their id contributing properties), every other object is a UUIDv5 in
//! skein's own namespace over what it stands for (`case:<id>`, `note:<case>/<finding>`, …).
//! Timestamps are the cases' and findings' own, in RFC 3339 with milliseconds; the skein
//! identity has a fixed one.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

use serde_json::{json, Value};
use uuid::Uuid;

use super::{entity_key, finding_entities, rfc3339_millis, ExportError};
use crate::model::{Case, CaseEntity};
use skein_model::EntityType;

/// STIX 2.1 §2.9: the namespace of deterministic SCO identifiers.
const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);
/// skein's namespace for the identifiers of the other objects (UUIDv5 of `skein` in the
/// URL namespace, written out so that it never changes).
const SKEIN_NAMESPACE: Uuid = Uuid::from_u128(0x9c8da9d3_85f0_5682_8366_cd2f13b6c655);
/// When the skein identity was "created": fixed, so that every export writes the same object.
const SKEIN_CREATED: &str = "2025-01-01T00:00:00.000Z";

pub(super) fn stix(cases: &[Case]) -> Result<String, ExportError> {
    let skein = sdo_id("identity", "skein");
    let mut objects: BTreeMap<String, Value> = BTreeMap::new();
    objects.insert(
        skein.clone(),
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": skein,
            "created": SKEIN_CREATED,
            "modified": SKEIN_CREATED,
            "name": "skein",
            "description": "skein, a cross-cloud identity-attack correlation engine",
            "identity_class": "system",
        }),
    );
    for case in cases {
        add_case(&mut objects, case, &skein);
    }
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    let bundle = json!({
        "type": "bundle",
        "id": sdo_id("bundle", &format!("bundle:{}", ids.join(","))),
        "objects": objects.into_values().collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_string_pretty(&bundle)?;
    out.push('\n');
    Ok(out)
}

fn add_case(objects: &mut BTreeMap<String, Value>, c: &Case, skein: &str) {
    let created = rfc3339_millis(c.first_seen);
    let modified = rfc3339_millis(c.last_seen.max(c.first_seen));
    let grouping = sdo_id("grouping", &format!("case:{}", c.id));
    let mut refs: Vec<String> = Vec::new();

    // Entities.
    let mut entity_ids: BTreeMap<String, String> = BTreeMap::new();
    for e in &c.entities {
        if let Some((id, obj)) = entity_object(e, &created, &modified, skein) {
            entity_ids.insert(entity_key(e), id.clone());
            refs.push(id.clone());
            objects.entry(id).or_insert(obj);
        }
    }

    // Findings.
    for f in &c.findings {
        let entities = finding_entities(c, f);
        let mut scos: Vec<String> = entities
            .iter()
            .filter_map(|e| entity_ids.get(&entity_key(e)))
            .filter(|id| !id.starts_with("identity--"))
            .cloned()
            .collect();
        scos.sort();
        scos.dedup();
        let f_created = rfc3339_millis(f.first_seen);
        let f_modified = rfc3339_millis(f.last_seen.max(f.first_seen));
        let key = format!("{}/{}", c.id, f.id);
        let mut note_refs = vec![grouping.clone()];
        if !scos.is_empty() {
            let od = sdo_id("observed-data", &format!("observed-data:{key}"));
            objects.insert(
                od.clone(),
                json!({
                    "type": "observed-data",
                    "spec_version": "2.1",
                    "id": od,
                    "created_by_ref": skein,
                    "created": f_created,
                    "modified": f_modified,
                    "first_observed": f_created,
                    "last_observed": f_modified,
                    "number_observed": f.events.len().clamp(1, 999_999_999),
                    "object_refs": scos,
                }),
            );
            refs.push(od.clone());
            note_refs.push(od);
        }
        let mut content = format!(
            "{}\n\nSeverity: {}, score {}.\nRule: {}.\nFirst seen {}, last seen {}.",
            f.summary,
            f.severity.as_str(),
            f.score,
            f.rule,
            f_created,
            f_modified
        );
        if !f.attack.is_empty() {
            let _ = write!(content, "\nATT&CK: {}.", f.attack.join(", "));
        }
        if !entities.is_empty() {
            let names: Vec<String> = entities.iter().map(|e| super::entity_label(e)).collect();
            let _ = write!(content, "\nEntities: {}.", names.join(", "));
        }
        if !f.events.is_empty() {
            let _ = write!(content, "\nEvidence events: {}.", f.events.join(", "));
        }
        note_refs.sort();
        let note = sdo_id("note", &format!("note:{key}"));
        objects.insert(
            note.clone(),
            json!({
                "type": "note",
                "spec_version": "2.1",
                "id": note,
                "created_by_ref": skein,
                "created": f_created,
                "modified": f_modified,
                "abstract": format!("{}: {}", f.rule, f.title),
                "content": content,
                "authors": ["skein"],
                "object_refs": note_refs,
            }),
        );
        refs.push(note);
    }

    // Links between entities that have objects.
    for e in &c.graph.edges {
        let (Some(from), Some(to)) = (entity_ids.get(&e.from), entity_ids.get(&e.to)) else {
            continue;
        };
        if from == to {
            continue;
        }
        let id = sdo_id(
            "relationship",
            &format!("link:{}/{}/{}/{}/{}", c.id, e.from, e.to, e.kind, e.reason),
        );
        objects.insert(
            id.clone(),
            json!({
                "type": "relationship",
                "spec_version": "2.1",
                "id": id,
                "created_by_ref": skein,
                "created": created,
                "modified": modified,
                "relationship_type": "related-to",
                "description": format!("{}: {}", e.kind, e.reason),
                "source_ref": from,
                "target_ref": to,
            }),
        );
        refs.push(id);
    }

    refs.sort();
    refs.dedup();
    if refs.is_empty() {
        // `object_refs` must not be empty: a case with nothing else refers to its author.
        refs.push(skein.to_string());
    }
    let mut description = format!(
        "{} case {}, score {} ({}).",
        c.severity.as_str(),
        c.id,
        c.score,
        c.score_parts
            .iter()
            .map(|p| format!("+{} {}", p.points, p.reason))
            .collect::<Vec<_>>()
            .join("; ")
    );
    if !c.tactics.is_empty() {
        let _ = write!(description, "\nTactics: {}.", c.tactics.join(" → "));
    }
    if !c.clouds.is_empty() {
        let _ = write!(description, "\nClouds: {}.", c.clouds.join(", "));
    }
    let mut obj = json!({
        "type": "grouping",
        "spec_version": "2.1",
        "id": grouping,
        "created_by_ref": skein,
        "created": created,
        "modified": modified,
        "name": c.title,
        "description": description,
        "context": "suspicious-activity",
        "object_refs": refs,
    });
    if !c.attack.is_empty() {
        obj["external_references"] = c
            .attack
            .iter()
            .map(|t| json!({ "source_name": "mitre-attack", "external_id": t }))
            .collect();
    }
    objects.insert(grouping, obj);
}

/// The STIX object for an entity, if it has one, with its id.
fn entity_object(
    e: &CaseEntity,
    created: &str,
    modified: &str,
    skein: &str,
) -> Option<(String, Value)> {
    let name = e.name.as_deref().filter(|n| !n.is_empty());
    match e.entity_type {
        EntityType::User | EntityType::App | EntityType::AwsPrincipal | EntityType::AwsSession => {
            let mut contributing = BTreeMap::new();
            contributing.insert("user_id", e.id.as_str());
            if let Some(n) = name {
                contributing.insert("account_login", n);
            }
            let id = sco_id("user-account", &contributing);
            let mut obj = json!({
                "type": "user-account",
                "spec_version": "2.1",
                "id": id,
                "user_id": e.id,
            });
            if let Some(n) = name {
                obj["account_login"] = json!(n);
                obj["display_name"] = json!(n);
            }
            Some((id, obj))
        }
        EntityType::Ip => {
            let ty = match e.id.parse::<IpAddr>().ok()? {
                IpAddr::V4(_) => "ipv4-addr",
                IpAddr::V6(_) => "ipv6-addr",
            };
            let id = sco_id(ty, &BTreeMap::from([("value", e.id.as_str())]));
            let obj = json!({ "type": ty, "spec_version": "2.1", "id": id, "value": e.id });
            Some((id, obj))
        }
        EntityType::Tenant => {
            let id = sdo_id("identity", &format!("tenant:{}", e.id));
            let obj = json!({
                "type": "identity",
                "spec_version": "2.1",
                "id": id,
                "created_by_ref": skein,
                "created": created,
                "modified": modified,
                "name": name.unwrap_or(&e.id),
                "description": format!("Entra tenant {}", e.id),
                "identity_class": "organization",
            });
            Some((id, obj))
        }
        EntityType::Token | EntityType::AwsKey | EntityType::Storage => None,
    }
}

/// A STIX 2.1 deterministic SCO id: UUIDv5 over the canonical JSON of the contributing
/// properties (a `BTreeMap` serialises with sorted keys and no white space).
fn sco_id(ty: &str, contributing: &BTreeMap<&str, &str>) -> String {
    // Serialising a map of strings cannot fail; fall back to a debug form all the same.
    let canonical =
        serde_json::to_string(contributing).unwrap_or_else(|_| format!("{contributing:?}"));
    format!(
        "{ty}--{}",
        Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes())
    )
}

/// An identifier in skein's namespace for what an object stands for.
fn sdo_id(ty: &str, what: &str) -> String {
    format!("{ty}--{}", Uuid::new_v5(&SKEIN_NAMESPACE, what.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sco_ids_match_the_stix2_library() {
        // Ids the OASIS `stix2` library (3.0) computes for the same objects.
        let ip = sco_id("ipv4-addr", &BTreeMap::from([("value", "198.51.100.3")]));
        assert_eq!(ip, "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4");
        let user = sco_id(
            "user-account",
            &BTreeMap::from([("user_id", "abc"), ("account_login", "=x@y")]),
        );
        assert_eq!(user, "user-account--8f0e8ae7-0b12-5bc4-b4ac-22a711e69e89");
    }

    #[test]
    fn skein_namespace_is_uuid5_of_skein() {
        assert_eq!(
            SKEIN_NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"skein")
        );
    }
}
