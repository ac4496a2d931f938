//! Case building over hand-made findings: the cross-cloud chain is one case, unrelated
//! attacks stay apart even when they tried the same users, shared addresses join nothing,
//! the window holds, and ids survive a re-run that adds findings.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use skein_cases::{build_cases, Case, CaseConfig, IssuedKey, Observed, PreviousCase, RuleInfo};
use skein_model::{EntityRef, EntityRole, EntityType, Finding, FindingEntity, Severity};

fn t(h: i64, m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap() + TimeDelta::hours(h) + TimeDelta::minutes(m)
}

fn ent(ty: EntityType, id: &str, role: EntityRole, name: Option<&str>) -> FindingEntity {
    FindingEntity {
        entity_type: ty,
        id: id.into(),
        role,
        name: name.map(str::to_string),
    }
}

fn finding(
    id: &str,
    rule: &str,
    at: DateTime<Utc>,
    score: u32,
    entities: Vec<FindingEntity>,
) -> Finding {
    Finding {
        id: id.into(),
        rule: rule.into(),
        title: rule.replace('-', " "),
        severity: Severity::High,
        score,
        first_seen: at,
        last_seen: at + TimeDelta::minutes(5),
        entities,
        events: vec![format!("{id}-e1")],
        attack: vec![],
        summary: format!("{rule} summary"),
        fields: serde_json::Map::new(),
    }
}

const VICTIM: &str = "0a1b2c3d-0000-4000-8000-000000000001";
const UPN: &str = "Victim@Contoso.com";
const A: &str = "203.0.113.66";
const B: &str = "2a0b:f4c2:2::1b:7e";

fn user(id: &str, role: EntityRole) -> FindingEntity {
    ent(EntityType::User, id, role, None)
}

fn ip(id: &str) -> FindingEntity {
    ent(EntityType::Ip, id, EntityRole::Source, None)
}

/// Spray from A (victim among the targets) → risky success from A → OAuth blob access from B
/// by the victim's object id → AWS recon with a SAML session named after the victim's UPN.
fn chain() -> Vec<Finding> {
    let mut spray_targets: Vec<FindingEntity> = (0..20)
        .map(|i| user(&format!("u{i}@contoso.com"), EntityRole::Target))
        .collect();
    spray_targets.push(user(UPN, EntityRole::Target));
    spray_targets.push(ip(A));
    let session = "arn:aws:sts::111122223333:assumed-role/EntraSSO-Admin/victim@contoso.com";
    vec![
        finding("F-spray", "password-spray", t(20, 30), 70, spray_targets),
        finding(
            "F-risky",
            "risky-signin",
            t(20, 40),
            75,
            vec![
                ent(EntityType::User, VICTIM, EntityRole::Actor, Some(UPN)),
                ip(A),
            ],
        ),
        finding(
            "F-blob",
            "oauth-blob-without-signin",
            t(21, 20),
            70,
            vec![
                ent(EntityType::User, VICTIM, EntityRole::Actor, Some(UPN)),
                ip(B),
            ],
        ),
        finding(
            "F-recon",
            "aws-recon-burst",
            t(21, 52),
            60,
            vec![
                ent(EntityType::AwsKey, "ASIAXYZ", EntityRole::Actor, None),
                ent(
                    EntityType::AwsSession,
                    session,
                    EntityRole::Actor,
                    Some("victim@contoso.com"),
                ),
                ip("198.51.100.9"),
            ],
        ),
    ]
}

fn rules() -> HashMap<String, RuleInfo> {
    let info = |tactics: &[&str], clouds: &[&str]| RuleInfo {
        tactics: tactics.iter().map(|s| s.to_string()).collect(),
        clouds: clouds.iter().map(|s| s.to_string()).collect(),
    };
    HashMap::from([
        (
            "password-spray".to_string(),
            info(&["credential-access"], &["azure"]),
        ),
        (
            "risky-signin".to_string(),
            info(&["initial-access"], &["azure"]),
        ),
        (
            "oauth-blob-without-signin".to_string(),
            info(&["defense-evasion", "collection"], &["azure"]),
        ),
        (
            "aws-recon-burst".to_string(),
            info(&["discovery"], &["aws"]),
        ),
    ])
}

