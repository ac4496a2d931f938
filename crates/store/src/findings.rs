//! Findings (SPEC §5): what the rules concluded, stored as JSON in blocks.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `finding_blocks` | block number, `u64` BE | up to 64 findings ([`crate::finding_blocks`]) |
//! | `meta` | `findings` | how many findings are stored, `u64` BE |
//!
//! Each id is in one block. Replacing a finding writes it into a new block and rewrites its
//! old block without it; a block left with fewer than 16 findings is removed instead and its
//! findings written again with the new ones. A write also takes in the last block when it is
//! not full, so that runs that store a few findings at a time do not leave a trail of small
//! blocks. Removing a finding rewrites its block (removed when nothing is left). [`Store::put_findings`] and [`Store::remove_findings`] each write their blocks
//! and the count in one sled transaction and flush it before returning, so the count always
//! agrees with the blocks, and a finding reported stored (or removed) stays so after a
//! crash.
//!
//! The writer keeps an index of every stored id (its block, its rule and the digest of its
//! JSON), built on first use from the blocks' heads, which are not compressed, and which the
//! `finding_heads` tree keeps apart (for the bench's 116k findings: ~1,800 values, ~7 MB,
//! where reading them out of the blocks read ~25 MB of blocks through sled: ~0.035 s of a
//! ~0.25 s sweep, on a third thread beside the two reading events). Every write of blocks
//! writes and removes their heads in its transaction; a store from a build without the
//! tree gets it from the blocks when the index is first built (see `finding_index`). The
//! index decides what is new, changed or unchanged without reading the findings, it is
//! what [`Store::finding_digests`] returns, and it says which blocks a listing of some rules
//! reads ([`Store::findings_of_rules`]: a sweep reads the few findings of the multi-event
//! rules without a pass over every block).
//!
//! Stores written before blocks (format revision 1) kept one value per finding in a
//! `findings` tree with a `findings_by_rule` index; opening one moves them into blocks
//! (the `findings_migration` module).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use skein_model::Finding;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use crate::error::{Result, StoreError};
use crate::evict::evicting;
use crate::finding_blocks::{self, Entry, EntryRef};
use crate::finding_index::{FindingIndex, Location};
use crate::stats::decode_u64;
use crate::store::{meta, Store};

/// The tree named in errors about a finding's JSON.
pub(crate) const FINDINGS: &str = "findings";
/// The tree of blocks.
pub(crate) const BLOCKS: &str = "finding_blocks";
/// The tree of the blocks' heads.
pub(crate) const HEADS: &str = "finding_heads";

/// A finding encoded as stored: its id, its rule (for the index), its JSON and the JSON's
/// digest ([`finding_digest`], made with the record: where the JSON was just written, in
/// the cache, and once, where the writer and the store each hashed it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRecord {
    id: String,
    rule: String,
    json: Vec<u8>,
    digest: u128,
}

