//! Inserting events: de-duplication, chunks, the entity index, summaries and counters.
//!
//! One call, with the writer's [`State`] locked:
//! 1. drops events whose 16-byte hash ([`chunk::event_hash`]) is already in the in-memory
//!    de-duplication index or earlier in the batch;
//! 2. sorts the new events by source and time and cuts them into chunks, one or more per
//!    `(source, bucket)` (at most [`MAX_CHUNK_EVENTS`] events each), numbered from the
//!    store-wide chunk counter;
//! 3. writes the batch's entity index postings (each naming the chunk of its event), one run
//!    per shard ([`crate::index`]) keyed by the batch's first chunk seq. A run of a batch that
//!    never commits (a crash before step 4) only names chunks that do not exist or hold other
//!    events — skipped, or a wasted decode, since readers filter every event they decode —
//!    and the retry, reusing the seq, overwrites it;
//! 4. in **one sled transaction** over `chunks`, `chunk_raws`, `chunk_ids`, `meta`,
//!    `changes` and `address_accounts`: every chunk's two values, its id list, the
//!    per-source counters, the next chunk seq, the batch's change-log entry and its accounts
//!    by address (one run per shard, [`crate::address_accounts`]; unlike index postings
//!    nothing checks them, so they commit with the chunks). This is the commit point: a
//!    chunk exists if and only if its ids are known and counted, so a crash before it loses
//!    the batch (re-ingesting stores it once) and a crash after it keeps it (re-ingesting
//!    finds every event a duplicate). Nothing is ever counted twice;
//! 5. updates the in-memory index and the entity summaries. Summaries are written back as
//!    hash partitions stamped with the chunk seq they include up to ([`crate::summary`]) every
//!    million events, on [`Store::flush`] and when the store closes. On load, chunks at or
//!    above a partition's stamp are replayed into it, so a crash between steps 4 and 5 (or
//!    before a flush) is repaired on the next open, exactly once.
//!
//! sled recovers a prefix of its log and a transaction or batch entirely or not at all, so
//! index keys (step 3) are durable whenever the chunks they describe (step 4) are. sled's
//! background flush can therefore stay on: every multi-key invariant lives in one atomic
//! write.
//!
//! Token entities (`EntityType::Token`) are indexed but get no summary: there is about one
//! unique token per sign-in, so their summaries would cost a write per event and grow like
//! the events. [`Store::entity_summary`] computes a token's from the index.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;

use serde::{Deserialize, Serialize};
use skein_model::{EntityRef, EntityType, Event, Source};
use sled::Transactional;

use crate::address_accounts;
use crate::chunk::{self, HASH_LEN};
use crate::error::{Result, StoreError};
use crate::index;
use crate::keys::{self, ChunkKey};
use crate::state::{PassThrough, State};
use crate::stats::Span;
use crate::store::{meta, Store};

