//! Reading a correlations directory (or a plain directory of Sigma files) into memory for
//! `skein-rules`, which does no IO itself.
//!
//! A correlations directory has `rules/` (Sigma YAML, any depth), `lists/` (`*.txt`) and
//! `fixtures/` (`<rule-id>.yml`). Any other directory is read as third-party Sigma rules
//! (every `*.yml` / `*.yaml` below it) with no lists and no fixtures.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use skein_rules::load::Loaded;
use skein_rules::{load, SourceText};

/// What a directory holds, loaded.
pub struct RulesDir {
    pub root: PathBuf,
    /// True for a correlations directory (`rules/` present).
    pub is_correlations: bool,
    pub loaded: Loaded,
    pub fixtures: Vec<SourceText>,
    /// Identifies the rules and lists (their names relative to the directory and their
    /// texts): correlation state saved under another fingerprint is not reused.
    pub fingerprint: String,
}

/// FNV-1a/64 over skein's version and every rule and list file's relative name and text
/// (another build may evaluate the same rules differently). Written out because it is a
/// dozen lines and only has to notice a change, not resist one.
fn fingerprint(root: &Path, files: &[&SourceText]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let root = root.display().to_string();
    let build = SourceText {
        path: root.clone() + "skein-version",
        text: env!("CARGO_PKG_VERSION").to_string(),
    };
    for f in std::iter::once(&build).chain(files.iter().copied()) {
        let name = f.path.strip_prefix(&root).unwrap_or(&f.path);
        for b in name.bytes().chain([0]).chain(f.text.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn collect(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading directory {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading directory {}", dir.display()))?
            .path();
        if path.is_dir() {
            collect(&path, exts, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The files under `dir` with one of `exts`, sorted, read as text. A missing `dir` is empty.
fn texts(dir: &Path, exts: &[&str]) -> Result<Vec<SourceText>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    collect(dir, exts, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            Ok(SourceText {
                path: p.display().to_string(),
                text,
            })
        })
        .collect()
}

/// Reads and loads `dir`. A directory that does not exist is a usage error.
pub fn read(dir: &Path) -> Result<RulesDir> {
    if !dir.is_dir() {
        return Err(crate::UsageError(format!(
            "rules directory {} does not exist (pass --rules DIR or set SKEIN_RULES)",
            dir.display()
        ))
        .into());
    }
    let rules_sub = dir.join("rules");
    let is_correlations = rules_sub.is_dir();
    let (rules, lists, fixtures) = if is_correlations {
        (
            texts(&rules_sub, &["yml", "yaml"])?,
            texts(&dir.join("lists"), &["txt"])?,
            texts(&dir.join("fixtures"), &["yml", "yaml"])?,
        )
    } else {
        (texts(dir, &["yml", "yaml"])?, Vec::new(), Vec::new())
    };
    let fingerprint = fingerprint(dir, &rules.iter().chain(&lists).collect::<Vec<_>>());
    Ok(RulesDir {
        root: dir.to_path_buf(),
        is_correlations,
        loaded: load(&rules, &lists),
        fixtures,
        fingerprint,
    })
}

/// Reads `dir` for running: any diagnostic is a configuration error (exit 2) listing them.
pub fn read_for_running(dir: &Path) -> Result<RulesDir> {
    let rd = read(dir)?;
    if !rd.loaded.diagnostics.is_empty() {
        let list: Vec<String> = rd
            .loaded
            .diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect();
        return Err(crate::UsageError(format!(
            "the rules in {} have {} problem(s) (see `skein rules validate`):\n  {}",
            dir.display(),
            list.len(),
            list.join("\n  ")
        ))
        .into());
    }
    if rd.loaded.rules.is_empty() {
        return Err(crate::UsageError(format!("no rules in {}", dir.display())).into());
    }
    Ok(rd)
}
