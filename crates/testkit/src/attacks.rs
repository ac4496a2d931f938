//! The attack scenarios of the seeds' Testing Methodology and their near misses: password spray
//! (fast and slow), anonymizing proxy, OAuth token replay to blob storage, AWS reconnaissance,
//! impossible travel, and the cross-cloud chain that joins them.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use crate::aws;
use crate::blob::make as make_blob;
use crate::blob::{AuthKind, Requester};
use crate::catalog::{self, CITIES};
use crate::cloudtrail::Identity;
use crate::event::Payload;
use crate::json::ip_text;
use crate::scenarios::{Builder, ATTACKER_UA, TOR_EXITS};
use crate::signin;
use crate::time::{HOUR, MIN, SEC};
use crate::writers::Shape;

/// Fast spray: one IP, 25 users failing 50126 within seven minutes, then one success for a
/// sprayed user from the same IP. Returns the targets (the chain's spray reuses some).
pub fn password_spray(b: &mut Builder) -> Vec<usize> {
    let sc = b.scenario(
        "password_spray",
        "attack",
        "Password spray: one IP, 25 distinct users failing with 50126 within seven minutes, then a successful sign-in for one sprayed user from the same IP three minutes later.",
        &["password-spray"],
        &[],
    );
    let ip = b.ip(catalog::BUCHAREST);
    let targets: Vec<usize> = (0..25).map(|_| b.take_user(None)).collect();
    for (i, &u) in targets.iter().enumerate() {
        let t = b.at(3, 12, 0) + i as i64 * 17 * SEC;
        let mut s = b.attacker_signin(u, t, ip, catalog::BUCHAREST);
        s.error = 50126;
        s.ca_status = "notApplied";
        b.push(
            sc,
            "spray_failure_50126",
            Payload::SignIn(Box::new(s)),
            None,
        );
    }
    let victim = targets[7];
    b.exclusive(victim);
    let mut s = b.attacker_signin(victim, b.at(3, 22, 5), ip, catalog::BUCHAREST);
    s.ca_status = "notApplied";
    s.auth_req = "multiFactorAuthentication";
    s.mfa = Some("Previously satisfied");
    b.push(
        sc,
        "spray_success",
        Payload::SignIn(Box::new(s)),
        Some(Shape::GraphPage),
    );
    targets
}

/// Slow spray: 24 users from one IP, one attempt every ten minutes (never five in a window).
pub fn slow_spray(b: &mut Builder) {
    let sc = b.scenario(
        "password_spray_slow",
        "near_miss",
        "Slow spray: 24 users failing 50126 from one IP, one attempt every 10-11 minutes over four hours; no ten-minute window holds five distinct users.",
        &[],
        &["password-spray"],
    );
    let ip = b.ip(catalog::AMSTERDAM);
    for i in 0..24 {
        let u = b.take_user(None);
        let t = b.at(5, 0, 0) + i * 10 * MIN + b.rng.range(0, 50) * SEC;
        let mut s = b.attacker_signin(u, t, ip, catalog::AMSTERDAM);
        s.error = 50126;
        s.ca_status = "notApplied";
        b.push(
            sc,
            "slow_spray_failure_50126",
            Payload::SignIn(Box::new(s)),
            None,
        );
    }
}

