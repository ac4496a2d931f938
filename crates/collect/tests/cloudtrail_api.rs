//! CloudTrail `LookupEvents` against a wiremock fake of the JSON 1.1 API on 127.0.0.1, through
//! the real AWS SDK (signing, retries, timeouts), the driver and a real store: paging by
//! `NextToken`, a `ThrottlingException`, a 500, a response slower than the timeout, late
//! events within the overlap, a stale `NextToken`, a stop while a call is in flight, the
//! `ca_file` trust store over TLS, and the same ids as an exported lookup-events file.
//!
//! The records are real Stratus Red Team detonation logs from `../shared/data`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use skein_collect::config::Config;
use skein_collect::{cloudtrail, collect_all, CollectError, CollectOptions, StreamReport, Window};
use skein_ingest::{Framer, Item};
use skein_model::Source;
use skein_store::{OpenOptions, Store};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TARGET: &str = "CloudTrail_20131101.LookupEvents";

/// Test credentials for the standard AWS chain (see `skein_fakes::aws_test_env`).
fn aws_env() {
    skein_fakes::aws_test_env();
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn stratus(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/stratus-red-team/docs/detonation-logs")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (see shared/data/MANIFEST.md)", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The `LookupEvents` element the API returns for a record: `EventTime` in epoch seconds,
/// the record as the JSON string `CloudTrailEvent`.
fn element(rec: &Value) -> Value {
    let time = rec["eventTime"]
        .as_str()
        .map(|s| t(s).timestamp() as f64)
        .unwrap_or(0.0);
    let ui = &rec["userIdentity"];
    let mut el = json!({
        "EventId": rec["eventID"],
        "EventName": rec["eventName"],
        "ReadOnly": rec["readOnly"].as_bool().unwrap_or(false).to_string(),
        "EventTime": time,
        "EventSource": rec["eventSource"],
        "Resources": [],
        "CloudTrailEvent": rec.to_string(),
    });
    if let Some(k) = ui["accessKeyId"].as_str() {
        el["AccessKeyId"] = json!(k);
    }
    if let Some(u) = ui["userName"].as_str() {
        el["Username"] = json!(u);
    }
    el
}

fn epoch(v: &Value) -> f64 {
    v.as_f64().unwrap_or_default()
}

#[derive(Debug, Clone)]
enum Fault {
    Throttle,
    ServerError,
    Delay(Duration),
}

/// What the fake saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    region: String,
    body: Value,
    status: u16,
}

#[derive(Default)]
struct State {
    /// Elements per region.
    events: HashMap<String, Vec<Value>>,
    page_size: usize,
    /// Faults by 1-based request number.
    faults: HashMap<usize, Fault>,
    /// Tokens of older generations are refused (`InvalidNextTokenException`).
    generation: u32,
    seen: Vec<Seen>,
}

#[derive(Clone)]
struct FakeCloudTrail(Arc<Mutex<State>>);

fn error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        json!({"__type": kind, "message": message}).to_string(),
        "application/x-amz-json-1.1",
    )
}

impl Respond for FakeCloudTrail {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.0.lock().unwrap();
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        // SigV4 with the test key; the region is the credential scope's.
        let auth = header("authorization");
        let region = auth
            .split("Credential=testing/")
            .nth(1)
            .and_then(|scope| scope.split('/').nth(1))
            .unwrap_or_default()
            .to_string();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        st.seen.push(Seen {
            region: region.clone(),
            body: body.clone(),
            status: 0,
        });
        let target = header("x-amz-target");
        let (status, response) = answer(&mut st, &auth, &region, &target, &body);
        if let Some(s) = st.seen.last_mut() {
            s.status = status;
        }
        response
    }
}

