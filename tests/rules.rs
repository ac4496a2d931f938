//! `skein rules`, `skein correlate` and `skein findings` end to end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util::{repo_root, Skein};

/// The shipped rules, run as CI runs them.
#[test]
fn rules_test_passes_on_the_shipped_correlations() {
    let s = Skein::new();
    let dir = repo_root().join("correlations");
    let out = s.ok(&["rules", "test", dir.to_str().unwrap()]);
    assert!(out.contains("rules test: 14 passed, 0 failed"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&s.ok(&[
        "rules",
        "validate",
        "--format",
        "json",
        dir.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(v["rules_loaded"], 19);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const GOOD: &str = "title: t
id: good-rule
logsource: {product: azure, service: signinlogs}
detection:
  sel:
    outcome.success: true
  condition: sel
level: low
";

/// Every kind of mistake is reported with its file and line, and the exit status is 2.
#[test]
fn rules_validate_names_file_and_line() {
    let s = Skein::new();
    let root = s.dir.path().join("corr");
    write(&root, "rules/good.yml", GOOD);
    write(
        &root,
        "rules/bad.yml",
        "title: typo\nid: typo-rule\nlogsource: {product: azure, service: signinlogs}\ndetection:\n  sel:\n    risk.levl: high\n  condition: sel\nlevel: low\n---\ntitle: modifier\nid: mod-rule\nlogsource: {product: azure, service: signinlogs}\ndetection:\n  sel:\n    outcome.error_code|sometimes: x\n  condition: sel\nlevel: low\n---\ntitle: list\nid: list-rule\nlogsource: {product: azure, service: signinlogs}\ndetection:\n  sel:\n    list.nope: true\n  condition: sel\nlevel: low\nskein:\n  allow:\n    - {list: missing-list, field: src_ip}\n",
    );
    write(&root, "lists/bad-ips.txt", "10.0.0.0/8\nnot an address\n");
    write(
        &root,
        "rules/uses-bad-list.yml",
        "title: l\nid: uses-bad\nlogsource: {product: azure, service: signinlogs}\ndetection:\n  sel: {outcome.success: true}\n  condition: sel\nlevel: low\nskein:\n  allow: [{list: bad-ips, field: src_ip}]\n",
    );
    let out = s.run(&["rules", "validate", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    let bad = root.join("rules/bad.yml").display().to_string();
    assert!(
        text.contains(&format!("{bad}:6: risk.levl: not a field")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{bad}:15:")) && text.contains("sometimes"),
        "{text}"
    );
    assert!(text.contains("list.nope: no list named"), "{text}");
    assert!(text.contains("\"missing-list\" does not exist"), "{text}");
    assert!(text.contains("bad-ips.txt:2:"), "{text}");
    assert!(text.contains("\"good-rule\" has no fixtures"), "{text}");
    // correlate refuses to run on rules with problems: a configuration error.
    let out = s.run(&["correlate", "--rules", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rules_test_fails_when_a_fixture_disagrees() {
    let s = Skein::new();
    let root = s.dir.path().join("corr");
    write(&root, "rules/good.yml", GOOD);
    write(
        &root,
        "fixtures/good-rule.yml",
        "rule: good-rule\nevents:\n  - {id: a, createdDateTime: '2026-01-01T00:00:00Z', status: {errorCode: 0}}\n  - {id: b, createdDateTime: '2026-01-01T00:00:00Z', status: {errorCode: 50126}}\nexpect:\n  - event: b\n",
    );
    let out = s.run(&["rules", "test", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("b: expected a finding, got none"), "{text}");
    assert!(text.contains("a: flagged but not expected"), "{text}");
}

pub(crate) fn demo_state() -> Skein {
    let s = Skein::new();
    s.ok(&[
        "ingest",
        "--no-progress",
        repo_root().join("corpus/demo").to_str().unwrap(),
    ]);
    s
}

fn correlate(s: &Skein) -> serde_json::Value {
    s.correlate_json(&repo_root().join("correlations"), &[])
}

/// Findings are stored once: a second run adds none; every output format shows them all.
#[test]
fn correlate_is_idempotent_and_findings_print_in_every_format() {
    let s = demo_state();
    let first = correlate(&s);
    let found = first["findings"].as_u64().unwrap();
    assert!(found > 50, "{first}");
    assert_eq!(first["new_findings"].as_u64().unwrap(), found);
    // Nothing was ingested since: the second run reads nothing.
    let second = correlate(&s);
    assert_eq!(second["new_findings"], 0, "{second}");
    assert_eq!(second["events"], 0, "{second}");
    assert!(
        second["run"].as_str().unwrap().contains("nothing ingested"),
        "{second}"
    );
    // A full recomputation finds the same findings and adds none.
    let rules = repo_root().join("correlations");
    let full = s.correlate_json(&rules, &["--full"]);
    assert_eq!(full["new_findings"], 0, "{full}");
    assert_eq!(full["updated_findings"], 0, "{full}");
    assert_eq!(full["findings"].as_u64().unwrap(), found);
    assert_eq!(s.stats()["findings"].as_u64().unwrap(), found);

    let all: Vec<serde_json::Value> =
        serde_json::from_str(&s.ok(&["findings", "--format", "json"])).unwrap();
    assert_eq!(all.len() as u64, found);
    for f in &all {
        for key in [
            "id",
            "rule",
            "title",
            "severity",
            "score",
            "first_seen",
            "last_seen",
            "entities",
            "events",
            "attack",
            "summary",
            "fields",
        ] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
        assert!(f["entities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| ["actor", "source", "target", "resource"]
                .contains(&e["role"].as_str().unwrap())));
    }
    let ndjson = s.ok(&["findings", "--format", "ndjson"]);
    assert_eq!(ndjson.lines().count() as u64, found);
    let csv = s.ok(&["findings", "--format", "csv"]);
    assert!(csv.starts_with("id,rule,title,severity,score,"));
    let table = s.ok(&["findings"]);
    assert!(
        table.trim_end().ends_with(&format!("{found} findings")),
        "{table}"
    );
    let one: Vec<serde_json::Value> =
        serde_json::from_str(&s.ok(&["findings", "--format", "json", "--rule", "sumo-t1586-003"]))
            .unwrap();
    assert!(!one.is_empty());
    assert!(one.iter().all(|f| f["rule"] == "sumo-t1586-003"));
    assert!(one.iter().all(|f| f["fields"]["threat_score"].is_u64()));
}

const SINGLE_EVENT_RULES: &[&str] = &[
    "elastic-t1586-003",
    "logscale-t1586-003",
    "sumo-t1586-003",
    "qradar-t1586-003",
    "elastic-t1078-004",
    "risky-signin",
    "legacy-auth-signin",
    "high-risk-country-signin",
    "cross-tenant-single-factor",
    "anonymizing-proxy-signin",
];

/// The generator's scenarios say which rules must and must not flag them: check every
/// statement about a shipped rule (single- or multi-event) against the stored findings.
#[test]
fn findings_agree_with_the_demo_corpus_scenarios() {
    let s = demo_state();
    correlate(&s);
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&s.ok(&["findings", "--format", "json"])).unwrap();
    let mut flagged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &all {
        for id in f["events"].as_array().unwrap() {
            flagged
                .entry(f["rule"].as_str().unwrap().to_string())
                .or_default()
                .insert(id.as_str().unwrap().to_string());
        }
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("corpus/demo/manifest.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for sc in manifest["scenarios"].as_array().unwrap() {
        let ids: BTreeSet<String> = sc["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(event_id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let name = sc["name"].as_str().unwrap();
        for (key, want) in [("flagged_by", true), ("not_flagged_by", false)] {
            for rule in sc[key]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r.as_str())
            {
                if !SINGLE_EVENT_RULES.contains(&rule) && !MULTI_EVENT_RULES.contains(&rule) {
                    continue;
                }
                let hit = flagged
                    .get(rule)
                    .is_some_and(|set| ids.iter().any(|id| set.contains(id)));
                assert_eq!(hit, want, "scenario {name}: {rule} should flag it: {want}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "only {checked} statements checked");
}

const MULTI_EVENT_RULES: [&str; 4] = [
    "password-spray",
    "impossible-travel",
    "oauth-blob-without-signin",
    "aws-recon-burst",
];

/// The id skein gives a manifest event: the source's id, or for a blob request
/// `correlationId|operation|time` with the time to the microsecond.
pub(crate) fn event_id(e: &serde_json::Value) -> Option<String> {
    if let Some(id) = e["id"].as_str() {
        return Some(id.to_string());
    }
    let (cid, op, time) = (
        e["correlation_id"].as_str()?,
        e["operation"].as_str()?,
        e["time"].as_str()?.trim_end_matches('Z'),
    );
    let (secs, frac) = time.split_once('.').unwrap_or((time, ""));
    let micros: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    Some(format!("{cid}|{op}|{secs}.{micros}Z"))
}

/// A rule that reads a field only the original record holds makes `correlate` read events
/// with their raw text; `--since` / `--until` bound what is read.
#[test]
fn correlate_reads_raw_records_when_a_rule_needs_them_and_respects_time_bounds() {
    let s = demo_state();
    let root = s.dir.path().join("corr");
    write(
        &root,
        "rules/browser.yml",
        "title: Edge sign-ins\nid: edge-signin\nlogsource: {product: azure, service: signinlogs}\ndetection:\n  sel:\n    deviceDetail.browser|startswith: Edge\n  condition: sel\nlevel: informational\n",
    );
    let run = |extra: &[&str]| -> serde_json::Value { s.correlate_json(&root, extra) };
    let none = run(&["--until", "2000-01-01"]);
    assert_eq!(none["events"], 0, "{none}");
    assert_eq!(none["findings"], 0);
    let all = run(&[]);
    let n = all["findings"].as_u64().unwrap();
    assert!(n > 10, "{all}");
    let findings: Vec<serde_json::Value> =
        serde_json::from_str(&s.ok(&["findings", "--format", "json", "--rule", "edge-signin"]))
            .unwrap();
    assert_eq!(findings.len() as u64, n);
    let half = run(&["--since", "2026-11-04"]);
    assert!(half["events"].as_u64().unwrap() < all["events"].as_u64().unwrap());
    assert_eq!(half["new_findings"], 0);
}
