//! Findings (SPEC §5): what the rules concluded, stored as JSON.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `findings` | the finding's id | `serde_json` of the [`Finding`] |
//! | `findings_by_rule` | `escaped rule \| 0x00 \| id` | empty |
//! | `meta` | `findings` | how many findings are stored, `u64` BE |
//!
//! The rule is escaped ([`keys::escape_into`]) so that the `0x00` terminator is unambiguous
//! and one rule's name that prefixes another's never matches it. [`Store::put_findings`] and
//! [`Store::remove_findings`] each change all three trees in one sled transaction and flush
//! it before returning, so the index and the count always agree with the findings, and a
//! finding reported stored (or removed) stays so after a crash. Readers still check every
//! finding listed by the index against its rule.

use serde::{Deserialize, Serialize};
use skein_model::Finding;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::error::{Result, StoreError};
use crate::evict::evicting;
use crate::keys;
use crate::stats::decode_u64;
use crate::store::{meta, Store};

/// A finding encoded as stored: its id, its rule (for the index) and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRecord {
    pub id: String,
    pub rule: String,
    pub json: Vec<u8>,
}

impl FindingRecord {
    /// `f` encoded; fails on an empty id or content JSON cannot hold.
    pub fn of(f: &Finding) -> Result<FindingRecord> {
        refuse_empty_id(&f.id)?;
        let json = serde_json::to_vec(f).map_err(|e| StoreError::InvalidFinding {
            id: f.id.clone(),
            what: format!("not serialisable as JSON: {e}"),
        })?;
        Ok(FindingRecord {
            id: f.id.clone(),
            rule: f.rule.clone(),
            json,
        })
    }
}

/// A finding without an id cannot be stored (it would have no key).
fn refuse_empty_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(StoreError::InvalidFinding {
            id: String::new(),
            what: "the id is empty".into(),
        });
    }
    Ok(())
}

/// What one [`Store::put_findings`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingsOutcome {
    /// Findings whose id was not stored yet.
    pub inserted: u64,
    /// Findings whose id was stored with other content, now replaced.
    pub updated: u64,
    /// Findings stored already exactly as given.
    pub unchanged: u64,
}

/// The `findings_by_rule` prefix of every finding of `rule`.
fn rule_prefix(rule: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(rule.len() + 1);
    keys::escape_into(&mut k, rule.as_bytes());
    k.push(0);
    k
}

/// The `findings_by_rule` key of finding `id` of `rule`.
fn rule_key(rule: &str, id: &str) -> Vec<u8> {
    let mut k = rule_prefix(rule);
    k.extend_from_slice(id.as_bytes());
    k
}

/// Decodes the finding stored under `key`.
fn decode(key: &[u8], value: &[u8]) -> Result<Finding> {
    serde_json::from_slice(value)
        .map_err(|e| StoreError::corrupt("findings", key, format!("undecodable finding: {e}")))
}

/// The findings count in the `meta` tree, inside a transaction.
fn read_count(
    meta_tree: &TransactionalTree,
) -> std::result::Result<u64, ConflictableTransactionError<StoreError>> {
    match meta_tree.get(meta::FINDINGS)? {
        None => Ok(0),
        Some(v) => decode_u64(&v).ok_or_else(|| {
            ConflictableTransactionError::Abort(StoreError::corrupt(
                "meta",
                meta::FINDINGS,
                "counter is not 8 bytes",
            ))
        }),
    }
}

/// The digest [`Store::finding_digests`] gives for a finding stored as `json`.
pub fn finding_digest(json: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(json)
}

/// Sorts by `(first_seen, id)`, the order every listing uses.
fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.first_seen
            .cmp(&b.first_seen)
            .then_with(|| a.id.cmp(&b.id))
    });
}

