//! `skein collect`: every configured API source (or one) into the store, page by page, each
//! page committed with its source's cursor; and what `sweep` shares with it (loading the
//! configuration, the signal handling, the collection itself and its report).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{Timelike, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use skein_collect::{CollectError, CollectOptions, Config, StreamReport};
use skein_store::Store;
use tokio_util::sync::CancellationToken;

use crate::cli::CollectArgs;
use crate::UsageError;

/// Loads `skein.toml`; any problem with it is a usage error (exit status 2).
pub fn load_config(path: &Path) -> Result<Config> {
    if !path.exists() {
        return Err(UsageError(format!(
            "no configuration file {} (copy skein.example.toml, or pass --config)",
            path.display()
        ))
        .into());
    }
    Config::load(path).map_err(|e| UsageError(e.to_string()).into())
}

/// A runtime for the collectors: two worker threads (the work is network-bound).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Fires `stop` on the first SIGINT or SIGTERM (the run finishes its page, saves its cursor
/// and ends); a second one ends the process at once (exit status 130; the store's commit
/// points make that safe too).
pub fn stop_on_signals(stop: CancellationToken) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                eprintln!("skein: stopping after the page in progress (again to quit at once)");
                stop.cancel();
            } else {
                std::process::exit(130);
            }
        }
    });
    Ok(())
}

/// Opens (creating if needed) the state for writing.
pub fn open_store(state: &Path) -> Result<Store> {
    Store::open(state, crate::store_options())
        .with_context(|| format!("opening state directory {}", state.display()))
}

/// Collects every stream of `config` (or of source `only`) into `store`.
pub async fn collect(
    store: &Store,
    config: &Config,
    only: Option<&str>,
    since: Option<chrono::DateTime<Utc>>,
    stop: &CancellationToken,
    progress: bool,
) -> Result<Vec<StreamReport>> {
    let mut streams = match skein_collect::build_streams(config, only, stop).await {
        Ok(s) => s,
        // A secret that is not where the configuration says is the user's to fix.
        Err(e @ (CollectError::Auth { .. } | CollectError::Setup { .. })) => {
            return Err(UsageError(e.to_string()).into())
        }
        Err(e) => return Err(e.into()),
    };
    // Whole seconds: clean bounds for every API's filter.
    let now = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now);
    let start = match since {
        Some(t) => t,
        None => chrono::Duration::from_std(config.sweep.lookback.0)
            .ok()
            .and_then(|lookback| now.checked_sub_signed(lookback))
            .ok_or_else(|| UsageError("[sweep] lookback is too long".into()))?,
    };
    let opts = CollectOptions {
        start,
        overlap: chrono::Duration::from_std(config.sweep.overlap.0)
            .context("[sweep] overlap is too long")?,
        now,
        stop: stop.clone(),
    };
    let bar = (progress && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(125));
        bar
    });
    let mut on_page = |r: &StreamReport| {
        if let Some(bar) = &bar {
            bar.set_message(format!(
                "{}: {} pages, {} new events, {} already stored",
                r.name, r.pages, r.inserted, r.duplicates
            ));
        }
        tracing::debug!("{}: page {} committed", r.name, r.pages);
    };
    let reports = skein_collect::collect_all(&mut streams, store, &opts, &mut on_page).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(reports?)
}

/// One line per stream.
pub fn report_line(r: &StreamReport) -> String {
    let window = r.window.as_ref().map_or("nothing new".to_string(), |w| {
        format!(
            "{} .. {}",
            w.from.format("%Y-%m-%dT%H:%M:%SZ"),
            w.to.format("%Y-%m-%dT%H:%M:%SZ")
        )
    });
    let state = match (&r.error, r.stopped, r.completed) {
        (Some(e), _, _) => format!("FAILED: {e}"),
        (None, true, _) => "stopped (continues from here next run)".into(),
        (None, false, true) => "complete".into(),
        (None, false, false) => "incomplete".into(),
    };
    format!(
        "{}  {window}  {} pages, {} new, {} already stored, {} rejected, {} ignored  {state}",
        r.name, r.pages, r.inserted, r.duplicates, r.rejected, r.ignored
    )
}

pub fn run(state: &Path, args: CollectArgs) -> Result<()> {
    let config = load_config(&args.config.config)?;
    if let Some(name) = &args.source {
        if !config.source_names().contains(&name.as_str()) {
            return Err(UsageError(format!(
                "no source named `{name}` in {} (sources: {})",
                args.config.config.display(),
                config.source_names().join(", ")
            ))
            .into());
        }
    }
    if config.source_names().is_empty() {
        return Err(UsageError(format!(
            "{} configures no sources",
            args.config.config.display()
        ))
        .into());
    }
    let store = open_store(state)?;
    let rt = runtime()?;
    let stop = CancellationToken::new();
    let reports = rt.block_on(async {
        stop_on_signals(stop.clone())?;
        collect(
            &store,
            &config,
            args.source.as_deref(),
            args.since,
            &stop,
            !args.no_progress,
        )
        .await
    })?;
    store.flush().context("flushing the state")?;
    for r in &reports {
        println!("{}", report_line(r));
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.name.as_str())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} streams failed: {}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        );
    }
    Ok(())
}
