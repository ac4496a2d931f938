//! An outside check of skein's own sign-in rules: Panther's Azure sign-in rule tests
//! (`../shared/data/panther-analysis/rules/azure_signin_rules/*.yml`, panther-labs/
//! panther-analysis @ daa10c88) whose Python logic corresponds to one of our rules.
//!
//! Each test's `Log` (an Azure Monitor diagnostic record, Panther's `Azure.Audit`) goes
//! through skein's ingest path (`Framer` + `parse_frame`) and the shipped rules from
//! `correlations/`; the finding of the mapped rule is compared with the test's
//! `ExpectedResult`. Where the logic is the same the results must agree; where it differs by
//! design (success only, which risk levels count, which field names the protocol) the
//! documented difference is asserted, so that neither side can change silently.
//! `docs/panther-signin-check.md` explains the mapping and every case.
//!
//! Skipped (with a message) when the shared data is not there.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::common::{repo_root, texts};
use serde_json::Value;
use skein_ingest::framing::{Framer, DEFAULT_MAX_RECORD_BYTES};
use skein_ingest::{parse_frame, Item};
use skein_model::{Event, Source};
use skein_rules::{load, RuleSet};

/// Panther's Azure sign-in rules folder, or `None` (and a message) when it is missing.
fn panther_dir() -> Option<PathBuf> {
    let p = repo_root().join("../shared/data/panther-analysis/rules/azure_signin_rules");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: Panther rules not found at {} (the shared test data is not present)",
            p.display()
        );
        None
    }
}

/// One Panther unit test.
#[derive(Debug, Clone)]
struct PantherTest {
    rule: String,
    name: String,
    expected: bool,
    log: Value,
    /// `Mocks`: object name → returned text.
    mocks: BTreeMap<String, String>,
}

