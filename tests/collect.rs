//! `skein collect` and `skein sweep` as a user runs them, against the fake Entra ID / Graph
//! server of `skein-fakes` (HTTPS with a test CA): a run killed with SIGKILL and resumed gets
//! exactly the events of an uninterrupted run; SIGTERM stops after the page and saves the
//! cursor; the client secret never appears in the output (at the most verbose log level) or
//! in the state; a sweep correlates and exports the new cases, and the next one exports
//! nothing when nothing changed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use skein_fakes::azure::signin;
use skein_fakes::{Background, Fault};
use skein_model::Source;

use crate::util::{repo_root, Skein};

const SECRET: &str = "Sup3r-s3cret-client-value-Xq7";

/// Writes `skein.toml` (and the test CA) into the test's directory.
fn write_config(sk: &Skein, fake: &Background, page_size: u32) -> PathBuf {
    let dir = sk.dir.path();
    std::fs::write(dir.join("ca.pem"), &fake.ca_pem).unwrap();
    let text = format!(
        r#"
[[sources.entra]]
name = "contoso"
tenant_id = "11111111-2222-3333-4444-555555555555"
client_id = "app-1"
client_secret_env = "SKEIN_TEST_SECRET"
graph_endpoint = "{base}"
authority_host = "{base}"
ca_file = "ca.pem"
page_size = {page_size}
rate_limit = {{ requests = 1000, per = "1s" }}

[http]
timeout = "5s"
backoff = "10ms"

[sweep]
lookback = "3650d"
export_dir = "exported"
export_formats = ["json", "md"]
rules = "{rules}"
"#,
        base = fake.base_url,
        rules = repo_root().join("correlations").display()
    );
    let path = dir.join("skein.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn t0() -> DateTime<Utc> {
    "2026-11-30T10:00:00Z".parse().unwrap()
}

/// `n` sign-ins a minute apart; every third a wrong password from one address (a spray).
fn signins(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            let spray = i % 3 == 0;
            signin(
                &format!("0a1b2c3d-0000-4000-8000-{i:012}"),
                t0() + chrono::Duration::seconds(i as i64 * 20),
                &format!("user{}@contoso.com", i % 17),
                if spray {
                    "203.0.113.66"
                } else {
                    "198.51.100.20"
                },
                if spray { 50126 } else { 0 },
            )
        })
        .collect()
}

fn collect_cmd(sk: &Skein, config: &Path, extra: &[&str]) -> Command {
    let mut c = sk.cmd(&["collect", "--no-progress", "--config"]);
    c.arg(config).args(extra);
    c.env("SKEIN_TEST_SECRET", SECRET);
    c
}

/// The ids of the stored sign-ins among `expected`.
fn stored_ids(state: &Path, expected: &[serde_json::Value]) -> Vec<String> {
    let store = skein_store::Store::open(state, skein_store::OpenOptions::default()).unwrap();
    expected
        .iter()
        .filter_map(|v| v["id"].as_str())
        .filter(|id| store.get_event(Source::EntraSignin, id).unwrap().is_some())
        .map(str::to_string)
        .collect()
}

fn signin_count(sk: &Skein) -> u64 {
    sk.stats()["events"]["entra_signin"].as_u64().unwrap()
}

