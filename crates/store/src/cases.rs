//! Cases (SPEC §5): derived from the findings on every `correlate`, stored as JSON by id
//! (LZ4-compressed) in the `cases` tree, each with a compact summary in `case_index` (what
//! an incremental update needs to find the cases new findings touch, without decoding every
//! case) and its findings in `case_findings` (LZ4-compressed: what rebuilding the case
//! needs, in one read where reading each finding by id touched pages all over the
//! `findings` tree). The store knows none of these shapes; `skein-cases` and the binary do.
//!
//! [`Store::replace_cases`] (or a [`CaseReplacement`] fed case by case) makes the trees hold
//! exactly the given cases, writing only those that changed, in batches (each atomic across
//! both trees), then removing the ones that are gone, and flushes. A crash part-way leaves a
//! mix of old and new cases; the next run derives them all again from the findings, so
//! nothing is lost.

use std::collections::{BTreeSet, HashMap};

use sled::Transactional;

use crate::error::{Result, StoreError};
use crate::store::{meta, Store};

/// Cases written per atomic sled batch. A batch holds its cases' JSON and findings until
/// it is written: 100 kept a full rebuild of the bench's 2,573 cases ~100 MiB lower than
/// 500 did, at no measurable cost in time.
const CASES_PER_BATCH: usize = 100;
/// A batch is also written once its cases hold this many bytes (JSON and findings): a case
/// of thousands of findings is written, and its memory reused, before the next ones pile up.
const BATCH_BYTES: usize = 8 << 20;

/// First byte of a case stored LZ4-compressed (no JSON text starts with it; states written
/// before compression hold plain JSON, read as it is and rewritten compressed).
///
/// Case JSON compresses about 5×, and it matters for memory as much as for disk: sled 0.34
/// keeps the pages a full case replacement reads and writes (hundreds of MB of case JSON
/// for a few million events) in memory.
const PACKED: u8 = 0x01;
/// Refuse to decompress a case claiming more than this (a damaged value).
const MAX_CASE_BYTES: usize = 1 << 30;

/// `json` as stored.
fn pack(json: &[u8]) -> Vec<u8> {
    // lz4_flex compresses into a vector's spare capacity (without its `safe-encode`
    // feature), behind the length it prepends; the format byte goes in front with one copy
    // of the compressed bytes. Compressing into a zeroed buffer of the largest output size
    // instead wrote (and faulted in) about as many bytes as the JSON for every case.
    let compressed = lz4_flex::block::compress_prepend_size(json);
    let mut out = Vec::with_capacity(1 + compressed.len());
    out.push(PACKED);
    out.extend_from_slice(&compressed);
    out
}

/// The length a [`pack`]ed value's compressed part (after the format byte) claims to
/// decompress to, if it has the 4 bytes that say it.
fn claimed_len(packed: &[u8]) -> Option<usize> {
    let claimed = packed.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok())?;
    usize::try_from(u32::from_le_bytes(claimed)).ok()
}

/// The length of the JSON a [`pack`]ed value claims to hold (`None`: not packed).
fn packed_len(stored: &[u8]) -> Option<usize> {
    match stored.split_first() {
        Some((&PACKED, packed)) => claimed_len(packed),
        _ => None,
    }
}

/// A stored case's JSON (`id` names it in errors).
fn unpack(id: &[u8], stored: &[u8]) -> Result<Vec<u8>> {
    unpack_from("cases", id, stored)
}

/// A value of `tree` stored by [`pack`] (or plain, from before compression).
fn unpack_from(tree: &'static str, id: &[u8], stored: &[u8]) -> Result<Vec<u8>> {
    unpack_with_room(tree, id, stored, 0)
}

/// [`unpack_from`] into a vector with room for `room` more bytes (reserved, not touched).
fn unpack_with_room(tree: &'static str, id: &[u8], stored: &[u8], room: usize) -> Result<Vec<u8>> {
    let Some((&PACKED, packed)) = stored.split_first() else {
        let mut out = Vec::with_capacity(stored.len() + room);
        out.extend_from_slice(stored);
        return Ok(out);
    };
    match claimed_len(packed) {
        Some(n) if n <= MAX_CASE_BYTES => {
            // (`claimed_len` saw the 4 bytes of the length.)
            let compressed = packed.get(4..).unwrap_or_default();
            let out = lz4_flex::block::decompress(compressed, n + room).map_err(|e| {
                StoreError::corrupt(tree, id, format!("value does not decompress: {e}"))
            })?;
            if out.len() != n {
                return Err(StoreError::corrupt(
                    tree,
                    id,
                    format!("value decompresses to {} bytes, not {n}", out.len()),
                ));
            }
            Ok(out)
        }
        _ => Err(StoreError::corrupt(
            tree,
            id,
            "value claims an impossible size",
        )),
    }
}

