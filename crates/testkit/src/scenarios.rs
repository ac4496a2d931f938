//! Attack scenarios from the seeds' Testing Methodology, their near misses, and the registered
//! false-positive classes. Every scenario event is built here at a deterministic time on the
//! "scenario day" (the middle day of the corpus) and tagged with its manifest entry.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::benign::FpTags;
use crate::catalog;
use crate::cloudtrail::Identity;
use crate::event::{route, trail_shape, Ev, Payload, Tag};
use crate::json::ip_text;
use crate::manifest::{Entities, Scenario};
use crate::population::{ip_in, Population, Via};
use crate::rng::Rng;
use crate::signin::{self, SignIn, SignInKind};
use crate::time::{DAY, HOUR, MIN, SEC};
use crate::writers::Shape;
use crate::{attacks, coverage};

/// Tor exit addresses used by the scenarios (and published as the local Tor exit list).
pub const TOR_EXITS: &[[u8; 4]] = &[
    [185, 220, 101, 47],
    [185, 220, 100, 252],
    [199, 249, 230, 87],
    [171, 25, 193, 78],
];

pub const ATTACKER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// Everything the scenarios contribute to a corpus.
pub struct ScenarioSet {
    pub events: Vec<Ev>,
    pub scenarios: Vec<Scenario>,
    /// (user, from, to): benign traffic for scenario users is suppressed in these windows.
    pub blackouts: Vec<(usize, i64, i64)>,
    pub fp: FpTags,
}

pub struct Builder<'p> {
    pub pop: &'p Population,
    pub rng: Rng,
    pub base: i64,
    pub scenarios: Vec<Scenario>,
    pub events: Vec<Ev>,
    pub blackouts: Vec<(usize, i64, i64)>,
    candidates: Vec<usize>,
    used: Vec<bool>,
    seq: u64,
}

impl<'p> Builder<'p> {
    pub fn scenario(
        &mut self,
        name: &str,
        kind: &str,
        description: &str,
        flagged: &[&str],
        not_flagged: &[&str],
    ) -> usize {
        self.scenarios.push(Scenario {
            name: name.into(),
            kind: kind.into(),
            description: description.into(),
            flagged_by: flagged.iter().map(|s| s.to_string()).collect(),
            not_flagged_by: not_flagged.iter().map(|s| s.to_string()).collect(),
            entities: Entities::default(),
            first_event_time: None,
            last_event_time: None,
            event_count: 0,
            events_truncated: false,
            events: Vec::new(),
        });
        self.scenarios.len() - 1
    }

    /// An unused staff member (not a traveller), optionally living in `city`.
    pub fn take_user(&mut self, city: Option<usize>) -> usize {
        let pick = self
            .candidates
            .iter()
            .copied()
            .find(|&u| !self.used[u] && city.is_none_or(|c| self.pop.users[u].home == c))
            .or_else(|| self.candidates.iter().copied().find(|&u| !self.used[u]))
            .unwrap_or(0);
        self.used[pick] = true;
        pick
    }

    /// Suppresses benign traffic of `u` around the scenario day, so the scenario alone
    /// decides what rules see for this user.
    pub fn exclusive(&mut self, u: usize) {
        self.blackouts
            .push((u, self.base - 36 * HOUR, self.base + DAY + 36 * HOUR));
    }

    pub fn at(&self, h: i64, m: i64, s: i64) -> i64 {
        self.base + h * HOUR + m * MIN + s * SEC
    }