pub fn anonymizing_proxy(b: &mut Builder) {
    let sc = b.scenario(
        "anonymizing_proxy_signin",
        "attack",
        "Successful sign-in from a Tor exit with riskEventTypes_v2 anonymizedIPAddress and riskLevelDuringSignIn medium.",
        &["anonymizing-proxy-signin", "risky-signin", "elastic-t1586-003", "logscale-t1586-003", "sumo-t1586-003", "qradar-t1586-003"],
        &[],
    );
    let u = b.take_user(None);
    b.exclusive(u);
    let ip = IpAddr::V4(Ipv4Addr::from(TOR_EXITS[0]));
    let mut s = b.attacker_signin(u, b.at(13, 37, 12), ip, catalog::FRANKFURT);
    signin::set_app(&mut s, &catalog::APP_OFFICE_HOME);
    s.client_app = "Browser";
    s.auth_req = "multiFactorAuthentication";
    s.mfa = Some("Mobile app notification");
    s.risk_events = &["anonymizedIPAddress"];
    s.risk_level = "medium";
    s.risk_agg = "medium";
    s.risk_state = "atRisk";
    s.risk_detail = "none";
    b.push(
        sc,
        "tor_signin_anonymized_medium",
        Payload::SignIn(Box::new(s)),
        Some(Shape::LaSigninNdjson),
    );

    let sc2 = b.scenario(
        "tor_exit_signin_unflagged",
        "attack",
        "Successful sign-in from a Tor exit address that Identity Protection did not flag (no risk fields); only a local Tor exit list catches it.",
        &["anonymizing-proxy-signin"],
        &[],
    );
    let u = b.take_user(None);
    b.exclusive(u);
    let ip = IpAddr::V4(Ipv4Addr::from(TOR_EXITS[1]));
    let mut s = b.attacker_signin(u, b.at(13, 52, 40), ip, catalog::FRANKFURT);
    signin::set_app(&mut s, &catalog::APP_OFFICE_HOME);
    s.client_app = "Browser";
    s.auth_req = "multiFactorAuthentication";
    s.mfa = Some("Mobile app notification");
    b.push(
        sc2,
        "tor_signin_no_risk",
        Payload::SignIn(Box::new(s)),
        Some(Shape::DiagJsonl),
    );
}

