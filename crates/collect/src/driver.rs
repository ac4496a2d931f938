//! The driver: reads each [`Stream`] page by page over its next window and commits every page
//! (events stored and flushed, then the cursor moved past the page), so that a run stopped or
//! killed anywhere resumes with nothing lost and nothing doubled (see the crate docs).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use skein_ingest::Item;
use skein_model::Event;
use skein_store::{QuarantineRecord, Store};
use tokio_util::sync::CancellationToken;

use crate::cursor::{Cursor, OpenWindow, Window};
use crate::CollectError;

/// One page of a stream.
#[derive(Debug, Default)]
pub struct Page {
    /// What the page's records parsed into (by `skein-ingest`).
    pub items: Vec<Item>,
    /// Where the next page of the same window starts; `None`: the window is complete.
    pub next: Option<String>,
    /// Where the records came from, for the quarantine file (`graph contoso page 3`,
    /// `s3://bucket/key`).
    pub origin: String,
}

/// One API stream: a source, or one region / table of a source, with its own cursor.
#[async_trait]
pub trait Stream: Send {
    /// The cursor's name in the store, unique: `entra/contoso`, `cloudtrail/prod/us-east-1`.
    fn cursor_name(&self) -> String;
    /// Fetches the page of `window` that `resume` points at (`None`: the first page).
    /// Throttling, retries and rate limits are the stream's business; an error here is
    /// final for this run. Waits must end early with [`CollectError::Stopped`] when the
    /// stop token fires.
    async fn page(&mut self, window: &Window, resume: Option<&str>) -> Result<Page, CollectError>;
}

/// What a collection run needs besides the streams.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Where a stream with no cursor starts.
    pub start: DateTime<Utc>,
    /// How far before its last end a stream starts again (late-arriving records).
    pub overlap: Duration,
    /// The end of the windows opened by this run.
    pub now: DateTime<Utc>,
    /// Fired on SIGINT / SIGTERM: the current page is finished and committed, then the run
    /// stops.
    pub stop: CancellationToken,
}

/// What a run did for one stream.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StreamReport {
    pub name: String,
    /// The window read (or being read when the run stopped).
    pub window: Option<Window>,
    pub pages: u64,
    /// New events stored.
    pub inserted: u64,
    /// Events already stored (the overlap, or pages read again after a stop).
    pub duplicates: u64,
    /// Records quarantined.
    pub rejected: u64,
    /// Well-formed records of kinds skein does not ingest.
    pub ignored: u64,
    /// The window was read to its end and the cursor moved past it.
    pub completed: bool,
    /// Stopped by a signal before the window's end (the cursor is at the last whole page).
    pub stopped: bool,
    /// Why the stream failed, if it did (the cursor is at the last whole page).
    pub error: Option<String>,
}

/// Collects every stream in turn. A failing stream is reported and the others still run; a
/// stop ends the run after the page in progress.
pub async fn collect_all(
    streams: &mut [Box<dyn Stream>],
    store: &Store,
    opts: &CollectOptions,
    on_page: &mut (dyn FnMut(&StreamReport) + Send),
) -> Result<Vec<StreamReport>, CollectError> {
    let mut reports = Vec::new();
    for stream in streams.iter_mut() {
        if opts.stop.is_cancelled() {
            break;
        }
        let mut report = StreamReport {
            name: stream.cursor_name(),
            ..StreamReport::default()
        };
        match run_stream(stream.as_mut(), store, opts, &mut report, on_page).await {
            Ok(()) => {}
            Err(CollectError::Stopped) => report.stopped = true,
            // The store failing is not one stream's problem: stop everything.
            Err(e @ CollectError::Store(_)) => return Err(e),
            Err(e) => {
                tracing::warn!("{e}");
                report.error = Some(e.to_string());
            }
        }
        reports.push(report);
    }
    Ok(reports)
}

