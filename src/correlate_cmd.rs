//! `skein correlate`: every rule over the stored events, findings into the store.
//!
//! Events are read in time slices, each slice chunk by chunk on every core, without their
//! original record unless a rule needs it (`ReadMode`). Each thread evaluates the per-event
//! rules over its chunks: their findings, and the signals their matches give multi-event
//! rules. A slice's signals are then sorted and fed to the [`Correlator`] in time order, so
//! memory holds one slice's signals plus the correlations' window state, whatever the size
//! of the store. Where the run starts (from nothing, or from the state saved by the previous
//! run) is decided by [`correlate_plan`]. Finding ids are stable, so a second run adds nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use skein_model::Source;
use skein_rules::{Correlator, EvalStats, RuleSet, Signal};
use skein_store::{FindingRecord, PerThread, ReadMode, Store};

use crate::cli::{CorrelateArgs, ReportFormat};
use crate::correlate_plan::{self, Plan, Start};
use crate::correlate_sink::{RuleLine, Sink};
use crate::progress::{peak_rss_mib, Progress};
use crate::rules_dir;

/// Length of a time slice: long enough that a slice is many chunks (parallel reading pays),
/// short enough that its signals stay small. Stores spanning years get longer slices (at
/// most [`MAX_SLICES`]).
const SLICE_HOURS: i64 = 6;
const MAX_SLICES: i64 = 2_000;

/// What evaluating the events gave (the findings went to the [`Sink`] slice by slice).
struct Evaluated {
    stats: EvalStats,
    scanned: u64,
    watermark: Option<DateTime<Utc>>,
    /// The exact watermark of the restored state (`None`: not resumed). Not the checkpoint's
    /// name, which is floored to the microsecond while event times keep nanoseconds.
    resumed_after: Option<DateTime<Utc>>,
    state: Vec<u8>,
    window_state: usize,
    /// Signals fed to the multi-event rules, and the time spent on them (one thread).
    signals: u64,
    correlate_secs: f64,
}

fn start_text(plan: &Plan) -> String {
    match &plan.start {
        Start::Full { why } => format!("full run ({why})"),
        Start::Resume {
            from, new_events, ..
        } => format!(
            "incremental: {new_events} new events, resuming from the state at {}",
            from.to_rfc3339()
        ),
        Start::NothingNew => "nothing ingested since the last run".into(),
        Start::Bounded => "bounded run (--since/--until): nothing saved for the next run".into(),
    }
}