impl FindingRecord {
    /// A finding encoded elsewhere (its JSON as [`Finding::write_json`] writes it); fails on
    /// an empty id.
    pub fn from_parts(id: String, rule: String, json: Vec<u8>) -> Result<FindingRecord> {
        refuse_empty_id(&id)?;
        let digest = finding_digest(&json);
        Ok(FindingRecord {
            id,
            rule,
            json,
            digest,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// [`finding_digest`] of [`FindingRecord::json`].
    pub fn digest(&self) -> u128 {
        self.digest
    }

    /// `f` encoded; fails on an empty id or content JSON cannot hold.
    pub fn of(f: &Finding) -> Result<FindingRecord> {
        refuse_empty_id(&f.id)?;
        // Sized for a usual finding (~1.1 KB): growing from empty copied it about ten times.
        let mut json = Vec::with_capacity(2048);
        // (`Finding::write_json`: serde_json's bytes, written faster.)
        f.write_json(&mut json)
            .map_err(|e| StoreError::InvalidFinding {
                id: f.id.clone(),
                what: format!("not serialisable as JSON: {e}"),
            })?;
        FindingRecord::from_parts(f.id.clone(), f.rule.clone(), json)
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

/// The sum of per-rule outcomes.
fn total<'a>(per_rule: impl IntoIterator<Item = &'a FindingsOutcome>) -> FindingsOutcome {
    per_rule
        .into_iter()
        .fold(FindingsOutcome::default(), |a, b| FindingsOutcome {
            inserted: a.inserted + b.inserted,
            updated: a.updated + b.updated,
            unchanged: a.unchanged + b.unchanged,
        })
}

/// A block that replacing findings leaves with fewer findings than this is folded into the
/// blocks written with the new ones.
const MIN_KEPT: usize = finding_blocks::MAX_BLOCK_ENTRIES / 4;

/// Decodes a finding's JSON, stored under `id`.
fn decode_json(id: &str, json: &[u8]) -> Result<Finding> {
    // (`Finding::from_json`: what serde_json reads, faster on the stored layout.)
    Finding::from_json(json).map_err(|e| {
        StoreError::corrupt(FINDINGS, id.as_bytes(), format!("undecodable finding: {e}"))
    })
}

/// The number of a block from its key.
pub(crate) fn block_number(key: &[u8]) -> Result<u64> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::corrupt(BLOCKS, key, "key is not 8 bytes"))
}

/// The number of the block after the one stored under `key`.
pub(crate) fn number_after(key: &[u8]) -> Result<u64> {
    block_number(key)?
        .checked_add(1)
        .ok_or_else(|| StoreError::corrupt(BLOCKS, key, "the last block number"))
}

/// Decodes every finding of the block stored under `key`.
fn decode_block(key: &[u8], value: &[u8]) -> Result<Vec<Entry>> {
    finding_blocks::decode(value).map_err(|what| StoreError::corrupt(BLOCKS, key, what))
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

/// What one write does to the blocks: values to insert under block numbers, numbers to
/// remove, and the change to the count.
#[derive(Default)]
struct BlockWrite {
    put: Vec<(u64, Vec<u8>)>,
    removed: Vec<u64>,
    added: u64,
    dropped: u64,
}

/// The heads of block values about to be written under their keys, for the `finding_heads`
/// tree beside them (read before the transaction, which sled may run more than once).
pub(crate) fn heads_of<'v>(
    blocks: impl IntoIterator<Item = ([u8; 8], &'v [u8])>,
) -> Result<Vec<&'v [u8]>> {
    blocks
        .into_iter()
        .map(|(key, value)| {
            finding_blocks::head_bytes(value)
                .map_err(|what| StoreError::corrupt(BLOCKS, &key, what))
        })
        .collect()
}

impl BlockWrite {
    /// Applies the write, the blocks' heads and the new count in one transaction.
    fn commit(&self, store: &Store, action: &'static str) -> Result<()> {
        let heads = heads_of(
            self.put
                .iter()
                .map(|(n, v)| (n.to_be_bytes(), v.as_slice())),
        )?;
        (&store.finding_blocks, &store.meta, &store.finding_heads)
            .transaction(|(blocks, meta_tree, heads_tree)| {
                for ((number, value), head) in self.put.iter().zip(&heads) {
                    let key = number.to_be_bytes();
                    blocks.insert(&key[..], value.as_slice())?;
                    heads_tree.insert(&key[..], *head)?;
                }
                for number in &self.removed {
                    let key = number.to_be_bytes();
                    blocks.remove(&key[..])?;
                    heads_tree.remove(&key[..])?;
                }
                if self.added != self.dropped {
                    let count = (read_count(meta_tree)? + self.added).saturating_sub(self.dropped);
                    meta_tree.insert(meta::FINDINGS, &count.to_be_bytes()[..])?;
                }
                Ok(())
            })
            .map_err(StoreError::transaction(action))
    }
}

impl Store {
    /// Stores `findings` by id: a new id is inserted; an id stored with the same content
    /// (byte for byte, as JSON) is left alone; an id stored with other content is replaced.
    /// When the same id appears more than once in `findings`, the last one wins (and the
    /// others count as well).
    ///
    /// Everything is written in one sled transaction (blocks and count) and flushed to disk
    /// before this returns.
    pub fn put_findings(&self, findings: &[Finding]) -> Result<FindingsOutcome> {
        let outcome = self.put_findings_unflushed(findings)?;
        if outcome.inserted + outcome.updated > 0 {
            self.db
                .flush()
                .map_err(StoreError::sled("flushing findings"))?;
        }
        Ok(outcome)
    }

    /// [`Store::put_findings`] without the flush: the transaction is atomic, but may be lost
    /// by a crash until [`Store::flush`] (or sled's background flush). For writers that store
    /// many batches and flush once at the end, such as `correlate`, which recomputes what a
    /// crash lost.
    pub fn put_findings_unflushed(&self, findings: &[Finding]) -> Result<FindingsOutcome> {
        let records = findings
            .iter()
            .map(FindingRecord::of)
            .collect::<Result<Vec<_>>>()?;
        Ok(total(self.write_findings(&records)?.values()))
    }

    /// [`Store::put_findings_unflushed`] for a writer that has already compared its findings
    /// with [`Store::finding_digests`] and encoded them (each is still compared with what is
    /// stored, so one that is in fact unchanged is counted so and not written).
    pub fn put_changed_findings_unflushed(
        &self,
        records: &[FindingRecord],
    ) -> Result<FindingsOutcome> {
        Ok(total(self.write_findings(records)?.values()))
    }

    /// [`Store::put_changed_findings_unflushed`] for records of several rules at once, with
    /// what it did to each rule's findings. One write of many rules' findings rewrites the
    /// unfilled last block once, where a write per rule rewrote it every time.
    pub fn put_findings_of_rules_unflushed(
        &self,
        records: &[FindingRecord],
    ) -> Result<BTreeMap<String, FindingsOutcome>> {
        self.write_findings(records)
    }

    /// Writes `records` (the last of an id wins) into new blocks, rewrites the blocks that
    /// held the older versions of those replaced, and updates the count, in one transaction.
    /// Returns what it did per rule.
    fn write_findings(
        &self,
        records: &[FindingRecord],
    ) -> Result<BTreeMap<String, FindingsOutcome>> {
        let mut guard = self.finding_index()?;
        let index = guard.get_or_insert_with(FindingIndex::default);
        let mut per_rule: HashMap<&str, FindingsOutcome> = HashMap::new();
        let mut entries: Vec<EntryRef> = Vec::new();
        let mut position: HashMap<&str, usize> = HashMap::new();
        let mut replaced: BTreeMap<u64, HashSet<&str>> = BTreeMap::new();
        for r in records {
            let digest = r.digest;
            let entry = EntryRef {
                id: &r.id,
                rule: &r.rule,
                digest,
                json: &r.json,
            };
            if let Some(&at) = position.get(r.id.as_str()) {
                if entries[at].digest == digest {
                    per_rule.entry(&r.rule).or_default().unchanged += 1;
                } else {
                    per_rule.entry(&r.rule).or_default().updated += 1;
                    entries[at] = entry;
                }
                continue;
            }
            match index.get(&r.id) {
                Some(at) if at.digest == digest => {
                    per_rule.entry(&r.rule).or_default().unchanged += 1;
                    continue;
                }
                Some(at) => {
                    per_rule.entry(&r.rule).or_default().updated += 1;
                    replaced.entry(at.block).or_default().insert(&r.id);
                }
                None => per_rule.entry(&r.rule).or_default().inserted += 1,
            }
            position.insert(&r.id, entries.len());
            entries.push(entry);
        }
        let per_rule: BTreeMap<String, FindingsOutcome> = per_rule
            .into_iter()
            .map(|(rule, o)| (rule.to_string(), o))
            .collect();
        if entries.is_empty() {
            return Ok(per_rule);
        }
        let inserted = total(per_rule.values()).inserted;
        let (mut write, mut folded) = self.without(&replaced, MIN_KEPT)?;
        // The replaced findings leave their old blocks and come back in the new ones.
        write.added = inserted + write.dropped;
        folded.extend(self.unfilled_last_block(index, &replaced, &mut write)?);
        // Only the copy the index names moves (another can only come from damage: moving it
        // would make it the current one).
        let folded: Vec<Entry> = folded
            .into_iter()
            .filter(|(block, e)| index.is_current(&e.head.id, *block))
            .map(|(_, e)| e)
            .collect();
        let entries: Vec<EntryRef> = folded.iter().map(Entry::as_ref).chain(entries).collect();
        let mut placed = Vec::with_capacity(entries.len());
        let new_blocks = finding_blocks::blocks(&entries);
        for (n, block) in new_blocks.iter().enumerate() {
            let number = index.next_block + n as u64;
            let value =
                finding_blocks::encode(block).map_err(|what| StoreError::InvalidFinding {
                    id: block.first().map_or_else(String::new, |e| e.id.to_string()),
                    what,
                })?;
            write.put.push((number, value));
            placed.extend(block.iter().map(|e| (e.id, number, e.digest, e.rule)));
        }
        write.commit(self, "writing findings")?;
        // (`write.put` also holds the rewritten old blocks, under their own numbers.)
        index.next_block += new_blocks.len() as u64;
        for (id, block, digest, rule) in placed {
            let rule = index.rule_number(rule);
            index.insert(
                id,
                Location {
                    block,
                    digest,
                    rule,
                },
            );
        }
        Ok(per_rule)
    }

    /// Every finding of block `number`, if it exists.
    fn read_block(&self, number: u64) -> Result<Option<Vec<Entry>>> {
        let key = number.to_be_bytes();
        self.finding_blocks
            .get(key)
            .map_err(StoreError::sled("reading finding blocks"))?
            .map(|value| decode_block(&key, &value))
            .transpose()
    }

    /// The blocks of `ids` rewritten without them: removed when nothing is left, and also
    /// when fewer than `fold_below` findings are left, which are then returned to be written
    /// again with the new ones (so that replacing findings does not leave ever emptier
    /// blocks behind).
    fn without(
        &self,
        ids: &BTreeMap<u64, HashSet<&str>>,
        fold_below: usize,
    ) -> Result<(BlockWrite, Vec<(u64, Entry)>)> {
        let mut write = BlockWrite::default();
        let mut folded = Vec::new();
        for (&number, gone) in ids {
            let Some(mut kept) = self.read_block(number)? else {
                continue;
            };
            let key = number.to_be_bytes();
            let before = kept.len();
            kept.retain(|e| !gone.contains(e.head.id.as_str()));
            write.dropped += (before - kept.len()) as u64;
            if kept.len() < fold_below.max(1) {
                write.removed.push(number);
                folded.extend(kept.into_iter().map(|e| (number, e)));
            } else {
                let refs: Vec<EntryRef> = kept.iter().map(Entry::as_ref).collect();
                let value = finding_blocks::encode(&refs)
                    .map_err(|what| StoreError::corrupt(BLOCKS, &key, what))?;
                write.put.push((number, value));
            }
        }
        Ok((write, folded))
    }

    /// The findings of the last block when it is not full (it is then removed by `write`
    /// and its findings written again first with the new ones: a run that stores a few
    /// findings tops the last block up instead of adding a small one). Nothing when it is
    /// `busy` (being rewritten already) or full.
    fn unfilled_last_block(
        &self,
        index: &FindingIndex,
        busy: &BTreeMap<u64, HashSet<&str>>,
        write: &mut BlockWrite,
    ) -> Result<Vec<(u64, Entry)>> {
        let Some(last) = index.next_block.checked_sub(1) else {
            return Ok(Vec::new());
        };
        if busy.contains_key(&last) {
            return Ok(Vec::new());
        }
        let Some(entries) = self.read_block(last)? else {
            return Ok(Vec::new());
        };
        // Full by count, or by size (half of the bytes a block holds: large findings would
        // otherwise be decompressed and written again by every write).
        let bytes: usize = entries.iter().map(|e| e.json.len()).sum();
        if entries.len() >= finding_blocks::MAX_BLOCK_ENTRIES
            || bytes >= finding_blocks::MAX_BLOCK_BYTES / 2
        {
            return Ok(Vec::new());
        }
        write.removed.push(last);
        Ok(entries.into_iter().map(|e| (last, e)).collect())
    }

    /// Removes the findings with these ids and lowers the count accordingly; ids that are
    /// not stored (or repeat an earlier one) are ignored. Returns how many of them were
    /// stored.
    ///
    /// Like [`Store::put_findings`], everything is written in one sled transaction (blocks
    /// and count) and flushed to disk before this returns.
    pub fn remove_findings(&self, ids: &[String]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut guard = self.finding_index()?;
        let index = guard.get_or_insert_with(FindingIndex::default);
        let mut gone: BTreeMap<u64, HashSet<&str>> = BTreeMap::new();
        for id in ids {
            if let Some(at) = index.get(id) {
                gone.entry(at.block).or_default().insert(id);
            }
        }
        let (write, _) = self.without(&gone, 0)?;
        let removed = write.dropped;
        if removed == 0 {
            return Ok(0);
        }
        write.commit(self, "removing findings")?;
        for id in gone.values().flatten() {
            index.remove(id);
        }
        drop(guard);
        self.db
            .flush()
            .map_err(StoreError::sled("flushing findings"))?;
        Ok(removed)
    }

    /// One finding by id.
    pub fn finding(&self, id: &str) -> Result<Option<Finding>> {
        Ok(self.findings_with_ids(&[id])?.pop())
    }

    /// The stored findings with these ids (those that exist, each once), reading each block
    /// once, in no particular order.
    pub fn findings_with_ids(&self, ids: &[&str]) -> Result<Vec<Finding>> {
        let guard = self.read_finding_index()?;
        let Some(index) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        let mut wanted: BTreeMap<u64, HashSet<&str>> = BTreeMap::new();
        for id in ids {
            if let Some(at) = index.get(id) {
                wanted.entry(at.block).or_default().insert(id);
            }
        }
        let mut out = Vec::new();
        for (number, ids) in wanted {
            for e in self.read_block(number)?.unwrap_or_default() {
                if ids.contains(e.head.id.as_str()) {
                    out.push(decode_json(&e.head.id, &e.json)?);
                }
            }
        }
        Ok(out)
    }

    /// Every stored finding, or those of one rule, sorted by `(first_seen, id)`.
    pub fn findings(&self, rule: Option<&str>) -> Result<Vec<Finding>> {
        match rule {
            Some(rule) => self.findings_of_rules(&[rule]),
            None => self.all_findings(),
        }
    }

    /// The stored findings of these rules, sorted by `(first_seen, id)`. Only the blocks
    /// that the index says hold one are read.
    pub fn findings_of_rules(&self, rules: &[&str]) -> Result<Vec<Finding>> {
        let guard = self.read_finding_index()?;
        let Some(index) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for number in index.blocks_of_rules(rules) {
            for e in self.read_block(number)?.unwrap_or_default() {
                if index.is_current(&e.head.id, number) && rules.contains(&e.head.rule.as_str()) {
                    out.push(decode_json(&e.head.id, &e.json)?);
                }
            }
        }
        sort(&mut out);
        Ok(out)
    }

    /// Every stored finding, sorted by `(first_seen, id)`, in one pass over the blocks.
    fn all_findings(&self) -> Result<Vec<Finding>> {
        let guard = self.read_finding_index()?;
        let Some(index) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for kv in evicting(&self.finding_blocks, self.finding_blocks.iter()) {
            let (k, v) = kv.map_err(StoreError::sled("reading finding blocks"))?;
            let block = block_number(&k)?;
            for e in decode_block(&k, &v)? {
                if index.is_current(&e.head.id, block) {
                    out.push(decode_json(&e.head.id, &e.json)?);
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
