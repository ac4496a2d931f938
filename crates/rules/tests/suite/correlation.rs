//! Multi-event rules through the library: the shipped correlations over dense random
//! corpora, one pass against the same signals split into runs with the state saved and
//! restored between them, and the window semantics at their edges.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;
use skein_model::{Event, Finding};
use skein_rules::fixtures::{events_of, Fixture};
use skein_rules::{load, Correlator, RuleSet, Signal};

use crate::common::{repo_root, texts};

fn shipped() -> RuleSet {
    let root = repo_root().join("correlations");
    let loaded = load(
        &texts(&root.join("rules"), &["yml", "yaml"]),
        &texts(&root.join("lists"), &["txt"]),
    );
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    loaded.rules
}

fn events(records: Vec<Value>) -> Vec<Event> {
    let fx = Fixture {
        rule: String::new(),
        description: None,
        events: records,
        expect: Vec::new(),
    };
    let mut events = events_of(&fx).expect("records parse");
    events.sort_by(|a, b| (a.time, a.source, &a.id).cmp(&(b.time, b.source, &b.id)));
    events
}

fn signals(rules: &RuleSet, events: &[Event]) -> Vec<Signal> {
    skein_rules::fixtures::evaluate_events(events, rules).1
}

/// Findings by id, the last version of each winning (as the store keeps them).
fn by_id(findings: Vec<Finding>) -> BTreeMap<String, Finding> {
    findings.into_iter().map(|f| (f.id.clone(), f)).collect()
}

fn one_pass(rules: &RuleSet, signals: Vec<Signal>) -> BTreeMap<String, Finding> {
    let mut c = Correlator::new(rules, "t").parallel_from(usize::MAX);
    let mut out = Vec::new();
    c.process(signals, &mut out).expect("in order");
    c.flush(&mut out);
    by_id(out)
}

/// The signals cut at the given times into runs; each run restores the state the previous
/// one saved.
fn split_runs(rules: &RuleSet, signals: &[Signal], cuts: &[usize]) -> BTreeMap<String, Finding> {
    let mut stored = BTreeMap::new();
    let mut saved: Option<Vec<u8>> = None;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (signals.len() + 1)).collect();
    bounds.push(signals.len());
    bounds.sort_unstable();
    let mut start = 0;
    for end in bounds {
        // A cut must not separate signals of one instant (a run ends after an instant).
        let mut end = end.max(start);
        while end < signals.len() && end > 0 && signals[end].time == signals[end - 1].time {
            end += 1;
        }
        // The split runs use threads for every call, the one pass never: same findings.
        let mut c = match &saved {
            Some(bytes) => Correlator::restore(rules, "t", bytes).expect("restores"),
            None => Correlator::new(rules, "t"),
        }
        .parallel_from(0);
        let mut out = Vec::new();
        let part = signals[start..end].to_vec();
        c.process(part, &mut out).expect("in order");
        c.compact(&mut out);
        saved = Some(c.checkpoint().expect("saves"));
        c.flush(&mut out);
        stored.extend(by_id(out));
        start = end;
    }
    stored
}

fn sorted_signals(rules: &RuleSet, seed: u64, n: usize) -> Vec<Signal> {
    let records = skein_testkit::dense_corpus(seed, n)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let mut s = signals(rules, &events(records));
    s.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    s
}

