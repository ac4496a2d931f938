//! The generator's reading of the five seed queries, used to annotate scenario and
//! false-positive sign-ins in the manifest with the ports expected to flag them (and the LogScale
//! and Sumo `threat_score`s). Only unambiguous verdicts are reported: where a seed's behaviour
//! depends on how its platform treats a missing field (for example `homeTenantId !=
//! resourceTenantId` with no resource tenant) or on seed 003's field name
//! `risk_level_during_sign_in`, the port is left out of both lists.
//!
//! Two wire facts change what a platform sees: LogScale's `lower(riskEventTypes_v2)` reads no
//! field when the list arrives as a JSON array (Graph and diagnostic shapes render one; Log
//! Analytics renders text), and Graph v1.0 has no `homeTenantId`, `resourceTenantId` or
//! `authenticationRequirement`, so no cross-tenant clause can hold there.

use std::collections::BTreeMap;

use crate::catalog::CITIES;
use crate::signin::{SignIn, TenantField};
use crate::writers::Shape;

pub const ELASTIC_000: &str = "elastic-t1586-003";
pub const LOGSCALE_001: &str = "logscale-t1586-003";
pub const SUMO_002: &str = "sumo-t1586-003";
pub const ELASTIC_003: &str = "elastic-t1078-004";
pub const QRADAR_004: &str = "qradar-t1586-003";

const RISK_WORDS: &[&str] = &[
    "impossibletravel",
    "anonymizedipaddress",
    "maliciousipaddress",
    "unfamiliarfeatures",
    "passwordspray",
    "leakedcredentials",
    "nationstateip",
    "riskyipaddress",
    "investigationsthreatintelligence",
];

const LEGACY_PATTERNS: &[&str] = &[
    "imap",
    "pop3",
    "smtp",
    "basicauth",
    "exchangeactivesync",
    "autodiscover",
    "exchange web services",
    "authenticated smtp",
    "outlook anywhere",
];

pub const HIGH_RISK_COUNTRIES: &[&str] = &["KP", "IR", "RU", "CN", "BY"];

#[derive(Default, Debug, Clone, serde::Serialize)]
pub struct SeedVerdicts {
    pub flagged: Vec<&'static str>,
    pub not_flagged: Vec<&'static str>,
    pub threat_scores: BTreeMap<&'static str, u8>,
}

/// Tenant value as the seed sees it in this shape (Log Analytics has no "missing").
fn seen(t: TenantField, shape: Shape) -> Option<Option<crate::rng::Guid>> {
    let la = shape.is_la_signin();
    match t {
        TenantField::Missing if la => Some(None),
        TenantField::Missing => None,
        TenantField::Empty => Some(None),
        TenantField::Id(g) => Some(Some(g)),
    }
}

/// Verdicts of the seed ports for one sign-in rendered in `shape`.
pub fn verdicts(s: &SignIn, shape: Shape) -> SeedVerdicts {
    let mut v = SeedVerdicts::default();
    let mut put = |rule: &'static str, flagged: Option<bool>| match flagged {
        Some(true) => v.flagged.push(rule),
        Some(false) => v.not_flagged.push(rule),
        None => {}
    };
    if !s.success() {
        for r in [ELASTIC_000, LOGSCALE_001, SUMO_002, ELASTIC_003, QRADAR_004] {
            put(r, Some(false));
        }
        return v;
    }
    let level = s.risk_level;
    let state = s.risk_state;
    let events_lc: Vec<String> = s.risk_events.iter().map(|e| e.to_lowercase()).collect();
    let risky_event = events_lc
        .iter()
        .any(|e| RISK_WORDS.iter().any(|w| e.contains(w)));
    let v1 = shape == Shape::GraphArrayV1;
    let home = seen(s.home_tenant, shape);
    let resource = seen(s.resource_tenant, shape);
    // LogScale sees the list only when it arrives as text (Log Analytics shapes).
    let risky_event_logscale = risky_event && shape.is_la_signin();
    let auth_req = if v1 { "" } else { s.auth_req };

    // Cross-tenant single factor. `None` = depends on null semantics of the platform.
    let lower_single = auth_req.eq_ignore_ascii_case("singleFactorAuthentication");
    let cross_strict = |allow_empty_home: bool| -> Option<bool> {
        match home {
            None => Some(false),
            Some(None) if !allow_empty_home => Some(false),
            Some(h) => resource.map(|r| h != r),
        }
    };
    // Elastic 000: `==` is case-sensitive; an empty home tenant is not null.
    let cross_000 = if auth_req == "singleFactorAuthentication" {
        cross_strict(true)
    } else {
        Some(false)
    };
    let level_000 = ["high", "medium"].contains(&level);
    let state_000 = ["atRisk", "confirmedCompromised"].contains(&state);
    put(
        ELASTIC_000,
        or3(level_000 || state_000 || risky_event, cross_000),
    );

    let high_lc = ["high", "medium"].contains(&level.to_lowercase().as_str());
    let state_lc = ["atrisk", "confirmedcompromised"].contains(&state.to_lowercase().as_str());
    let cross_lc = if lower_single {
        cross_strict(false)
    } else {
        Some(false)
    };
    put(
        LOGSCALE_001,
        or3(high_lc || state_lc || risky_event_logscale, cross_lc),
    );
    if let Some(c) = cross_lc {
        if high_lc || state_lc || risky_event_logscale || c {
            let score =
                u8::from(high_lc || state_lc) + u8::from(risky_event_logscale) + u8::from(c);
            v.threat_scores.insert(LOGSCALE_001, score);
        }
    }
    put(SUMO_002, or3(high_lc || state_lc || risky_event, cross_lc));
    if let Some(c) = cross_lc {
        if high_lc || state_lc || risky_event || c {
            let score = u8::from(high_lc) + u8::from(state_lc) + u8::from(c);
            v.threat_scores.insert(SUMO_002, score);
        }
    }
    // QRadar: COALESCE(resourceTenantId, '') makes a missing resource tenant comparable.
    let cross_q =
        lower_single && matches!(home, Some(Some(_))) && home.flatten() != resource.flatten();
    put(
        QRADAR_004,
        Some(high_lc || state_lc || risky_event || cross_q),
    );

    // Elastic 003 (T1078.004).
    let country = HIGH_RISK_COUNTRIES.contains(&CITIES[s.city].country);
    let app = s.client_app.to_lowercase();
    let legacy = LEGACY_PATTERNS.iter().any(|p| app.contains(p));
    let single_ca = auth_req == "singleFactorAuthentication" && s.ca_status != "notApplied";
    let determinate = country || legacy || single_ca;
    let risk_clause = ["high", "medium"].contains(&level);
    put(
        ELASTIC_003,
        if determinate {
            Some(true)
        } else if risk_clause {
            None
        } else {
            Some(false)
        },
    );
    v
}

