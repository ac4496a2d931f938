//! The rules shipped in `correlations/` load without a single diagnostic.

use std::path::{Path, PathBuf};

use skein_rules::{load, SourceText};

fn files(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
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

fn texts(dir: &Path, ext: &[&str]) -> Vec<SourceText> {
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

#[test]
fn shipped_rules_load_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../correlations");
    let loaded = load(
        &texts(&root.join("rules"), &["yml", "yaml"]),
        &texts(&root.join("lists"), &["txt"]),
    );
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    assert!(loaded.diagnostics.is_empty());
    let ids: Vec<&str> = loaded.rules.rules().iter().map(|r| r.id.as_str()).collect();
    for id in [
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
    ] {
        assert!(ids.contains(&id), "{id} not loaded: {ids:?}");
    }
    assert!(!loaded.rules.needs_raw(), "shipped rules must not need raw");
}
