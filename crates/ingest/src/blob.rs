//! Azure Storage blob resource logs into canonical [`Event`]s (source
//! [`Source::StorageBlob`]): diagnostic records of categories `StorageRead`, `StorageWrite`
//! and `StorageDelete` ([`from_diagnostic`]) and Log Analytics `StorageBlobLogs` rows
//! ([`from_la_row`]).
//!
//! This module owns the field mapping of SPEC §3 for blob logs. It must not decide which
//! shape a record is (that is `detect`), do IO, or drop information (`raw` is kept unchanged).
//! It never panics on any JSON input.
//!
//! # Decisions
//! - **Id**: `{correlationId}|{operationName}|{time}` with the time as RFC 3339 UTC with
//!   microseconds, so the diagnostic and Log Analytics copies of one request agree; a record
//!   without a correlation id gets a digest of `raw`. Time is `time` / `TimeGenerated`
//!   (required).
//! - **Outcome**: an HTTP `statusCode` below 400 is success. When there is no status code
//!   (some hand-built samples), `statusText` or `properties.metricResponseType` ending in
//!   `Success` (`Success`, `SASSuccess`, `AnonymousSuccess`) is success. On failure the error
//!   code is `statusText` (else the metric response type, else the status code); the reason is
//!   `statusText`. A status code that is neither a number nor text (`Unknown` is text: a
//!   failure) rejects the record. No status at all is a failure with no error code.
//! - **Diagnostic fields** are read at the top level first, then under `properties` (the
//!   documented layout puts `accountName`, `objectKey`, `userAgentHeader` under `properties`;
//!   re-shippers move them). Who called comes from `identity{type, tokenHash,
//!   requester{objectId, upn, appId, tenantId}}`; in Log Analytics from `AuthenticationType`,
//!   `AuthenticationHash` and `Requester*`.
//! - **Storage account**: `accountName`, else the name after `storageAccounts/` in
//!   `resourceId` / `_ResourceId`, else the first label of a `*.blob.core.windows.net`-style
//!   `uri` host. Object: `objectKey`, else `uri`. Surrounding double quotes (which the classic
//!   storage log format put around object keys and user agents) are removed.

use std::borrow::Cow;

use chrono::SecondsFormat;
use serde_json::{Map, Value};
use skein_model::{Event, Source, WireShape};

use crate::entra::{object_of, short};
use crate::fields::{self, Caller};
use crate::{invalid, RecordError};

const DIAG: &str = "storage diagnostic record";
const LA: &str = "StorageBlobLogs row";

/// The diagnostic categories of blob logs: `StorageRead`, `StorageWrite`, `StorageDelete`
/// (ignoring case).
pub fn is_storage_category(category: &str) -> bool {
    let c = category.trim();
    ["StorageRead", "StorageWrite", "StorageDelete"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(c))
}

/// A Log Analytics `StorageBlobLogs` row.
pub fn from_la_row(obj: &Map<String, Value>, raw: &str) -> Result<Event, RecordError> {
    build(
        &Rec {
            top: obj,
            props: None,
            identity: None,
            la: true,
        },
        raw,
    )
}

/// A diagnostic record of category `StorageRead`, `StorageWrite` or `StorageDelete`.
pub fn from_diagnostic(obj: &Map<String, Value>, raw: &str) -> Result<Event, RecordError> {
    let nested = |key: &str| -> Result<Option<Cow<'_, Map<String, Value>>>, RecordError> {
        match fields::get_ci(obj, key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => object_of(v)
                .map(Some)
                .ok_or_else(|| invalid(DIAG, format!("{key} is not an object: {}", short(v)))),
        }
    };
    build(
        &Rec {
            top: obj,
            props: nested("properties")?,
            identity: nested("identity")?,
            la: false,
        },
        raw,
    )
}

/// One record: its top level, and for diagnostic records `properties` and `identity`.
struct Rec<'a> {
    top: &'a Map<String, Value>,
    props: Option<Cow<'a, Map<String, Value>>>,
    identity: Option<Cow<'a, Map<String, Value>>>,
    la: bool,
}