/// The fake's answer to request number `st.seen.len()`.
fn answer(
    st: &mut State,
    auth: &str,
    region: &str,
    target: &str,
    body: &Value,
) -> (u16, ResponseTemplate) {
    let n = st.seen.len();
    if !auth.starts_with("AWS4-HMAC-SHA256") || region.is_empty() {
        return (403, error(403, "UnrecognizedClientException", "not signed"));
    }
    if !target.ends_with(TARGET) {
        return (400, error(400, "UnknownOperationException", "target"));
    }
    let fault = st.faults.remove(&n);
    match fault {
        Some(Fault::Throttle) => return (400, error(400, "ThrottlingException", "Rate exceeded")),
        Some(Fault::ServerError) => return (500, error(500, "InternalServerError", "try again")),
        _ => {}
    }
    let (from, to) = (epoch(&body["StartTime"]), epoch(&body["EndTime"]));
    let mut events: Vec<Value> = st
        .events
        .get(region)
        .map(|v| v.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|e| (from..=to).contains(&epoch(&e["EventTime"])))
        .cloned()
        .collect();
    // Newest first, as the service returns them.
    events.sort_by(|a, b| {
        epoch(&b["EventTime"])
            .total_cmp(&epoch(&a["EventTime"]))
            .then_with(|| a["EventId"].as_str().cmp(&b["EventId"].as_str()))
    });
    let offset = match body["NextToken"].as_str() {
        None => 0,
        Some(tok) => {
            let parsed = tok
                .strip_prefix(&format!("g{}-", st.generation))
                .and_then(|o| o.parse::<usize>().ok());
            match parsed {
                Some(o) => o,
                None => {
                    return (
                        400,
                        error(400, "InvalidNextTokenException", "Invalid NextToken"),
                    )
                }
            }
        }
    };
    let size = st
        .page_size
        .min(body["MaxResults"].as_u64().unwrap_or(50) as usize);
    let page: Vec<Value> = events.iter().skip(offset).take(size).cloned().collect();
    let mut out = json!({ "Events": page });
    if offset + size < events.len() {
        out["NextToken"] = json!(format!("g{}-{}", st.generation, offset + size));
    }
    let mut r =
        ResponseTemplate::new(200).set_body_raw(out.to_string(), "application/x-amz-json-1.1");
    if let Some(Fault::Delay(d)) = fault {
        r = r.set_delay(d);
    }
    (200, r)
}

struct Fake {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl Fake {
    async fn start(page_size: usize) -> Fake {
        let state = Arc::new(Mutex::new(State {
            page_size,
            ..State::default()
        }));
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/"))
            .respond_with(FakeCloudTrail(state.clone()))
            .mount(&server)
            .await;
        Fake { server, state }
    }

    fn add(&self, region: &str, records: &[Value]) {
        let mut st = self.state.lock().unwrap();
        let list = st.events.entry(region.to_string()).or_default();
        list.extend(records.iter().map(element));
    }

