//! Reading events and entities back: range scans bucket by bucket, entity lookups through
//! the bucket index, summaries.

use std::collections::BTreeSet;
use std::iter::Peekable;

use chrono::{DateTime, Utc};
use skein_model::{EntityRef, EntityType, Event, EventsInPlace, Source};

use crate::chunk::{self, ReadMode};
use crate::error::{Result, StoreError};
use crate::evict::{evicting, Evicting};
use crate::index;
use crate::keys;
use crate::stats::{EntitySummary, Span};
use crate::store::Store;
use crate::summary;

/// An iterator over stored events. Items are errors when the database fails or holds a value
/// that does not decode; iteration may continue after an error.
pub struct EventIter(Box<dyn Iterator<Item = Result<Event>> + Send>);

impl Iterator for EventIter {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl std::fmt::Debug for EventIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventIter")
    }
}

/// True when `t` is in `[from, to)`.
pub(crate) fn in_range(
    t: &DateTime<Utc>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> bool {
    from.is_none_or(|f| *t >= f) && to.is_none_or(|u| *t < u)
}

/// Decodes the chunk `key` whose `chunks` value is `value`, as much as `mode` says: with
/// [`ReadMode::Full`], its raws are looked up in `raws` (the `chunk_raws` tree).
pub(crate) fn decode_chunk(
    raws: &sled::Tree,
    key: &[u8],
    value: &[u8],
    mode: ReadMode,
) -> Result<Vec<Event>> {
    decode_chunk_counted(raws, key, value, mode, &mut 0)
}

/// [`decode_chunk`], adding the bytes of the `chunk_raws` value it read to `read`.
pub(crate) fn decode_chunk_counted(
    raws: &sled::Tree,
    key: &[u8],
    value: &[u8],
    mode: ReadMode,
    read: &mut u64,
) -> Result<Vec<Event>> {
    let mut events = EventsInPlace::default();
    decode_chunk_into(raws, key, value, mode, read, &mut events)?;
    Ok(events.into_events())
}

/// [`decode_chunk_counted`] over the events `decoded` holds, which keep their buffers (see
/// [`chunk::decode_head_into`]).
pub(crate) fn decode_chunk_into(
    raws: &sled::Tree,
    key: &[u8],
    value: &[u8],
    mode: ReadMode,
    read: &mut u64,
    decoded: &mut EventsInPlace,
) -> Result<()> {
    let split = chunk::decode_head_into(key, value, decoded)?;
    let events = decoded.events_mut();
    match mode {
        ReadMode::Full if split => {
            let value = raws
                .get(key)
                .map_err(StoreError::sled("reading raw records"))?
                .ok_or_else(|| StoreError::corrupt("chunk_raws", key, "raw records are missing"))?;
            *read += value.len() as u64;
            chunk::add_raws(key, events, &value)?;
        }
        ReadMode::Full => {}
        ReadMode::WithoutRaw => {
            if !split {
                for e in events.iter_mut() {
                    e.raw.clear();
                }
            }
        }
    }
    Ok(())
}

/// A sled range over `[lower, upper)`.
pub(crate) fn range(tree: &sled::Tree, lower: Vec<u8>, upper: Option<Vec<u8>>) -> Evicting {
    let inner = match upper {
        Some(upper) => tree.range(lower..upper),
        None => tree.range(lower..),
    };
    evicting(tree, inner)
}

/// The canonical form of a prefix of an id of type `ty` (the case rules of
/// [`EntityType::canonical_id`], without requiring a complete id).
fn canonical_prefix(ty: EntityType, prefix: &str) -> String {
    let p = prefix.trim();
    match ty {
        EntityType::User
        | EntityType::App
        | EntityType::Tenant
        | EntityType::Storage
        | EntityType::Ip => p.to_lowercase(),
        EntityType::AwsKey => p.to_ascii_uppercase(),
        EntityType::Token | EntityType::AwsPrincipal | EntityType::AwsSession => p.to_string(),
    }
}

/// The order of an entity's events ([`Store::events_for_entity_ordered`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityOrder {
    /// All sources merged in time order.
    ByTime,
    /// Source after source, each in time order.
    BySource,
}

