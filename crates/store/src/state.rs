//! The writer's in-memory state: the de-duplication index, entity summaries and counters.
//!
//! It is loaded on first use (an insert, `get_event`, or a summary read that finds the
//! `entities` tree behind) from `chunk_ids`, `meta` and `entities`, and kept until the store
//! closes. It is dropped (and reloaded on next use) whenever a write fails half-way, so that
//! memory never disagrees with the database.
//!
//! **Memory.** The de-duplication index maps the 16-byte hash of every stored event to the
//! index of its chunk key: about 21 bytes per slot, 30–45 bytes per event with the table's
//! spare capacity (≈ 100 MB at 2.5M events). It grows with the store. The follow-up, once
//! stores of tens of millions of events matter, is to keep the hashes on disk in sorted runs
//! behind a bloom filter and hold only the filter in memory. The summaries map holds one
//! entry per distinct non-token entity (users, IPs, keys, ...), about 100 bytes each.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use skein_model::{EntityType, Source};

use crate::chunk::{self, HASH_LEN};
use crate::error::{Result, StoreError};
use crate::evict::evicting;
use crate::keys::{self, ChunkKey};
use crate::stats::Span;
use crate::store::{meta, Store};
use crate::summary;

/// Write the summaries back once this many events were inserted since they were last
/// written (bounds memory held only there and the replay work after a crash).
const MAX_PENDING_EVENTS: u64 = 1_000_000;

/// A hasher for keys that are already uniformly random (xxh3 hashes): it takes 8 of their bytes.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(w);
        }
    }
    fn write_usize(&mut self, _: usize) {}
}

/// See the module documentation.
pub(crate) struct State {
    /// Event hash → index into `chunks` of the chunk that holds the event.
    pub ids: HashMap<[u8; HASH_LEN], u32, BuildHasherDefault<PassThrough>>,
    /// Every chunk key, in load order then write order.
    pub chunks: Vec<ChunkKey>,
    /// Per partition ([`summary::partition`]): `entities` key → summary, for every
    /// non-token entity.
    pub summaries: Vec<HashMap<Vec<u8>, Span>>,
    /// Partitions changed since they were last written.
    pub dirty: BTreeSet<u16>,
    /// Distinct entities per type tag (index = tag).
    pub entity_counts: [u64; 16],
    /// Per-source count and span (index = source tag), as in `meta`.
    pub sources: [Option<Span>; 8],
    /// The next chunk sequence number.
    pub next_seq: u64,
    /// Events inserted since the summaries were last written.
    pub pending_events: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            ids: HashMap::default(),
            chunks: Vec::new(),
            summaries: vec![HashMap::new(); summary::PARTITIONS],
            dirty: BTreeSet::new(),
            entity_counts: [0; 16],
            sources: [None; 8],
            next_seq: 0,
            pending_events: 0,
        }
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("events", &self.ids.len())
            .field("chunks", &self.chunks.len())
            .field(
                "summaries",
                &self.summaries.iter().map(|m| m.len()).sum::<usize>(),
            )
            .field("dirty_partitions", &self.dirty.len())
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Adds `span` to the summary of `key` (an `entities` key of type `ty`).
    pub fn add_summary(&mut self, key: Vec<u8>, ty: EntityType, span: &Span) {
        let p = summary::partition(&key);
        match self.summaries[p as usize].get_mut(&key) {
            Some(s) => s.merge(span),
            None => {
                self.entity_counts[ty.tag() as usize] += 1;
                self.summaries[p as usize].insert(key, *span);
            }
        }
        self.dirty.insert(p);
    }

    /// Whether the summaries should be written back now.
    pub fn summaries_due(&self) -> bool {
        self.pending_events >= MAX_PENDING_EVENTS
    }
}

