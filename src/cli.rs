//! Command-line definitions (clap derive). Only commands that work are listed here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use skein_model::Source;

/// skein: a cross-cloud correlation engine for identity attacks.
///
/// Ingests Microsoft Entra ID sign-ins, Azure StorageBlobLogs and AWS CloudTrail (files in any
/// of their export shapes) into an embedded store.
#[derive(Debug, Parser)]
#[command(name = "skein", version, propagate_version = true)]
pub struct Cli {
    /// State directory (the sled database, lock and quarantine file).
    #[arg(long, global = true, env = "SKEIN_STATE", value_name = "DIR")]
    pub state: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); SKEIN_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The state directory: `--state`, else `SKEIN_STATE`, else `./state`.
    pub fn state_dir(&self) -> PathBuf {
        self.state.clone().unwrap_or_else(|| PathBuf::from("state"))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read files, directories (recursively) or '-' (stdin) into the store.
    ///
    /// The wire shape of every record is detected from its content (Graph signIn pages, Log
    /// Analytics rows and query responses, Azure diagnostic records, CloudTrail trail files,
    /// LookupEvents responses, EventBridge envelopes, NDJSON); gzip is detected by its magic
    /// bytes. Records already stored are counted as duplicates and not stored again; records
    /// that cannot be parsed are written with file, line and reason to
    /// STATE/quarantine.ndjson and the rest of the input still goes in.
    Ingest(IngestArgs),
    /// Show what the store holds.
    Stats(StatsArgs),
}

/// The `--source` values of `skein ingest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// Entra ID sign-ins.
    Entra,
    /// Azure StorageBlobLogs.
    Blob,
    /// AWS CloudTrail.
    Cloudtrail,
}

impl From<SourceArg> for Source {
    fn from(s: SourceArg) -> Source {
        match s {
            SourceArg::Entra => Source::EntraSignin,
            SourceArg::Blob => Source::StorageBlob,
            SourceArg::Cloudtrail => Source::Cloudtrail,
        }
    }
}

/// Output format of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned text for people.
    Text,
    /// One JSON document.
    Json,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Accept only records of this source; others are rejected (and quarantined).
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,

    /// Records longer than this many bytes are rejected without being loaded.
    #[arg(long, default_value_t = skein_ingest::framing::DEFAULT_MAX_RECORD_BYTES, value_name = "BYTES")]
    pub max_record_bytes: usize,

    /// Format of the summary printed at the end.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Never show a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,

    /// Parse and count everything but store nothing (no state directory is opened); rejected
    /// records are listed in the summary instead of quarantined. Duplicates are not detected.
    #[arg(long)]
    pub dry_run: bool,

    /// Print throughput and peak memory on stderr at the end (used by `make bench`).
    #[arg(long, hide = true)]
    pub timings: bool,

    /// Files, directories or '-' for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}
