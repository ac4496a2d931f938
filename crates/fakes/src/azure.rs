//! A fake of the three Microsoft endpoints skein's Azure collectors call, on one wiremock
//! server behind an HTTPS front with a test CA:
//!
//! - `POST /{tenant}/oauth2/v2.0/token`: the Entra ID token endpoint (client credentials);
//!   the request bodies are recorded so a test can check what was sent.
//! - `GET /beta/auditLogs/signIns`: Graph sign-ins, honouring the `createdDateTime ge/lt`
//!   filter and `$top`, newest first as Graph returns them, paged with `@odata.nextLink`
//!   (`$skiptoken` = offset).
//! - `POST /v1/workspaces/{id}/query`: the Log Analytics query API, honouring the KQL's
//!   `datetime(..)` bounds, and answering a result over the row limit the way the service
//!   does: HTTP 200 with the rows cut and a `PartialError`.
//!
//! Faults queued with [`FakeAzure::push_fault`] apply to the next API requests (not token
//! requests), one each: a 429 with `Retry-After`, a 500, or a response slower than the
//! client's timeout. Records can be added at any time (late data).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::tls::TestCa;

/// The access token the fake token endpoint hands out and the APIs require.
pub const ACCESS_TOKEN: &str = "fake-access-token-7f3a";

/// A fault for the next API request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: secs`.
    TooManyRequests { retry_after_secs: u64 },
    /// HTTP 500.
    ServerError,
    /// The right answer, but only after this long.
    Slow(Duration),
}