    /// Adds an event to scenario `sc`; `shape` None = the usual corpus mix.
    pub fn push(
        &mut self,
        sc: usize,
        label: impl Into<Cow<'static, str>>,
        payload: Payload,
        shape: Option<Shape>,
    ) {
        let shape = shape.unwrap_or_else(|| route(&mut self.rng, self.pop, &payload, true));
        let shape = match &payload {
            Payload::Ct(c) => trail_shape(self.pop, c.account, shape),
            _ => shape,
        };
        let e = &mut self.scenarios[sc].entities;
        match &payload {
            Payload::SignIn(s) => {
                e.ips.insert(ip_text(&s.ip));
                if !s.upn.is_empty() {
                    e.upns.insert(s.upn.clone());
                    e.user_ids.insert(s.user_id.to_string());
                }
                if let signin::TenantField::Id(h) = s.home_tenant {
                    if h != self.pop.tenant {
                        e.tenants.insert(h.to_string());
                    }
                }
            }
            Payload::Blob(b) => {
                e.ips.insert(ip_text(&b.ip));
                e.user_agents.insert(b.ua.to_string());
                if let Some(r) = &b.requester {
                    e.upns.insert(r.upn.clone());
                    e.user_ids.insert(r.object_id.to_string());
                }
            }
            Payload::Ct(c) => {
                if c.ip.parse::<IpAddr>().is_ok() {
                    e.ips.insert(c.ip.clone());
                }
                e.user_agents.insert(c.ua.to_string());
                if let Some(k) = c.identity.access_key() {
                    e.access_keys.insert(k.to_string());
                }
                if let Identity::AssumedRole { role, session, .. } = &c.identity {
                    e.aws_sessions.insert(format!("{role}/{session}"));
                }
                if let Some(resp) = &c.response {
                    if let Some(i) = resp.find("\"accessKeyId\":\"") {
                        e.access_keys.insert(resp[i + 15..i + 35].to_string());
                    }
                }
            }
        }
        self.seq += 1;
        self.events.push(Ev {
            seq: self.seq,
            shape,
            tag: Some(Tag {
                scenario: sc,
                label: label.into(),
            }),
            payload,
        });
    }

    /// A sign-in by user `u` from `ip` in `city` (the user's device, no named network).
    pub fn member_signin(&mut self, u: usize, t: i64, ip: IpAddr, city: usize) -> SignIn {
        signin::member(
            &mut self.rng,
            self.pop,
            u,
            t,
            SignInKind::Interactive,
            ip,
            city,
            Via::Home,
        )
    }

    /// A sign-in attempt by an attacker's tool against user `u`.
    pub fn attacker_signin(&mut self, u: usize, t: i64, ip: IpAddr, city: usize) -> SignIn {
        let mut s = self.member_signin(u, t, ip, city);
        signin::set_app(&mut s, &catalog::APP_AAD_POWERSHELL);
        s.client_app = "Mobile Apps and Desktop clients";
        s.ua = ATTACKER_UA;
        s.os = "Windows 10";
        s.browser = "Chrome 120.0.0";
        s.device_id = None;
        s.compliant = false;
        s.managed = false;
        s.trust = "";
        s.incoming = "none";
        s.auth_req = "singleFactorAuthentication";
        s.mfa = None;
        s
    }

    pub fn ip(&mut self, city: usize) -> IpAddr {
        ip_in(city, self.rng.u64(), false)
    }
}

/// Builds all scenarios for a corpus spanning `[start, end)`.
pub fn build(pop: &Population, seed: u64, start: i64, end: i64) -> ScenarioSet {
    let days = (end - start) / DAY;
    let base = start + ((days - 1) / 2).max(1) * DAY;
    let mut rng = Rng::new(seed, 2);
    let mut candidates: Vec<usize> = (0..pop.users.len())
        .filter(|&u| pop.users[u].trips.is_empty())
        .collect();
    for i in (1..candidates.len()).rev() {
        let j = rng.index(i + 1);
        candidates.swap(i, j);
    }
    let mut b = Builder {
        pop,
        rng,
        base,
        scenarios: Vec::new(),
        events: Vec::new(),
        blackouts: Vec::new(),
        used: vec![false; pop.users.len()],
        candidates,
        seq: 0,
    };
    let fp = false_positive_classes(&mut b);
    let spray_targets = attacks::password_spray(&mut b);
    attacks::slow_spray(&mut b);
    coverage::risky_signins(&mut b);
    attacks::anonymizing_proxy(&mut b);
    attacks::oauth_blob(&mut b);
    attacks::aws_recon(&mut b);
    attacks::impossible_travel(&mut b);
    attacks::cross_cloud_chain(&mut b, &spray_targets);
    ScenarioSet {
        events: b.events,
        scenarios: b.scenarios,
        blackouts: b.blackouts,
        fp,
    }
}

