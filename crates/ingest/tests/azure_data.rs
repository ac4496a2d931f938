//! The Azure parsers (`entra`, `blob`, `loganalytics`) against real third-party files from
//! `shared/data` (see its MANIFEST.md). A missing file fails the test: these are the
//! project's ground truth, not optional extras.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde_json::{Map, Value};
use skein_ingest::{blob, entra, Item};
use skein_model::{Event, WireShape};

fn data(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("test data {} is missing: {e}", path.display()))
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn lines(rel: &str) -> Vec<Map<String, Value>> {
    data(rel)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| object(serde_json::from_str(l).expect("valid JSON line")))
        .collect()
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Every Panther test log of `Azure.Audit` / `Azure.MonitorActivity` whose category is a
/// sign-in or storage category parses; the counts per category are pinned.
#[test]
fn panther_azure_test_logs() {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_rule: Vec<(String, String, Event)> = Vec::new();
    for case in lines("panther-analysis/_extracted_tests.jsonl") {
        let log_types = case.get("log_types").cloned().unwrap_or(Value::Null);
        if log_types != serde_json::json!(["Azure.Audit"])
            && log_types != serde_json::json!(["Azure.MonitorActivity"])
        {
            continue;
        }
        let Some(Value::Object(log)) = case.get("log") else {
            continue;
        };
        let Some(category) = get_ci(log, "category").and_then(Value::as_str) else {
            continue;
        };
        let raw = serde_json::to_string(log).unwrap();
        let parsed = if entra::is_signin_category(category) {
            entra::from_diagnostic(log, &raw)
        } else if blob::is_storage_category(category) {
            blob::from_diagnostic(log, &raw)
        } else {
            continue;
        };
        let rule = case["rule_id"].as_str().unwrap_or_default().to_string();
        let test = case["test_name"].as_str().unwrap_or_default().to_string();
        let ev = parsed.unwrap_or_else(|e| panic!("{rule} / {test}: {e}"));
        assert_eq!(ev.shape, WireShape::Diagnostic);
        assert_eq!(ev.raw, raw);
        *counts.entry(category.to_string()).or_default() += 1;
        by_rule.push((rule, test, ev));
    }
    let want: BTreeMap<String, usize> = [
        ("NonInteractiveUserSignInLogs", 3),
        ("ServicePrincipalSignInLogs", 8),
        ("SignInLogs", 15),
        ("StorageDelete", 1),
        ("StorageRead", 7),
        ("StorageWrite", 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, want);

    let find = |rule: &str, n: usize| -> &Event {
        &by_rule
            .iter()
            .filter(|(r, _, _)| r == rule)
            .nth(n)
            .unwrap_or_else(|| panic!("no test {n} of {rule}"))
            .2
    };
    // resultType "Failure" with a status: the status code wins.
    let lockout = find("Azure.Audit.ExcessiveAccountLockouts", 0);
    assert!(!lockout.outcome.success);
    assert_eq!(lockout.outcome.error_code.as_deref(), Some("50053"));
    assert_eq!(lockout.src_ip, Some("4.4.4.4".parse().unwrap()));
    // Lower-case envelope keys, a 9-digit fraction, a service principal.
    let sp = find("Azure.Audit.ManyFailedSignIns", 0);
    assert_eq!(sp.id, "36658c78-02d9-4d8f-84ee-5ca4a3fdefef");
    assert_eq!(sp.outcome.error_code.as_deref(), Some("7000215"));
    assert_eq!(sp.time.to_rfc3339(), "2023-07-26T22:58:30.983201900+00:00");
    assert_eq!(
        sp.signin.category.as_deref(),
        Some("ServicePrincipalSignInLogs")
    );
    assert_eq!(
        sp.actor.service_principal_id.as_deref(),
        Some("b1c34143-e405-4058-8e29-84596ad737b8")
    );
    assert_eq!(sp.geo.city.as_deref(), Some("Dublin"));
    assert_eq!(sp.risk.level_during_signin.as_deref(), Some("low"));
    // resultType "0" as text; no properties.id → a digest id.
    let device = find("Azure.Audit.DeviceCodeBrokerClient", 0);
    assert!(device.outcome.success);
    assert!(device.id.starts_with("sha:"));
    assert_eq!(device.actor.upn.as_deref(), Some("aragorn@lotr.com"));
    assert_eq!(
        device.signin.authentication_protocol.as_deref(),
        Some("deviceCode")
    );
    assert_eq!(device.signin.is_interactive, Some(true));
    // resultType "Success" as a word.
    let legit = find("Azure.Audit.DeviceCodeBrokerClient", 1);
    assert!(legit.outcome.success);

    // Storage: a ported SAS-exfil test with a port on the caller and a SAS uri.
    let delete = by_rule
        .iter()
        .map(|(_, _, e)| e)
        .find(|e| {
            e.target.action.as_deref() == Some("DeleteBlob")
                && e.target.storage_account.as_deref() == Some("proddata")
        })
        .expect("the StorageDelete test");
    assert!(delete.outcome.success);
    assert_eq!(delete.src_ip, Some("1.1.1.1".parse().unwrap()));
    assert_eq!(
        delete.target.object.as_deref(),
        Some("/proddata/financial/records.xlsx")
    );
    assert_eq!(delete.user_agent.as_deref(), Some("curl/7.88.0"));
    let denied = by_rule
        .iter()
        .filter(|(r, _, _)| r.starts_with("Azure.MonitorActivity.Storage"))
        .filter(|(_, _, e)| !e.outcome.success)
        .count();
    assert_eq!(denied, 4, "403/409 storage tests");
}

/// Splunk's `azure:monitor:aad` sample of a sign-in (diagnostic shape).
#[test]
fn splunk_signin_example_log() {
    let mut n = 0;
    for rec in lines("splunk-security-content/_extracted_example_logs.jsonl") {
        let Some(Value::Object(log)) = rec.get("example_log") else {
            continue;
        };
        if log.get("operationName").and_then(Value::as_str) != Some("Sign-in activity") {
            continue;
        }
        n += 1;
        let raw = serde_json::to_string(log).unwrap();
        let ev = entra::from_diagnostic(log, &raw).unwrap();
        assert_eq!(ev.id, "22608a25-1d9b-44b5-b0f2-cb94f06b2d00");
        assert_eq!(ev.time.to_rfc3339(), "2023-10-24T20:01:11.949038700+00:00");
        assert!(!ev.outcome.success);
        assert_eq!(ev.outcome.error_code.as_deref(), Some("50076"));
        assert_eq!(
            ev.actor.upn.as_deref(),
            Some("user15@splunkresearch.onmicrosoft.com")
        );
        assert_eq!(ev.src_ip, Some("1.2.3.4".parse().unwrap()));
        assert_eq!(ev.geo.city.as_deref(), Some("Rochester"));
        assert_eq!(ev.geo.country.as_deref(), Some("US"));
        assert_eq!(ev.actor.service_principal_id, None, "empty string");
        assert_eq!(
            ev.signin.authentication_requirement.as_deref(),
            Some("multiFactorAuthentication")
        );
        assert_eq!(ev.signin.category.as_deref(), Some("SignInLogs"));
        assert_eq!(
            ev.tenants.home.as_deref(),
            Some("887c9144-28b8-431b-885b-764fdeefcf62")
        );
    }
    assert_eq!(n, 1);
}

/// The pandas export of 86 SigninLogs rows, whose nested columns are Python-repr text.
#[test]
fn sentinel_notebook_signins_through_pyrepr() {
    let rows = lines("azure-sentinel-notebooks/aad_logons.converted.jsonl");
    assert_eq!(rows.len(), 86);
    let mut ids = HashSet::new();
    let mut countries: BTreeMap<String, usize> = BTreeMap::new();
    let (mut ok, mut failed) = (0, 0);
    let mut events = Vec::new();
    for row in &rows {
        let raw = serde_json::to_string(row).unwrap();
        let ev = entra::from_la_row(row, &raw).unwrap();
        assert_eq!(ev.shape, WireShape::LogAnalytics);
        ids.insert(ev.id.clone());
        assert!(
            ev.geo.city.is_some(),
            "{}: LocationDetails via pyrepr",
            ev.id
        );
        assert!(ev.geo.latitude.is_some() && ev.geo.longitude.is_some());
        *countries
            .entry(ev.geo.country.clone().unwrap_or_default())
            .or_default() += 1;
        if ev.outcome.success {
            ok += 1;
        } else {
            failed += 1;
        }
        // Without ResultType/ResultDescription the outcome comes from the Status column
        // (Python-repr text) and must be the same.
        let mut stripped = row.clone();
        stripped.remove("ResultType");
        stripped.remove("ResultDescription");
        let via_status = entra::from_la_row(&stripped, &raw).unwrap();
        assert_eq!(via_status.outcome.success, ev.outcome.success);
        assert_eq!(via_status.outcome.error_code, ev.outcome.error_code);
        events.push(ev);
    }
    assert_eq!(ids.len(), 45);
    assert_eq!((ok, failed), (84, 2));
    assert_eq!(
        countries,
        [("BE".to_string(), 61), ("US".to_string(), 25)]
            .into_iter()
            .collect()
    );

    let megan = |ok: bool| {
        events
            .iter()
            .find(|e| {
                e.actor.upn.as_deref() == Some("meganb@seccxp.ninja") && e.outcome.success == ok
            })
            .expect("meganb sign-in")
    };
    let atlanta = megan(false);
    assert_eq!(atlanta.id, "2a292f6a-7658-495a-92ea-b750ca502b00");
    assert_eq!(atlanta.outcome.error_code.as_deref(), Some("90072"));
    assert_eq!(atlanta.outcome.reason.as_deref(), Some("Other"));
    assert_eq!(atlanta.src_ip, Some("136.55.145.135".parse().unwrap()));
    assert_eq!(atlanta.geo.city.as_deref(), Some("Atlanta"));
    assert_eq!(atlanta.geo.state.as_deref(), Some("Georgia"));
    assert_eq!(atlanta.geo.country.as_deref(), Some("US"));
    assert_eq!(atlanta.geo.latitude, Some(33.798458099365234));
    // CreatedDateTime, not the re-based TimeGenerated (17:46:45).
    assert_eq!(
        atlanta.time.to_rfc3339(),
        "2021-06-29T17:27:03.882944+00:00"
    );
    let liege = megan(true);
    assert_eq!(liege.src_ip, Some("109.88.218.99".parse().unwrap()));
    assert_eq!(liege.geo.city.as_deref(), Some("Liege"));
    assert_eq!(liege.geo.country.as_deref(), Some("BE"));
    assert_eq!(liege.outcome.error_code.as_deref(), Some("0"));
    assert_eq!(liege.signin.category.as_deref(), Some("SignInLogs"));
    assert_eq!(liege.signin.client_app_used.as_deref(), Some("Browser"));
    // LA `TenantId` is the workspace; the resource tenant comes from AADTenantId.
    assert_eq!(
        liege.tenants.resource.as_deref(),
        Some("4b2462a4-bbee-495a-a0e1-f23ae524cc9c")
    );
    assert!(liege.risk.event_types.is_empty());
}

#[derive(serde::Deserialize)]
struct GraphPage<'a> {
    #[serde(borrow)]
    value: Vec<&'a serde_json::value::RawValue>,
}

