//! Risky sign-ins covering every clause of every seed query, each on its own user (so no other
//! rule sees them), in deliberately chosen wire shapes: risk level and state (with case
//! variants), each listed risk event type in each drift encoding, the cross-tenant single-factor
//! clause (external home tenant, empty and missing home tenant, missing resource tenant, case
//! variant), listed countries, legacy client apps, single factor with Conditional Access, and
//! failed sign-ins with high risk that success-only queries must ignore.

use crate::catalog;
use crate::event::Payload;
use crate::scenarios::Builder;
use crate::signin::{RiskEnc, SignIn, TenantField};
use crate::time::{MIN, SEC};
use crate::writers::Shape;

const RISK_TYPES: [&str; 9] = [
    "impossibleTravel",
    "anonymizedIPAddress",
    "maliciousIPAddress",
    "unfamiliarFeatures",
    "passwordSpray",
    "leakedCredentials",
    "nationStateIP",
    "riskyIPAddress",
    "investigationsThreatIntelligence",
];

struct Slot {
    next: i64,
}

impl Slot {
    fn take(&mut self) -> i64 {
        let t = self.next;
        self.next += 4 * MIN + 13 * SEC;
        t
    }
}

/// A successful MFA sign-in of a fresh exclusive user from a hosting address in `city`.
fn fresh(b: &mut Builder, slot: &mut Slot, city: usize) -> SignIn {
    let u = b.take_user(None);
    b.exclusive(u);
    let ip = b.ip(city);
    let mut s = b.member_signin(u, slot.take(), ip, city);
    s.mfa = Some("Mobile app notification");
    s.network = None;
    s
}

fn risk(s: &mut SignIn, level: &'static str, state: &'static str, events: &'static [&'static str]) {
    s.risk_level = level;
    s.risk_agg = if level.eq_ignore_ascii_case("none") {
        "none"
    } else {
        "low"
    };
    s.risk_state = state;
    s.risk_events = events;
}

fn push(b: &mut Builder, sc: usize, label: &'static str, s: SignIn, shape: Shape) {
    b.push(
        sc,
        label.to_string(),
        Payload::SignIn(Box::new(s)),
        Some(shape),
    );
}

pub fn risky_signins(b: &mut Builder) {
    let mut slot = Slot {
        next: b.at(9, 0, 0),
    };
    level_and_state(b, &mut slot);
    event_types(b, &mut slot);
    cross_tenant(b, &mut slot);
    countries_and_legacy(b, &mut slot);
    failures(b, &mut slot);
}

fn level_and_state(b: &mut Builder, slot: &mut Slot) {
    let sc = b.scenario(
        "risky_signin_level_and_state",
        "coverage",
        "Successful sign-ins whose only signal is riskLevelDuringSignIn high/medium or riskState atRisk/confirmedCompromised, including case variants (\"High\", \"MEDIUM\", \"atrisk\") that case-sensitive EQL `in` misses, and combinations that score differently in LogScale (level|state, events, cross-tenant) and Sumo (level, state, cross-tenant).",
        &["risky-signin"],
        &[],
    );
    let cases: [(&str, &str, &str, &'static [&'static str], Shape); 9] = [
        ("risk_level_high", "high", "none", &[], Shape::GraphPage),
        (
            "risk_level_medium",
            "medium",
            "none",
            &[],
            Shape::LaSigninNdjson,
        ),
        (
            "risk_level_case_High",
            "High",
            "none",
            &[],
            Shape::DiagRecords,
        ),
        (
            "risk_level_case_MEDIUM",
            "MEDIUM",
            "none",
            &[],
            Shape::LaQuerySignin,
        ),
        ("risk_state_atRisk", "low", "atRisk", &[], Shape::DiagJsonl),
        (
            "risk_state_confirmedCompromised",
            "none",
            "confirmedCompromised",
            &[],
            Shape::GraphNdjson,
        ),
        (
            "risk_state_case_atrisk",
            "low",
            "atrisk",
            &[],
            Shape::LaSigninArray,
        ),
        (
            "risk_level_high_state_atRisk_event",
            "high",
            "atRisk",
            &["unfamiliarFeatures"],
            Shape::GraphPage,
        ),
        (
            "risk_all_three_clauses",
            "high",
            "atRisk",
            &["leakedCredentials"],
            Shape::DiagRecords,
        ),
    ];
    for (label, level, state, events, shape) in cases {
        let mut s = fresh(b, slot, catalog::FRANKFURT);
        risk(&mut s, level, state, events);
        if label == "risk_all_three_clauses" {
            s.auth_req = "singleFactorAuthentication";
            s.mfa = None;
            s.user_type = "guest";
            s.home_tenant = TenantField::Id(b.rng.guid());
            s.cross_tenant = "b2bCollaboration";
        }
        push(b, sc, label, s, shape);
    }
    let mut s = fresh(b, slot, catalog::FRANKFURT);
    s.kind = crate::signin::SignInKind::NonInteractive;
    s.interactive = false;
    s.dyn_text = true;
    risk(&mut s, "none", "atRisk", &[]);
    push(
        b,
        sc,
        "risk_state_atRisk_noninteractive",
        s,
        Shape::LaNonInteractiveNdjson,
    );
}

