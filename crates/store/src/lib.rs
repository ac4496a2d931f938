//! skein's state (SPEC §8): the only crate that touches sled.
//!
//! It owns
//! - the sled database under `STATE/db` and the layout of its trees ([`keys`]);
//! - the writer's in-memory state: de-duplication index, entity summaries, counters;
//! - the schema version ([`SCHEMA_VERSION`]) and value format revision ([`FORMAT_REVISION`])
//!   checked on every open;
//! - the single-writer lock `STATE/skein.lock`, whose error names the process holding it;
//! - the quarantine file `STATE/quarantine.ndjson` for records that could not be ingested;
//! - collectors' durable cursors, flushed on every advance;
//! - the change log (which events each batch stored) and named checkpoints, for readers that
//!   continue where they stopped (incremental `correlate`; see the `changes` module).
//!
//! ## Layout (schema 4)
//!
//! Events are stored in **chunks**, not one key each: an insert groups its new events by
//! `(source, bucket)`, the bucket being the event time floored to 10 minutes, sorts each group
//! by time and cuts it into chunks of at most 40 events (earlier builds: 24 or 128), keyed
//! `source | bucket | chunk seq`. A chunk is two compressed postcard values under that key
//! (LZ4 and zstd; see the `chunk` module):
//! the events **without their original record** (`raw`) in the `chunks` tree, and the
//! original records in the `chunk_raws` tree. `raw` is most of an event's bytes and most
//! readers never need it, so every read takes a [`ReadMode`]: `Full`, or `WithoutRaw`, which
//! reads neither the raws from sled nor decompresses them (events come back with `raw`
//! empty). A database whose schema version is not [`SCHEMA_VERSION`] is refused with an error
//! that says to re-ingest (there are no migrations).
//!
//! ## Reading events
//!
//! - [`Store::get_event`]: one event, always in full.
//! - [`Store::events_in_range`], [`Store::events_in_range_merged`],
//!   [`Store::events_for_entity`] (and their `_with` forms taking a [`ReadMode`]; the plain
//!   ones read `Full`): iterators in time order. Events never straddle buckets, so a range
//!   scan walks the buckets in key order and decodes and sorts one bucket (all its chunks) at
//!   a time: it holds at most one bucket of one source in memory (one per source when
//!   merged), never the store.
//! - [`Store::scan_chunks`]: every event of a time range, decoded chunk by chunk on several
//!   threads and handed to a callback in no particular order: the fast path for correlation
//!   (over a million events a second on two cores without `raw`; see
//!   `examples/store_throughput.rs`).
//!
//! Long scans (of chunks, findings, id lists) look each key up again as they read it, so that
//! sled 0.34's page cache, which weighs accesses only once 64 have queued per shard, can evict
//! what they read (see the `evict` module): memory stays at the cache and what the reader
//! keeps, not at what the scan read.
//!
//! Every time range is `from <= time < to`, either bound optional.
//!
//! ## Indexes and summaries
//!
//! **De-duplication** is on a 128-bit xxh3 hash of `source | id`, held in memory (hash → chunk,
//! ≈ 30–45 bytes per stored event), loaded on first use from the `chunk_ids` tree, which
//! keeps each chunk's hashes under the chunk's key. `get_event` goes hash → chunk → decode →
//! match on the id.
//!
//! The **entity index** (`by_entity`) records, for every entity but tenants, the chunks
//! whose events mention it, packed into one sorted run per hash shard per batch (see the
//! `index` module for why not one key per posting); `events_for_entity` decodes those chunks
//! and keeps the events that mention the entity.
//! **Summaries** (first/last seen, count) exist for every entity type but tokens (about one
//! per sign-in); the writer keeps them in memory and writes them back as hash partitions of
//! packed entries (see the `summary` module).
//! **Accounts by address** (`address_accounts`): the accounts that succeeded from each
//! address, per bucket, written in each batch's commit transaction;
//! [`Store::accounts_at_address`] counts them for the cases' hub check without reading
//! events (see the `address_accounts` module).
//! Crash safety is described in the `write` module: the commit point is one sled transaction
//! per batch over the chunks (both trees), their ids, the counters and the change log.
//!
//! ## Change log and checkpoints
//!
//! For readers that continue where they stopped (incremental correlation):
//! [`Store::change_seq`] is a position in the store's history (the chunk seq the next batch
//! will start at), and [`Store::changes_since`] summarises what the batches stored after
//! such a position hold ([`ChangeSummary`]: batches, events, time span per source, late
//! events included). Each batch that stores at least one event writes one `changes` entry in
//! its commit transaction, so the log agrees with the chunks after any crash.
//! [`Store::checkpoint_put`], [`Store::checkpoints_with_prefix`] and
//! [`Store::checkpoint_remove`] keep readers' own state (blobs of any size, by name) in the
//! `checkpoints` tree, apart from collectors' cursors. See the `changes` module.
//!
//! ## Cases
//!
//! [`Store::replace_cases`] (or [`Store::case_replacement`], fed one case at a time) keeps
//! the cases `correlate` derives from the findings (JSON by id, LZ4-compressed, written only
//! when changed, each with an opaque index entry and its opaque findings written in the
//! same transaction), [`Store::cases_json`] and [`Store::case_json`] read them,
//! [`Store::case_indexes`] reads every index entry (what an incremental case update needs,
//! without decoding every case) and [`Store::case_findings`] one case's findings (what
//! rebuilding it needs, in one read). See the `cases` module.
//!
//! ## Findings
//!
//! [`Store::put_findings`] stores rules' [`Finding`](skein_model::Finding)s as JSON by id
//! (insert, leave unchanged or replace; [`FindingsOutcome`] says which), in compressed
//! blocks of up to 64 with a count, in one transaction flushed before it returns; [`Store::findings`] lists them
//! (all or one rule's) by `(first_seen, id)`, [`Store::finding`] gets one
//! ([`Store::findings_with_ids`] several),
//! [`Store::finding_count`] counts them, [`Store::remove_findings`] removes some (again in one
//! flushed transaction). See the `findings` module.
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
//!
//! // Correlation: every event of the last day, without `raw`, on two threads.
//! use skein_store::ReadMode;
//! let since = chrono::Utc::now() - chrono::Duration::days(1);
//! let seen = std::sync::atomic::AtomicU64::new(0);
//! let scan = store.scan_chunks(Some(since), None, ReadMode::WithoutRaw, 2, |events| {
//!     seen.fetch_add(events.len() as u64, std::sync::atomic::Ordering::Relaxed);
//! })?;
//! assert_eq!(scan.events, seen.into_inner());
//!
//! // Findings: stored by id, so re-running a rule adds nothing.
//! let findings: Vec<skein_model::Finding> = Vec::new(); // from the rules
//! let put = store.put_findings(&findings)?;
//! println!("{} new, {} updated, {} unchanged", put.inserted, put.updated, put.unchanged);
//! for f in store.findings(Some("password-spray"))? {
//!     println!("{} {}", f.first_seen, f.title);
//! }
//! # Ok(()) }
//! ```

