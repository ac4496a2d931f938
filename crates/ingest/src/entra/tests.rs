//! Unit tests of the sign-in mapping; the real-data and drift tests are in `tests/`.

use serde_json::json;

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("test records are objects"),
    }
}

fn graph(v: Value) -> Result<Event, RecordError> {
    let raw = v.to_string();
    from_graph(&obj(v), &raw)
}

fn la(v: Value) -> Result<Event, RecordError> {
    let raw = v.to_string();
    from_la_row(&obj(v), &raw)
}

fn diag(v: Value) -> Result<Event, RecordError> {
    let raw = v.to_string();
    from_diagnostic(&obj(v), &raw)
}

fn problem(r: Result<Event, RecordError>) -> String {
    match r {
        Err(RecordError::Invalid { problem, .. }) => problem,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn categories_and_tables() {
    for c in [
        "SignInLogs",
        "signinlogs",
        "NonInteractiveUserSignInLogs",
        "ServicePrincipalSignInLogs",
        "ManagedIdentitySignInLogs",
    ] {
        assert!(is_signin_category(c), "{c}");
    }
    assert!(!is_signin_category("AuditLogs"));
    assert!(!is_signin_category("StorageRead"));
    for t in [
        "SigninLogs",
        "AADNonInteractiveUserSignInLogs",
        "AADServicePrincipalSignInLogs",
        "aadmanagedidentitysigninlogs",
    ] {
        assert!(is_signin_table(t), "{t}");
    }
    assert!(!is_signin_table("AuditLogs"));
    assert!(!is_signin_table("StorageBlobLogs"));
}

#[test]
fn graph_signin_fields() {
    let ev = graph(json!({
        "id": "abc-1", "createdDateTime": "2021-06-30T16:34:32Z",
        "userDisplayName": "Test", "userPrincipalName": "Test@Contoso.com",
        "userId": "26BE570A", "appId": "app-1", "appDisplayName": "Azure Portal",
        "ipAddress": "131.107.159.37", "userAgent": "UA", "correlationId": "corr",
        "sessionId": "sess", "uniqueTokenIdentifier": "uti",
        "homeTenantId": "", "resourceTenantId": "rt", "servicePrincipalId": "",
        "status": {"errorCode": 50126, "failureReason": "bad password"},
        "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "us",
                     "geoCoordinates": {"latitude": 47.68, "longitude": -122.12}},
        "riskLevelDuringSignIn": "high", "riskLevelAggregated": "medium", "riskState": "atRisk",
        "riskDetail": "none", "riskEventTypes_v2": ["passwordSpray"], "riskEventTypes": ["x"],
        "signInEventTypes": ["nonInteractiveUser"], "clientAppUsed": "Browser",
        "authenticationRequirement": "singleFactorAuthentication",
        "conditionalAccessStatus": "notApplied", "crossTenantAccessType": "none",
        "authenticationProtocol": "ropc", "isInteractive": "true", "userType": "member",
        "resourceId": "res", "resourceDisplayName": "Graph"
    }))
    .unwrap();
    assert_eq!(ev.id, "abc-1");
    assert_eq!(ev.source, Source::EntraSignin);
    assert_eq!(ev.shape, WireShape::GraphSignin);
    assert_eq!(ev.time.to_rfc3339(), "2021-06-30T16:34:32+00:00");
    assert!(!ev.outcome.success);
    assert_eq!(ev.outcome.error_code.as_deref(), Some("50126"));
    assert_eq!(ev.outcome.reason.as_deref(), Some("bad password"));
    assert_eq!(ev.actor.user_id.as_deref(), Some("26be570a"));
    assert_eq!(ev.actor.upn.as_deref(), Some("test@contoso.com"));
    assert_eq!(ev.actor.display_name.as_deref(), Some("Test"));
    assert_eq!(ev.actor.app_id.as_deref(), Some("app-1"));
    assert_eq!(ev.actor.app_name.as_deref(), Some("Azure Portal"));
    assert_eq!(ev.actor.service_principal_id, None);
    assert_eq!(ev.src_ip, Some("131.107.159.37".parse().unwrap()));
    assert_eq!(ev.user_agent.as_deref(), Some("UA"));
    assert_eq!(ev.geo.country.as_deref(), Some("US"));
    assert_eq!(ev.geo.city.as_deref(), Some("Redmond"));
    assert_eq!(ev.geo.state.as_deref(), Some("Washington"));
    assert_eq!(ev.geo.latitude, Some(47.68));
    assert_eq!(ev.geo.longitude, Some(-122.12));
    assert_eq!(ev.tenants.home, None);
    assert_eq!(ev.tenants.resource.as_deref(), Some("rt"));
    assert_eq!(ev.tokens.unique_token_id.as_deref(), Some("uti"));
    assert_eq!(ev.tokens.session_id.as_deref(), Some("sess"));
    assert_eq!(ev.tokens.correlation_id.as_deref(), Some("corr"));
    assert_eq!(ev.target.resource_id.as_deref(), Some("res"));
    assert_eq!(ev.target.resource_name.as_deref(), Some("Graph"));
    assert_eq!(ev.target.action.as_deref(), Some("Sign-in activity"));
    assert_eq!(ev.risk.level_during_signin.as_deref(), Some("high"));
    assert_eq!(ev.risk.level_aggregated.as_deref(), Some("medium"));
    assert_eq!(ev.risk.state.as_deref(), Some("atRisk"));
    assert_eq!(ev.risk.detail.as_deref(), Some("none"));
    assert_eq!(ev.risk.event_types, vec!["passwordSpray".to_string()]);
    let s = &ev.signin;
    assert_eq!(s.category.as_deref(), Some("NonInteractiveUserSignInLogs"));
    assert_eq!(s.client_app_used.as_deref(), Some("Browser"));
    assert_eq!(
        s.authentication_requirement.as_deref(),
        Some("singleFactorAuthentication")
    );
    assert_eq!(s.conditional_access_status.as_deref(), Some("notApplied"));
    assert_eq!(s.cross_tenant_access_type.as_deref(), Some("none"));
    assert_eq!(s.authentication_protocol.as_deref(), Some("ropc"));
    assert_eq!(s.is_interactive, Some(true));
    assert_eq!(s.user_type.as_deref(), Some("member"));
}

#[test]
fn graph_success_and_fallbacks() {
    let ev = graph(
        json!({"createdDateTime": "2021-06-30T16:34:32Z", "status": {"errorCode": "0"},
        "riskEventTypes_v2": [], "riskEventTypes": "unlikelyTravel", "ipAddress": "not-an-ip",
        "tenantId": "t"}),
    )
    .unwrap();
    assert!(ev.outcome.success);
    assert_eq!(ev.outcome.error_code.as_deref(), Some("0"));
    assert!(ev.id.starts_with("sha:"));
    assert_eq!(ev.risk.event_types, vec!["unlikelyTravel".to_string()]);
    assert_eq!(ev.src_ip, None);
    assert_eq!(ev.src_host.as_deref(), Some("not-an-ip"));
    assert_eq!(ev.tenants.resource.as_deref(), Some("t"));
    // No status at all: a failure without a code.
    let ev = graph(json!({"id": "x", "createdDateTime": "2021-06-30T16:34:32Z"})).unwrap();
    assert!(!ev.outcome.success);
    assert_eq!(ev.outcome.error_code, None);
}

#[test]
fn wrong_types_and_missing_time_reject_naming_the_field() {
    let t = "2021-06-30T16:34:32Z";
    assert!(problem(graph(
        json!({"createdDateTime": t, "status": {"errorCode": "abc"}})
    ))
    .contains("status.errorCode"));
    assert!(problem(graph(
        json!({"createdDateTime": t, "status": {"errorCode": {"a": 1}}})
    ))
    .contains("status.errorCode"));
    assert!(problem(graph(
        json!({"createdDateTime": t, "status": {"errorCode": true}})
    ))
    .contains("status.errorCode"));
    assert!(problem(graph(
        json!({"createdDateTime": t, "status": {"errorCode": 1.5}})
    ))
    .contains("status.errorCode"));
    assert!(problem(graph(json!({"createdDateTime": t, "status": 7}))).contains("status"));
    assert!(problem(graph(json!({"id": "x"}))).contains("createdDateTime"));
    assert!(problem(graph(json!({"createdDateTime": "soon"}))).contains("createdDateTime"));
    assert!(problem(graph(json!({"createdDateTime": {"a": 1}}))).contains("createdDateTime"));
    assert!(problem(la(json!({"TimeGenerated": t, "ResultType": [1]}))).contains("ResultType"));
    assert!(problem(diag(json!({"time": t, "resultType": {}}))).contains("resultType"));
    assert!(problem(diag(json!({"time": t, "properties": 3}))).contains("properties"));
    assert!(problem(diag(json!({"category": "SignInLogs"}))).contains("time"));
    assert!(
        problem(la(json!({"CreatedDateTime": "", "TimeGenerated": "x"}))).contains("TimeGenerated")
    );
}

#[test]
fn la_row_with_python_repr_columns() {
    let ev = la(json!({
        "TenantId": "workspace", "TimeGenerated": "2021-06-29T17:46:45.376304000",
        "CreatedDateTime": "2021-06-29 17:27:03.882944", "Id": "2a29",
        "ResultType": 90072, "ResultDescription": "Other", "Location": "us",
        "LocationDetails": "{'countryOrRegion': 'US', 'geoCoordinates': {'longitude': -84.38, 'latitude': 33.79}, 'state': 'Georgia', 'city': 'Atlanta'}",
        "Status": "{'errorCode': 90072, 'failureReason': 'Other'}",
        "IPAddress": "136.55.145.135", "UserPrincipalName": "meganb@seccxp.ninja",
        "ResourceId": "/tenants/x/providers/Microsoft.aadiam", "ResourceIdentity": "797f",
        "AADTenantId": "aad", "Category": "SignInLogs", "Type": "SigninLogs",
        "IsInteractive": true, "RiskEventTypes_V2": "[]", "RiskEventTypes": "['a', 'b']"
    }))
    .unwrap();
    assert_eq!(ev.shape, WireShape::LogAnalytics);
    assert_eq!(ev.id, "2a29");
    assert_eq!(ev.time.to_rfc3339(), "2021-06-29T17:27:03.882944+00:00");
    assert!(!ev.outcome.success);
    assert_eq!(ev.outcome.error_code.as_deref(), Some("90072"));
    assert_eq!(ev.outcome.reason.as_deref(), Some("Other"));
    assert_eq!(ev.geo.city.as_deref(), Some("Atlanta"));
    assert_eq!(ev.geo.country.as_deref(), Some("US"));
    assert_eq!(ev.geo.latitude, Some(33.79));
    assert_eq!(ev.target.resource_id.as_deref(), Some("797f"));
    assert_eq!(ev.tenants.resource.as_deref(), Some("aad"));
    assert_eq!(ev.signin.category.as_deref(), Some("SignInLogs"));
    assert_eq!(ev.risk.event_types, vec!["a".to_string(), "b".to_string()]);
}

#[test]
fn la_row_fallbacks() {
    // No CreatedDateTime (service principal tables), Status as fallback, bad cells left out.
    let ev = la(json!({
        "TimeGenerated": "2024-05-01T10:00:00Z", "Status": "{\"errorCode\": 7000215}",
        "LocationDetails": "{'city': Timestamp('x')}", "Location": "ie",
        "Type": "AADServicePrincipalSignInLogs", "ServicePrincipalName": "sp", "AppId": "a"
    }))
    .unwrap();
    assert_eq!(ev.time.to_rfc3339(), "2024-05-01T10:00:00+00:00");
    assert_eq!(ev.outcome.error_code.as_deref(), Some("7000215"));
    assert_eq!(ev.geo.city, None);
    assert_eq!(ev.geo.country.as_deref(), Some("IE"));
    assert_eq!(
        ev.signin.category.as_deref(),
        Some("ServicePrincipalSignInLogs")
    );
    assert_eq!(ev.actor.app_name.as_deref(), Some("sp"));
    // An unreadable Status in an LA row is left out, not a rejection.
    let ev = la(json!({"TimeGenerated": "2024-05-01T10:00:00Z", "Status": "{oops"})).unwrap();
    assert_eq!(ev.outcome.error_code, None);
}

#[test]
fn diagnostic_records() {
    // Status wins over resultType; properties.ipAddress over callerIpAddress.
    let ev = diag(json!({
        "time": "2025-01-15 08:15:23.456", "category": "SignInLogs", "resultType": "Failure",
        "callerIpAddress": "9.9.9.9", "correlationId": "c-env", "location": "us", "tenantId": "t-env",
        "properties": {"userPrincipalName": "A@B.com", "ipAddress": "4.4.4.4",
                       "status": {"errorCode": 50053, "failureReason": "locked"}}
    }))
    .unwrap();
    assert_eq!(ev.shape, WireShape::Diagnostic);
    assert_eq!(ev.outcome.error_code.as_deref(), Some("50053"));
    assert_eq!(ev.outcome.reason.as_deref(), Some("locked"));
    assert_eq!(ev.src_ip, Some("4.4.4.4".parse().unwrap()));
    assert_eq!(ev.tokens.correlation_id.as_deref(), Some("c-env"));
    assert_eq!(ev.geo.country.as_deref(), Some("US"));
    assert_eq!(ev.tenants.resource.as_deref(), Some("t-env"));
    assert_eq!(ev.time.to_rfc3339(), "2025-01-15T08:15:23.456+00:00");
    // Words and numbers in resultType; lower-case envelope keys; no properties at all.
    for (rt, ok, code) in [
        (json!("Success"), true, "0"),
        (json!("0"), true, "0"),
        (json!(0), true, "0"),
        (json!("Failure"), false, "Failure"),
        (json!(7000215), false, "7000215"),
    ] {
        let ev = diag(json!({"time": "2025-01-15T08:15:23Z", "resulttype": rt,
                             "calleripaddress": "1.2.3.4", "id": "env-id"}))
        .unwrap();
        assert_eq!(ev.outcome.success, ok, "{rt}");
        assert_eq!(ev.outcome.error_code.as_deref(), Some(code), "{rt}");
        assert_eq!(ev.src_ip, Some("1.2.3.4".parse().unwrap()));
        assert_eq!(ev.id, "env-id");
    }
    // properties as JSON text.
    let ev = diag(json!({"time": "2025-01-15T08:15:23Z",
        "properties": "{\"id\": \"p\", \"createdDateTime\": \"2025-01-15T08:00:00Z\"}"}))
    .unwrap();
    assert_eq!(ev.id, "p");
    assert_eq!(ev.time.to_rfc3339(), "2025-01-15T08:00:00+00:00");
}

#[test]
fn category_normalisation() {
    assert_eq!(normalise_category("interactiveUser".into()), "SignInLogs");
    assert_eq!(normalise_category("SigninLogs".into()), "SignInLogs");
    assert_eq!(
        normalise_category("AADManagedIdentitySignInLogs".into()),
        "ManagedIdentitySignInLogs"
    );
    assert_eq!(normalise_category("other".into()), "other");
}

#[test]
fn short_is_char_safe() {
    let s = short(&json!("é".repeat(100)));
    assert!(s.ends_with("...") && s.len() <= 60);
}
