//! The field drift SPEC §2 says must parse, one test each, and property tests of the Azure
//! parsers: they never panic on arbitrary objects, and one sign-in written in Graph, Log
//! Analytics and diagnostic shape gives the same id, time, outcome, UPN and address.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use skein_ingest::{blob, entra, RecordError};
use skein_model::Event;

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn parse(f: fn(&Map<String, Value>, &str) -> Result<Event, RecordError>, v: Value) -> Event {
    let raw = v.to_string();
    f(&object(v), &raw).unwrap_or_else(|e| panic!("{e}: {raw}"))
}

const T: &str = "2024-03-01T12:00:00Z";

#[test]
fn risk_event_types_as_array_json_text_or_comma_string() {
    let want = vec![
        "unfamiliarFeatures".to_string(),
        "passwordSpray".to_string(),
    ];
    for v in [
        json!(["unfamiliarFeatures", "passwordSpray"]),
        json!("[\"unfamiliarFeatures\",\"passwordSpray\"]"),
        json!("unfamiliarFeatures,passwordSpray"),
        json!("['unfamiliarFeatures', 'passwordSpray']"),
    ] {
        let g = parse(
            entra::from_graph,
            json!({"createdDateTime": T, "riskEventTypes_v2": v}),
        );
        let l = parse(
            entra::from_la_row,
            json!({"TimeGenerated": T, "RiskEventTypes_V2": v}),
        );
        let d = parse(
            entra::from_diagnostic,
            json!({"time": T, "properties": {"riskEventTypes_v2": v}}),
        );
        assert_eq!(g.risk.event_types, want, "{v}");
        assert_eq!(l.risk.event_types, want, "{v}");
        assert_eq!(d.risk.event_types, want, "{v}");
    }
}

#[test]
fn result_type_string_versus_status_error_code_number() {
    let g = parse(
        entra::from_graph,
        json!({"id": "s1", "createdDateTime": T, "status": {"errorCode": 50126}}),
    );
    let l = parse(
        entra::from_la_row,
        json!({"Id": "s1", "CreatedDateTime": T, "ResultType": "50126"}),
    );
    let l_num = parse(
        entra::from_la_row,
        json!({"Id": "s1", "CreatedDateTime": T, "ResultType": 50126}),
    );
    let d = parse(
        entra::from_diagnostic,
        json!({"time": T, "resultType": "50126", "properties": {"id": "s1", "createdDateTime": T}}),
    );
    for ev in [&l, &l_num, &d] {
        assert_eq!(ev.outcome, g.outcome);
        assert_eq!(ev.id, g.id);
    }
    assert_eq!(g.outcome.error_code.as_deref(), Some("50126"));
    assert!(!g.outcome.success);
}

