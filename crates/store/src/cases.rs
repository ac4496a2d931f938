//! Cases (SPEC §5): derived from the findings on every `correlate`, stored as JSON by id
//! in the `cases` tree (the store does not know their shape; `skein-cases` does).
//!
//! [`Store::replace_cases`] makes the tree hold exactly the given cases, writing only those
//! that changed, in batches (each atomic), then removing the ones that are gone, and flushes.
//! A crash part-way leaves a mix of old and new cases; the next run derives them all again
//! from the findings, so nothing is lost.

use std::collections::{BTreeSet, HashMap};

use crate::error::{Result, StoreError};
use crate::store::Store;

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

impl Store {
    /// Makes the stored cases exactly `cases` (id, JSON); ids given twice: the last wins.
    pub fn replace_cases(&self, cases: &[(String, Vec<u8>)]) -> Result<CasesOutcome> {
        let keep: BTreeSet<&str> = cases.iter().map(|(id, _)| id.as_str()).collect();
        let mut gone = Vec::new();
        for k in self.cases.iter().keys() {
            let k = k.map_err(StoreError::sled("reading cases"))?;
            let id = String::from_utf8_lossy(&k).into_owned();
            if !keep.contains(id.as_str()) {
                gone.push(id);
            }
        }
        self.update_cases(cases, &gone)
    }

    /// Writes `put` (id, JSON; only those that differ from what is stored) and removes
    /// `remove` (ids not in `put`), leaving every other case as it is; flushes. For a writer
    /// that rebuilt some of the cases (ids given twice in `put`: the last wins).
    pub fn update_cases(
        &self,
        put: &[(String, Vec<u8>)],
        remove: &[String],
    ) -> Result<CasesOutcome> {
        let mut out = CasesOutcome::default();
        let mut latest: HashMap<&str, &[u8]> = HashMap::new();
        let mut order = Vec::new();
        for (id, json) in put {
            if latest.insert(id.as_str(), json.as_slice()).is_none() {
                order.push(id.as_str());
            }
        }
        let mut writes = Vec::new();
        for id in order {
            let json = latest[id];
            match self
                .cases
                .get(id.as_bytes())
                .map_err(StoreError::sled("reading a case"))?
            {
                Some(old) if old.as_ref() == json => out.unchanged += 1,
                Some(_) => {
                    out.updated.push(id.to_string());
                    writes.push((id, json));
                }
                None => {
                    out.inserted.push(id.to_string());
                    writes.push((id, json));
                }
            }
        }
        for chunk in writes.chunks(CASES_PER_BATCH) {
            let mut batch = sled::Batch::default();
            for (id, json) in chunk {
                batch.insert(id.as_bytes(), *json);
            }
            self.cases
                .apply_batch(batch)
                .map_err(StoreError::sled("writing cases"))?;
        }
        let mut gone: Vec<String> = remove
            .iter()
            .filter(|id| !latest.contains_key(id.as_str()))
            .cloned()
            .collect();
        gone.sort();
        gone.dedup();
        let mut batch = sled::Batch::default();
        for id in &gone {
            batch.remove(id.as_bytes());
        }
        self.cases
            .apply_batch(batch)
            .map_err(StoreError::sled("removing cases"))?;
        out.removed = gone;
        self.flush()?;
        Ok(out)
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
