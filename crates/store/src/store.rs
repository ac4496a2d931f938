//! [`Store`]: opening the state directory, schema, flushing, cursors, quarantine and stats.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use skein_model::{EntityType, Source};

use crate::error::{Result, StoreError};
use crate::finding_index::FindingIndex;
use crate::lock::{StateLock, LOCK_FILE};
use crate::quarantine::{QuarantineLog, QuarantineRecord, QUARANTINE_FILE};
use crate::state::State;
use crate::stats::{decode_u64, SourceStats, Span, StoreStats};
use crate::summary;
use crate::{FORMAT_REVISION, SCHEMA_VERSION};

/// Name of the sled database directory inside the state directory.
pub const DB_DIR: &str = "db";

/// Keys of the `meta` tree.
pub(crate) mod meta {
    /// The schema version, `u32` big-endian.
    pub const SCHEMA: &[u8] = b"schema_version";
    /// The highest value format revision that has written to the store, `u32` big-endian
    /// (see [`crate::FORMAT_REVISION`]).
    pub const FORMAT_REVISION: &[u8] = b"format_revision";
    /// Records quarantined, `u64` big-endian.
    pub const QUARANTINED: &[u8] = b"quarantined";
    /// The next chunk sequence number, `u64` big-endian.
    pub const NEXT_SEQ: &[u8] = b"next_chunk_seq";
    /// Findings stored, `u64` big-endian (see the `findings` module).
    pub const FINDINGS: &[u8] = b"findings";
    /// Present when every stored case has its `case_index` entry (set by a replacement of
    /// every case; older states lack it).
    pub const CASES_INDEXED: &[u8] = b"cases_indexed";
    /// Present when every finding block has its heads in `finding_heads` (set with the
    /// heads the index first copies from the blocks; older states lack it).
    pub const FINDING_HEADS: &[u8] = b"finding_heads";
    /// The first chunk seq whose batch wrote its accounts by address, `u64` big-endian
    /// (see the `address_accounts` module): 0 when every chunk has them. Written with the
    /// first batch a build that writes them commits.
    pub const ADDRESS_ACCOUNTS_FROM: &[u8] = b"address_accounts_from";
    /// `source:` + source tag → event count and time span ([`crate::stats::Span`]).
    pub fn source(tag: u8) -> [u8; 8] {
        let mut k = *b"source:\0";
        k[7] = tag;
        k
    }
}

/// How to open a [`Store`]. Build it from `OpenOptions::default()` and adjust fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// sled's page cache in bytes (default 64 MiB). Values are large compressed chunks, so a
    /// small cache suffices for writing; sled 0.34 does not hold to it strictly (see
    /// `examples/store_throughput.rs` for measured peak memory).
    pub cache_capacity: u64,
    /// How often sled writes dirty data in the background, `None` for only on
    /// [`Store::flush`] (default 1000 ms).
    pub flush_every_ms: Option<u64>,
    /// sled's `Mode::HighThroughput` instead of `Mode::LowSpace` (default true: ingest speed
    /// matters more than a somewhat larger database).
    pub high_throughput: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            cache_capacity: 64 * 1024 * 1024,
            flush_every_ms: Some(1000),
            high_throughput: true,
        }
    }
}

