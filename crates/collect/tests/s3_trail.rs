//! CloudTrail trail files in S3 against moto's S3 server on 127.0.0.1 (started per test,
//! killed on drop; installed by `scripts/test-deps.sh`), through the real AWS SDK, the
//! driver and a real store: gzipped and plain trail files, a digest file and other objects
//! that are not read, a bad record quarantined, a file delivered late picked up by the next
//! run, re-runs that store nothing twice, a listing over several pages, and a stopped run
//! that resumes after a key deleted in the meantime.
//!
//! The records are real Stratus Red Team detonation logs from `../shared/data`.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use skein_collect::config::Config;
use skein_collect::{cloudtrail, collect_all, s3, CollectOptions, Stream, StreamReport};
use skein_model::Source;
use skein_store::{OpenOptions, Store};
use tokio_util::sync::CancellationToken;

const BUCKET: &str = "org-trail";
const DIR: &str = "AWSLogs/229654561268/CloudTrail/us-east-1/2024/08/01";

/// Test credentials for the standard AWS chain (see `skein_fakes::aws_test_env`).
fn aws_env() {
    skein_fakes::aws_test_env();
}

/// moto's server on a free port of 127.0.0.1, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
    _log: tempfile::NamedTempFile,
}

const HELP: &str = "moto's S3 server is needed: run `bash scripts/test-deps.sh`";

impl Moto {
    /// Starts the server; a port taken between choosing and binding it is tried again.
    fn start() -> Moto {
        let mut last = String::new();
        for _ in 0..3 {
            match Moto::try_start() {
                Ok(moto) => return moto,
                Err(why) if why.contains("already in use") => last = why,
                Err(why) => panic!("{why}\n{HELP}"),
            }
        }
        panic!("{last}\n{HELP}");
    }

