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
//! ```
//!
//! Running a fixture parses its records with `skein-ingest` (no IO), evaluates the one rule,
//! and compares: every expected event must be flagged with the expected fields, and nothing
//! else may be flagged.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use skein_ingest::Item;
use skein_model::{Event, Finding};

use crate::engine::RuleSet;

/// One expected finding.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub event: String,
    #[serde(default)]
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub score: Option<u32>,
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
    if rules.get(&fixture.rule).is_none() {
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
    let mut findings: Vec<Finding> = Vec::new();
    let mut stats = rules.new_stats();
    for e in &events {
        let mut out = Vec::new();
        rules.evaluate(e, &mut out, &mut stats);
        findings.extend(out.into_iter().filter(|f| f.rule == fixture.rule));
    }
    report.flagged = findings.len();
    let by_event: BTreeMap<&str, &Finding> = findings
        .iter()
        .flat_map(|f| f.events.iter().map(move |id| (id.as_str(), f)))
        .collect();
    for exp in &fixture.expect {
        let Some(f) = by_event.get(exp.event.as_str()) else {
            report
                .failures
                .push(format!("{}: expected a finding, got none", exp.event));
            continue;
        };
        for (k, want) in &exp.fields {
            let got = f.fields.get(k).unwrap_or(&Value::Null);
            if got != want {
                report.failures.push(format!(
                    "{}: fields.{k} is {got}, expected {want}",
                    exp.event
                ));
            }
        }
        if let Some(want) = exp.score {
            if f.score != want {
                report.failures.push(format!(
                    "{}: score is {}, expected {want}",
                    exp.event, f.score
                ));
            }
        }
    }
    for f in &findings {
        for id in &f.events {
            if !fixture.expect.iter().any(|e| &e.event == id) {
                report.failures.push(format!(
                    "{id}: flagged but not expected (fields {})",
                    Value::Object(f.fields.clone())
                ));
            }
        }
    }
    report
}