fn false_positive_classes(b: &mut Builder) -> FpTags {
    use crate::oracle::*;
    let pop = b.pop;
    let vpn_anonymized = b.scenario(
        "fp_corporate_vpn_anonymized",
        "false_positive",
        "Successful sign-ins through the corporate VPN egress that Identity Protection flags anonymizedIPAddress (low risk, atRisk). The seeds' documented false positive: the seed ports flag them; skein's anonymizing-proxy rule allow-lists corporate egress.",
        &[ELASTIC_000, LOGSCALE_001, SUMO_002, QRADAR_004],
        &["anonymizing-proxy-signin"],
    );
    b.scenarios[vpn_anonymized].entities.ips = pop.vpns.iter().map(|v| ip_text(&v.ip)).collect();
    let b2b_guest = b.scenario(
        "fp_partner_b2b_guest",
        "false_positive",
        "B2B guests of partner tenants signing in with singleFactorAuthentication, home tenant != resource tenant (MFA satisfied at home). Flagged by the seed ports' cross-tenant clause; allow-listed partners for skein's cross-tenant rule.",
        &[ELASTIC_000, LOGSCALE_001, SUMO_002, QRADAR_004],
        &["cross-tenant-single-factor"],
    );
    b.scenarios[b2b_guest].entities.tenants =
        pop.partners.iter().map(|p| p.tenant.to_string()).collect();
    b.scenarios[b2b_guest].entities.ips = pop.partners.iter().map(|p| ip_text(&p.nat)).collect();
    let legacy_printer = b.scenario(
        "fp_approved_legacy_printer",
        "false_positive",
        "Scanner / printer accounts sending mail with Authenticated SMTP (approved legacy app) from office NAT addresses. Seed 003 flags them; skein's legacy-auth rule allow-lists the accounts.",
        &[ELASTIC_003],
        &["legacy-auth-signin"],
    );
    b.scenarios[legacy_printer].entities.upns =
        pop.printers.iter().map(|p| p.upn.clone()).collect();
    let console_burst = b.scenario(
        "fp_console_describe_burst",
        "false_positive",
        "AWS console users (IAM users like OTRF's `pedro`, and Entra users federated by SAML) whose EC2 console page loads make four or more distinct Describe* calls within two minutes through `console.ec2.amazonaws.com`. Looks like a recon burst by key+IP+UA; it is console browsing.",
        &[],
        &[],
    );
    b.scenarios[console_burst]
        .entities
        .user_agents
        .insert(catalog::CONSOLE_EC2_UA.to_string());
    let traveller_unfamiliar = b.scenario(
        "fp_traveller_unfamiliar_features",
        "false_positive",
        "Travelling staff signing in from their destination with an unfamiliarFeatures risk event (low). Flights are slower than 800 km/h, so no impossible travel.",
        &[ELASTIC_000, LOGSCALE_001, SUMO_002, QRADAR_004],
        &["impossible-travel"],
    );
    let traveller_high_risk_country = b.scenario(
        "fp_traveller_in_listed_country",
        "false_positive",
        "A traveller's successful sign-ins from Shanghai (CN, a listed country) during a business trip.",
        &[ELASTIC_003, "high-risk-country-signin"],
        &["impossible-travel"],
    );
    FpTags {
        vpn_anonymized,
        b2b_guest,
        legacy_printer,
        console_burst,
        traveller_unfamiliar,
        traveller_high_risk_country,
    }
}
