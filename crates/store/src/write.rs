//! Inserting events: de-duplication, indexes, summaries and counters.
//!
//! One call writes, in this order:
//! 1. the new events (`events`), then their `by_entity` index entries, key by key. Both are
//!    idempotent: writing them again writes the same keys and values.
//! 2. one sled transaction over `entities`, `meta` and `ids`: the entity summaries, the
//!    per-source and per-type counters, and last the de-duplication entries.
//!
//! sled recovers a prefix of its log, and a transaction entirely or not at all, so a crash at
//! any point leaves either nothing of step 2 — and re-ingesting the batch rewrites the same
//! events and index entries and then counts them once — or the whole batch. An id is never
//! stored without its event and no event is ever counted twice.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use skein_model::{EntityRef, EntityType, Event, Source};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use crate::error::{Result, StoreError};
use crate::keys;
use crate::stats::{decode_u64, Span};
use crate::store::{meta, Store};

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

/// Encodes an event for the `events` tree.
pub(crate) fn encode_event(ev: &Event) -> Result<Vec<u8>> {
    postcard::to_allocvec(ev).map_err(|e| StoreError::Encode {
        event_source: ev.source,
        id: ev.id.clone(),
        what: e.to_string(),
    })
}

/// Decodes a value of the `events` tree stored under `key`.
pub(crate) fn decode_event(key: &[u8], value: &[u8]) -> Result<Event> {
    postcard::from_bytes(value)
        .map_err(|e| StoreError::corrupt("events", key, format!("undecodable event: {e}")))
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
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut outcome = BatchOutcome::default();
        let mut seen: HashSet<(Source, &str)> = HashSet::with_capacity(events.len());
        let mut event_writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(events.len());
        let mut index_keys: Vec<Vec<u8>> = Vec::with_capacity(events.len() * 6);
        let mut id_writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(events.len());
        let mut entity_spans: HashMap<EntityRef, Span> = HashMap::new();
        let mut source_spans: BTreeMap<Source, Span> = BTreeMap::new();

        for ev in events {
            let per_source = outcome.per_source.entry(ev.source).or_default();
            let id_key = keys::id_key(ev.source, &ev.id);
            let duplicate = !seen.insert((ev.source, ev.id.as_str()))
                || self
                    .ids
                    .contains_key(&id_key)
                    .map_err(StoreError::sled("checking for duplicates"))?;
            if duplicate {
                outcome.duplicates += 1;
                per_source.duplicates += 1;
                continue;
            }
            outcome.inserted += 1;
            per_source.inserted += 1;

            let t = keys::micros(&ev.time);
            let event_key = keys::event_key(ev.source, t, &ev.id);
            event_writes.push((event_key.clone(), encode_event(ev)?));
            for ent in ev.entities() {
                if ent.ty != EntityType::Tenant {
                    index_keys.push(keys::by_entity_key(ent.ty, &ent.id, t, ev.source, &ev.id));
                }
                entity_spans
                    .entry(ent)
                    .and_modify(|s| s.add(t))
                    .or_insert_with(|| Span::one(t));
            }
            source_spans
                .entry(ev.source)
                .and_modify(|s| s.add(t))
                .or_insert_with(|| Span::one(t));
            id_writes.push((id_key, event_key));
        }
        if outcome.inserted == 0 {
            return Ok(outcome);
        }

        // Key by key rather than in sled batches: these writes are idempotent, so they need no
        // atomicity, and sled's single inserts are cheaper than its atomic batches. Sorted,
        // so that sled walks its tree in order.
        event_writes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in event_writes {
            self.events
                .insert(k, v)
                .map_err(StoreError::sled("writing events"))?;
        }
        index_keys.sort_unstable();
        for k in index_keys {
            self.by_entity
                .insert(k, &[] as &[u8])
                .map_err(StoreError::sled("writing the entity index"))?;
        }

        // Summaries, counters and the de-duplication entries, in one transaction. The
        // summaries are read inside it so that sled's transactional write of each finds the
        // value in the transaction's read cache instead of reading the tree a second time.
        let entity_updates: Vec<(Vec<u8>, EntityType, Span)> = entity_spans
            .iter()
            .map(|(ent, span)| (keys::entity_key(ent.ty, &ent.id), ent.ty, *span))
            .collect();
        let mut id_batch = sled::Batch::default();
        for (k, v) in id_writes {
            id_batch.insert(k, v);
        }
        (&self.entities, &self.meta, &self.ids)
            .transaction(|(entities, meta, ids)| {
                let mut new_entities: BTreeMap<EntityType, u64> = BTreeMap::new();
                for (key, ty, span) in &entity_updates {
                    let mut merged = *span;
                    match entities.get(key)? {
                        Some(old) => merged.merge(&Span::decode(&old).ok_or_else(|| {
                            abort(StoreError::corrupt(
                                "entities",
                                key,
                                "summary is not 24 bytes",
                            ))
                        })?),
                        None => *new_entities.entry(*ty).or_default() += 1,
                    }
                    entities.insert(&key[..], &merged.encode()[..])?;
                }
                for (source, span) in &source_spans {
                    let key = meta::source(source.tag());
                    let mut merged = *span;
                    if let Some(old) = meta.get(key)? {
                        merged.merge(&Span::decode(&old).ok_or_else(|| {
                            abort(StoreError::corrupt("meta", &key, "span is not 24 bytes"))
                        })?);
                    }
                    meta.insert(&key[..], &merged.encode()[..])?;
                }
                for (ty, n) in &new_entities {
                    let key = meta::entity_count(ty.tag());
                    let old = match meta.get(key)? {
                        Some(v) => decode_u64(&v).ok_or_else(|| {
                            abort(StoreError::corrupt("meta", &key, "counter is not 8 bytes"))
                        })?,
                        None => 0,
                    };
                    meta.insert(&key[..], &(old + n).to_be_bytes()[..])?;
                }
                ids.apply_batch(&id_batch)?;
                Ok(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(source) => StoreError::Sled {
                    action: "writing summaries and the de-duplication index",
                    source,
                },
            })?;
        Ok(outcome)
    }
}

/// Aborts a transaction with `e`.
fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn events_at_the_ends_of_time_round_trip() {
        for time in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::UNIX_EPOCH,
        ] {
            let ev = Event::new(
                "x".into(),
                Source::Cloudtrail,
                skein_model::WireShape::EventBridge,
                time,
            );
            let bytes = encode_event(&ev).unwrap();
            assert_eq!(decode_event(b"k", &bytes).unwrap(), ev);
            let k = keys::event_key(ev.source, keys::micros(&time), &ev.id);
            let (_, t, _) = keys::decode_event_key(&k).unwrap();
            assert_eq!(
                keys::from_micros(t).map(|d| d.timestamp_micros()),
                Some(time.timestamp_micros())
            );
        }
    }
}