impl Store {
    /// Stores `findings` by id: a new id is inserted; an id stored with the same content
    /// (byte for byte, as JSON) is left alone; an id stored with other content is replaced,
    /// moving it to its new rule's index when the rule changed. When the same id appears more
    /// than once in `findings`, the last one wins (and the others count as well).
    ///
    /// Everything is written in one sled transaction (findings, rule index and count) and
    /// flushed to disk before this returns.
    pub fn put_findings(&self, findings: &[Finding]) -> Result<FindingsOutcome> {
        let outcome = self.put_findings_unflushed(findings)?;
        if outcome.inserted + outcome.updated > 0 {
            self.db
                .flush()
                .map_err(StoreError::sled("flushing findings"))?;
        }
        Ok(outcome)
    }

    /// Every stored finding's id with the xxh3-128 hash of its stored JSON, in one pass over
    /// the findings tree: a writer about to store many findings compares against this and
    /// passes on only those that differ, instead of reading each stored finding back (one
    /// random read each, mostly cache misses after a scan of the events).
    pub fn finding_digests(&self) -> Result<std::collections::HashMap<String, u128>> {
        let mut out = std::collections::HashMap::with_capacity(self.findings.len());
        for kv in evicting(&self.findings, self.findings.iter()) {
            let (k, v) = kv.map_err(StoreError::sled("reading findings"))?;
            let id = String::from_utf8_lossy(&k).into_owned();
            out.insert(id, finding_digest(&v));
        }
        Ok(out)
    }

    /// [`Store::put_findings`] without the flush: the transaction is atomic, but may be lost
    /// by a crash until [`Store::flush`] (or sled's background flush). For writers that store
    /// many batches and flush once at the end, such as `correlate`, which recomputes what a
    /// crash lost (a flush per batch cost about a second per hundred batches).
    pub fn put_findings_unflushed(&self, findings: &[Finding]) -> Result<FindingsOutcome> {
        let records = findings
            .iter()
            .map(FindingRecord::of)
            .collect::<Result<Vec<_>>>()?;
        // Findings stored exactly as given need no transaction: a re-run mostly gives those.
        // (A writer running concurrently could change one between this read and the
        // transaction only to another full finding; the transaction below re-checks the rest.)
        // Ids given more than once go through the transaction, where the last one wins.
        let mut seen = std::collections::HashSet::new();
        let repeated: std::collections::HashSet<&str> = records
            .iter()
            .filter(|r| !seen.insert(r.id.as_str()))
            .map(|r| r.id.as_str())
            .collect();
        let mut unchanged = 0;
        let changed: Vec<&FindingRecord> = records
            .iter()
            .filter(|r| {
                if repeated.contains(r.id.as_str()) {
                    return true;
                }
                let same = self
                    .findings
                    .get(r.id.as_bytes())
                    .ok()
                    .flatten()
                    .is_some_and(|old| old.as_ref() == r.json.as_slice());
                unchanged += u64::from(same);
                !same
            })
            .collect();
        let mut outcome = self.write_findings(&changed)?;
        outcome.unchanged += unchanged;
        Ok(outcome)
    }

    /// [`Store::put_findings_unflushed`] for a writer that has already compared its findings
    /// with [`Store::finding_digests`] and encoded them: they go straight to the transaction
    /// (which still compares each with what is stored, so one that is in fact unchanged is
    /// counted so and not written).
    pub fn put_changed_findings_unflushed(
        &self,
        records: &[FindingRecord],
    ) -> Result<FindingsOutcome> {
        self.write_findings(&records.iter().collect::<Vec<_>>())
    }