#[test]
fn a_collection_killed_mid_way_resumes_with_exactly_the_events_of_a_whole_run() {
    let fake = Background::start();
    let all = signins(60);
    fake.add_signins(all.clone());

    // The uninterrupted run.
    let whole = Skein::new();
    let config = write_config(&whole, &fake, 5);
    let out = collect_cmd(&whole, &config, &[]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(signin_count(&whole), 60);

    // The killed one: every page slow, SIGKILL once a few pages are in.
    let killed = Skein::new();
    let config = write_config(&killed, &fake, 5);
    for _ in 0..12 {
        fake.push_fault(Fault::Slow(Duration::from_millis(250)));
    }
    let before = fake.api_requests().len();
    let mut child = collect_cmd(&killed, &config, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.api_requests().len() < before + 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = stored_ids(&killed.state(), &all).len();
    assert!(
        (1..60).contains(&partial),
        "killed mid-way: {partial} of 60 stored"
    );

    // Resumed from the cursor, not from the start: at most the page in flight is read
    // again; exactly the whole run's events.
    let out = collect_cmd(&killed, &config, &[]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let again: u64 = line
        .split(" new, ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counts in {line}"));
    assert!(
        again <= 5,
        "read again more than the page in flight: {line}"
    );
    assert_eq!(signin_count(&killed), 60);
    assert_eq!(stored_ids(&killed.state(), &all).len(), 60);
    assert_eq!(killed.stats()["events"], whole.stats()["events"]);
}

#[test]
fn sigterm_stops_after_the_page_and_the_next_run_continues() {
    let fake = Background::start();
    let all = signins(40);
    fake.add_signins(all.clone());
    let sk = Skein::new();
    let config = write_config(&sk, &fake, 5);
    for _ in 0..8 {
        fake.push_fault(Fault::Slow(Duration::from_millis(300)));
    }
    let before = fake.api_requests().len();
    let child = collect_cmd(&sk, &config, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.api_requests().len() < before + 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("stopping after the page in progress"),
        "{stderr}"
    );
    assert!(
        stdout.contains("entra/contoso") && stdout.contains("stopped"),
        "{stdout}"
    );
    let first = stored_ids(&sk.state(), &all).len();
    assert!((5..40).contains(&first), "{first}");

    let stdout =
        String::from_utf8(collect_cmd(&sk, &config, &[]).output().unwrap().stdout).unwrap();
    assert!(stdout.contains("complete"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} new, 0 already stored", 40 - first)),
        "{stdout}"
    );
    assert_eq!(signin_count(&sk), 40);
}

#[test]
fn the_client_secret_never_appears_in_output_or_state() {
    let fake = Background::start();
    fake.add_signins(signins(12));
    let sk = Skein::new();
    let config = write_config(&sk, &fake, 5);
    fake.push_fault(Fault::ServerError);
    fake.push_fault(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    // At the most verbose level, a successful run...
    let ok = collect_cmd(&sk, &config, &["-vv"])
        .env("SKEIN_LOG", "trace")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // ...and a failing one (the token endpoint refuses the secret).
    fake.fail_tokens(Some(401));
    let other = Skein::new();
    let config2 = write_config(&other, &fake, 5);
    let failed = collect_cmd(&other, &config2, &["-vv"])
        .env("SKEIN_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let failed_err = String::from_utf8_lossy(&failed.stderr);
    assert!(failed_err.contains("authentication failed"), "{failed_err}");
    // The secret did reach the token endpoint (so the test would see it if it leaked)...
    assert!(fake.token_requests().iter().any(|b| b.contains(SECRET)));
    // ...and nowhere else.
    for out in [&ok, &failed] {
        for text in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(text);
            assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
            assert!(
                !text.contains(skein_fakes::azure::ACCESS_TOKEN),
                "the token leaked:\n{text}"
            );
        }
    }
    for entry in walk(&sk.state()).into_iter().chain(walk(&other.state())) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret is in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_sweep_collects_correlates_and_exports_what_changed() {
    let fake = Background::start();
    fake.add_signins(signins(45));
    let sk = Skein::new();
    let config = write_config(&sk, &fake, 20);
    // Every sweep re-reads everything (an overlap of years), so late data of any age is
    // picked up: what changes a case here.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[sweep]\n", "[sweep]\noverlap = \"3650d\"\n"),
    )
    .unwrap();
    let sweep = |extra: &[&str]| {
        let mut c = sk.cmd(&["sweep", "--no-progress", "--config"]);
        c.arg(&config).args(extra).env("SKEIN_TEST_SECRET", SECRET);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = sweep(&[]);
    assert_eq!(first.lines().count(), 1, "one summary line: {first}");
    assert!(
        first.starts_with("sweep ") && first.contains("45 new events"),
        "{first}"
    );
    let exported = sk.dir.path().join("exported");
    let files: Vec<String> = std::fs::read_dir(&exported)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("C-") && f.ends_with(".json")),
        "{files:?}"
    );
    assert!(files.iter().any(|f| f.ends_with(".md")), "{files:?}");
    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            exported.join(
                files
                    .iter()
                    .find(|f| f.starts_with("C-") && f.ends_with(".json"))
                    .unwrap(),
            ),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(case.to_string().contains("password-spray"), "{case}");

    // Nothing new: nothing exported.
    let second = sweep(&[]);
    assert!(
        second.contains("0 new events (45 already stored)"),
        "{second}"
    );
    assert!(second.contains("exported 0 case(s)"), "{second}");

    // Other formats: every case again in each, side by side (STIX and OCSF are JSON too),
    // and the Markdown files no longer configured are removed.
    let third = sweep(&["--format", "json,stix,ocsf"]);
    assert!(
        third.contains("as 3 file(s)") && third.contains("removed 1 file(s)"),
        "{third}"
    );
    let mut files: Vec<String> = std::fs::read_dir(&exported)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with("C-"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(
        files[0].ends_with(".json") && files[1].ends_with(".ocsf.json"),
        "{files:?}"
    );
    assert!(files[2].ends_with(".stix.json"), "{files:?}");
    let stix: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(exported.join(&files[2])).unwrap()).unwrap();
    assert_eq!(stix["type"], "bundle");

    // More of the spray arrives: the case changes and is exported again.
    fake.add_signins((0..6).map(|i| {
        signin(
            &format!("0a1b2c3d-0000-4000-9000-{i:012}"),
            t0() + chrono::Duration::minutes(16) + chrono::Duration::seconds(i * 20),
            &format!("late{i}@contoso.com"),
            "203.0.113.66",
            50126,
        )
    }));
    let fourth = sweep(&["--format", "json,stix,ocsf"]);
    assert!(fourth.contains("6 new events"), "{fourth}");
    assert!(
        fourth.contains("exported 1 case(s) as 3 file(s)"),
        "{fourth}"
    );
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(exported.join(&files[0])).unwrap()).unwrap();
    assert!(case.to_string().contains("late5@contoso.com"), "{case}");
}

#[test]
fn configuration_mistakes_are_usage_errors() {
    let sk = Skein::new();
    let missing = sk.run(&["collect", "--config", "/nonexistent/skein.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no configuration file"));
    let path = sk.dir.path().join("skein.toml");
    std::fs::write(
        &path,
        "[[sources.entra]]\nname = \"a\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret_env = \"SKEIN_SURELY_UNSET_VAR\"\n",
    )
    .unwrap();
    let unset = sk.run(&["collect", "--config", path.to_str().unwrap()]);
    assert_eq!(unset.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unset.stderr);
    assert!(err.contains("SKEIN_SURELY_UNSET_VAR is not set"), "{err}");
    let wrong = sk.run(&[
        "collect",
        "--config",
        path.to_str().unwrap(),
        "--source",
        "b",
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("no source named `b`"));
}

#[test]
fn one_sweep_at_a_time_and_sigterm_ends_a_waiting_sweep() {
    let fake = Background::start();
    fake.add_signins(signins(6));
    let sk = Skein::new();
    let config = write_config(&sk, &fake, 20);
    let mut every = sk.cmd(&["sweep", "--no-progress", "--every", "1h", "--config"]);
    every
        .arg(&config)
        .env("SKEIN_TEST_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = every.spawn().unwrap();
    // Wait for the first sweep's summary line.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(
        first.starts_with("sweep ") && first.contains("6 new events"),
        "{first}"
    );

    // A second sweep on the same state is refused, naming the running one.
    let mut other = sk.cmd(&["sweep", "--no-progress", "--config"]);
    other.arg(&config).env("SKEIN_TEST_SECRET", SECRET);
    let out = other.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in use by"), "{err}");
    assert!(err.contains(&child.id().to_string()), "{err}");

    // SIGTERM while it waits for the next tick: it ends at once, successfully.
    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