/// One write (or removal) to each of the three case trees.
#[derive(Default)]
struct CaseBatches {
    json: sled::Batch,
    index: sled::Batch,
    findings: sled::Batch,
}

/// What [`Store::replace_cases`] did, by case id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CasesOutcome {
    pub inserted: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: u64,
}

/// A case's id and its index entry, as stored.
pub type IndexEntry = (String, Vec<u8>);

/// A case to store: its id, its JSON, its index entry and its findings (all opaque to the
/// store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub id: String,
    pub json: Vec<u8>,
    pub index: Vec<u8>,
    /// The case's findings, encoded by the caller for rebuilding the case later
    /// ([`Store::case_findings`]).
    pub findings: Vec<u8>,
}

impl Store {
    /// Makes the stored cases exactly `cases`; ids given twice: the last wins. Afterwards
    /// every case has its index entry ([`Store::case_indexes`] answers).
    pub fn replace_cases(&self, cases: &[CaseRecord]) -> Result<CasesOutcome> {
        let mut replacement = self.case_replacement();
        for c in cases {
            replacement.put(c.clone())?;
        }
        replacement.finish()
    }

    /// A replacement of every stored case by the cases [`CaseReplacement::put`] is given,
    /// written batch by batch as they come (memory holds one batch, not every case);
    /// [`CaseReplacement::finish`] then removes the cases not given. Dropped unfinished (the
    /// caller failed to make a case), it removes nothing: the batches already written stay,
    /// as after a crash, and the next full rebuild writes them all again.
    pub fn case_replacement(&self) -> CaseReplacement<'_> {
        self.case_writer(Ending::RemoveTheRest)
    }

    /// An update of some of the stored cases, fed one case at a time like
    /// [`Store::case_replacement`] (only those whose JSON, index entry or findings differ
    /// from what is stored are written, batch by batch); [`CaseReplacement::finish`] then
    /// removes the cases of `remove` that were not given, leaves every other case as it is
    /// and flushes. For a writer that rebuilt some of the cases.
    pub fn case_update(&self, remove: Vec<String>) -> CaseReplacement<'_> {
        self.case_writer(Ending::Remove(remove))
    }

    fn case_writer(&self, ending: Ending) -> CaseReplacement<'_> {
        CaseReplacement {
            store: self,
            out: CasesOutcome::default(),
            given: HashMap::new(),
            batch: Vec::new(),
            batch_bytes: 0,
            ending,
        }
    }

    /// [`Store::case_update`] given every case of `put` (ids given twice: the last wins).
    pub fn update_cases(&self, put: &[CaseRecord], remove: &[String]) -> Result<CasesOutcome> {
        let mut update = self.case_update(remove.to_vec());
        for c in put {
            update.put(c.clone())?;
        }
        update.finish()
    }

    /// How `case` compares with the stored case of its id, and whether it must be written
    /// (its JSON, its index entry or its findings differ).
    fn compare_case(&self, case: &CaseRecord) -> Result<(Status, bool)> {
        let index_same = self
            .case_index
            .get(case.id.as_bytes())
            .map_err(StoreError::sled("reading a case index entry"))?
            .is_some_and(|old| old.as_ref() == case.index.as_slice());
        let stored = self
            .cases
            .get(case.id.as_bytes())
            .map_err(StoreError::sled("reading a case"))?;
        let Some(old) = stored else {
            return Ok((Status::Inserted, true));
        };
        // A stored case that does not decompress is replaced. One whose compressed value
        // claims another length differs (or is damaged) without being decompressed.
        let same = packed_len(&old).is_none_or(|n| n == case.json.len())
            && unpack(case.id.as_bytes(), &old).is_ok_and(|json| json == case.json);
        if !same {
            return Ok((Status::Updated, true));
        }
        // Plain JSON from an older state is rewritten compressed; findings missing (an
        // older state) or different are written (read only when nothing else differs).
        let findings_same = || {
            self.case_findings(&case.id)
                .ok()
                .flatten()
                .is_some_and(|f| f == case.findings)
        };
        let rewrite = !index_same || old.first() != Some(&PACKED) || !findings_same();
        Ok((Status::Unchanged, rewrite))
    }

    /// Writes `cases` (compressed) with their index entries and findings, in one
    /// transaction.
    fn write_cases<'c>(&self, cases: impl IntoIterator<Item = &'c CaseRecord>) -> Result<()> {
        let mut batches = CaseBatches::default();
        for c in cases {
            let id = c.id.as_bytes();
            batches.json.insert(id, pack(&c.json));
            batches.index.insert(id, c.index.as_slice());
            batches.findings.insert(id, pack(&c.findings));
        }
        self.apply_case_batches(&batches, "writing cases")
    }

    /// Removes the cases `ids` with their index entries and findings, in one transaction.
    fn remove_cases(&self, ids: &[String]) -> Result<()> {
        let mut batches = CaseBatches::default();
        for id in ids {
            batches.json.remove(id.as_bytes());
            batches.index.remove(id.as_bytes());
            batches.findings.remove(id.as_bytes());
        }
        self.apply_case_batches(&batches, "removing cases")
    }

    /// Applies the batches to `cases`, `case_index` and `case_findings` in one transaction.
    fn apply_case_batches(&self, batches: &CaseBatches, what: &'static str) -> Result<()> {
        (&self.cases, &self.case_index, &self.case_findings)
            .transaction(|(c, i, f)| {
                c.apply_batch(&batches.json)?;
                i.apply_batch(&batches.index)?;
                f.apply_batch(&batches.findings)?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => StoreError::sled(what)(e),
                sled::transaction::TransactionError::Abort(()) => {
                    StoreError::sled(what)(sled::Error::Unsupported("aborted".into()))
                }
            })
    }

    /// One stored case's findings as [`CaseRecord::findings`] gave them; `None` when the
    /// case has none stored (it is not stored, or was stored by an older build).
    ///
    /// The bytes come with room (reserved, not touched) for a sixteenth more: a case that
    /// only gains findings appends them to its stored copy in place.
    pub fn case_findings(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.case_findings
            .get(id.as_bytes())
            .map_err(StoreError::sled("reading a case's findings"))?
            .map(|v| {
                let room = packed_len(&v).unwrap_or(v.len()) / 16;
                unpack_with_room("case_findings", id.as_bytes(), &v, room)
            })
            .transpose()
    }

    /// Every stored case's index entry as (id, bytes), by id; `None` when some stored cases
    /// have none (a state from before the index: the caller rebuilds every case, which
    /// writes them).
    pub fn case_indexes(&self) -> Result<Option<Vec<IndexEntry>>> {
        if !self.cases_indexed()? {
            return Ok(None);
        }
        self.case_index
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(StoreError::sled("reading the case index"))?;
                Ok((String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Whether every stored case has its index entry.
    fn cases_indexed(&self) -> Result<bool> {
        self.meta_marked(meta::CASES_INDEXED, "reading the case index mark")
    }

    /// Every stored case as (id, JSON), by id.
    pub fn cases_json(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.cases
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(StoreError::sled("reading cases"))?;
                Ok((String::from_utf8_lossy(&k).into_owned(), unpack(&k, &v)?))
            })
            .collect()
    }

    /// One stored case's JSON.
    pub fn case_json(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.cases
            .get(id.as_bytes())
            .map_err(StoreError::sled("reading a case"))?
            .map(|v| unpack(id.as_bytes(), &v))
            .transpose()
    }
}