/// The state: one sled database plus the quarantine file, behind a single-writer lock.
///
/// Trees: `chunks` (events without their original records), `chunk_raws` (the original
/// records), `chunk_ids` (their hashes, for de-duplication), `by_entity` (index), `entities`
/// (summaries), `meta` (schema version and counters), `cursors`, `finding_blocks`, `cases`,
/// `case_index` (a compact summary per case, written with it), `case_findings` (each
/// case's findings as its builder encoded them, written with it), `address_accounts` (the
/// accounts that succeeded from each address, per bucket),
/// `changes` (the change log) and `checkpoints` (readers' saved
/// state); see [`keys`](crate::keys) for their key layouts. A `Store` is `Sync`: readers may
/// run on many threads; writes are serialised internally.
#[derive(Debug)]
pub struct Store {
    pub(crate) dir: PathBuf,
    pub(crate) db: sled::Db,
    pub(crate) chunks: sled::Tree,
    pub(crate) chunk_raws: sled::Tree,
    pub(crate) chunk_ids: sled::Tree,
    pub(crate) by_entity: sled::Tree,
    pub(crate) address_accounts: sled::Tree,
    pub(crate) entities: sled::Tree,
    pub(crate) meta: sled::Tree,
    pub(crate) cursors: sled::Tree,
    pub(crate) finding_blocks: sled::Tree,
    pub(crate) finding_heads: sled::Tree,
    pub(crate) cases: sled::Tree,
    pub(crate) case_index: sled::Tree,
    pub(crate) case_findings: sled::Tree,
    pub(crate) changes: sled::Tree,
    pub(crate) checkpoints: sled::Tree,
    pub(crate) quarantine: QuarantineLog,
    /// The writer's in-memory state, loaded on first use; its lock also serialises writers
    /// inside this process (the lock file excludes other processes).
    pub(crate) state: Mutex<Option<State>>,
    /// The findings writer's index of stored findings, loaded on first use (see the
    /// `findings` module).
    pub(crate) finding_index: RwLock<Option<FindingIndex>>,
    notices: Vec<String>,
    /// Declared last so that it is released after the database is closed.
    _lock: StateLock,
}

