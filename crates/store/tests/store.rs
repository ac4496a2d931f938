//! Behaviour of the store through its public API.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeZone, Utc};
use skein_model::{EntityRef, EntityType, Event, Source, WireShape};
use skein_store::{
    OpenOptions, QuarantineRecord, Store, StoreError, FORMAT_REVISION, MAX_EXCERPT, SCHEMA_VERSION,
};

#[path = "store/address_accounts.rs"]
mod address_accounts;
#[path = "store/cases.rs"]
mod cases;
#[path = "store/change_log.rs"]
mod change_log;
#[path = "store/findings.rs"]
mod findings;
#[path = "store/layout.rs"]
mod layout;
#[path = "store/props.rs"]
mod props;
#[path = "store/scan.rs"]
mod scan;

pub(crate) fn open(dir: &Path) -> Store {
    Store::open(dir, OpenOptions::default()).expect("open store")
}

pub(crate) fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().expect("valid time")
}

pub(crate) fn ev(source: Source, id: &str, secs: i64) -> Event {
    Event::new(id.to_string(), source, WireShape::GraphSignin, t(secs))
}

pub(crate) fn signin(id: &str, secs: i64, upn: &str, ip: &str) -> Event {
    let mut e = ev(Source::EntraSignin, id, secs);
    e.actor.upn = Some(upn.to_string());
    e.src_ip = Some(ip.parse().expect("ip"));
    e.tenants.home = Some("tenant-a".to_string());
    e
}

pub(crate) fn ids(events: impl Iterator<Item = Result<Event, StoreError>>) -> Vec<String> {
    events.map(|e| e.expect("read event").id).collect()
}

#[test]
fn reinserting_a_batch_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let batch = vec![
        signin("a", 10, "alice@contoso.com", "203.0.113.5"),
        ev(Source::Cloudtrail, "b", 20),
        ev(Source::StorageBlob, "c", 30),
    ];
    let first = store.insert_batch(&batch).unwrap();
    assert_eq!((first.inserted, first.duplicates), (3, 0));
    let again = store.insert_batch(&batch).unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 3));
    assert_eq!(again.per_source[&Source::Cloudtrail].duplicates, 1);
    let stats = store.stats().unwrap();
    assert_eq!(stats.events[&Source::EntraSignin], 1);
    assert_eq!(stats.events[&Source::Cloudtrail], 1);
    let s = store
        .entity_summary(&"user:alice@contoso.com".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(s.event_count, 1);
    // The same id in another source is another event.
    let other = store
        .insert_batch(&[ev(Source::StorageBlob, "a", 5)])
        .unwrap();
    assert_eq!(other.inserted, 1);
}

#[test]
fn duplicates_inside_one_batch_count_and_the_first_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut second = ev(Source::Cloudtrail, "x", 99);
    second.user_agent = Some("second".into());
    let out = store
        .insert_batch(&[
            ev(Source::Cloudtrail, "x", 1),
            second,
            ev(Source::Cloudtrail, "y", 2),
        ])
        .unwrap();
    assert_eq!((out.inserted, out.duplicates), (2, 1));
    let stored = store.get_event(Source::Cloudtrail, "x").unwrap().unwrap();
    assert_eq!(stored.time, t(1));
    assert_eq!(stored.user_agent, None);
    assert_eq!(store.stats().unwrap().events[&Source::Cloudtrail], 2);
    assert!(store
        .get_event(Source::Cloudtrail, "nope")
        .unwrap()
        .is_none());
}

#[test]
fn range_scans_are_time_ordered_and_honour_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Out of order, across two batches, including pre-1970 times.
    store
        .insert_batch(&[
            ev(Source::Cloudtrail, "c3", 300),
            ev(Source::Cloudtrail, "c1", -100_000),
            ev(Source::EntraSignin, "e2", 200),
        ])
        .unwrap();
    store
        .insert_batch(&[
            ev(Source::Cloudtrail, "c2", -1),
            ev(Source::EntraSignin, "e1", 0),
            ev(Source::Cloudtrail, "c4", 400),
        ])
        .unwrap();
    let ct = Some(Source::Cloudtrail);
    assert_eq!(
        ids(store.events_in_range(ct, None, None)),
        ["c1", "c2", "c3", "c4"]
    );
    // from is inclusive, to exclusive.
    assert_eq!(
        ids(store.events_in_range(ct, Some(t(-1)), Some(t(400)))),
        ["c2", "c3"]
    );
    assert_eq!(ids(store.events_in_range(ct, Some(t(301)), None)), ["c4"]);
    assert!(ids(store.events_in_range(ct, Some(t(500)), None)).is_empty());
    // All sources: per source, in Source::ALL order.
    assert_eq!(
        ids(store.events_in_range(None, None, None)),
        ["e1", "e2", "c1", "c2", "c3", "c4"]
    );
    // Merged: one time order.
    assert_eq!(
        ids(store.events_in_range_merged(None, Some(t(301)))),
        ["c1", "c2", "e1", "e2", "c3"]
    );
}