fn cases(findings: &[Finding]) -> Vec<Case> {
    build_cases(
        findings,
        &rules(),
        &Observed::default(),
        &[],
        &CaseConfig::default(),
    )
}

fn ids_of(c: &Case) -> Vec<&str> {
    c.findings.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn the_cross_cloud_chain_is_one_case() {
    let got = cases(&chain());
    assert_eq!(got.len(), 1, "{got:#?}");
    let c = &got[0];
    assert_eq!(ids_of(c), ["F-spray", "F-risky", "F-blob", "F-recon"]);
    assert_eq!(c.clouds, ["aws", "azure"]);
    assert_eq!(
        c.tactics,
        [
            "credential-access",
            "initial-access",
            "defense-evasion",
            "collection",
            "discovery"
        ]
    );
    assert_eq!(c.severity, Severity::Critical);
    assert_eq!(c.score, 100);
    assert!(c.score_parts.iter().any(|p| p.reason.contains("2 clouds")));
    // The UPN and the object id are one user; the session is linked to it by name.
    let users: Vec<_> = c.entities.iter().filter(|e| e.id == VICTIM).collect();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name.as_deref(), Some(UPN));
    assert!(c
        .graph
        .edges
        .iter()
        .any(|e| e.kind == "session_name" && e.reason.contains("victim@contoso.com")));
    assert!(c.title.contains(UPN), "{}", c.title);
}

#[test]
fn two_sprays_that_tried_the_same_users_stay_apart() {
    let mut findings = chain();
    let mut other: Vec<FindingEntity> = (0..10)
        .map(|i| user(&format!("u{i}@contoso.com"), EntityRole::Target))
        .collect();
    other.push(user(UPN, EntityRole::Target));
    other.push(ip("192.0.2.200"));
    findings.push(finding("F-spray2", "password-spray", t(20, 35), 70, other));
    let got = cases(&findings);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(ids_of(&got[0]), ["F-spray", "F-risky", "F-blob", "F-recon"]);
    assert_eq!(ids_of(&got[1]), ["F-spray2"]);
}

#[test]
fn an_address_shared_by_many_accounts_joins_nothing() {
    let nat = "198.51.100.1";
    let findings = vec![
        finding(
            "F-a",
            "risky-signin",
            t(9, 0),
            60,
            vec![user("a@contoso.com", EntityRole::Actor), ip(nat)],
        ),
        finding(
            "F-b",
            "risky-signin",
            t(10, 0),
            60,
            vec![user("b@contoso.com", EntityRole::Actor), ip(nat)],
        ),
    ];
    let joined = cases(&findings);
    assert_eq!(joined.len(), 1, "below the threshold the address joins");
    let seen = HashMap::from([(EntityRef::new(EntityType::Ip, nat).unwrap(), 300)]);
    let observed = Observed {
        accounts_seen: seen,
        ..Observed::default()
    };
    let apart = build_cases(&findings, &rules(), &observed, &[], &CaseConfig::default());
    assert_eq!(apart.len(), 2, "{apart:#?}");
    for c in &apart {
        assert_eq!(c.hubs.len(), 1);
        assert_eq!(c.hubs[0].accounts, 300);
        assert!(c.entities.iter().any(|e| e.id == nat && !e.joins));
    }
}

#[test]
fn findings_further_apart_than_the_window_stay_apart() {
    let f = |id: &str, at| {
        finding(
            id,
            "risky-signin",
            at,
            60,
            vec![user("a@contoso.com", EntityRole::Actor)],
        )
    };
    let findings = vec![f("F-1", t(0, 0)), f("F-2", t(24, 4)), f("F-3", t(72, 0))];
    let got = cases(&findings);
    let groups: Vec<Vec<&str>> = got.iter().map(ids_of).collect();
    assert_eq!(groups, vec![vec!["F-1", "F-2"], vec!["F-3"]]);
}

