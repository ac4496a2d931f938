//! The command line: demo corpus, idempotent re-ingest, stats, stdin, exit codes, the lock.

use std::io::Write;
use std::process::Stdio;

use crate::util::{count, repo_root, Skein};

fn demo_corpus() -> std::path::PathBuf {
    repo_root().join("corpus/demo")
}

/// The demo corpus's data folders (everything but `manifest.json`), as `make demo` passes them.
fn demo_inputs() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(demo_corpus())
        .expect("corpus/demo")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn manifest_counts() -> serde_json::Value {
    let text = std::fs::read_to_string(demo_corpus().join("manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("manifest JSON");
    m["events"]["by_source"].clone()
}

#[test]
fn demo_corpus_ingests_every_event_once_and_reingest_adds_nothing() {
    let skein = Skein::new();
    let inputs = demo_inputs();
    let inputs: Vec<&std::path::Path> = inputs.iter().map(|p| p.as_path()).collect();
    let first = skein.ingest_json(&inputs);
    let expected = manifest_counts();
    for source in ["entra_signin", "storage_blob", "cloudtrail"] {
        let want = expected[source].as_u64().expect("manifest count");
        assert!(want > 0, "demo corpus has {source} events");
        assert_eq!(count(&first, source, "accepted"), want, "{source} accepted");
        assert_eq!(count(&first, source, "rejected"), 0, "{source} rejected");
    }
    let stats = skein.stats();
    for source in ["entra_signin", "storage_blob", "cloudtrail"] {
        assert_eq!(stats["events"][source], expected[source], "stats {source}");
    }
    assert_eq!(stats["quarantined"], 0);
    assert_eq!(stats["findings"], 0);
    assert_eq!(stats["cases"], 0);

    let second = skein.ingest_json(&inputs);
    for source in ["entra_signin", "storage_blob", "cloudtrail"] {
        assert_eq!(count(&second, source, "accepted"), 0, "{source} re-ingest");
        assert_eq!(
            count(&second, source, "duplicate"),
            expected[source].as_u64().unwrap_or_default(),
            "{source} duplicates"
        );
    }
    assert_eq!(
        skein.stats()["events"],
        stats["events"],
        "re-ingest changed the store"
    );
}

#[test]
fn bundled_demo_corpus_is_the_generator_output() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = skein_testkit::CorpusConfig {
        events: 2000,
        seed: 7,
        ..skein_testkit::CorpusConfig::default()
    };
    skein_testkit::generate(&cfg, dir.path(), |_| {}).expect("generate");
    let mut bundled = Vec::new();
    for entry in walk(&demo_corpus()) {
        let rel = entry
            .strip_prefix(demo_corpus())
            .expect("prefix")
            .to_path_buf();
        bundled.push(rel);
    }
    let mut fresh = Vec::new();
    for entry in walk(dir.path()) {
        fresh.push(
            entry
                .strip_prefix(dir.path())
                .expect("prefix")
                .to_path_buf(),
        );
    }
    assert_eq!(
        bundled, fresh,
        "same files (run `make demo-corpus` to refresh)"
    );
    for rel in bundled {
        let a = std::fs::read(demo_corpus().join(&rel)).expect("read bundled");
        let b = std::fs::read(dir.path().join(&rel)).expect("read fresh");
        assert!(
            a == b,
            "{} differs from the generator output",
            rel.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn stdin_is_read_with_a_dash() {
    let skein = Skein::new();
    let record = r#"{"eventVersion":"1.08","eventTime":"2024-05-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0","eventID":"11111111-2222-3333-4444-555555555555","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accessKeyId":"AKIAEXAMPLE0001"}}"#;
    let mut child = skein
        .cmd(&["ingest", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(record.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(count(&report, "cloudtrail", "accepted"), 1);
    assert!(
        out.stderr.is_empty(),
        "nothing extra on stderr in a pipe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2_and_runtime_errors_exit_1() {
    let skein = Skein::new();
    let out = skein.run(&["ingest"]);
    assert_eq!(out.status.code(), Some(2), "missing PATH is a usage error");
    let out = skein.run(&["stats"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stats without state is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no skein state"));
    let out = skein.run(&["ingest", "/nonexistent/path/for/skein"]);
    assert_eq!(out.status.code(), Some(2), "a missing input path");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/path/for/skein"));
}

#[test]
fn a_second_writer_is_told_who_holds_the_state() {
    let skein = Skein::new();
    // The first process holds the lock while it waits for stdin.
    let mut holder = skein
        .cmd(&["ingest", "-v", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn holder");
    let lock = skein.state().join("skein.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // The lock names the holder before its database exists; `stats` first checks that there
    // is a database at all, so wait for both.
    let db = skein.state().join("db");
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains(&holder.id().to_string()))
        || !db.exists()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "holder never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = skein.run(&["stats"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&holder.id().to_string()) && stderr.contains("in use"),
        "the error names the holder's pid: {stderr}"
    );
    drop(holder.stdin.take());
    let status = holder.wait().expect("holder exits");
    assert!(status.success());
    // Once released, the state opens again.
    skein.ok(&["stats"]);
}

/// `skein findings --format ndjson | head -1`: a reader that stops early is success, also
/// when the output is JSON written straight to the pipe (serde_json wraps the io error).
#[test]
fn a_closed_output_pipe_is_success_in_every_format() {
    let skein = Skein::new();
    let inputs = demo_inputs();
    let inputs: Vec<&std::path::Path> = inputs.iter().map(|p| p.as_path()).collect();
    skein.ingest_json(&inputs);
    skein.correlate_json(&repo_root().join("correlations"), &[]);
    let commands: [&[&str]; 5] = [
        &["findings", "--format", "ndjson"],
        &["findings", "--format", "json"],
        &["findings", "--format", "csv"],
        &["cases", "export", "--format", "ndjson"],
        &["cases", "list", "--format", "json"],
    ];
    for args in commands {
        let mut child = skein
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes away before the first byte is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} says nothing: {stderr}");
    }
}
