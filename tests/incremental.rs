//! Incremental `skein correlate`: a store filled batch by batch, correlated after each batch
//! (late events included), ends with exactly the findings of one full run over everything.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::util::{repo_root, Skein};

fn write_ndjson(path: &Path, records: &[Value]) {
    let mut f = std::fs::File::create(path).expect("create");
    for r in records {
        writeln!(f, "{r}").expect("write");
    }
}

fn correlate(s: &Skein, extra: &[&str]) -> Value {
    s.correlate_json(&repo_root().join("correlations"), extra)
}

/// Ingests `records` as one batch (one file).
fn ingest(s: &Skein, name: &str, records: &[Value]) {
    let path = s.dir.path().join(format!("{name}.ndjson"));
    write_ndjson(&path, records);
    s.ok(&["ingest", "--no-progress", path.to_str().unwrap()]);
}

fn findings(s: &Skein) -> Vec<Value> {
    serde_json::from_str(&s.ok(&["findings", "--format", "json"])).expect("findings JSON")
}

/// The state after one full run over all the batches at once.
fn full_state(batches: &[Vec<Value>]) -> Skein {
    let s = Skein::new();
    let all: Vec<Value> = batches.iter().flatten().cloned().collect();
    ingest(&s, "all", &all);
    correlate(&s, &[]);
    s
}

/// The findings of one full run over all the batches at once.
fn full_run(batches: &[Vec<Value>]) -> Vec<Value> {
    findings(&full_state(batches))
}

/// The state after ingesting and correlating batch by batch; also the run kinds.
fn batch_state(batches: &[Vec<Value>]) -> (Skein, Vec<String>) {
    let s = Skein::new();
    let mut runs = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        ingest(&s, &format!("b{i}"), b);
        runs.push(correlate(&s, &[])["run"].as_str().unwrap_or("").to_string());
    }
    (s, runs)
}

/// The findings after ingesting and correlating batch by batch; also the run kinds.
fn batch_runs(batches: &[Vec<Value>]) -> (Vec<Value>, Vec<String>) {
    let (s, runs) = batch_state(batches);
    (findings(&s), runs)
}

