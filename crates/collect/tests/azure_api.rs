//! The Graph and Log Analytics collectors against the fakes in `skein-fakes` (HTTPS with a
//! test CA, the token endpoint included): paging, a 429 with `Retry-After`, a 500, a response
//! slower than the timeout, late data, result-limit splitting, and a stop in the middle.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use skein_collect::{build_streams, collect_all, CollectOptions, Config, StreamReport};
use skein_fakes::azure::{signin, signin_row};
use skein_fakes::{FakeAzure, Fault};
use skein_model::Source;
use skein_store::{OpenOptions, Store};
use tokio_util::sync::CancellationToken;

const SECRET_VAR: &str = "SKEIN_TEST_AZURE_SECRET";
const SECRET: &str = "s3cr3t-Zq9-never-shown";
const PFX_PASSWORD_VAR: &str = "SKEIN_TEST_PFX_PASSWORD";
const PFX_PASSWORD: &str = "pfx-pass-4411";

fn set_secret() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // Every test sets the same value, once per process.
    ONCE.call_once(|| {
        unsafe_set_env(SECRET_VAR, SECRET);
        unsafe_set_env(PFX_PASSWORD_VAR, PFX_PASSWORD);
    });
}

#[allow(unused_unsafe)]
fn unsafe_set_env(k: &str, v: &str) {
    // Edition 2021: `set_var` is safe; tests in this file all set the same value.
    std::env::set_var(k, v);
}

fn config(dir: &Path, fake: &FakeAzure, sources: &str) -> Config {
    let ca = dir.join("test-ca.pem");
    std::fs::write(&ca, &fake.ca_pem).unwrap();
    let text = format!(
        r#"
[http]
timeout = "1s"
retries = 4
backoff = "10ms"
max_backoff = "50ms"
{}
"#,
        sources
            .replace("@BASE@", &fake.base_url)
            .replace("@CA@", &ca.display().to_string())
            .replace("@VAR@", SECRET_VAR)
    );
    let path = dir.join("skein.toml");
    std::fs::write(&path, &text).unwrap();
    Config::load(&path).unwrap()
}

const GRAPH: &str = r#"
[[sources.entra]]
name = "contoso"
tenant_id = "11111111-2222-3333-4444-555555555555"
client_id = "app-1"
client_secret_env = "@VAR@"
graph_endpoint = "@BASE@"
authority_host = "@BASE@"
ca_file = "@CA@"
page_size = 4
rate_limit = { requests = 1000, per = "1s" }
"#;

const LOG_ANALYTICS: &str = r#"
[[sources.log_analytics]]
name = "sentinel"
workspace_id = "ws-1"
tables = [@TABLES@]
tenant_id = "11111111-2222-3333-4444-555555555555"
client_id = "app-2"
client_secret_env = "@VAR@"
endpoint = "@BASE@"
authority_host = "@BASE@"
ca_file = "@CA@"
min_split = "1m"
rate_limit = { requests = 1000, per = "1s" }
"#;

fn t0() -> DateTime<Utc> {
    "2026-11-30T10:00:00Z".parse().unwrap()
}

fn signins(n: usize, start: DateTime<Utc>) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            signin(
                &format!("5d0c6a1e-0000-4000-8000-{i:012}"),
                start + Duration::minutes(i as i64),
                &format!("user{}@contoso.com", i % 5),
                &format!("203.0.113.{}", i % 200 + 1),
                if i % 3 == 0 { 50126 } else { 0 },
            )
        })
        .collect()
}

async fn run(
    store: &Store,
    config: &Config,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    stop: CancellationToken,
) -> Vec<StreamReport> {
    let mut streams = build_streams(config, None, &stop).await.unwrap();
    let opts = CollectOptions {
        start,
        overlap: Duration::minutes(15),
        now,
        stop: stop.clone(),
    };
    collect_all(&mut streams, store, &opts, &mut |_| {})
        .await
        .unwrap()
}

