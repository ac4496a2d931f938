//! Reading events and entities back.

use std::iter::Peekable;

use chrono::{DateTime, Utc};
use skein_model::{EntityRef, EntityType, Event, Source};

use crate::error::{Result, StoreError};
use crate::keys;
use crate::stats::{EntitySummary, Span};
use crate::store::Store;
use crate::write::decode_event;

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
fn in_range(t: &DateTime<Utc>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
    from.is_none_or(|f| *t >= f) && to.is_none_or(|u| *t < u)
}

/// Keeps events in `[from, to)` (and every error).
fn keep(r: &Result<Event>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
    match r {
        Ok(e) => in_range(&e.time, from, to),
        Err(_) => true,
    }
}

/// A sled range over `[lower, upper)`.
fn range(tree: &sled::Tree, lower: Vec<u8>, upper: Option<Vec<u8>>) -> sled::Iter {
    match upper {
        Some(upper) => tree.range(lower..upper),
        None => tree.range(lower..),
    }
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

impl Store {
    /// One stored event by its source's own id.
    pub fn get_event(&self, source: Source, id: &str) -> Result<Option<Event>> {
        let id_key = keys::id_key(source, id);
        let Some(event_key) = self
            .ids
            .get(&id_key)
            .map_err(StoreError::sled("reading the id index"))?
        else {
            return Ok(None);
        };
        match self
            .events
            .get(&event_key)
            .map_err(StoreError::sled("reading an event"))?
        {
            Some(v) => decode_event(&event_key, &v).map(Some),
            None => Err(StoreError::corrupt(
                "ids",
                &id_key,
                "id indexed but its event is missing",
            )),
        }
    }

    /// Events with `from <= time < to` (either bound optional) of one source, or of every
    /// source when `source` is `None`. Events are in time order **per source**; with no
    /// source, the sources follow each other ([`Source::ALL`] order). Use
    /// [`Store::events_in_range_merged`] for one time order across sources.
    pub fn events_in_range(
        &self,
        source: Option<Source>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> EventIter {
        let sources: Vec<Source> = match source {
            Some(s) => vec![s],
            None => Source::ALL.to_vec(),
        };
        let iters: Vec<_> = sources
            .into_iter()
            .map(|s| self.scan_source(s, from, to))
            .collect();
        EventIter(Box::new(iters.into_iter().flatten()))
    }

    /// Events of every source with `from <= time < to`, merged into one time order (ties, to
    /// the microsecond, in source order).
    pub fn events_in_range_merged(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> EventIter {
        let heads = Source::ALL
            .into_iter()
            .map(|s| self.scan_source(s, from, to).peekable())
            .collect();
        EventIter(Box::new(MergeByTime { heads }))
    }

    fn scan_source(
        &self,
        source: Source,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> EventIter {
        let (lower, upper) =
            keys::time_bounds(&keys::source_prefix(source), from.as_ref(), to.as_ref());
        let it = range(&self.events, lower, upper)
            .map(|r| {
                let (k, v) = r.map_err(StoreError::sled("reading events"))?;
                decode_event(&k, &v)
            })
            .filter(move |r| keep(r, from, to));
        EventIter(Box::new(it))
    }

    /// Events that mention `entity`, with `from <= time < to`, in time order across sources
    /// (ties in source order), read through the `by_entity` index.
    ///
    /// Tenants are not indexed (a tenant is in almost every event): for a tenant this scans
    /// every event in the range and keeps those whose home or resource tenant matches.
    pub fn events_for_entity(
        &self,
        entity: &EntityRef,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> EventIter {
        let id = entity
            .ty
            .canonical_id(&entity.id)
            .unwrap_or_else(|| entity.id.clone());
        if entity.ty == EntityType::Tenant {
            let it = self
                .events_in_range_merged(from, to)
                .filter(move |r| match r {
                    Ok(e) => {
                        e.tenants.home.as_deref() == Some(&id)
                            || e.tenants.resource.as_deref() == Some(&id)
                    }
                    Err(_) => true,
                });
            return EventIter(Box::new(it));
        }
        let prefix = keys::entity_index_prefix(entity.ty, &id);
        let prefix_len = prefix.len();
        let (lower, upper) = keys::time_bounds(&prefix, from.as_ref(), to.as_ref());
        let events = self.events.clone();
        let it = range(&self.by_entity, lower, upper)
            .map(move |r| {
                let (k, _) = r.map_err(StoreError::sled("reading the entity index"))?;
                let (t, source, event_id) = keys::decode_by_entity_suffix(&k, prefix_len)
                    .ok_or_else(|| StoreError::corrupt("by_entity", &k, "malformed key"))?;
                let mut event_key = Vec::with_capacity(1 + keys::TIME_LEN + event_id.len());
                event_key.push(source.tag());
                event_key.extend_from_slice(&keys::encode_time(t));
                event_key.extend_from_slice(event_id);
                match events
                    .get(&event_key)
                    .map_err(StoreError::sled("reading an event"))?
                {
                    Some(v) => decode_event(&event_key, &v),
                    None => Err(StoreError::corrupt(
                        "by_entity",
                        &k,
                        "indexed event is missing",
                    )),
                }
            })
            .filter(move |r| keep(r, from, to));
        EventIter(Box::new(it))
    }

    /// First and last time an entity was seen and how many events mention it; `None` when no
    /// stored event does.
    pub fn entity_summary(&self, entity: &EntityRef) -> Result<Option<EntitySummary>> {
        let id = entity
            .ty
            .canonical_id(&entity.id)
            .unwrap_or_else(|| entity.id.clone());
        let key = keys::entity_key(entity.ty, &id);
        match self
            .entities
            .get(&key)
            .map_err(StoreError::sled("reading an entity summary"))?
        {
            None => Ok(None),
            Some(v) => summary(&key, &v).map(Some),
        }
    }

    /// Up to `limit` known entities of type `ty` whose id starts with `prefix` (in the id's
    /// canonical case), in id order, with their summaries. For "did you mean" suggestions.
    pub fn entities_with_prefix(
        &self,
        ty: EntityType,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(EntityRef, EntitySummary)>> {
        let key_prefix = keys::entity_key(ty, &canonical_prefix(ty, prefix));
        let mut out = Vec::new();
        for r in self.entities.scan_prefix(&key_prefix).take(limit) {
            let (k, v) = r.map_err(StoreError::sled("reading entity summaries"))?;
            let (ty, id) = keys::decode_entity_key(&k)
                .ok_or_else(|| StoreError::corrupt("entities", &k, "malformed key"))?;
            out.push((
                EntityRef {
                    ty,
                    id: id.to_string(),
                },
                summary(&k, &v)?,
            ));
        }
        Ok(out)
    }
}

fn summary(key: &[u8], value: &[u8]) -> Result<EntitySummary> {
    Span::decode(value)
        .and_then(|s| s.entity_summary())
        .ok_or_else(|| StoreError::corrupt("entities", key, "undecodable summary"))
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