#[allow(clippy::too_many_arguments)]
fn blob_ops(
    b: &mut Builder,
    sc: usize,
    label: &'static str,
    t: i64,
    u: usize,
    ip: IpAddr,
    ua: &'static str,
    ops: &[&'static str],
    auth: AuthKind,
) {
    let pop = b.pop;
    let mut at = t;
    for (i, op) in ops.iter().enumerate() {
        let container = if auth == AuthKind::OAuth {
            "payroll"
        } else {
            "shared"
        };
        let account = if auth == AuthKind::OAuth { 0 } else { 1 };
        let mut blob = make_blob(&mut b.rng, at, account, op, auth, ip, container, ua);
        if auth == AuthKind::OAuth {
            let user = &pop.users[u];
            blob.requester = Some(Requester {
                object_id: user.id,
                upn: user.upn.clone(),
                app_id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                tenant: pop.tenant,
            });
        } else {
            blob.token_hash = Some(b.rng.hex(64).to_uppercase());
        }
        let shape = if i % 2 == 0 {
            Shape::BlobDiag
        } else {
            Shape::BlobLaNdjson
        };
        b.push(sc, label, Payload::Blob(Box::new(blob)), Some(shape));
        at += b.rng.range(2, 9) * SEC + b.rng.range(0, 999_999);
    }
}

pub fn oauth_blob(b: &mut Builder) {
    let py = "azsdk-python-storage-blob/12.22.0 Python/3.11.9 (Linux-6.5.0-kali3-amd64-x86_64-with-glibc2.37)";
    let sc = b.scenario(
        "oauth_blob_token_replay",
        "attack",
        "OAuth token replay to blob storage: ListBlobs and GetBlob with the victim's object id from an IP the victim never signed in from (the victim's only sign-in that day is from home); no sign-in by that user from that IP in the previous 24 hours.",
        &["oauth-blob-without-signin"],
        &[],
    );
    let u = b.take_user(Some(catalog::LONDON));
    b.exclusive(u);
    let home = b.pop.users[u].home_ip;
    let s = b.member_signin(u, b.at(14, 10, 3), home, b.pop.users[u].home);
    b.push(
        sc,
        "victim_signin_other_ip",
        Payload::SignIn(Box::new(s)),
        None,
    );
    let attacker = b.ip(catalog::SAO_PAULO);
    blob_ops(
        b,
        sc,
        "replayed_token_blob_access",
        b.at(15, 0, 0),
        u,
        attacker,
        py,
        &["ListBlobs", "GetBlob", "GetBlob", "GetBlob"],
        AuthKind::OAuth,
    );

    let sc = b.scenario(
        "oauth_blob_after_signin",
        "near_miss",
        "OAuth blob access 20 minutes after the same user's successful sign-in from the same IP.",
        &[],
        &["oauth-blob-without-signin"],
    );
    let u = b.take_user(Some(catalog::LONDON));
    b.exclusive(u);
    let ip = b.ip(catalog::LONDON);
    let s = b.member_signin(u, b.at(15, 40, 11), ip, catalog::LONDON);
    b.push(sc, "signin_before_blob", Payload::SignIn(Box::new(s)), None);
    blob_ops(
        b,
        sc,
        "blob_access_after_signin",
        b.at(16, 0, 0),
        u,
        ip,
        py,
        &["ListBlobs", "GetBlob", "GetBlob"],
        AuthKind::OAuth,
    );

    let sc = b.scenario(
        "sas_blob_unusual_ip",
        "out_of_scope",
        "SAS-authenticated blob reads from an IP never seen before; there is no OAuth requester, so the OAuth-without-sign-in rule does not apply.",
        &[],
        &["oauth-blob-without-signin"],
    );
    let ip = b.ip(catalog::LAGOS);
    blob_ops(
        b,
        sc,
        "sas_blob_access",
        b.at(16, 30, 0),
        0,
        ip,
        "curl/8.5.0",
        &["GetBlob", "GetBlob", "GetBlob"],
        AuthKind::Sas,
    );
}

const RECON: [&str; 5] = [
    "GetCallerIdentity",
    "ListAttachedUserPolicies",
    "ListGroupsForUser",
    "ListBuckets",
    "DescribeInstances",
];

/// Five recon calls by `id` from `ip`, at `t + offsets[i]`.
#[allow(clippy::too_many_arguments)]
pub fn recon_calls(
    b: &mut Builder,
    sc: usize,
    label: &'static str,
    t: i64,
    offsets: &[i64],
    ip: &str,
    ids: &[Identity],
    account: usize,
    user_name: &str,
) {
    for (i, api) in RECON.iter().enumerate() {
        let region = aws::region_for(api, "us-east-1");
        let id = ids[i % ids.len()].clone();
        let r = aws::call(
            &mut b.rng,
            b.pop,
            t + offsets[i],
            api,
            region,
            ip,
            Cow::Borrowed(catalog::ATTACKER_CLI_UA),
            id,
            account,
            user_name,
        );
        b.push(sc, label, Payload::Ct(Box::new(r)), None);
    }
}

/// An IAM user of the first account with a fresh long-term access key and no console.
fn keyed_iam_user(b: &mut Builder, name: &str) -> Identity {
    let principal_id = format!("AIDA{}", b.rng.string_from(crate::rng::ALNUM_UPPER, 17));
    let key = crate::rng::aws_key(&mut b.rng, "AKIA");
    Identity::IamUser {
        account: 0,
        name: name.to_string(),
        principal_id,
        key: Some(key),
        console: None,
    }
}

pub fn aws_recon(b: &mut Builder) {
    let sc = b.scenario(
        "aws_recon_burst",
        "attack",
        "AWS credential validation and reconnaissance: GetCallerIdentity, ListAttachedUserPolicies, ListGroupsForUser, ListBuckets, DescribeInstances from one access key, source IP and aws-cli/2.x user agent within 75 seconds.",
        &["aws-recon-burst"],
        &[],
    );
    let ip = ip_text(&b.ip(catalog::DALLAS));
    let id = keyed_iam_user(b, "svc-reporting");
    recon_calls(
        b,
        sc,
        "recon_call",
        b.at(18, 5, 0),
        &[0, 9 * SEC, 22 * SEC, 41 * SEC, 75 * SEC],
        &ip,
        &[id],
        0,
        "svc-reporting",
    );

    let sc = b.scenario(
        "aws_recon_slow",
        "near_miss",
        "The same five reconnaissance calls from one key, IP and user agent spread over 30 minutes (never four within two minutes).",
        &[],
        &["aws-recon-burst"],
    );
    let ip = ip_text(&b.ip(catalog::DALLAS));
    let id = keyed_iam_user(b, "svc-etl");
    recon_calls(
        b,
        sc,
        "slow_recon_call",
        b.at(18, 30, 0),
        &[0, 7 * MIN, 14 * MIN, 21 * MIN, 29 * MIN],
        &ip,
        &[id],
        0,
        "svc-etl",
    );

    let sc = b.scenario(
        "aws_recon_distributed_keys",
        "near_miss",
        "The same five reconnaissance calls within 90 seconds from one IP and user agent, but each from a different access key (five keys).",
        &[],
        &["aws-recon-burst"],
    );
    let ip = ip_text(&b.ip(catalog::DALLAS));
    let ids: Vec<Identity> = (0..5)
        .map(|i| keyed_iam_user(b, &format!("svc-batch-{i}")))
        .collect();
    recon_calls(
        b,
        sc,
        "distributed_recon_call",
        b.at(19, 20, 0),
        &[0, 20 * SEC, 40 * SEC, 60 * SEC, 85 * SEC],
        &ip,
        &ids,
        0,
        "svc-batch",
    );
}

pub fn impossible_travel(b: &mut Builder) {
    for (name, dest, first, label) in [
        (
            "impossible_travel_london_sydney",
            catalog::SYDNEY,
            (7, 0, 14),
            "success_sydney",
        ),
        (
            "impossible_travel_london_tokyo",
            catalog::TOKYO,
            (7, 20, 51),
            "success_tokyo",
        ),
    ] {
        let km = catalog::distance_km(catalog::LONDON, dest).round();
        let desc = format!(
            "One user succeeds from London, then from {} about an hour later ({km} km): implied speed far above 1000 km/h.",
            CITIES[dest].name
        );
        let sc = b.scenario(name, "attack", &desc, &["impossible-travel"], &[]);
        let u = b.take_user(Some(catalog::LONDON));
        b.exclusive(u);
        let home = b.pop.users[u].home_ip;
        let t = b.at(first.0, first.1, first.2);
        let s = b.member_signin(u, t, home, catalog::LONDON);
        b.push(sc, "success_london", Payload::SignIn(Box::new(s)), None);
        let ip = b.ip(dest);
        let s = b.member_signin(u, t + HOUR + 5 * MIN, ip, dest);
        b.push(sc, label, Payload::SignIn(Box::new(s)), None);
    }
    let sc = b.scenario(
        "travel_london_paris",
        "near_miss",
        "One user succeeds from London, then from Paris three hours later (about 340 km, about 115 km/h).",
        &[],
        &["impossible-travel"],
    );
    let u = b.take_user(Some(catalog::LONDON));
    b.exclusive(u);
    let home = b.pop.users[u].home_ip;
    let s = b.member_signin(u, b.at(10, 0, 9), home, catalog::LONDON);
    b.push(sc, "success_london", Payload::SignIn(Box::new(s)), None);
    let ip = b.ip(catalog::PARIS);
    let s = b.member_signin(u, b.at(13, 0, 30), ip, catalog::PARIS);
    b.push(sc, "success_paris", Payload::SignIn(Box::new(s)), None);
}

/// Spray -> risky success -> OAuth blob replay from another IP -> AssumeRoleWithSAML with the
/// victim's UPN as session name -> recon burst with the temporary key.
pub fn cross_cloud_chain(b: &mut Builder, earlier_targets: &[usize]) {
    let sc = b.scenario(
        "cross_cloud_chain",
        "attack",
        "Cross-cloud chain, expected to form one case: (1) spray of 22 users from IP A (five of them also targets of the unrelated `password_spray`, which must stay a separate case); (2) the victim succeeds from A with high risk (passwordSpray, unfamiliarFeatures); (3) OAuth blob reads with the victim's object id from IPv6 address B with no sign-in from B; (4) the victim signs in to the AWS app from A and AssumeRoleWithSAML (session name = victim UPN) issues a temporary ASIA key; (5) a recon burst with that key from A.",
        &["password-spray", "risky-signin", "oauth-blob-without-signin", "aws-recon-burst"],
        &[],
    );
    let pop = b.pop;
    let a = b.ip(catalog::AMSTERDAM);
    let victim = b.take_user(Some(catalog::LONDON));
    b.exclusive(victim);
    let mut targets: Vec<usize> = earlier_targets
        .iter()
        .copied()
        .filter(|&u| u != earlier_targets[7])
        .take(5)
        .collect();
    targets.push(victim);
    while targets.len() < 22 {
        targets.push(b.take_user(None));
    }
    let order: Vec<usize> = (0..targets.len())
        .map(|i| (i * 7) % targets.len())
        .collect();
    for (k, &i) in order.iter().enumerate() {
        let t = b.at(20, 30, 0) + k as i64 * 21 * SEC;
        let mut s = b.attacker_signin(targets[i], t, a, catalog::AMSTERDAM);
        s.error = 50126;
        s.ca_status = "notApplied";
        b.push(
            sc,
            "chain_spray_failure_50126",
            Payload::SignIn(Box::new(s)),
            None,
        );
    }
    let mut s = b.attacker_signin(victim, b.at(20, 40, 30), a, catalog::AMSTERDAM);
    signin::set_app(&mut s, &catalog::APP_OFFICE_HOME);
    s.client_app = "Browser";
    s.ca_status = "notApplied";
    s.risk_level = "high";
    s.risk_agg = "high";
    s.risk_state = "atRisk";
    s.risk_events = &["passwordSpray", "unfamiliarFeatures"];
    b.push(
        sc,
        "chain_risky_success",
        Payload::SignIn(Box::new(s)),
        Some(Shape::DiagRecords),
    );

    let v6: IpAddr = "2a0b:f4c2:2::1b:7e"
        .parse()
        .unwrap_or(IpAddr::V4(Ipv4Addr::new(146, 70, 12, 9)));
    let py = "azsdk-python-storage-blob/12.19.0 Python/3.10.12 (Linux-5.15.0-91-generic-x86_64-with-glibc2.35)";
    blob_ops(
        b,
        sc,
        "chain_oauth_blob_replay",
        b.at(21, 20, 0),
        victim,
        v6,
        py,
        &["ListBlobs", "GetBlob", "GetBlob", "GetBlob", "GetBlob"],
        AuthKind::OAuth,
    );

    let mut s = b.attacker_signin(victim, b.at(21, 45, 2), a, catalog::AMSTERDAM);
    s.app_id = Cow::Owned(pop.aws_app_id.to_string());
    s.app_name = Cow::Borrowed("AWS IAM Identity Center (successor to AWS Single Sign-On)");
    s.resource = "AWS IAM Identity Center (successor to AWS Single Sign-On)";
    s.client_app = "Browser";
    s.ca_status = "notApplied";
    b.push(
        sc,
        "chain_aws_app_signin",
        Payload::SignIn(Box::new(s)),
        Some(Shape::LaQuerySignin),
    );
    let upn = pop.users[victim].upn.clone();
    let role = 2; // EntraSSO-Admin in the first account
    let a_txt = ip_text(&a);
    let t = b.at(21, 45, 20);
    let (rec, key) =
        aws::assume_role_with_saml(&mut b.rng, pop, t, &upn, role, &a_txt, ATTACKER_UA);
    let created = rec.time;
    b.push(
        sc,
        "chain_assume_role_with_saml",
        Payload::Ct(Box::new(rec)),
        Some(Shape::CtTrail),
    );
    let id = aws::saml_session_identity(pop, role, &upn, &key, created);
    let account = pop.saml_roles[role].account;
    recon_calls(
        b,
        sc,
        "chain_recon_call",
        b.at(21, 52, 0),
        &[0, 11 * SEC, 25 * SEC, 48 * SEC, 90 * SEC],
        &a_txt,
        &[id],
        account,
        &upn,
    );
}
