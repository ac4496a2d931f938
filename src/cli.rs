//! Command-line definitions (clap derive). Only commands that work are listed here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use skein_model::Source;

/// skein: a cross-cloud correlation engine for identity attacks.
///
/// Ingests Microsoft Entra ID sign-ins, Azure StorageBlobLogs and AWS CloudTrail (files in any
/// of their export shapes) into an embedded store, and runs detection rules over them.
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
    /// Run the rules over the stored events and store their findings.
    ///
    /// Incremental: a run reads only the events ingested since the previous run plus the
    /// window state multi-event rules saved then (events that arrive late make it resume from
    /// an earlier saved state), and ends with the findings a full run would give. Re-running
    /// adds nothing already found (finding ids are stable). Prints, per rule, the events it
    /// matched, the findings it added or updated and what each allow-list suppressed.
    Correlate(CorrelateArgs),
    /// Print stored findings.
    Findings(FindingsArgs),
    /// List, validate or test the rules in a correlations directory.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Cases: findings joined through the attacker's addresses, accounts, keys and sessions
    /// (rebuilt by every `correlate`).
    #[command(subcommand)]
    Cases(CasesCommand),
    /// Everything linked to one entity (TYPE:ID, e.g. user:alice@contoso.com,
    /// ip:203.0.113.5): aliases, linked entities with counts and first / last seen, a timeline
    /// of its events, and the findings and cases that name it.
    Investigate(InvestigateArgs),
    /// Collect new records from the APIs configured in skein.toml into the store.
    ///
    /// Microsoft Graph sign-ins, the Log Analytics query API and CloudTrail (LookupEvents,
    /// or trail files in S3). Each source keeps a cursor in the state; every run starts the
    /// configured overlap before it (late-arriving logs) and stores nothing twice. SIGINT or
    /// SIGTERM stops after the page in progress, with its cursor saved.
    Collect(CollectArgs),
    /// Collect, correlate and export new or changed cases, once or every DURATION.
    ///
    /// One sweep at a time per state directory. Prints one summary line per sweep. SIGINT
    /// or SIGTERM stops after the page in progress (a sweep stopped while collecting does
    /// not correlate).
    Sweep(SweepArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InvestigateFormat {
    Text,
    Json,
    Dot,
}

#[derive(Debug, Args)]
pub struct InvestigateArgs {
    /// The entity, TYPE:ID (user, app, ip, token, tenant, storage, awsprincipal, awskey,
    /// awssession).
    pub entity: String,

    /// Hops to follow from it (the busiest linked entities of each hop are followed).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3))]
    pub depth: u32,

    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "T")]
    pub since: Option<chrono::DateTime<chrono::Utc>>,

    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "T")]
    pub until: Option<chrono::DateTime<chrono::Utc>>,

    #[arg(long, value_enum, default_value_t = InvestigateFormat::Text)]
    pub format: InvestigateFormat,
}

/// `skein cases ...`.
#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// Cases by score, highest first.
    List(CasesListArgs),
    /// One case: score and why, tactics, findings, entities, hubs and links.
    Show(CasesShowArgs),
    /// Cases (all, or the ids given) as json, ndjson, csv, md, stix (a STIX 2.1 bundle),
    /// ocsf (Detection Findings), dot (Graphviz) or html (one self-contained report).
    /// Timelines include the evidence events.
    Export(CasesExportArgs),
}

#[derive(Debug, Args)]
pub struct CasesExportArgs {
    /// Case ids (`C-...`); none: every case.
    pub ids: Vec<String>,

    /// json, ndjson, csv, md, stix, ocsf, dot or html.
    #[arg(long, value_parser = parse_export_format)]
    pub format: skein_cases::Format,

    /// Write here instead of standard output.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Only cases at least this severe.
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<skein_model::Severity>,
}

fn parse_export_format(s: &str) -> Result<skein_cases::Format, String> {
    s.parse::<skein_cases::Format>().map_err(|e| e.to_string())
}