pub fn run(state: &Path, args: CorrelateArgs) -> Result<()> {
    let started = Instant::now();
    let exists = state.join(skein_store::DB_DIR).exists();
    // The rules are read while the state opens (sled loads its page table, the longest step
    // of a small run). A rules error is still reported first.
    let (rd, store) = std::thread::scope(|scope| {
        let opening = exists.then(|| scope.spawn(|| Store::open(state, crate::store_options())));
        let rd = rules_dir::read_for_running(&args.rules.dir);
        tracing::debug!("rules read in {:.2}s", started.elapsed().as_secs_f64());
        let store = opening.map(|o| o.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (rd, store)
    });
    let rd = rd?;
    let Some(store) = store else {
        return Err(crate::UsageError(format!(
            "no skein state in {} (run `skein ingest` first, or pass --state)",
            state.display()
        ))
        .into());
    };
    let store = store.with_context(|| format!("opening state directory {}", state.display()))?;
    tracing::debug!("state opened at {:.2}s", started.elapsed().as_secs_f64());
    // Without --config, the settings the stored cases were built with (the last sweep's).
    let case_config = match &args.config {
        Some(path) => crate::collect_cmd::load_config(path)?.cases,
        None => crate::cases_cmd::stored_settings(&store)?,
    };
    correlate(&store, &rd, &args, &case_config, true)?;
    // `main` exits right after this command (see `Store::close_at_exit`).
    store.close_at_exit().context("closing the state")
}

/// What a `correlate` run changed, for the sweep's summary.
#[derive(Debug, Default)]
pub struct Correlated {
    pub new_findings: u64,
    pub updated_findings: u64,
    pub cases: Option<(usize, skein_store::CasesOutcome)>,
}

/// Correlates the store's new events (or all of them, as `args` and the saved state say),
/// stores the findings and updates the cases; prints the report when `print`.
pub fn correlate(
    store: &Store,
    rd: &rules_dir::RulesDir,
    args: &CorrelateArgs,
    case_config: &skein_collect::config::CasesConfig,
    print: bool,
) -> Result<Correlated> {
    let rules = &rd.loaded.rules;
    let planning = Instant::now();
    let mut plan = correlate_plan::plan(store, &rd.fingerprint, args)?;
    tracing::debug!("planned in {:.2}s", planning.elapsed().as_secs_f64());
    std::thread::scope(|scope| -> Result<Correlated> {
        // The index of stored findings, which storing this run's findings needs first, is
        // loaded on a thread of its own while the saved state is restored and the new events
        // are read (a sweep spent 0.05–0.14 s loading it, and restoring takes ~0.02 s; the
        // first write waits for it on the index's lock). Its errors are the first write's
        // to report. (A full run loads it while reading, on the thread that stores
        // findings.)
        let warming = matches!(plan.start, Start::Resume { .. })
            .then(|| scope.spawn(|| store.load_finding_index()));
        // The stored cases' index entries, which an incremental run's case update starts
        // from, are read meanwhile too (~0.01 s of a ~0.25 s sweep; nothing writes cases
        // before that update).
        let case_indexes = matches!(plan.start, Start::Resume { .. })
            .then(|| scope.spawn(|| crate::cases_cmd::stored_indexes(store)));
        let correlator = match &plan.start {
            Start::Resume { state, .. } => {
                match Correlator::restore(rules, &rd.fingerprint, state) {
                    Ok(c) => c,
                    Err(e) => {
                        // A state this build cannot read (written by another version, or
                        // damaged) costs a full run, never a failed one.
                        tracing::warn!(
                            "the saved correlation state is unusable ({e}); running in full"
                        );
                        plan.start = Start::Full {
                            why: format!("the saved correlation state could not be read: {e}"),
                        };
                        Correlator::new(rules, &rd.fingerprint)
                    }
                }
            }
            _ => Correlator::new(rules, &rd.fingerprint),
        };
        tracing::debug!(
            "window state restored at {:.2}s",
            planning.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        if matches!(plan.start, Start::NothingNew) {
            // Nothing new to correlate; the cases are rebuilt only if their settings changed.
            let cases = if crate::cases_cmd::settings_changed(store, case_config)?
                || crate::cases_cmd::pending(store)?
            {
                Some(
                    crate::cases_cmd::update(store, rules, None, case_config)
                        .context("updating cases")?,
                )
            } else {
                None
            };
            if print {
                report(
                    args,
                    &plan,
                    &[],
                    0,
                    0,
                    cases.as_ref(),
                    started.elapsed().as_secs_f64(),
                )?;
            }
            return Ok(Correlated {
                cases,
                ..Correlated::default()
            });
        }
        let per_source = store.source_stats().context("reading store statistics")?;
        let stored: u64 = per_source.values().map(|s| s.count).sum();
        let sources = rules.sources();
        let eval_nanos = AtomicU64::new(0);
        // A previous run that stored findings and died before updating the cases: rebuild all.
        let cases_pending = crate::cases_cmd::pending(store)?;
        crate::cases_cmd::mark_pending(store)?;
        let mut sink = Sink::new(store, rules);
        let ev = evaluate(
            store,
            rules,
            correlator,
            &plan,
            &sources,
            args,
            &per_source,
            &eval_nanos,
            &mut sink,
        )?;
        if let Some(warming) = warming {
            match warming.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("loading the index of stored findings: {e}"),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let elapsed = started.elapsed();

        let storing = Instant::now();
        let total = sink.total;
        let store_nanos = sink.nanos;
        let (lines, touched) = sink.finish(&plan, ev.resumed_after, &ev.stats)?;
        // Correlating (reading, window state, storing findings) apart from the cases, which a
        // full run rebuilds from every finding.
        let correlating_peak = peak_rss_mib();
        tracing::debug!(
            "evaluated in {:.2}s, findings stored at {:.2}s (peak memory so far {} MiB)",
            elapsed.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            correlating_peak.unwrap_or(0)
        );
        let store_secs = storing.elapsed().as_secs_f64() + store_nanos as f64 / 1e9;
        let casing = Instant::now();
        // A full run (changed rules, --full) rebuilds every case too; otherwise only the cases
        // the run's changed findings touch. The cases are updated before the run's state is
        // saved: a run killed before the save is repeated, never skipped.
        let touched =
            (!matches!(plan.start, Start::Full { .. }) && !cases_pending).then_some(&touched);
        let read_before = case_indexes.map(|h| match h.join() {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        });
        let cases = crate::cases_cmd::update_with(store, rules, touched, case_config, read_before)
            .context("updating cases")?;
        let cases_secs = casing.elapsed().as_secs_f64();
        if matches!(plan.start, Start::Bounded) {
            correlate_plan::mark_partial(store)?;
        } else {
            let saving = Instant::now();
            correlate_plan::save(store, &rd.fingerprint, &plan, ev.watermark, &ev.state)?;
            tracing::debug!(
                "correlation state ({} KiB) saved in {:.2}s",
                ev.state.len() >> 10,
                saving.elapsed().as_secs_f64()
            );
        }
        if args.timings {
            let secs = elapsed.as_secs_f64().max(1e-9);
            let eval_secs = (eval_nanos.load(Ordering::Relaxed) as f64 / 1e9).max(1e-9);
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            let scanned = ev.scanned;
            eprintln!(
                "correlate: {stored} stored events in {secs:.2}s = {:.0} events/s end to end \
             (read {scanned} of them, of the sources the rules need, = {:.0} events/s); rule \
             evaluation alone {:.0} events/s per core, {:.0} on {threads} cores; multi-event \
             rules over {} signals in time order {:.2}s and storing findings {store_secs:.2}s, \
             on a thread overlapping the reading (window state at the end {} entries); peak \
             memory {} MiB while correlating, {} MiB with the cases; cases {cases_secs:.2}s",
                stored as f64 / secs,
                scanned as f64 / secs,
                scanned as f64 / eval_secs,
                scanned as f64 / eval_secs * threads as f64,
                ev.signals,
                ev.correlate_secs,
                ev.window_state,
                correlating_peak.map_or("?".into(), |m| m.to_string()),
                peak_rss_mib().map_or("?".into(), |m| m.to_string())
            );
        }
        if print {
            report(
                args,
                &plan,
                &lines,
                ev.scanned,
                total,
                Some(&cases),
                elapsed.as_secs_f64(),
            )?;
        }
        Ok(Correlated {
            new_findings: lines.iter().map(|l| l.inserted).sum(),
            updated_findings: lines.iter().map(|l| l.updated).sum(),
            cases: Some(cases),
        })
    })
}
/// A time bound of a slice (`None`: open).
type Bound = Option<DateTime<Utc>>;

/// The time slices to read: from the resume point (or the first stored event) to the last
/// stored event, each `[a, b)`; the last one open-ended.
fn slices(
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    sources: &[Source],
    stats: &BTreeMap<Source, skein_store::SourceStats>,
) -> Vec<(Bound, Bound)> {
    let spans = sources.iter().filter_map(|s| stats.get(s));
    let (first, last) = spans.fold(
        (None, None),
        |(lo, hi): (Option<DateTime<Utc>>, Option<DateTime<Utc>>), s| {
            (
                match (lo, s.first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
                match (hi, s.last) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                },
            )
        },
    );
    let (Some(first), Some(last)) = (first, last) else {
        return vec![(from, until)];
    };
    let begin = from.map_or(first, |f| f.max(first));
    let end = until.map_or(last, |u| u.min(last));
    let total = (end - begin).num_seconds().max(0);
    let step = TimeDelta::hours(SLICE_HOURS).max(TimeDelta::seconds(total / MAX_SLICES + 1));
    let mut out = Vec::new();
    let mut a = from;
    let mut b = begin + step;
    while b <= end {
        out.push((a, Some(b)));
        a = Some(b);
        b += step;
    }
    out.push((a, until));
    out
}

/// Reads the events (after the resume point, in time slices) and evaluates every rule.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    store: &Store,
    rules: &RuleSet,
    correlator: Correlator<'_>,
    plan: &Plan,
    sources: &[Source],
    args: &CorrelateArgs,
    stats: &BTreeMap<Source, skein_store::SourceStats>,
    eval_nanos: &AtomicU64,
    sink: &mut Sink<'_>,
) -> Result<Evaluated> {
    let mut correlator = correlator;
    // Exclusive: the saved state has seen every event up to its watermark.
    let after = match &plan.start {
        Start::Resume { .. } => correlator.watermark(),
        _ => None,
    };
    let from = match plan.start {
        Start::Bounded => args.since,
        _ => after,
    };
    let total: u64 = sources
        .iter()
        .filter_map(|s| stats.get(s))
        .map(|s| s.count)
        .sum();
    let progress = Progress::events(total, !args.no_progress);
    let mode = if rules.needs_raw() {
        ReadMode::Full
    } else {
        ReadMode::WithoutRaw
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut all_stats = rules.new_stats();
    let mut scanned = 0;
    let mut latest: Option<DateTime<Utc>> = None;
    // One slice is correlated and stored on a thread of its own while the next is read; the
    // channel holds one slice, so memory stays at about two slices' signals and findings.
    let (correlator, signal_count, correlate_secs) = std::thread::scope(|scope| -> Result<_> {
        // A slice's signals, and its per-event findings as stored (written straight to JSON
        // on the scanning threads that found them, see `SliceOnThread`).
        type Slice = (Vec<Vec<Signal>>, Vec<FindingRecord>);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Slice>(1);
        let sink = &mut *sink;
        let consumer = scope.spawn(move || -> Result<(Correlator<'_>, u64, f64)> {
            let (mut count, mut secs) = (0u64, 0f64);
            for (signals, records) in rx {
                let mut found = Vec::new();
                let started = Instant::now();
                count += signals.iter().map(Vec::len).sum::<usize>() as u64;
                correlator
                    .process_batches(signals, &mut found)
                    .context("correlating events in time order")?;
                secs += started.elapsed().as_secs_f64();
                sink.put_records(records)?;
                sink.put(found)?;
            }
            Ok((correlator, count, secs))
        });
        let mut read = || -> Result<()> {
            for (a, b) in slices(from, args.until, sources, stats) {
                let (scan, per_thread) = store
                    .scan_chunks_with(
                        sources,
                        a,
                        b,
                        mode,
                        threads,
                        PerThread {
                            init: || SliceOnThread::new(rules),
                            each_chunk: |st: &mut SliceOnThread, events: &[skein_model::Event]| {
                                let started = Instant::now();
                                st.evaluate(events, after);
                                let nanos =
                                    u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                                eval_nanos.fetch_add(nanos, Ordering::Relaxed);
                                progress.advance(events.len() as u64);
                                st.keep();
                            },
                        },
                    )
                    .context("reading events from the store")?;
                scanned += scan.events;
                let (mut records, mut signals) = (Vec::new(), Vec::new());
                for st in per_thread {
                    if let Some(e) = st.failed {
                        return Err(e);
                    }
                    all_stats.merge(&st.stats);
                    latest = latest.max(st.newest);
                    gather(&mut records, st.records);
                    gather(&mut signals, st.batches);
                }
                if tx.send((signals, records)).is_err() {
                    // The consumer stopped on an error: it is reported below.
                    break;
                }
            }
            Ok(())
        };
        let reading = read();
        drop(tx);
        let consumed = consumer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        reading?;
        consumed
    })?;
    let mut correlator = correlator;
    progress.finish();
    if let Some(t) = latest {
        correlator.advance(t);
    }
    let mut open = Vec::new();
    correlator.compact(&mut open);
    let state = correlator
        .checkpoint()
        .context("saving the correlation state")?;
    correlator.flush(&mut open);
    sink.put(open)?;
    Ok(Evaluated {
        stats: all_stats,
        scanned,
        watermark: correlator.watermark(),
        resumed_after: after,
        state,
        window_state: correlator.state_size(),
        signals: signal_count,
        correlate_secs,
    })
}

/// What one scanning thread gathers over a slice: per chunk of events (at most 24), the
/// signals as one batch and the per-event findings written as stored (on the thread that
/// found them, straight from the rule and the event); the memo, counts and buffers are the
/// thread's, kept from chunk to chunk.
struct SliceOnThread<'r> {
    rules: &'r RuleSet,
    memo: skein_rules::Memo,
    stats: EvalStats,
    scratch: skein_rules::FindingScratch,
    /// The chunk's findings and signals, before they are kept.
    found: Vec<Result<skein_rules::EncodedFinding, skein_rules::FindingEncodeError>>,
    signals: Vec<Signal>,
    records: Vec<FindingRecord>,
    batches: Vec<Vec<Signal>>,
    newest: Option<DateTime<Utc>>,
    /// The first finding that could not be encoded.
    failed: Option<anyhow::Error>,
}

impl<'r> SliceOnThread<'r> {
    fn new(rules: &'r RuleSet) -> SliceOnThread<'r> {
        SliceOnThread {
            rules,
            memo: rules.memo(),
            stats: rules.new_stats(),
            scratch: Default::default(),
            found: Vec::new(),
            signals: Vec::new(),
            records: Vec::new(),
            batches: Vec::new(),
            newest: None,
            failed: None,
        }
    }

    /// Evaluates the chunk's events later than `after` (the saved state's watermark).
    fn evaluate(&mut self, events: &[skein_model::Event], after: Option<DateTime<Utc>>) {
        for e in events.iter().filter(|e| after.is_none_or(|w| e.time > w)) {
            self.rules.evaluate_encoded(
                &mut self.memo,
                e,
                &mut self.found,
                &mut self.scratch,
                &mut self.signals,
                &mut self.stats,
            );
            self.newest = self.newest.max(Some(e.time));
        }
    }

    /// Keeps the chunk's findings (as records) and signals (as a batch of their exact size).
    fn keep(&mut self) {
        for f in self.found.drain(..) {
            let record = f.map_err(anyhow::Error::from).and_then(|f| {
                // (The index is the rule set's own: a miss would be a bug, said as such.)
                let rule = self.rules.rules().get(f.rule).ok_or_else(|| {
                    anyhow::anyhow!("finding {} names rule number {}, not loaded", f.id, f.rule)
                })?;
                Ok(FindingRecord::from_parts(f.id, rule.id.clone(), f.json)?)
            });
            match record {
                Ok(r) => self.records.push(r),
                Err(e) => {
                    self.failed
                        .get_or_insert(e.context("encoding a per-event finding"));
                }
            }
        }
        if !self.signals.is_empty() {
            let mut batch = Vec::with_capacity(self.signals.len());
            batch.append(&mut self.signals);
            self.batches.push(batch);
        }
    }
}

/// Appends `more` to `into`, taking it whole when `into` is empty (the first thread's lists
/// are not copied).
fn gather<T>(into: &mut Vec<T>, more: Vec<T>) {
    if into.is_empty() {
        *into = more;
    } else {
        into.extend(more);
    }
}

fn report(
    args: &CorrelateArgs,
    plan: &Plan,
    lines: &[RuleLine],
    scanned: u64,
    found: usize,
    cases: Option<&(usize, skein_store::CasesOutcome)>,
    secs: f64,
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let inserted: u64 = lines.iter().map(|l| l.inserted).sum();
    let updated: u64 = lines.iter().map(|l| l.updated).sum();
    match args.format {
        ReportFormat::Json => {
            let v = json!({
                "run": start_text(plan),
                "events": scanned,
                "findings": found,
                "new_findings": inserted,
                "updated_findings": updated,
                "seconds": secs,
                "cases": cases.map(|(n, o)| json!({
                    "total": n, "new": o.inserted, "updated": o.updated, "removed": o.removed,
                })),
                "rules": lines.iter().map(|l| json!({
                    "rule": l.id, "kind": l.kind, "matched": l.matched, "new": l.inserted,
                    "updated": l.updated,
                    "suppressed": l.suppressed.iter().map(|(k, n)| (k.clone(), json!(n)))
                        .collect::<serde_json::Map<_, _>>(),
                })).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            writeln!(out, "{}", start_text(plan))?;
            if !lines.is_empty() {
                let w = lines.iter().map(|l| l.id.len()).max().unwrap_or(4).max(4);
                writeln!(
                    out,
                    "{:<w$}  {:<12}  {:>8}  {:>6}  {:>7}  SUPPRESSED BY ALLOW-LISTS",
                    "RULE", "KIND", "MATCHED", "NEW", "UPDATED"
                )?;
            }
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
                    "{:<w$}  {:<12}  {:>8}  {:>6}  {:>7}  {suppressed}",
                    l.id,
                    l.kind,
                    l.matched,
                    l.inserted,
                    l.updated,
                    w = lines.iter().map(|l| l.id.len()).max().unwrap_or(4).max(4)
                )?;
            }
            writeln!(
                out,
                "correlated {scanned} events (of the sources the rules read) in {secs:.1}s: {found} findings, {inserted} new, {updated} updated"
            )?;
            if let Some((n, o)) = cases {
                writeln!(
                    out,
                    "cases: {n} ({} new, {} updated, {} closed); see `skein cases list`",
                    o.inserted.len(),
                    o.updated.len(),
                    o.removed.len()
                )?;
            }
        }
    }
    Ok(())
}