impl Rec<'_> {
    /// `camel` at the top level then under `properties` (diagnostic), or the `pascal` column.
    fn get(&self, camel: &str, pascal: &str) -> Option<&Value> {
        let present = |v: &&Value| !v.is_null();
        if self.la {
            return fields::get_ci(self.top, pascal).filter(present);
        }
        fields::get_ci(self.top, camel).filter(present).or_else(|| {
            self.props
                .as_deref()
                .and_then(|p| fields::get_ci(p, camel))
                .filter(present)
        })
    }

    fn text(&self, camel: &str, pascal: &str) -> Option<String> {
        self.get(camel, pascal).and_then(fields::scalar_text)
    }

    /// `identity.<path>` (diagnostic) or the `pascal` column.
    fn identity(&self, path: &[&str], pascal: &str) -> Option<String> {
        if self.la {
            return fields::text(self.top, &[pascal]);
        }
        self.identity
            .as_deref()
            .and_then(|i| fields::get_path(i, path))
            .and_then(fields::scalar_text)
    }
}

fn build(r: &Rec<'_>, raw: &str) -> Result<Event, RecordError> {
    let (shape, wire) = if r.la {
        (LA, WireShape::LogAnalytics)
    } else {
        (DIAG, WireShape::Diagnostic)
    };
    let time_field = if r.la { "TimeGenerated" } else { "time" };
    let time = match r.get("time", "TimeGenerated") {
        Some(v) => fields::parse_time(v)
            .ok_or_else(|| invalid(shape, format!("{time_field} is not a time: {}", short(v))))?,
        None => return Err(invalid(shape, format!("no {time_field}"))),
    };
    let operation = r.text("operationName", "OperationName");
    let correlation = r.text("correlationId", "CorrelationId");
    let id = match &correlation {
        Some(c) => format!(
            "{c}|{}|{}",
            operation.as_deref().unwrap_or(""),
            time.to_rfc3339_opts(SecondsFormat::Micros, true)
        ),
        None => fields::digest_id("sha:", raw),
    };
    let mut ev = Event::new(id, Source::StorageBlob, wire, time);

    // Outcome.
    let status_text = r.text("statusText", "StatusText");
    let http = match r
        .get("statusCode", "StatusCode")
        .map_or(Http::Absent, http_status)
    {
        Http::WrongType(v) => {
            let field = if r.la { "StatusCode" } else { "statusCode" };
            return Err(invalid(
                shape,
                format!("{field} is not a status code: {}", short(v)),
            ));
        }
        h => h,
    };
    let metric = r.text("metricResponseType", "MetricResponseType");
    let says_success = |w: &Option<String>| {
        w.as_deref().is_some_and(|w| {
            let b = w.as_bytes();
            b.len() >= 7 && b[b.len() - 7..].eq_ignore_ascii_case(b"success")
        })
    };
    ev.outcome.success = match &http {
        Http::Code(n) => (1..400).contains(n),
        Http::Text(_) | Http::WrongType(_) => false,
        Http::Absent => {
            says_success(&status_text) || (status_text.is_none() && says_success(&metric))
        }
    };
    if !ev.outcome.success {
        ev.outcome.error_code = status_text.clone().or(metric).or(match http {
            Http::Code(n) => Some(n.to_string()),
            Http::Text(w) => Some(w),
            Http::Absent | Http::WrongType(_) => None,
        });
    }
    ev.outcome.reason = status_text;

    // Actor and tokens.
    let a = &mut ev.actor;
    a.auth_type = r.identity(&["type"], "AuthenticationType");
    a.user_id = r
        .identity(&["requester", "objectId"], "RequesterObjectId")
        .map(|s| s.to_ascii_lowercase());
    a.upn = r
        .identity(&["requester", "upn"], "RequesterUpn")
        .map(|s| s.to_lowercase());
    a.app_id = r.identity(&["requester", "appId"], "RequesterAppId");
    ev.tenants.home = r.identity(&["requester", "tenantId"], "RequesterTenantId");
    ev.tokens.token_hash = r.identity(&["tokenHash"], "AuthenticationHash");
    ev.tokens.correlation_id = correlation;

    // Caller.
    match r
        .text("callerIpAddress", "CallerIpAddress")
        .as_deref()
        .and_then(fields::parse_caller)
    {
        Some(Caller::Ip(ip)) => ev.src_ip = Some(ip),
        Some(Caller::Host(h)) => ev.src_host = Some(h),
        None => {}
    }
    ev.user_agent = r.text("userAgentHeader", "UserAgentHeader").map(unquote);

    // Target.
    let uri = r.text("uri", "Uri");
    let t = &mut ev.target;
    t.storage_account = r
        .text("accountName", "AccountName")
        .or_else(|| {
            r.text("resourceId", "_ResourceId")
                .as_deref()
                .and_then(account_from_resource_id)
        })
        .or_else(|| uri.as_deref().and_then(account_from_uri));
    t.object = r.text("objectKey", "ObjectKey").map(unquote).or(uri);
    t.action = operation;
    t.region = r.text("location", "Location");

    ev.raw = raw.to_string();
    Ok(ev)
}

