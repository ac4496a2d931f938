//! `skein sweep`: collect → incremental correlate → export the new and changed cases, once or
//! every `--every`. The state stays open (and locked) for the whole command, so there is one
//! sweep at a time per state directory; a tick that comes while a sweep still runs waits for
//! it. One summary line per sweep on stdout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{SecondsFormat, Utc};
use skein_cases::Format;
use skein_store::Store;
use tokio_util::sync::CancellationToken;

use crate::cli::{CorrelateArgs, ReportFormat, RulesDirArg, SweepArgs};
use crate::collect_cmd::{self, load_config};
use crate::{cases_view, correlate_cmd, rules_dir, UsageError};

pub fn run(state: &Path, args: SweepArgs) -> Result<()> {
    let config = load_config(&args.config.config)?;
    if config.source_names().is_empty() {
        return Err(UsageError(format!(
            "{} configures no sources",
            args.config.config.display()
        ))
        .into());
    }
    let rules = args.rules.clone().unwrap_or(config.sweep.rules.clone());
    // Checked before anything is collected: a broken rules directory is the user's to fix.
    rules_dir::read_for_running(&rules)?;
    let export_dir = args
        .export
        .clone()
        .unwrap_or(config.sweep.export_dir.clone());
    let formats: Vec<Format> = if args.formats.is_empty() {
        config
            .sweep
            .export_formats
            .iter()
            .map(|f| f.parse::<Format>().map_err(|e| UsageError(e.to_string())))
            .collect::<Result<_, _>>()?
    } else {
        args.formats.clone()
    };
    let store = collect_cmd::open_store(state)?;
    let rt = collect_cmd::runtime()?;
    let stop = CancellationToken::new();
    rt.block_on(async { collect_cmd::stop_on_signals(stop.clone()) })?;
    loop {
        let started = Instant::now();
        let failed = sweep_once(
            &store,
            &config,
            &rules,
            &export_dir,
            &formats,
            &stop,
            &rt,
            &args,
        )?;
        let Some(every) = args.every else {
            if failed > 0 {
                anyhow::bail!("{failed} stream(s) failed (see above); the others were swept");
            }
            return Ok(());
        };
        if stop.is_cancelled() {
            return Ok(());
        }
        let wait = every.saturating_sub(started.elapsed());
        let stopped = rt.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(wait) => false,
                _ = stop.cancelled() => true,
            }
        });
        if stopped {
            return Ok(());
        }
    }
}

/// One sweep; returns how many streams failed.
#[allow(clippy::too_many_arguments)]
fn sweep_once(
    store: &Store,
    config: &skein_collect::Config,
    rules: &Path,
    export_dir: &Path,
    formats: &[Format],
    stop: &CancellationToken,
    rt: &tokio::runtime::Runtime,
    args: &SweepArgs,
) -> Result<usize> {
    let at = Utc::now();
    let started = Instant::now();
    let reports = rt.block_on(collect_cmd::collect(
        store,
        config,
        None,
        None,
        stop,
        !args.no_progress,
    ))?;
    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    for r in reports.iter().filter(|r| r.error.is_some() || r.stopped) {
        eprintln!("skein: {}", collect_cmd::report_line(r));
    }
    let inserted: u64 = reports.iter().map(|r| r.inserted).sum();
    let duplicates: u64 = reports.iter().map(|r| r.duplicates).sum();
    let collected = format!(
        "sweep {}: {inserted} new events ({duplicates} already stored) from {} streams{}",
        at.to_rfc3339_opts(SecondsFormat::Secs, true),
        reports.len(),
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    if stop.is_cancelled() {
        println!("{collected}; stopped before correlating (the next sweep continues)");
        return Ok(failed);
    }
    let rd = rules_dir::read_for_running(rules)?;
    let corr_args = CorrelateArgs {
        rules: RulesDirArg {
            dir: rules.to_path_buf(),
        },
        since: None,
        until: None,
        format: ReportFormat::Text,
        full: false,
        no_progress: true,
        config: None,
        timings: false,
    };
    let c = correlate_cmd::correlate(store, &rd, &corr_args, &config.cases, false)
        .context("correlating")?;
    let (written, deleted, changed) = match &c.cases {
        Some((_, outcome)) => export_changed(store, outcome, export_dir, formats)?,
        None => (0, 0, 0),
    };
    let cases = c.cases.as_ref().map_or("no change".to_string(), |(n, o)| {
        format!(
            "{n} ({} new, {} updated, {} closed)",
            o.inserted.len(),
            o.updated.len(),
            o.removed.len()
        )
    });
    println!(
        "{collected}; findings {} new, {} updated; cases {cases}; exported {changed} case(s) \
         as {written} file(s){} to {} in {:.1}s",
        c.new_findings,
        c.updated_findings,
        if deleted > 0 {
            format!(" (removed {deleted} of closed cases)")
        } else {
            String::new()
        },
        export_dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(failed)
}

/// Writes every new or updated case to `dir/ID.EXT` in each format (written to a temporary
/// name and renamed, so a reader never sees half a file) and deletes the files of closed
/// cases. Returns (files written, files deleted, cases exported).
fn export_changed(
    store: &Store,
    outcome: &skein_store::CasesOutcome,
    dir: &Path,
    formats: &[Format],
) -> Result<(usize, usize, usize)> {
    let changed: Vec<&String> = outcome.inserted.iter().chain(&outcome.updated).collect();
    if changed.is_empty() && outcome.removed.is_empty() {
        return Ok((0, 0, 0));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = 0;
    for id in &changed {
        let case = cases_view::with_events(store, cases_view::case_by_id(store, id)?)?;
        for &format in formats {
            let text = skein_cases::export(std::slice::from_ref(&case), format)
                .with_context(|| format!("exporting case {id} as {format}"))?;
            let path = case_file(dir, id, format);
            let tmp = path.with_extension(format!("{}.tmp", format.extension()));
            std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
            written += 1;
        }
    }
    let mut deleted = 0;
    for id in &outcome.removed {
        for format in Format::ALL {
            let path = case_file(dir, id, format);
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
                deleted += 1;
            }
        }
    }
    Ok((written, deleted, changed.len()))
}

/// `dir/ID.EXT`. Case ids are `C-` and hex digits, safe as file names.
fn case_file(dir: &Path, id: &str, format: Format) -> PathBuf {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.{}", format.extension()))
}