    fn fault(&self, request: usize, fault: Fault) {
        self.state.lock().unwrap().faults.insert(request, fault);
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// A configuration for `endpoint`: fast backoff, the given timeout and rate limit.
fn config(endpoint: &str, regions: &str, extra: &str, timeout_ms: u64, rate: &str) -> Config {
    let text = format!(
        "[[sources.cloudtrail]]\nname = \"prod\"\nregions = [{regions}]\n\
         endpoint_url = \"{endpoint}\"\nrate_limit = {rate}\n{extra}\n\
         [http]\ntimeout = \"{timeout_ms}ms\"\nretries = 3\nbackoff = \"10ms\"\n\
         max_backoff = \"40ms\"\n"
    );
    Config::parse(&text, Path::new("/tmp/skein-test/skein.toml")).unwrap()
}

const FAST: &str = "{ requests = 1000, per = \"1s\" }";
const EAST: &str = "\"us-east-1\"";

const SECRETS: &str = "aws.credential-access.secretsmanager-retrieve-secrets.json";
const ADMIN: &str = "aws.persistence.iam-create-admin-user.json";
const FEDERATION: &str = "aws.persistence.sts-federation-token.json";
const CONSOLE: &str = "aws.initial-access.console-login-without-mfa.json";
const PROFILE: &str = "aws.persistence.iam-create-user-login-profile.json";

fn options(start: &str, now: &str, stop: &CancellationToken) -> CollectOptions {
    CollectOptions {
        start: t(start),
        overlap: chrono::Duration::minutes(15),
        now: t(now),
        stop: stop.clone(),
    }
}

/// Collects every stream of `c`'s source.
async fn collect(
    c: &Config,
    store: &Store,
    opts: &CollectOptions,
    on_page: &mut (dyn FnMut(&StreamReport) + Send),
) -> Vec<StreamReport> {
    let source = &c.sources.cloudtrail[0];
    let mut streams = cloudtrail::streams(source, &c.http, opts.stop.clone()).await;
    let streams = streams.as_mut().unwrap();
    collect_all(streams, store, opts, on_page).await.unwrap()
}

/// A fake, a configuration for it and a store.
struct Setup {
    fake: Fake,
    c: Config,
    store: Store,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn new(page_size: usize, regions: &str, timeout_ms: u64, rate: &str) -> Setup {
        let fake = Fake::start(page_size).await;
        let c = config(&fake.server.uri(), regions, "", timeout_ms, rate);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
        Setup {
            fake,
            c,
            store,
            _dir: dir,
        }
    }

    /// One run from `start` (when there is no cursor) to `now`.
    async fn run(&self, start: &str, now: &str) -> StreamReport {
        let opts = options(start, now, &CancellationToken::new());
        let mut r = collect(&self.c, &self.store, &opts, &mut |_| {}).await;
        r.remove(0)
    }

    fn count(&self) -> u64 {
        self.store.stats().unwrap().events[&Source::Cloudtrail]
    }

    fn assert_stored(&self, records: &[Value]) {
        for rec in records {
            let id = rec["eventID"].as_str().unwrap();
            let ev = self.store.get_event(Source::Cloudtrail, id).unwrap();
            let ev = ev.unwrap_or_else(|| panic!("{id} is not stored"));
            assert_eq!(ev.raw, rec.to_string(), "{id}");
            assert_eq!(ev.target.action.as_deref(), rec["eventName"].as_str());
        }
    }

    /// The `NextToken` of every request the fake saw (`-`: none).
    fn tokens(&self) -> String {
        let seen = self.fake.seen();
        let tokens: Vec<&str> = seen
            .iter()
            .map(|s| s.body["NextToken"].as_str().unwrap_or("-"))
            .collect();
        tokens.join(" ")
    }
}

fn records(files: &[&str]) -> Vec<Value> {
    files.iter().flat_map(|f| stratus(f)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_throttling_errors_and_timeouts_end_with_every_event_once() {
    aws_env();
    // Four calls per 250 ms: the five pages cannot all go within the first 250 ms.
    let rate = "{ requests = 4, per = \"250ms\" }";
    let s = Setup::new(5, "\"us-east-1\", \"eu-west-1\"", 800, rate).await;
    let east: Vec<Value> = stratus(SECRETS).into_iter().take(12).collect();
    let west = records(&[ADMIN, FEDERATION, CONSOLE, PROFILE]);
    assert_eq!((east.len(), west.len()), (12, 9));
    s.fake.add("us-east-1", &east);
    s.fake.add("eu-west-1", &west);
    // us-east-1: page 1, throttled, page 2, a 500, page 3; eu-west-1: a response slower than
    // the 800 ms timeout, page 1, page 2.
    s.fake.fault(2, Fault::Throttle);
    s.fake.fault(4, Fault::ServerError);
    s.fake.fault(6, Fault::Delay(Duration::from_millis(2500)));
    let stop = CancellationToken::new();
    let opts = options("2024-07-31T00:00:00Z", "2024-12-01T00:00:00Z", &stop);
    let started = Instant::now();
    let reports = collect(&s.c, &s.store, &opts, &mut |_| {}).await;
    let took = started.elapsed();

    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["cloudtrail/prod/us-east-1", "cloudtrail/prod/eu-west-1"]
    );
    for (r, (pages, inserted)) in reports.iter().zip([(3, 12), (2, 9)]) {
        assert!(r.completed && r.error.is_none(), "{r:?}");
        let counts = (r.pages, r.inserted, r.duplicates, r.rejected);
        assert_eq!(counts, (pages, inserted, 0, 0));
        let window = r.window.as_ref().map(|w| (w.from, w.to));
        assert_eq!(window, Some((opts.start, opts.now)));
    }
    assert_eq!(s.count(), 21);
    s.assert_stored(&east);
    s.assert_stored(&west);

    let seen = s.fake.seen();
    let statuses: Vec<u16> = seen.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [200, 400, 200, 500, 200, 200, 200, 200]);
    let regions: Vec<&str> = seen.iter().map(|s| s.region.as_str()).collect();
    assert_eq!(regions[..5], ["us-east-1"; 5]);
    assert_eq!(regions[5..], ["eu-west-1"; 3]);
    // Every call asks for the window, 50 at a time; retries repeat the same token.
    assert_eq!(s.tokens(), "- g0-5 g0-5 g0-10 g0-10 - - g0-5");
    for s in &seen {
        assert_eq!(s.body["MaxResults"], 50);
        assert_eq!(epoch(&s.body["StartTime"]), opts.start.timestamp() as f64);
        assert_eq!(epoch(&s.body["EndTime"]), opts.now.timestamp() as f64);
    }
    assert!(
        took >= Duration::from_millis(250),
        "no rate limit: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_within_the_overlap_are_stored_once() {
    aws_env();
    let s = Setup::new(50, EAST, 2000, FAST).await;
    // At 13:33:28 and 13:42:2x.
    let first = records(&[ADMIN, PROFILE]);
    s.fake.add("us-east-1", &first);
    let r = s.run("2024-08-01T13:00:00Z", "2024-08-01T13:50:00Z").await;
    assert_eq!((r.inserted, r.duplicates), (6, 0));

    // Delivered late: it happened before the cursor (13:50), within the 15 minutes' overlap.
    let mut late = first[0].clone();
    late["eventID"] = json!("0d6f3c52-late-4b1e-9a57-2a3d5e8f9c01");
    late["eventTime"] = json!("2024-08-01T13:45:00Z");
    late["eventName"] = json!("DetachUserPolicy");
    let late = [late];
    s.fake.add("us-east-1", &late);

    let r = s.run("2024-08-01T13:00:00Z", "2024-08-01T15:00:00Z").await;
    assert!(r.completed, "{r:?}");
    let from = r.window.as_ref().map(|w| w.from);
    assert_eq!(from, Some(t("2024-08-01T13:35:00Z")));
    // The late event, and the three 13:42 events of the overlap again (dropped as duplicates).
    assert_eq!((r.inserted, r.duplicates), (1, 3));
    assert_eq!(s.count(), 7);
    s.assert_stored(&first);
    s.assert_stored(&late);

    // Nothing new: nothing stored twice.
    let r = s.run("2024-08-01T13:00:00Z", "2024-08-01T16:00:00Z").await;
    assert_eq!((r.inserted, r.duplicates), (0, 0));
    assert_eq!(s.count(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_next_token_restarts_the_window() {
    aws_env();
    let s = Setup::new(2, EAST, 2000, FAST).await;
    let records: Vec<Value> = stratus(SECRETS).into_iter().take(6).collect();
    s.fake.add("us-east-1", &records);

    // Stopped after the first page: the cursor keeps the window and its NextToken.
    let stop = CancellationToken::new();
    let opts = options("2024-07-31T00:00:00Z", "2024-08-01T00:00:00Z", &stop);
    let stopper = stop.clone();
    let r = collect(&s.c, &s.store, &opts, &mut |_| stopper.cancel()).await;
    assert!(r[0].stopped && !r[0].completed, "{:?}", r[0]);
    assert_eq!((r[0].pages, r[0].inserted), (1, 2));

    // The service no longer honours it: the window is read again from its start.
    s.fake.state.lock().unwrap().generation += 1;
    let r = s.run("2024-07-31T00:00:00Z", "2024-08-02T00:00:00Z").await;
    assert!(r.completed && r.error.is_none(), "{r:?}");
    // The stopped window, then on to the run's now.
    assert_eq!(
        r.window.as_ref().map(|w| (w.from, w.to)),
        Some((opts.start, t("2024-08-02T00:00:00Z")))
    );
    assert_eq!((r.inserted, r.duplicates), (4, 2));
    assert_eq!(s.count(), 6);
    assert_eq!(s.tokens(), "- g0-2 - g1-2 g1-4 -");
    assert_eq!(s.fake.seen()[1].status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_a_call_in_flight_and_commits_nothing() {
    aws_env();
    let s = Setup::new(50, EAST, 10_000, FAST).await;
    s.fake.add("us-east-1", &stratus(ADMIN));
    s.fake.fault(1, Fault::Delay(Duration::from_secs(3)));
    let stop = CancellationToken::new();
    let opts = options("2024-08-01T00:00:00Z", "2024-08-02T00:00:00Z", &stop);
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stopper.cancel();
    });
    let started = Instant::now();
    let r = collect(&s.c, &s.store, &opts, &mut |_| {}).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(r[0].stopped && r[0].pages == 0, "{:?}", r[0]);
    let cursor = s.store.cursor_get("cloudtrail/prod/us-east-1").unwrap();
    assert_eq!(cursor, None);
    assert_eq!(s.count(), 0);
}

fn events(items: Vec<Item>) -> Vec<skein_model::Event> {
    let events = items.into_iter().map(|i| match i {
        Item::Event(ev) => *ev,
        other => panic!("{other:?}"),
    });
    events.collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collected_events_get_the_ids_of_an_exported_lookup_events_file() {
    aws_env();
    let s = Setup::new(50, EAST, 2000, FAST).await;
    let mut records = stratus(FEDERATION);
    // A record without eventID or eventTime: the id and time come from the element.
    records.push(
        json!({"eventVersion": "1.08", "eventName": "GetCallerIdentity",
        "eventSource": "sts.amazonaws.com", "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "userName": "christophe",
                         "accessKeyId": "AKIAOZUDECYXYM4ONAN4"}}),
    );
    s.fake.add("us-east-1", &records);
    let outer_id = "b1c2d3e4-0000-4000-8000-outer0000001";
    let elements = {
        let mut st = s.fake.state.lock().unwrap();
        let list = st.events.get_mut("us-east-1").unwrap();
        let last = list.last_mut().unwrap();
        last["EventId"] = json!(outer_id);
        last["EventTime"] = json!(1_732_956_197.5);
        list.clone()
    };
    let source = &s.c.sources.cloudtrail[0];
    let stop = CancellationToken::new();
    let mut streams = cloudtrail::streams(source, &s.c.http, stop).await.unwrap();
    let window = Window {
        from: t("2024-11-30T00:00:00Z"),
        to: t("2024-12-01T00:00:00Z"),
    };
    let page = streams[0].page(&window, None).await.unwrap();
    assert_eq!(page.origin, "cloudtrail prod us-east-1 LookupEvents");
    let collected = events(page.items);
    assert_eq!(collected.len(), 3);
    let when = t("2024-11-30T08:43:17.500Z");
    assert!(collected.iter().any(|e| e.id == outer_id && e.time == when));

    // The same response saved to a file (the raw API shape, epoch `EventTime`), and the
    // CLI v2's shape (ISO 8601 `EventTime`), read the way `skein ingest` reads files.
    let mut api = elements;
    api.sort_by(|a, b| epoch(&b["EventTime"]).total_cmp(&epoch(&a["EventTime"])));
    let mut cli = api.clone();
    for e in &mut cli {
        let millis = (epoch(&e["EventTime"]) * 1000.0) as i64;
        let when = DateTime::from_timestamp_millis(millis).unwrap();
        e["EventTime"] = json!(when.to_rfc3339());
    }
    for file in [
        json!({"Events": api, "NextToken": "abc"}),
        json!({"Events": cli}),
    ] {
        let text = serde_json::to_string_pretty(&file).unwrap();
        let mut items = Vec::new();
        for frame in Framer::new(text.as_bytes(), 1 << 20) {
            skein_ingest::parse_frame(&frame.unwrap(), None, &mut items);
        }
        assert_eq!(events(items), collected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_needs_the_ca_file_and_a_bad_one_is_a_setup_error() {
    aws_env();
    let s = Setup::new(50, EAST, 2000, FAST).await;
    let records = stratus(ADMIN);
    s.fake.add("us-east-1", &records);
    let ca = skein_fakes::TestCa::new();
    let front = ca.https_front(*s.fake.server.address()).await;
    let endpoint = format!("https://127.0.0.1:{}", front.port());
    let dir = tempfile::tempdir().unwrap();
    let ca_path: PathBuf = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &ca.ca_pem).unwrap();
    let stop = CancellationToken::new();
    let opts = options("2024-08-01T00:00:00Z", "2024-08-02T00:00:00Z", &stop);

    // Without the CA the certificate is refused (verification is on).
    let c = config(&endpoint, EAST, "", 2000, FAST);
    let r = collect(&c, &s.store, &opts, &mut |_| {}).await;
    let err = r[0].error.clone().unwrap_or_default();
    assert!(err.to_lowercase().contains("certificate"), "{r:?}");
    assert_eq!(s.count(), 0);

    let with_ca = format!("ca_file = \"{}\"", ca_path.display());
    let c = config(&endpoint, EAST, &with_ca, 2000, FAST);
    let r = collect(&c, &s.store, &opts, &mut |_| {}).await;
    assert!(r[0].completed && r[0].error.is_none(), "{r:?}");
    assert_eq!(s.count(), 3);
    s.assert_stored(&records);

    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let with_bad = format!("ca_file = \"{}\"", bad.display());
    let c = config(&endpoint, EAST, &with_bad, 2000, FAST);
    let err = cloudtrail::streams(&c.sources.cloudtrail[0], &c.http, stop).await;
    let err = err.err().unwrap();
    assert!(matches!(err, CollectError::Setup { .. }), "{err}");
    assert!(err.to_string().contains("bad.pem"), "{err}");
}
