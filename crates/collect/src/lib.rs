//! skein's API collectors (SPEC §7): Microsoft Graph sign-ins, the Log Analytics query API,
//! CloudTrail `LookupEvents` and CloudTrail trail files in S3.
//!
//! It owns the network side of collection: configuration ([`config`]), secrets ([`secret`]),
//! Entra ID credentials through `azure_identity` ([`azure`]), HTTP with throttling, retries
//! and rate limits ([`http`]), one [`Stream`] per API, and the [`driver`] that turns pages
//! into stored events with a durable cursor per stream, exactly once.
//!
//! It must not parse records itself: every page is handed to `skein-ingest`'s parsers, so an
//! event collected from an API and the same record read from an exported file get the same
//! id (and de-duplicate against each other). It never logs, returns or stores a secret.
//!
//! # Exactly once
//! A stream's cursor (in the store's `cursors` tree, see [`cursor`]) records the end of the
//! last completed time window and, while a window is being read, where to continue in it
//! (a `@odata.nextLink`, a `NextToken`, a sub-range, an S3 key). The driver stores a page's
//! events, flushes, and only then writes the cursor past that page; a run killed at any
//! point re-reads at most the page it was in, and the store's de-duplication on the source's
//! own event id drops what was already stored. Each new window starts `overlap` before the
//! previous one ended, so late-arriving records are picked up, once.

pub mod azure;
pub mod cloudtrail;
pub mod config;
pub mod cursor;
pub mod driver;
pub mod graph;
pub mod http;
pub mod loganalytics;
pub mod s3;
pub mod secret;
pub mod sources;

pub use config::{Config, ConfigError};
pub use cursor::{Cursor, Window};
pub use driver::{collect_all, CollectOptions, Page, Stream, StreamReport};
pub use sources::build_streams;

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Credentials could not be built or a token could not be obtained.
    #[error("source `{source_name}`: authentication failed: {message}")]
    Auth {
        source_name: String,
        message: String,
    },
    /// An API answered with an error that retrying does not fix (or retries ran out).
    #[error("source `{source_name}`: {message}")]
    Api {
        source_name: String,
        message: String,
    },
    /// A response that is not what the API documents.
    #[error("source `{source_name}`: unexpected response: {message}")]
    Response {
        source_name: String,
        message: String,
    },
    /// A bad setting found only when it is used (a CA file that is not PEM, ...).
    #[error("source `{source_name}`: {message}")]
    Setup {
        source_name: String,
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] skein_store::StoreError),
    /// A stop was asked for (SIGINT / SIGTERM) while waiting; nothing was lost.
    #[error("stopped")]
    Stopped,
}
