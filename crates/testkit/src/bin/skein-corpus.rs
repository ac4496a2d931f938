//! `skein-corpus`: writes a deterministic test / benchmark corpus in every wire shape skein
//! ingests, plus `manifest.json` with the ground truth of the embedded attack scenarios.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::{DateTime, Utc};
use clap::Parser;
use skein_testkit::{generate, CorpusConfig};

/// Generate a realistic, deterministic corpus of Entra sign-ins, StorageBlobLogs and CloudTrail.
#[derive(Parser, Debug)]
#[command(name = "skein-corpus", version)]
struct Args {
    /// Number of events to write (scenarios included).
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// Random seed; the same seed and event count give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (created; a previous corpus in it is replaced).
    #[arg(long)]
    out: PathBuf,
    /// Start of the corpus period (RFC 3339).
    #[arg(long, default_value = "2026-11-01T00:00:00Z")]
    start: DateTime<Utc>,
    /// Length of the period in days (2-366); the scenarios sit on the middle day.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Share of export files to gzip (0-1); CloudTrail trail files are always gzipped.
    #[arg(long, default_value_t = 0.25)]
    gzip_share: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = CorpusConfig {
        events: args.events,
        seed: args.seed,
        start: args.start,
        days: args.days,
        gzip_share: args.gzip_share,
    };
    let tty = std::io::stderr().is_terminal();
    let began = Instant::now();
    let total = cfg.events;
    let result = generate(&cfg, &args.out, |n| {
        if tty {
            eprint!("\r{n}/{total} events");
            let _ = std::io::stderr().flush();
        }
    });
    if tty {
        eprintln!();
    }
    match result {
        Ok(m) => {
            let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
            println!(
                "wrote {} events ({} entra_signin, {} storage_blob, {} cloudtrail) in {} files, {:.1} MiB, {} scenarios, to {} in {:.2}s",
                m.events.total,
                m.events.by_source.get("entra_signin").copied().unwrap_or(0),
                m.events.by_source.get("storage_blob").copied().unwrap_or(0),
                m.events.by_source.get("cloudtrail").copied().unwrap_or(0),
                m.files.len(),
                bytes as f64 / (1024.0 * 1024.0),
                m.scenarios.len(),
                args.out.display(),
                began.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e @ skein_testkit::GenError::Invalid(_)) => {
            eprintln!("skein-corpus: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("skein-corpus: {e}");
            ExitCode::from(1)
        }
    }
}