#[derive(Default)]
struct State {
    base: String,
    signins: Vec<Value>,
    tables: BTreeMap<String, Vec<Map<String, Value>>>,
    la_row_limit: Option<usize>,
    faults: VecDeque<Fault>,
    token_requests: Vec<String>,
    api_requests: Vec<String>,
    api_times: Vec<std::time::Instant>,
    token_failure: Option<u16>,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running fake.
pub struct FakeAzure {
    state: Shared,
    _server: MockServer,
    /// `https://127.0.0.1:PORT`: the authority host, Graph endpoint and Log Analytics
    /// endpoint all at once.
    pub base_url: String,
    /// The test CA's certificate (PEM) to trust.
    pub ca_pem: String,
}

impl FakeAzure {
    /// Starts the fake on the current tokio runtime.
    pub async fn start() -> FakeAzure {
        let state: Shared = Arc::default();
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/[^/]+/oauth2/v2\.0/token$"))
            .respond_with(TokenResponder(state.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/beta/auditLogs/signIns"))
            .respond_with(GraphResponder(state.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/v1/workspaces/[^/]+/query$"))
            .respond_with(QueryResponder(state.clone()))
            .mount(&server)
            .await;
        let ca = TestCa::new();
        let front = ca.https_front(*server.address()).await;
        let base_url = format!("https://127.0.0.1:{}", front.port());
        lock(&state).base = base_url.clone();
        FakeAzure {
            state,
            _server: server,
            base_url,
            ca_pem: ca.ca_pem.clone(),
        }
    }

    /// Adds Graph sign-ins (see [`signin`]).
    pub fn add_signins(&self, signins: impl IntoIterator<Item = Value>) {
        lock(&self.state).signins.extend(signins);
    }

    /// Adds Log Analytics rows to a table (each row an object; `TimeGenerated` required).
    pub fn add_rows(&self, table: &str, rows: impl IntoIterator<Item = Map<String, Value>>) {
        lock(&self.state)
            .tables
            .entry(table.to_string())
            .or_default()
            .extend(rows);
    }

    /// Queues a fault for the next API request.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// Query results with more rows than this are cut, with a `PartialError`.
    pub fn set_la_row_limit(&self, rows: usize) {
        lock(&self.state).la_row_limit = Some(rows);
    }

    /// Makes the token endpoint fail with this status (`None`: succeed).
    pub fn fail_tokens(&self, status: Option<u16>) {
        lock(&self.state).token_failure = status;
    }

    /// The form bodies the token endpoint received.
    pub fn token_requests(&self) -> Vec<String> {
        lock(&self.state).token_requests.clone()
    }

    /// When each API request arrived, in order.
    pub fn api_request_times(&self) -> Vec<std::time::Instant> {
        lock(&self.state).api_times.clone()
    }

    /// `METHOD path?query` of every API request, in order (with the bodies of queries).
    pub fn api_requests(&self) -> Vec<String> {
        lock(&self.state).api_requests.clone()
    }
}

/// A Graph `signIn` (beta shape) with the fields skein reads.
pub fn signin(id: &str, time: DateTime<Utc>, upn: &str, ip: &str, error_code: i64) -> Value {
    json!({
        "id": id,
        "createdDateTime": time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "userDisplayName": upn.split('@').next().unwrap_or(upn),
        "userPrincipalName": upn,
        "userId": format!("00000000-0000-4000-8000-{:012x}", upn.len() * 7919),
        "appId": "00000002-0000-0ff1-ce00-000000000000",
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": ip,
        "clientAppUsed": "Browser",
        "userAgent": "Mozilla/5.0",
        "isInteractive": true,
        "signInEventTypes": ["interactiveUser"],
        "status": {"errorCode": error_code, "failureReason": if error_code == 0 { "" } else { "Invalid username or password." }},
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "location": {"city": "Amsterdam", "countryOrRegion": "NL",
                     "geoCoordinates": {"latitude": 52.37, "longitude": 4.89}}
    })
}

/// A `SigninLogs` row as the query API returns it.
pub fn signin_row(
    id: &str,
    time: DateTime<Utc>,
    upn: &str,
    ip: &str,
    result: &str,
) -> Map<String, Value> {
    let t = time.to_rfc3339_opts(SecondsFormat::Secs, true);
    let v = json!({
        "TimeGenerated": t, "CreatedDateTime": t, "Id": id, "Type": "SigninLogs",
        "UserPrincipalName": upn, "UserId": format!("00000000-0000-4000-9000-{:012x}", upn.len()),
        "AppDisplayName": "Azure Portal", "AppId": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "IPAddress": ip, "ResultType": result, "ClientAppUsed": "Browser",
        "UserAgent": "Mozilla/5.0", "RiskLevelDuringSignIn": "none",
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Takes the next queued fault: the response to send instead of the answer, or a delay to
/// put on the answer.
fn take_fault(state: &Shared) -> Result<Option<Duration>, Box<ResponseTemplate>> {
    let Some(fault) = lock(state).faults.pop_front() else {
        return Ok(None);
    };
    match fault {
        Fault::TooManyRequests { retry_after_secs } => Err(Box::new(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", retry_after_secs.to_string().as_str())
                .set_body_json(
                    json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}}),
                ),
        )),
        Fault::ServerError => Err(Box::new(ResponseTemplate::new(500).set_body_json(
            json!({"error": {"code": "InternalServerError", "message": "boom"}}),
        ))),
        Fault::Slow(d) => Ok(Some(d)),
    }
}

fn authorized(req: &Request) -> bool {
    req.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {ACCESS_TOKEN}"))
}

fn unauthorized() -> ResponseTemplate {
    ResponseTemplate::new(401)
        .set_body_json(json!({"error": {"code": "InvalidAuthenticationToken"}}))
}

struct TokenResponder(Shared);

impl Respond for TokenResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = lock(&self.0);
        st.token_requests
            .push(String::from_utf8_lossy(&req.body).into_owned());
        if let Some(status) = st.token_failure {
            // Echoes what it was sent, as a careless proxy might: the client must not pass
            // that on.
            return ResponseTemplate::new(status).set_body_json(json!({
                "error": "invalid_client",
                "error_description": format!(
                    "AADSTS7000215: Invalid client secret provided. Request: {}",
                    String::from_utf8_lossy(&req.body)
                )
            }));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": ACCESS_TOKEN
        }))
    }
}

/// `time ge X` / `time lt Y` out of a filter.
fn bound(filter: &str, op: &str) -> Option<DateTime<Utc>> {
    let rest = &filter[filter.find(op)? + op.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

fn time_of(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v.get(field)?.as_str()?.parse().ok()
}

struct GraphResponder(Shared);

impl Respond for GraphResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        {
            let mut st = lock(&self.0);
            st.api_times.push(std::time::Instant::now());
            st.api_requests.push(format!(
                "GET {}?{}",
                req.url.path(),
                req.url.query().unwrap_or("")
            ));
        }
        if !authorized(req) {
            return unauthorized();
        }
        let slow = match take_fault(&self.0) {
            Ok(slow) => slow,
            Err(response) => return *response,
        };
        let params: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let filter = params.get("$filter").cloned().unwrap_or_default();
        let from = bound(&filter, "createdDateTime ge ");
        let to = bound(&filter, "createdDateTime lt ");
        let top: usize = params
            .get("$top")
            .and_then(|t| t.parse().ok())
            .unwrap_or(100);
        let skip: usize = params
            .get("$skiptoken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let st = lock(&self.0);
        let mut rows: Vec<&Value> = st
            .signins
            .iter()
            .filter(|v| {
                let t = time_of(v, "createdDateTime");
                from.is_none_or(|f| t.is_some_and(|t| t >= f))
                    && to.is_none_or(|e| t.is_some_and(|t| t < e))
            })
            .collect();
        rows.sort_by(|a, b| {
            let key = |v: &Value| (time_of(v, "createdDateTime"), v["id"].to_string());
            key(b).cmp(&key(a))
        });
        let page: Vec<Value> = rows
            .iter()
            .skip(skip)
            .take(top)
            .map(|v| (*v).clone())
            .collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns",
            "value": page,
        });
        if skip + top < rows.len() {
            let mut next =
                url::Url::parse(&format!("{}/beta/auditLogs/signIns", st.base)).expect("base URL");
            next.query_pairs_mut()
                .append_pair("$filter", &filter)
                .append_pair("$top", &top.to_string())
                .append_pair("$skiptoken", &(skip + top).to_string());
            body["@odata.nextLink"] = Value::String(next.to_string());
        }
        let t = ResponseTemplate::new(200).set_body_json(body);
        match slow {
            Some(d) => t.set_delay(d),
            None => t,
        }
    }
}

