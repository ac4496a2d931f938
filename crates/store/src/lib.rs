//! skein's state (SPEC §8): the only crate that touches sled.
//!
//! It owns
//! - the sled database under `STATE/db` and the layout of its trees ([`keys`]): events by
//!   source and time, the de-duplication index on the source's own id, the index of events by
//!   entity, entity summaries, counters;
//! - the schema version ([`SCHEMA_VERSION`]) checked on every open;
//! - the single-writer lock `STATE/skein.lock`, whose error names the process holding it;
//! - the quarantine file `STATE/quarantine.ndjson` for records that could not be ingested;
//! - collectors' durable cursors, flushed on every advance.
//!
//! It must not parse wire formats (that is `skein-ingest`) or run rules: it stores canonical
//! [`Event`](skein_model::Event)s and gives them back by source and time or by entity.
//!
//! ```no_run
//! # fn main() -> Result<(), skein_store::StoreError> {
//! use skein_store::{OpenOptions, Store};
//! let store = Store::open(std::path::Path::new("state"), OpenOptions::default())?;
//! let events = Vec::new(); // parsed by skein-ingest
//! let outcome = store.insert_batch(&events)?;
//! println!("{} new, {} already stored", outcome.inserted, outcome.duplicates);
//! store.flush()?;
//! # Ok(()) }
//! ```

mod error;
pub mod keys;
mod lock;
mod quarantine;
mod read;
mod stats;
mod store;
mod write;

pub use error::{Result, StoreError};
pub use lock::{LockHolder, LOCK_FILE};
pub use quarantine::{QuarantineRecord, MAX_EXCERPT, QUARANTINE_FILE};
pub use read::EventIter;
pub use stats::{EntitySummary, SourceStats, StoreStats};
pub use store::{OpenOptions, Store, DB_DIR};
pub use write::{BatchOutcome, SourceOutcome};

/// The version of the database layout this build reads and writes. Bump it on any change to
/// keys or values; there are no migrations yet, so an older database must be re-ingested.
pub const SCHEMA_VERSION: u32 = 1;