#[test]
fn sub_microsecond_bounds_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let base = t(1000);
    let mut a = ev(Source::Cloudtrail, "a", 0);
    a.time = base + chrono::Duration::nanoseconds(100);
    let mut b = ev(Source::Cloudtrail, "b", 0);
    b.time = base + chrono::Duration::nanoseconds(900);
    store.insert_batch(&[a, b]).unwrap();
    let mid = base + chrono::Duration::nanoseconds(500);
    assert_eq!(ids(store.events_in_range(None, Some(mid), None)), ["b"]);
    assert_eq!(ids(store.events_in_range(None, None, Some(mid))), ["a"]);
}

#[test]
fn entity_lookups_use_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut ct = ev(Source::Cloudtrail, "ct1", 50);
    ct.src_ip = Some("203.0.113.5".parse().unwrap());
    ct.actor.access_key_id = Some("akiaexample".into());
    store
        .insert_batch(&[
            signin("s2", 100, "Alice@Contoso.com", "203.0.113.5"),
            signin("s1", 10, "alice@contoso.com", "198.51.100.7"),
            signin("s3", 20, "alicia@contoso.com", "203.0.113.5"),
            ct,
        ])
        .unwrap();
    let alice: EntityRef = "user:alice@contoso.com".parse().unwrap();
    assert_eq!(
        ids(store.events_for_entity(&alice, None, None)),
        ["s1", "s2"]
    );
    assert_eq!(
        ids(store.events_for_entity(&alice, Some(t(11)), None)),
        ["s2"]
    );
    // A non-canonical reference still finds the entity.
    let loud = EntityRef {
        ty: EntityType::User,
        id: "ALICE@contoso.com".into(),
    };
    assert_eq!(ids(store.events_for_entity(&loud, None, None)).len(), 2);
    let ip: EntityRef = "ip:203.0.113.5".parse().unwrap();
    assert_eq!(
        ids(store.events_for_entity(&ip, None, None)),
        ["s3", "ct1", "s2"]
    );
    let key: EntityRef = "awskey:AKIAEXAMPLE".parse().unwrap();
    assert_eq!(ids(store.events_for_entity(&key, None, None)), ["ct1"]);
    // Tenants are not indexed but still found.
    let tenant: EntityRef = "tenant:tenant-a".parse().unwrap();
    assert_eq!(
        ids(store.events_for_entity(&tenant, None, Some(t(100)))),
        ["s1", "s3"]
    );
    let nobody: EntityRef = "user:bob@contoso.com".parse().unwrap();
    assert!(ids(store.events_for_entity(&nobody, None, None)).is_empty());
    assert!(store.entity_summary(&nobody).unwrap().is_none());

    let close = store
        .entities_with_prefix(EntityType::User, "ALI", 10)
        .unwrap();
    let names: Vec<_> = close.iter().map(|(e, _)| e.id.as_str()).collect();
    assert_eq!(names, ["alice@contoso.com", "alicia@contoso.com"]);
    assert_eq!(close[0].1.event_count, 2);
    assert_eq!(
        store
            .entities_with_prefix(EntityType::User, "a", 1)
            .unwrap()
            .len(),
        1
    );
    let stats = store.stats().unwrap();
    assert_eq!(stats.entities[&EntityType::User], 2);
    assert_eq!(stats.entities[&EntityType::Ip], 2);
    assert_eq!(stats.entities[&EntityType::Tenant], 1);
}

#[test]
fn entity_ids_that_prefix_each_other_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut a = ev(Source::EntraSignin, "1", 1);
    a.tokens.session_id = Some("ab".into());
    let mut b = ev(Source::EntraSignin, "2", 2);
    b.tokens.session_id = Some("ab\u{0}\u{1}c".into());
    let mut c = ev(Source::EntraSignin, "3", 3);
    c.tokens.session_id = Some("abc".into());
    store.insert_batch(&[a, b, c]).unwrap();
    for (token, want) in [("ab", "1"), ("ab\u{0}\u{1}c", "2"), ("abc", "3")] {
        let r = EntityRef {
            ty: EntityType::Token,
            id: token.into(),
        };
        assert_eq!(ids(store.events_for_entity(&r, None, None)), [want]);
    }
}