impl CasesOutcome {
    /// Counts case `id` as `status` says.
    fn count(&mut self, id: &str, status: Status) {
        match status {
            Status::Unchanged => self.unchanged += 1,
            Status::Updated => self.updated.push(id.to_string()),
            Status::Inserted => self.inserted.push(id.to_string()),
        }
    }
}

/// The bytes a case holds in a batch until it is written (its JSON and its findings).
fn record_bytes(case: &CaseRecord) -> usize {
    case.json.len() + case.findings.len()
}

/// What a [`CaseReplacement`] found for an id it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Inserted,
    Updated,
    Unchanged,
}

/// What [`CaseReplacement::finish`] removes.
#[derive(Debug)]
enum Ending {
    /// Every stored case that was not given ([`Store::case_replacement`]).
    RemoveTheRest,
    /// These cases, those that were not given ([`Store::case_update`]).
    Remove(Vec<String>),
}

/// A replacement of every stored case, or an update of some, fed one case at a time
/// ([`Store::case_replacement`], [`Store::case_update`]).
#[derive(Debug)]
pub struct CaseReplacement<'s> {
    store: &'s Store,
    out: CasesOutcome,
    /// Every id given so far, with what it was found to be.
    given: HashMap<String, Status>,
    /// Cases to write in the next batch, and their bytes.
    batch: Vec<CaseRecord>,
    batch_bytes: usize,
    ending: Ending,
}