/// The most events one chunk holds (a bucket with more gets several chunks).
///
/// It decides ingest's memory. A sled 0.34 leaf holds up to 17 values; a page over a quarter
/// of a segment (128 KiB) is written as a blob file, and the page cache weighs a blob page by
/// its pointer record (about 20 bytes), so leaves of large values are never evicted. With 128
/// events (earlier builds) the original records compressed to ~30 KB (up to 70 KB), leaves
/// were 0.5–1 MB blobs, and ingesting the bench's 2.5M events peaked at ~1.3–1.4 GiB whatever
/// `cache_capacity` was (heaptrack: ~440 MB in leaves read back by inserts). With 24 and the
/// records in zstd (see `chunk.rs`), leaves stay inline and are weighed. Measured on the
/// bench: ingest peaked at 0.79–0.83 GiB and was no slower; a full correlate and an
/// incremental sweep were as fast (medians of nine alternated sweeps: 0.81 s both); the state
/// took 15% more disk (3.0–3.1 against 2.7 GB), and correlate's reading floor (a scan whose
/// rules match nothing) fell by ~12%: 1.28 against 1.46M events/s, from more chunks to look
/// up and decode. 128-event chunks with zstd records still peaked at 1.1 GiB. With 12 and
/// LZ4, ingest peaked at ~0.85 GiB but the state took 65% more disk and the floor fell ~30%.
///
/// Stores written with other sizes are read as they are: nothing depends on the size.
/// (Those measurements were made with sled's 512 KiB segments; stores created since use
/// 8 MiB segments, see `NEW_SEGMENT_SIZE` in `store.rs`, where a page becomes a blob only
/// past 2 MiB.)
///
/// With 8 MiB segments, 40 events: correlate's reading floor fell from ~1.06 to ~0.95 s
/// (64 events: ~0.87 s; three alternated rounds), the events phase of a full correlate by
/// ~0.13 s (medians of five alternated pairs, 2.69 against 2.56 s), the state from 2.4 to
/// 2.1 GB, and correlate's peak moved within noise. Ingest's peak rose from ~0.82 to
/// 0.92–0.98 GiB (the system allocator's did not: mimalloc kept a second of freed leaves
/// and buffers), and is back at 826–832 MiB with `ingest` setting mimalloc's purge delay to
/// 250 ms, at the same speed. 64 events peaked at 1.05 GiB before that.
pub(crate) const MAX_CHUNK_EVENTS: usize = 40;

/// What one [`Store::insert_batch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// Events that were new and are now stored.
    pub inserted: u64,
    /// Events whose `(source, id)` was already stored, or appeared earlier in the batch.
    pub duplicates: u64,
    /// The same two counts per source (only sources present in the batch).
    pub per_source: BTreeMap<Source, SourceOutcome>,
}

/// [`BatchOutcome`] counts of one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceOutcome {
    /// New events stored.
    pub inserted: u64,
    /// Duplicates skipped.
    pub duplicates: u64,
}

impl BatchOutcome {
    /// Adds another outcome's counts to this one (for totals over many batches).
    pub fn absorb(&mut self, other: &BatchOutcome) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        for (s, o) in &other.per_source {
            let e = self.per_source.entry(*s).or_default();
            e.inserted += o.inserted;
            e.duplicates += o.duplicates;
        }
    }
}

/// Where a test makes a write stop, as if the process died: 1 after the index runs, 2 after
/// the chunk transaction, 3 after the summary partitions but before their applied mark.
#[cfg(test)]
pub(crate) static CRASH_AT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

#[cfg(test)]
pub(crate) fn crash_point(n: u8) -> Result<()> {
    if CRASH_AT.load(std::sync::atomic::Ordering::SeqCst) == n {
        return Err(StoreError::Io {
            action: "simulating a crash",
            path: Default::default(),
            source: std::io::Error::other("crash"),
        });
    }
    Ok(())
}

#[cfg(not(test))]
pub(crate) fn crash_point(_: u8) -> Result<()> {
    Ok(())
}

