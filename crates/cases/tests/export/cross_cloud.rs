//! The cross-cloud fixture case: a password spray from one address, the risky sign-in it led
//! to, blob reads with a replayed token and AWS reconnaissance by a role session named after
//! the same user, with a formula UPN among the spray's targets and `<script>` in a summary.

use skein_cases::{Case, CaseGraph, GraphEdge, HubEntity, ScorePart};
use skein_model::{EntityRole, EntityType, Severity, Source};

use crate::fixtures::{entity, finding, link, node, on_event, on_finding, t, FORMULA_UPN, SCRIPT};

/// The cross-cloud case.
pub fn cross_cloud() -> Case {
    use EntityRole::{Actor, Resource, Source as Src, Target};
    let alice = entity(
        EntityType::User,
        "3f2c9a10-7b4e-4d2a-9c55-0e8d1f6a2b7c",
        Some("alice@contoso.com"),
        &[Actor, Target],
        3,
        true,
    );
    let mallory = entity(
        EntityType::User,
        "9d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6",
        Some(FORMULA_UPN),
        &[Target],
        1,
        false,
    );
    let ip = entity(EntityType::Ip, "203.0.113.7", None, &[Src], 3, true);
    let ip6 = entity(EntityType::Ip, "2001:db8::7", None, &[Src], 1, true);
    let token = entity(
        EntityType::Token,
        "sess-\"quoted\"\\back",
        None,
        &[Actor],
        1,
        true,
    );
    let storage = entity(
        EntityType::Storage,
        "contosodata",
        None,
        &[Resource],
        1,
        false,
    );
    let tenant = entity(
        EntityType::Tenant,
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        None,
        &[Resource],
        2,
        false,
    );
    let session = entity(
        EntityType::AwsSession,
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@contoso.com",
        None,
        &[Actor],
        1,
        true,
    );
    let principal = entity(
        EntityType::AwsPrincipal,
        "arn:aws:iam::123456789012:role/Admin",
        None,
        &[Actor],
        1,
        true,
    );
    let key = entity(
        EntityType::AwsKey,
        "ASIAEXAMPLEKEY000001",
        None,
        &[Actor],
        1,
        true,
    );

    let spray = finding(
        "F-0a1b2c3d4e5f6071",
        "entra_password_spray",
        "Password spray",
        Severity::High,
        60,
        t(8, 0, 0),
        t(8, 20, 0),
        "12 accounts tried from 203.0.113.7 in 20 minutes, 1 succeeded",
        &["T1110.003"],
        &["sig-001", "sig-002", "sig-003"],
    );
    let risky = finding(
        "F-1b2c3d4e5f607182",
        "entra_risky_signin",
        "Risky sign-in succeeded",
        Severity::High,
        70,
        t(8, 21, 5),
        t(8, 21, 5),
        &format!("alice@contoso.com signed in from 203.0.113.7 with user agent \"{SCRIPT}\" (C:\\Users\\x)"),
        &["T1078.004"],
        &["sig-004"],
    );
    let blob = finding(
        "F-2c3d4e5f60718293",
        "storage_token_replay",
        "Blob read with a token from no sign-in",
        Severity::Medium,
        50,
        t(8, 40, 0),
        t(8, 55, 30),
        "37 blobs read from contosodata with a session token seen in no sign-in | pipe `tick`",
        &["T1528", "T1530"],
        &["blob-77", "blob-78"],
    );
    let recon = finding(
        "F-3d4e5f6071829304",
        "aws_recon_burst",
        "AWS reconnaissance burst",
        Severity::High,
        65,
        t(9, 5, 0),
        t(9, 9, 0),
        "48 List*/Describe* calls in 4 minutes by the Admin role session named after alice@contoso.com",
        &["T1580", "T1087.004"],
        &["ct-9001", "ct-9002"],
    );

    let nodes = [
        &alice, &mallory, &ip, &ip6, &token, &storage, &tenant, &session, &principal, &key,
    ]
    .iter()
    .map(|e| node(e))
    .collect();
    let edges = vec![
        link(&ip, &alice, &spray.id, &spray.rule),
        link(&ip, &mallory, &spray.id, &spray.rule),
        link(&ip, &tenant, &spray.id, &spray.rule),
        link(&alice, &ip, &risky.id, &risky.rule),
        link(&alice, &tenant, &risky.id, &risky.rule),
        link(&token, &storage, &blob.id, &blob.rule),
        link(&token, &alice, &blob.id, &blob.rule),
        link(&session, &ip6, &recon.id, &recon.rule),
        link(&session, &principal, &recon.id, &recon.rule),
        link(&session, &key, &recon.id, &recon.rule),
        GraphEdge {
            from: format!("awssession:{}", session.id),
            to: format!("user:{}", alice.id),
            kind: "session_name".into(),
            reason: "AWS role session \"alice@contoso.com\" equals the Entra user's UPN".into(),
        },
    ];

    let timeline = vec![
        on_finding(spray.first_seen, &spray),
        on_event(
            t(8, 0, 0),
            &spray,
            Source::EntraSignin,
            "sig-001",
            "failed sign-in for alice@contoso.com (50126)",
        ),
        on_event(
            t(8, 10, 0),
            &spray,
            Source::EntraSignin,
            "sig-002",
            &format!("failed sign-in for {FORMULA_UPN} (50126)"),
        ),
        on_event(
            t(8, 20, 0),
            &spray,
            Source::EntraSignin,
            "sig-003",
            "sign-in succeeded for alice@contoso.com",
        ),
        on_finding(risky.first_seen, &risky),
        on_event(
            t(8, 21, 5),
            &risky,
            Source::EntraSignin,
            "sig-004",
            &format!("user agent {SCRIPT}"),
        ),
        on_finding(blob.first_seen, &blob),
        on_event(
            t(8, 40, 0),
            &blob,
            Source::StorageBlob,
            "blob-77",
            "GetBlob container/\"secrets\".txt",
        ),
        on_finding(recon.first_seen, &recon),
        on_event(
            t(9, 5, 0),
            &recon,
            Source::Cloudtrail,
            "ct-9001",
            "ListUsers by Admin/alice@contoso.com",
        ),
    ];

    crate::fixtures::fill_entities(Case {
        id: "C-3f9a1c0d5e7b2a41".into(),
        title: "alice@contoso.com: password spray to AWS reconnaissance across clouds".into(),
        severity: Severity::Critical,
        score: 92,
        score_parts: vec![
            ScorePart {
                points: 40,
                reason: "worst finding: risky sign-in succeeded (high)".into(),
            },
            ScorePart {
                points: 30,
                reason: "spans azure and aws".into(),
            },
            ScorePart {
                points: 22,
                reason: "4 tactics: credential-access → initial-access → collection → discovery"
                    .into(),
            },
        ],
        first_seen: t(8, 0, 0),
        last_seen: t(9, 9, 0),
        tactics: vec![
            "credential-access".into(),
            "initial-access".into(),
            "collection".into(),
            "discovery".into(),
        ],
        attack: vec![
            "T1087.004".into(),
            "T1078.004".into(),
            "T1110.003".into(),
            "T1528".into(),
            "T1530".into(),
            "T1580".into(),
        ],
        clouds: vec!["azure".into(), "aws".into()],
        findings: vec![recon, spray, risky, blob],
        entities: vec![
            alice, ip, token, session, principal, key, ip6, mallory, storage, tenant,
        ],
        timeline,
        graph: CaseGraph { nodes, edges },
        hubs: vec![HubEntity {
            entity_type: EntityType::Ip,
            id: "198.51.100.10".into(),
            accounts: 4200,
        }],
    })
}
