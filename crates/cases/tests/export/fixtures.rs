//! Builders for hand-made cases, and the two cases the tests export: the cross-cloud one of
//! `cross_cloud.rs` and a small impossible-travel one. Both carry hostile values where an
//! export could go wrong: a formula UPN, `<script>` in a summary and a user agent, quotes and
//! backslashes.

use chrono::{DateTime, TimeZone, Utc};
use skein_cases::{
    Case, CaseEntity, CaseFinding, CaseGraph, GraphEdge, GraphNode, ScorePart, TimelineEntry,
};
use skein_model::{EntityRole, EntityType, Severity, Source};

/// A UPN that a spreadsheet would run as a formula.
pub const FORMULA_UPN: &str = "=HYPERLINK(\"http://evil\",\"x\")@contoso.com";
/// Markup that must never reach a browser as markup.
pub const SCRIPT: &str = "<script>alert(1)</script>";

pub(crate) fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, s)
        .single()
        .expect("a valid fixed time")
}

pub(crate) fn entity(
    ty: EntityType,
    id: &str,
    name: Option<&str>,
    roles: &[EntityRole],
    findings: usize,
    joins: bool,
) -> CaseEntity {
    CaseEntity {
        entity_type: ty,
        id: id.into(),
        name: name.map(Into::into),
        roles: roles.to_vec(),
        findings,
        joins,
    }
}

pub(crate) fn node(e: &CaseEntity) -> GraphNode {
    GraphNode {
        key: format!("{}:{}", e.entity_type, e.id),
        entity_type: e.entity_type,
        id: e.id.clone(),
        name: e.name.clone(),
    }
}

pub(crate) fn link(from: &CaseEntity, to: &CaseEntity, finding: &str, rule: &str) -> GraphEdge {
    GraphEdge {
        from: format!("{}:{}", from.entity_type, from.id),
        to: format!("{}:{}", to.entity_type, to.id),
        kind: "finding".into(),
        reason: format!("named together by {finding} ({rule})"),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn finding(
    id: &str,
    rule: &str,
    title: &str,
    severity: Severity,
    score: u32,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    summary: &str,
    attack: &[&str],
    events: &[&str],
) -> CaseFinding {
    CaseFinding {
        id: id.into(),
        rule: rule.into(),
        title: title.into(),
        severity,
        score,
        first_seen: first,
        last_seen: last,
        summary: summary.into(),
        attack: attack.iter().map(|s| s.to_string()).collect(),
        events: events.iter().map(|s| s.to_string()).collect(),
        entities: Vec::new(),
    }
}

/// Fills each finding's entities as the builder does: the ends of the graph's edges made by
/// that finding (every entity, in a case of one finding).
pub(crate) fn fill_entities(mut case: Case) -> Case {
    let all: Vec<String> = case
        .entities
        .iter()
        .map(|e| format!("{}:{}", e.entity_type, e.id))
        .collect();
    let single = case.findings.len() == 1;
    for f in &mut case.findings {
        let mut keys: Vec<String> = if single {
            all.clone()
        } else {
            case.graph
                .edges
                .iter()
                .filter(|e| e.kind == "finding" && e.reason.contains(&f.id))
                .flat_map(|e| [e.from.clone(), e.to.clone()])
                .collect()
        };
        keys.sort();
        keys.dedup();
        f.entities = keys;
    }
    case
}

pub(crate) fn on_finding(time: DateTime<Utc>, f: &CaseFinding) -> TimelineEntry {
    TimelineEntry {
        time,
        kind: "finding".into(),
        finding: f.id.clone(),
        rule: f.rule.clone(),
        source: None,
        event: None,
        text: f.summary.clone(),
    }
}

pub(crate) fn on_event(
    time: DateTime<Utc>,
    f: &CaseFinding,
    source: Source,
    event: &str,
    text: &str,
) -> TimelineEntry {
    TimelineEntry {
        time,
        kind: "event".into(),
        finding: f.id.clone(),
        rule: f.rule.clone(),
        source: Some(source),
        event: Some(event.into()),
        text: text.into(),
    }
}

/// The small case: one impossible-travel finding for bob.
pub fn travel() -> Case {
    let bob = entity(
        EntityType::User,
        "bob@contoso.com",
        Some("Bob \"the builder\" O'Neil"),
        &[EntityRole::Actor],
        1,
        true,
    );
    let from = entity(
        EntityType::Ip,
        "198.51.100.23",
        None,
        &[EntityRole::Source],
        1,
        true,
    );
    let to = entity(
        EntityType::Ip,
        "192.0.2.200",
        None,
        &[EntityRole::Source],
        1,
        true,
    );
    let f = finding(
        "F-4e5f607182930415",
        "impossible_travel",
        "Impossible travel",
        Severity::Medium,
        45,
        t(14, 0, 0),
        t(14, 30, 0),
        "bob@contoso.com signed in from Oslo then Sydney 30 minutes later (31,000 km/h)\nsecond line",
        &["T1078"],
        &["sig-101", "sig-102"],
    );
    fill_entities(Case {
        id: "C-0b1e2d3c4a5f6789".into(),
        title: "Impossible travel for \"bob\" (CONTOSO\\bob)".into(),
        severity: Severity::Medium,
        score: 45,
        score_parts: vec![ScorePart {
            points: 45,
            reason: "worst finding: impossible travel (medium)".into(),
        }],
        first_seen: f.first_seen,
        last_seen: f.last_seen,
        tactics: vec!["initial-access".into()],
        attack: vec!["T1078".into()],
        clouds: vec!["azure".into()],
        timeline: vec![
            on_finding(f.first_seen, &f),
            on_event(
                t(14, 0, 0),
                &f,
                Source::EntraSignin,
                "sig-101",
                "sign-in from Oslo",
            ),
            on_event(
                t(14, 30, 0),
                &f,
                Source::EntraSignin,
                "sig-102",
                "sign-in from Sydney",
            ),
        ],
        graph: CaseGraph {
            nodes: vec![node(&bob), node(&from), node(&to)],
            edges: vec![
                link(&bob, &from, &f.id, &f.rule),
                link(&bob, &to, &f.id, &f.rule),
            ],
        },
        findings: vec![f],
        entities: vec![bob, from, to],
        hubs: vec![],
    })
}

/// Both cases, the small one first (the exports sort them).
pub fn cases() -> Vec<Case> {
    use crate::cross_cloud::cross_cloud;
    vec![travel(), cross_cloud()]
}