impl Store {
    /// Runs `f` on the loaded state, loading it first if needed. A failure of `f` drops the
    /// state, so that the next use reloads it from the database.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> Result<R>) -> Result<R> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(self.load_state()?);
        }
        let Some(state) = guard.as_mut() else {
            unreachable!("loaded above")
        };
        let r = f(state);
        if r.is_err() {
            *guard = None;
        }
        r
    }

    /// Makes the `entities` tree current: writes pending summaries of a loaded state, or, when
    /// nothing is loaded and the tree is behind the chunks (after a crash), loads the state,
    /// which replays the missing chunks.
    pub(crate) fn settle_summaries(&self) -> Result<()> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some(state) => {
                if !state.dirty.is_empty() {
                    if let Err(e) = self.write_summaries(state) {
                        *guard = None;
                        return Err(e);
                    }
                }
            }
            None => {
                if summary::applied(&self.entities)? != self.meta_u64(meta::NEXT_SEQ)? {
                    *guard = Some(self.load_state()?);
                }
            }
        }
        Ok(())
    }

    /// Writes every dirty partition (one sled key each, stamped with the chunk seq it
    /// includes up to), then the tree-wide applied mark. Each write is atomic on its own; see
    /// [`summary`] for why a crash between them is harmless.
    pub(crate) fn write_summaries(&self, state: &mut State) -> Result<()> {
        let dirty = std::mem::take(&mut state.dirty);
        for p in dirty {
            let value = summary::encode_partition(state.next_seq, &state.summaries[p as usize]);
            self.entities
                .insert(summary::partition_key(p), value)
                .map_err(StoreError::sled("writing entity summaries"))?;
        }
        crate::write::crash_point(3)?;
        self.entities
            .insert(summary::APPLIED, &state.next_seq.to_be_bytes()[..])
            .map_err(StoreError::sled("writing entity summaries"))?;
        state.pending_events = 0;
        Ok(())
    }

    /// Loads the state from the database, replaying into the summaries any chunk written
    /// after they were last saved.
    fn load_state(&self) -> Result<State> {
        let mut st = State {
            next_seq: self.meta_u64(meta::NEXT_SEQ)?,
            ..State::default()
        };
        for s in Source::ALL {
            st.sources[s.tag() as usize] = self.meta_span(&meta::source(s.tag()))?;
        }
        st.ids.reserve(self.chunk_ids_hint());
        for r in evicting(&self.chunk_ids, self.chunk_ids.iter()) {
            let (k, v) = r.map_err(StoreError::sled("reading the id lists"))?;
            let key: ChunkKey = k
                .as_ref()
                .try_into()
                .ok()
                .filter(|k: &ChunkKey| keys::decode_chunk_key(k).is_some())
                .ok_or_else(|| StoreError::corrupt("chunk_ids", &k, "malformed chunk key"))?;
            let idx = u32::try_from(st.chunks.len())
                .map_err(|_| StoreError::corrupt("chunk_ids", &k, "more than 2^32 chunks"))?;
            st.chunks.push(key);
            for h in chunk::hashes(&k, &v)? {
                st.ids.entry(*h).or_insert(idx);
            }
        }
        let global = summary::applied(&self.entities)?;
        let mut applied = vec![global; summary::PARTITIONS];
        for r in self.entities.scan_prefix(summary::PARTITION_PREFIX) {
            let (k, v) = r.map_err(StoreError::sled("reading entity summaries"))?;
            let p = summary::decode_partition_key(&k)
                .ok_or_else(|| StoreError::corrupt("entities", &k, "malformed partition key"))?;
            let (seq, entries) = summary::decode_partition(&k, &v)?;
            applied[p as usize] = applied[p as usize].max(seq);
            let map = &mut st.summaries[p as usize];
            map.reserve(entries.len());
            for (key, span) in entries {
                if let Some(c) = key
                    .first()
                    .and_then(|&t| st.entity_counts.get_mut(t as usize))
                {
                    *c += 1;
                }
                map.insert(key, span);
            }
        }
        let from = applied.iter().copied().min().unwrap_or(0);
        if from < st.next_seq {
            self.replay_summaries(&mut st, from, &applied)?;
            self.write_summaries(&mut st)?;
        }
        Ok(st)
    }

    /// A guess of the number of stored events, to size the de-duplication index.
    fn chunk_ids_hint(&self) -> usize {
        Source::ALL
            .iter()
            .filter_map(|s| self.meta_span(&meta::source(s.tag())).ok().flatten())
            .map(|s| s.count as usize)
            .sum()
    }

    /// Adds to the summaries every event of the chunks with seq `>= from`, each entity only
    /// when its partition's summaries do not include that chunk yet (`applied`).
    fn replay_summaries(&self, st: &mut State, from: u64, applied: &[u64]) -> Result<()> {
        let replay: Vec<ChunkKey> = st
            .chunks
            .iter()
            .filter(|k| keys::decode_chunk_key(&k[..]).is_some_and(|(_, _, seq)| seq >= from))
            .copied()
            .collect();
        for key in replay {
            let value = self
                .chunks
                .get(key)
                .map_err(StoreError::sled("reading a chunk"))?
                .ok_or_else(|| StoreError::corrupt("chunk_ids", &key, "chunk is missing"))?;
            let seq = keys::decode_chunk_key(&key).map_or(0, |(_, _, s)| s);
            for ev in chunk::decode_head(&key, &value)?.0 {
                let span = Span::one(keys::micros(&ev.time));
                for ent in ev.entities() {
                    let k = keys::entity_key(ent.ty, &ent.id);
                    if ent.ty != EntityType::Token
                        && applied[summary::partition(&k) as usize] <= seq
                    {
                        st.add_summary(k, ent.ty, &span);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_through_spreads_hashes() {
        let mut a = PassThrough::default();
        a.write(&[1; 16]);
        let mut b = PassThrough::default();
        b.write(&[2; 16]);
        assert_ne!(a.finish(), b.finish());
    }
}
