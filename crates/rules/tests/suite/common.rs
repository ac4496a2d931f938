//! Helpers shared by the test modules: reading rule and list files.

use std::path::{Path, PathBuf};

use skein_rules::SourceText;

/// The files under `dir` (recursively) whose extension is one of `ext`.
pub fn files(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| ext.contains(&x))
        {
            out.push(p);
        }
    }
}

/// Those files, sorted, read as [`SourceText`]s.
pub fn texts(dir: &Path, ext: &[&str]) -> Vec<SourceText> {
    let mut paths = Vec::new();
    files(dir, ext, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| SourceText {
            text: std::fs::read_to_string(&p).unwrap(),
            path: p.display().to_string(),
        })
        .collect()
}

/// The ids of the rules shipped in `correlations/rules/`.
pub const SHIPPED_IDS: [&str; 14] = [
    "elastic-t1586-003",
    "logscale-t1586-003",
    "sumo-t1586-003",
    "qradar-t1586-003",
    "elastic-t1078-004",
    "risky-signin",
    "legacy-auth-signin",
    "high-risk-country-signin",
    "cross-tenant-single-factor",
    "anonymizing-proxy-signin",
    "password-spray",
    "impossible-travel",
    "oauth-blob-without-signin",
    "aws-recon-burst",
];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
