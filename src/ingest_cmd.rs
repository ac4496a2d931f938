//! `skein ingest`: files → frames → events → store, as a small pipeline of threads.
//!
//! One reader thread opens the inputs in order and frames them; parser threads (one per core)
//! turn frames into events; the calling thread is the only writer to the store. Channels are
//! bounded, so memory stays flat however large the input.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver, Sender};
use serde::Serialize;
use skein_ingest::input::{self, InputSpec};
use skein_ingest::{parse_frame, Frame, FrameError, Framer, Item};
use skein_model::{Event, Source};
use skein_store::{OpenOptions, QuarantineRecord, Store};

use crate::cli::{IngestArgs, ReportFormat};
use crate::progress::Progress;
use crate::read_ahead::{ClosesWhenLast, ReadAhead, Reservation};
use crate::UsageError;

/// Frames handed to a parser thread at a time: at most this many...
const FRAMES_PER_CHUNK: usize = 512;
/// ...and at most about this many bytes of record text, so that read-ahead stays small when
/// records are large (a query-API table frame can be tens of megabytes).
const BYTES_PER_CHUNK: usize = 2 * 1024 * 1024;
/// Bytes of record text read ahead of the parsers (see [`ReadAhead`]), per parser thread:
/// on two cores, room for a 12 MB query-API table being parsed on each and one more queued
/// (40 MiB), where unbounded the queue and the parsers held seven.
const READ_AHEAD_BYTES_PER_PARSER: usize = 20 * 1024 * 1024;
/// How long the allocator keeps freed memory while ingesting (see
/// [`crate::set_allocator_purge_delay`]).
const INGEST_PURGE_DELAY_MS: u32 = 250;
/// Events written to the store in one batch.
const EVENTS_PER_BATCH: usize = 8192;
/// Events a parser thread sends to the writer at a time. One frame can hold thousands of
/// records (a Log Analytics query-API table: 5,000 rows per page on the bench); sent whole,
/// the writer's queue held several tables' events at once (ingesting the bench's Log
/// Analytics inputs peaked ~90 MB higher).
const EVENTS_PER_MESSAGE: usize = 2048;

/// What the reader thread sends: frames of one input, or a framing error.
enum ReadMsg {
    Frames {
        input: usize,
        frames: Vec<Frame>,
        /// Their bytes in the read-ahead budget, given back when they are parsed.
        reserved: Reservation,
    },
    Error {
        input: usize,
        error: FrameError,
    },
    OpenFailed {
        input: usize,
        error: String,
    },
}

/// What a parser thread sends back.
#[derive(Default)]
struct ParsedChunk {
    events: Vec<Event>,
    rejected: Vec<QuarantineRecord>,
    rejected_by_source: BTreeMap<String, u64>,
    ignored: BTreeMap<String, u64>,
}

impl ParsedChunk {
    /// Counts a rejected record under its source (`unknown` where the error does not tell)
    /// and queues it for the quarantine file.
    fn reject(
        &mut self,
        file: &str,
        line: u64,
        row: Option<usize>,
        source: Option<Source>,
        reason: String,
        text: &str,
    ) {
        let name = source.map_or("unknown", Source::as_str);
        *self.rejected_by_source.entry(name.to_string()).or_default() += 1;
        self.rejected.push(QuarantineRecord {
            file: file.to_string(),
            line,
            row,
            source_hint: source.map(|s| s.as_str().to_string()),
            reason,
            excerpt: excerpt_of(text).to_string(),
        });
    }
}

/// Counters of one source in the summary.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceCounts {
    pub accepted: u64,
    pub duplicate: u64,
    pub rejected: u64,
}

/// The summary printed at the end of an ingest.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    pub inputs: usize,
    pub sources: BTreeMap<String, SourceCounts>,
    pub ignored: BTreeMap<String, u64>,
    pub quarantine_file: Option<String>,
    /// With `--dry-run`: the first rejected records (file:line: reason).
    pub rejected_examples: Vec<String>,
    pub seconds: f64,
}