#[test]
fn dense_corpora_give_findings_of_every_multi_event_rule() {
    let rules = shipped();
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..4 {
        for f in one_pass(&rules, sorted_signals(&rules, seed, 1_500)).values() {
            *per_rule.entry(f.rule.clone()).or_default() += 1;
            assert!(!f.events.is_empty() && f.first_seen <= f.last_seen, "{f:?}");
            assert!(!f.entities.is_empty(), "{f:?}");
        }
    }
    for id in [
        "password-spray",
        "impossible-travel",
        "oauth-blob-without-signin",
        "aws-recon-burst",
    ] {
        assert!(
            per_rule.get(id).is_some_and(|n| *n > 0),
            "{id}: {per_rule:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Saving the state anywhere and continuing in a new correlator changes nothing.
    #[test]
    fn runs_split_anywhere_equal_one_run(
        seed in 0u64..10_000,
        n in 50usize..600,
        cuts in proptest::collection::vec(0usize..2_000, 0..5),
    ) {
        let rules = shipped();
        let signals = sorted_signals(&rules, seed, n);
        let whole = one_pass(&rules, signals.clone());
        let split = split_runs(&rules, &signals, &cuts);
        prop_assert_eq!(whole, split);
    }
}

#[test]
fn signals_older_than_the_saved_state_are_refused() {
    let rules = shipped();
    let signals = sorted_signals(&rules, 7, 300);
    assert!(signals.len() > 10);
    let mut c = Correlator::new(&rules, "t");
    let mut out = Vec::new();
    c.process(signals[5..].to_vec(), &mut out)
        .expect("in order");
    let err = c.process(signals[..5].to_vec(), &mut out).unwrap_err();
    assert!(err.to_string().contains("earlier than"), "{err}");
    let other = Correlator::restore(&rules, "other rules", &c.checkpoint().expect("saves"));
    assert!(other.is_err());
}

#[test]
fn a_saved_state_in_another_layout_is_refused_by_name() {
    let rules = shipped();
    let signals = sorted_signals(&rules, 11, 300);
    let mut c = Correlator::new(&rules, "t");
    let mut out = Vec::new();
    c.process(signals, &mut out).expect("in order");
    let saved = c.checkpoint().expect("saves");
    assert!(Correlator::restore(&rules, "t", &saved).is_ok());
    // Earlier builds saved JSON.
    let earlier = br#"{"version":4,"fingerprint":"t","watermark":null,"states":[]}"#;
    let err = Correlator::restore(&rules, "t", earlier)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("JSON layout"), "{err}");
    // Another binary layout version.
    let mut other = saved.clone();
    other[0] = 4;
    let err = Correlator::restore(&rules, "t", &other)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("layout version 4"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A damaged saved state (bytes changed, cut or added) is an error or a state, never a
    /// panic.
    #[test]
    fn damaged_saved_states_never_panic(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
        extra in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let rules = shipped();
        let signals = sorted_signals(&rules, 3, 400);
        let (before, after) = signals.split_at(signals.len() / 2);
        let mut c = Correlator::new(&rules, "t");
        let mut out = Vec::new();
        c.process(before.to_vec(), &mut out).expect("in order");
        let mut saved = c.checkpoint().expect("saves");
        let i = at.index(saved.len());
        if cut {
            saved.truncate(i);
        } else {
            saved[i] = byte;
        }
        saved.extend(extra.iter().copied());
        // A state that still reads is used: later signals, sweeps and the flush must not
        // panic on whatever it holds.
        if let Ok(c) = Correlator::restore(&rules, "t", &saved) {
            let mut c = c.parallel_from(0);
            let _ = c.process(after.to_vec(), &mut out);
            c.compact(&mut out);
            c.flush(&mut out);
        }
        if !extra.is_empty() {
            prop_assert!(Correlator::restore(&rules, "t", &saved).is_err(), "bytes after the state");
        }
    }

    /// The temporal, ordered temporal and chain correlations of the test rules: saving
    /// their state anywhere and continuing in a new correlator changes nothing.
    #[test]
    fn temporal_and_chain_runs_split_anywhere_equal_one_run(
        records in proptest::collection::vec((0u32..60, 0usize..3, 0usize..3, any::<bool>()), 5..80),
        cuts in proptest::collection::vec(0usize..200, 0..5),
    ) {
        let rules = test_rules();
        let records: Vec<Value> = records
            .iter()
            .enumerate()
            .map(|(i, &(minute, user, ip, ok))| {
                signin(
                    &format!("e{i}"),
                    minute,
                    ["a@x.com", "b@x.com", "c@x.com"][user],
                    ["192.0.2.1", "192.0.2.2", "2001:db8::1"][ip],
                    ok,
                )
            })
            .collect();
        let mut s = signals(&rules, &events(records));
        s.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        let whole = one_pass(&rules, s.clone());
        prop_assert_eq!(whole, split_runs(&rules, &s, &cuts));
    }
}

/// Rules written for these tests: two per-event rules and temporal / chain correlations
/// over them, grouped or joined by address.
const TEST_RULES: &str = r#"
title: failure
id: t-fail
logsource: {product: azure, service: signinlogs}
detection:
  sel: {outcome.success: false}
  condition: sel
level: low
---
title: success
id: t-ok
logsource: {product: azure, service: signinlogs}
detection:
  sel: {outcome.success: true}
  condition: sel
level: low
---
title: failure and success from one address
id: t-temporal
correlation:
  type: temporal
  rules: [t-fail, t-ok]
  group-by: [src_ip]
  timespan: 10m
level: medium
---
title: failure then success from one address
id: t-ordered
correlation:
  type: temporal_ordered
  rules: [t-fail, t-ok]
  group-by: [src_ip]
  timespan: 10m
level: medium
---
title: failure, then success of that user from that address, then a success elsewhere
id: t-chain
level: high
correlation:
  type: chain
  links:
    - rule: t-fail
    - rule: t-ok
      join: {src_ip: src_ip, actor.upn: actor.upn}
      within: 10m
    - rule: t-ok
      join: {actor.upn: actor.upn}
      within: 1h
"#;

/// Loads one rule file's text (no lists).
fn load_text(path: &str, text: &str) -> skein_rules::load::Loaded {
    load(
        &[skein_rules::SourceText {
            path: path.into(),
            text: text.into(),
        }],
        &[],
    )
}

fn test_rules() -> RuleSet {
    let loaded = load_text("t.yml", TEST_RULES);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    loaded.rules
}

fn signin(id: &str, minute: u32, upn: &str, ip: &str, ok: bool) -> Value {
    serde_json::json!({
        "id": id,
        "createdDateTime": format!("2026-03-09T08:{minute:02}:00Z"),
        "userPrincipalName": upn,
        "ipAddress": ip,
        "status": {"errorCode": if ok { 0 } else { 50126 }},
    })
}

fn findings_of(rules: &RuleSet, records: Vec<Value>, rule: &str) -> Vec<Vec<String>> {
    let evs = events(records);
    let mut out: Vec<Vec<String>> = one_pass(rules, signals(rules, &evs))
        .into_values()
        .filter(|f| f.rule == rule)
        .map(|f| f.events)
        .collect();
    out.sort();
    out
}

/// An absence looking both ways is decided by the events within its window on either side;
/// one before the window, or after it (which arrives once the event is decided), is not
/// enough, whichever came last. (The state keeps only the latest event of each address.)
#[test]
fn an_absence_is_answered_only_within_its_window_on_either_side() {
    let text = format!(
        "{TEST_RULES}---\ntitle: unanswered\nid: t-unanswered\nlevel: medium\ncorrelation:\n  \
         type: absence\n  rules: [t-fail]\n  absent: [t-ok]\n  keys: [src_ip]\n  before: 10m\n  \
         after: 10m\n"
    );
    let loaded = load_text("t.yml", &text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let records = vec![
        // Answered 5 minutes before; the success 15 minutes after comes too late to matter.
        signin("ok-a1", 5, "a@x.com", "192.0.2.1", true),
        signin("fail-a", 10, "a@x.com", "192.0.2.1", false),
        signin("ok-a2", 25, "a@x.com", "192.0.2.1", true),
        // 15 minutes before and 15 after: unanswered.
        signin("ok-b1", 0, "b@x.com", "192.0.2.2", true),
        signin("fail-b", 15, "b@x.com", "192.0.2.2", false),
        signin("ok-b2", 30, "b@x.com", "192.0.2.2", true),
        // Answered 5 minutes after.
        signin("fail-c", 40, "c@x.com", "192.0.2.3", false),
        signin("ok-c", 45, "c@x.com", "192.0.2.3", true),
        // Two successes, the later one still 15 minutes before: unanswered.
        signin("ok-d1", 30, "d@x.com", "192.0.2.4", true),
        signin("ok-d2", 35, "d@x.com", "192.0.2.4", true),
        signin("fail-d", 50, "d@x.com", "192.0.2.4", false),
    ];
    assert_eq!(
        findings_of(&loaded.rules, records, "t-unanswered"),
        [vec!["fail-b".to_string()], vec!["fail-d".to_string()]]
    );
}

#[test]
fn temporal_types_respect_group_by_order_and_use_events_once() {
    let rules = test_rules();
    let records = vec![
        // 10.0.0.1: success then failure (unordered only), within 10 minutes
        signin("a-ok", 0, "a@x", "10.0.0.1", true),
        signin("a-fail", 5, "a@x", "10.0.0.1", false),
        // a failure on one address and a success on another: neither
        signin("b-fail", 0, "b@x", "10.0.0.2", false),
        signin("b-ok", 1, "b@x", "10.0.0.3", true),
        // 10.0.0.4: failure then success (both types), then another success: the failure is
        // used once, so the second success alone gives nothing
        signin("c-fail", 10, "c@x", "10.0.0.4", false),
        signin("c-ok", 12, "c@x", "10.0.0.4", true),
        signin("c-ok2", 13, "c@x", "10.0.0.4", true),
        // 10.0.0.5: failure then success eleven minutes later: outside the window
        signin("d-fail", 20, "d@x", "10.0.0.5", false),
        signin("d-ok", 31, "d@x", "10.0.0.5", true),
    ];
    assert_eq!(
        findings_of(&rules, records.clone(), "t-temporal"),
        vec![
            vec!["a-ok".to_string(), "a-fail".into()],
            vec!["c-fail".into(), "c-ok".into()]
        ]
    );
    assert_eq!(
        findings_of(&rules, records, "t-ordered"),
        vec![vec!["c-fail".to_string(), "c-ok".into()]]
    );
}

#[test]
fn chains_join_each_link_by_its_own_keys() {
    let rules = test_rules();
    let records = vec![
        // full chain: fail from A, success of that user from A, success of that user from B
        signin("x-fail", 0, "x@x", "10.0.1.1", false),
        signin("x-ok-a", 3, "x@x", "10.0.1.1", true),
        signin("x-ok-b", 30, "x@x", "10.0.9.9", true),
        // the second link is another user from the same address: no chain
        signin("y-fail", 0, "y@x", "10.0.2.1", false),
        signin("z-ok-a", 2, "z@x", "10.0.2.1", true),
        signin("z-ok-b", 20, "z@x", "10.0.9.8", true),
    ];
    let got = findings_of(&rules, records, "t-chain");
    assert_eq!(
        got,
        vec![vec!["x-fail".to_string(), "x-ok-a".into(), "x-ok-b".into()]]
    );
}

/// Sigma aliases: one group-by name, a different field per rule (here a sign-in's UPN and an
/// AWS role session named after it), so a sign-in and the AWS calls of that person correlate.
#[test]
fn aliases_group_different_fields_of_different_rules() {
    let text = r#"
title: sign-in
id: a-signin
logsource: {product: azure, service: signinlogs}
detection:
  sel: {outcome.success: true}
  condition: sel
level: low
---
title: aws call
id: a-call
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {target.action: ListBuckets}
  condition: sel
level: low
---
title: sign-in then AWS by the same person
id: a-person
correlation:
  type: temporal_ordered
  rules: [a-signin, a-call]
  group-by: [person]
  timespan: 1h
  aliases:
    person:
      a-signin: actor.upn
      a-call: actor.role_session_name
level: medium
"#;
    let loaded = load_text("a.yml", text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let call = |id: &str, t: &str, session: &str| {
        serde_json::json!({"eventVersion": "1.08", "eventID": id, "eventTime": t,
            "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1",
            "sourceIPAddress": "192.0.2.9", "userAgent": "aws-cli/2",
            "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIAEXAMPLE",
                "arn": format!("arn:aws:sts::111122223333:assumed-role/Admin/{session}")}})
    };
    let records = vec![
        signin("s-ana", 0, "Ana@Contoso.com", "10.0.0.1", true),
        call("c-ana", "2026-03-09T08:20:00Z", "ana@contoso.com"),
        call("c-bob", "2026-03-09T08:21:00Z", "bob@contoso.com"),
    ];
    assert_eq!(
        findings_of(&loaded.rules, records, "a-person"),
        vec![vec!["s-ana".to_string(), "c-ana".into()]]
    );
}

/// A multi-event rule's problems name its file and line.
#[test]
fn correlation_problems_name_file_and_line() {
    let text = "title: base\nid: b\nlogsource: {product: azure, service: signinlogs}\ndetection:\n  sel: {outcome.success: true}\n  condition: sel\nlevel: low\n---\ntitle: broken\nid: broken-spray\ncorrelation:\n  type: value_count\n  rules: [b, nowhere]\n  group-by: [src_ip]\n  timespan: 10m\n  condition: {gte: 5, field: actor.upn}\nlevel: high\n---\ntitle: bad field\nid: bad-field\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [actor.upnn]\n  timespan: 10m\n  condition: {gte: 5}\nlevel: high\n---\ntitle: bad absence\nid: bad-absence\nlevel: high\ncorrelation:\n  type: absence\n  rules: [b]\n  keys: [src_ip]\n  before: 1h\n---\ntitle: forever\nid: forever\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [src_ip]\n  timespan: 300000y\n  condition: {gte: 5}\nlevel: high\n---\ntitle: forever before\nid: forever-before\nlevel: high\ncorrelation:\n  type: absence\n  rules: [b]\n  absent: [b]\n  keys: [src_ip]\n  before: 300000y\n";
    let loaded = load_text("c.yml", text);
    let msgs: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("c.yml:10:") && m.contains("\"nowhere\"")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("c.yml:20:") && m.contains("actor.upnn")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("c.yml:") && m.contains("absent")),
        "{msgs:?}"
    );
    for field in ["timespan", "correlation.before"] {
        assert!(
            msgs.iter()
                .any(|m| m.contains(field) && m.contains("longer than 100 years")),
            "{field}: {msgs:?}"
        );
    }
    assert!(loaded.rules.correlations().is_empty());
}

/// One event that matches two rules of an `event_count` correlation counts once.
#[test]
fn an_event_matching_two_rules_of_a_count_counts_once() {
    let text = r#"
title: any sign-in
id: t-any
logsource: {product: azure, service: signinlogs}
detection:
  sel: {outcome.success: [true, false]}
  condition: sel
level: low
---
title: failure
id: t-fail
logsource: {product: azure, service: signinlogs}
detection:
  sel: {outcome.success: false}
  condition: sel
level: low
---
title: three sign-in events from one address
id: t-three
correlation:
  type: event_count
  rules: [t-any, t-fail]
  group-by: [src_ip]
  timespan: 10m
  condition: {gte: 3}
level: medium
"#;
    let loaded = load_text("t.yml", text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let rules = loaded.rules;
    let two = vec![
        signin("f1", 0, "a@x", "10.0.0.1", false),
        signin("f2", 1, "b@x", "10.0.0.1", false),
    ];
    assert!(findings_of(&rules, two.clone(), "t-three").is_empty());
    let mut three = two;
    three.push(signin("o3", 2, "c@x", "10.0.0.1", true));
    assert_eq!(
        findings_of(&rules, three, "t-three"),
        vec![vec!["f1".to_string(), "f2".into(), "o3".into()]]
    );
}

/// A spray that never pauses is reported a day at a time: a count finding does not grow
/// (with every distinct value in memory) for as long as the corpus lasts.
#[test]
fn a_count_that_never_pauses_is_reported_a_day_at_a_time() {
    let rules = shipped();
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-09T00:00:00Z").expect("time");
    let records: Vec<Value> = (0..(3 * 24 * 60))
        .map(|i| {
            let t = start + chrono::TimeDelta::minutes(i);
            serde_json::json!({
                "id": format!("f{i}"),
                "createdDateTime": t.to_rfc3339(),
                "userPrincipalName": format!("u{i}@x.com"),
                "ipAddress": "203.0.113.9",
                "status": {"errorCode": 50126},
            })
        })
        .collect();
    let sprays = findings_of(&rules, records, "password-spray");
    assert_eq!(
        sprays.len(),
        3,
        "one per day: {:?}",
        sprays.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(sprays.iter().all(|f| f.len() <= 24 * 60 + 1));
}