fn event_types(b: &mut Builder, slot: &mut Slot) {
    let sc = b.scenario(
        "risky_signin_event_types",
        "coverage",
        "Successful low-risk sign-ins whose only signal is one listed riskEventTypes_v2 value, each value in each drift encoding: JSON array (Graph, diagnostic records), JSON text and comma-delimited string (Log Analytics). Sumo scores them 0 (it does not count events), LogScale 1.",
        &["risky-signin"],
        &[],
    );
    for (i, ev) in RISK_TYPES.iter().enumerate() {
        let one: &'static [&'static str] = &RISK_TYPES[i..i + 1];
        for (enc, shape) in [
            (
                "array",
                if i % 2 == 0 {
                    Shape::GraphPage
                } else {
                    Shape::DiagJsonl
                },
            ),
            ("json_text", Shape::LaSigninNdjson),
            (
                "comma",
                if i % 2 == 0 {
                    Shape::LaQuerySignin
                } else {
                    Shape::LaSigninNdjson
                },
            ),
        ] {
            let mut s = fresh(b, slot, catalog::AMSTERDAM);
            risk(&mut s, "low", "none", one);
            s.risk_enc = if enc == "comma" {
                RiskEnc::Comma
            } else {
                RiskEnc::JsonText
            };
            b.push(
                sc,
                format!("risk_event_{ev}_{enc}"),
                Payload::SignIn(Box::new(s)),
                Some(shape),
            );
        }
    }
    let mut s = fresh(b, slot, catalog::AMSTERDAM);
    risk(&mut s, "low", "none", &["unlikelyTravel", "passwordSpray"]);
    s.risk_enc = RiskEnc::Comma;
    push(
        b,
        sc,
        "risk_events_two_values_comma",
        s,
        Shape::LaSigninNdjson,
    );

    let sc = b.scenario(
        "risky_signin_unlisted_event_type",
        "near_miss",
        "A successful low-risk sign-in whose only risk event, unlikelyTravel, is not in any seed's list.",
        &[],
        &[],
    );
    let mut s = fresh(b, slot, catalog::AMSTERDAM);
    risk(&mut s, "low", "none", &["unlikelyTravel"]);
    push(b, sc, "risk_event_unlikelyTravel_only", s, Shape::GraphPage);
}

fn cross_tenant(b: &mut Builder, slot: &mut Slot) {
    let external = b.rng.guid();
    let resource = TenantField::Id(b.pop.tenant);
    let attack = b.scenario(
        "cross_tenant_single_factor_external",
        "attack",
        "A single-factor guest sign-in from an external (non-partner) home tenant into this tenant.",
        &["cross-tenant-single-factor"],
        &[],
    );
    let edge = b.scenario(
        "cross_tenant_edge_cases",
        "coverage",
        "Cross-tenant single-factor edge cases the seeds treat differently: empty homeTenantId (EQL flags, the others do not), missing homeTenantId (nobody flags), missing resourceTenantId (QRadar's COALESCE flags), and \"SingleFactorAuthentication\" (EQL `==` is case-sensitive). See each event's `seeds`.",
        &[],
        &[],
    );
    let mfa = b.scenario(
        "cross_tenant_multi_factor",
        "near_miss",
        "An external guest who completed MFA: home tenant differs but the sign-in is not single factor.",
        &[],
        &["cross-tenant-single-factor"],
    );
    let cases = [
        (
            attack,
            "cross_tenant_external_home",
            TenantField::Id(external),
            resource,
            "singleFactorAuthentication",
            Shape::GraphPage,
        ),
        (
            edge,
            "cross_tenant_home_empty",
            TenantField::Empty,
            resource,
            "singleFactorAuthentication",
            Shape::DiagRecords,
        ),
        (
            edge,
            "cross_tenant_home_missing",
            TenantField::Missing,
            resource,
            "singleFactorAuthentication",
            Shape::GraphNdjson,
        ),
        (
            edge,
            "cross_tenant_resource_missing",
            TenantField::Id(external),
            TenantField::Missing,
            "singleFactorAuthentication",
            Shape::DiagJsonl,
        ),
        (
            edge,
            "cross_tenant_case_SingleFactorAuthentication",
            TenantField::Id(external),
            resource,
            "SingleFactorAuthentication",
            Shape::GraphPage,
        ),
        (
            mfa,
            "cross_tenant_multi_factor",
            TenantField::Id(external),
            resource,
            "multiFactorAuthentication",
            Shape::DiagRecords,
        ),
    ];
    for (sc, label, home, resource, req, shape) in cases {
        let mut s = fresh(b, slot, catalog::LAGOS);
        s.home_tenant = home;
        s.resource_tenant = resource;
        s.auth_req = req;
        s.user_type = "guest";
        s.cross_tenant = "b2bCollaboration";
        s.ca_status = "notApplied";
        if req != "multiFactorAuthentication" {
            s.mfa = None;
        }
        push(b, sc, label, s, shape);
    }
}

