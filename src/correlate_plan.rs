//! Where `skein correlate` starts, and what it leaves for the next run.
//!
//! After each run the multi-event rules' state is saved as a checkpoint named by the rules'
//! fingerprint and the time of the last event it has seen, and a cursor records the store's
//! change sequence then. The next run asks the store which events arrived since (the change
//! log), and resumes from the newest checkpoint older than the earliest of them: on-time data
//! resumes from the previous run's end, late data from an earlier checkpoint, and data older
//! than every checkpoint (or other rules) means a full run. Checkpoints at or after the
//! earliest new event are removed: they were taken without it. Either way the result is the
//! findings a full run gives: the correlator is deterministic, and findings that a resumed
//! run could have changed and did not produce again are removed ([`stale`]).

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skein_rules::RuleSet;
use skein_store::Store;

use crate::cli::CorrelateArgs;

/// Cursor name in the store.
const CURSOR: &str = "correlate";
/// Checkpoint names: `correlate/<fingerprint>/<watermark>`.
const CHECKPOINT_PREFIX: &str = "correlate/";
/// Checkpoints kept per rule set: late data older than the oldest means a full run.
const KEEP_CHECKPOINTS: usize = 8;

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    fingerprint: String,
    change_seq: u64,
    /// A `--since`/`--until` run stored multi-event findings cut by its range since: only a
    /// full run can tell which of them hold.
    #[serde(default)]
    partial: bool,
}

/// How a run starts.
pub enum Start {
    /// From nothing, over every stored event.
    Full { why: String },
    /// From a saved state, over the events after `from`.
    Resume {
        from: DateTime<Utc>,
        state: Vec<u8>,
        new_events: u64,
    },
    /// Nothing was ingested since the last run with these rules.
    NothingNew,
    /// `--since` / `--until`: a one-off run over that range; nothing is saved or removed.
    Bounded,
}

pub struct Plan {
    pub start: Start,
    /// The store's change sequence when the run started (recorded for the next run).
    pub change_seq: u64,
}

/// Orders checkpoint names by watermark: microseconds shifted to be non-negative, 20 digits.
fn watermark_key(t: DateTime<Utc>) -> String {
    let shifted = i128::from(t.timestamp_micros()) - i128::from(i64::MIN);
    format!("{shifted:020}")
}

fn watermark_of(key: &str) -> Option<DateTime<Utc>> {
    let shifted: i128 = key.parse().ok()?;
    let micros = i64::try_from(shifted + i128::from(i64::MIN)).ok()?;
    DateTime::from_timestamp_micros(micros)
}

fn prefix(fingerprint: &str) -> String {
    format!("{CHECKPOINT_PREFIX}{fingerprint}/")
}

/// Decides how this run starts.
pub fn plan(store: &Store, fingerprint: &str, args: &CorrelateArgs) -> Result<Plan> {
    let change_seq = store
        .change_seq()
        .context("reading the store's change sequence")?;
    if args.since.is_some() || args.until.is_some() {
        return Ok(Plan {
            start: Start::Bounded,
            change_seq,
        });
    }
    let full = |why: &str| Plan {
        start: Start::Full { why: why.into() },
        change_seq,
    };
    if args.full {
        return Ok(full("--full"));
    }
    let cursor: Option<Cursor> = store
        .cursor_get(CURSOR)
        .context("reading the correlate cursor")?
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(cursor) = cursor else {
        return Ok(full("first run"));
    };
    if cursor.fingerprint != fingerprint {
        return Ok(full("the rules or lists changed since the last run"));
    }
    if cursor.partial {
        return Ok(full(
            "a --since/--until run stored findings that only a full run can complete",
        ));
    }
    let changes = store
        .changes_since(cursor.change_seq)
        .context("reading the store's change log")?;
    let Some(earliest) = changes.min_time.filter(|_| changes.events > 0) else {
        return Ok(Plan {
            start: Start::NothingNew,
            change_seq,
        });
    };
    let saved = store
        .checkpoints_with_prefix(&prefix(fingerprint))
        .context("reading saved correlation state")?;
    // A state that has seen a time at or after the earliest new event no longer describes
    // the store (it lacks that event): drop it now, whatever this run does. The newest state
    // strictly before every new event is the one to resume from (times in the change log are
    // floored to the microsecond, so "before" is safe).
    let mut usable = None;
    for (name, state) in saved {
        match name.rsplit('/').next().and_then(watermark_of) {
            Some(w) if w < earliest => usable = Some((w, state)),
            _ => store
                .checkpoint_remove(&name)
                .context("removing outdated correlation state")?,
        }
    }
    Ok(match usable {
        Some((from, state)) => Plan {
            start: Start::Resume {
                from,
                state,
                new_events: changes.events,
            },
            change_seq,
        },
        None => full("events arrived that are older than any saved state"),
    })
}