/// Where a [`SourceScan`] finds its buckets.
enum Buckets {
    /// Every bucket in a key range of `chunks`, in order.
    Range {
        iter: Box<Evicting>,
        pending: Option<(sled::IVec, sled::IVec)>,
    },
    /// Listed buckets of one source (from the entity index), in order, each with the seqs
    /// of its chunks to read (`None`: all of them).
    List {
        tree: sled::Tree,
        source: Source,
        buckets: std::vec::IntoIter<(i64, Option<BTreeSet<u64>>)>,
    },
}

impl Buckets {
    /// The chunks of the next bucket, `None` at the end.
    fn next_bucket(&mut self) -> Option<Result<Vec<(sled::IVec, sled::IVec)>>> {
        match self {
            Buckets::Range { iter, pending } => {
                let first = match pending.take() {
                    Some(kv) => kv,
                    None => match iter.next()? {
                        Ok(kv) => kv,
                        Err(e) => return Some(Err(StoreError::sled("reading chunks")(e))),
                    },
                };
                let prefix_len = 1 + keys::TIME_LEN;
                let mut group = vec![first];
                loop {
                    match iter.next() {
                        None => break,
                        Some(Err(e)) => return Some(Err(StoreError::sled("reading chunks")(e))),
                        Some(Ok(kv)) => {
                            if kv.0.get(..prefix_len) == group[0].0.get(..prefix_len) {
                                group.push(kv);
                            } else {
                                *pending = Some(kv);
                                break;
                            }
                        }
                    }
                }
                Some(Ok(group))
            }
            Buckets::List {
                tree,
                source,
                buckets,
            } => {
                let (b, seqs) = buckets.next()?;
                let Some(seqs) = seqs else {
                    return Some(
                        evicting(tree, tree.scan_prefix(keys::bucket_prefix(*source, b)))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(StoreError::sled("reading chunks")),
                    );
                };
                // A listed chunk may be missing (named by the index run of a batch that
                // never committed): skipped.
                let mut chunks = Vec::with_capacity(seqs.len());
                for seq in seqs {
                    let key = keys::chunk_key(*source, b, seq);
                    match tree.get(key) {
                        Ok(Some(v)) => chunks.push((sled::IVec::from(&key[..]), v)),
                        Ok(None) => {}
                        Err(e) => return Some(Err(StoreError::sled("reading chunks")(e))),
                    }
                }
                Some(Ok(chunks))
            }
        }
    }
}

/// Events of one source in time order, one bucket at a time: it decodes every chunk of a
/// bucket, keeps the events in `[from, to)` (and mentioning `entity`, when set) and sorts
/// them by time. Memory is bounded by one bucket of one source, never the whole store.
struct SourceScan {
    /// The `chunk_raws` tree, for [`ReadMode::Full`].
    raws: sled::Tree,
    buckets: Buckets,
    buf: std::vec::IntoIter<Event>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    entity: Option<EntityRef>,
    mode: ReadMode,
}

impl SourceScan {
    fn fill(&mut self, chunks: Vec<(sled::IVec, sled::IVec)>) -> Result<()> {
        let mut events = Vec::new();
        for (k, v) in chunks {
            for e in decode_chunk(&self.raws, &k, &v, self.mode)? {
                if in_range(&e.time, self.from, self.to)
                    && self.entity.as_ref().is_none_or(|ent| e.mentions(ent))
                {
                    events.push(e);
                }
            }
        }
        events.sort_by(|a, b| {
            keys::micros(&a.time)
                .cmp(&keys::micros(&b.time))
                .then_with(|| a.id.cmp(&b.id))
        });
        self.buf = events.into_iter();
        Ok(())
    }
}