pub fn run(state: &Path, args: IngestArgs) -> Result<()> {
    crate::set_allocator_purge_delay(INGEST_PURGE_DELAY_MS);
    let inputs = input::expand_paths(&args.paths).map_err(|e| UsageError(format!("{e}")))?;
    if inputs.is_empty() {
        return Err(UsageError("no input files found under the given paths".into()).into());
    }
    let store = if args.dry_run {
        None
    } else {
        Some(
            Store::open(state, OpenOptions::default())
                .with_context(|| format!("opening state directory {}", state.display()))?,
        )
    };
    let forced: Option<Source> = args.source.map(Into::into);
    let started = Instant::now();

    let total_bytes: Option<u64> = inputs.iter().map(|i| i.size).sum();
    let consumed = Arc::new(AtomicU64::new(0));
    let progress = Progress::new(total_bytes, !args.no_progress, Arc::clone(&consumed));

    let (frame_tx, frame_rx) = bounded::<ReadMsg>(4);
    let (parsed_tx, parsed_rx) = bounded::<ParsedChunk>(4);
    let names: Arc<Vec<String>> = Arc::new(inputs.iter().map(|i| i.display.clone()).collect());

    let workers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(1);
    let budget = ReadAhead::new(READ_AHEAD_BYTES_PER_PARSER.saturating_mul(workers));
    let reader = {
        let consumed = Arc::clone(&consumed);
        let max = args.max_record_bytes;
        let budget = Arc::clone(&budget);
        thread::Builder::new()
            .name("skein-reader".into())
            .spawn(move || read_inputs(inputs, max, consumed, &budget, frame_tx))
            .context("starting the reader thread")?
    };
    let mut parsers = Vec::with_capacity(workers);
    for (n, closes) in ClosesWhenLast::for_threads(&budget, workers)
        .into_iter()
        .enumerate()
    {
        let rx = frame_rx.clone();
        let tx = parsed_tx.clone();
        let names = Arc::clone(&names);
        parsers.push(
            thread::Builder::new()
                .name(format!("skein-parse-{n}"))
                .spawn(move || {
                    // The reader stops waiting for room once every parser is gone.
                    let _closes = closes;
                    parse_loop(rx, tx, &names, forced)
                })
                .context("starting a parser thread")?,
        );
    }
    drop(frame_rx);
    drop(parsed_tx);

    let mut report = IngestReport {
        inputs: names.len(),
        ..IngestReport::default()
    };
    for source in Source::ALL {
        report
            .sources
            .insert(source.as_str().to_string(), SourceCounts::default());
    }
    let write_result = write_loop(store.as_ref(), parsed_rx, &mut report, &progress);
    // Join the threads even when writing failed, so no thread outlives the store.
    let _ = reader.join();
    for p in parsers {
        let _ = p.join();
    }
    write_result?;
    if let Some(store) = &store {
        store.flush().context("flushing the store")?;
    }
    progress.finish();

    report.seconds = started.elapsed().as_secs_f64();
    if report.sources.values().any(|c| c.rejected > 0) {
        if let Some(store) = &store {
            report.quarantine_file = Some(store.quarantine_path().display().to_string());
        }
    }
    print_report(&report, args.format)?;
    if args.timings {
        print_timings(&report);
    }
    Ok(())
}