/// Saves the state for the next run and records the change sequence; keeps the newest
/// [`KEEP_CHECKPOINTS`] states of these rules and drops those of other rules.
pub fn save(
    store: &Store,
    fingerprint: &str,
    plan: &Plan,
    watermark: Option<DateTime<Utc>>,
    state: &[u8],
) -> Result<()> {
    let name = watermark.map(|w| format!("{}{}", prefix(fingerprint), watermark_key(w)));
    if let Some(name) = &name {
        store
            .checkpoint_put(name, state)
            .context("saving the correlation state")?;
    }
    let all = store
        .checkpoints_with_prefix(CHECKPOINT_PREFIX)
        .context("listing saved correlation state")?;
    let mine = prefix(fingerprint);
    let (own, other): (Vec<_>, Vec<_>) = all.into_iter().partition(|(n, _)| n.starts_with(&mine));
    // After a full run only its own state is known to describe the store (an older one may
    // predate events ingested while no cursor recorded them, say after a crash).
    let full = matches!(plan.start, Start::Full { .. });
    let drop_own = if full {
        own.len()
    } else {
        own.len().saturating_sub(KEEP_CHECKPOINTS)
    };
    let doomed = own
        .iter()
        .take(drop_own)
        .filter(|(n, _)| Some(n) != name.as_ref());
    for (name, _) in other.iter().chain(doomed) {
        store
            .checkpoint_remove(name)
            .context("removing old correlation state")?;
    }
    let cursor = Cursor {
        fingerprint: fingerprint.to_string(),
        change_seq: plan.change_seq,
        partial: false,
    };
    store
        .cursor_set(CURSOR, &serde_json::to_vec(&cursor)?)
        .context("recording the correlate cursor")
}

/// After a `--since`/`--until` run: the next run is a full one (it replaces the multi-event
/// findings the range cut short). Nothing to do when no run recorded a cursor yet.
pub fn mark_partial(store: &Store) -> Result<()> {
    let cursor: Option<Cursor> = store
        .cursor_get(CURSOR)
        .context("reading the correlate cursor")?
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let Some(mut cursor) = cursor {
        cursor.partial = true;
        store
            .cursor_set(CURSOR, &serde_json::to_vec(&cursor)?)
            .context("recording the correlate cursor")?;
    }
    Ok(())
}

/// Stored findings of multi-event rules that this run should have produced again and did
/// not: those whose evidence ends (plus the rule's settling time) after `from` (all of them
/// for a full run). Per-event findings never go stale: their events do not change.
pub fn stale(
    store: &Store,
    rules: &RuleSet,
    produced: &HashSet<&str>,
    from: Option<DateTime<Utc>>,
) -> Result<Vec<String>> {
    // One read of the blocks that hold them, for every multi-event rule at once.
    let settle: HashMap<&str, chrono::TimeDelta> = rules
        .correlations()
        .iter()
        .map(|c| (c.id.as_str(), c.settle))
        .collect();
    if settle.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = settle.keys().copied().collect();
    let stored = store
        .findings_of_rules(&ids)
        .context("reading the findings of the multi-event rules")?;
    let out = stored
        .into_iter()
        .filter(|f| {
            let settle = settle.get(f.rule.as_str()).copied().unwrap_or_default();
            from.is_none_or(|t| f.last_seen + settle > t)
        })
        .filter(|f| !produced.contains(f.id.as_str()))
        .map(|f| f.id)
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_keys_sort_like_times_and_round_trip() {
        let times = [
            DateTime::from_timestamp_micros(-5_000_000).unwrap(),
            DateTime::from_timestamp_micros(0).unwrap(),
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
        ];
        let keys: Vec<String> = times.iter().map(|t| watermark_key(*t)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for (t, k) in times.iter().zip(&keys) {
            assert_eq!(watermark_of(k), Some(*t));
        }
    }
}
