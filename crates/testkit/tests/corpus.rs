//! Corpus generator tests: determinism, every wire shape present, manifest counts equal to the
//! records in the files, scenario structure, and the benign invariants the ground truth relies on.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use skein_testkit::{generate, CorpusConfig};

const N: u64 = 2_000;

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let ma = corpus(N, 5, a.path());
    let mb = corpus(N, 5, b.path());
    let mc = corpus(N, 6, c.path());
    assert_eq!(ma.files.len(), mb.files.len());
    let read = |d: &std::path::Path, p: &str| std::fs::read(d.join(p)).unwrap();
    assert_eq!(
        read(a.path(), "manifest.json"),
        read(b.path(), "manifest.json")
    );
    for f in &ma.files {
        assert_eq!(
            read(a.path(), &f.path),
            read(b.path(), &f.path),
            "{} differs",
            f.path
        );
    }
    assert_ne!(
        read(a.path(), "manifest.json"),
        read(c.path(), "manifest.json")
    );
    assert_eq!(mc.events.total, N);
    // Regenerating into the same directory replaces the previous corpus.
    let again = corpus(N, 5, a.path());
    assert_eq!(again.files.len(), ma.files.len());
}

#[test]
fn every_shape_present_and_manifest_counts_match_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let m = corpus(N, 1, dir.path());
    assert_eq!(m.events.total, N);
    assert_eq!(m.requested_events, N);
    assert_eq!(m.events.by_source.values().sum::<u64>(), N);
    assert_eq!(m.events.by_shape.values().sum::<u64>(), N);
    for (shape, n) in &m.events.by_shape {
        assert!(*n > 0, "shape {shape} missing");
    }
    assert_eq!(m.events.by_shape.len(), 20);
    assert!(secs(&m.first_event_time) >= secs(&m.start));
    assert!(secs(&m.last_event_time) < secs(&m.end));

    let mut per_shape: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_source: BTreeMap<String, u64> = BTreeMap::new();
    for f in &m.files {
        let recs = records(dir.path(), &f.path, &f.shape, f.gzip);
        assert_eq!(recs.len() as u64, f.records, "{}", f.path);
        assert_eq!(
            std::fs::metadata(dir.path().join(&f.path)).unwrap().len(),
            f.bytes,
            "{}",
            f.path
        );
        assert_eq!(f.gzip, f.path.ends_with(".gz"), "{}", f.path);
        *per_shape.entry(f.shape.clone()).or_default() += f.records;
        *per_source.entry(f.source.clone()).or_default() += f.records;
    }
    assert_eq!(per_shape, m.events.by_shape);
    assert_eq!(per_source, m.events.by_source);
    let shares: Vec<f64> = ["entra_signin", "storage_blob", "cloudtrail"]
        .iter()
        .map(|s| per_source[*s] as f64 / N as f64)
        .collect();
    assert!(
        (0.50..0.65).contains(&shares[0])
            && (0.15..0.25).contains(&shares[1])
            && (0.20..0.30).contains(&shares[2]),
        "{shares:?}"
    );

    // Framing of each shape.
    let files_of = |shape: &'static str| m.files.iter().filter(move |f| f.shape == shape);
    let doc = |f: &skein_testkit::FileInfo| -> serde_json::Value {
        serde_json::from_slice(&read_bytes(&dir.path().join(&f.path), f.gzip)).unwrap()
    };
    for f in files_of("graph_beta_page") {
        let d = doc(f);
        assert!(d["@odata.context"]
            .as_str()
            .unwrap()
            .contains("/beta/$metadata#auditLogs/signIns"));
        let last = f.path == files_of("graph_beta_page").next_back().unwrap().path;
        assert_eq!(d.get("@odata.nextLink").is_none(), last, "{}", f.path);
    }
    for f in files_of("cloudtrail_lookup_events") {
        let d = doc(f);
        let last = f.path
            == files_of("cloudtrail_lookup_events")
                .next_back()
                .unwrap()
                .path;
        assert_eq!(d.get("NextToken").is_none(), last);
        for e in d["Events"].as_array().unwrap() {
            let inner: serde_json::Value =
                serde_json::from_str(e["CloudTrailEvent"].as_str().unwrap()).unwrap();
            assert_eq!(inner["eventID"], e["EventId"]);
            assert!(e["EventTime"].as_str().unwrap().ends_with("+00:00"));
        }
    }
    for f in files_of("la_query_signinlogs")
        .chain(files_of("la_query_noninteractive"))
        .chain(files_of("blob_la_query"))
    {
        let d = doc(f);
        assert_eq!(d["tables"][0]["name"], "PrimaryResult");
        assert!(d["tables"][0]["columns"][0]["type"].is_string());
    }
    for f in files_of("cloudtrail_trail_file").chain(files_of("cloudtrail_org_trail_file")) {
        assert!(f.gzip && f.path.ends_with(".json.gz"));
        let parts: Vec<&str> = f.path.split('/').collect();
        let org = f.shape == "cloudtrail_org_trail_file";
        let i = if org { 3 } else { 2 };
        assert_eq!(parts[1], "AWSLogs");
        assert_eq!(org, parts[2].starts_with("o-"), "{}", f.path);
        let (account, region) = (parts[i], parts[i + 2]);
        assert_eq!(parts[i + 1], "CloudTrail");
        let name = parts.last().unwrap();
        assert!(
            name.starts_with(&format!("{account}_CloudTrail_{region}_")),
            "{name}"
        );
        assert!(doc(f)["Records"].is_array());
    }
    for f in files_of("diag_records") {
        assert!(doc(f)["records"].is_array());
    }
    for f in files_of("blob_diag_jsonl") {
        assert!(
            f.path.contains("/resourceId=/SUBSCRIPTIONS/") && f.path.ends_with("/m=00/PT1H.json"),
            "{}",
            f.path
        );
    }
    let c = load(dir.path(), &m);
    for r in &c.raw["cloudtrail_logstash"] {
        assert!(r.get("@timestamp").is_some() && r.get("eventTime").is_none());
    }
    for r in &c.raw["cloudtrail_eventbridge"] {
        assert_eq!(r["version"], "0");
        assert!(r["detail-type"]
            .as_str()
            .unwrap()
            .ends_with("via CloudTrail"));
        assert!(r["source"].as_str().unwrap().starts_with("aws."));
    }
    for r in &c.raw["la_noninteractive_ndjson"] {
        assert_eq!(r["Type"], "AADNonInteractiveUserSignInLogs");
    }
    for r in c.raw["diag_jsonl"].iter().chain(&c.raw["diag_records"]) {
        assert!(r["resultType"].is_string() && r["properties"].is_object());
    }
    let categories: BTreeSet<&str> = c.raw["diag_records"]
        .iter()
        .chain(&c.raw["diag_jsonl"])
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        BTreeSet::from([
            "NonInteractiveUserSignInLogs",
            "ServicePrincipalSignInLogs",
            "SignInLogs"
        ])
    );
    let blob_cats: BTreeSet<&str> = c.raw["blob_diag_jsonl"]
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        blob_cats,
        BTreeSet::from(["StorageDelete", "StorageRead", "StorageWrite"])
    );
    let auth: BTreeSet<&str> = c.blobs.iter().map(|b| b.auth.as_str()).collect();
    assert_eq!(auth, BTreeSet::from(["AccountKey", "OAuth", "SAS"]));
}