/// What a `statusCode` field held.
enum Http<'a> {
    /// Absent, `null` or an empty string.
    Absent,
    /// An HTTP status code.
    Code(i64),
    /// Text that is not a number, such as `Unknown` (an interrupted request).
    Text(String),
    /// A value that cannot be a status code (boolean, array, object, fraction).
    WrongType(&'a Value),
}

fn http_status(v: &Value) -> Http<'_> {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Http::Code(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1.0e9 => Http::Code(f as i64),
            _ => Http::WrongType(v),
        },
        Value::String(s) => match s.trim() {
            "" => Http::Absent,
            t => t
                .parse::<i64>()
                .map_or_else(|_| Http::Text(t.to_string()), Http::Code),
        },
        Value::Null => Http::Absent,
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Http::WrongType(v),
    }
}

/// Removes one pair of surrounding double quotes.
fn unquote(s: String) -> String {
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.to_string(),
        None => s,
    }
}

/// `.../storageAccounts/NAME/...` → `NAME`.
fn account_from_resource_id(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    parts.find(|p| p.eq_ignore_ascii_case("storageAccounts"))?;
    parts
        .next()
        .filter(|n| !n.is_empty())
        .map(|n| n.to_ascii_lowercase())
}

/// `https://NAME.blob.core.windows.net/...` → `NAME` (also `dfs`, `file`, `queue`, `table`,
/// `web` endpoints).
fn account_from_uri(uri: &str) -> Option<String> {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?;
    let mut labels = host.split('.');
    let name = labels.next()?;
    let service = labels.next()?;
    let known = ["blob", "dfs", "file", "queue", "table", "web"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(service));
    (known && !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test objects are objects"),
        }
    }

    #[test]
    fn categories() {
        assert!(is_storage_category("StorageRead"));
        assert!(is_storage_category("storagewrite"));
        assert!(is_storage_category(" StorageDelete "));
        assert!(!is_storage_category("SignInLogs"));
    }

    #[test]
    fn diagnostic_oauth_record() {
        let v = json!({
            "time": "2019-02-28T19:10:21.2123117Z",
            "resourceId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/testaccount1/blobServices/default",
            "category": "StorageRead", "operationName": "GetBlob", "statusCode": 403,
            "statusText": "AuthorizationPermissionMismatch", "callerIpAddress": "[2001:db8::1]:443",
            "correlationId": "ad881411-201e-004e-1c99-cfd67d000000", "location": "uswestcentral",
            "uri": "https://testaccount1.blob.core.windows.net/cont1/blob?timeout=10",
            "identity": {"type": "OAuth", "tokenHash": "h1",
                "requester": {"appId": "app", "objectId": "FDE5BA15-AA", "tenantId": "t1", "upn": "Alice@Contoso.com"}},
            "properties": {"userAgentHeader": "\"curl/8\"", "objectKey": "/testaccount1/cont1/blob"}
        });
        let raw = v.to_string();
        let ev = from_diagnostic(&obj(v), &raw).unwrap();
        assert_eq!(
            ev.id,
            "ad881411-201e-004e-1c99-cfd67d000000|GetBlob|2019-02-28T19:10:21.212311Z"
        );
        assert_eq!(ev.shape, WireShape::Diagnostic);
        assert!(!ev.outcome.success);
        assert_eq!(
            ev.outcome.error_code.as_deref(),
            Some("AuthorizationPermissionMismatch")
        );
        assert_eq!(ev.actor.auth_type.as_deref(), Some("OAuth"));
        assert_eq!(ev.actor.user_id.as_deref(), Some("fde5ba15-aa"));
        assert_eq!(ev.actor.upn.as_deref(), Some("alice@contoso.com"));
        assert_eq!(ev.actor.app_id.as_deref(), Some("app"));
        assert_eq!(ev.tenants.home.as_deref(), Some("t1"));
        assert_eq!(ev.tokens.token_hash.as_deref(), Some("h1"));
        assert_eq!(ev.src_ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(ev.user_agent.as_deref(), Some("curl/8"));
        assert_eq!(ev.target.storage_account.as_deref(), Some("testaccount1"));
        assert_eq!(
            ev.target.object.as_deref(),
            Some("/testaccount1/cont1/blob")
        );
        assert_eq!(ev.target.action.as_deref(), Some("GetBlob"));
        assert_eq!(ev.target.region.as_deref(), Some("uswestcentral"));
        assert_eq!(ev.raw, raw);
    }

    #[test]
    fn la_row_matches_diagnostic_id() {
        let diag = json!({"time": "2024-01-02T03:04:05.1234567Z", "operationName": "PutBlob",
            "correlationId": "c1", "statusCode": 201, "category": "StorageWrite"});
        let la = json!({"TimeGenerated": "2024-01-02T03:04:05.123456Z", "OperationName": "PutBlob",
            "CorrelationId": "c1", "StatusCode": "201", "AuthenticationType": "SAS",
            "_ResourceId": "/subscriptions/s/resourcegroups/g/providers/microsoft.storage/storageaccounts/acct/blobservices/default",
            "CallerIpAddress": "203.0.113.5:5555", "RequesterUpn": "Bob@X.com"});
        let d = from_diagnostic(&obj(diag.clone()), &diag.to_string()).unwrap();
        let l = from_la_row(&obj(la.clone()), &la.to_string()).unwrap();
        assert_eq!(d.id, l.id);
        assert_eq!(d.id, "c1|PutBlob|2024-01-02T03:04:05.123456Z");
        assert!(d.outcome.success && l.outcome.success);
        assert_eq!(l.outcome.error_code, None);
        assert_eq!(l.shape, WireShape::LogAnalytics);
        assert_eq!(l.actor.auth_type.as_deref(), Some("SAS"));
        assert_eq!(l.actor.upn.as_deref(), Some("bob@x.com"));
        assert_eq!(l.target.storage_account.as_deref(), Some("acct"));
        assert_eq!(l.src_ip, Some("203.0.113.5".parse().unwrap()));
    }

    #[test]
    fn outcome_without_status_code_and_odd_codes() {
        let ok = json!({"time": "2025-01-28T18:00:00Z", "properties": {"metricResponseType": "Success"}});
        let ev = from_diagnostic(&obj(ok), "{}").unwrap();
        assert!(ev.outcome.success);
        assert!(ev.id.starts_with("sha:"));
        let unknown = json!({"time": "2025-01-28T18:00:00Z", "statusCode": "Unknown"});
        let ev = from_diagnostic(&obj(unknown), "{}").unwrap();
        assert!(!ev.outcome.success);
        assert_eq!(ev.outcome.error_code.as_deref(), Some("Unknown"));
        let bad = json!({"time": "2025-01-28T18:00:00Z", "statusCode": {"x": 1}});
        assert!(matches!(
            from_diagnostic(&obj(bad), "{}"),
            Err(RecordError::Invalid { .. })
        ));
        let none = json!({"time": "2025-01-28T18:00:00Z"});
        let ev = from_diagnostic(&obj(none), "{}").unwrap();
        assert!(!ev.outcome.success);
        assert_eq!(ev.outcome.error_code, None);
    }

    #[test]
    fn required_and_wrong_types() {
        for v in [
            json!({"operationName": "GetBlob"}),
            json!({"time": "yesterday"}),
            json!({"time": "2025-01-28T18:00:00Z", "properties": 5}),
            json!({"time": "2025-01-28T18:00:00Z", "identity": [1]}),
        ] {
            assert!(
                matches!(from_diagnostic(&obj(v.clone()), "{}"), Err(RecordError::Invalid { shape, .. }) if shape == DIAG),
                "{v}"
            );
        }
        assert!(from_la_row(&obj(json!({"time": "2025-01-28T18:00:00Z"})), "{}").is_err());
    }

    #[test]
    fn accounts_from_ids_and_uris() {
        assert_eq!(
            account_from_resource_id("/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/Acc1/blobServices/default").as_deref(),
            Some("acc1")
        );
        assert_eq!(account_from_resource_id("/tenants/x"), None);
        assert_eq!(
            account_from_uri("https://proddata.blob.core.windows.net/f/r.xlsx?sv=1").as_deref(),
            Some("proddata")
        );
        assert_eq!(
            account_from_uri("https://testaccount1.blob.core.windows.net:443/upload").as_deref(),
            Some("testaccount1")
        );
        assert_eq!(
            account_from_uri("http://127.0.0.1:10000/devstoreaccount1/c"),
            None
        );
        assert_eq!(account_from_uri(""), None);
    }
}
