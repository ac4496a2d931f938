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

use crate::cli::{CorrelateArgs, Every, ReportFormat, RulesDirArg, SweepArgs};
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
    let mut formats = formats;
    let mut seen = std::collections::HashSet::new();
    formats.retain(|f| seen.insert(*f));
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
        let every = args.every.map(|e| match e {
            Every::Config => config.sweep.every.0,
            Every::Interval(d) => d,
        });
        let Some(every) = every else {
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
    let exported = export_changed(store, export_dir, formats)?;
    let cases = c.cases.as_ref().map_or("no change".to_string(), |(n, o)| {
        format!(
            "{n} ({} new, {} updated, {} closed)",
            o.inserted.len(),
            o.updated.len(),
            o.removed.len()
        )
    });
    println!(
        "{collected}; findings {} new, {} updated; cases {cases}; exported {} case(s) as {} \
         file(s){} to {} in {:.1}s",
        c.new_findings,
        c.updated_findings,
        exported.cases,
        exported.written,
        if exported.deleted > 0 {
            format!(" (removed {} file(s) of closed cases)", exported.deleted)
        } else {
            String::new()
        },
        export_dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(failed)
}

/// What the export directory holds, recorded in it: the formats, and for each case the
/// digest of the stored case its files were written from. A sweep exports every stored case
/// whose digest differs (new or changed since its files were written, whatever happened to
/// earlier sweeps: killed, failed, other formats) and deletes the files of cases no longer
/// stored. Written last, replacing the old one atomically.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Manifest {
    formats: Vec<String>,
    cases: std::collections::BTreeMap<String, String>,
}

const MANIFEST: &str = ".skein-export.json";

/// What [`export_changed`] did.
#[derive(Debug, Default)]
struct Exported {
    cases: usize,
    written: usize,
    deleted: usize,
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Brings `dir` up to date with the stored cases (see [`Manifest`]).
fn export_changed(store: &Store, dir: &Path, formats: &[Format]) -> Result<Exported> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let manifest_path = dir.join(MANIFEST);
    let old: Manifest = std::fs::read(&manifest_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let names: Vec<String> = formats.iter().map(|f| f.as_str().to_string()).collect();
    let same_formats = old.formats == names;
    let mut new = Manifest {
        formats: names,
        cases: Default::default(),
    };
    let mut done = Exported::default();
    for (id, json) in store.cases_json().context("reading cases")? {
        let digest = format!("{:032x}", skein_store::finding_digest(&json));
        if !same_formats || old.cases.get(&id) != Some(&digest) {
            let case: skein_cases::Case = serde_json::from_slice(&json)
                .with_context(|| format!("decoding stored case {id}"))?;
            let case = cases_view::with_events(store, case)?;
            for &format in formats {
                let text = skein_cases::export(std::slice::from_ref(&case), format)
                    .with_context(|| format!("exporting case {id} as {format}"))?;
                write_atomically(&case_file(dir, &id, format), text.as_bytes())?;
                done.written += 1;
            }
            done.cases += 1;
        }
        new.cases.insert(id, digest);
    }
    // Files of closed cases, and of formats no longer configured.
    for id in old.cases.keys() {
        for format in Format::ALL {
            if new.cases.contains_key(id) && formats.contains(&format) {
                continue;
            }
            let path = case_file(dir, id, format);
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
                done.deleted += 1;
            }
        }
    }
    write_atomically(&manifest_path, &serde_json::to_vec_pretty(&new)?)?;
    Ok(done)
}

/// `dir/ID.EXT`, or `dir/ID.FORMAT.EXT` for formats that share an extension (STIX and OCSF
/// are JSON). Case ids are `C-` and hex digits; anything else is replaced, so a name can
/// never leave `dir`.
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
    let (name, ext) = (format.as_str(), format.extension());
    if name == ext {
        dir.join(format!("{safe}.{ext}"))
    } else {
        dir.join(format!("{safe}.{name}.{ext}"))
    }
}
