//! The `skein` command line: argument parsing, progress, output formats and exit codes.
//!
//! The work itself lives in the library crates (`skein-ingest`, `skein-store`, ...); this
//! binary wires them together. Exit status: 0 on success, 1 on a runtime failure, 2 on a usage
//! or configuration error (SPEC §6). A closed output pipe (`skein stats | head`) is success.

mod case_findings;
mod cases_cmd;
mod cases_observe;
mod cases_view;
mod cli;
mod collect_cmd;
mod correlate_cmd;
mod correlate_plan;
mod correlate_sink;
mod findings_cmd;
mod ingest_cmd;
mod investigate_cmd;
mod progress;
mod read_ahead;
mod rules_cmd;
mod rules_dir;
mod stats_cmd;
mod sweep_cmd;
mod text;
mod workers;

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// mimalloc instead of the system allocator: parsing allocates many small strings and maps,
/// and glibc malloc/free were ~30% of ingest time in profiles. Built with `no_thp`: with
/// transparent huge pages the kernel spent ~20% of ingest zeroing 2 MiB pages.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (the version `libmimalloc-sys`
/// builds by default; its Rust bindings do not name this option for version 3). A test checks
/// that the option at this index has the purge delay's default, 1000 ms.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    /// mimalloc's own (linked statically through `libmimalloc-sys`); thread-safe for the
    /// purge delay, which mimalloc reads each time it schedules a purge.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}

/// Sets how long mimalloc keeps freed memory before giving it back to the OS (1000 ms by
/// default). `ingest` frees chunk-sized buffers at a high rate, and a second's worth of them
/// was ~100–160 MiB of its peak with 40-event chunks (922–985 MiB against 826–832 MiB at
/// 250 ms, at the same speed; at 0 ms ingest was ~35% slower).
pub(crate) fn set_allocator_purge_delay(ms: u32) {
    // SAFETY: a plain C call with an option index and a value; mimalloc ignores an index it
    // does not know.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, std::ffi::c_long::from(ms)) }
}

/// An error that is the user's to fix (bad arguments or configuration): exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let status: u8 = match run(cli) {
        Ok(()) => 0,
        Err(err) if is_broken_pipe(&err) => 0,
        Err(err) => {
            eprintln!("skein: error: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            }
        }
    };
    exit_without_freeing(status)
}

/// Ends the process once everything `run` opened is closed (the store is dropped, its files
/// flushed): output is flushed and the process exits without the C runtime's exit handlers.
/// mimalloc, linked statically, frees and returns to the OS every page of its heap in its
/// exit handler (`mi_process_done` collects with `force`); after a large correlation that
/// took longer than the kernel takes to drop the whole address space.
fn exit_without_freeing(status: u8) -> ExitCode {
    use std::io::Write;
    let flushed = io::stdout().flush().is_ok() && io::stderr().flush().is_ok();
    if !flushed {
        // Let the runtime report or retry the flush as usual.
        return ExitCode::from(status);
    }
    // SAFETY: `_exit` ends the process at once; nothing of this process runs after it, so
    // no Rust object is used after the allocator's memory goes away with the process.
    unsafe { libc::_exit(i32::from(status)) }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let state = cli.state_dir();
    match cli.command {
        Command::Ingest(args) => ingest_cmd::run(&state, args),
        Command::Stats(args) => stats_cmd::run(&state, args),
        Command::Correlate(args) => correlate_cmd::run(&state, args),
        Command::Findings(args) => findings_cmd::run(&state, args),
        Command::Rules(cmd) => rules_cmd::run(cmd),
        Command::Cases(cmd) => cases_view::run(&state, cmd),
        Command::Investigate(args) => investigate_cmd::run(&state, args),
        Command::Collect(args) => collect_cmd::run(&state, args),
        Command::Sweep(args) => sweep_cmd::run(&state, args),
    }
}

/// Opens the state for commands that read findings and cases; a state that does not exist
/// is a usage error saying what to run first.
pub fn open_with_findings(state: &std::path::Path) -> anyhow::Result<skein_store::Store> {
    use anyhow::Context;
    if !state.join(skein_store::DB_DIR).exists() {
        return Err(UsageError(format!(
            "no skein state in {} (run `skein ingest` and `skein correlate` first, or pass --state)",
            state.display()
        ))
        .into());
    }
    skein_store::Store::open(state, store_options())
        .with_context(|| format!("opening state directory {}", state.display()))
}

/// How the store is opened: sled's defaults, with the page cache size overridable through
/// `SKEIN_CACHE_MIB` (for memory-constrained hosts and for measuring).
pub fn store_options() -> skein_store::OpenOptions {
    let mut opts = skein_store::OpenOptions::default();
    if let Some(mib) = std::env::var("SKEIN_CACHE_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        opts.cache_capacity = mib.max(1) * 1024 * 1024;
    }
    opts
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SKEIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
}

/// Whether `err` comes from writing to a closed pipe: directly, or through serde_json
/// (JSON written straight to stdout fails with its own error type wrapping the io error).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = match cause.downcast_ref::<io::Error>() {
            Some(e) => Some(e.kind()),
            None => cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind()),
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod allocator_tests {
    use super::*;

    #[test]
    fn the_purge_delay_index_names_mimallocs_purge_delay() {
        // Its default (unless MIMALLOC_PURGE_DELAY is set): 1000 ms, which no other option
        // near it has (see mimalloc's `options.c`).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: a plain C call reading an option.
            assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, 1000);
        }
        set_allocator_purge_delay(250);
        // SAFETY: as above.
        assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, 250);
        set_allocator_purge_delay(1000);
    }
}
