//! Progress on a terminal, silence in a pipe; and the process's peak memory.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over input bytes (or a spinner when the total is unknown, e.g. stdin),
/// drawn on stderr only when stderr is a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    consumed: Arc<AtomicU64>,
    events: AtomicU64,
}

impl Progress {
    /// `consumed` is the byte counter the input readers advance.
    pub fn new(total_bytes: Option<u64>, wanted: bool, consumed: Arc<AtomicU64>) -> Progress {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar = match total_bytes {
                Some(total) => {
                    let bar = ProgressBar::with_draw_target(
                        Some(total),
                        ProgressDrawTarget::stderr_with_hz(8),
                    );
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar
                }
                None => {
                    let bar = ProgressBar::with_draw_target(
                        None,
                        ProgressDrawTarget::stderr_with_hz(8),
                    );
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar
                }
            };
            bar.enable_steady_tick(Duration::from_millis(125));
            bar
        });
        Progress {
            bar,
            consumed,
            events: AtomicU64::new(0),
        }
    }

    /// A bar over a known number of events (`skein correlate`), drawn only on a terminal.
    pub fn events(total: u64, wanted: bool) -> Progress {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {bar:30} {human_pos}/{human_len} events {per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(125));
            bar
        });
        Progress {
            bar,
            consumed: Arc::new(AtomicU64::new(0)),
            events: AtomicU64::new(0),
        }
    }

    /// Advances an [`Progress::events`] bar by `n` events.
    pub fn advance(&self, n: u64) {
        self.events.fetch_add(n, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Records that `n` more events were written; refreshes the bar.
    pub fn add_events(&self, n: u64) {
        let total = self.events.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.set_position(self.consumed.load(Ordering::Relaxed));
            bar.set_message(format!("{total} events"));
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), where the OS tells it.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