    /// Writes `values` (the last of an id wins) with their index entries and the new count,
    /// in one transaction.
    fn write_findings(&self, values: &[&FindingRecord]) -> Result<FindingsOutcome> {
        if values.is_empty() {
            return Ok(FindingsOutcome::default());
        }
        // Records can be built by hand: the same refusal as `FindingRecord::of`.
        for r in values {
            refuse_empty_id(&r.id)?;
        }
        (&self.findings, &self.findings_by_rule, &self.meta)
            .transaction(|(tree, by_rule, meta_tree)| {
                let mut outcome = FindingsOutcome::default();
                let mut count = read_count(meta_tree)?;
                for f in values {
                    let (key, json) = (f.id.as_bytes(), &f.json);
                    match tree.get(key)? {
                        None => {
                            outcome.inserted += 1;
                            count += 1;
                        }
                        Some(old) if old.as_ref() == json.as_slice() => {
                            outcome.unchanged += 1;
                            continue;
                        }
                        Some(old) => {
                            outcome.updated += 1;
                            // A corrupt old value has no rule to unindex: readers skip the
                            // stale index entry it may leave.
                            if let Ok(old) = decode(key, &old) {
                                if old.rule != f.rule {
                                    by_rule.remove(rule_key(&old.rule, &f.id))?;
                                }
                            }
                        }
                    }
                    tree.insert(key, json.as_slice())?;
                    by_rule.insert(rule_key(&f.rule, &f.id), &[][..])?;
                }
                meta_tree.insert(meta::FINDINGS, &count.to_be_bytes()[..])?;
                Ok(outcome)
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(source) => StoreError::Sled {
                    action: "writing findings",
                    source,
                },
            })
    }

    /// Removes the findings with these ids, with their `findings_by_rule` entries, and lowers
    /// the count accordingly; ids that are not stored (or repeat an earlier one) are ignored.
    /// Returns how many of them were stored.
    ///
    /// Like [`Store::put_findings`], everything is written in one sled transaction (findings,
    /// rule index and count) and flushed to disk before this returns.
    pub fn remove_findings(&self, ids: &[String]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let removed = (&self.findings, &self.findings_by_rule, &self.meta)
            .transaction(|(tree, by_rule, meta_tree)| {
                let mut count = read_count(meta_tree)?;
                let mut removed = 0u64;
                for id in ids {
                    let key = id.as_bytes();
                    let Some(old) = tree.remove(key)? else {
                        continue;
                    };
                    removed += 1;
                    count = count.saturating_sub(1);
                    // A corrupt old value has no rule to unindex: readers skip the stale
                    // index entry it may leave.
                    if let Ok(old) = decode(key, &old) {
                        by_rule.remove(rule_key(&old.rule, id))?;
                    }
                }
                if removed > 0 {
                    meta_tree.insert(meta::FINDINGS, &count.to_be_bytes()[..])?;
                }
                Ok(removed)
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(source) => StoreError::Sled {
                    action: "removing findings",
                    source,
                },
            })?;
        if removed > 0 {
            self.db
                .flush()
                .map_err(StoreError::sled("flushing findings"))?;
        }
        Ok(removed)
    }

    /// One finding by id.
    pub fn finding(&self, id: &str) -> Result<Option<Finding>> {
        self.findings
            .get(id.as_bytes())
            .map_err(StoreError::sled("reading a finding"))?
            .map(|v| decode(id.as_bytes(), &v))
            .transpose()
    }

    /// Every stored finding, or those of one rule, sorted by `(first_seen, id)`. Listing one
    /// rule reads only that rule's findings (through the `findings_by_rule` index).
    pub fn findings(&self, rule: Option<&str>) -> Result<Vec<Finding>> {
        let mut out = Vec::new();
        match rule {
            None => {
                for kv in evicting(&self.findings, self.findings.iter()) {
                    let (k, v) = kv.map_err(StoreError::sled("reading findings"))?;
                    out.push(decode(&k, &v)?);
                }
            }
            Some(rule) => {
                let prefix = rule_prefix(rule);
                for kv in self.findings_by_rule.scan_prefix(&prefix) {
                    let (k, _) = kv.map_err(StoreError::sled("reading the findings index"))?;
                    let id = &k[prefix.len()..];
                    let value = self
                        .findings
                        .get(id)
                        .map_err(StoreError::sled("reading a finding"))?;
                    // An entry without its finding, or naming another rule, is stale (left
                    // by replacing a corrupt value): skip it.
                    if let Some(v) = value {
                        let f = decode(id, &v)?;
                        if f.rule == rule {
                            out.push(f);
                        }
                    }
                }
            }
        }
        sort(&mut out);
        Ok(out)
    }

    /// How many findings are stored (a counter: no scan).
    pub fn finding_count(&self) -> Result<u64> {
        self.meta_u64(meta::FINDINGS)
    }
}