fn countries_and_legacy(b: &mut Builder, slot: &mut Slot) {
    let sc = b.scenario(
        "signin_high_risk_country",
        "coverage",
        "Successful MFA sign-ins from KP, IR, RU, CN and BY (seed 003's country clause).",
        &["high-risk-country-signin", "elastic-t1078-004"],
        &[],
    );
    for (label, city) in [
        ("country_KP", catalog::PYONGYANG),
        ("country_IR", catalog::TEHRAN),
        ("country_RU", catalog::MOSCOW),
        ("country_CN", catalog::BEIJING),
        ("country_BY", catalog::MINSK),
    ] {
        let s = fresh(b, slot, city);
        let shape = [
            Shape::GraphPage,
            Shape::LaSigninNdjson,
            Shape::DiagRecords,
            Shape::LaQuerySignin,
            Shape::DiagJsonl,
        ][(slot.next / MIN % 5) as usize];
        push(b, sc, label, s, shape);
    }

    let sc = b.scenario(
        "signin_legacy_client",
        "coverage",
        "Successful single-factor sign-ins over legacy protocol clients. Seed 003's `*ExchangeActiveSync*` does not match \"Exchange ActiveSync\" (with a space); skein's legacy-auth rule matches all.",
        &["legacy-auth-signin"],
        &[],
    );
    for (label, app) in [
        ("legacy_IMAP4", "IMAP4"),
        ("legacy_POP3", "POP3"),
        ("legacy_Authenticated_SMTP", "Authenticated SMTP"),
        ("legacy_Exchange_ActiveSync_space", "Exchange ActiveSync"),
        ("legacy_ExchangeActiveSync", "ExchangeActiveSync"),
        ("legacy_AutoDiscover", "AutoDiscover"),
        ("legacy_Exchange_Web_Services", "Exchange Web Services"),
        (
            "legacy_Outlook_Anywhere",
            "Outlook Anywhere (RPC over HTTP)",
        ),
    ] {
        let mut s = fresh(b, slot, catalog::DALLAS);
        crate::signin::set_app(&mut s, &catalog::APP_EXCHANGE);
        s.client_app = app;
        s.ua = "";
        s.interactive = false;
        s.auth_req = "singleFactorAuthentication";
        s.ca_status = "notApplied";
        s.mfa = None;
        let shape = [
            Shape::GraphPage,
            Shape::LaSigninNdjson,
            Shape::DiagRecords,
            Shape::DiagJsonl,
        ][(slot.next / MIN % 4) as usize];
        push(b, sc, label, s, shape);
    }

    let sc = b.scenario(
        "single_factor_conditional_access",
        "coverage",
        "Single-factor member sign-ins (home = resource tenant): with conditionalAccessStatus success (seed 003 flags) and notApplied (it does not).",
        &[],
        &[],
    );
    for (label, ca) in [
        ("single_factor_ca_success", "success"),
        ("single_factor_ca_notApplied", "notApplied"),
    ] {
        let mut s = fresh(b, slot, catalog::FRANKFURT);
        s.auth_req = "singleFactorAuthentication";
        s.ca_status = ca;
        s.mfa = None;
        push(b, sc, label, s, Shape::GraphPage);
    }
}

fn failures(b: &mut Builder, slot: &mut Slot) {
    let all = [
        "elastic-t1586-003",
        "logscale-t1586-003",
        "sumo-t1586-003",
        "qradar-t1586-003",
        "elastic-t1078-004",
        "risky-signin",
        "legacy-auth-signin",
        "high-risk-country-signin",
        "anonymizing-proxy-signin",
        "cross-tenant-single-factor",
    ];
    let sc = b.scenario(
        "failed_risky_signins",
        "near_miss",
        "Failed sign-ins carrying high risk, a listed country, a legacy client or a cross-tenant single factor: rules that require success must not flag them.",
        &[],
        &all,
    );
    let mut s = fresh(b, slot, catalog::BUCHAREST);
    risk(&mut s, "high", "atRisk", &["passwordSpray"]);
    s.error = 50126;
    s.mfa = None;
    push(b, sc, "failed_high_risk_50126", s, Shape::GraphPage);

    let mut s = fresh(b, slot, catalog::MOSCOW);
    risk(&mut s, "high", "atRisk", &["anonymizedIPAddress"]);
    s.error = 53003;
    s.client_app = "IMAP4";
    s.ca_status = "failure";
    s.mfa = None;
    push(
        b,
        sc,
        "failed_blocked_53003_RU_IMAP4",
        s,
        Shape::LaSigninNdjson,
    );

    let mut s = fresh(b, slot, catalog::LAGOS);
    risk(&mut s, "medium", "atRisk", &["maliciousIPAddress"]);
    s.error = 50074;
    s.auth_req = "singleFactorAuthentication";
    s.home_tenant = TenantField::Id(b.rng.guid());
    s.user_type = "guest";
    s.mfa = None;
    push(
        b,
        sc,
        "failed_50074_medium_cross_tenant",
        s,
        Shape::DiagJsonl,
    );
}