#[test]
fn entity_summaries_accumulate_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .insert_batch(&[
            signin("1", 100, "alice@contoso.com", "203.0.113.5"),
            signin("2", 50, "alice@contoso.com", "203.0.113.5"),
        ])
        .unwrap();
    store
        .insert_batch(&[
            signin("3", -20, "alice@contoso.com", "203.0.113.6"),
            signin("4", 70, "alice@contoso.com", "203.0.113.6"),
            signin("1", 100, "alice@contoso.com", "203.0.113.5"),
        ])
        .unwrap();
    let s = store
        .entity_summary(&"user:alice@contoso.com".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.first_seen, s.last_seen, s.event_count),
        (t(-20), t(100), 4)
    );
    let ip = store
        .entity_summary(&"ip:203.0.113.5".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (ip.first_seen, ip.last_seen, ip.event_count),
        (t(50), t(100), 2)
    );
    let stats = store.stats().unwrap();
    let entra = stats.sources[&Source::EntraSignin];
    assert_eq!(
        (entra.count, entra.first, entra.last),
        (4, Some(t(-20)), Some(t(100)))
    );
    assert_eq!(stats.sources[&Source::Cloudtrail].count, 0);
    assert_eq!(stats.sources[&Source::Cloudtrail].first, None);
}

#[test]
fn data_and_counters_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .insert_batch(&[signin("1", 1, "alice@contoso.com", "203.0.113.5")])
            .unwrap();
        store
            .cursor_set("entra:contoso", b"2026-01-01T00:00:00Z")
            .unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        store.cursor_get("entra:contoso").unwrap().as_deref(),
        Some(&b"2026-01-01T00:00:00Z"[..])
    );
    assert_eq!(store.cursor_get("other").unwrap(), None);
    assert_eq!(store.stats().unwrap().events[&Source::EntraSignin], 1);
    let again = store
        .insert_batch(&[signin("1", 1, "alice@contoso.com", "203.0.113.5")])
        .unwrap();
    assert_eq!(again.duplicates, 1);
}

#[test]
fn quarantine_appends_lines_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.quarantine_count().unwrap(), 0);
    let long = "é".repeat(MAX_EXCERPT);
    for (i, excerpt) in ["{not json", long.as_str()].into_iter().enumerate() {
        store
            .quarantine(&QuarantineRecord {
                file: "in/signins.json".into(),
                line: 7 + i as u64,
                row: (i == 1).then_some(3),
                source_hint: Some("entra_signin".into()),
                reason: "invalid JSON: EOF".into(),
                excerpt: excerpt.to_string(),
            })
            .unwrap();
    }
    store.flush().unwrap();
    assert_eq!(store.quarantine_count().unwrap(), 2);
    assert_eq!(store.stats().unwrap().quarantined, 2);
    let path = store.quarantine_path().to_path_buf();
    assert_eq!(path, dir.path().join("quarantine.ndjson"));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["file"], "in/signins.json");
    assert_eq!(lines[0]["line"], 7);
    assert_eq!(lines[0]["row"], serde_json::Value::Null);
    assert_eq!(lines[0]["excerpt"], "{not json");
    assert_eq!(lines[0]["truncated"], false);
    assert_eq!(lines[1]["row"], 3);
    assert_eq!(lines[1]["truncated"], true);
    let cut = lines[1]["excerpt"].as_str().unwrap();
    assert!(cut.len() <= MAX_EXCERPT && long.starts_with(cut));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(store);
    // The count survives and the file is appended to, not replaced.
    let store = open(dir.path());
    assert_eq!(store.quarantine_count().unwrap(), 2);
}

/// Opens the sled database of a closed store directly, to damage or inspect it.
pub(crate) fn open_sled(dir: &Path) -> sled::Db {
    // sled releases its file lock asynchronously after a drop: retry briefly.
    let mut tries = 0;
    loop {
        match skein_store::sled_config(dir).open() {
            Ok(db) => return db,
            Err(_) if tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("opening sled: {e}"),
        }
    }
}

