//! Moving the findings of a store written before blocks (format revision 1: one value per
//! finding in `findings`, indexed by rule in `findings_by_rule`) into the blocks of the
//! `findings` module, when the store is opened.

use std::collections::HashMap;

use skein_model::Finding;
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use crate::error::{Result, StoreError};
use crate::finding_blocks::{self, EntryRef};
use crate::findings::{finding_digest, heads_of, number_after, FINDINGS};
use crate::keys;
use crate::store::Store;

impl Store {
    /// Moves the findings of a store written before blocks (a `findings` tree of one value
    /// per finding, indexed by rule in `findings_by_rule`) into blocks, up to 64 findings per
    /// transaction that also removes what it moved, so that a crash half-way leaves every
    /// finding in exactly one place and the next open moves the rest. Then drops both old
    /// trees. A value that is not a finding keeps its rule from the old index, and stays as
    /// it is (reading it reports the damage, as before).
    pub(crate) fn move_findings_to_blocks(&self) -> Result<()> {
        let names = self.db.tree_names();
        let exists = |name: &str| names.iter().any(|n| n.as_ref() == name.as_bytes());
        // Either: a crash between the two drops at the end leaves one of them.
        if !exists("findings") && !exists("findings_by_rule") {
            return Ok(());
        }
        let open = |name: &str| {
            self.db
                .open_tree(name)
                .map_err(StoreError::sled("opening a tree"))
        };
        let (old, by_rule) = (open("findings")?, open("findings_by_rule")?);
        let mut rules: HashMap<Vec<u8>, String> = HashMap::new();
        for kv in by_rule.iter() {
            let (k, _) = kv.map_err(StoreError::sled("reading the old findings index"))?;
            let Some(end) = k.iter().position(|&b| b == 0) else {
                continue;
            };
            if let Some(rule) = keys::unescape(&k[..end]) {
                rules.insert(
                    k[end + 1..].to_vec(),
                    String::from_utf8_lossy(&rule).into_owned(),
                );
            }
        }
        let mut next_block = match self
            .finding_blocks
            .last()
            .map_err(StoreError::sled("reading finding blocks"))?
        {
            Some((k, _)) => number_after(&k)?,
            None => 0,
        };
        loop {
            let mut batch = Vec::new();
            for kv in old.iter().take(finding_blocks::MAX_BLOCK_ENTRIES) {
                let (k, v) = kv.map_err(StoreError::sled("reading old findings"))?;
                let id = String::from_utf8_lossy(&k).into_owned();
                let rule = serde_json::from_slice::<Finding>(&v)
                    .map(|f| f.rule)
                    .ok()
                    .or_else(|| rules.get(k.as_ref()).cloned())
                    .unwrap_or_default();
                batch.push((k, id, rule, v));
            }
            if batch.is_empty() {
                break;
            }
            let entries: Vec<EntryRef> = batch
                .iter()
                .map(|(_, id, rule, v)| EntryRef {
                    id,
                    rule,
                    digest: finding_digest(v),
                    json: v,
                })
                .collect();
            // Cut by size as well as by count, as any write is.
            let mut values = Vec::new();
            for block in finding_blocks::blocks(&entries) {
                let value = finding_blocks::encode(block)
                    .map_err(|what| StoreError::corrupt(FINDINGS, block[0].id.as_bytes(), what))?;
                values.push((next_block.to_be_bytes(), value));
                next_block += 1;
            }
            // Their heads too, as every write of blocks does (a store whose heads are
            // complete can still find old findings left by a move a crash cut short).
            let heads = heads_of(values.iter().map(|(key, value)| (*key, value.as_slice())))?;
            (&self.finding_blocks, &old, &self.finding_heads)
                .transaction(|(blocks, old, heads_tree)| {
                    for ((key, value), head) in values.iter().zip(&heads) {
                        blocks.insert(&key[..], value.as_slice())?;
                        heads_tree.insert(&key[..], *head)?;
                    }
                    for (k, ..) in &batch {
                        old.remove(k)?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                })
                .map_err(StoreError::transaction("moving findings into blocks"))?;
        }
        // The index first: a crash between the two drops leaves `findings`, which is
        // looked for above.
        for name in ["findings_by_rule", "findings"] {
            self.db
                .drop_tree(name)
                .map_err(StoreError::sled("dropping the old findings trees"))?;
        }
        self.db
            .flush()
            .map_err(StoreError::sled("flushing findings"))?;
        Ok(())
    }
}