mod address_accounts;
mod cases;
mod changes;
mod chunk;
#[cfg(test)]
mod crash_tests;
mod error;
mod evict;
mod finding_blocks;
mod finding_index;
mod findings;
mod findings_migration;
mod index;
pub mod keys;
mod lock;
mod quarantine;
mod read;
mod scan;
mod state;
mod stats;
mod store;
mod summary;
mod write;

pub use address_accounts::forget_accounts_by_address;
pub use cases::{CaseRecord, CaseReplacement, CasesOutcome, IndexEntry};
pub use changes::ChangeSummary;
pub use chunk::ReadMode;
pub use error::{Result, StoreError};
pub use findings::{finding_digest, FindingRecord, FindingsOutcome};
pub use lock::{LockHolder, LOCK_FILE};
pub use quarantine::{QuarantineRecord, MAX_EXCERPT, QUARANTINE_FILE};
pub use read::{EntityOrder, EventIter};
pub use scan::{PerThread, ScanStats};

/// Maps and sets keyed by finding id, hashed with foldhash: a full correlate looks up and
/// inserts every finding's id in several (std's SipHash was ~0.5% of the run).
pub type IdMap<V> = std::collections::HashMap<String, V, foldhash::fast::RandomState>;
/// See [`IdMap`].
pub type IdSet = std::collections::HashSet<String, foldhash::fast::RandomState>;
pub use stats::{EntitySummary, SourceStats, StoreStats};
pub use store::{sled_config, OpenOptions, Store, DB_DIR};
pub use write::{BatchOutcome, SourceOutcome};

/// The version of the database layout this build reads and writes. Bump it on any change to
/// keys or values — including any change to the fields of [`skein_model::Event`], which
/// postcard stores by position, so that an older database is refused with a clear error
/// instead of failing to decode; there are no migrations yet, so it must be re-ingested.
pub const SCHEMA_VERSION: u32 = 4;

/// The newest value format this build writes within [`SCHEMA_VERSION`]. A schema change means
/// re-ingesting; a format revision does not: it adds a new encoding of some value that this
/// build and later ones read alongside the older ones (revision 1: original records in zstd,
/// compressed cases, format-2 index runs; revision 2: findings in blocks, moved there from
/// the one-value-per-finding trees when a store is opened; revision 3: accounts by address,
/// written with every batch, which a build without them would leave incomplete; revision 4:
/// the blocks' heads in `finding_heads`, written with every block, which a build without
/// them would leave stale). Opening a store marks it with this revision when its
/// mark is lower, and a build whose revision is lower than a store's mark refuses the store
/// ([`StoreError::FormatTooNew`]) instead of reporting values it cannot decode as damaged.
/// Builds from before the mark existed do not check it.
pub const FORMAT_REVISION: u32 = 4;