/// Rewrites the schema version stored in `dir`'s database (`None` removes it).
fn set_schema(dir: &Path, version: Option<u32>) {
    let db = open_sled(dir);
    let meta = db.open_tree("meta").unwrap();
    match version {
        Some(v) => meta.insert("schema_version", &v.to_be_bytes()).unwrap(),
        None => meta.remove("schema_version").unwrap(),
    };
    db.flush().unwrap();
}

/// The segment size sled recorded for `dir`'s database.
fn recorded_segment_size(dir: &Path) -> String {
    let conf = std::fs::read(dir.join("db").join("conf")).unwrap();
    String::from_utf8_lossy(&conf)
        .lines()
        .find_map(|l| l.strip_prefix("segment_size: ").map(str::to_string))
        .unwrap()
}

#[test]
fn new_stores_use_large_segments_and_older_ones_keep_theirs() {
    let fresh = tempfile::tempdir().unwrap();
    drop(open(fresh.path()));
    assert_eq!(recorded_segment_size(fresh.path()), (8 << 20).to_string());
    // Reopened with what it recorded.
    drop(open(fresh.path()));

    // A database made with sled's default (as every earlier build made them).
    let older = tempfile::tempdir().unwrap();
    drop(sled::open(older.path().join("db")).unwrap());
    let before = recorded_segment_size(older.path());
    let store = open(older.path());
    store
        .insert_batch(&[signin("s1", 10, "alice@contoso.com", "203.0.113.5")])
        .unwrap();
    drop(store);
    let store = open(older.path());
    assert_eq!(
        store
            .get_event(Source::EntraSignin, "s1")
            .unwrap()
            .map(|e| e.id),
        Some("s1".into())
    );
    drop(store);
    assert_eq!(recorded_segment_size(older.path()), before);
    assert_ne!(before, (8 << 20).to_string());
}

#[test]
fn stores_of_a_newer_format_revision_are_refused_and_older_ones_marked() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let revision = |dir: &Path| {
        let db = open_sled(dir);
        let v = db
            .open_tree("meta")
            .unwrap()
            .get("format_revision")
            .unwrap();
        v.map(|v| u32::from_be_bytes(v.as_ref().try_into().unwrap()))
    };
    assert_eq!(revision(dir.path()), Some(FORMAT_REVISION));

    // A store from before the mark existed gets it.
    {
        let db = open_sled(dir.path());
        db.open_tree("meta")
            .unwrap()
            .remove("format_revision")
            .unwrap();
        db.flush().unwrap();
    }
    drop(open(dir.path()));
    assert_eq!(revision(dir.path()), Some(FORMAT_REVISION));

    {
        let db = open_sled(dir.path());
        let meta = db.open_tree("meta").unwrap();
        meta.insert("format_revision", &(FORMAT_REVISION + 1).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path(), OpenOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::FormatTooNew { found, supported } if found == FORMAT_REVISION + 1 && supported == FORMAT_REVISION),
        "{err}"
    );
    assert!(err.to_string().contains("newer skein"), "{err}");
    // Refusing leaves the mark alone.
    assert_eq!(revision(dir.path()), Some(FORMAT_REVISION + 1));
}

#[test]
fn schema_mismatches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    assert_eq!(
        open(dir.path()).stats().unwrap().schema_version,
        SCHEMA_VERSION
    );

    set_schema(dir.path(), Some(SCHEMA_VERSION + 1));
    let err = Store::open(dir.path(), OpenOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err}"
    );

    set_schema(dir.path(), Some(SCHEMA_VERSION - 1));
    let err = Store::open(dir.path(), OpenOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooOld { .. }), "{err}");
    assert!(err.to_string().contains("no migration"), "{err}");

    // A database with events but no version predates versioning.
    set_schema(dir.path(), Some(SCHEMA_VERSION));
    open(dir.path())
        .insert_batch(&[ev(Source::Cloudtrail, "x", 1)])
        .unwrap();
    set_schema(dir.path(), None);
    let err = Store::open(dir.path(), OpenOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooOld { found: 0, .. }),
        "{err}"
    );
}

const CHILD_ENV: &str = "SKEIN_STORE_TEST_LOCK_CHILD";

