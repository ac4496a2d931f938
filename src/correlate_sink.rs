//! Where `correlate`'s findings go: stored in batches of every rule as slices are
//! evaluated, unchanged ones skipped by digest, stale multi-event findings removed at the end, and the
//! per-rule counts of the summary.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use skein_model::Finding;
use skein_rules::{EvalStats, RuleSet};
use skein_store::{FindingRecord, Store};

use crate::correlate_plan::{self, Plan, Start};

/// Findings stored per sled transaction: measured on 116k findings when each finding was a
/// value of its own, larger transactions were slower and held more memory (5k: 7.4 s, 865 MiB
/// peak; 20k: 8.5 s, 973 MiB; 1k: 7.1 s, 790 MiB). Stored in blocks of 64 since, a
/// transaction of 1k findings writes ~16 values. Findings wait until this many are pending,
/// whatever their rule and slice: every write rewrites the unfilled last block, and a sweep
/// that wrote each slice's findings rule by rule made ~60 small writes (~0.1 s, most of it
/// waiting for sled to hand out a new log segment, for the ~1.5 MB those rewrites logged).
const FINDINGS_PER_BATCH: usize = 1_000;
/// One rule's line of the summary.
pub struct RuleLine {
    pub id: String,
    pub kind: &'static str,
    pub matched: u64,
    pub inserted: u64,
    pub updated: u64,
    pub suppressed: Vec<(String, u64)>,
}

/// `f` encoded as stored.
pub fn record(f: &Finding) -> Result<FindingRecord> {
    FindingRecord::of(f).with_context(|| format!("encoding finding {}", f.id))
}

/// Where findings go as slices are evaluated: stored in batches of every rule (so memory
/// holds about a slice's findings, not the run's), counted per rule for the summary, and the ids of
/// multi-event findings remembered so that [`Sink::finish`] can remove those this run should
/// have produced again and did not.
pub struct Sink<'a> {
    store: &'a Store,
    rules: &'a RuleSet,
    /// rule id → (inserted, updated).
    outcomes: HashMap<String, (u64, u64)>,
    /// rule id → findings produced (multi-event rules: each id once).
    produced: HashMap<String, HashSet<String>>,
    pub total: usize,
    pub nanos: u64,
    /// Stored findings' digests, taken from the store's index once this run has many
    /// findings to store (a re-run mostly stores findings exactly as they are: comparing
    /// here passes on, and marks touched, only those that changed). `None` until then.
    digests: Option<skein_store::IdMap<u128>>,
    /// Ids of the findings this run may have changed (passed on to be stored, or removed):
    /// the cases that hold or could join them are rebuilt.
    touched: skein_store::IdSet,
    /// Findings to store, encoded, written once [`FINDINGS_PER_BATCH`] are pending (and at
    /// [`Sink::finish`]).
    pending: Vec<FindingRecord>,
}

/// Findings stored by one run before the stored findings' digests are loaded.
const DIGESTS_FROM: usize = 5_000;

