//! Wire-shape parsers: every input shape of SPEC §2 into canonical [`skein_model::Event`]s.
//!
//! # Layout
//! - [`input`]: the only IO edge: opens files, directories (recursively) and stdin, and
//!   un-gzips transparently (detected by magic bytes, not by name).
//! - [`framing`]: splits a byte stream into [`Frame`]s (one JSON record each) without holding
//!   more than one record in memory: NDJSON, a JSON array, or a container object
//!   (`{"Records":[...]}`, `{"records":[...]}`, `{"value":[...]}`, `{"Events":[...]}`,
//!   `{"tables":[...]}`). Generic over `BufRead`; it does no IO of its own.
//! - [`detect`]: decides, from a frame's content, which parser it belongs to.
//! - [`entra`], [`blob`], [`cloudtrail`], [`loganalytics`]: one parser per wire shape, pure
//!   functions from JSON to events.
//! - [`fields`] and [`pyrepr`]: field-level helpers shared by the parsers.
//!
//! Parsing must never panic on any input and never do IO; a record that cannot be parsed is
//! a [`RecordError`] that the caller quarantines with file and line.

pub mod blob;
pub mod cloudtrail;
pub mod detect;
pub mod entra;
pub mod fields;
pub mod framing;
pub mod input;
pub mod loganalytics;
pub mod pyrepr;

use skein_model::{Event, Source};

pub use detect::parse_frame;
pub use framing::{Container, Frame, FrameError, Framer};

/// What one frame (or one row of a query-API table frame) turned into. [`parse_frame`]
/// pushes one or more of these per frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A canonical event.
    Event(Box<Event>),
    /// A well-formed record of a kind skein does not ingest (an `AuditLogs` diagnostic record,
    /// a Log Analytics table other than the supported ones). Counted, not quarantined.
    Ignored {
        /// What kind of record it was, e.g. `"category AuditLogs"`.
        kind: String,
    },
    /// A record that could not be parsed. `row` is the 0-based row (or element) inside the
    /// frame when the frame holds many records (a query-API table), else `None`.
    Rejected {
        row: Option<usize>,
        error: RecordError,
    },
}

/// Why a record was rejected. The caller adds file and line and quarantines it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not valid JSON (or not UTF-8).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Valid JSON, but not an object of any known shape (e.g. a number in an array).
    #[error("unrecognised record: {0}")]
    Unrecognised(String),
    /// A known shape with a required field missing or of the wrong type.
    #[error("{shape}: {problem}")]
    Invalid {
        /// The wire shape that was recognised.
        shape: &'static str,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// The record does not belong to the source the user forced with `--source`.
    #[error("record is {found}, not {expected} (--source)")]
    WrongSource {
        /// The source given on the command line.
        expected: Source,
        /// The source the record looks like.
        found: Source,
    },
}

impl RecordError {
    /// The source the rejected record most likely belongs to, where the error tells it
    /// (used to report rejections per source).
    pub fn source_hint(&self) -> Option<Source> {
        match self {
            RecordError::WrongSource { found, .. } => Some(*found),
            RecordError::Invalid { shape, .. } => {
                let shape = shape.to_ascii_lowercase();
                if ["cloudtrail", "lookup", "eventbridge", "aws"]
                    .iter()
                    .any(|k| shape.contains(k))
                {
                    Some(Source::Cloudtrail)
                } else if ["blob", "storage"].iter().any(|k| shape.contains(k)) {
                    Some(Source::StorageBlob)
                } else if ["sign", "graph", "entra"].iter().any(|k| shape.contains(k)) {
                    Some(Source::EntraSignin)
                } else {
                    None
                }
            }
            RecordError::Json(_) | RecordError::Unrecognised(_) => None,
        }
    }
}

/// Convenience for parsers: an [`RecordError::Invalid`].
pub(crate) fn invalid(shape: &'static str, problem: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        shape,
        problem: problem.into(),
    }
}