impl CaseReplacement<'_> {
    /// Writes `case` (in the next batch) unless the stored case and its index entry are the
    /// same. An id given again replaces the earlier one (the last wins); it stays counted as
    /// it was first found, except that an unchanged case given again with other JSON counts
    /// as updated.
    pub fn put(&mut self, case: CaseRecord) -> Result<()> {
        if let Some(status) = self.given.get_mut(&case.id) {
            let earlier = self.batch.iter().position(|c| c.id == case.id);
            if *status == Status::Unchanged
                && self.store.compare_case(&case)?.0 != Status::Unchanged
            {
                *status = Status::Updated;
                self.out.unchanged = self.out.unchanged.saturating_sub(1);
                self.out.updated.push(case.id.clone());
            }
            self.batch_bytes += record_bytes(&case);
            match earlier {
                Some(i) => {
                    // The earlier one leaves the batch: its bytes no longer count.
                    let replaced = std::mem::replace(&mut self.batch[i], case);
                    self.batch_bytes = self.batch_bytes.saturating_sub(record_bytes(&replaced));
                }
                None => self.batch.push(case),
            }
            return self.write_if_full();
        }
        let (status, write) = self.store.compare_case(&case)?;
        self.out.count(&case.id, status);
        self.given.insert(case.id.clone(), status);
        if write {
            self.batch_bytes += record_bytes(&case);
            self.batch.push(case);
        }
        self.write_if_full()
    }

    fn write_if_full(&mut self) -> Result<()> {
        if self.batch.len() >= CASES_PER_BATCH || self.batch_bytes >= BATCH_BYTES {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<()> {
        self.store.write_cases(self.batch.iter())?;
        self.batch.clear();
        self.batch_bytes = 0;
        Ok(())
    }

    /// Writes what is left and removes what the writer was made to remove: for a
    /// replacement every stored case that was not given (it then marks the index complete),
    /// for an update the given ids to remove that were not given. Then flushes.
    pub fn finish(mut self) -> Result<CasesOutcome> {
        self.write_batch()?;
        let store = self.store;
        if let Ending::Remove(ids) = &self.ending {
            let mut gone = Vec::new();
            for id in ids
                .iter()
                .filter(|id| !self.given.contains_key(id.as_str()))
            {
                // Only a stored case (or a stray index entry) is removed and reported.
                let mut stored = false;
                for tree in [&store.cases, &store.case_index] {
                    stored |= tree
                        .contains_key(id.as_bytes())
                        .map_err(StoreError::sled("reading cases"))?;
                }
                if stored {
                    gone.push(id.clone());
                }
            }
            gone.sort();
            gone.dedup();
            store.remove_cases(&gone)?;
            self.out.removed = gone;
            store.flush()?;
            return Ok(self.out);
        }
        // The stored ids: from the index alone when every case has its entry (cheap to walk,
        // where walking the cases reads every case), otherwise from both trees.
        let trees = if store.cases_indexed()? {
            vec![&store.case_index]
        } else {
            vec![&store.case_index, &store.cases]
        };
        let mut gone = BTreeSet::new();
        for tree in trees {
            for k in tree.iter().keys() {
                let k = k.map_err(StoreError::sled("reading cases"))?;
                let id = String::from_utf8_lossy(&k).into_owned();
                if !self.given.contains_key(id.as_str()) {
                    gone.insert(id);
                }
            }
        }
        let gone: Vec<String> = gone.into_iter().collect();
        store.remove_cases(&gone)?;
        self.out.removed = gone;
        store
            .meta
            .insert(meta::CASES_INDEXED, &[1u8])
            .map_err(StoreError::sled("marking the case index complete"))?;
        store.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, bytes: usize) -> CaseRecord {
        CaseRecord {
            id: id.to_string(),
            json: vec![b'j'; bytes],
            index: b"index".to_vec(),
            findings: vec![b'f'; bytes],
        }
    }

    #[test]
    fn a_case_given_again_counts_in_its_batch_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::OpenOptions::default()).unwrap();
        let mut writer = store.case_replacement();
        writer.put(record("C-1", 1000)).unwrap();
        writer.put(record("C-2", 10)).unwrap();
        assert_eq!(writer.batch_bytes, 2020);
        // Given again, larger: the batch holds the second only.
        writer.put(record("C-1", 3000)).unwrap();
        assert_eq!(writer.batch.len(), 2);
        assert_eq!(writer.batch_bytes, 6020);
        let out = writer.finish().unwrap();
        assert_eq!(out.inserted, ["C-1", "C-2"]);
        assert_eq!(
            store.case_findings("C-1").unwrap().unwrap(),
            vec![b'f'; 3000]
        );
    }
}
