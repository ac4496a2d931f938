//! The store's error type.

use std::path::PathBuf;

use crate::lock::LockHolder;

/// Everything that can go wrong in the store. Messages name the file, key or operation so
/// that the command line can print them as they are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory is used by another process that holds its single-writer lock.
    #[error("state directory {} is in use by {holder}", dir.display())]
    Locked {
        /// The state directory.
        dir: PathBuf,
        /// Who holds the lock, as written by that process into `skein.lock`.
        holder: LockHolder,
    },
    /// The database was written by an older skein whose schema this one cannot read.
    #[error(
        "state schema version {found} is older than the supported version {supported} and no \
         migration exists yet; ingest again into a new state directory"
    )]
    SchemaTooOld {
        /// The version stored in the database.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The database was written by a newer skein.
    #[error(
        "state schema version {found} is newer than the supported version {supported}; \
         use a newer skein or a new state directory"
    )]
    SchemaTooNew {
        /// The version stored in the database.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The database holds values in a format revision newer than this build reads.
    #[error(
        "state was written by a newer skein (value format revision {found}; this build reads \
         up to {supported}); use that skein or a newer one, or a new state directory"
    )]
    FormatTooNew {
        /// The revision marked in the database.
        found: u32,
        /// The newest revision this build reads and writes.
        supported: u32,
    },
    /// A filesystem operation on the state directory, lock or quarantine file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "creating state directory".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// sled reported an error.
    #[error("state database error while {action}: {source}")]
    Sled {
        /// What was being done, e.g. "inserting events".
        action: &'static str,
        /// The underlying error.
        #[source]
        source: sled::Error,
    },
    /// A value or key read from the database could not be decoded.
    #[error("corrupt state: {what} at key {key} in tree '{tree}'")]
    Corrupt {
        /// The sled tree.
        tree: &'static str,
        /// The key, hex-encoded.
        key: String,
        /// What was wrong.
        what: String,
    },
    /// An event could not be encoded for storage (a value outside what the key encoding holds).
    #[error("cannot store event {id} of {event_source}: {what}")]
    Encode {
        /// The event's source.
        event_source: skein_model::Source,
        /// The event's id.
        id: String,
        /// What was wrong.
        what: String,
    },
    /// A finding could not be stored (an empty id, or content JSON cannot hold).
    #[error("cannot store finding {id:?}: {what}")]
    InvalidFinding {
        /// The finding's id.
        id: String,
        /// What was wrong.
        what: String,
    },
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Wraps a sled error with what was being done.
    pub(crate) fn sled(action: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
        move |source| StoreError::Sled { action, source }
    }

    /// The error of a failed sled transaction: its own abort error as it is, a storage error
    /// wrapped with what was being done.
    pub(crate) fn transaction(
        action: &'static str,
    ) -> impl FnOnce(sled::transaction::TransactionError<StoreError>) -> StoreError {
        move |e| match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(source) => {
                StoreError::Sled { action, source }
            }
        }
    }

    /// Wraps an IO error with what was being done and on which path.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }

    /// A corrupt value at `key` in `tree`.
    pub(crate) fn corrupt(tree: &'static str, key: &[u8], what: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            tree,
            key: hex(key),
            what: what.into(),
        }
    }
}

/// Lower-case hex of `bytes`, at most 128 bytes of it (longer keys end with `...`).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len().min(128) * 2 + 3);
    for b in bytes.iter().take(128) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 128 {
        s.push_str("...");
    }
    s
}