/// Output of `cases list` / `cases show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct CasesListArgs {
    /// Only cases at least this severe (informational, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<skein_model::Severity>,

    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct CasesShowArgs {
    /// The case id (`C-...`, from `skein cases list`).
    pub id: String,

    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Where rules come from: `--rules`, else `SKEIN_RULES`, else `./correlations`.
#[derive(Debug, Args)]
pub struct RulesDirArg {
    /// The correlations directory (rules/, lists/, fixtures/).
    #[arg(
        long = "rules",
        env = "SKEIN_RULES",
        value_name = "DIR",
        default_value = "correlations"
    )]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CorrelateArgs {
    #[command(flatten)]
    pub rules: RulesDirArg,

    /// Only events at or after this time (RFC 3339, or a date like 2026-03-01). With
    /// --since or --until the run is a one-off over that range: nothing is saved for the next
    /// incremental run, and multi-event findings cut by the range's edges are partial.
    #[arg(long, value_name = "T", value_parser = parse_time_arg)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,

    /// Only events before this time.
    #[arg(long, value_name = "T", value_parser = parse_time_arg)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,

    /// Format of the summary.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Recompute everything instead of continuing from the last run's saved state.
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub full: bool,

    /// Configuration file whose `[cases]` settings (join window, hub threshold) apply.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Never show a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,

    /// Print throughput and peak memory on stderr at the end (used by `make bench`).
    #[arg(long, hide = true)]
    pub timings: bool,
}

/// Output formats of `skein findings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FindingsFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// CSV with a header row (cells that a spreadsheet would run as formulas are escaped).
    Csv,
}

#[derive(Debug, Args)]
pub struct FindingsArgs {
    /// Only findings of this rule.
    #[arg(long, value_name = "ID")]
    pub rule: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FindingsFormat::Table)]
    pub format: FindingsFormat,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules: id, level, sources, title.
    List(RulesArgs),
    /// Load every rule, list and fixture and report each problem with file and line.
    ///
    /// Also reports a directory of third-party Sigma rules (for example SigmaHQ's
    /// rules/cloud): how many load, and for each that does not, why.
    Validate(RulesArgs),
    /// Run every rule's fixtures (records in, exact findings out).
    Test(RulesArgs),
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// The correlations directory, or a directory of Sigma rule files.
    #[arg(
        value_name = "DIR",
        env = "SKEIN_RULES",
        default_value = "correlations"
    )]
    pub dir: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Parses `--since` / `--until`: RFC 3339, or a bare date (midnight UTC).
pub fn parse_time_arg(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!("{s:?} is not an RFC 3339 time (2026-03-01T12:00:00Z) or a date (2026-03-01)")
        })
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

/// The configuration file: `--config`, else `SKEIN_CONFIG`, else `./skein.toml`.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Configuration file (see skein.example.toml).
    #[arg(
        long,
        env = "SKEIN_CONFIG",
        value_name = "FILE",
        default_value = "skein.toml"
    )]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub config: ConfigArg,

    /// Only the source with this name.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// Where a source with no cursor yet starts (RFC 3339 or a date); default: the
    /// configured `[sweep] lookback` before now.
    #[arg(long, value_name = "T", value_parser = parse_time_arg)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,

    /// Never show progress, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub config: ConfigArg,

    /// Sweep again every DURATION (e.g. 15m) until stopped; `--every` alone: every
    /// `[sweep] every` of the configuration. Without it, one sweep (for cron).
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "config",
          value_parser = parse_every_arg)]
    pub every: Option<Every>,

    /// Directory for the exported cases (default: `[sweep] export_dir`).
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,

    /// Export formats (default: `[sweep] export_formats`).
    #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',', value_parser = parse_export_format)]
    pub formats: Vec<skein_cases::Format>,

    /// Rules directory (default: `[sweep] rules`).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,

    /// Never show progress, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// `--every DURATION`, or `--every` alone for the configuration's interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Config,
    Interval(std::time::Duration),
}

fn parse_every_arg(s: &str) -> Result<Every, String> {
    if s == "config" {
        return Ok(Every::Config);
    }
    parse_duration_arg(s).map(Every::Interval)
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    let d = skein_collect::config::parse_duration(s)?;
    if d < std::time::Duration::from_secs(1) {
        return Err("the interval must be at least 1s".into());
    }
    Ok(d)
}