fn panther_tests(dir: &Path) -> Vec<PantherTest> {
    let mut out = Vec::new();
    for f in texts(dir, &["yml"]) {
        let y: yaml_serde::Value = yaml_serde::from_str(&f.text).unwrap();
        let rule = y["RuleID"].as_str().unwrap().to_string();
        let Some(tests) = y["Tests"].as_sequence() else {
            continue;
        };
        for t in tests {
            let mocks = t["Mocks"]
                .as_sequence()
                .map(|ms| {
                    ms.iter()
                        .map(|m| {
                            (
                                m["objectName"].as_str().unwrap().to_string(),
                                m["returnValue"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(PantherTest {
                rule: rule.clone(),
                name: t["Name"].as_str().unwrap().to_string(),
                expected: t["ExpectedResult"].as_bool().unwrap(),
                log: serde_json::to_value(&t["Log"]).unwrap(),
                mocks,
            });
        }
    }
    out
}

/// What skein makes of one test's log: the event, or what became of the record.
enum Ingested {
    Event(Box<Event>),
    Ignored(String),
}

fn ingest(log: &Value) -> Ingested {
    let text = format!("{log}\n");
    let mut items = Vec::new();
    for frame in Framer::new(Cursor::new(text.into_bytes()), DEFAULT_MAX_RECORD_BYTES) {
        parse_frame(&frame.unwrap(), None, &mut items);
    }
    assert_eq!(items.len(), 1);
    match items.remove(0) {
        Item::Event(e) => Ingested::Event(e),
        Item::Ignored { kind } => Ingested::Ignored(kind),
        Item::Rejected { error, .. } => panic!("rejected: {error}"),
    }
}

/// The shipped rules, with `extra` lines appended to a list file (Panther's `Mocks`).
fn shipped(extra: &[(&str, Vec<String>)]) -> RuleSet {
    let dir = repo_root().join("correlations");
    let mut lists = texts(&dir.join("lists"), &["txt"]);
    for (list, lines) in extra {
        let f = lists
            .iter_mut()
            .find(|f| f.path.ends_with(&format!("{list}.txt")))
            .unwrap();
        for l in lines {
            f.text.push_str(l);
            f.text.push('\n');
        }
    }
    let loaded = load(&texts(&dir.join("rules"), &["yml", "yaml"]), &lists);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    loaded.rules
}

/// The rule ids that produce a finding (after allow-lists) for `event`.
fn findings(rules: &RuleSet, event: &Event) -> BTreeSet<String> {
    let mut out = Vec::new();
    let mut stats = rules.new_stats();
    rules.evaluate(event, &mut out, &mut stats);
    out.into_iter().map(|f| f.rule).collect()
}

/// How a Panther rule relates to ours.
enum Mapping {
    /// Our rule whose logic corresponds (fully or in part; see the cases).
    Ours(&'static str),
    /// No rule of ours corresponds: why.
    None(&'static str),
}

/// Every Panther rule in `azure_signin_rules`, mapped (read from its Python `rule()`).
const MAPPING: &[(&str, Mapping)] = &[
    ("Azure.Audit.HighRiskSignIn", Mapping::Ours("risky-signin")),
    (
        "Azure.Audit.RiskLevelPassthrough",
        Mapping::Ours("risky-signin"),
    ),
    (
        "Azure.Audit.MultipleProtectionAlerts",
        Mapping::Ours("risky-signin"),
    ),
    (
        "Azure.Audit.LegacyAuth",
        Mapping::Ours("legacy-auth-signin"),
    ),
    (
        "Azure.Audit.ROPCLoginNoMFA",
        Mapping::Ours("legacy-auth-signin"),
    ),
    (
        "Azure.Audit.ExcessiveAccountLockouts",
        Mapping::None("failed sign-ins (50053); our rules look at successful sign-ins only"),
    ),
    (
        "Azure.Audit.ManyFailedSignIns",
        Mapping::None(
            "any failed sign-in, thresholded; our rules look at successful sign-ins only",
        ),
    ),
    (
        "Azure.Audit.DeviceCodeBrokerClient",
        Mapping::None("device-code flow with the broker client id: no counterpart"),
    ),
    (
        "Azure.Audit.GraphSessionMultipleIPs",
        Mapping::None("one Graph session from several IPs: no counterpart"),
    ),
    (
        "Azure.Audit.VSCodeOAuthPhishing",
        Mapping::None("VS Code client to Microsoft Graph: no counterpart"),
    ),
    (
        "Azure.Audit.OIDC.Changed",
        Mapping::None("Policy record, not a sign-in"),
    ),
    (
        "Azure.Audit.DomainSettingsModified",
        Mapping::None("DirectoryManagement record, not a sign-in"),
    ),
    (
        "Azure.Audit.ElevateUserAccessAdministrator",
        Mapping::None("AuditLogs record, not a sign-in"),
    ),
    (
        "Azure.Audit.InviteExternalUsers",
        Mapping::None("AuditLogs record, not a sign-in"),
    ),
    (
        "Azure.Audit.MFADisabled",
        Mapping::None("AuditLogs record, not a sign-in"),
    ),
    (
        "Azure.Audit.PolicyChanged",
        Mapping::None("AuditLogs record, not a sign-in"),
    ),
    (
        "Azure.Audit.RoleChangedPIM",
        Mapping::None("AuditLogs record, not a sign-in"),
    ),
    (
        "Azure.Audit.ServicePrincipalCredentialsAdded",
        Mapping::None("ApplicationManagement record, not a sign-in"),
    ),
];

/// The verdict on one test of a mapped rule.
enum Verdict {
    /// Our rule gives Panther's expected result.
    Agree,
    /// Our rule gives the opposite, for the documented reason.
    Differs(&'static str),
}

/// Every test of a mapped rule: (Panther rule, test, Panther's expected result, ours, verdict).
const CASES: &[(&str, &str, bool, bool, Verdict)] = &[
    (
        "Azure.Audit.HighRiskSignIn",
        "High Risk During Sign-In",
        true,
        true,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.HighRiskSignIn",
        "High Risk Dismissed",
        false,
        true,
        Verdict::Differs(
            "Panther drops riskState dismissed/remediated; risky-signin (the union of the \
             seeds' logic) does not read dismissal and flags riskLevelDuringSignIn high",
        ),
    ),
    (
        "Azure.Audit.RiskLevelPassthrough",
        "Failed Sign-In",
        false,
        false,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.RiskLevelPassthrough",
        "Failed Sign-In with riskLevelAggregated",
        true,
        false,
        Verdict::Differs(
            "a failed sign-in (7000215) with riskLevelAggregated low: risky-signin flags \
             successful sign-ins only, counts high/medium only and reads riskLevelDuringSignIn",
        ),
    ),
    (
        "Azure.Audit.RiskLevelPassthrough",
        "Failed Sign-In with riskLevelDuringSignIn",
        true,
        false,
        Verdict::Differs(
            "a failed sign-in (7000215) with riskLevelDuringSignIn high: risky-signin flags \
             successful sign-ins only",
        ),
    ),
    (
        "Azure.Audit.RiskLevelPassthrough",
        "Failed Sign-In with riskLevelDuringSignIn and dismissed",
        false,
        false,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.RiskLevelPassthrough",
        "Missing RiskState",
        false,
        false,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.MultipleProtectionAlerts",
        "Risk Event Counts Toward Threshold",
        true,
        true,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.MultipleProtectionAlerts",
        "No Risk Sign-In",
        false,
        false,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.LegacyAuth",
        "Failed Sign-In",
        false,
        false,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.LegacyAuth",
        "Sign-In with legacy auth",
        true,
        true,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.LegacyAuth",
        "Sign-In with legacy auth, KNOWN_EXCEPTION",
        false,
        false,
        // With the mocked KNOWN_EXCEPTIONS on lists/approved-legacy-apps.txt, as Panther
        // runs it; with the shipped list alone the sign-in is flagged (see the test below).
        Verdict::Agree,
    ),
    (
        "Azure.Audit.ROPCLoginNoMFA",
        "ROPC Login Without MFA",
        true,
        true,
        Verdict::Agree,
    ),
    (
        "Azure.Audit.ROPCLoginNoMFA",
        "Failed ROPC Login",
        false,
        false,
        Verdict::Agree,
    ),
];

/// Panther's `Mocks` as our lists: `KNOWN_EXCEPTIONS` (principals allowed legacy auth) is
/// what `lists/approved-legacy-apps.txt` is to legacy-auth-signin.
fn mocked_lists(t: &PantherTest) -> Vec<(&'static str, Vec<String>)> {
    let mut out = Vec::new();
    for (name, value) in &t.mocks {
        assert_eq!(name, "KNOWN_EXCEPTIONS", "unmapped mock {name}");
        let upns: Vec<String> = serde_json::from_str(value).unwrap();
        out.push(("approved-legacy-apps", upns));
    }
    out
}

#[test]
fn panther_signin_tests_against_our_rules() {
    let Some(dir) = panther_dir() else { return };
    let tests = panther_tests(&dir);
    assert_eq!(tests.len(), 47);
    let rules_in_folder: BTreeSet<&str> = tests.iter().map(|t| t.rule.as_str()).collect();
    let mapped: BTreeSet<&str> = MAPPING.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        rules_in_folder, mapped,
        "every Panther rule is mapped or explained"
    );

    let plain = shipped(&[]);
    let mut seen = BTreeSet::new();
    let mut agree = 0;
    let mut differ = 0;
    for t in &tests {
        let (_, mapping) = MAPPING.iter().find(|(r, _)| *r == t.rule).unwrap();
        let ours = match mapping {
            Mapping::Ours(ours) => ours,
            Mapping::None(why) => {
                assert!(!why.is_empty());
                continue;
            }
        };
        let Ingested::Event(event) = ingest(&t.log) else {
            panic!("{} / {}: not a sign-in", t.rule, t.name);
        };
        assert_eq!(event.source, Source::EntraSignin);
        let rules = if t.mocks.is_empty() {
            None
        } else {
            Some(shipped(&mocked_lists(t)))
        };
        let got = findings(rules.as_ref().unwrap_or(&plain), &event).contains(*ours);
        let (_, _, expected, want, verdict) = CASES
            .iter()
            .find(|(r, n, ..)| *r == t.rule && *n == t.name)
            .unwrap_or_else(|| panic!("no case for {} / {}", t.rule, t.name));
        assert_eq!(*expected, t.expected, "{} / {}", t.rule, t.name);
        assert_eq!(got, *want, "{} / {}: {ours}", t.rule, t.name);
        match verdict {
            Verdict::Agree => {
                assert_eq!(got, t.expected, "{} / {}", t.rule, t.name);
                agree += 1;
            }
            Verdict::Differs(why) => {
                assert!(!why.is_empty());
                assert_ne!(got, t.expected, "{} / {}", t.rule, t.name);
                differ += 1;
            }
        }
        seen.insert((t.rule.clone(), t.name.clone()));
    }
    assert_eq!(seen.len(), CASES.len());
    assert_eq!((agree, differ), (11, 3));
}

/// Without Panther's mock, the KNOWN_EXCEPTION sign-in is flagged: the exception is
/// configuration (lists/approved-legacy-apps.txt), not logic.
#[test]
fn legacy_auth_exception_is_our_allow_list() {
    let Some(dir) = panther_dir() else { return };
    let t = panther_tests(&dir)
        .into_iter()
        .find(|t| t.name == "Sign-In with legacy auth, KNOWN_EXCEPTION")
        .unwrap();
    let Ingested::Event(event) = ingest(&t.log) else {
        panic!("not a sign-in")
    };
    assert!(findings(&shipped(&[]), &event).contains("legacy-auth-signin"));
    let rules = shipped(&mocked_lists(&t));
    assert!(!findings(&rules, &event).contains("legacy-auth-signin"));
    // The allow-list suppressed it (the detection itself matched).
    let mut out = Vec::new();
    let mut stats = rules.new_stats();
    rules.evaluate(&event, &mut out, &mut stats);
    let i = rules
        .rules()
        .iter()
        .position(|r| r.id == "legacy-auth-signin")
        .unwrap();
    assert_eq!(stats.per_rule[i].matched, 1);
    assert_eq!(stats.per_rule[i].suppressed[0], 1);
}

/// The two legacy-auth rules key on different fields. On Panther's fixtures they agree, but
/// each would miss what the other catches: a BAV2ROPC user agent with a modern client, or
/// an "Authenticated SMTP" client with another user agent.
#[test]
fn legacy_auth_keys_differ() {
    let Some(dir) = panther_dir() else { return };
    let t = panther_tests(&dir)
        .into_iter()
        .find(|t| t.name == "Sign-In with legacy auth")
        .unwrap();
    let rules = shipped(&[]);
    let fires = |log: &Value| {
        let Ingested::Event(e) = ingest(log) else {
            panic!("not a sign-in")
        };
        findings(&rules, &e).contains("legacy-auth-signin")
    };
    // Panther keys on userAgent BAV2ROPC: a browser client with that user agent is legacy to
    // Panther, not to us.
    let mut modern = t.log.clone();
    modern["properties"]["clientAppUsed"] = "Browser".into();
    assert!(!fires(&modern));
    // We key on clientAppUsed: the same SMTP sign-in from another user agent is legacy to us,
    // not to Panther.
    let mut smtp = t.log.clone();
    smtp["properties"]["userAgent"] = "Microsoft Outlook 16.0".into();
    assert!(fires(&smtp));
}

/// Every Panther sign-in fixture through all ten shipped rules: which fire (a wider outside
/// check than the mapped rules, pinned). (Panther rule, test, our rules that fire.)
const ALL_RULES: &[(&str, &str, &[&str])] = &[
    (
        "Azure.Audit.DeviceCodeBrokerClient",
        "Device Code Auth with Broker Client",
        &[],
    ),
    (
        "Azure.Audit.DeviceCodeBrokerClient",
        "Device Code Without Broker Client",
        &[],
    ),
    (
        "Azure.Audit.ExcessiveAccountLockouts",
        "Account Lockout Error 50053",
        &[],
    ),
    (
        "Azure.Audit.ExcessiveAccountLockouts",
        "Different Error Code",
        &[],
    ),
    (
        "Azure.Audit.ExcessiveAccountLockouts",
        "Microsoft Corporate ASN Excluded",
        &[],
    ),
    ("Azure.Audit.ManyFailedSignIns", "Failed Sign-In", &[]),
    ("Azure.Audit.ManyFailedSignIns", "Successful Sign-In", &[]),
    (
        "Azure.Audit.GraphSessionMultipleIPs",
        "Multiple IP Access to Same Microsoft Graph Session",
        &[],
    ),
    (
        "Azure.Audit.GraphSessionMultipleIPs",
        "Non-Interactive Sign-In via NonInteractiveUserSignInLogs Category",
        &[],
    ),
    (
        "Azure.Audit.GraphSessionMultipleIPs",
        "Whitelisted Office 365",
        &[],
    ),
    (
        "Azure.Audit.HighRiskSignIn",
        "High Risk During Sign-In",
        &[
            "anonymizing-proxy-signin",
            "elastic-t1078-004",
            "elastic-t1586-003",
            "high-risk-country-signin",
            "logscale-t1586-003",
            "qradar-t1586-003",
            "risky-signin",
            "sumo-t1586-003",
        ],
    ),
    (
        "Azure.Audit.HighRiskSignIn",
        "High Risk Dismissed",
        &[
            "elastic-t1586-003",
            "logscale-t1586-003",
            "qradar-t1586-003",
            "risky-signin",
            "sumo-t1586-003",
        ],
    ),
    ("Azure.Audit.LegacyAuth", "Failed Sign-In", &[]),
    (
        "Azure.Audit.LegacyAuth",
        "Sign-In with legacy auth",
        &[
            "cross-tenant-single-factor",
            "elastic-t1078-004",
            "elastic-t1586-003",
            "legacy-auth-signin",
            "logscale-t1586-003",
            "qradar-t1586-003",
            "risky-signin",
            "sumo-t1586-003",
        ],
    ),
    (
        "Azure.Audit.LegacyAuth",
        "Sign-In with legacy auth, KNOWN_EXCEPTION",
        &[
            "cross-tenant-single-factor",
            "elastic-t1078-004",
            "elastic-t1586-003",
            "legacy-auth-signin",
            "logscale-t1586-003",
            "qradar-t1586-003",
            "risky-signin",
            "sumo-t1586-003",
        ],
    ),
    (
        "Azure.Audit.MultipleProtectionAlerts",
        "Risk Event Counts Toward Threshold",
        &[
            "elastic-t1586-003",
            "logscale-t1586-003",
            "qradar-t1586-003",
            "risky-signin",
            "sumo-t1586-003",
        ],
    ),
    (
        "Azure.Audit.MultipleProtectionAlerts",
        "No Risk Sign-In",
        &[],
    ),
    ("Azure.Audit.RiskLevelPassthrough", "Failed Sign-In", &[]),
    (
        "Azure.Audit.RiskLevelPassthrough",
        "Failed Sign-In with riskLevelAggregated",
        &[],
    ),
    (
        "Azure.Audit.RiskLevelPassthrough",
        "Failed Sign-In with riskLevelDuringSignIn",
        &[],
    ),
    (
        "Azure.Audit.RiskLevelPassthrough",
        "Failed Sign-In with riskLevelDuringSignIn and dismissed",
        &[],
    ),
    ("Azure.Audit.RiskLevelPassthrough", "Missing RiskState", &[]),
    (
        "Azure.Audit.ROPCLoginNoMFA",
        "ROPC Login Without MFA",
        &["legacy-auth-signin"],
    ),
    ("Azure.Audit.ROPCLoginNoMFA", "Failed ROPC Login", &[]),
    (
        "Azure.Audit.VSCodeOAuthPhishing",
        "VS Code to Microsoft Graph",
        &[],
    ),
    (
        "Azure.Audit.VSCodeOAuthPhishing",
        "VS Code to Different Resource",
        &[],
    ),
];

#[test]
fn every_panther_signin_fixture_through_every_shipped_rule() {
    let Some(dir) = panther_dir() else { return };
    let rules = shipped(&[]);
    let mut got: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut ignored = 0;
    for t in panther_tests(&dir) {
        match ingest(&t.log) {
            Ingested::Event(e) => {
                let f: Vec<String> = findings(&rules, &e).into_iter().collect();
                got.push((t.rule, t.name, f));
            }
            Ingested::Ignored(kind) => {
                assert!(kind.starts_with("category"), "{kind}");
                ignored += 1;
            }
        }
    }
    assert_eq!((got.len(), ignored), (26, 21));
    let want: Vec<(String, String, Vec<String>)> = ALL_RULES
        .iter()
        .map(|(r, n, f)| {
            (
                r.to_string(),
                n.to_string(),
                f.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(got, want);
}
/// Which of risky-signin's criteria match on the Panther fixtures it flags, and the score
/// field: (test, criteria, risk_points).
const RISKY_CRITERIA: &[(&str, &[&str], u64)] = &[
    (
        "High Risk During Sign-In",
        &[
            "risk_level_high",
            "risk_state_at_risk",
            "anonymized_ip",
            "travel_or_unfamiliar",
        ],
        7,
    ),
    // Only the level: the dismissed state is neither atRisk nor confirmedCompromised.
    ("High Risk Dismissed", &["risk_level_high"], 3),
    (
        "Sign-In with legacy auth",
        &["cross_tenant_single_factor"],
        1,
    ),
    (
        "Sign-In with legacy auth, KNOWN_EXCEPTION",
        &["cross_tenant_single_factor"],
        1,
    ),
    (
        "Risk Event Counts Toward Threshold",
        &[
            "risk_level_high",
            "risk_state_confirmed_compromised",
            "threat_intel_risk_event",
        ],
        7,
    ),
];

#[test]
fn risky_signin_criteria_on_panther_fixtures() {
    let Some(dir) = panther_dir() else { return };
    let rules = shipped(&[]);
    let mut got: Vec<(String, Vec<String>, u64)> = Vec::new();
    for t in panther_tests(&dir) {
        let Ingested::Event(e) = ingest(&t.log) else {
            continue;
        };
        let mut out = Vec::new();
        let mut stats = rules.new_stats();
        rules.evaluate(&e, &mut out, &mut stats);
        for f in out.iter().filter(|f| f.rule == "risky-signin") {
            let matched = f.fields["matched"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let points = f.fields["risk_points"].as_u64().unwrap();
            got.push((t.name.clone(), matched, points));
        }
    }
    let want: Vec<(String, Vec<String>, u64)> = RISKY_CRITERIA
        .iter()
        .map(|(n, c, p)| (n.to_string(), c.iter().map(|s| s.to_string()).collect(), *p))
        .collect();
    assert_eq!(got, want);
}