fn count(store: &Store, source: Source) -> u64 {
    store
        .stats()
        .unwrap()
        .events
        .get(&source)
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_pages_throttling_errors_timeouts_and_late_data() {
    set_secret();
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fake, GRAPH);
    fake.add_signins(signins(18, t0()));
    // Outside the window: never collected.
    fake.add_signins(
        signins(1, t0() - Duration::days(3))
            .into_iter()
            .map(|mut v| {
                v["id"] = "old-one".into();
                v
            }),
    );
    fake.push_fault(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    fake.push_fault(Fault::ServerError);
    fake.push_fault(Fault::Slow(std::time::Duration::from_secs(3)));
    let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
    let now = t0() + Duration::hours(1);
    let reports = run(
        &store,
        &cfg,
        t0() - Duration::hours(1),
        now,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert!(r.completed && r.error.is_none(), "{r:?}");
    assert_eq!((r.inserted, r.duplicates, r.rejected), (18, 0, 0));
    assert_eq!(r.pages, 5, "18 sign-ins in pages of 4");
    assert_eq!(count(&store, Source::EntraSignin), 18);
    // The 429 said to wait a second: the retry came no sooner.
    let times = fake.api_request_times();
    assert!(times[1] - times[0] >= std::time::Duration::from_secs(1));
    // The three faults cost three extra requests, no more.
    assert_eq!(
        fake.api_requests().len(),
        5 + 3,
        "{:#?}",
        fake.api_requests()
    );
    // The secret went to the token endpoint only, as the client credentials grant says.
    let tokens = fake.token_requests();
    assert!(tokens
        .iter()
        .all(|b| b.contains("grant_type=client_credentials")));
    assert!(tokens[0].contains("scope=https%3A%2F%2F127.0.0.1"));
    assert!(fake.api_requests().iter().all(|r| !r.contains(SECRET)));

    // A sign-in that reaches Graph late, with a time before the cursor (within the overlap),
    // and one that is new.
    let mut late = signins(1, now - Duration::minutes(5));
    late[0]["id"] = "late-arrival".into();
    let mut fresh = signins(1, now + Duration::minutes(5));
    fresh[0]["id"] = "fresh-one".into();
    fake.add_signins(late.into_iter().chain(fresh));
    let later = now + Duration::minutes(30);
    let reports = run(&store, &cfg, t0(), later, CancellationToken::new()).await;
    let r = &reports[0];
    assert!(r.completed, "{r:?}");
    let w = r.window.clone().unwrap();
    assert_eq!(
        w.from,
        now - Duration::minutes(15),
        "starts an overlap before the cursor"
    );
    assert_eq!(r.inserted, 2, "{r:?}");
    assert_eq!(count(&store, Source::EntraSignin), 20);
    assert!(store
        .get_event(Source::EntraSignin, "late-arrival")
        .unwrap()
        .is_some());
    assert!(store
        .get_event(Source::EntraSignin, "old-one")
        .unwrap()
        .is_none());
    // The cursor holds times and no secret or token.
    let cursor = String::from_utf8(store.cursor_get("entra/contoso").unwrap().unwrap()).unwrap();
    assert!(!cursor.contains(SECRET) && !cursor.contains(skein_fakes::azure::ACCESS_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_resumes_inside_its_window_without_doubling() {
    set_secret();
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fake, GRAPH);
    fake.add_signins(signins(20, t0()));
    let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
    let now = t0() + Duration::hours(1);
    let stop = CancellationToken::new();
    // Stop after the second page is committed.
    let mut streams = build_streams(&cfg, None, &stop).await.unwrap();
    let opts = CollectOptions {
        start: t0(),
        overlap: Duration::minutes(15),
        now,
        stop: stop.clone(),
    };
    let stopper = stop.clone();
    let reports = collect_all(&mut streams, &store, &opts, &mut |r: &StreamReport| {
        if r.pages == 2 {
            stopper.cancel();
        }
    })
    .await
    .unwrap();
    assert!(
        reports[0].stopped && !reports[0].completed,
        "{:?}",
        reports[0]
    );
    assert_eq!(count(&store, Source::EntraSignin), 8);
    let cursor: skein_collect::Cursor =
        skein_collect::Cursor::decode(&store.cursor_get("entra/contoso").unwrap().unwrap())
            .unwrap();
    assert!(cursor
        .open
        .as_ref()
        .and_then(|o| o.resume.as_ref())
        .is_some());
    assert_eq!(cursor.done_until, None);

    // The next run goes on from the third page of the same window.
    let requests_before = fake.api_requests().len();
    let reports = run(
        &store,
        &cfg,
        t0(),
        now + Duration::hours(5),
        CancellationToken::new(),
    )
    .await;
    let r = &reports[0];
    assert!(r.completed, "{r:?}");
    // The rest of the stopped window (3 pages), then the window from it to now (1 page).
    let w = r.window.as_ref().unwrap();
    assert_eq!((w.from, w.to), (t0(), now + Duration::hours(5)));
    assert_eq!((r.inserted, r.duplicates, r.pages), (12, 0, 4));
    let requests = fake.api_requests();
    assert_eq!(requests.len() - requests_before, 4, "{requests:#?}");
    assert!(requests[requests_before].contains("skiptoken=8"));
    assert!(!requests[requests_before + 3].contains("skiptoken"));
    assert_eq!(count(&store, Source::EntraSignin), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_analytics_splits_ranges_that_hit_the_row_limit() {
    set_secret();
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &fake,
        &LOG_ANALYTICS.replace("@TABLES@", "\"SigninLogs\""),
    );
    // 40 rows over 4 hours; the service returns at most 12 rows per query.
    fake.add_rows(
        "SigninLogs",
        (0..40).map(|i| {
            signin_row(
                &format!("9b7e0000-0000-4000-8000-{i:012}"),
                t0() + Duration::minutes(i * 6),
                "alice@contoso.com",
                "198.51.100.7",
                if i % 2 == 0 { "0" } else { "50126" },
            )
        }),
    );
    fake.set_la_row_limit(12);
    fake.push_fault(Fault::ServerError);
    let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
    let reports = run(
        &store,
        &cfg,
        t0(),
        t0() + Duration::hours(4),
        CancellationToken::new(),
    )
    .await;
    let r = &reports[0];
    assert_eq!(r.name, "log_analytics/sentinel/SigninLogs");
    assert!(r.completed && r.error.is_none(), "{r:?}");
    assert_eq!((r.inserted, r.duplicates, r.rejected), (40, 0, 0), "{r:?}");
    assert_eq!(count(&store, Source::EntraSignin), 40);
    let queries = fake.api_requests();
    assert!(queries.len() > 4, "the range was split: {queries:#?}");
    assert!(queries
        .iter()
        .all(|q| q.contains("SigninLogs | where TimeGenerated >= datetime(")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_secret_is_reported_without_the_secret() {
    set_secret();
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fake, GRAPH);
    fake.fail_tokens(Some(401));
    let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
    let reports = run(
        &store,
        &cfg,
        t0(),
        t0() + Duration::hours(1),
        CancellationToken::new(),
    )
    .await;
    let err = reports[0].error.clone().unwrap();
    assert!(err.contains("authentication failed"), "{err}");
    // The endpoint echoed the request, secret included; the message keeps the rest.
    assert!(err.contains("AADSTS7000215"), "{err}");
    assert!(err.contains("[redacted]") && !err.contains(SECRET), "{err}");
    assert!(store.cursor_get("entra/contoso").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_server_certificate_is_refused() {
    set_secret();
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The same source without the test CA: TLS verification stays on and fails.
    let cfg = config(
        dir.path(),
        &fake,
        &GRAPH.replace("ca_file = \"@CA@\"\n", ""),
    );
    let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
    let reports = run(
        &store,
        &cfg,
        t0(),
        t0() + Duration::hours(1),
        CancellationToken::new(),
    )
    .await;
    let err = reports[0].error.clone().unwrap();
    assert!(err.contains("authentication failed"), "{err}");
    assert!(fake.token_requests().is_empty());
}

/// A source authenticating another way than with a client secret: `auth` replaces the
/// `client_secret_env` line of [`GRAPH`].
async fn graph_with_auth(dir: &Path, fake: &FakeAzure, auth: &str) -> Vec<StreamReport> {
    let cfg = config(
        dir,
        fake,
        &GRAPH.replace("client_secret_env = \"@VAR@\"", auth),
    );
    fake.add_signins(signins(3, t0()));
    let store = Store::open(dir, OpenOptions::default()).unwrap();
    run(
        &store,
        &cfg,
        t0(),
        t0() + Duration::hours(1),
        CancellationToken::new(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_assertion_file_is_sent_as_the_jwt_bearer_assertion() {
    set_secret();
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJza2VpbiJ9.c2lnbmF0dXJl";
    std::fs::write(dir.path().join("assertion.jwt"), format!("{jwt}\n")).unwrap();
    let reports = graph_with_auth(
        dir.path(),
        &fake,
        "client_assertion_file = \"assertion.jwt\"",
    )
    .await;
    assert!(reports[0].completed, "{:?}", reports[0]);
    assert_eq!(reports[0].inserted, 3);
    let body = &fake.token_requests()[0];
    assert!(body.contains(&format!("client_assertion={jwt}")), "{body}");
    assert!(body.contains("jwt-bearer"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_signs_the_assertion() {
    set_secret();
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A PKCS#12 file as `az ad sp create-for-rbac --create-cert` or a PKI would give one.
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .expect("openssl (the CLI) is needed to make a test certificate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-subj",
        "/CN=skein-test",
    ]);
    let pass = format!("pass:{PFX_PASSWORD}");
    openssl(&[
        "pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-out", "cert.pfx",
        "-passout", &pass,
    ]);
    let auth = format!(
        "client_certificate_file = \"cert.pfx\"\nclient_certificate_password_env = \"{PFX_PASSWORD_VAR}\""
    );
    let reports = graph_with_auth(d, &fake, &auth).await;
    assert!(reports[0].completed, "{:?}", reports[0]);
    assert_eq!(reports[0].inserted, 3);
    let body = &fake.token_requests()[0];
    assert!(
        body.contains("jwt-bearer") && body.contains("client_assertion=ey"),
        "{body}"
    );
    assert!(!body.contains(PFX_PASSWORD), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_analytics_rides_out_throttling_and_a_slow_answer() {
    set_secret();
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &fake,
        &LOG_ANALYTICS.replace("@TABLES@", "\"SigninLogs\", \"StorageBlobLogs\""),
    );
    fake.add_rows(
        "SigninLogs",
        (0..5).map(|i| {
            signin_row(
                &format!("7c000000-0000-4000-8000-{i:012}"),
                t0() + Duration::minutes(i),
                "bob@contoso.com",
                "198.51.100.9",
                "0",
            )
        }),
    );
    fake.push_fault(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    fake.push_fault(Fault::Slow(std::time::Duration::from_secs(3)));
    let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
    let reports = run(
        &store,
        &cfg,
        t0(),
        t0() + Duration::hours(1),
        CancellationToken::new(),
    )
    .await;
    let times = fake.api_request_times();
    assert!(
        times[1] - times[0] >= std::time::Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(reports.len(), 2);
    assert!(
        reports.iter().all(|r| r.completed && r.error.is_none()),
        "{reports:?}"
    );
    assert_eq!(reports[0].inserted, 5);
    assert_eq!(reports[1].name, "log_analytics/sentinel/StorageBlobLogs");
    assert_eq!(count(&store, Source::EntraSignin), 5);
    // Two tables, one query each, plus the 429 and the timed-out attempt.
    assert_eq!(fake.api_requests().len(), 4, "{:#?}", fake.api_requests());

    // A row the workspace ingested late, timed before the cursor but inside the overlap:
    // the next run stores it, and only it.
    let cursor_end = t0() + Duration::hours(1);
    fake.add_rows(
        "SigninLogs",
        [signin_row(
            "7c000000-0000-4000-8000-late00000001",
            cursor_end - Duration::minutes(10),
            "bob@contoso.com",
            "198.51.100.9",
            "0",
        )],
    );
    let reports = run(
        &store,
        &cfg,
        t0(),
        cursor_end + Duration::minutes(30),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        (reports[0].inserted, reports[0].duplicates),
        (1, 0),
        "{reports:?}"
    );
    assert_eq!(count(&store, Source::EntraSignin), 6);
}