    fn try_start() -> Result<Moto, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // The server logs every request: to a file, so that a full pipe never blocks it.
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let out = std::fs::read_to_string(log.path()).unwrap_or_default();
                return Err(format!("moto's server exited ({status}): {}", out.trim()));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "moto's server did not answer on port {port} in 30 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _log: log,
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stratus(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/stratus-red-team/docs/detonation-logs")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (see shared/data/MANIFEST.md)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn trail_file(records: &[Value]) -> Vec<u8> {
    json!({ "Records": records }).to_string().into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A trail file's key, named as CloudTrail names them.
fn key(stamp: &str, suffix: &str) -> String {
    format!("{DIR}/229654561268_CloudTrail_us-east-1_{stamp}_{suffix}")
}

fn config(endpoint: &str) -> Config {
    let text = format!(
        "[[sources.cloudtrail]]\n\
         name = \"org\"\n\
         regions = [\"us-east-1\", \"eu-west-1\"]\n\
         endpoint_url = \"{endpoint}\"\n\
         s3_bucket = \"{BUCKET}\"\n\
         s3_prefix = \"AWSLogs/\"\n\
         [http]\n\
         timeout = \"5s\"\n\
         retries = 2\n\
         backoff = \"10ms\"\n\
         max_backoff = \"40ms\"\n"
    );
    Config::parse(&text, Path::new("/tmp/skein-test/skein.toml")).unwrap()
}

/// An S3 client for setting the bucket up.
async fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn put(client: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
}

fn options(start: DateTime<Utc>, stop: &CancellationToken) -> CollectOptions {
    CollectOptions {
        start,
        overlap: chrono::Duration::minutes(15),
        // A little ahead: moto's clock and ours are the same, but its times are rounded.
        now: Utc::now() + chrono::Duration::seconds(1),
        stop: stop.clone(),
    }
}

async fn run(
    streams: &mut [Box<dyn Stream>],
    store: &Store,
    opts: &CollectOptions,
    on_page: &mut (dyn FnMut(&StreamReport) + Send),
) -> StreamReport {
    let mut reports = collect_all(streams, store, opts, on_page).await.unwrap();
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

fn count(store: &Store) -> u64 {
    store.stats().unwrap().events[&Source::Cloudtrail]
}

fn assert_stored(store: &Store, records: &[Value]) {
    for rec in records {
        let id = rec["eventID"].as_str().unwrap();
        let ev = store
            .get_event(Source::Cloudtrail, id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} is not stored"));
        assert_eq!(
            ev.target.action.as_deref(),
            rec["eventName"].as_str(),
            "{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trail_files_are_read_once_and_late_files_by_the_next_run() {
    aws_env();
    let moto = Moto::start();
    let client = s3_client(&moto.endpoint).await;
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    let start = Utc::now() - chrono::Duration::hours(1);

    let secrets = stratus("aws.credential-access.secretsmanager-retrieve-secrets.json");
    let admin = stratus("aws.persistence.iam-create-admin-user.json");
    let mut bad_file = stratus("aws.initial-access.console-login-without-mfa.json");
    let mut broken = bad_file[0].clone();
    broken["eventID"] = json!("7a1e0c4d-bad0-4c8e-9d1f-000000000001");
    broken["eventTime"] = json!("yesterday");
    bad_file.push(broken);
    put(
        &client,
        &key("20240731T1235Z_a1", "a1.json.gz"),
        gzip(&trail_file(&secrets[..11])),
    )
    .await;
    put(
        &client,
        &key("20240731T1240Z_b2", "b2.json.gz"),
        gzip(&trail_file(&secrets[11..])),
    )
    .await;
    // Plain JSON is read too (gzip is recognised by its magic bytes, not the name).
    put(
        &client,
        &key("20240801T1335Z_c3", "c3.json"),
        trail_file(&admin),
    )
    .await;
    put(
        &client,
        &key("20240802T0855Z_d4", "d4.json.gz"),
        gzip(&trail_file(&bad_file)),
    )
    .await;
    // Not read: a digest file, an object that is not a trail file, one outside the prefix.
    let digest = json!({"awsAccountId": "229654561268", "digestStartTime": "2024-08-01T13:00:00Z",
        "digestEndTime": "2024-08-01T14:00:00Z", "digestS3Bucket": BUCKET,
        "logFiles": [{"s3Bucket": BUCKET, "s3Object": key("20240801T1335Z_c3", "c3.json")}]});
    put(
        &client,
        "AWSLogs/229654561268/CloudTrail-Digest/us-east-1/2024/08/01/229654561268_CloudTrail-Digest_us-east-1_org_us-east-1_20240801T140000Z.json.gz",
        gzip(digest.to_string().as_bytes()),
    )
    .await;
    put(
        &client,
        &format!("{DIR}/README.txt"),
        b"not a trail file".to_vec(),
    )
    .await;
    put(&client, "elsewhere/x.json", trail_file(&admin)).await;

    let c = config(&moto.endpoint);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
    let stop = CancellationToken::new();
    let mut streams = cloudtrail::streams(&c.sources.cloudtrail[0], &c.http, stop.clone())
        .await
        .unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].cursor_name(), "cloudtrail/org/s3");

    let opts = options(start, &stop);
    let r = run(&mut streams, &store, &opts, &mut |_| {}).await;
    assert!(r.completed && r.error.is_none(), "{r:?}");
    // Four trail files, one page each; the digest was never fetched (nothing was ignored).
    assert_eq!(
        (r.pages, r.inserted, r.duplicates),
        (4, 21 + 3 + 1, 0),
        "{r:?}"
    );
    assert_eq!((r.rejected, r.ignored), (1, 0), "{r:?}");
    assert_eq!(count(&store), 25);
    assert_eq!(store.stats().unwrap().quarantined, 1);
    assert_stored(&store, &secrets);
    assert_stored(&store, &admin);
    assert_stored(&store, &bad_file[..1]);

    // A file delivered late (with a record already delivered in an earlier file, as
    // CloudTrail may do).
    let mut late = stratus("aws.persistence.iam-create-user-login-profile.json");
    late.push(admin[0].clone());
    put(
        &client,
        &key("20240801T1345Z_e5", "e5.json.gz"),
        gzip(&trail_file(&late)),
    )
    .await;
    let opts = options(start, &stop);
    let r = run(&mut streams, &store, &opts, &mut |_| {}).await;
    assert!(r.completed && r.error.is_none(), "{r:?}");
    // The overlap reads the earlier files again; the store drops what it has.
    assert_eq!(r.inserted, 3, "{r:?}");
    assert_eq!(r.duplicates, 26, "{r:?}");
    assert_eq!(count(&store), 28);
    assert_stored(&store, &late);

    // Again, with nothing new: nothing is stored twice.
    let opts = options(start, &stop);
    let r = run(&mut streams, &store, &opts, &mut |_| {}).await;
    assert!(r.completed, "{r:?}");
    assert_eq!(r.inserted, 0, "{r:?}");
    assert_eq!(count(&store), 28);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_resumes_after_its_key_across_listing_pages() {
    aws_env();
    let moto = Moto::start();
    let client = s3_client(&moto.endpoint).await;
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    let start = Utc::now() - chrono::Duration::hours(1);
    let records = stratus("aws.credential-access.secretsmanager-retrieve-secrets.json");
    // Five files of five records (the last one of one), listed two keys per call.
    let keys: Vec<String> = (0..5)
        .map(|i| key(&format!("20240731T12{i}0Z"), &format!("f{i}.json.gz")))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        let chunk = &records[i * 5..(i * 5 + 5).min(records.len())];
        put(&client, k, gzip(&trail_file(chunk))).await;
    }

    let c = config(&moto.endpoint);
    let source = &c.sources.cloudtrail[0];
    let sdk = cloudtrail::sdk_config(source, &c.http, "us-east-1", Some(&moto.endpoint))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), OpenOptions::default()).unwrap();
    let make = |stop: &CancellationToken| -> Vec<Box<dyn Stream>> {
        let s = s3::TrailStream::new(source, BUCKET, &sdk, true, &c.http, stop.clone())
            .list_page_size(2);
        vec![Box::new(s)]
    };

    // Stopped after two files: the cursor says to continue at the third.
    let stop = CancellationToken::new();
    let opts = options(start, &stop);
    let stopper = stop.clone();
    let mut streams = make(&stop);
    let r = run(&mut streams, &store, &opts, &mut |r| {
        if r.pages == 2 {
            stopper.cancel()
        }
    })
    .await;
    assert!(r.stopped && !r.completed, "{r:?}");
    assert_eq!((r.pages, r.inserted), (2, 10));

    // The third file is gone by the next run: it continues at the one after it.
    client
        .delete_object()
        .bucket(BUCKET)
        .key(&keys[2])
        .send()
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let mut streams = make(&stop);
    let second = options(start, &stop);
    let r = run(&mut streams, &store, &second, &mut |_| {}).await;
    assert!(r.completed && r.error.is_none(), "{r:?}");
    // The rest of the stopped window, then on to this run's now: the files written during
    // the test are in that window's overlap again, and their records are dropped as
    // already stored.
    assert_eq!(
        r.window.as_ref().map(|w| (w.from, w.to)),
        Some((opts.start, second.now))
    );
    assert_eq!((r.pages, r.inserted, r.duplicates), (6, 6, 16), "{r:?}");
    assert_eq!(count(&store), 16);
    assert_stored(&store, &records[..10]);
    assert_stored(&store, &records[15..]);
    assert!(store
        .get_event(Source::Cloudtrail, records[10]["eventID"].as_str().unwrap())
        .unwrap()
        .is_none());
}