/// Not a test of its own: when the lock test re-runs this binary with `CHILD_ENV` set, this
/// opens the store named there, says so, and holds it until its stdin closes.
#[test]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = open(Path::new(&dir));
    println!("LOCKED {}", std::process::id());
    std::io::stdout().flush().unwrap();
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    drop(store);
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_holder_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child exited before locking"
        );
        // libtest prints the test's name on the same line.
        if line.contains("LOCKED ") {
            break;
        }
    }
    let err = Store::open(&state, OpenOptions::default()).unwrap_err();
    let msg = err.to_string();
    match &err {
        StoreError::Locked { dir, holder } => {
            assert_eq!(dir, &state);
            assert_eq!(holder.pid, Some(child.id()));
            assert!(holder.command.is_some() && holder.since.is_some());
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(
        msg.starts_with(&format!(
            "state directory {} is in use by pid {} (",
            state.display(),
            child.id()
        )),
        "{msg}"
    );
    assert!(msg.contains(" since "), "{msg}");

    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    // Released with the process.
    drop(open(&state));
}

#[test]
fn a_second_store_in_the_same_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    match Store::open(dir.path(), OpenOptions::default()) {
        Err(StoreError::Locked { holder, .. }) => {
            assert_eq!(holder.pid, Some(std::process::id()))
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    drop(open(dir.path()));
}

#[cfg(unix)]
#[test]
fn state_directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();

    let fresh = dir.path().join("a/b/state");
    let store = open(&fresh);
    assert_eq!(mode(&fresh), 0o700);
    assert!(store.notices().is_empty());
    assert_eq!(mode(&fresh.join("skein.lock")), 0o600);
    drop(store);

    // An existing directory that holds only skein's files (and a README) is tightened.
    let repo_state = dir.path().join("repo-state");
    std::fs::create_dir(&repo_state).unwrap();
    std::fs::write(repo_state.join("README.md"), "state lives here\n").unwrap();
    std::fs::set_permissions(&repo_state, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = open(&repo_state);
    assert_eq!(mode(&repo_state), 0o700);
    assert!(store.notices().is_empty());
    drop(store);
    assert_eq!(
        std::fs::read_to_string(repo_state.join("README.md")).unwrap(),
        "state lives here\n"
    );

    // Somebody else's directory is left alone, with a notice.
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("notes.txt"), "mine").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = open(&shared);
    assert_eq!(mode(&shared), 0o755);
    assert_eq!(store.notices().len(), 1);
    assert!(store.notices()[0].contains("0755"), "{:?}", store.notices());
}

#[test]
fn stats_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .insert_batch(&[
            signin("1", 1, "alice@contoso.com", "203.0.113.5"),
            ev(Source::Cloudtrail, "2", 2),
        ])
        .unwrap();
    let json = serde_json::to_value(store.stats().unwrap()).unwrap();
    assert_eq!(
        json["events"],
        serde_json::json!({"entra_signin": 1, "storage_blob": 0, "cloudtrail": 1})
    );
    assert_eq!(json["findings"], 0);
    assert_eq!(json["cases"], 0);
    assert_eq!(json["quarantined"], 0);
    assert_eq!(json["schema_version"], SCHEMA_VERSION);
    assert_eq!(json["entities"]["user"], 1);
    assert_eq!(json["sources"]["entra_signin"]["count"], 1);
    assert!(json["size_on_disk"].as_u64().unwrap() > 0);
    let text = serde_json::to_string(&store.stats().unwrap()).unwrap();
    assert!(
        text.starts_with(r#"{"events":{"entra_signin":1,"storage_blob":0,"cloudtrail":1},"findings":0,"cases":0,"#),
        "{text}"
    );
}

#[test]
fn a_state_path_that_is_a_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = Store::open(&file, OpenOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn a_store_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    std::thread::scope(|s| {
        for n in 0..2 {
            let store = &store;
            s.spawn(move || {
                let batch: Vec<Event> = (0..50)
                    .map(|i| ev(Source::Cloudtrail, &format!("{}", i + n * 25), i))
                    .collect();
                store.insert_batch(&batch).unwrap();
            });
        }
    });
    // 75 distinct ids across both threads, each counted once.
    assert_eq!(store.stats().unwrap().events[&Source::Cloudtrail], 75);
    assert_eq!(store.events_in_range(None, None, None).count(), 75);
}

/// sled can hold its own file lock for a moment after a handle is dropped (its background
/// threads let go asynchronously). `Store::open` holds `skein.lock`, so such contention can only
/// be that lingering release and must be waited out, not reported.
#[test]
fn a_sled_lock_released_shortly_after_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let held = open_sled(dir.path());
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(held);
    });
    let store = Store::open(dir.path(), OpenOptions::default());
    release.join().unwrap();
    assert!(store.is_ok(), "{:?}", store.err());
}
