//! `skein correlate`: every rule over the stored events, findings into the store.
//!
//! Events are read without their original record unless a rule needs it (`ReadMode`), chunk
//! by chunk on every core; each thread evaluates the rules over its chunks and the findings
//! are written in one pass at the end, per rule, so that the summary can say what each rule
//! added. Finding ids are stable, so a second run adds nothing.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;
use skein_model::Finding;
use skein_rules::{EvalStats, RuleSet};
use skein_store::{ReadMode, Store};

use crate::cli::{CorrelateArgs, ReportFormat};
use crate::progress::{peak_rss_mib, Progress};
use crate::rules_dir;

/// Findings stored per sled transaction: measured on 116k findings, larger transactions are
/// slower and hold more memory (5k: 7.4 s, 865 MiB peak; 20k: 8.5 s, 973 MiB; 1k: 7.1 s,
/// 790 MiB).
const FINDINGS_PER_BATCH: usize = 1_000;

/// One rule's line of the summary.
struct RuleLine {
    id: String,
    matched: u64,
    inserted: u64,
    updated: u64,
    suppressed: Vec<(String, u64)>,
}

pub fn run(state: &Path, args: CorrelateArgs) -> Result<()> {
    let rd = rules_dir::read_for_running(&args.rules.dir)?;
    let rules = &rd.loaded.rules;
    if !state.join(skein_store::DB_DIR).exists() {
        return Err(crate::UsageError(format!(
            "no skein state in {} (run `skein ingest` first, or pass --state)",
            state.display()
        ))
        .into());
    }
    let store = Store::open(state, crate::store_options())
        .with_context(|| format!("opening state directory {}", state.display()))?;
    let per_source = store.stats().context("reading store statistics")?.events;
    let stored: u64 = per_source.values().sum();
    let sources = rules.sources();
    let total: u64 = sources
        .iter()
        .map(|s| per_source.get(s).copied().unwrap_or(0))
        .sum();
    let progress = Progress::events(total, !args.no_progress);
    let started = Instant::now();
    let eval_nanos = AtomicU64::new(0);
    let (findings, stats, scanned) =
        evaluate(&store, rules, &sources, &args, &progress, &eval_nanos)?;
    progress.finish();
    let elapsed = started.elapsed();

    let mut lines = Vec::new();
    let found = findings.len();
    let storing = Instant::now();
    let mut by_rule: std::collections::HashMap<String, Vec<Finding>> =
        std::collections::HashMap::new();
    for f in findings {
        by_rule.entry(f.rule.clone()).or_default().push(f);
    }
    for (i, rule) in rules.rules().iter().enumerate() {
        let mine = by_rule.remove(&rule.id).unwrap_or_default();
        // In batches: one sled transaction per batch keeps memory bounded.
        let mut outcome = skein_store::FindingsOutcome::default();
        for batch in mine.chunks(FINDINGS_PER_BATCH) {
            let o = store
                .put_findings(batch)
                .with_context(|| format!("storing the findings of {}", rule.id))?;
            outcome.inserted += o.inserted;
            outcome.updated += o.updated;
            outcome.unchanged += o.unchanged;
        }
        drop(mine);
        let counts = &stats.per_rule[i];
        lines.push(RuleLine {
            id: rule.id.clone(),
            matched: counts.matched,
            inserted: outcome.inserted,
            updated: outcome.updated,
            suppressed: rule
                .allow
                .iter()
                .zip(&counts.suppressed)
                .filter(|(_, n)| **n > 0)
                .map(|(b, n)| (format!("{} ({})", b.list, b.field), *n))
                .collect(),
        });
    }
    let store_secs = storing.elapsed().as_secs_f64();
    if args.timings {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let eval_secs = (eval_nanos.load(Ordering::Relaxed) as f64 / 1e9).max(1e-9);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        eprintln!(
            "correlate: {stored} stored events in {secs:.2}s = {:.0} events/s end to end \
             (read {scanned} of them, of the sources the rules need, = {:.0} events/s); rule \
             evaluation alone {:.0} events/s per core, {:.0} on {threads} cores; storing \
             {found} findings {store_secs:.2}s more; peak memory {} MiB",
            stored as f64 / secs,
            scanned as f64 / secs,
            scanned as f64 / eval_secs,
            scanned as f64 / eval_secs * threads as f64,
            peak_rss_mib().map_or("?".into(), |m| m.to_string())
        );
    }
    report(&args, &lines, scanned, found, elapsed.as_secs_f64())
}

/// Scans the store and evaluates every rule; returns the findings sorted by time and id.
fn evaluate(
    store: &Store,
    rules: &RuleSet,
    sources: &[skein_model::Source],
    args: &CorrelateArgs,
    progress: &Progress,
    eval_nanos: &AtomicU64,
) -> Result<(Vec<Finding>, EvalStats, u64)> {
    let mode = if rules.needs_raw() {
        ReadMode::Full
    } else {
        ReadMode::WithoutRaw
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let shared: Mutex<(Vec<Finding>, EvalStats)> = Mutex::new((Vec::new(), rules.new_stats()));
    let scan = store
        .scan_chunks_of(sources, args.since, args.until, mode, threads, |events| {
            let mut found = Vec::new();
            let mut stats = rules.new_stats();
            let started = Instant::now();
            let mut memo = rules.memo();
            for e in &events {
                rules.evaluate_with(&mut memo, e, &mut found, &mut stats);
            }
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            eval_nanos.fetch_add(nanos, Ordering::Relaxed);
            progress.advance(events.len() as u64);
            let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
            guard.0.append(&mut found);
            guard.1.merge(&stats);
        })
        .context("reading events from the store")?;
    let (mut findings, stats) = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    findings.sort_by(|a, b| (a.first_seen, &a.id).cmp(&(b.first_seen, &b.id)));
    Ok((findings, stats, scan.events))
}

fn report(
    args: &CorrelateArgs,
    lines: &[RuleLine],
    scanned: u64,
    found: usize,
    secs: f64,
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let inserted: u64 = lines.iter().map(|l| l.inserted).sum();
    match args.format {
        ReportFormat::Json => {
            let v = json!({
                "events": scanned,
                "findings": found,
                "new_findings": inserted,
                "seconds": secs,
                "rules": lines.iter().map(|l| json!({
                    "rule": l.id, "matched": l.matched, "new": l.inserted, "updated": l.updated,
                    "suppressed": l.suppressed.iter().map(|(k, n)| (k.clone(), json!(n)))
                        .collect::<serde_json::Map<_, _>>(),
                })).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            let w = lines.iter().map(|l| l.id.len()).max().unwrap_or(4).max(4);
            writeln!(
                out,
                "{:<w$}  {:>8}  {:>6}  SUPPRESSED BY ALLOW-LISTS",
                "RULE", "MATCHED", "NEW"
            )?;
            for l in lines {
                let suppressed = if l.suppressed.is_empty() {
                    "-".to_string()
                } else {
                    l.suppressed
                        .iter()
                        .map(|(k, n)| format!("{n} by {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                writeln!(
                    out,
                    "{:<w$}  {:>8}  {:>6}  {suppressed}",
                    l.id, l.matched, l.inserted
                )?;
            }
            writeln!(
                out,
                "correlated {scanned} events (of the sources the rules read) in {secs:.1}s: {found} findings, {inserted} new"
            )?;
        }
    }
    Ok(())
}
