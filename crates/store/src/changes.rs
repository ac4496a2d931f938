//! The change log and saved checkpoints: what an incremental reader (`skein correlate`) needs
//! to know which events arrived since its last run, and where to keep its own state.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `changes` | a batch's first chunk seq, `u64` BE | per source present, in source order: tag (1 byte) + [`Span`] of the batch's new events (`count u64 BE \| first i64 BE \| last i64 BE`, 24 bytes) |
//! | `checkpoints` | a name chosen by the reader, UTF-8 | its bytes |
//!
//! A `changes` entry is written in the same transaction as the batch's chunks (see the `write`
//! module), so it exists exactly when they do; a batch of duplicates only writes nothing and
//! leaves [`Store::change_seq`] where it was. Times are the chunk keys' microseconds since
//! the epoch, i.e. event times floored to the microsecond (never later than the events').
//! Nothing prunes the log: an entry is about 26 bytes per source, per batch of thousands of
//! events.
//!
//! Checkpoints have their own tree rather than sharing `cursors`, so that a prefix listing
//! never returns a collector's cursor and collectors never meet a reader's state (possibly
//! megabytes). [`Store::checkpoint_put`] and [`Store::checkpoint_remove`] flush the database
//! before returning.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use skein_model::Source;

use crate::error::{Result, StoreError};
use crate::keys;
use crate::stats::{decode_u64, Span, SPAN_LEN};
use crate::store::{meta, Store};

/// What arrived in the batches since a change sequence number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// Batches that stored at least one event.
    pub batches: u64,
    /// Events they stored.
    pub events: u64,
    /// Time of the earliest of those events (floored to the microsecond).
    pub min_time: Option<DateTime<Utc>>,
    /// Time of the latest of those events (floored to the microsecond).
    pub max_time: Option<DateTime<Utc>>,
    /// Per source: earliest, latest, count.
    pub per_source: BTreeMap<Source, (DateTime<Utc>, DateTime<Utc>, u64)>,
}

/// Encodes a batch's per-source spans as a `changes` value.
pub(crate) fn encode(spans: &BTreeMap<Source, Span>) -> Vec<u8> {
    let mut out = Vec::with_capacity(spans.len() * (1 + SPAN_LEN));
    for (s, span) in spans {
        out.push(s.tag());
        out.extend_from_slice(&span.encode());
    }
    out
}

fn decode(key: &[u8], value: &[u8]) -> Result<Vec<(Source, Span)>> {
    let bad = |what: &str| StoreError::corrupt("changes", key, what.to_string());
    if !value.len().is_multiple_of(1 + SPAN_LEN) {
        return Err(bad("value is not a list of source spans"));
    }
    value
        .chunks(1 + SPAN_LEN)
        .map(|c| {
            let source = Source::from_tag(c[0]).ok_or_else(|| bad("unknown source tag"))?;
            let span = Span::decode(&c[1..]).ok_or_else(|| bad("undecodable span"))?;
            Ok((source, span))
        })
        .collect()
}

impl Store {
    /// The change sequence number now: the chunk seq the next stored batch will start at. It
    /// only grows, and only when a batch stores something.
    pub fn change_seq(&self) -> Result<u64> {
        match self
            .meta
            .get(meta::NEXT_SEQ)
            .map_err(StoreError::sled("reading the chunk sequence"))?
        {
            None => Ok(0),
            Some(v) => decode_u64(&v)
                .ok_or_else(|| StoreError::corrupt("meta", meta::NEXT_SEQ, "not 8 bytes")),
        }
    }

    /// What the batches that started at or after `seq` (a value of [`Store::change_seq`])
    /// stored: every batch whose first chunk seq is `>= seq`. Times are floored to the
    /// microsecond. `changes_since(store.change_seq()?)` is empty.
    pub fn changes_since(&self, seq: u64) -> Result<ChangeSummary> {
        let mut out = ChangeSummary::default();
        for kv in self.changes.range(seq.to_be_bytes()..) {
            let (k, v) = kv.map_err(StoreError::sled("reading the change log"))?;
            out.batches += 1;
            for (source, span) in decode(&k, &v)? {
                let (Some(first), Some(last)) =
                    (keys::from_micros(span.first), keys::from_micros(span.last))
                else {
                    return Err(StoreError::corrupt("changes", &k, "time out of range"));
                };
                out.events += span.count;
                out.min_time = Some(out.min_time.map_or(first, |t| t.min(first)));
                out.max_time = Some(out.max_time.map_or(last, |t| t.max(last)));
                let e = out.per_source.entry(source).or_insert((first, last, 0));
                e.0 = e.0.min(first);
                e.1 = e.1.max(last);
                e.2 += span.count;
            }
        }
        Ok(out)
    }

    /// Saves `value` under `name` (replacing what was there) in the `checkpoints` tree and
    /// flushes the database before returning. Values of several megabytes are fine.
    pub fn checkpoint_put(&self, name: &str, value: &[u8]) -> Result<()> {
        self.checkpoints
            .insert(name.as_bytes(), value)
            .map_err(StoreError::sled("saving a checkpoint"))?;
        self.db
            .flush()
            .map_err(StoreError::sled("flushing a checkpoint"))?;
        Ok(())
    }

    /// The checkpoints whose name starts with `prefix`, sorted by name.
    pub fn checkpoints_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for kv in self.checkpoints.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv.map_err(StoreError::sled("reading checkpoints"))?;
            let name = String::from_utf8(k.to_vec())
                .map_err(|_| StoreError::corrupt("checkpoints", &k, "name is not UTF-8"))?;
            out.push((name, v.to_vec()));
        }
        Ok(out)
    }

    /// Removes the checkpoint `name` (nothing when there is none), flushed.
    pub fn checkpoint_remove(&self, name: &str) -> Result<()> {
        self.checkpoints
            .remove(name.as_bytes())
            .map_err(StoreError::sled("removing a checkpoint"))?;
        self.db
            .flush()
            .map_err(StoreError::sled("flushing a checkpoint"))?;
        Ok(())
    }
}
