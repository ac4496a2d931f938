//! Cases from the demo corpus through the binary: the generator's cross-cloud chain is one
//! case, the unrelated spray that tried some of the same users is another, ids survive a
//! re-run, and `cases show` explains a case.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::rules::{demo_state, event_id};
use crate::util::repo_root;

fn scenario_events(name: &str) -> BTreeSet<String> {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("corpus/demo/manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("scenario {name} in the demo manifest"))["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(event_id)
        .collect()
}

/// The ids of the cases holding a finding over any of `events`.
fn cases_with(cases: &[Value], events: &BTreeSet<String>) -> BTreeSet<String> {
    cases
        .iter()
        .filter(|c| {
            c["findings"].as_array().unwrap().iter().any(|f| {
                f["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| events.contains(e.as_str().unwrap()))
            })
        })
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn all_cases(s: &crate::util::Skein) -> Vec<Value> {
    let list: Vec<Value> =
        serde_json::from_str(&s.ok(&["cases", "list", "--format", "json"])).unwrap();
    list.iter()
        .map(|row| {
            let id = row["id"].as_str().unwrap();
            serde_json::from_str(&s.ok(&["cases", "show", id, "--format", "json"])).unwrap()
        })
        .collect()
}

#[test]
fn the_cross_cloud_chain_is_one_case_and_the_other_spray_another() {
    let s = demo_state();
    let run = s.correlate_json(&repo_root().join("correlations"), &[]);
    assert!(run["cases"]["total"].as_u64().unwrap() > 0, "{run}");
    let cases = all_cases(&s);
    let chain = cases_with(&cases, &scenario_events("cross_cloud_chain"));
    assert_eq!(chain.len(), 1, "{chain:?}");
    let id = chain.iter().next().unwrap();
    let case = cases.iter().find(|c| &c["id"] == id).unwrap();
    let rules: BTreeSet<&str> = case["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for r in [
        "password-spray",
        "risky-signin",
        "oauth-blob-without-signin",
        "aws-recon-burst",
    ] {
        assert!(rules.contains(r), "{r} in {rules:?}");
    }
    assert_eq!(case["clouds"], serde_json::json!(["aws", "azure"]));
    let kinds: BTreeSet<&str> = case["graph"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains("issued_key"),
        "AssumeRoleWithSAML links the key: {kinds:?}"
    );
    assert!(kinds.contains("session_name"), "{kinds:?}");
    assert_eq!(case["severity"], "critical");
    let spray = cases_with(&cases, &scenario_events("password_spray"));
    assert_eq!(spray.len(), 1, "{spray:?}");
    assert!(
        spray.is_disjoint(&chain),
        "two sprays that tried the same users stay apart"
    );

    // Re-running keeps every id; `cases show` explains the score.
    s.correlate_json(&repo_root().join("correlations"), &["--full"]);
    let again: BTreeSet<String> = all_cases(&s)
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let before: BTreeSet<String> = cases
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again, before);
    let text = s.ok(&["cases", "show", id]);
    assert!(text.contains("evidence from 2 clouds"), "{text}");
    assert!(text.contains("session"), "{text}");
}

#[test]
fn an_unknown_case_is_a_usage_error_with_a_hint() {
    let s = demo_state();
    s.correlate_json(&repo_root().join("correlations"), &[]);
    let out = s.run(&["cases", "show", "C-0000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no case C-0000"));
}

/// Every export format through the binary, over a case whose account and user agent are
/// hostile: CSV cells do not start a formula, the HTML has no markup from the data.
#[test]
fn cases_export_in_every_format_escapes_hostile_values() {
    let s = crate::util::Skein::new();
    let record = serde_json::json!({
        "id": "hostile-1", "createdDateTime": "2026-03-09T08:00:00Z",
        "userPrincipalName": "=HYPERLINK(\"http://evil\",\"x\")@contoso.com",
        "userId": "0a1b2c3d-0000-4000-8000-00000000beef",
        "ipAddress": "203.0.113.99", "status": {"errorCode": 0},
        "riskLevelDuringSignIn": "high", "riskState": "atRisk",
        "userAgent": "<script>alert(1)</script>",
        "location": {"city": "<b>Nowhere</b>", "countryOrRegion": "NL"}
    });
    let path = s.dir.path().join("hostile.json");
    std::fs::write(&path, record.to_string()).unwrap();
    s.ok(&["ingest", "--no-progress", path.to_str().unwrap()]);
    let run = s.correlate_json(&repo_root().join("correlations"), &[]);
    assert!(run["cases"]["total"].as_u64().unwrap() >= 1, "{run}");
    for format in ["json", "ndjson", "csv", "md", "stix", "ocsf", "dot", "html"] {
        let out = s.ok(&["cases", "export", "--format", format]);
        assert!(out.to_lowercase().contains("hyperlink"), "{format}: {out}");
        match format {
            "csv" => {
                for cell in out.split(',') {
                    let cell = cell.trim_start_matches('"');
                    assert!(!cell.to_lowercase().starts_with("=hyperlink"), "{out}");
                }
            }
            "html" => {
                assert!(!out.contains("<script"), "{out}");
                assert!(!out.contains("<b>Nowhere"), "{out}");
            }
            _ => {}
        }
    }
    let out = s.run(&["cases", "export", "--format", "xlsx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("html"));
}

/// `investigate` on the chain's victim: the object id is an alias, the blob address is
/// linked, the findings and the case that name the user are listed; the address two hops
/// out reaches the AWS key; an unknown entity gets the closest known id.
#[test]
fn investigate_shows_aliases_links_findings_and_cases() {
    let s = demo_state();
    s.correlate_json(&repo_root().join("correlations"), &[]);
    let chain = scenario_events("cross_cloud_chain");
    let cases = all_cases(&s);
    let case_id = cases_with(&cases, &chain).into_iter().next().unwrap();
    let case = cases.iter().find(|c| c["id"] == case_id.as_str()).unwrap();
    let victim = case["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "user" && e["joins"] == true)
        .unwrap();
    let upn = victim["name"].as_str().unwrap().to_lowercase();
    let out: Value =
        serde_json::from_str(&s.ok(&["investigate", &format!("user:{upn}"), "--format", "json"]))
            .unwrap();
    let object_id = format!("user:{}", victim["id"].as_str().unwrap());
    assert!(
        out["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == object_id.as_str()),
        "{out}"
    );
    let linked: Vec<&str> = out["linked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["entity"].as_str().unwrap())
        .collect();
    assert!(linked.contains(&"ip:2a0b:f4c2:2::1b:7e"), "{linked:?}");
    assert!(out["cases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == case_id.as_str()));
    assert!(out["findings"].as_array().unwrap().len() >= 3);
    assert!(!out["timeline"].as_array().unwrap().is_empty());

    let deep = s.ok(&[
        "investigate",
        &format!("user:{upn}"),
        "--depth",
        "2",
        "--format",
        "dot",
    ]);
    assert!(deep.contains("awskey:ASIA"), "{deep}");

    let typo = s.run(&["investigate", &format!("user:{upn}x")]);
    assert_eq!(typo.status.code(), Some(2));
    let err = String::from_utf8_lossy(&typo.stderr);
    assert!(err.contains(&format!("closest known: user:{upn}")), "{err}");
}

/// An address from which hundreds of accounts sign in (a corporate NAT) joins nothing: two
/// risky sign-ins of different users from it stay two cases, and each case lists the hub.
#[test]
fn an_address_shared_by_hundreds_of_accounts_does_not_merge_cases() {
    hub_address_scenario(false);
}

/// The same from a store ingested before accounts by address were kept: the hub check
/// reads the address's events instead.
#[test]
fn a_store_without_accounts_by_address_finds_hubs_from_the_events() {
    hub_address_scenario(true);
}

fn hub_address_scenario(older_store: bool) {
    let s = crate::util::Skein::new();
    let nat = "198.51.100.77";
    let mut records: Vec<Value> = (0..120)
        .map(|i| {
            serde_json::json!({
                "id": format!("nat-{i}"), "createdDateTime": format!("2026-03-09T{:02}:{:02}:00Z", 8 + i / 60, i % 60),
                "userPrincipalName": format!("user{i}@contoso.com"),
                "userId": format!("0a1b2c3d-0000-4000-8000-{i:012}"),
                "ipAddress": nat, "status": {"errorCode": 0},
            })
        })
        .collect();
    for (n, user) in [(0, "user3"), (1, "user77")] {
        records.push(serde_json::json!({
            "id": format!("risky-{n}"), "createdDateTime": format!("2026-03-09T10:0{n}:00Z"),
            "userPrincipalName": format!("{user}@contoso.com"),
            "userId": format!("0a1b2c3d-0000-4000-8000-{:012}", if n == 0 { 3 } else { 77 }),
            "ipAddress": nat, "status": {"errorCode": 0},
            "riskLevelDuringSignIn": "high", "riskState": "atRisk",
        }));
    }
    let path = s.dir.path().join("nat.ndjson");
    let text: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, text.join("\n")).unwrap();
    s.ok(&["ingest", "--no-progress", path.to_str().unwrap()]);
    if older_store {
        // What an older build leaves: no accounts by address, and no mark saying from where.
        skein_store::forget_accounts_by_address(&s.state()).unwrap();
    }
    s.correlate_json(&repo_root().join("correlations"), &[]);
    let cases = all_cases(&s);
    let with_nat: Vec<&Value> = cases
        .iter()
        .filter(|c| {
            c["entities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["id"] == nat)
        })
        .collect();
    assert_eq!(with_nat.len(), 2, "{cases:#?}");
    for c in with_nat {
        let hubs = c["hubs"].as_array().unwrap();
        assert_eq!(hubs.len(), 1, "{c}");
        assert_eq!(hubs[0]["id"], nat);
        assert!(hubs[0]["accounts"].as_u64().unwrap() >= 50);
    }
}

#[test]
fn a_run_that_died_between_findings_and_cases_rebuilds_the_cases() {
    let s = demo_state();
    let rules = repo_root().join("correlations");
    let run = s.correlate_json(&rules, &[]);
    let total = run["cases"]["total"].as_u64().unwrap();
    assert!(total > 0, "{run}");
    // What a correlate killed after storing its findings leaves: the mark set, the cases
    // not updated (here: none at all), the run's state saved by an earlier run.
    {
        let store =
            skein_store::Store::open(&s.state(), skein_store::OpenOptions::default()).unwrap();
        store.replace_cases(&[]).unwrap();
        store.checkpoint_put("cases/pending", b"1").unwrap();
    }
    let run = s.correlate_json(&rules, &[]);
    assert_eq!(run["cases"]["total"].as_u64(), Some(total), "{run}");
    // Cleared: the next run touches nothing.
    let run = s.correlate_json(&rules, &[]);
    assert!(run["cases"].is_null(), "{run}");
}
