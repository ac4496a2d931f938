//! Per-event findings written straight to JSON (`RuleSet::evaluate_encoded`, what `correlate`
//! stores) are, byte for byte, what `Finding::write_json` writes for the findings
//! `RuleSet::evaluate_signals` makes: every shipped and SigmaHQ cloud rule over the demo
//! corpus and the real samples, and over damaged events.

use skein_model::{Event, Finding};
use skein_rules::{EncodedFinding, FindingScratch, RuleSet};

use crate::fast_path::{all_rules, real_and_demo_events};

/// A finding as stored: id, rule id, JSON.
type Stored = (String, String, String);

/// The findings of `event` both ways.
fn both_ways(rules: &RuleSet, event: &Event) -> (Vec<Stored>, Vec<Stored>) {
    let (mut memo, mut stats) = (rules.memo(), rules.new_stats());
    let (mut found, mut signals) = (Vec::<Finding>::new(), Vec::new());
    rules.evaluate_signals(&mut memo, event, &mut found, &mut signals, &mut stats);
    let made = found
        .iter()
        .map(|f| {
            let mut json = Vec::new();
            f.write_json(&mut json).unwrap();
            (
                f.id.clone(),
                f.rule.clone(),
                String::from_utf8(json).unwrap(),
            )
        })
        .collect();
    let mut encoded = Vec::new();
    let mut scratch = FindingScratch::default();
    let mut more_signals = Vec::new();
    rules.evaluate_encoded(
        &mut memo,
        event,
        &mut encoded,
        &mut scratch,
        &mut more_signals,
        &mut stats,
    );
    assert_eq!(signals, more_signals, "{}", event.id);
    let written = encoded
        .into_iter()
        .map(|f| {
            let EncodedFinding { id, rule, json } = f.unwrap();
            (
                id,
                rules.rules()[rule].id.clone(),
                String::from_utf8(json).unwrap(),
            )
        })
        .collect();
    (made, written)
}

#[test]
fn findings_written_straight_to_json_are_the_findings_json() {
    let rules = all_rules();
    let mut events = real_and_demo_events();
    // The same events with what summaries and entities read taken away or made odd: no
    // address, no actor, text JSON escapes, lists empty.
    let damaged: Vec<Event> = events
        .iter()
        .take(500)
        .map(|e| {
            let mut e = e.clone();
            e.src_ip = None;
            e.actor.upn = e.actor.upn.as_ref().map(|u| format!("\"{u}\\\u{1}é"));
            e.actor.user_id = None;
            e.risk.event_types.clear();
            e
        })
        .collect();
    events.extend(damaged);
    let mut findings = 0;
    for e in &events {
        let (made, written) = both_ways(&rules, e);
        findings += made.len();
        assert_eq!(made, written, "{}", e.id);
    }
    assert!(findings > 1_000, "only {findings} findings");
}
