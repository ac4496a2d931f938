//! skein's state (SPEC §8): the only crate that touches sled.
//!
//! It owns
//! - the sled database under `STATE/db` and the layout of its trees ([`keys`]);
//! - the writer's in-memory state: de-duplication index, entity summaries, counters;
//! - the schema version ([`SCHEMA_VERSION`]) checked on every open;
//! - the single-writer lock `STATE/skein.lock`, whose error names the process holding it;
//! - the quarantine file `STATE/quarantine.ndjson` for records that could not be ingested;
//! - collectors' durable cursors, flushed on every advance.
//!
//! ## Layout (schema 2)
//!
//! Events are stored in **chunks**, not one key each: an insert groups its new events by
//! `(source, bucket)`, the bucket being the event time floored to 10 minutes, sorts each group
//! by time and writes it as one LZ4-compressed postcard value in the `chunks` tree under
//! `source | bucket | chunk seq`. Events never straddle buckets, so a range scan walks the
//! buckets in key order and decodes and sorts one bucket (all its chunks) at a time: a scan
//! holds at most one bucket of one source in memory (one per source when merged), never the
//! store.
//!
//! **De-duplication** is on a 128-bit xxh3 hash of `source | id`, held in memory (hash → chunk,
//! ≈ 30–45 bytes per stored event), loaded on first use from the `chunk_ids` tree, which
//! keeps each chunk's hashes under the chunk's key. `get_event` goes hash → chunk → decode →
//! match on the id.
//!
//! The **entity index** (`by_entity`) records, for every entity but tenants, the
//! `(source, bucket)`s whose events mention it, packed into one sorted run per hash shard per
//! batch (see the `index` module for why not one key per posting); `events_for_entity`
//! decodes those buckets and keeps the events that mention the entity.
//! **Summaries** (first/last seen, count) exist for every entity type but tokens (about one
//! per sign-in); the writer keeps them in memory and writes them back as hash partitions of
//! packed entries (see the `summary` module).
//! Crash safety is described in the `write` module: the commit point is one sled transaction
//! per batch over the chunks, their ids and the counters.
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

mod chunk;
#[cfg(test)]
mod crash_tests;
mod error;
mod index;
pub mod keys;
mod lock;
mod quarantine;
mod read;
mod state;
mod stats;
mod store;
mod summary;
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
pub const SCHEMA_VERSION: u32 = 2;