impl Store {
    /// Opens (creating when needed) the state directory `dir`: creates it private (`0700`),
    /// takes the single-writer lock on `dir/skein.lock`, opens sled at `dir/db` and checks the
    /// schema version. Other files in `dir` (such as a `README.md`) are left alone.
    ///
    /// Fails with [`StoreError::Locked`] naming the holder when another process (or another
    /// `Store` in this process) has the directory open, and with
    /// [`StoreError::SchemaTooOld`] / [`StoreError::SchemaTooNew`] on a version mismatch.
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<Store> {
        let notices = prepare_dir(dir)?;
        let lock = StateLock::acquire(dir)?;
        let mode = if opts.high_throughput {
            sled::Mode::HighThroughput
        } else {
            sled::Mode::LowSpace
        };
        let config = sled_config(dir)
            .cache_capacity(opts.cache_capacity)
            .flush_every_ms(opts.flush_every_ms)
            .mode(mode);
        let db = open_sled(&config)?;
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(StoreError::sled("opening a tree"))
        };
        let store = Store {
            dir: dir.to_path_buf(),
            chunks: tree("chunks")?,
            chunk_raws: tree("chunk_raws")?,
            chunk_ids: tree("chunk_ids")?,
            by_entity: tree("by_entity")?,
            address_accounts: tree(crate::address_accounts::TREE)?,
            entities: tree("entities")?,
            meta: tree("meta")?,
            cursors: tree("cursors")?,
            finding_blocks: tree("finding_blocks")?,
            finding_heads: tree("finding_heads")?,
            changes: tree("changes")?,
            checkpoints: tree("checkpoints")?,
            cases: tree("cases")?,
            case_index: tree("case_index")?,
            case_findings: tree("case_findings")?,
            db,
            quarantine: QuarantineLog::new(dir),
            state: Mutex::new(None),
            finding_index: RwLock::new(None),
            notices,
            _lock: lock,
        };
        store.check_schema()?;
        store.move_findings_to_blocks()?;
        Ok(store)
    }

    fn check_schema(&self) -> Result<()> {
        let found =
            match self.meta_u32(meta::SCHEMA, "reading the schema version", "schema version")? {
                Some(v) => v,
                None if self.chunks.is_empty()
                    && self.chunk_ids.is_empty()
                    && !self.legacy_data()? =>
                {
                    self.meta
                        .insert(meta::SCHEMA, &SCHEMA_VERSION.to_be_bytes())
                        .map_err(StoreError::sled("writing the schema version"))?;
                    self.db
                        .flush()
                        .map_err(StoreError::sled("flushing the new database"))?;
                    SCHEMA_VERSION
                }
                // Data without a version predates versioning.
                None => 0,
            };
        match found.cmp(&SCHEMA_VERSION) {
            std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld {
                found,
                supported: SCHEMA_VERSION,
            }),
            std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            }),
            std::cmp::Ordering::Equal => self.check_format_revision(),
        }
    }

    /// Whether `meta` holds a mark under `key` (its value does not matter); `reading` names
    /// the read in a sled error.
    pub(crate) fn meta_marked(&self, key: &[u8], reading: &'static str) -> Result<bool> {
        Ok(self
            .meta
            .get(key)
            .map_err(StoreError::sled(reading))?
            .is_some())
    }

    /// The `u32` big-endian value of `meta` under `key`, if any; `reading` names the read in a
    /// sled error, `what` the value in a corruption error.
    fn meta_u32(&self, key: &[u8], reading: &'static str, what: &str) -> Result<Option<u32>> {
        self.meta
            .get(key)
            .map_err(StoreError::sled(reading))?
            .map(|v| {
                v.as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::corrupt("meta", key, format!("{what} is not 4 bytes")))
            })
            .transpose()
    }

    /// Refuses a store marked by a newer value format revision, and marks this build's on a
    /// store with an older mark or none. The mark needs no flush of its own: sled recovers a
    /// prefix of its log, so any value written later in the new format is durable only if
    /// the mark is.
    fn check_format_revision(&self) -> Result<()> {
        let found = self.meta_u32(
            meta::FORMAT_REVISION,
            "reading the format revision",
            "format revision",
        )?;
        match found {
            Some(found) if found > FORMAT_REVISION => Err(StoreError::FormatTooNew {
                found,
                supported: FORMAT_REVISION,
            }),
            Some(found) if found == FORMAT_REVISION => Ok(()),
            _ => {
                self.meta
                    .insert(meta::FORMAT_REVISION, &FORMAT_REVISION.to_be_bytes())
                    .map_err(StoreError::sled("writing the format revision"))?;
                Ok(())
            }
        }
    }

    /// Whether the database holds trees of schema version 1 with data.
    fn legacy_data(&self) -> Result<bool> {
        for name in ["events", "ids"] {
            if self
                .db
                .tree_names()
                .iter()
                .any(|n| n.as_ref() == name.as_bytes())
            {
                let t = self
                    .db
                    .open_tree(name)
                    .map_err(StoreError::sled("opening a tree"))?;
                if !t.is_empty() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Things worth a warning found while opening, such as a state directory that others can
    /// read and that was left as it is.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Makes everything written so far durable: pending entity summaries, sled and the
    /// quarantine file.
    pub fn flush(&self) -> Result<()> {
        self.quarantine.flush()?;
        {
            let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(state) = guard.as_mut() {
                if !state.dirty.is_empty() || state.pending_events > 0 {
                    if let Err(e) = self.write_summaries(state) {
                        *guard = None;
                        return Err(e);
                    }
                }
            }
        }
        self.db
            .flush()
            .map_err(StoreError::sled("flushing the database"))?;
        Ok(())
    }

    /// Closes the store for a process that exits right after: everything written is made
    /// durable first ([`Store::flush`]), then the store is left to the process's exit
    /// instead of being dropped. Dropping it frees sled's page cache node by node (~10 ms
    /// of a ~0.25 s sweep over a 2.5M-event state) and flushes once more, which has
    /// nothing left to write. sled's background threads end with the process. A write of
    /// theirs cut short (moving pages out of a segment being cleaned) is what a kill
    /// leaves, and the next open recovers from it. Nothing in this process may open the
    /// state again: sled's file lock and `skein.lock` stay held until the exit (the lock
    /// file keeps this process's description, as after a kill; the next holder rewrites
    /// it).
    ///
    /// On an error the store is dropped as usual (which tries to flush once more).
    pub fn close_at_exit(self) -> Result<()> {
        self.flush()?;
        std::mem::forget(self);
        Ok(())
    }

    /// A collector's cursor, as last set by [`Store::cursor_set`].
    pub fn cursor_get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .cursors
            .get(name.as_bytes())
            .map_err(StoreError::sled("reading a cursor"))?
            .map(|v| v.to_vec()))
    }

    /// Sets a collector's cursor and then flushes everything (events first, so a cursor never
    /// gets ahead of the events it covers: call it after inserting them).
    pub fn cursor_set(&self, name: &str, value: &[u8]) -> Result<()> {
        self.flush()?;
        self.cursors
            .insert(name.as_bytes(), value)
            .map_err(StoreError::sled("writing a cursor"))?;
        self.flush()
    }

    /// Appends a rejected record to `quarantine.ndjson` and counts it. The excerpt is cut to
    /// [`MAX_EXCERPT`](crate::MAX_EXCERPT) bytes. Lines reach the disk on [`Store::flush`].
    pub fn quarantine(&self, rec: &QuarantineRecord) -> Result<()> {
        self.quarantine.append(rec, || {
            let n = self.quarantine_count()? + 1;
            self.meta
                .insert(meta::QUARANTINED, &n.to_be_bytes())
                .map_err(StoreError::sled("counting a quarantined record"))?;
            Ok(())
        })
    }

    /// Records quarantined so far.
    pub fn quarantine_count(&self) -> Result<u64> {
        self.meta_u64(meta::QUARANTINED)
    }

    /// Path of the quarantine file (it exists once something was quarantined).
    pub fn quarantine_path(&self) -> &Path {
        self.quarantine.path()
    }

    pub(crate) fn meta_u64(&self, key: &[u8]) -> Result<u64> {
        match self
            .meta
            .get(key)
            .map_err(StoreError::sled("reading a counter"))?
        {
            None => Ok(0),
            Some(v) => decode_u64(&v)
                .ok_or_else(|| StoreError::corrupt("meta", key, "counter is not 8 bytes")),
        }
    }

    pub(crate) fn meta_span(&self, key: &[u8]) -> Result<Option<Span>> {
        match self
            .meta
            .get(key)
            .map_err(StoreError::sled("reading a counter"))?
        {
            None => Ok(None),
            Some(v) => Span::decode(&v)
                .map(Some)
                .ok_or_else(|| StoreError::corrupt("meta", key, "span is not 24 bytes")),
        }
    }

    /// Counts and sizes. `cases` counts its tree (a scan; cheap while it is small);
    /// everything else comes from counters. Tokens are not counted (there is
    /// about one per sign-in and they have no summaries, see [`Store::entity_summary`]): their
    /// count is always 0.
    pub fn stats(&self) -> Result<StoreStats> {
        self.settle_summaries()?;
        let sources = self.source_stats()?;
        let events = sources.iter().map(|(s, st)| (*s, st.count)).collect();
        let loaded = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.entity_counts);
        let counts = match loaded {
            Some(c) => c,
            None => summary::counts(&self.entities)?,
        };
        let entities = EntityType::ALL
            .into_iter()
            .map(|t| (t, counts[t.tag() as usize]))
            .collect();
        Ok(StoreStats {
            events,
            findings: self.finding_count()?,
            cases: self.cases.len() as u64,
            sources,
            entities,
            quarantined: self.quarantine_count()?,
            schema_version: SCHEMA_VERSION,
            size_on_disk: self
                .db
                .size_on_disk()
                .map_err(StoreError::sled("measuring the database"))?,
        })
    }
}

