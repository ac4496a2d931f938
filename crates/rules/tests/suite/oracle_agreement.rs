//! The seed ports against the generator's own reading of the seeds.
//!
//! `corpus/demo/manifest.json` annotates the scenario sign-ins with per-event seed verdicts
//! (`seeds: {flagged, not_flagged, threat_scores}`, computed by `crates/testkit/src/oracle.rs`;
//! a port left out of both lists is undetermined there and not checked). This test ingests
//! the demo corpus's Entra sign-in files through the real ingest path (`input::open` →
//! `Framer` → `parse_frame`), evaluates the shipped rules, and requires every determined
//! verdict to hold for the ports: flagged or not, and the LogScale / Sumo `threat_score`.
//!
//! Where the oracle and a port disagree and the port is right by the seed's text (and the
//! rule header documents the decision), the case is listed in [`KNOWN_DISAGREEMENTS`] with
//! the reason; the test also fails if such a listed disagreement goes away, so the list
//! stays exact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::common::{repo_root, texts};
use serde_json::Value;
use skein_ingest::framing::{Framer, DEFAULT_MAX_RECORD_BYTES};
use skein_ingest::{input, parse_frame, Item};
use skein_model::{Event, Finding};
use skein_rules::{load, RuleSet};

const PORTS: [&str; 5] = [
    "elastic-t1586-003",
    "logscale-t1586-003",
    "sumo-t1586-003",
    "qradar-t1586-003",
    "elastic-t1078-004",
];

/// Disagreements between the oracle and a port where the port follows the seed's text and
/// its rule header: (event id, rule, scenario label and what differs, why). Empty since the
/// oracle learned that LogScale's regex reads no field when `riskEventTypes_v2` arrives as a
/// JSON array (13 LogScale verdicts disagreed before).
const KNOWN_DISAGREEMENTS: &[(&str, &str, &str, &str)] = &[];

fn shipped_rules() -> RuleSet {
    let root = repo_root().join("correlations");
    let loaded = load(
        &texts(&root.join("rules"), &["yml", "yaml"]),
        &texts(&root.join("lists"), &["txt"]),
    );
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    assert!(loaded.diagnostics.is_empty());
    loaded.rules.retain(|r| PORTS.contains(&r.id.as_str()))
}

/// Frames and parses one corpus file; every record must parse.
fn ingest(path: &Path) -> Vec<Event> {
    let spec = input::InputSpec::file(path);
    let reader = input::open(&spec, Arc::default()).unwrap();
    let mut events = Vec::new();
    for frame in Framer::new(reader, DEFAULT_MAX_RECORD_BYTES) {
        let frame = frame.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut out = Vec::new();
        parse_frame(&frame, None, &mut out);
        for item in out {
            match item {
                Item::Event(e) => events.push(*e),
                other => panic!("{}:{}: {other:?}", path.display(), frame.line),
            }
        }
    }
    events
}

/// One determined verdict of the oracle.
#[derive(Debug)]
struct Verdict {
    file: String,
    id: String,
    label: String,
    flagged: Vec<String>,
    not_flagged: Vec<String>,
    threat_scores: BTreeMap<String, u64>,
}

fn verdicts(manifest: &Value) -> Vec<Verdict> {
    let mut out = Vec::new();
    for scenario in manifest["scenarios"].as_array().unwrap() {
        assert_eq!(
            scenario["events_truncated"],
            Value::Bool(false),
            "scenario {} lists only part of its events",
            scenario["name"]
        );
        let Some(events) = scenario["events"].as_array() else {
            continue;
        };
        for e in events {
            let Some(seeds) = e.get("seeds") else {
                continue;
            };
            let names = |k: &str| -> Vec<String> {
                seeds[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect()
            };
            out.push(Verdict {
                file: e["file"].as_str().unwrap().to_string(),
                id: e["id"].as_str().unwrap().to_string(),
                label: e["label"].as_str().unwrap_or("").to_string(),
                flagged: names("flagged"),
                not_flagged: names("not_flagged"),
                threat_scores: seeds["threat_scores"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                    .collect(),
            });
        }
    }
    out
}

#[test]
fn seed_ports_agree_with_the_generators_determined_verdicts() {
    let corpus = repo_root().join("corpus/demo");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("manifest.json")).unwrap())
            .unwrap();
    let verdicts = verdicts(&manifest);
    assert!(
        verdicts.len() >= 100,
        "only {} annotated sign-ins",
        verdicts.len()
    );
    let rules = shipped_rules();
    assert_eq!(rules.rules().len(), PORTS.len());

    // Findings of the ports, by (file, event id).
    let wanted: BTreeSet<&str> = verdicts.iter().map(|v| v.file.as_str()).collect();
    let mut findings: BTreeMap<(String, String), Vec<Finding>> = BTreeMap::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for file in &wanted {
        let mut stats = rules.new_stats();
        for e in ingest(&corpus.join(file)) {
            let key = (file.to_string(), e.id.clone());
            let mut out = Vec::new();
            rules.evaluate(&e, &mut out, &mut stats);
            seen.insert(key.clone());
            findings.entry(key).or_default().extend(out);
        }
    }

    let mut problems: Vec<(String, String, String)> = Vec::new();
    let mut checked = 0usize;
    for v in &verdicts {
        let key = (v.file.clone(), v.id.clone());
        assert!(seen.contains(&key), "{} not found in {}", v.id, v.file);
        let got = findings.get(&key).map(Vec::as_slice).unwrap_or_default();
        let finding = |rule: &str| got.iter().find(|f| f.rule == rule);
        for rule in &v.flagged {
            checked += 1;
            if finding(rule).is_none() {
                problems.push((
                    v.id.clone(),
                    rule.clone(),
                    format!(
                        "oracle: flagged; port: not flagged ({}, {})",
                        v.label, v.file
                    ),
                ));
            }
        }
        for rule in &v.not_flagged {
            checked += 1;
            if let Some(f) = finding(rule) {
                problems.push((
                    v.id.clone(),
                    rule.clone(),
                    format!(
                        "oracle: not flagged; port: flagged with {} ({}, {})",
                        Value::Object(f.fields.clone()),
                        v.label,
                        v.file
                    ),
                ));
            }
        }
        for (rule, want) in &v.threat_scores {
            checked += 1;
            let Some(f) = finding(rule) else {
                continue; // reported above
            };
            let got = f.fields.get("threat_score").and_then(Value::as_u64);
            if got != Some(*want) {
                problems.push((
                    v.id.clone(),
                    rule.clone(),
                    format!(
                        "oracle: threat_score {want}; port: {got:?} ({}, {})",
                        v.label, v.file
                    ),
                ));
            }
        }
    }
    eprintln!(
        "{checked} determined verdicts checked on {} sign-ins",
        verdicts.len()
    );

    let known: BTreeSet<(&str, &str)> = KNOWN_DISAGREEMENTS
        .iter()
        .map(|(id, rule, _, _)| (*id, *rule))
        .collect();
    let mut unexpected = Vec::new();
    let mut found: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (id, rule, what) in &problems {
        if known.contains(&(id.as_str(), rule.as_str())) {
            found.insert((id.as_str(), rule.as_str()));
        } else {
            unexpected.push(format!("{id} {rule}: {what}"));
        }
    }
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        unexpected.is_empty() && gone.is_empty(),
        "disagreements with the oracle:\n  {}\nlisted disagreements that no longer occur: {gone:?}",
        unexpected.join("\n  ")
    );
}