impl Iterator for SourceScan {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.buf.next() {
                return Some(Ok(e));
            }
            match self.buckets.next_bucket()? {
                Ok(chunks) => {
                    if let Err(e) = self.fill(chunks) {
                        return Some(Err(e));
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl Store {
    /// One stored event by its source's own id, in full (with `raw`): the de-duplication
    /// index names its chunk, which is decoded (loads the index on first use).
    pub fn get_event(&self, source: Source, id: &str) -> Result<Option<Event>> {
        let h = chunk::event_hash(source, id);
        let Some(key) = self.with_state(|st| {
            Ok(st
                .ids
                .get(&h)
                .and_then(|&i| st.chunks.get(i as usize).copied()))
        })?
        else {
            return Ok(None);
        };
        let value = self
            .chunks
            .get(key)
            .map_err(StoreError::sled("reading a chunk"))?
            .ok_or_else(|| StoreError::corrupt("chunk_ids", &key, "chunk is missing"))?;
        Ok(
            decode_chunk(&self.chunk_raws, &key, &value, ReadMode::Full)?
                .into_iter()
                .find(|e| e.source == source && e.id == id),
        )
    }

    /// Events with `from <= time < to` (either bound optional) of one source, or of every
    /// source when `source` is `None`. Events are in time order **per source** (ties to the
    /// microsecond in id order); with no source, the sources follow each other
    /// ([`Source::ALL`] order). Use [`Store::events_in_range_merged`] for one time order
    /// across sources, [`Store::scan_chunks`] to read everything fast in no particular
    /// order. Holds one decoded bucket (10 minutes of one source) at a time.
    pub fn events_in_range(
        &self,
        source: Option<Source>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> EventIter {
        self.events_in_range_with(source, from, to, ReadMode::Full)
    }

    /// [`Store::events_in_range`], decoding as much of each event as `mode` says.
    pub fn events_in_range_with(
        &self,
        source: Option<Source>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mode: ReadMode,
    ) -> EventIter {
        let sources: Vec<Source> = match source {
            Some(s) => vec![s],
            None => Source::ALL.to_vec(),
        };
        let iters: Vec<_> = sources
            .into_iter()
            .map(|s| self.scan_source(s, from, to, mode))
            .collect();
        EventIter(Box::new(iters.into_iter().flatten()))
    }

    /// Events of every source with `from <= time < to`, merged into one time order (ties, to
    /// the microsecond, in source order). Holds one decoded bucket per source at a time.
    pub fn events_in_range_merged(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> EventIter {
        self.events_in_range_merged_with(from, to, ReadMode::Full)
    }

    /// [`Store::events_in_range_merged`], decoding as much of each event as `mode` says.
    pub fn events_in_range_merged_with(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mode: ReadMode,
    ) -> EventIter {
        let heads = Source::ALL
            .into_iter()
            .map(|s| self.scan_source(s, from, to, mode).peekable())
            .collect();
        EventIter(Box::new(MergeByTime { heads }))
    }

    fn scan_source(
        &self,
        source: Source,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mode: ReadMode,
    ) -> EventIter {
        let (lower, upper) =
            keys::bucket_bounds(&keys::source_prefix(source), from.as_ref(), to.as_ref());
        EventIter(Box::new(SourceScan {
            raws: self.chunk_raws.clone(),
            buckets: Buckets::Range {
                iter: Box::new(range(&self.chunks, lower, upper)),
                pending: None,
            },
            buf: Vec::new().into_iter(),
            from,
            to,
            entity: None,
            mode,
        }))
    }

    /// Events that mention `entity`, with `from <= time < to`, in time order across sources
    /// (ties in source order). The entity index (the `index` module) names the entity's buckets
    /// per source; those are decoded and filtered.
    ///
    /// Tenants are not indexed (a tenant is in almost every event): for a tenant this scans
    /// every event in the range and keeps those whose home or resource tenant matches.
    pub fn events_for_entity(
        &self,
        entity: &EntityRef,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> EventIter {
        self.events_for_entity_with(entity, from, to, ReadMode::Full)
    }

    /// [`Store::events_for_entity`], decoding as much of each event as `mode` says.
    pub fn events_for_entity_with(
        &self,
        entity: &EntityRef,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mode: ReadMode,
    ) -> EventIter {
        self.events_for_entity_ordered(entity, (from, to), mode, EntityOrder::ByTime)
    }

    /// The events of [`Store::events_for_entity_with`] in `order`: [`EntityOrder::BySource`]
    /// suits a reader that looks for something in any order and stops early (an address's
    /// sign-ins name its accounts far sooner than its CloudTrail calls, which are mostly a
    /// few keys).
    pub fn events_for_entity_ordered(
        &self,
        entity: &EntityRef,
        (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        mode: ReadMode,
        order: EntityOrder,
    ) -> EventIter {
        let id = entity
            .ty
            .canonical_id(&entity.id)
            .unwrap_or_else(|| entity.id.clone());
        if entity.ty == EntityType::Tenant {
            let it = self
                .events_in_range_merged_with(from, to, mode)
                .filter(move |r| match r {
                    Ok(e) => {
                        e.tenants.home.as_deref() == Some(&id)
                            || e.tenants.resource.as_deref() == Some(&id)
                    }
                    Err(_) => true,
                });
            return EventIter(Box::new(it));
        }
        let canon = EntityRef { ty: entity.ty, id };
        let found = match index::lookup(
            &self.by_entity,
            index::entity_hash(&mut Vec::new(), canon.ty.tag(), &canon.id),
        ) {
            Ok(found) => found,
            Err(e) => return EventIter(Box::new(std::iter::once(Err(e)))),
        };
        let (lo, hi) = (
            from.map(|f| keys::bucket_of(keys::micros(&f))),
            to.map(|t| keys::bucket_of(keys::micros(&t))),
        );
        let mut heads = Vec::new();
        for source in Source::ALL {
            let buckets: Vec<(i64, Option<BTreeSet<u64>>)> = found
                .iter()
                .filter(|((s, b), _)| {
                    *s == source && lo.is_none_or(|lo| *b >= lo) && hi.is_none_or(|hi| *b <= hi)
                })
                .map(|((_, b), seqs)| (*b, seqs.clone()))
                .collect();
            let scan = SourceScan {
                raws: self.chunk_raws.clone(),
                buckets: Buckets::List {
                    tree: self.chunks.clone(),
                    source,
                    buckets: buckets.into_iter(),
                },
                buf: Vec::new().into_iter(),
                from,
                to,
                entity: Some(canon.clone()),
                mode,
            };
            heads.push(EventIter(Box::new(scan)).peekable());
        }
        if order == EntityOrder::ByTime {
            EventIter(Box::new(MergeByTime { heads }))
        } else {
            EventIter(Box::new(heads.into_iter().flatten()))
        }
    }

    /// First and last time an entity was seen and how many events mention it; `None` when no
    /// stored event does. Tokens have no stored summary: theirs is computed from their events.
    pub fn entity_summary(&self, entity: &EntityRef) -> Result<Option<EntitySummary>> {
        let id = entity
            .ty
            .canonical_id(&entity.id)
            .unwrap_or_else(|| entity.id.clone());
        if entity.ty == EntityType::Token {
            let mut span: Option<Span> = None;
            for e in self.events_for_entity_with(entity, None, None, ReadMode::WithoutRaw) {
                let t = keys::micros(&e?.time);
                match &mut span {
                    Some(s) => s.add(t),
                    None => span = Some(Span::one(t)),
                }
            }
            return span
                .map(|s| {
                    s.entity_summary()
                        .ok_or_else(|| StoreError::corrupt("chunks", &[], "time out of range"))
                })
                .transpose();
        }
        self.settle_summaries()?;
        let key = keys::entity_key(entity.ty, &id);
        summary::get(&self.entities, &key)?
            .map(|s| to_summary(&key, &s))
            .transpose()
    }

    /// Up to `limit` known entities of type `ty` whose id starts with `prefix` (in the id's
    /// canonical case), in id order, with their summaries. For "did you mean" suggestions.
    /// Tokens have no summaries and are never listed. Reads every summary partition.
    pub fn entities_with_prefix(
        &self,
        ty: EntityType,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(EntityRef, EntitySummary)>> {
        self.settle_summaries()?;
        let key_prefix = keys::entity_key(ty, &canonical_prefix(ty, prefix));
        let mut out = Vec::new();
        for (k, span) in summary::with_prefix(&self.entities, &key_prefix)?
            .into_iter()
            .take(limit)
        {
            let (ty, id) = keys::decode_entity_key(&k)
                .ok_or_else(|| StoreError::corrupt("entities", &k, "malformed entity key"))?;
            out.push((
                EntityRef {
                    ty,
                    id: id.to_string(),
                },
                to_summary(&k, &span)?,
            ));
        }
        Ok(out)
    }
}

fn to_summary(key: &[u8], span: &Span) -> Result<EntitySummary> {
    span.entity_summary()
        .ok_or_else(|| StoreError::corrupt("entities", key, "summary time out of range"))
}

/// Merges per-source iterators, each in time order, into one time order.
struct MergeByTime {
    heads: Vec<Peekable<EventIter>>,
}

impl Iterator for MergeByTime {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Self::Item> {
        let mut best: Option<(usize, i64)> = None;
        for (i, head) in self.heads.iter_mut().enumerate() {
            match head.peek() {
                None => {}
                // Errors come out as soon as they are seen.
                Some(Err(_)) => return head.next(),
                Some(Ok(e)) => {
                    let t = keys::micros(&e.time);
                    if best.is_none_or(|(_, bt)| t < bt) {
                        best = Some((i, t));
                    }
                }
            }
        }
        let (i, _) = best?;
        self.heads[i].next()
    }
}