struct QueryResponder(Shared);

/// The `datetime(...)` values of a KQL text, in order.
fn kql_times(query: &str) -> Vec<DateTime<Utc>> {
    query
        .split("datetime(")
        .skip(1)
        .filter_map(|s| s.split(')').next()?.parse().ok())
        .collect()
}

impl Respond for QueryResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let query = body["query"].as_str().unwrap_or("").to_string();
        {
            let mut st = lock(&self.0);
            st.api_times.push(std::time::Instant::now());
            st.api_requests
                .push(format!("POST {} {query}", req.url.path()));
        }
        if !authorized(req) {
            return unauthorized();
        }
        let slow = match take_fault(&self.0) {
            Ok(slow) => slow,
            Err(response) => return *response,
        };
        let table = query.split_whitespace().next().unwrap_or("").to_string();
        let times = kql_times(&query);
        let (from, to) = (times.first().copied(), times.get(1).copied());
        let st = lock(&self.0);
        let mut rows: Vec<&Map<String, Value>> = st
            .tables
            .get(&table)
            .map(|r| {
                r.iter()
                    .filter(|row| {
                        let t = row
                            .get("TimeGenerated")
                            .and_then(Value::as_str)
                            .and_then(|s| s.parse::<DateTime<Utc>>().ok());
                        from.is_none_or(|f| t.is_some_and(|t| t >= f))
                            && to.is_none_or(|e| t.is_some_and(|t| t < e))
                    })
                    .collect()
            })
            .unwrap_or_default();
        rows.sort_by_key(|r| {
            r.get("TimeGenerated")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        let mut columns: Vec<String> = Vec::new();
        for r in &rows {
            for k in r.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        let cut = st.la_row_limit.is_some_and(|limit| rows.len() > limit);
        if let Some(limit) = st.la_row_limit {
            rows.truncate(limit);
        }
        let cells: Vec<Value> = rows
            .iter()
            .map(|r| {
                Value::Array(
                    columns
                        .iter()
                        .map(|c| r.get(c).cloned().unwrap_or(Value::Null))
                        .collect(),
                )
            })
            .collect();
        let mut answer = json!({"tables": [{
            "name": "PrimaryResult",
            "columns": columns.iter().map(|c| json!({"name": c, "type": "string"})).collect::<Vec<_>>(),
            "rows": cells,
        }]});
        if cut {
            answer["error"] = json!({
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server.",
                             "innererror": {"code": "-2133196797", "message": "Query result set has exceeded the internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE)."}}]
            });
        }
        let t = ResponseTemplate::new(200).set_body_json(answer);
        match slow {
            Some(d) => t.set_delay(d),
            None => t,
        }
    }
}