/// `a || b` where `b` may be unknown.
fn or3(a: bool, b: Option<bool>) -> Option<bool> {
    if a {
        Some(true)
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::Population;
    use crate::rng::{Guid, Rng};
    use crate::signin::{base, SignInKind};

    #[test]
    fn case_variant_and_empty_home_quirks() {
        let pop = Population::build(1, 2_000, 0, 7 * crate::time::DAY);
        let mut rng = Rng::new(1, 1);
        let mut s = base(&mut rng, &pop, 0, SignInKind::Interactive);
        s.risk_level = "High";
        let v = verdicts(&s, Shape::GraphPage);
        assert!(v.not_flagged.contains(&ELASTIC_000));
        assert!(v.flagged.contains(&LOGSCALE_001));
        assert_eq!(v.threat_scores[SUMO_002], 1);

        let mut s = base(&mut rng, &pop, 0, SignInKind::Interactive);
        s.auth_req = "singleFactorAuthentication";
        s.ca_status = "notApplied";
        s.home_tenant = TenantField::Empty;
        let v = verdicts(&s, Shape::GraphPage);
        assert!(v.flagged.contains(&ELASTIC_000));
        assert!(v.not_flagged.contains(&LOGSCALE_001));
        assert!(v.not_flagged.contains(&QRADAR_004));

        s.home_tenant = TenantField::Id(Guid(7));
        s.resource_tenant = TenantField::Missing;
        let v = verdicts(&s, Shape::GraphPage);
        assert!(v.flagged.contains(&QRADAR_004));
        assert!(!v.flagged.contains(&LOGSCALE_001) && !v.not_flagged.contains(&LOGSCALE_001));
    }

    #[test]
    fn logscale_sees_risk_events_only_as_text_and_v1_has_no_cross_tenant() {
        let pop = Population::build(1, 2_000, 0, 7 * crate::time::DAY);
        let mut rng = Rng::new(1, 2);
        let mut s = base(&mut rng, &pop, 0, SignInKind::Interactive);
        s.risk_level = "none";
        s.risk_state = "none";
        s.risk_events = &["unfamiliarFeatures"];
        s.auth_req = "multiFactorAuthentication";
        let graph = verdicts(&s, Shape::GraphPage);
        assert!(graph.not_flagged.contains(&LOGSCALE_001));
        assert!(graph.flagged.contains(&SUMO_002));
        let la = verdicts(&s, Shape::LaSigninNdjson);
        assert!(la.flagged.contains(&LOGSCALE_001));
        assert_eq!(la.threat_scores[LOGSCALE_001], 1);

        let mut s = base(&mut rng, &pop, 0, SignInKind::Interactive);
        s.risk_level = "none";
        s.risk_state = "none";
        s.risk_events = &[];
        s.auth_req = "singleFactorAuthentication";
        s.home_tenant = TenantField::Id(Guid(7));
        s.resource_tenant = TenantField::Id(Guid(8));
        assert!(verdicts(&s, Shape::GraphPage).flagged.contains(&QRADAR_004));
        assert!(verdicts(&s, Shape::GraphArrayV1)
            .not_flagged
            .contains(&QRADAR_004));
    }
}