/// The reader thread: opens each input in turn and sends its frames in chunks.
fn read_inputs(
    inputs: Vec<InputSpec>,
    max_record_bytes: usize,
    consumed: Arc<AtomicU64>,
    budget: &Arc<ReadAhead>,
    tx: Sender<ReadMsg>,
) {
    let frames_of = |input: usize, frames: Vec<Frame>, bytes: usize| ReadMsg::Frames {
        input,
        frames,
        reserved: budget.reserve(bytes),
    };
    for (index, spec) in inputs.into_iter().enumerate() {
        let reader = match input::open(&spec, Arc::clone(&consumed)) {
            Ok(r) => r,
            Err(e) => {
                if tx
                    .send(ReadMsg::OpenFailed {
                        input: index,
                        error: e.to_string(),
                    })
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        let mut chunk = Vec::with_capacity(FRAMES_PER_CHUNK);
        let mut chunk_bytes = 0;
        for item in Framer::new(reader, max_record_bytes) {
            let msg = match item {
                Ok(mut frame) => {
                    // A large record's text grew by doubling: up to twice its size held
                    // until it is parsed.
                    if frame.text.len() >= BYTES_PER_CHUNK {
                        frame.text.shrink_to_fit();
                    }
                    chunk_bytes += frame.text.len();
                    chunk.push(frame);
                    if chunk.len() < FRAMES_PER_CHUNK && chunk_bytes < BYTES_PER_CHUNK {
                        continue;
                    }
                    let frames =
                        std::mem::replace(&mut chunk, Vec::with_capacity(FRAMES_PER_CHUNK));
                    frames_of(index, frames, std::mem::take(&mut chunk_bytes))
                }
                Err(error) => {
                    if !chunk.is_empty() {
                        let frames = std::mem::take(&mut chunk);
                        let bytes = std::mem::take(&mut chunk_bytes);
                        if tx.send(frames_of(index, frames, bytes)).is_err() {
                            return;
                        }
                    }
                    ReadMsg::Error {
                        input: index,
                        error,
                    }
                }
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
        if !chunk.is_empty() && tx.send(frames_of(index, chunk, chunk_bytes)).is_err() {
            return;
        }
    }
}

/// A parser thread: frames in, events and rejections out.
fn parse_loop(
    rx: Receiver<ReadMsg>,
    tx: Sender<ParsedChunk>,
    names: &[String],
    forced: Option<Source>,
) {
    let mut items = Vec::new();
    for msg in rx {
        let mut out = ParsedChunk::default();
        match msg {
            ReadMsg::Frames {
                input,
                frames,
                reserved: _reserved,
            } => {
                out.events.reserve(frames.len().min(EVENTS_PER_MESSAGE));
                for frame in &frames {
                    items.clear();
                    parse_frame(frame, forced, &mut items);
                    for item in items.drain(..) {
                        match item {
                            Item::Event(event) => {
                                out.events.push(*event);
                                if out.events.len() >= EVENTS_PER_MESSAGE {
                                    let full = std::mem::take(&mut out.events);
                                    let part = ParsedChunk {
                                        events: full,
                                        ..ParsedChunk::default()
                                    };
                                    if tx.send(part).is_err() {
                                        return;
                                    }
                                }
                            }
                            Item::Ignored { kind } => *out.ignored.entry(kind).or_default() += 1,
                            Item::Rejected { row, error } => out.reject(
                                &names[input],
                                frame.line,
                                row,
                                error.source_hint(),
                                error.to_string(),
                                &frame.text,
                            ),
                        }
                    }
                }
            }
            ReadMsg::Error { input, error } => {
                out.reject(
                    &names[input],
                    error.line(),
                    None,
                    None,
                    error.to_string(),
                    "",
                );
            }
            ReadMsg::OpenFailed { input, error } => {
                let reason = format!("cannot read input: {error}");
                out.reject(&names[input], 0, None, None, reason, "");
            }
        }
        if tx.send(out).is_err() {
            return;
        }
    }
}

/// The start of a rejected record, at most [`skein_store::MAX_EXCERPT`] bytes, cut at a
/// character boundary (the store would cut it too; this avoids copying a 4 MiB record).
fn excerpt_of(text: &str) -> &str {
    let mut end = text.len().min(skein_store::MAX_EXCERPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Rejections listed in a `--dry-run` summary.
const DRY_RUN_EXAMPLES: usize = 20;

/// The writer: the only code that touches the store (none with `--dry-run`).
fn write_loop(
    store: Option<&Store>,
    rx: Receiver<ParsedChunk>,
    report: &mut IngestReport,
    progress: &Progress,
) -> Result<()> {
    let mut batch: Vec<Event> = Vec::with_capacity(EVENTS_PER_BATCH);
    for chunk in rx {
        for rec in &chunk.rejected {
            match store {
                Some(store) => store
                    .quarantine(rec)
                    .context("writing the quarantine file")?,
                None if report.rejected_examples.len() < DRY_RUN_EXAMPLES => {
                    report
                        .rejected_examples
                        .push(format!("{}:{}: {}", rec.file, rec.line, rec.reason));
                }
                None => {}
            }
        }
        for (source, n) in chunk.rejected_by_source {
            report.sources.entry(source).or_default().rejected += n;
        }
        for (kind, n) in chunk.ignored {
            *report.ignored.entry(kind).or_default() += n;
        }
        batch.extend(chunk.events);
        if batch.len() >= EVENTS_PER_BATCH {
            write_batch(store, &mut batch, report, progress)?;
        }
    }
    write_batch(store, &mut batch, report, progress)
}

fn write_batch(
    store: Option<&Store>,
    batch: &mut Vec<Event>,
    report: &mut IngestReport,
    progress: &Progress,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    match store {
        Some(store) => {
            let outcome = store
                .insert_batch(batch)
                .context("writing events to the store")?;
            for (source, counts) in &outcome.per_source {
                let entry = report
                    .sources
                    .entry(source.as_str().to_string())
                    .or_default();
                entry.accepted += counts.inserted;
                entry.duplicate += counts.duplicates;
            }
        }
        None => {
            for event in batch.iter() {
                report
                    .sources
                    .entry(event.source.as_str().to_string())
                    .or_default()
                    .accepted += 1;
            }
        }
    }
    progress.add_events(batch.len() as u64);
    batch.clear();
    Ok(())
}

fn print_report(report: &IngestReport, format: ReportFormat) -> Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            writeln!(
                out,
                "{:<14} {:>12} {:>12} {:>12}",
                "source", "accepted", "duplicate", "rejected"
            )?;
            for (source, c) in &report.sources {
                writeln!(
                    out,
                    "{:<14} {:>12} {:>12} {:>12}",
                    source, c.accepted, c.duplicate, c.rejected
                )?;
            }
            for (kind, n) in &report.ignored {
                writeln!(out, "ignored {n} record(s) of unsupported {kind}")?;
            }
            for example in &report.rejected_examples {
                writeln!(out, "rejected: {example}")?;
            }
            if let Some(q) = &report.quarantine_file {
                writeln!(out, "rejected records (file, line, reason): {q}")?;
            }
            writeln!(out, "{} input(s) in {:.2}s", report.inputs, report.seconds)?;
        }
    }
    Ok(())
}

fn print_timings(report: &IngestReport) {
    let records: u64 = report
        .sources
        .values()
        .map(|c| c.accepted + c.duplicate + c.rejected)
        .sum();
    let rate = records as f64 / report.seconds.max(1e-9);
    eprintln!(
        "timings: records={records} seconds={:.3} events_per_second={:.0} peak_rss_mib={}",
        report.seconds,
        rate,
        crate::progress::peak_rss_mib().map_or_else(|| "unknown".to_string(), |m| m.to_string())
    );
}