/// The cases as sets of finding ids (ids of cases may differ: a case keeps the id it had
/// before it gained an earlier finding).
fn case_groups(s: &Skein) -> std::collections::BTreeSet<Vec<String>> {
    let list: Vec<Value> =
        serde_json::from_str(&s.ok(&["cases", "list", "--format", "json"])).expect("cases JSON");
    list.iter()
        .map(|row| {
            let id = row["id"].as_str().expect("id");
            let case: Value =
                serde_json::from_str(&s.ok(&["cases", "show", id, "--format", "json"]))
                    .expect("case JSON");
            let mut ids: Vec<String> = case["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .map(|f| f["id"].as_str().expect("finding id").to_string())
                .collect();
            ids.sort();
            ids
        })
        .collect()
}

fn signin(id: &str, t: &str, upn: &str, ip: &str, code: u32) -> Value {
    json!({"id": id, "createdDateTime": t, "userPrincipalName": upn, "ipAddress": ip,
           "userId": format!("00000000-0000-4000-8000-{:012}", upn.len()),
           "status": {"errorCode": code}})
}

#[test]
fn a_spray_split_across_runs_is_one_finding() {
    let fail = |i: usize, min: u32| {
        signin(
            &format!("f{i}"),
            &format!("2026-03-09T08:{min:02}:00Z"),
            &format!("u{i}@x.com"),
            "203.0.113.7",
            50126,
        )
    };
    let batches = vec![
        vec![fail(1, 0), fail(2, 1), fail(3, 2)],
        vec![fail(4, 3), fail(5, 4)],
        vec![fail(6, 5)],
    ];
    let (inc, runs) = batch_runs(&batches);
    assert!(runs[1].starts_with("incremental"), "{runs:?}");
    assert!(runs[2].starts_with("incremental"), "{runs:?}");
    let sprays: Vec<&Value> = inc
        .iter()
        .filter(|f| f["rule"] == "password-spray")
        .collect();
    assert_eq!(sprays.len(), 1, "{inc:#?}");
    assert_eq!(sprays[0]["fields"]["distinct_users"], 6);
    assert_eq!(inc, full_run(&batches));
}

#[test]
fn a_late_sign_in_withdraws_the_blob_finding_it_explains() {
    let blob = json!({"time": "2026-03-09T16:00:00Z", "category": "StorageRead",
        "operationName": "GetBlob", "statusCode": 200, "callerIpAddress": "81.2.69.201:61000",
        "correlationId": "c-ben", "identity": {"type": "OAuth",
        "requester": {"objectId": "7f1d6a2e-0000-4c1e-9b1a-000000000002", "upn": "ben@contoso.com"}}});
    let late = json!({"id": "si-ben", "createdDateTime": "2026-03-09T15:40:11Z",
        "userId": "7f1d6a2e-0000-4c1e-9b1a-000000000002", "userPrincipalName": "ben@contoso.com",
        "ipAddress": "81.2.69.201", "status": {"errorCode": 0}});
    let later = signin("x", "2026-03-09T17:00:00Z", "zed@x.com", "192.0.2.1", 0);
    let batches = vec![vec![blob, later], vec![late]];
    let s = Skein::new();
    ingest(&s, "b0", &batches[0]);
    correlate(&s, &[]);
    assert!(findings(&s)
        .iter()
        .any(|f| f["rule"] == "oauth-blob-without-signin"));
    ingest(&s, "b1", &batches[1]);
    let run = correlate(&s, &[]);
    assert!(
        !findings(&s)
            .iter()
            .any(|f| f["rule"] == "oauth-blob-without-signin"),
        "{run}"
    );
    assert_eq!(findings(&s), full_run(&batches));
}

#[test]
fn changed_rules_mean_a_full_run() {
    let s = Skein::new();
    ingest(
        &s,
        "b0",
        &[signin(
            "a",
            "2026-03-09T08:00:00Z",
            "a@x.com",
            "192.0.2.1",
            0,
        )],
    );
    assert!(correlate(&s, &[])["run"]
        .as_str()
        .unwrap()
        .starts_with("full run (first run)"));
    let rules = s.dir.path().join("rules");
    let copy = |from: &Path, to: &Path| {
        std::process::Command::new("cp")
            .arg("-r")
            .arg(from)
            .arg(to)
            .status()
            .unwrap()
    };
    assert!(copy(&repo_root().join("correlations"), &rules).success());
    let list = rules.join("lists/corporate-egress.txt");
    let mut text = std::fs::read_to_string(&list).unwrap();
    text.push_str("192.0.2.99\n");
    std::fs::write(&list, text).unwrap();
    ingest(
        &s,
        "b1",
        &[signin(
            "b",
            "2026-03-09T09:00:00Z",
            "b@x.com",
            "192.0.2.1",
            0,
        )],
    );
    let out = s.correlate_json(&rules, &[]);
    assert!(
        out["run"]
            .as_str()
            .unwrap()
            .contains("rules or lists changed"),
        "{out}"
    );
}

/// Splits `records` (sorted by time) into batches at `cuts` (fractions), then moves every
/// record picked by `late` into a later batch than its own: late-arriving data.
fn batches_of(records: Vec<Value>, cuts: &[f64], late: &[(usize, usize)]) -> Vec<Vec<Value>> {
    let n = records.len();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| (c * n as f64) as usize).collect();
    bounds.push(n);
    bounds.sort_unstable();
    bounds.dedup();
    let mut which: Vec<usize> = (0..n)
        .map(|i| {
            bounds
                .iter()
                .position(|&b| i < b)
                .unwrap_or(bounds.len() - 1)
        })
        .collect();
    let k = bounds.len();
    for &(pick, shift) in late {
        if n > 0 {
            let i = pick % n;
            which[i] = (which[i] + 1 + shift % k).min(k - 1);
        }
    }
    let mut out = vec![Vec::new(); k];
    for (r, b) in records.into_iter().zip(which) {
        out[b].push(r);
    }
    out.retain(|b| !b.is_empty());
    out
}

