//! Every real sign-in, storage-log and CloudTrail record in `../shared/data/` goes through
//! `skein ingest`, and the count per source is pinned.
//!
//! Decisions these counts encode (see also the parsers' docs):
//! - Panther's CloudTrail fixtures reuse `eventID`s across different tests (461 logs, far
//!   fewer distinct ids); events are keyed by the source's own id, so the repeats count as
//!   duplicates, exactly as a re-delivered CloudTrail record would.
//! - 14 Panther fixtures carry no timestamp at all (no `eventTime`, `@timestamp` or `time`)
//!   and 2 carry placeholders (`"redacted"`, `"..."`):
//!   they cannot be placed on a timeline and are rejected with that reason.
//! - `aad_logons.converted.jsonl` holds 86 rows of 45 sign-ins; its nested columns are
//!   Python-repr text, which is parsed (so geo and status come through).
//! - The Graph v1.0 doc sample has a trailing comma (invalid JSON): rejected, not fatal.
//! - The storage doc's three fragments: the first is a record, the second is invalid JSON (a
//!   trailing comma) and the third is a bare `properties` object with no time or category.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::util::{count, shared_data, Skein};

/// Writes the `log` objects of the Panther tests for the given log types as NDJSON.
fn panther_logs(dir: &Path, log_types: &[&str], name: &str) -> (PathBuf, usize) {
    let text =
        std::fs::read_to_string(shared_data().join("panther-analysis/_extracted_tests.jsonl"))
            .expect("panther tests");
    let path = dir.join(name);
    let mut out = std::fs::File::create(&path).expect("create");
    let mut n = 0;
    for line in text.lines() {
        let t: serde_json::Value = serde_json::from_str(line).expect("panther line");
        let types = t["log_types"].as_array().cloned().unwrap_or_default();
        if !types
            .iter()
            .any(|v| log_types.contains(&v.as_str().unwrap_or_default()))
        {
            continue;
        }
        if t["log"].is_object() {
            writeln!(out, "{}", t["log"]).expect("write");
            n += 1;
        }
    }
    (path, n)
}

/// Writes the Splunk `example_log`s of the given sourcetype prefix as NDJSON.
fn splunk_logs(dir: &Path, sourcetype_prefix: &str, name: &str) -> (PathBuf, usize) {
    let text = std::fs::read_to_string(
        shared_data().join("splunk-security-content/_extracted_example_logs.jsonl"),
    )
    .expect("splunk examples");
    let path = dir.join(name);
    let mut out = std::fs::File::create(&path).expect("create");
    let mut n = 0;
    for line in text.lines() {
        let t: serde_json::Value = serde_json::from_str(line).expect("splunk line");
        if t["sourcetype"]
            .as_str()
            .is_some_and(|s| s.starts_with(sourcetype_prefix))
        {
            writeln!(out, "{}", t["example_log"]).expect("write");
            n += 1;
        }
    }
    (path, n)
}

fn total(report: &serde_json::Value, source: &str) -> u64 {
    count(report, source, "accepted") + count(report, source, "duplicate")
}

#[test]
fn panther_cloudtrail_fixtures() {
    let dir = tempfile::tempdir().expect("tmp");
    let (file, n) = panther_logs(dir.path(), &["AWS.CloudTrail"], "panther-ct.jsonl");
    assert_eq!(n, 461);
    let report = Skein::new().ingest_json(&[&file]);
    assert_eq!(count(&report, "cloudtrail", "rejected"), 16, "{report:#}");
    assert_eq!(count(&report, "cloudtrail", "accepted"), 160, "{report:#}");
    assert_eq!(total(&report, "cloudtrail"), 461 - 16);
}