impl Store {
    /// Per source: how many events are stored and their first and last time — the part of
    /// [`Store::stats`] a reader of events needs (a few keys, where the rest of the
    /// statistics walk the cases and the entity summaries).
    pub fn source_stats(&self) -> Result<BTreeMap<Source, SourceStats>> {
        let mut sources = BTreeMap::new();
        for s in Source::ALL {
            let key = meta::source(s.tag());
            let stats = match self.meta_span(&key)? {
                Some(span) => span
                    .source_stats()
                    .ok_or_else(|| StoreError::corrupt("meta", &key, "time out of range"))?,
                None => Default::default(),
            };
            sources.insert(s, stats);
        }
        Ok(sources)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Entries a skein state directory may hold; a directory with nothing else is tightened to
/// `0700` when it is wider.
const OWN_ENTRIES: [&str; 5] = [
    DB_DIR,
    LOCK_FILE,
    QUARANTINE_FILE,
    "README.md",
    ".gitignore",
];

/// Creates `dir` private, or checks an existing one. Returns notices for the caller.
fn prepare_dir(dir: &Path) -> Result<Vec<String>> {
    let mut notices = Vec::new();
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir)
                .map_err(StoreError::io("creating state directory", dir))?;
        }
        Err(e) => return Err(StoreError::io("reading state directory", dir)(e)),
        Ok(m) if !m.is_dir() => {
            return Err(StoreError::Io {
                action: "opening state directory",
                path: dir.to_path_buf(),
                source: std::io::Error::other("it exists and is not a directory"),
            })
        }
        Ok(_m) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = _m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    let only_ours = std::fs::read_dir(dir)
                        .map_err(StoreError::io("reading state directory", dir))?
                        .all(|e| {
                            e.map(|e| OWN_ENTRIES.iter().any(|o| e.file_name() == *o))
                                .unwrap_or(false)
                        });
                    if !only_ours {
                        notices.push(format!(
                            "state directory {} is accessible to other users (mode {mode:04o}); \
                             left as it is because it holds files that are not skein's",
                            dir.display()
                        ));
                    } else if let Err(e) =
                        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    {
                        notices.push(format!(
                            "state directory {} is accessible to other users (mode {mode:04o}) \
                             and could not be made private: {e}",
                            dir.display()
                        ));
                    }
                }
            }
        }
    }
    Ok(notices)
}