#[test]
fn caller_ip_address_with_port_bracketed_v6_or_bare() {
    for (caller, want) in [
        ("203.0.113.5:44321", "203.0.113.5"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8::1", "2001:db8::1"),
    ] {
        let want = Some(want.parse().unwrap());
        let la = parse(
            blob::from_la_row,
            json!({"TimeGenerated": T, "CallerIpAddress": caller}),
        );
        let diag = parse(
            blob::from_diagnostic,
            json!({"time": T, "callerIpAddress": caller}),
        );
        let signin = parse(
            entra::from_diagnostic,
            json!({"time": T, "callerIpAddress": caller}),
        );
        assert_eq!(la.src_ip, want, "{caller}");
        assert_eq!(diag.src_ip, want, "{caller}");
        assert_eq!(signin.src_ip, want, "{caller}");
    }
}

#[test]
fn la_dynamic_columns_nested_or_as_text() {
    let location = json!({"city": "Liege", "state": "Liege", "countryOrRegion": "BE",
                          "geoCoordinates": {"latitude": 50.64, "longitude": 5.57}});
    let status = json!({"errorCode": 0});
    let py_location =
        "{'city': 'Liege', 'state': 'Liege', 'countryOrRegion': 'BE', 'geoCoordinates': {'latitude': 50.64, 'longitude': 5.57}}";
    let events: Vec<Event> = [
        (location.clone(), status.clone()),
        (json!(location.to_string()), json!(status.to_string())),
        (json!(py_location), json!("{'errorCode': 0}")),
    ]
    .into_iter()
    .map(|(loc, st)| {
        parse(
            entra::from_la_row,
            json!({"TimeGenerated": T, "LocationDetails": loc, "Status": st}),
        )
    })
    .collect();
    for ev in &events {
        assert_eq!(ev.geo, events[0].geo);
        assert_eq!(ev.outcome, events[0].outcome);
    }
    assert_eq!(events[0].geo.city.as_deref(), Some("Liege"));
    assert_eq!(events[0].geo.latitude, Some(50.64));
    assert!(events[0].outcome.success);
}

#[test]
fn camel_case_versus_pascal_case() {
    let pascal = json!({"Id": "x", "CreatedDateTime": T, "UserPrincipalName": "A@B.com",
        "IPAddress": "198.51.100.7", "ResultType": "0", "AppId": "app", "UserId": "U1",
        "HomeTenantId": "h", "RiskLevelDuringSignIn": "high", "ClientAppUsed": "Browser"});
    let camel = json!({"id": "x", "createdDateTime": T, "userPrincipalName": "A@B.com",
        "ipAddress": "198.51.100.7", "resultType": "0", "appId": "app", "userId": "U1",
        "homeTenantId": "h", "riskLevelDuringSignIn": "high", "clientAppUsed": "Browser"});
    let lower = object(pascal.clone())
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect::<Map<String, Value>>();
    let mut events = vec![
        parse(entra::from_la_row, pascal.clone()),
        parse(entra::from_la_row, camel.clone()),
        parse(entra::from_la_row, Value::Object(lower)),
    ];
    // A Graph object whose keys arrive in PascalCase.
    let mut graph_pascal = object(pascal);
    graph_pascal.remove("ResultType");
    graph_pascal.insert("Status".into(), json!({"ErrorCode": 0}));
    events.push(parse(entra::from_graph, Value::Object(graph_pascal)));
    for ev in &mut events {
        ev.raw.clear();
        ev.shape = skein_model::WireShape::LogAnalytics;
    }
    for ev in &events {
        assert_eq!(ev, &events[0]);
    }
    assert_eq!(events[0].actor.upn.as_deref(), Some("a@b.com"));
    assert_eq!(events[0].actor.user_id.as_deref(), Some("u1"));
    assert_eq!(events[0].tenants.home.as_deref(), Some("h"));
    assert!(events[0].outcome.success);

    // Blob logs: diagnostic camelCase vs LA PascalCase columns.
    let d = parse(
        blob::from_diagnostic,
        json!({"time": T, "operationName": "GetBlob", "correlationId": "c", "statusCode": 200,
               "identity": {"type": "SAS", "tokenHash": "th"},
               "properties": {"accountName": "acct", "objectKey": "/acct/c/b"}}),
    );
    let l = parse(
        blob::from_la_row,
        json!({"TimeGenerated": T, "OperationName": "GetBlob", "CorrelationId": "c",
               "StatusCode": "200", "AuthenticationType": "SAS", "AuthenticationHash": "th",
               "AccountName": "acct", "ObjectKey": "/acct/c/b"}),
    );
    assert_eq!(d.id, l.id);
    assert_eq!(d.actor, l.actor);
    assert_eq!(d.target, l.target);
    assert_eq!(d.tokens, l.tokens);
    assert_eq!(d.outcome, l.outcome);
}

// ---- property tests ----

/// Keys the Azure parsers read, in the spellings the shapes use.
const KEYS: &[&str] = &[
    "id",
    "Id",
    "createdDateTime",
    "CreatedDateTime",
    "TimeGenerated",
    "time",
    "status",
    "Status",
    "errorCode",
    "failureReason",
    "ResultType",
    "resultType",
    "ResultDescription",
    "ipAddress",
    "IPAddress",
    "callerIpAddress",
    "CallerIpAddress",
    "location",
    "LocationDetails",
    "Location",
    "geoCoordinates",
    "latitude",
    "longitude",
    "countryOrRegion",
    "userPrincipalName",
    "userId",
    "riskEventTypes_v2",
    "RiskEventTypes_V2",
    "riskEventTypes",
    "signInEventTypes",
    "isInteractive",
    "properties",
    "category",
    "Type",
    "homeTenantId",
    "tenantId",
    "statusCode",
    "StatusCode",
    "statusText",
    "metricResponseType",
    "identity",
    "requester",
    "objectId",
    "upn",
    "type",
    "tokenHash",
    "operationName",
    "correlationId",
    "accountName",
    "resourceId",
    "_ResourceId",
    "uri",
    "objectKey",
    "userAgentHeader",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        Just(json!(T)),
        Just(json!("2021-06-29 17:27:03.882944")),
        Just(json!("0")),
        Just(json!("abc")),
        Just(json!("[2001:db8::1]:443")),
        Just(json!("{'errorCode': 0, 'x': [True, None]}")),
        Just(json!("{\"errorCode\": \"x\"}")),
        Just(json!("https://acct.blob.core.windows.net/c/b")),
        "[\\[\\]{}():,'\" 0-9a-zA-Z.:_-]{0,24}".prop_map(Value::String),
    ]
}

