//! `skein stats`: what the store holds.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use skein_store::{Store, StoreStats};

use crate::cli::{ReportFormat, StatsArgs};

pub fn run(state: &Path, args: StatsArgs) -> Result<()> {
    if !state.join("db").exists() {
        return Err(crate::UsageError(format!(
            "no skein state in {} (run `skein ingest` first, or pass --state)",
            state.display()
        ))
        .into());
    }
    let store = Store::open(state, crate::store_options())
        .with_context(|| format!("opening state directory {}", state.display()))?;
    let stats = store.stats().context("reading store statistics")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &stats)?;
            writeln!(out)?;
        }
        ReportFormat::Text => write_text(&mut out, &stats, state)?,
    }
    Ok(())
}

/// The human-readable form: events per source with their time span, then the rest.
fn write_text(out: &mut impl Write, stats: &StoreStats, state: &Path) -> std::io::Result<()> {
    writeln!(
        out,
        "state {} (schema {}, {} on disk)",
        state.display(),
        stats.schema_version,
        human_bytes(stats.size_on_disk)
    )?;
    writeln!(
        out,
        "{:<14} {:>12}  {:<27} {:<27}",
        "source", "events", "first", "last"
    )?;
    for (source, s) in &stats.sources {
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(
                || "-".to_string(),
                |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )
        };
        writeln!(
            out,
            "{:<14} {:>12}  {:<27} {:<27}",
            source.as_str(),
            s.count,
            time(s.first),
            time(s.last)
        )?;
    }
    let entities: Vec<String> = stats
        .entities
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(ty, n)| format!("{ty} {n}"))
        .collect();
    writeln!(
        out,
        "entities: {}",
        if entities.is_empty() {
            "none".to_string()
        } else {
            entities.join(", ")
        }
    )?;
    writeln!(
        out,
        "findings: {}  cases: {}  quarantined records: {}",
        stats.findings, stats.cases, stats.quarantined
    )?;
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
