//! Rule fixtures (`correlations/fixtures/<rule-id>.yml`): records in, the exact findings out.
//!
//! ```yaml
//! rule: risky-signin
//! events:                 # records in any input shape skein ingests
//!   - {id: s1, createdDateTime: ..., status: {errorCode: 0}, riskLevelDuringSignIn: high}
//!   - {id: s2, ...}
//! expect:                 # exactly these findings, by evidence event id
//!   - event: s1
//!     fields: {threat_score: 1}   # these fields must have these values (others may exist)
//!     score: 70                   # optional
//!   - events: [s2, s3]            # a multi-event finding: exactly this evidence
//! ```
//!
//! Running a fixture parses its records with `skein-ingest` (no IO), evaluates every rule
//! (multi-event rules over the events in time order) and compares the fixture rule's
//! findings: every expected finding must be there with the expected fields, and nothing else
//! may be flagged.

use serde::Deserialize;
use serde_json::{Map, Value};
use skein_ingest::Item;
use skein_model::{Event, Finding};

use crate::correlation::{Correlator, Signal};
use crate::engine::RuleSet;

/// One expected finding: of one event (`event`), or of exactly these evidence events
/// (`events`, for multi-event rules; order does not matter).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub score: Option<u32>,
}

impl Expected {
    /// The evidence ids, sorted.
    fn evidence(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.event.iter().chain(&self.events).cloned().collect();
        ids.sort();
        ids
    }
}

/// A fixture file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub rule: String,
    #[serde(default)]
    pub description: Option<String>,
    pub events: Vec<Value>,
    #[serde(default)]
    pub expect: Vec<Expected>,
}

/// What running a fixture found.
#[derive(Debug, Clone, Default)]
pub struct FixtureReport {
    pub rule: String,
    pub events: usize,
    pub expected: usize,
    pub flagged: usize,
    /// Empty when the fixture passed.
    pub failures: Vec<String>,
}

impl FixtureReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Parses a fixture file's text.
pub fn parse(text: &str) -> Result<Fixture, String> {
    yaml_serde::from_str(text).map_err(|e| e.to_string())
}

/// Parses fixture records into events; a record that does not parse is a failure.
pub fn events_of(fixture: &Fixture) -> Result<Vec<Event>, Vec<String>> {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in fixture.events.iter().enumerate() {
        let Value::Object(obj) = record else {
            errors.push(format!("events[{i}] is not a JSON object"));
            continue;
        };
        let raw = record.to_string();
        let mut items = Vec::new();
        skein_ingest::detect::parse_object(obj, &raw, None, &mut items);
        for item in items {
            match item {
                Item::Event(e) => events.push(*e),
                Item::Ignored { kind } => {
                    errors.push(format!("events[{i}] is not an event skein reads ({kind})"))
                }
                Item::Rejected { error, .. } => {
                    errors.push(format!("events[{i}] does not parse: {error}"))
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}

/// Runs `fixture` against the rule of the same id in `rules`.
pub fn run(fixture: &Fixture, rules: &RuleSet) -> FixtureReport {
    let mut report = FixtureReport {
        rule: fixture.rule.clone(),
        events: fixture.events.len(),
        expected: fixture.expect.len(),
        ..FixtureReport::default()
    };
    if !rules.knows(&fixture.rule) {
        report
            .failures
            .push(format!("no rule with id {:?} is loaded", fixture.rule));
        return report;
    }
    let events = match events_of(fixture) {
        Ok(e) => e,
        Err(errs) => {
            report.failures = errs;
            return report;
        }
    };
    let findings = evaluate_all(&events, rules);
    let mine: Vec<&Finding> = findings.iter().filter(|f| f.rule == fixture.rule).collect();
    report.flagged = mine.len();
    let mut used = vec![false; mine.len()];
    for exp in &fixture.expect {
        let want = exp.evidence();
        let name = want.join(", ");
        let found = mine.iter().enumerate().find(|(i, f)| {
            let mut got = f.events.clone();
            got.sort();
            !used[*i] && got == want
        });
        let Some((i, f)) = found else {
            report
                .failures
                .push(format!("{name}: expected a finding, got none"));
            continue;
        };
        used[i] = true;
        for (k, want) in &exp.fields {
            let got = f.fields.get(k).unwrap_or(&Value::Null);
            if got != want {
                report
                    .failures
                    .push(format!("{name}: fields.{k} is {got}, expected {want}"));
            }
        }
        if let Some(want) = exp.score {
            if f.score != want {
                report
                    .failures
                    .push(format!("{name}: score is {}, expected {want}", f.score));
            }
        }
    }
    for (f, _) in mine.iter().zip(&used).filter(|(_, u)| !**u) {
        report.failures.push(format!(
            "{}: flagged but not expected (fields {})",
            f.events.join(", "),
            Value::Object(f.fields.clone())
        ));
    }
    report
}

/// Every rule over `events`: per-event findings, then the multi-event rules over the events
/// in time order (with the findings still open at the end).
pub fn evaluate_all(events: &[Event], rules: &RuleSet) -> Vec<Finding> {
    let (mut findings, signals) = evaluate_events(events, rules);
    let mut correlator = Correlator::new(rules, "fixture");
    // A fresh correlator has no watermark, so nothing is out of order.
    let _ = correlator.process(signals, &mut findings);
    correlator.flush(&mut findings);
    findings
}

/// The per-event rules over `events`: their findings, and the signals for multi-event rules.
pub fn evaluate_events(events: &[Event], rules: &RuleSet) -> (Vec<Finding>, Vec<Signal>) {
    let mut findings = Vec::new();
    let mut signals = Vec::new();
    let mut stats = rules.new_stats();
    let mut memo = rules.memo();
    for e in events {
        rules.evaluate_signals(&mut memo, e, &mut findings, &mut signals, &mut stats);
    }
    (findings, signals)
}