fn arbitrary_record() -> impl Strategy<Value = Map<String, Value>> {
    let value = scalar().prop_recursive(3, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..8).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    });
    prop::collection::btree_map(prop::sample::select(KEYS), value, 0..16)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A valid sign-in, and one way of writing its time per shape.
#[derive(Debug, Clone)]
struct SignIn {
    id: String,
    secs: i64,
    micros: u32,
    code: u32,
    upn: String,
    ip: std::net::IpAddr,
    formats: [usize; 3],
}

fn signin() -> impl Strategy<Value = SignIn> {
    (
        "[0-9a-f]{8}-[0-9a-f]{4}",
        946_684_800i64..4_102_444_800,
        0u32..1_000_000,
        prop_oneof![Just(0u32), Just(50126), Just(90072), any::<u32>()],
        "[A-Za-z][A-Za-z0-9.]{0,12}@[A-Za-z]{1,8}\\.com",
        any::<std::net::IpAddr>(),
        [0usize..4, 0usize..4, 0usize..4],
    )
        .prop_map(|(id, secs, micros, code, upn, ip, formats)| SignIn {
            id,
            secs,
            micros,
            code,
            upn,
            ip,
            formats,
        })
}

fn time_text(s: &SignIn, format: usize) -> String {
    let t = chrono::DateTime::from_timestamp(s.secs, s.micros * 1000).unwrap();
    match format {
        0 => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        1 => t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        2 => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        _ => t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string(),
    }
}

proptest! {
    #[test]
    fn azure_parsers_never_panic(rec in arbitrary_record()) {
        let raw = Value::Object(rec.clone()).to_string();
        for f in [entra::from_graph, entra::from_la_row, entra::from_diagnostic,
                  blob::from_la_row, blob::from_diagnostic] {
            if let Ok(ev) = f(&rec, &raw) {
                prop_assert_eq!(&ev.raw, &raw);
                prop_assert!(!ev.id.is_empty());
            }
        }
    }

    #[test]
    fn one_signin_in_three_shapes(s in signin()) {
        let status = json!({"errorCode": s.code, "failureReason": "r"});
        let graph = json!({"id": s.id, "createdDateTime": time_text(&s, s.formats[0]),
            "userPrincipalName": s.upn, "ipAddress": s.ip.to_string(), "status": status});
        let la = json!({"Id": s.id, "CreatedDateTime": time_text(&s, s.formats[1]),
            "TimeGenerated": "2000-01-01T00:00:00Z", "UserPrincipalName": s.upn,
            "IPAddress": s.ip.to_string(), "ResultType": s.code.to_string(),
            "ResultDescription": "r", "Status": status.to_string(), "Type": "SigninLogs"});
        let mut props = object(graph.clone());
        props.insert("createdDateTime".into(), json!(time_text(&s, s.formats[2])));
        let diag = json!({"time": "2000-01-01T00:00:00Z", "category": "SignInLogs",
            "resultType": s.code.to_string(), "callerIpAddress": "192.0.2.1:5",
            "properties": props});
        let g = parse(entra::from_graph, graph);
        let l = parse(entra::from_la_row, la);
        let d = parse(entra::from_diagnostic, diag);
        for ev in [&l, &d] {
            prop_assert_eq!(&ev.id, &g.id);
            prop_assert_eq!(ev.time, g.time);
            prop_assert_eq!(&ev.outcome, &g.outcome);
            prop_assert_eq!(&ev.actor.upn, &g.actor.upn);
            prop_assert_eq!(ev.src_ip, g.src_ip);
        }
        prop_assert_eq!(g.outcome.success, s.code == 0);
        prop_assert_eq!(g.outcome.error_code, Some(s.code.to_string()));
        prop_assert_eq!(g.actor.upn, Some(s.upn.to_lowercase()));
        prop_assert_eq!(g.src_ip, Some(s.ip));
        prop_assert_eq!(g.time.timestamp(), s.secs);
        prop_assert_eq!(g.time.timestamp_subsec_micros(), s.micros);
    }
}