/// sled's log segment size for new databases: 8 MiB (sled's default is 512 KiB, its most
/// 16 MiB).
///
/// sled 0.34 walks every segment of the log on open (reading each one's header) and its
/// segment accountant scans the segment list as it writes, so both cost in proportion to
/// the database's size over the segment size: the bench's 3.2 GB state had ~6,500
/// segments, and an incremental `correlate` spent ~0.1–0.3 s of kernel and sled time on
/// them. With 8 MiB segments its sweeps took 0.47–0.55 s against 0.62–0.86 s (five
/// alternated runs each), the state took 2.5 instead of 3.2 GB (pages up to a quarter of a
/// segment stay in the log instead of blob files), and ingest was as fast with the same
/// peak memory.
pub(crate) const NEW_SEGMENT_SIZE: usize = 8 << 20;

/// The segment size to open `db_dir` with: what its sled `conf` file says (sled refuses a
/// database opened with another size, and stores made by earlier builds use its default),
/// [`NEW_SEGMENT_SIZE`] for a new database, or `None` (sled's default, and its own error if
/// that is wrong) when the file cannot be read.
fn segment_size(db_dir: &Path) -> Option<usize> {
    match std::fs::read(db_dir.join("conf")) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .lines()
            .find_map(|l| l.strip_prefix("segment_size: "))
            .and_then(|v| v.trim().parse().ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(NEW_SEGMENT_SIZE),
        Err(_) => None,
    }
}

/// The sled configuration that opens the database of state directory `dir` as it was
/// created (its segment size): for tools and tests that open the database directly, which
/// sled refuses with its default configuration when the sizes differ.
pub fn sled_config(dir: &Path) -> sled::Config {
    let db_dir = dir.join(DB_DIR);
    let config = sled::Config::new();
    let config = match segment_size(&db_dir) {
        Some(size) => config.segment_size(size),
        None => config,
    };
    config.path(db_dir)
}

/// Opens sled, waiting briefly when its own file lock is still held. We already hold
/// `skein.lock`, so no other skein process has the database; sled's lock can still be held for
/// a moment by the background flusher of a `Store` this process has just dropped (sled
/// releases it asynchronously), which would otherwise make a quick close-and-reopen fail.
fn open_sled(config: &sled::Config) -> Result<sled::Db> {
    const ATTEMPTS: u32 = 50;
    let mut attempt = 0;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if is_sled_lock_contention(&e) && attempt < ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(StoreError::sled("opening the database")(e)),
        }
    }
}

/// sled 0.34 reports a held file lock as `ErrorKind::Other` with a message of its own
/// ("could not acquire lock on ...", config.rs), wrapping the `WouldBlock` of `flock`; newer
/// releases may pass `WouldBlock` through, so both are accepted.
fn is_sled_lock_contention(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock
        || (e.kind() == std::io::ErrorKind::Other
            && e.to_string().starts_with("could not acquire lock"))
}
