//! skein's index-based condition evaluator (`fast.rs`) agrees with `rsigma_eval::evaluate_rule`
//! on every rule and criterion: the shipped rules and SigmaHQ's cloud rules, over the demo
//! corpus and the real CloudTrail and sign-in samples in `../shared/data`, and over random
//! sign-ins, with one memo kept from event to event (as evaluation keeps it).

use std::path::Path;
use std::sync::Arc;

use crate::common::{files, repo_root, texts};
use proptest::prelude::*;
use skein_ingest::framing::{Framer, DEFAULT_MAX_RECORD_BYTES};
use skein_ingest::{input, parse_frame, Item};
use skein_model::{Event, Source, WireShape};
use skein_rules::{load, RuleSet};

/// The shipped rules plus every SigmaHQ cloud rule that loads.
pub(crate) fn all_rules() -> RuleSet {
    let corr = repo_root().join("correlations");
    let mut rule_files = texts(&corr.join("rules"), &["yml", "yaml"]);
    rule_files.extend(texts(
        &repo_root().join("../shared/data/sigma/rules/cloud"),
        &["yml", "yaml"],
    ));
    load(&rule_files, &texts(&corr.join("lists"), &["txt"])).rules
}

/// Every event of the files under `dir` that parses (others are skipped).
pub(crate) fn events_under(dir: &Path) -> Vec<Event> {
    let mut paths = Vec::new();
    files(dir, &["json", "jsonl", "ndjson", "gz", "log"], &mut paths);
    let mut events = Vec::new();
    for path in paths {
        let Ok(reader) = input::open(&input::InputSpec::file(&path), Arc::default()) else {
            continue;
        };
        for frame in Framer::new(reader, DEFAULT_MAX_RECORD_BYTES).flatten() {
            let mut out = Vec::new();
            parse_frame(&frame, None, &mut out);
            events.extend(out.into_iter().filter_map(|i| match i {
                Item::Event(e) => Some(*e),
                _ => None,
            }));
        }
    }
    events
}

/// The demo corpus and the real CloudTrail and sign-in samples in `../shared/data`.
pub(crate) fn real_and_demo_events() -> Vec<Event> {
    let shared = repo_root().join("../shared/data");
    let mut events = events_under(&repo_root().join("corpus/demo"));
    for sub in [
        "stratus-red-team",
        "otrf-security-datasets",
        "panther-analysis",
        "azure-sentinel-notebooks",
        "splunk-security-content",
    ] {
        events.extend(events_under(&shared.join(sub)));
    }
    assert!(events.len() > 2_000, "{} events", events.len());
    events
}

/// The events with the wire facts the "as sent" fields read made to vary: texts kept in
/// `verbatim`, tenants sent blank or inferred.
fn with_sent_variants(events: Vec<Event>) -> Vec<Event> {
    let mut out = Vec::with_capacity(events.len() * 3);
    for e in events {
        let mut blank = e.clone();
        blank.tenants.home = None;
        blank.tenants.home_blank = true;
        blank.tenants.resource = None;
        blank.tenants.resource_blank = !e.tenants.resource_blank;
        blank.tenants.resource_inferred = !e.tenants.resource_inferred;
        let mut sent = e.clone();
        for name in [
            "risk.level_during_signin",
            "risk.state",
            "signin.authentication_requirement",
            "signin.conditional_access_status",
            "signin.client_app_used",
            "geo.country",
            "tenants.home",
            "tenants.resource",
        ] {
            sent.verbatim
                .push((name.into(), format!(" {name} AS SENT ")));
        }
        out.extend([e, blank, sent]);
    }
    out
}

/// `EventView::value` answers a text field through `text_value` and has no answer of its
/// own for one: a field `text_value` answers for one event it must answer for every event
/// (a guarded arm without its complement would make `value` absent).
#[test]
fn text_fields_are_answered_as_texts_for_every_event() {
    use skein_rules::fields::Field;
    use skein_rules::view::EventView;
    let events = with_sent_variants(real_and_demo_events());
    let texts = |e: &Event| -> Vec<bool> {
        let view = EventView::new(e);
        Field::ALL
            .iter()
            .map(|f| view.text_value(*f).is_some())
            .collect()
    };
    let first = texts(&events[0]);
    for e in &events {
        assert_eq!(texts(e), first, "{}", e.id);
    }
    // Every field but the flags, numbers, lists and the two formatted ones.
    assert_eq!(first.iter().filter(|t| **t).count(), Field::ALL.len() - 12);
}

#[test]
fn fast_path_agrees_with_rsigma_on_real_and_demo_data() {
    let rules = all_rules();
    assert!(rules.rules().len() >= 80, "{} rules", rules.rules().len());
    let events = with_sent_variants(real_and_demo_events());
    let mut fast = 0;
    let mut bad = Vec::new();
    // One memo for all the events, as a scanning thread keeps one: the answers of costly
    // selections remembered by text come from earlier events.
    let mut memo = rules.memo();
    for e in &events {
        match rules.cross_check_with(&mut memo, e) {
            Ok(n) => fast += n,
            Err(b) => bad.extend(b),
        }
    }
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(fast > 10_000, "only {fast} fast evaluations");
}