#[test]
fn a_case_keeps_its_id_when_it_gains_findings() {
    let all = chain();
    let first = cases(&all[1..3]);
    assert_eq!(first.len(), 1);
    let previous = vec![PreviousCase {
        id: first[0].id.clone(),
        findings: ids_of(&first[0]).iter().map(|s| s.to_string()).collect(),
    }];
    let again = build_cases(
        &all,
        &rules(),
        &Observed::default(),
        &previous,
        &CaseConfig::default(),
    );
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].id, first[0].id,
        "the earlier spray joined; the id stays"
    );
    let fresh = cases(&all);
    assert_eq!(cases(&all)[0].id, fresh[0].id, "deterministic");
}

/// A recon burst whose session is not named after anyone joins the user its key was issued
/// to (`AssumeRoleWithSAML`), even from an unrelated address.
#[test]
fn a_key_issued_to_a_user_joins_that_users_case() {
    let mut findings = chain();
    findings.pop();
    findings.push(finding(
        "F-recon",
        "aws-recon-burst",
        t(21, 52),
        60,
        vec![
            ent(EntityType::AwsKey, "ASIAXYZ", EntityRole::Actor, None),
            ent(
                EntityType::AwsSession,
                "arn:aws:sts::111122223333:assumed-role/EntraSSO-Admin/sess-42",
                EntityRole::Actor,
                Some("sess-42"),
            ),
            ip("198.51.100.9"),
        ],
    ));
    assert_eq!(cases(&findings).len(), 2, "nothing links the key yet");
    let observed = Observed {
        issued_keys: vec![IssuedKey {
            key: EntityRef::new(EntityType::AwsKey, "ASIAXYZ").unwrap(),
            user: "victim@contoso.com".into(),
            reason: "AssumeRoleWithSAML issued it to SAML user victim@contoso.com".into(),
        }],
        ..Observed::default()
    };
    let got = build_cases(&findings, &rules(), &observed, &[], &CaseConfig::default());
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].graph.edges.iter().any(|e| e.kind == "issued_key"));
}

/// An id held by a stored case the build does not rebuild is never given to a new case.
#[test]
fn ids_of_cases_kept_as_they_are_are_not_reused() {
    let findings = vec![finding(
        "F-x",
        "risky-signin",
        t(1, 0),
        60,
        vec![user("x@contoso.com", EntityRole::Actor)],
    )];
    let alone = cases(&findings);
    let mut observed = Observed::default();
    observed.other_case_ids.insert(alone[0].id.clone());
    let again = build_cases(&findings, &rules(), &observed, &[], &CaseConfig::default());
    assert_ne!(again[0].id, alone[0].id);
    assert!(again[0].id.starts_with("C-"));
}

/// Findings that name the same two entities make one link between them (with how many and
/// which rules), not one link each: a device account flagged every few minutes would
/// otherwise draw thousands of edges between a handful of entities.
#[test]
fn repeated_findings_between_the_same_entities_make_one_link() {
    let office = "192.0.2.10";
    let mut findings: Vec<Finding> = (0..5)
        .map(|i| {
            finding(
                &format!("F-scan{i}"),
                "legacy-auth-signin",
                t(1, 10 * i),
                40,
                vec![user("scanner@contoso.com", EntityRole::Actor), ip(office)],
            )
        })
        .collect();
    findings.push(finding(
        "F-risky",
        "risky-signin",
        t(2, 0),
        60,
        vec![user("scanner@contoso.com", EntityRole::Actor), ip(office)],
    ));
    let got = cases(&findings);
    assert_eq!(got.len(), 1, "{got:#?}");
    let edges = &got[0].graph.edges;
    assert_eq!(edges.len(), 1, "{edges:#?}");
    assert_eq!(edges[0].kind, "finding");
    assert_eq!(
        edges[0].reason,
        "named together by 6 findings (legacy-auth-signin, risky-signin), the first F-scan0"
    );
    // A link made by one finding still names it.
    let one = cases(&findings[5..]);
    assert_eq!(
        one[0].graph.edges[0].reason,
        "named together by F-risky (risky-signin)"
    );
}