#[test]
fn known_drift_is_present() {
    let dir = tempfile::tempdir().unwrap();
    let m = corpus(N, 1, dir.path());
    let c = load(dir.path(), &m);
    let la_risk: Vec<&serde_json::Value> = c.raw["la_signinlogs_ndjson"]
        .iter()
        .map(|r| &r["RiskEventTypes_V2"])
        .filter(|v| v != &"" && v != &"[]")
        .collect();
    assert!(
        la_risk.iter().any(|v| v.as_str().unwrap().starts_with('[')),
        "risk events as JSON text"
    );
    assert!(
        la_risk
            .iter()
            .any(|v| !v.as_str().unwrap().starts_with('[')),
        "risk events as comma string"
    );
    assert!(
        c.raw["graph_beta_page"]
            .iter()
            .any(|r| r["riskEventTypes_v2"]
                .as_array()
                .is_some_and(|a| !a.is_empty())),
        "risk events as array"
    );
    let loc = |r: &serde_json::Value| r["LocationDetails"].clone();
    assert!(
        c.raw["la_signinlogs_ndjson"]
            .iter()
            .any(|r| loc(r).is_object()),
        "nested dynamic"
    );
    assert!(
        c.raw["la_signinlogs_ndjson"]
            .iter()
            .any(|r| loc(r).is_string()),
        "dynamic as JSON text"
    );
    assert!(c.raw["la_signinlogs_ndjson"]
        .iter()
        .all(|r| r["ResultType"].is_string()));
    assert!(c.raw["graph_beta_page"]
        .iter()
        .all(|r| r["status"]["errorCode"].is_number()));
    assert!(
        c.blobs
            .iter()
            .any(|b| b.caller.starts_with('[') && b.caller.contains("]:")),
        "[v6]:port caller"
    );
    assert!(
        c.blobs
            .iter()
            .any(|b| !b.caller.starts_with('[') && b.caller.contains(':')),
        "ip:port caller"
    );
    assert!(c.signins.iter().any(|s| s.ip.contains(':')), "IPv6 sign-in");
    assert!(
        c.cts.iter().any(|r| r.ip.ends_with(".amazonaws.com")),
        "service-name sourceIPAddress"
    );
    assert!(m.drift.values().all(|&n| n > 0));
}