/// A sign-in parsed from the Graph form, with `client` as its client application.
fn signin_with_client(client: &str) -> Event {
    let raw = serde_json::json!({
        "id": "m1", "createdDateTime": "2026-11-04T10:00:00Z",
        "status": {"errorCode": 0}, "userPrincipalName": "a@contoso.com",
        "ipAddress": "203.0.113.9", "clientAppUsed": client,
    });
    parsed(&raw)
}

/// The event ingest makes of the JSON record `raw` (panics if it makes none).
fn parsed(raw: &serde_json::Value) -> Event {
    let mut out = Vec::new();
    let text = raw.to_string();
    let object = raw.as_object().expect("an object");
    skein_ingest::detect::parse_object(object, &text, None, &mut out);
    match out.pop() {
        Some(Item::Event(e)) => *e,
        _ => panic!("{text} does not parse"),
    }
}

/// One memo used with two rule sets whose first remembered selection differs: each set
/// gets its own answers (a memo forgets what it remembered for another table).
#[test]
fn a_memo_used_with_two_rule_sets_gives_each_its_own_answers() {
    let rules = |client: &str| {
        let text = format!(
            "title: t\nid: legacy-{client}\nlogsource: {{product: azure, service: signinlogs}}\n\
             detection:\n  legacy:\n    signin.client_app_used|re: '^{client}$'\n  \
             condition: legacy\nlevel: low\n"
        );
        let loaded = load(
            &[skein_rules::SourceText {
                path: format!("{client}.yml"),
                text,
            }],
            &[],
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        loaded.rules
    };
    let (imap, browser) = (rules("IMAP4"), rules("Browser"));
    let event = signin_with_client("IMAP4");
    let mut memo = imap.memo();
    for _ in 0..3 {
        for set in [&imap, &browser] {
            // The fast answer is compared with rsigma's: `Browser` must not take `IMAP4`'s.
            if let Err(bad) = set.cross_check_with(&mut memo, &event) {
                panic!("{}", bad.join("\n"));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fast_path_agrees_with_rsigma_on_random_signins(
        success in any::<bool>(),
        level in prop::sample::select(vec!["high", "High", "medium", "low", "none", "high "]),
        state in prop::sample::select(vec!["atRisk", "AtRisk", "confirmedCompromised", "none"]),
        events in prop::collection::vec(prop::sample::select(vec![
            "unfamiliarFeatures", "anonymizedIPAddress", "passwordSpray", "unlikelyTravel"]), 0..3),
        text_form in any::<bool>(),
        auth in prop::sample::select(vec!["singleFactorAuthentication", "SingleFactorAuthentication", "multiFactorAuthentication"]),
        home in prop::sample::select(vec![None, Some(""), Some("t1"), Some("T1"), Some("b8bb8bda-f784-4b52-8731-f03172f8c665")]),
        resource in prop::sample::select(vec![None, Some("t1"), Some("t2")]),
        client in prop::sample::select(vec!["Browser", "IMAP4", "Exchange ActiveSync", "ExchangeActiveSync", "Authenticated SMTP", "Other clients"]),
        ca in prop::sample::select(vec![None, Some("notApplied"), Some("success"), Some("")]),
        country in prop::sample::select(vec!["GB", "RU", "ru", "KP"]),
        ip in prop::sample::select(vec!["62.254.128.10", "185.220.101.47", "203.0.113.9"]),
    ) {
        let mut raw = serde_json::json!({
            "id": "p1", "createdDateTime": "2026-11-04T10:00:00Z",
            "status": {"errorCode": if success { 0 } else { 50126 }},
            "userPrincipalName": "a@contoso.com", "ipAddress": ip,
            "riskLevelDuringSignIn": level, "riskState": state,
            "authenticationRequirement": auth, "clientAppUsed": client,
            "location": {"countryOrRegion": country},
        });
        raw["riskEventTypes_v2"] = if text_form {
            serde_json::Value::String(events.join(","))
        } else {
            serde_json::json!(events)
        };
        if let Some(h) = home { raw["homeTenantId"] = h.into(); }
        if let Some(r) = resource { raw["resourceTenantId"] = r.into(); }
        if let Some(c) = ca { raw["conditionalAccessStatus"] = c.into(); }
        let e = parsed(&raw);
        prop_assert_eq!(e.source, Source::EntraSignin);
        prop_assert_eq!(e.shape, WireShape::GraphSignin);
        static RULES: std::sync::LazyLock<RuleSet> = std::sync::LazyLock::new(all_rules);
        // One memo from case to case (answers remembered by text from earlier cases).
        thread_local! {
            static MEMO: std::cell::RefCell<skein_rules::Memo> = std::cell::RefCell::new(RULES.memo());
        }
        let checked = MEMO.with(|m| RULES.cross_check_with(&mut m.borrow_mut(), &e));
        if let Err(bad) = checked {
            prop_assert!(false, "{}", bad.join("\n"));
        }
    }
}