/// The findings that differ between two listings, one line each.
fn differences(got: &[Value], want: &[Value]) -> Vec<String> {
    let index = |fs: &[Value]| -> std::collections::BTreeMap<String, Value> {
        fs.iter()
            .map(|f| (f["id"].as_str().unwrap_or("").to_string(), f.clone()))
            .collect()
    };
    let (g, w) = (index(got), index(want));
    let brief = |f: &Value| format!("{} {} {}", f["rule"], f["events"], f["fields"]);
    let mut out = Vec::new();
    for (id, f) in &g {
        match w.get(id) {
            None => out.push(format!("extra   {id} {}", brief(f))),
            Some(x) if x != f => out.push(format!("differs {id} {} vs {}", brief(f), brief(x))),
            _ => {}
        }
    }
    for (id, f) in &w {
        if !g.contains_key(id) {
            out.push(format!("missing {id} {}", brief(f)));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn batch_by_batch_equals_one_full_run(
        seed in 0u64..100_000,
        n in 100usize..500,
        cuts in proptest::collection::vec(0.05f64..0.95, 1..4),
        late in proptest::collection::vec((0usize..10_000, 0usize..3), 0..12),
    ) {
        let records: Vec<Value> = skein_testkit::dense_corpus(seed, n)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let batches = batches_of(records, &cuts, &late);
        let (inc_state, runs) = batch_state(&batches);
        let full_state = full_state(&batches);
        let (inc, full) = (findings(&inc_state), findings(&full_state));
        prop_assert!(!full.is_empty());
        let diff = differences(&inc, &full);
        prop_assert!(diff.is_empty(), "runs {:?}\n{}", runs, diff.join("\n"));
        // Cases rebuilt run by run (only those the new findings touch) are the cases of
        // one full run.
        prop_assert_eq!(case_groups(&inc_state), case_groups(&full_state), "runs {:?}", runs);
    }
}

/// An absence that also looks after its event (`after`): a finding reported while the window
/// was still open is withdrawn when its partner arrives in the next batch, on time.
#[test]
fn an_absence_still_open_at_the_end_of_a_run_is_decided_by_the_next() {
    let s = Skein::new();
    let rules = s.dir.path().join("rules");
    std::fs::create_dir_all(rules.join("rules")).unwrap();
    std::fs::create_dir_all(rules.join("fixtures")).unwrap();
    std::fs::write(
        rules.join("rules/after.yml"),
        "title: failure\nid: t-fail\nlogsource: {product: azure, service: signinlogs}\ndetection:\n  sel: {outcome.success: false}\n  condition: sel\nlevel: low\n---\ntitle: success\nid: t-ok\nlogsource: {product: azure, service: signinlogs}\ndetection:\n  sel: {outcome.success: true}\n  condition: sel\nlevel: low\n---\ntitle: a failure with no success from that address within ten minutes either side\nid: t-unanswered\nlevel: medium\ncorrelation:\n  type: absence\n  rules: [t-fail]\n  absent: [t-ok]\n  keys: [src_ip]\n  before: 10m\n  after: 10m\n",
    )
    .unwrap();
    let fail = signin("f", "2026-03-09T10:00:00Z", "a@x.com", "192.0.2.7", 50126);
    let ok = signin("o", "2026-03-09T10:05:00Z", "a@x.com", "192.0.2.7", 0);
    let unanswered = |s: &Skein| {
        findings(s)
            .iter()
            .filter(|f| f["rule"] == "t-unanswered")
            .count()
    };
    ingest(&s, "b0", std::slice::from_ref(&fail));
    s.correlate_json(&rules, &[]);
    assert_eq!(
        unanswered(&s),
        1,
        "undecided at the end of the run: reported as it stands"
    );
    ingest(&s, "b1", std::slice::from_ref(&ok));
    let run = s.correlate_json(&rules, &[]);
    assert!(
        run["run"].as_str().unwrap().starts_with("incremental"),
        "{run}"
    );
    assert_eq!(
        unanswered(&s),
        0,
        "the success five minutes later answers it: {run}"
    );
    let full = Skein::new();
    ingest(&full, "all", &[fail, ok]);
    full.correlate_json(&rules, &[]);
    assert_eq!(findings(&s), findings(&full));
}

/// Entra writes seven decimals; checkpoint names keep microseconds. Findings completed by
/// the last event of a run (here at `…:14.1234567Z`) must survive the next, incremental run.
#[test]
fn a_finding_at_the_last_sub_microsecond_instant_of_a_run_survives_the_next() {
    let located = |id: &str, t: &str, ip: &str, lat: f64, lon: f64| {
        json!({"id": id, "createdDateTime": t, "userPrincipalName": "ana@contoso.com",
            "userId": "0a1b2c3d-0000-4000-8000-000000000001", "ipAddress": ip,
            "status": {"errorCode": 0},
            "location": {"geoCoordinates": {"latitude": lat, "longitude": lon}}})
    };
    let london = located(
        "lon",
        "2026-03-09T07:00:14.7654321Z",
        "81.2.69.160",
        51.5074,
        -0.1278,
    );
    let sydney = located(
        "syd",
        "2026-03-09T08:05:14.1234567Z",
        "1.128.0.10",
        -33.8688,
        151.2093,
    );
    let blob = json!({"time": "2026-03-09T08:05:14.1234567Z", "category": "StorageRead",
        "operationName": "GetBlob", "statusCode": 200, "callerIpAddress": "81.2.69.201:61000",
        "correlationId": "c-ben", "identity": {"type": "OAuth",
        "requester": {"objectId": "7f1d6a2e-0000-4c1e-9b1a-000000000002", "upn": "ben@contoso.com"}}});
    let later = signin(
        "x",
        "2026-03-09T17:00:00.7654321Z",
        "zed@x.com",
        "192.0.2.1",
        0,
    );
    let batches = vec![vec![london, sydney, blob], vec![later]];
    let (inc, runs) = batch_runs(&batches);
    assert!(runs[1].starts_with("incremental"), "{runs:?}");
    for rule in ["impossible-travel", "oauth-blob-without-signin"] {
        assert!(inc.iter().any(|f| f["rule"] == rule), "{rule}: {inc:?}");
    }
    assert_eq!(inc, full_run(&batches));
}

/// A saved state this build cannot read (another version's, or damaged) costs a full run,
/// never a failed one, and the findings are those of a full run.
#[test]
fn an_unreadable_saved_state_means_a_full_run() {
    let fail = |i: usize, min: u32| {
        signin(
            &format!("f{i}"),
            &format!("2026-03-09T08:{min:02}:00Z"),
            &format!("u{i}@x.com"),
            "203.0.113.7",
            50126,
        )
    };
    let batches = vec![
        (1..4).map(|i| fail(i, i as u32)).collect::<Vec<_>>(),
        (4..8).map(|i| fail(i, i as u32)).collect(),
    ];
    let s = Skein::new();
    ingest(&s, "b0", &batches[0]);
    correlate(&s, &[]);
    {
        let store = skein_store::Store::open(&s.state(), skein_store::OpenOptions::default())
            .expect("open the state");
        let saved = store.checkpoints_with_prefix("correlate/").expect("list");
        assert!(!saved.is_empty(), "the first run saved its state");
        for (name, _) in saved {
            store
                .checkpoint_put(&name, b"{not a state")
                .expect("damage");
        }
        store.flush().expect("flush");
    }
    ingest(&s, "b1", &batches[1]);
    let run = correlate(&s, &[]);
    assert!(
        run["run"]
            .as_str()
            .unwrap()
            .starts_with("full run (the saved correlation state could not be read"),
        "{run}"
    );
    assert_eq!(findings(&s), full_run(&batches));
    let next = correlate(&s, &[]);
    assert_eq!(next["run"], "nothing ingested since the last run", "{next}");
}

/// A `--since` run stores the part of a spray its range shows (a finding with other
/// evidence, so another id); the next run is a full one and leaves exactly the full findings.
#[test]
fn a_bounded_run_is_followed_by_a_full_run() {
    let batch: Vec<Value> = (1..=8)
        .map(|i| {
            signin(
                &format!("f{i}"),
                &format!("2026-03-09T08:{i:02}:00Z"),
                &format!("u{i}@x.com"),
                "203.0.113.7",
                50126,
            )
        })
        .collect();
    let s = Skein::new();
    ingest(&s, "b0", &batch);
    correlate(&s, &[]);
    let whole = findings(&s);
    correlate(&s, &["--since", "2026-03-09T08:02:30Z"]);
    let sprays = |f: &[Value]| f.iter().filter(|f| f["rule"] == "password-spray").count();
    assert_eq!(
        sprays(&findings(&s)),
        2,
        "the cut spray is stored beside the whole"
    );
    let run = correlate(&s, &[]);
    assert!(
        run["run"]
            .as_str()
            .unwrap()
            .starts_with("full run (a --since/--until run"),
        "{run}"
    );
    assert_eq!(findings(&s), whole);
}

/// Many findings (enough that stored findings are compared by digest): a re-run stores
/// nothing, a rule change updates every one of them, and a re-run after that nothing again.
#[test]
fn many_findings_are_compared_with_what_is_stored() {
    let s = Skein::new();
    let rules = s.dir.path().join("rules");
    std::fs::create_dir_all(rules.join("rules")).unwrap();
    let rule = |level: &str| {
        format!("title: failure\nid: t-fail\nlogsource: {{product: azure, service: signinlogs}}\ndetection:\n  sel: {{outcome.success: false}}\n  condition: sel\nlevel: {level}\n")
    };
    std::fs::write(rules.join("rules/fail.yml"), rule("low")).unwrap();
    let n = 6_000;
    let records: Vec<Value> = (0..n)
        .map(|i| {
            signin(
                &format!("f{i}"),
                &format!(
                    "2026-03-09T{:02}:{:02}:{:02}Z",
                    i / 3600,
                    (i / 60) % 60,
                    i % 60
                ),
                &format!("u{i}@x.com"),
                "203.0.113.7",
                50126,
            )
        })
        .collect();
    ingest(&s, "all", &records);
    let first = s.correlate_json(&rules, &[]);
    assert_eq!(first["new_findings"], n, "{first}");
    let again = s.correlate_json(&rules, &["--full"]);
    assert_eq!(again["new_findings"], 0, "{again}");
    assert_eq!(again["updated_findings"], 0, "{again}");
    std::fs::write(rules.join("rules/fail.yml"), rule("high")).unwrap();
    let changed = s.correlate_json(&rules, &[]);
    assert_eq!(changed["updated_findings"], n, "{changed}");
    let stored = findings(&s);
    assert_eq!(stored.len(), n);
    assert!(stored.iter().all(|f| f["severity"] == "high"));
    let last = s.correlate_json(&rules, &["--full"]);
    assert_eq!(last["updated_findings"], 0, "{last}");
}

/// Failed attempt `i` (user `u{i}`) of a spray from 203.0.113.7 in hour `hour`.
fn spray_attempt(i: usize, hour: u32) -> Value {
    signin(
        &format!("f{hour}-{i}"),
        &format!("2026-03-09T{hour:02}:{i:02}:00Z"),
        &format!("u{i}@x.com"),
        "203.0.113.7",
        50126,
    )
}

#[test]
fn an_unreadable_case_index_means_every_case_is_rebuilt_and_reindexed() {
    let fail = spray_attempt;
    let batches = vec![
        (0..6).map(|i| fail(i, 8)).collect::<Vec<_>>(),
        (0..6).map(|i| fail(i, 14)).collect::<Vec<_>>(),
    ];
    let s = Skein::new();
    ingest(&s, "b0", &batches[0]);
    correlate(&s, &[]);
    {
        // What a damaged (or foreign) index entry looks like: the case as it was, its
        // entry unreadable.
        let store = skein_store::Store::open(&s.state(), skein_store::OpenOptions::default())
            .expect("open");
        let damaged: Vec<skein_store::CaseRecord> = store
            .cases_json()
            .expect("cases")
            .into_iter()
            .map(|(id, json)| skein_store::CaseRecord {
                id,
                json,
                index: b"not an index entry".to_vec(),
                findings: Vec::new(),
            })
            .collect();
        assert!(!damaged.is_empty());
        store.update_cases(&damaged, &[]).expect("damage the index");
    }
    ingest(&s, "b1", &batches[1]);
    let run = correlate(&s, &[]);
    assert!(
        run["run"].as_str().unwrap_or("").starts_with("incremental"),
        "{run}"
    );
    assert_eq!(case_groups(&s), case_groups(&full_state(&batches)));
    let store =
        skein_store::Store::open(&s.state(), skein_store::OpenOptions::default()).expect("open");
    let index = store.case_indexes().expect("index").expect("complete");
    assert_eq!(index.len(), store.cases_json().expect("cases").len());
    for (id, entry) in index {
        let entry: skein_cases::CaseIndex = serde_json::from_slice(&entry).expect("rewritten");
        assert_eq!(entry.id, id);
    }
}

/// A stored case's findings that are missing, unreadable, not the findings its index entry
/// lists, or not the ones it records a digest of (an entry rewritten by an older build that
/// did not store them, after its findings changed) are read one by one instead: the rebuilt
/// case is the one a full run makes.
#[test]
fn a_cases_stored_findings_are_used_only_when_they_match_its_index() {
    let fail = spray_attempt;
    // The first spray ends hours before the first run's last event: the second run's
    // lookback does not reach it, so its finding is not produced again (not touched).
    let mut first: Vec<Value> = (0..6).map(|i| fail(i, 8)).collect();
    first.push(signin(
        "later",
        "2026-03-09T13:50:00Z",
        "z@x.com",
        "198.51.100.1",
        0,
    ));
    let batches = vec![first, (0..6).map(|i| fail(i, 14)).collect::<Vec<_>>()];
    let want = case_groups(&full_state(&batches));
    assert!(
        want.iter().any(|c| c.len() == 2),
        "the second spray joins the first: {want:?}"
    );
    // (stored findings, index entry) → what a damaged or older state holds instead.
    type Damage = fn(&[u8], &[u8]) -> (Vec<u8>, Vec<u8>);
    let damages: [(&str, Damage); 4] = [
        ("no findings listed", |_, index| {
            (b"[]".to_vec(), index.to_vec())
        }),
        ("does not decompress", |findings, index| {
            (findings.to_vec(), index.to_vec())
        }),
        ("not JSON", |_, index| {
            (b"not JSON".to_vec(), index.to_vec())
        }),
        ("stale, entry without a digest", |findings, index| {
            let mut list: Vec<Value> = serde_json::from_slice(findings).expect("findings");
            for f in &mut list {
                f["summary"] = "stale".into();
            }
            let mut entry: Value = serde_json::from_slice(index).expect("index entry");
            entry
                .as_object_mut()
                .expect("object")
                .remove("findings_digest");
            (
                serde_json::to_vec(&list).expect("json"),
                serde_json::to_vec(&entry).expect("json"),
            )
        }),
    ];
    for (what, damage) in damages {
        let s = Skein::new();
        ingest(&s, "b0", &batches[0]);
        correlate(&s, &[]);
        {
            let store = skein_store::Store::open(&s.state(), skein_store::OpenOptions::default())
                .expect("open");
            let index: std::collections::HashMap<String, Vec<u8>> = store
                .case_indexes()
                .expect("index")
                .expect("complete")
                .into_iter()
                .collect();
            let damaged: Vec<skein_store::CaseRecord> = store
                .cases_json()
                .expect("cases")
                .into_iter()
                .map(|(id, json)| {
                    let stored = store.case_findings(&id).expect("read").expect("stored");
                    let (findings, index) = damage(&stored, &index[&id]);
                    skein_store::CaseRecord {
                        index,
                        findings,
                        id,
                        json,
                    }
                })
                .collect();
            assert_eq!(damaged.len(), 1);
            store
                .update_cases(&damaged, &[])
                .expect("damage the findings");
        }
        if what == "does not decompress" {
            // Written with sled directly: the store only writes values it can read back.
            let db = skein_store::sled_config(&s.state()).open().expect("sled");
            let tree = db.open_tree("case_findings").expect("tree");
            let ids: Vec<sled::IVec> = tree.iter().keys().map(|k| k.expect("key")).collect();
            for id in ids {
                tree.insert(id, &[1u8, 0xff, 0xff, 0xff, 0xff, 0][..])
                    .expect("damage");
            }
            db.flush().expect("flush");
        }
        ingest(&s, "b1", &batches[1]);
        let run = correlate(&s, &[]);
        assert!(
            run["run"].as_str().unwrap_or("").starts_with("incremental"),
            "{run}"
        );
        assert_eq!(case_groups(&s), want, "stored findings: {what}");
        let cases = s.ok(&["cases", "export", "--format", "json"]);
        assert!(!cases.contains("stale"), "stored findings: {what}: {cases}");
    }
}