#[test]
fn ids_are_unique_and_every_scenario_event_is_in_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = corpus(N, 3, dir.path());
    let c = load(dir.path(), &m);
    let signin_ids: BTreeSet<&str> = c.signins.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(signin_ids.len(), c.signins.len());
    let ct_ids: BTreeSet<&str> = c.cts.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ct_ids.len(), c.cts.len());
    let blob_keys: BTreeSet<(&str, &str, &str)> = c
        .blobs
        .iter()
        .map(|b| {
            (
                b.correlation_id.as_str(),
                b.operation.as_str(),
                b.time.as_str(),
            )
        })
        .collect();
    assert_eq!(blob_keys.len(), c.blobs.len());
    for sc in &m.scenarios {
        if !sc.events_truncated {
            assert_eq!(sc.event_count, sc.events.len() as u64, "{}", sc.name);
        }
        for e in &sc.events {
            let f = m
                .files
                .iter()
                .find(|f| f.path == e.file)
                .expect("file listed");
            assert_eq!(f.shape, e.shape);
            let recs = records(dir.path(), &f.path, &f.shape, f.gzip);
            let found = match e.source.as_str() {
                "storage_blob" => {
                    let key = (
                        e.correlation_id.as_deref().unwrap(),
                        e.operation.as_deref().unwrap(),
                        e.time.as_str(),
                    );
                    blob_keys.contains(&key) && recs.iter().any(|r| r.to_string().contains(key.0))
                }
                _ => recs
                    .iter()
                    .any(|r| r.to_string().contains(e.id.as_deref().unwrap())),
            };
            assert!(found, "{} {:?} not in {}", sc.name, e.id, e.file);
        }
        if sc.kind != "false_positive" {
            assert!(sc.event_count > 0, "{} is empty", sc.name);
        }
    }
}

#[test]
fn bad_configurations_and_foreign_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = |cfg: CorpusConfig| generate(&cfg, dir.path(), |_| {}).unwrap_err().to_string();
    assert!(bad(CorpusConfig {
        days: 1,
        ..CorpusConfig::default()
    })
    .contains("--days"));
    assert!(bad(CorpusConfig {
        gzip_share: 2.0,
        ..CorpusConfig::default()
    })
    .contains("--gzip-share"));
    assert!(bad(CorpusConfig {
        events: 10,
        ..CorpusConfig::default()
    })
    .contains("--events"));
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    assert!(bad(CorpusConfig {
        events: N,
        ..CorpusConfig::default()
    })
    .contains("notes.txt"));
    assert!(dir.path().join("notes.txt").exists());
}