/// The beta Graph sample, which repeats `homeTenantId` with two different values.
#[test]
fn graph_beta_sample_with_duplicate_keys() {
    let text = data("msgraph-docs/beta_signin-list_example1_response.json");
    let page: GraphPage = serde_json::from_str(&text).unwrap();
    assert_eq!(page.value.len(), 1);
    let raw = page.value[0].get();
    let obj: Map<String, Value> = serde_json::from_str(raw).unwrap();
    let ev = entra::from_graph(&obj, raw).unwrap();
    assert_eq!(ev.id, "1691d37b-8579-43a7-966a-0f35583c1300");
    assert_eq!(ev.shape, WireShape::GraphSignin);
    assert_eq!(ev.time.to_rfc3339(), "2021-06-30T16:34:32+00:00");
    assert!(!ev.outcome.success);
    assert_eq!(ev.outcome.error_code.as_deref(), Some("50126"));
    // serde_json keeps the last of the duplicate keys; raw keeps both.
    assert_eq!(
        ev.tenants.home.as_deref(),
        Some("99081087-73c4-48d1-a112-f60ff75114f7")
    );
    assert!(ev.raw.contains("4f7a7bc2-28e2-46a3-b90e-5ade5bc90138"));
    assert_eq!(
        ev.tenants.resource.as_deref(),
        Some("99081087-73c4-48d1-a112-f60ff75114f7")
    );
    assert_eq!(
        ev.tokens.unique_token_id.as_deref(),
        Some("ZTE0OTk3YTQtZjg5Mi00YjBiLWIwNTEtZmViZTA1YzJhNDli")
    );
    assert_eq!(ev.signin.category.as_deref(), Some("SignInLogs"));
    assert_eq!(ev.signin.cross_tenant_access_type.as_deref(), Some("none"));
    assert_eq!(
        ev.signin.authentication_requirement.as_deref(),
        Some("singleFactorAuthentication")
    );
    assert_eq!(ev.actor.service_principal_id, None);
    assert!(ev.risk.event_types.is_empty());
    assert_eq!(ev.geo.city.as_deref(), Some("Redmond"));
    assert_eq!(ev.geo.latitude, None, "empty geoCoordinates");
    assert_eq!(ev.src_ip, Some("131.107.159.37".parse().unwrap()));
}

