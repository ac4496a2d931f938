//! Cases (SPEC §5): derived from the findings on every `correlate`, stored as JSON by id
//! in the `cases` tree, each with a compact summary in `case_index` (what an incremental
//! update needs to find the cases new findings touch, without decoding every case). The store
//! knows neither shape; `skein-cases` does.
//!
//! [`Store::replace_cases`] makes the trees hold exactly the given cases, writing only those
//! that changed, in batches (each atomic across both trees), then removing the ones that are
//! gone, and flushes. A crash part-way leaves a mix of old and new cases; the next run derives
//! them all again from the findings, so nothing is lost.

use std::collections::{BTreeSet, HashMap};

use sled::Transactional;

use crate::error::{Result, StoreError};
use crate::store::{meta, Store};

/// Cases written per atomic sled batch.
const CASES_PER_BATCH: usize = 500;

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

/// A case to store: its id, its JSON and its index entry (both opaque to the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub id: String,
    pub json: Vec<u8>,
    pub index: Vec<u8>,
}

impl Store {
    /// Makes the stored cases exactly `cases`; ids given twice: the last wins. Afterwards
    /// every case has its index entry ([`Store::case_indexes`] answers).
    pub fn replace_cases(&self, cases: &[CaseRecord]) -> Result<CasesOutcome> {
        let keep: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        let mut gone = BTreeSet::new();
        // The stored ids: from the index alone when every case has its entry (cheap to walk,
        // where walking the cases reads every case), otherwise from both trees.
        let indexed = self.cases_indexed()?;
        let trees = if indexed {
            vec![&self.case_index]
        } else {
            vec![&self.case_index, &self.cases]
        };
        for tree in trees {
            for k in tree.iter().keys() {
                let k = k.map_err(StoreError::sled("reading cases"))?;
                let id = String::from_utf8_lossy(&k).into_owned();
                if !keep.contains(id.as_str()) {
                    gone.insert(id);
                }
            }
        }
        let gone: Vec<String> = gone.into_iter().collect();
        let out = self.update_cases(cases, &gone)?;
        self.meta
            .insert(meta::CASES_INDEXED, &[1u8])
            .map_err(StoreError::sled("marking the case index complete"))?;
        self.flush()?;
        Ok(out)
    }

    /// Writes `put` (only those whose JSON or index entry differ from what is stored) and
    /// removes `remove` (ids not in `put`), leaving every other case as it is; flushes. For a
    /// writer that rebuilt some of the cases (ids given twice in `put`: the last wins).
    pub fn update_cases(&self, put: &[CaseRecord], remove: &[String]) -> Result<CasesOutcome> {
        let mut out = CasesOutcome::default();
        let mut latest: HashMap<&str, &CaseRecord> = HashMap::new();
        let mut order = Vec::new();
        for c in put {
            if latest.insert(c.id.as_str(), c).is_none() {
                order.push(c.id.as_str());
            }
        }
        let mut writes = Vec::new();
        for id in order {
            let c = latest[id];
            let index_same = self
                .case_index
                .get(id.as_bytes())
                .map_err(StoreError::sled("reading a case index entry"))?
                .is_some_and(|old| old.as_ref() == c.index.as_slice());
            match self
                .cases
                .get(id.as_bytes())
                .map_err(StoreError::sled("reading a case"))?
            {
                Some(old) if old.as_ref() == c.json.as_slice() => {
                    out.unchanged += 1;
                    if !index_same {
                        writes.push(c);
                    }
                }
                Some(_) => {
                    out.updated.push(id.to_string());
                    writes.push(c);
                }
                None => {
                    out.inserted.push(id.to_string());
                    writes.push(c);
                }
            }
        }
        for chunk in writes.chunks(CASES_PER_BATCH) {
            let (mut cases, mut index) = (sled::Batch::default(), sled::Batch::default());
            for c in chunk {
                cases.insert(c.id.as_bytes(), c.json.as_slice());
                index.insert(c.id.as_bytes(), c.index.as_slice());
            }
            self.apply_case_batches(&cases, &index, "writing cases")?;
        }
        let mut gone: Vec<String> = remove
            .iter()
            .filter(|id| !latest.contains_key(id.as_str()))
            .cloned()
            .collect();
        gone.sort();
        gone.dedup();
        let (mut cases, mut index) = (sled::Batch::default(), sled::Batch::default());
        for id in &gone {
            cases.remove(id.as_bytes());
            index.remove(id.as_bytes());
        }
        self.apply_case_batches(&cases, &index, "removing cases")?;
        out.removed = gone;
        self.flush()?;
        Ok(out)
    }

    /// Applies a batch to `cases` and one to `case_index` in one transaction.
    fn apply_case_batches(
        &self,
        cases: &sled::Batch,
        index: &sled::Batch,
        what: &'static str,
    ) -> Result<()> {
        (&self.cases, &self.case_index)
            .transaction(|(c, i)| {
                c.apply_batch(cases)?;
                i.apply_batch(index)?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => StoreError::sled(what)(e),
                sled::transaction::TransactionError::Abort(()) => {
                    StoreError::sled(what)(sled::Error::Unsupported("aborted".into()))
                }
            })
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
        Ok(self
            .meta
            .get(meta::CASES_INDEXED)
            .map_err(StoreError::sled("reading the case index mark"))?
            .is_some())
    }

    /// Every stored case as (id, JSON), by id.
    pub fn cases_json(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.cases
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(StoreError::sled("reading cases"))?;
                Ok((String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
            })
            .collect()
    }

    /// One stored case's JSON.
    pub fn case_json(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .cases
            .get(id.as_bytes())
            .map_err(StoreError::sled("reading a case"))?
            .map(|v| v.to_vec()))
    }
}