#[test]
fn panther_azure_sign_in_and_storage_fixtures() {
    let dir = tempfile::tempdir().expect("tmp");
    let (file, n) = panther_logs(
        dir.path(),
        &["Azure.Audit", "Azure.MonitorActivity"],
        "panther-azure.jsonl",
    );
    assert_eq!(n, 261);
    let report = Skein::new().ingest_json(&[&file]);
    // 26 sign-in records (SignInLogs 15, ServicePrincipalSignInLogs 8, NonInteractive 3).
    assert_eq!(total(&report, "entra_signin"), 26, "{report:#}");
    assert_eq!(count(&report, "entra_signin", "rejected"), 0, "{report:#}");
    // 11 storage records (StorageRead 7, StorageWrite 3, StorageDelete 1).
    assert_eq!(total(&report, "storage_blob"), 11, "{report:#}");
    assert_eq!(count(&report, "storage_blob", "rejected"), 0, "{report:#}");
    // Everything else is another category (Administrative, AuditLogs, Policy, ...): ignored.
    let ignored: u64 = report["ignored"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or_default();
    let unknown_rejected = report["sources"]["unknown"]["rejected"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(ignored + unknown_rejected, 261 - 26 - 11, "{report:#}");
}

#[test]
fn splunk_example_logs() {
    let dir = tempfile::tempdir().expect("tmp");
    let (ct, n_ct) = splunk_logs(dir.path(), "aws:cloudtrail", "splunk-ct.jsonl");
    let (aad, n_aad) = splunk_logs(dir.path(), "azure:monitor:aad", "splunk-aad.jsonl");
    assert_eq!((n_ct, n_aad), (48, 16));
    let report = Skein::new().ingest_json(&[&ct, &aad]);
    assert_eq!(total(&report, "cloudtrail"), 48, "{report:#}");
    assert_eq!(count(&report, "cloudtrail", "rejected"), 0, "{report:#}");
    assert_eq!(total(&report, "entra_signin"), 1, "{report:#}");
    assert_eq!(count(&report, "entra_signin", "rejected"), 0, "{report:#}");
}

#[test]
fn sentinel_notebook_sign_ins_with_python_repr_columns() {
    let file = shared_data().join("azure-sentinel-notebooks/aad_logons.converted.jsonl");
    let skein = Skein::new();
    let report = skein.ingest_json(&[&file]);
    assert_eq!(count(&report, "entra_signin", "accepted"), 45, "{report:#}");
    assert_eq!(
        count(&report, "entra_signin", "duplicate"),
        41,
        "{report:#}"
    );
    assert_eq!(count(&report, "entra_signin", "rejected"), 0, "{report:#}");
}

#[test]
fn microsoft_doc_samples() {
    let data = shared_data();
    let graph_beta = data.join("msgraph-docs/beta_signin-list_example1_response.json");
    let graph_v1 = data.join("msgraph-docs/v1.0_signin-list_example1_response.jsonc");
    let storage = data
        .join("ms-docs-storage-logs/monitor-blob-storage-reference.resource-log-fragments.jsonc");
    let skein = Skein::new();
    let report = skein.ingest_json(&[&graph_beta, &graph_v1, &storage]);
    assert_eq!(count(&report, "entra_signin", "accepted"), 1, "{report:#}");
    assert_eq!(count(&report, "storage_blob", "accepted"), 1, "{report:#}");
    // v1.0 sample (trailing comma) and storage fragments 2 and 3 are reported, not fatal.
    let q = skein.quarantine();
    let v1 = graph_v1.display().to_string();
    assert!(
        q.iter().any(|r| r["file"].as_str() == Some(v1.as_str())),
        "{q:#?}"
    );
    let st = storage.display().to_string();
    assert_eq!(
        q.iter()
            .filter(|r| r["file"].as_str() == Some(st.as_str()))
            .count(),
        2,
        "{q:#?}"
    );
}

#[test]
fn stratus_red_team_and_otrf_cloudtrail() {
    let data = shared_data();
    let stratus = data.join("stratus-red-team/docs/detonation-logs");
    let otrf = data.join("otrf-security-datasets/datasets/atomic/aws/collection");
    let skein = Skein::new();
    let report = skein.ingest_json(&[&stratus, &otrf]);
    assert_eq!(count(&report, "cloudtrail", "rejected"), 0, "{report:#}");
    assert_eq!(total(&report, "cloudtrail"), 310 + 103, "{report:#}");
}

/// The shipped rules over every real sign-in sample at once: `correlate` runs cleanly and the
/// findings per rule are pinned (what each flags is examined in crates/rules/tests/suite/
/// panther.rs and docs/panther-signin-check.md).
#[test]
fn shipped_rules_over_the_real_sign_in_samples() {
    let dir = tempfile::tempdir().expect("tmp");
    let (panther, _) = panther_logs(
        dir.path(),
        &["Azure.Audit", "Azure.MonitorActivity"],
        "panther-azure.jsonl",
    );
    let (aad, _) = splunk_logs(dir.path(), "azure:monitor:aad", "splunk-aad.jsonl");
    let sentinel = shared_data().join("azure-sentinel-notebooks/aad_logons.converted.jsonl");
    let skein = Skein::new();
    skein.ingest_json(&[&panther, &aad, &sentinel]);
    let rules = crate::util::repo_root().join("correlations");
    let summary = skein.correlate_json(&rules, &[]);
    let per_rule: std::collections::BTreeMap<String, u64> = summary["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["new"].as_u64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let want: std::collections::BTreeMap<String, u64> = [
        ("anonymizing-proxy-signin", 1),
        ("cross-tenant-single-factor", 1),
        ("elastic-t1078-004", 23),
        ("elastic-t1586-003", 4),
        ("high-risk-country-signin", 1),
        ("legacy-auth-signin", 2),
        ("logscale-t1586-003", 4),
        ("qradar-t1586-003", 4),
        ("risky-signin", 4),
        ("sumo-t1586-003", 4),
    ]
    .into_iter()
    .map(|(r, n)| (r.to_string(), n))
    .collect();
    assert_eq!(per_rule, want);
    let findings: Vec<serde_json::Value> =
        serde_json::from_str(&skein.ok(&["findings", "--format", "json"])).unwrap();
    assert_eq!(findings.len() as u64, summary["findings"].as_u64().unwrap());
    // Distinct sign-ins: Panther's 26 records hold repeated ids (its fixtures reuse them), plus
    // 1 Splunk and 45 Sentinel ones; and Panther's 11 StorageBlobLogs records, which the
    // OAuth blob rule reads.
    assert_eq!(summary["events"], 65 + 11);
    assert_eq!(skein.stats()["events"]["entra_signin"], 65);
}
