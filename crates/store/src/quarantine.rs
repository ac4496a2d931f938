//! The quarantine file: one JSON line per rejected input record (SPEC §2, §10).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Name of the quarantine file inside the state directory.
pub const QUARANTINE_FILE: &str = "quarantine.ndjson";

/// Longest excerpt kept per record, in bytes; longer excerpts are cut at a character boundary.
pub const MAX_EXCERPT: usize = 4096;

/// A record that could not be ingested, with where it came from and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// The input file (or `-` for stdin), as the user named it.
    pub file: String,
    /// 1-based line of the record in the file (for a JSON document, the line it starts on).
    pub line: u64,
    /// 0-based row or element inside the record, when the record holds many (a query-API table).
    pub row: Option<usize>,
    /// The source the record was meant for, when known (`--source` or detection).
    pub source_hint: Option<String>,
    /// Why it was rejected.
    pub reason: String,
    /// The start of the record's text; the store cuts it to [`MAX_EXCERPT`] bytes.
    pub excerpt: String,
}

/// One line of the quarantine file: the record plus when it was quarantined.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    file: &'a str,
    line: u64,
    row: Option<usize>,
    source_hint: Option<&'a str>,
    reason: &'a str,
    excerpt: &'a str,
    truncated: bool,
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Appends to `quarantine.ndjson`, opened lazily (created `0600`).
#[derive(Debug)]
pub(crate) struct QuarantineLog {
    path: PathBuf,
    writer: Mutex<Option<BufWriter<File>>>,
}

impl QuarantineLog {
    pub(crate) fn new(dir: &Path) -> QuarantineLog {
        QuarantineLog {
            path: dir.join(QUARANTINE_FILE),
            writer: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line, then runs `count` (which records the new total) while still holding
    /// the file, so that lines and the count advance together.
    pub(crate) fn append(
        &self,
        rec: &QuarantineRecord,
        count: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let excerpt = truncate_at_char(&rec.excerpt, MAX_EXCERPT);
        let line = Line {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            file: &rec.file,
            line: rec.line,
            row: rec.row,
            source_hint: rec.source_hint.as_deref(),
            reason: &rec.reason,
            excerpt,
            truncated: excerpt.len() < rec.excerpt.len(),
        };
        let mut text = serde_json::to_vec(&line).map_err(|e| StoreError::Io {
            action: "encoding quarantine record for",
            path: self.path.clone(),
            source: e.into(),
        })?;
        text.push(b'\n');
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(BufWriter::new(self.open()?));
        }
        if let Some(w) = guard.as_mut() {
            w.write_all(&text)
                .map_err(StoreError::io("writing quarantine file", &self.path))?;
        }
        count()
    }

    fn open(&self) -> Result<File> {
        let mut opts = OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(&self.path)
            .map_err(StoreError::io("opening quarantine file", &self.path))
    }

    /// Writes buffered lines to the file and syncs it.
    pub(crate) fn flush(&self) -> Result<()> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = guard.as_mut() {
            w.flush()
                .and_then(|()| w.get_ref().sync_data())
                .map_err(StoreError::io("flushing quarantine file", &self.path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "aé".repeat(3000);
        let t = truncate_at_char(&s, MAX_EXCERPT);
        assert!(t.len() <= MAX_EXCERPT && t.len() >= MAX_EXCERPT - 3);
        assert!(s.starts_with(t));
        assert_eq!(truncate_at_char("short", 10), "short");
    }
}
