//! A stream's durable position, stored as JSON under its name in the store's cursor tree.
//!
//! Collection proceeds in time windows `[from, to)`. `done_until` is the end of the last
//! window read completely; `open` is the window being read when the last run stopped, with
//! the stream's own token for where to continue in it. A cursor never holds a secret: the
//! resume tokens are paging links and keys, and a URL's query is kept only when the API puts
//! the paging state there (`$skiptoken`), never credentials.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A time window `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A window being read and where to continue in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWindow {
    pub window: Window,
    /// The stream's token for the next page (`None`: the window's first page).
    pub resume: Option<String>,
}

/// The position of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Everything before this was read (the end of the last completed window).
    pub done_until: Option<DateTime<Utc>>,
    /// The window a stopped run was reading.
    pub open: Option<OpenWindow>,
}

impl Cursor {
    /// Decodes a stored cursor. A value this build cannot read is reported, and the caller
    /// starts over from its lookback (the store de-duplicates what is read again).
    pub fn decode(bytes: &[u8]) -> Result<Cursor, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        // A struct of strings and times always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The window to read now: the open one if a run stopped inside it, else from
    /// `done_until - overlap` (or `start` when the stream has never completed a window) to
    /// `now`. `None` when there is nothing to read.
    pub fn next_window(
        &self,
        start: DateTime<Utc>,
        overlap: Duration,
        now: DateTime<Utc>,
    ) -> Option<OpenWindow> {
        if let Some(open) = &self.open {
            return Some(open.clone());
        }
        let from = match self.done_until {
            Some(done) => done.checked_sub_signed(overlap).unwrap_or(done),
            None => start,
        };
        (from < now).then_some(OpenWindow {
            window: Window { from, to: now },
            resume: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn windows_start_an_overlap_before_the_last_end() {
        let overlap = Duration::minutes(15);
        let now = t("2026-01-01T12:00:00Z");
        let fresh = Cursor::default();
        let w = fresh
            .next_window(t("2026-01-01T00:00:00Z"), overlap, now)
            .unwrap();
        assert_eq!(w.window.from, t("2026-01-01T00:00:00Z"));
        let done = Cursor {
            done_until: Some(t("2026-01-01T11:00:00Z")),
            open: None,
        };
        let w = done
            .next_window(t("2025-01-01T00:00:00Z"), overlap, now)
            .unwrap();
        assert_eq!(w.window.from, t("2026-01-01T10:45:00Z"));
        assert_eq!(w.window.to, now);
        let open = Cursor {
            done_until: None,
            open: Some(OpenWindow {
                window: Window {
                    from: t("2026-01-01T01:00:00Z"),
                    to: t("2026-01-01T02:00:00Z"),
                },
                resume: Some("page-3".into()),
            }),
        };
        assert_eq!(open.next_window(now, overlap, now), open.open.clone());
        assert_eq!(Cursor::decode(&open.encode()).unwrap(), open);
        assert!(fresh.next_window(now, overlap, now).is_none());
    }
}