/// Reads one stream's next window to its end (or until stopped), committing page by page.
pub async fn run_stream(
    stream: &mut dyn Stream,
    store: &Store,
    opts: &CollectOptions,
    report: &mut StreamReport,
    on_page: &mut (dyn FnMut(&StreamReport) + Send),
) -> Result<(), CollectError> {
    let name = stream.cursor_name();
    let cursor = match store.cursor_get(&name)? {
        None => Cursor::default(),
        Some(bytes) => Cursor::decode(&bytes).unwrap_or_else(|e| {
            tracing::warn!("cursor of {name} is unreadable ({e}); starting from the lookback");
            Cursor::default()
        }),
    };
    // A run that finds a window a stopped run left open reads it to its end, then goes on
    // with the window up to now (so a stop never delays new data by a whole interval).
    let mut cursor = cursor;
    loop {
        let resumed = cursor.open.is_some();
        let Some(OpenWindow { window, resume }) =
            cursor.next_window(opts.start, opts.overlap, opts.now)
        else {
            report.completed = true;
            return Ok(());
        };
        report.window = Some(match &report.window {
            Some(first) => Window {
                from: first.from,
                to: window.to,
            },
            None => window.clone(),
        });
        tracing::info!(
            "{name}: reading {} .. {}{}",
            window.from,
            window.to,
            if resume.is_some() {
                " (continuing a stopped run)"
            } else {
                ""
            }
        );
        cursor = read_window(
            stream, store, opts, report, on_page, &name, &cursor, window, resume,
        )
        .await?;
        if !resumed || cursor.done_until >= Some(opts.now) {
            report.completed = true;
            return Ok(());
        }
    }
}

/// Reads one window page by page from `resume`; returns the cursor after its last page.
#[allow(clippy::too_many_arguments)]
async fn read_window(
    stream: &mut dyn Stream,
    store: &Store,
    opts: &CollectOptions,
    report: &mut StreamReport,
    on_page: &mut (dyn FnMut(&StreamReport) + Send),
    name: &str,
    cursor: &Cursor,
    window: Window,
    mut resume: Option<String>,
) -> Result<Cursor, CollectError> {
    loop {
        if opts.stop.is_cancelled() {
            return Err(CollectError::Stopped);
        }
        let page = stream.page(&window, resume.as_deref()).await?;
        if page.next.is_some() && page.next == resume {
            // A service that points at the page it just served would loop forever.
            return Err(CollectError::Response {
                source_name: name.to_string(),
                message: "the next page is the page just read (a paging loop); stopped".into(),
            });
        }
        commit(store, &page, report)?;
        let next = match &page.next {
            Some(next) => Cursor {
                done_until: cursor.done_until,
                open: Some(OpenWindow {
                    window: window.clone(),
                    resume: Some(next.clone()),
                }),
            },
            None => Cursor {
                done_until: Some(window.to),
                open: None,
            },
        };
        // Flushes the events first, then writes and flushes the cursor.
        store.cursor_set(name, &next.encode())?;
        report.pages += 1;
        on_page(report);
        match page.next {
            Some(n) => resume = Some(n),
            None => return Ok(next),
        }
    }
}

/// Stores a page's events and quarantines its rejected records.
fn commit(store: &Store, page: &Page, report: &mut StreamReport) -> Result<(), CollectError> {
    let mut events: Vec<Event> = Vec::with_capacity(page.items.len());
    for (i, item) in page.items.iter().enumerate() {
        match item {
            Item::Event(ev) => events.push((**ev).clone()),
            Item::Ignored { .. } => report.ignored += 1,
            Item::Rejected { row, error } => {
                report.rejected += 1;
                store.quarantine(&QuarantineRecord {
                    file: page.origin.clone(),
                    line: 1,
                    row: Some(row.unwrap_or(i)),
                    source_hint: error.source_hint().map(|s| s.to_string()),
                    reason: error.to_string(),
                    excerpt: String::new(),
                })?;
            }
        }
    }
    if !events.is_empty() {
        let outcome = store.insert_batch(&events)?;
        report.inserted += outcome.inserted;
        report.duplicates += outcome.duplicates;
    }
    Ok(())
}