impl<'a> Sink<'a> {
    pub fn new(store: &'a Store, rules: &'a RuleSet) -> Sink<'a> {
        Sink {
            store,
            rules,
            outcomes: HashMap::new(),
            produced: HashMap::new(),
            total: 0,
            nanos: 0,
            digests: None,
            touched: Default::default(),
            pending: Vec::new(),
        }
    }

    /// Stores `findings` (the last version of an id wins).
    pub fn put(&mut self, findings: Vec<Finding>) -> Result<()> {
        let records = findings
            .iter()
            .map(record)
            .collect::<Result<Vec<FindingRecord>>>()?;
        self.put_records(records)
    }

    /// [`Sink::put`] for findings encoded already (the scanning threads write the findings
    /// of per-event rules as stored, `RuleSet::evaluate_encoded`).
    pub fn put_records(&mut self, records: Vec<FindingRecord>) -> Result<()> {
        let started = Instant::now();
        for r in records {
            if self.rules.correlations().iter().any(|c| c.id == r.rule()) {
                // (Multi-event findings: a few thousand a run.)
                let seen = self.produced.entry(r.rule().to_string()).or_default();
                self.total += usize::from(seen.insert(r.id().to_string()));
            } else {
                self.total += 1;
            }
            if self.digests.is_none() && self.total >= DIGESTS_FROM {
                // The pending findings first: the digests must be those of every version
                // given so far, or a later copy of a stored finding would look unchanged
                // and the pending version would win.
                self.write_pending()?;
                self.digests = Some(
                    self.store
                        .finding_digests()
                        .context("reading the stored findings' digests")?,
                );
            }
            // Once the digests are loaded, only the findings not stored exactly so reach
            // the store (and mark their cases touched); the digests follow what storing
            // them gives (repeated ids: the last one wins, as in the store).
            if let Some(digests) = &mut self.digests {
                if digests.get(r.id()) == Some(&r.digest()) {
                    continue;
                }
                digests.insert(r.id().to_string(), r.digest());
            }
            self.touched.insert(r.id().to_string());
            self.pending.push(r);
        }
        if self.pending.len() >= FINDINGS_PER_BATCH {
            self.write_pending()?;
        }
        self.nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Ok(())
    }

    /// Writes the pending findings, [`FINDINGS_PER_BATCH`] per transaction, each rule's
    /// together (a rule's findings then share blocks, and a reader of a few rules' findings
    /// reads few blocks).
    fn write_pending(&mut self) -> Result<()> {
        // Stable: the versions of one id keep their order, and the last one wins.
        self.pending.sort_by(|a, b| a.rule().cmp(b.rule()));
        for batch in self.pending.chunks(FINDINGS_PER_BATCH) {
            let per_rule = self
                .store
                .put_findings_of_rules_unflushed(batch)
                .context("storing findings")?;
            for (rule, o) in per_rule {
                let outcome = self.outcomes.entry(rule).or_default();
                outcome.0 += o.inserted;
                outcome.1 += o.updated;
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Writes the pending findings, removes the stale findings of multi-event rules, flushes everything stored, and
    /// returns the summary lines.
    /// `resumed_after`: the watermark of the restored state; findings that end at or before
    /// it were settled by earlier runs.
    pub fn finish(
        mut self,
        plan: &Plan,
        resumed_after: Option<DateTime<Utc>>,
        stats: &EvalStats,
    ) -> Result<(Vec<RuleLine>, skein_store::IdSet)> {
        self.write_pending()?;
        self.store.flush().context("flushing the findings")?;
        if !matches!(plan.start, Start::Bounded) {
            let from = match &plan.start {
                Start::Resume { .. } => resumed_after,
                _ => None,
            };
            let produced: HashSet<&str> = self
                .produced
                .values()
                .flatten()
                .map(String::as_str)
                .collect();
            let stale = correlate_plan::stale(self.store, self.rules, &produced, from)?;
            if !stale.is_empty() {
                self.store
                    .remove_findings(&stale)
                    .context("removing findings that no longer hold")?;
            }
            self.touched.extend(stale);
        }
        let counts = |id: &str| self.outcomes.get(id).copied().unwrap_or_default();
        let mut lines = Vec::new();
        for (i, rule) in self.rules.rules().iter().enumerate() {
            let c = &stats.per_rule[i];
            let (inserted, updated) = counts(&rule.id);
            lines.push(RuleLine {
                id: rule.id.clone(),
                kind: if self.rules.is_silent(i) {
                    "signal"
                } else {
                    "event"
                },
                matched: c.matched,
                inserted,
                updated,
                suppressed: rule
                    .allow
                    .iter()
                    .zip(&c.suppressed)
                    .filter(|(_, n)| **n > 0)
                    .map(|(b, n)| (format!("{} ({})", b.list, b.field), *n))
                    .collect(),
            });
        }
        for c in self.rules.correlations() {
            let (inserted, updated) = counts(&c.id);
            lines.push(RuleLine {
                id: c.id.clone(),
                kind: c.def.kind.name(),
                matched: self.produced.get(&c.id).map_or(0, |s| s.len() as u64),
                inserted,
                updated,
                suppressed: Vec::new(),
            });
        }
        Ok((lines, self.touched))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn finding(id: &str, summary: &str) -> Finding {
        Finding {
            id: id.to_string(),
            rule: "r".into(),
            title: "r fired".into(),
            severity: skein_model::Severity::Low,
            score: 10,
            first_seen: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            last_seen: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            entities: Vec::new(),
            events: vec![format!("ev-{id}")],
            attack: Vec::new(),
            summary: summary.into(),
            fields: serde_json::Map::new(),
        }
    }

    /// A version still pending when the run starts comparing digests is not compared
    /// against: the last version given wins, even one equal to what was stored before.
    #[test]
    fn the_last_version_wins_across_the_switch_to_digests() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Default::default()).expect("opens");
        let loaded = skein_rules::load::load(
            &[skein_rules::SourceText {
                path: "r.yml".into(),
                text: "title: r\nid: r\nlogsource: {product: azure, service: signinlogs}\n\
                       detection:\n  sel: {outcome.success: false}\n  condition: sel\nlevel: low\n"
                    .into(),
            }],
            &[],
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let stored = finding("F-x", "as stored");
        store
            .put_findings(std::slice::from_ref(&stored))
            .expect("stores");
        let mut sink = Sink::new(&store, &loaded.rules);
        sink.put(vec![finding("F-x", "changed")]).expect("pending");
        let mut many: Vec<Finding> = (0..DIGESTS_FROM)
            .map(|i| finding(&format!("F-{i}"), "filler"))
            .collect();
        many.push(stored.clone());
        sink.put(many).expect("switches to digests");
        let plan = Plan {
            start: Start::Bounded,
            change_seq: 0,
        };
        let (lines, _) = sink
            .finish(&plan, None, &loaded.rules.new_stats())
            .expect("finishes");
        assert_eq!(store.finding("F-x").expect("reads"), Some(stored));
        let line = lines.iter().find(|l| l.id == "r").expect("a line for r");
        assert_eq!((line.inserted, line.updated), (DIGESTS_FROM as u64, 2));
    }
}