/// Encodes (postcard, then LZ4 and zstd) the chunk of every run, on as many threads as there
/// are cores: encoding is most of the writer's CPU time, and the writer is the pipeline's
/// serial stage.
fn encode_runs(
    fresh: &[(&Event, i64, [u8; HASH_LEN])],
    runs: &[(usize, usize)],
) -> Result<Vec<chunk::Encoded>> {
    let encode = |part: &[(usize, usize)]| -> Result<Vec<chunk::Encoded>> {
        part.iter()
            .map(|&(start, end)| {
                let refs: Vec<&Event> = fresh[start..end].iter().map(|r| r.0).collect();
                chunk::encode(&refs)
            })
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || runs.len() < 2 {
        return encode(runs);
    }
    let per_thread = runs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .chunks(per_thread)
            .map(|part| scope.spawn(move || encode(part)))
            .collect();
        let mut out = Vec::with_capacity(runs.len());
        for h in handles {
            match h.join() {
                Ok(values) => out.extend(values?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(out)
    })
}

/// A chunk ready to write.
struct NewChunk {
    key: ChunkKey,
    value: chunk::Encoded,
    ids: Vec<u8>,
}

impl Store {
    /// Stores the events of `events` that are not stored yet, de-duplicated on the source's
    /// own id (`(event.source, event.id)`), including duplicates inside the batch (the first
    /// one wins). Indexes each new event by time and by every entity it mentions, and updates
    /// the entity summaries and counters.
    ///
    /// Batches of a few thousand events are the efficient size; everything in one call is
    /// held in memory until it is written. Writers are serialised.
    pub fn insert_batch(&self, events: &[Event]) -> Result<BatchOutcome> {
        self.with_state(|state| self.insert_locked(state, events))
    }

    fn insert_locked(&self, st: &mut State, events: &[Event]) -> Result<BatchOutcome> {
        let mut outcome = BatchOutcome::default();
        let mut seen: HashSet<[u8; HASH_LEN], BuildHasherDefault<PassThrough>> =
            HashSet::with_capacity_and_hasher(events.len(), Default::default());
        let mut fresh: Vec<(&Event, i64, [u8; HASH_LEN])> = Vec::with_capacity(events.len());
        for ev in events {
            let per_source = outcome.per_source.entry(ev.source).or_default();
            let h = chunk::event_hash(ev.source, &ev.id);
            if st.ids.contains_key(&h) || !seen.insert(h) {
                outcome.duplicates += 1;
                per_source.duplicates += 1;
            } else {
                outcome.inserted += 1;
                per_source.inserted += 1;
                fresh.push((ev, keys::micros(&ev.time), h));
            }
        }
        if fresh.is_empty() {
            return Ok(outcome);
        }
        fresh.sort_by(|a, b| {
            (a.0.source.tag(), a.1)
                .cmp(&(b.0.source.tag(), b.1))
                .then_with(|| a.0.id.cmp(&b.0.id))
        });

        // Chunks: runs of one source and bucket, cut at MAX_CHUNK_EVENTS; the i-th is
        // stored under seq `next_seq + i`.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut start = 0;
        while start < fresh.len() {
            let (first, t0, _) = fresh[start];
            let bucket = keys::bucket_of(t0);
            let mut end = start + 1;
            while end < fresh.len()
                && end - start < MAX_CHUNK_EVENTS
                && fresh[end].0.source == first.source
                && keys::bucket_of(fresh[end].1) == bucket
            {
                end += 1;
            }
            runs.push((start, end));
            start = end;
        }

        // Index keys (each naming its event's chunk) and summaries of the batch.
        let mut postings: Vec<index::Posting> = Vec::with_capacity(fresh.len() * 6);
        let mut accounts: Vec<address_accounts::Entry> = Vec::with_capacity(fresh.len());
        let mut buf = Vec::with_capacity(128);
        let mut spans: HashMap<EntityRef, Span> = HashMap::with_capacity(fresh.len());
        let mut source_spans: BTreeMap<Source, Span> = BTreeMap::new();
        for (chunk_seq, &(start, end)) in (st.next_seq..).zip(&runs) {
            for &(ev, t, _) in &fresh[start..end] {
                let bucket = keys::bucket_of(t);
                for ent in ev.entities() {
                    if ent.ty != EntityType::Tenant {
                        let h = index::entity_hash(&mut buf, ent.ty.tag(), &ent.id);
                        postings.push((h, ev.source.tag(), bucket, chunk_seq));
                        if ent.ty == EntityType::Ip && ev.outcome.success {
                            if let Some(account) = ev.account() {
                                let a = address_accounts::account_hash(account);
                                accounts.push((h, bucket, a));
                            }
                        }
                    }
                    if ent.ty != EntityType::Token {
                        spans
                            .entry(ent)
                            .and_modify(|s| s.add(t))
                            .or_insert_with(|| Span::one(t));
                    }
                }
                source_spans
                    .entry(ev.source)
                    .and_modify(|s| s.add(t))
                    .or_insert_with(|| Span::one(t));
            }
        }

        let account_runs = address_accounts::runs(&mut accounts, st.next_seq);
        // Entries are complete from the first batch that writes them (see
        // `address_accounts`); a store with chunks from before is marked from there.
        let accounts_from = match self
            .meta
            .get(meta::ADDRESS_ACCOUNTS_FROM)
            .map_err(StoreError::sled("reading the accounts-by-address mark"))?
        {
            Some(_) => None,
            None => Some(st.next_seq.to_be_bytes()),
        };
        let values = encode_runs(&fresh, &runs)?;
        let seq = st.next_seq + runs.len() as u64;
        let mut new_chunks: Vec<NewChunk> = Vec::with_capacity(runs.len());
        for (seq, (&(start, end), value)) in (st.next_seq..).zip(runs.iter().zip(values)) {
            let run = &fresh[start..end];
            let (first, t0, _) = run[0];
            let mut ids = Vec::with_capacity(run.len() * HASH_LEN);
            for r in run {
                ids.extend_from_slice(&r.2);
            }
            new_chunks.push(NewChunk {
                key: keys::chunk_key(first.source, keys::bucket_of(t0), seq),
                value,
                ids,
            });
        }

        // Step 3: the entity index, one run per shard.
        for (k, v) in index::runs(&mut postings, st.next_seq) {
            self.by_entity
                .insert(&k[..], v)
                .map_err(StoreError::sled("writing the entity index"))?;
        }
        crash_point(1)?;

        // Step 4: the commit point.
        let mut sources = st.sources;
        for (s, span) in &source_spans {
            let slot = &mut sources[s.tag() as usize];
            match slot {
                Some(old) => old.merge(span),
                None => *slot = Some(*span),
            }
        }
        let change = crate::changes::encode(&source_spans);
        let first_seq = st.next_seq.to_be_bytes();
        (
            &self.chunks,
            &self.chunk_raws,
            &self.chunk_ids,
            &self.meta,
            &self.changes,
            &self.address_accounts,
        )
            .transaction(
                |(chunks, chunk_raws, chunk_ids, meta_tree, changes, by_address)| {
                    for c in &new_chunks {
                        chunks.insert(&c.key[..], &c.value.head[..])?;
                        chunk_raws.insert(&c.key[..], &c.value.raws[..])?;
                        chunk_ids.insert(&c.key[..], &c.ids[..])?;
                    }
                    for (k, v) in &account_runs {
                        by_address.insert(&k[..], &v[..])?;
                    }
                    if let Some(from) = accounts_from {
                        meta_tree.insert(meta::ADDRESS_ACCOUNTS_FROM, &from[..])?;
                    }
                    for s in source_spans.keys() {
                        if let Some(span) = &sources[s.tag() as usize] {
                            meta_tree.insert(&meta::source(s.tag())[..], &span.encode()[..])?;
                        }
                    }
                    meta_tree.insert(meta::NEXT_SEQ, &seq.to_be_bytes()[..])?;
                    changes.insert(&first_seq[..], change.as_slice())?;
                    Ok::<(), sled::transaction::ConflictableTransactionError<StoreError>>(())
                },
            )
            .map_err(StoreError::transaction("writing chunks"))?;
        crash_point(2)?;

        // Step 5: memory, then maybe the summaries.
        for c in &new_chunks {
            let idx = u32::try_from(st.chunks.len())
                .map_err(|_| StoreError::corrupt("chunk_ids", &c.key, "more than 2^32 chunks"))?;
            st.chunks.push(c.key);
            for h in c.ids.as_chunks::<HASH_LEN>().0 {
                st.ids.insert(*h, idx);
            }
        }
        st.sources = sources;
        st.next_seq = seq;
        for (ent, span) in spans {
            st.add_summary(keys::entity_key(ent.ty, &ent.id), ent.ty, &span);
        }
        st.pending_events += outcome.inserted;
        if st.summaries_due() {
            self.write_summaries(st)?;
        }
        Ok(outcome)
    }
}
