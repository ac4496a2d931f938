//! The OCSF export: a JSON array with one Detection Finding (class 2004, category 2
//! Findings, schema 1.3.0) per finding of each case.
//!
//! Mapping:
//! - `activity_id` 1 (Create), `type_uid` = `class_uid` × 100 + `activity_id` = 200401;
//! - `severity_id` from the finding's severity (informational 1 … critical 5), `status_id`
//!   1 (New);
//! - `time` (epoch milliseconds) is the finding's `last_seen` (skein has no creation time
//!   that does not depend on when it ran), `start_time`/`end_time` its first and last sight;
//! - `finding_info`: `uid` the finding id, `title`, `desc` the summary, `analytic` the rule,
//!   `attacks` its ATT&CK techniques, first and last seen times;
//! - `metadata`: product `skein`, schema `version`, `correlation_uid` the case id (findings of
//!   one case share it), `uid` `<case id>/<finding id>`;
//! - `observables`: the finding's entities (IP addresses type 2, user names type 4, the rest
//!   type 99 with the entity type in `name`);
//! - `message` the summary.
//!
//! Nothing is custom (no `unmapped`, no extension), so any OCSF consumer takes the records;
//! the case a finding belongs to is its `metadata.correlation_uid`.

use serde_json::{json, Value};

use super::{finding_entities, ExportError};
use crate::model::{Case, CaseFinding};
use skein_model::{EntityType, Severity};

/// The OCSF schema version the records follow.
pub(super) const OCSF_VERSION: &str = "1.3.0";
const CLASS_UID: u32 = 2004;
const CATEGORY_UID: u32 = 2;
const ACTIVITY_CREATE: u32 = 1;

pub(super) fn ocsf(cases: &[Case]) -> Result<String, ExportError> {
    let records: Vec<Value> = cases
        .iter()
        .flat_map(|c| c.findings.iter().map(move |f| record(c, f)))
        .collect();
    let mut out = serde_json::to_string_pretty(&records)?;
    out.push('\n');
    Ok(out)
}

fn record(c: &Case, f: &CaseFinding) -> Value {
    let (severity_id, severity) = severity(f.severity);
    let observables: Vec<Value> = finding_entities(c, f)
        .into_iter()
        .map(|e| {
            let (type_id, type_name) = match e.entity_type {
                EntityType::Ip => (2, "IP Address"),
                EntityType::User => (4, "User Name"),
                _ => (99, "Other"),
            };
            let value = match (e.entity_type, &e.name) {
                (EntityType::User, Some(name)) if !name.is_empty() => name.clone(),
                _ => e.id.clone(),
            };
            json!({
                "name": format!("entity.{}", e.entity_type),
                "type_id": type_id,
                "type": type_name,
                "value": value,
            })
        })
        .collect();
    let attacks: Vec<Value> = f
        .attack
        .iter()
        .map(|t| json!({ "technique": { "uid": t } }))
        .collect();
    let mut finding_info = json!({
        "uid": f.id,
        "title": f.title,
        "desc": f.summary,
        "analytic": { "uid": f.rule, "name": f.rule, "type_id": 1, "type": "Rule" },
        "first_seen_time": f.first_seen.timestamp_millis(),
        "last_seen_time": f.last_seen.timestamp_millis(),
        "related_events_count": f.events.len(),
    });
    if !attacks.is_empty() {
        finding_info["attacks"] = Value::Array(attacks);
    }
    let mut rec = json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": f.last_seen.timestamp_millis(),
        "start_time": f.first_seen.timestamp_millis(),
        "end_time": f.last_seen.timestamp_millis(),
        "message": f.summary,
        "finding_info": finding_info,
        "metadata": {
            "version": OCSF_VERSION,
            "product": { "name": "skein", "vendor_name": "skein" },
            "uid": format!("{}/{}", c.id, f.id),
            "correlation_uid": c.id,
        },
    });
    if !observables.is_empty() {
        rec["observables"] = Value::Array(observables);
    }
    rec
}

/// OCSF `severity_id` and its caption.
fn severity(s: Severity) -> (u32, &'static str) {
    match s {
        Severity::Informational => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}
