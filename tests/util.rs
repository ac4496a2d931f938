//! Helpers for the integration tests: run the `skein` binary against a private state directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The shared test data beside the checkout (`../shared/data`). Panics with a clear message
/// when it is missing, so a test can never pass by not finding its input.
pub fn shared_data() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        p.join("MANIFEST.md").is_file(),
        "shared test data not found at {} (clone the project with shared/ beside it)",
        p.display()
    );
    p
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary state directory and a way to run skein against it.
pub struct Skein {
    pub dir: tempfile::TempDir,
}

impl Skein {
    pub fn new() -> Skein {
        Skein {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A command for `skein --state <tmp>/state ARGS...`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_skein"));
        c.arg("--state").arg(self.state()).args(args);
        c.env_remove("SKEIN_STATE").env_remove("SKEIN_LOG");
        c.stdin(Stdio::null());
        c
    }

    /// Runs skein and returns its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running skein")
    }

    /// Runs skein and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "skein {args:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// `skein ingest --format json PATHS` parsed.
    pub fn ingest_json(&self, paths: &[&Path]) -> serde_json::Value {
        let mut args = vec!["ingest", "--format", "json"];
        let owned: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        args.extend(owned.iter().map(String::as_str));
        serde_json::from_str(&self.ok(&args)).expect("ingest --format json prints JSON")
    }

    /// `skein correlate --no-progress --format json --rules RULES EXTRA...` parsed.
    pub fn correlate_json(&self, rules: &Path, extra: &[&str]) -> serde_json::Value {
        let rules = rules.display().to_string();
        let mut args = vec!["correlate", "--no-progress", "--format", "json", "--rules"];
        args.push(&rules);
        args.extend_from_slice(extra);
        serde_json::from_str(&self.ok(&args)).expect("correlate --format json prints JSON")
    }

    /// `skein stats --format json` parsed.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["stats", "--format", "json"])).expect("stats JSON")
    }

    /// The quarantine file's records.
    pub fn quarantine(&self) -> Vec<serde_json::Value> {
        let path = self.state().join("quarantine.ndjson");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("quarantine lines are JSON"))
            .collect()
    }
}

/// `report["sources"][source][field]` as a number.
pub fn count(report: &serde_json::Value, source: &str, field: &str) -> u64 {
    report["sources"][source][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no sources.{source}.{field} in {report}"))
}