/// The three documentation fragments of a blob resource log: fragment 1 alone (a
/// StorageWrite record), then all three merged into one record.
#[test]
fn ms_docs_blob_log_fragments() {
    let text =
        data("ms-docs-storage-logs/monitor-blob-storage-reference.resource-log-fragments.jsonc");
    let fragments: Vec<String> = text
        .split("// --- Fragment")
        .skip(1)
        .map(|f| {
            let body = f.split_once('\n').map_or("", |(_, b)| b).trim();
            // Fragment 2 is verbatim with a trailing comma before its closing brace.
            match body.strip_suffix('}').map(str::trim_end) {
                Some(inner) if inner.ends_with(',') => {
                    format!("{}}}", &inner[..inner.len() - 1])
                }
                _ => body.to_string(),
            }
        })
        .collect();
    assert_eq!(fragments.len(), 3);
    let parsed: Vec<Map<String, Value>> = fragments
        .iter()
        .map(|f| object(serde_json::from_str(f).expect("fragment JSON")))
        .collect();

    let ev = blob::from_diagnostic(&parsed[0], &fragments[0]).unwrap();
    assert_eq!(
        ev.id,
        "ad881411-201e-004e-1c99-cfd67d000000|PutBlob|2019-02-28T19:10:21.212311Z"
    );
    assert_eq!(ev.shape, WireShape::Diagnostic);
    assert!(ev.outcome.success);
    assert_eq!(ev.outcome.error_code, None);
    assert_eq!(ev.outcome.reason.as_deref(), Some("Success"));
    assert_eq!(ev.src_ip, Some("192.168.0.1".parse().unwrap()));
    assert_eq!(ev.target.action.as_deref(), Some("PutBlob"));
    assert_eq!(ev.target.storage_account.as_deref(), Some("testaccount1"));
    assert_eq!(
        ev.target.object.as_deref(),
        Some("http://mystorageaccount.blob.core.windows.net/cont1/blobname?timeout=10")
    );
    assert_eq!(ev.target.region.as_deref(), Some("uswestcentral"));
    assert_eq!(
        ev.tokens.correlation_id.as_deref(),
        Some("ad881411-201e-004e-1c99-cfd67d000000")
    );
    assert_eq!(ev.raw, fragments[0]);

    let mut merged = parsed[0].clone();
    merged.extend(parsed[1].clone());
    merged.extend(parsed[2].clone());
    let raw = serde_json::to_string(&merged).unwrap();
    let ev = blob::from_diagnostic(&merged, &raw).unwrap();
    assert_eq!(ev.actor.auth_type.as_deref(), Some("OAuth"));
    assert_eq!(
        ev.actor.user_id.as_deref(),
        Some("fde5ba15-4355-4223-b811-cccccccccccc")
    );
    assert_eq!(
        ev.actor.app_id.as_deref(),
        Some("691458b9-1327-4635-9f55-bbbbbbbbbbbb")
    );
    assert_eq!(
        ev.tenants.home.as_deref(),
        Some("72f988bf-86f1-41af-91ab-dddddddddddd")
    );
    assert_eq!(ev.target.storage_account.as_deref(), Some("testaccount1"));
    assert!(ev
        .user_agent
        .as_deref()
        .is_some_and(|ua| ua.contains("Edge/17.17134")));
}

/// A query-API table of sign-in rows goes through `detect` row by row (needs `detect`).
#[test]
fn query_api_table_rows_reach_the_parsers() {
    let rows = lines("azure-sentinel-notebooks/aad_logons.converted.jsonl");
    let names: Vec<String> = rows[0].keys().cloned().collect();
    let table = serde_json::json!({
        "name": "PrimaryResult",
        "columns": names.iter().map(|n| serde_json::json!({"name": n, "type": "string"})).collect::<Vec<_>>(),
        "rows": rows.iter().take(5).map(|r| names.iter().map(|n| r[n].clone()).collect::<Vec<_>>())
            .chain(std::iter::once(vec![Value::Null]))
            .collect::<Vec<_>>(),
    });
    let mut out = Vec::new();
    skein_ingest::loganalytics::parse_table(&object(table), None, &mut out);
    assert_eq!(out.len(), 6);
    for item in &out[..5] {
        match item {
            Item::Event(ev) => {
                assert_eq!(ev.source, skein_model::Source::EntraSignin);
                assert!(ev.geo.city.is_some());
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }
    assert!(matches!(out[5], Item::Rejected { row: Some(5), .. }));
}
