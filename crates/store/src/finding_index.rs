//! The writer's index of stored findings (see the `findings` module doc): every stored id
//! with its block, its rule and the digest of its JSON, built on first use from the blocks'
//! heads. Ids of the form every rule makes (`F-` and 16 lowercase hex digits) are kept as
//! their 64 bits, not as strings: the bench's 116k findings load without an allocation
//! each, and the index is cheap to drop.

use std::collections::{BTreeSet, HashMap};
use std::sync::{RwLockReadGuard, RwLockWriteGuard};

use crate::error::{Result, StoreError};
use crate::evict::evicting;
use crate::finding_blocks;
use crate::findings::{block_number, number_after, BLOCKS, HEADS};
use crate::store::{meta, Store};
use sled::Transactional;

/// A finding id as the index keys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum FindingKey {
    /// `F-` and these 64 bits as 16 lowercase hex digits (what `Finding::stable_id` makes).
    Stable(u64),
    /// Any other id, as it is.
    Other(Box<str>),
}

impl FindingKey {
    /// The key of `id`: one key per id (`F-00AB…` in upper case is another id than
    /// `F-00ab…`, so only the lowercase form is [`FindingKey::Stable`]).
    pub(crate) fn of(id: &str) -> FindingKey {
        // The digits read as they are checked, in one pass (loading the index keys every
        // stored finding).
        let stable = || -> Option<u64> {
            let hex = id.strip_prefix("F-")?;
            if hex.len() != 16 {
                return None;
            }
            hex.bytes().try_fold(0u64, |bits, b| {
                let digit = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    _ => return None,
                };
                Some(bits << 4 | u64::from(digit))
            })
        };
        match stable() {
            Some(bits) => FindingKey::Stable(bits),
            None => FindingKey::Other(id.into()),
        }
    }

    /// The id it keys.
    pub(crate) fn id(&self) -> String {
        match self {
            FindingKey::Stable(bits) => format!("F-{bits:016x}"),
            FindingKey::Other(id) => id.to_string(),
        }
    }
}

/// Where a stored finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) block: u64,
    pub(crate) digest: u128,
    /// Its rule, as a number of [`FindingIndex::rules`] (in the padding of the digest's
    /// alignment: the entry is no larger for it).
    pub(crate) rule: u32,
}

/// The writer's index of stored findings (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct FindingIndex {
    /// (foldhash: std's SipHash was ~5% of loading the index.)
    ids: HashMap<FindingKey, Location, foldhash::fast::RandomState>,
    /// The number of the next block written.
    pub(crate) next_block: u64,
    /// Every rule an entry names, numbered in the order first seen.
    rules: Vec<String>,
}

impl FindingIndex {
    /// The number of rule `name`, numbered now if it is new.
    pub(crate) fn rule_number(&mut self, name: &str) -> u32 {
        if let Some(n) = self.rules.iter().position(|r| r == name) {
            return n as u32;
        }
        self.rules.push(name.to_string());
        (self.rules.len() - 1) as u32
    }

    /// Records the findings of block key `key`, whose heads are `heads` (or the error reading
    /// them out of tree `tree`), and moves the next block number past it.
    fn add_block(
        &mut self,
        tree: &'static str,
        key: &[u8],
        heads: std::result::Result<Vec<finding_blocks::EntryHeadRef<'_>>, String>,
    ) -> Result<()> {
        let block = block_number(key)?;
        let heads = heads.map_err(|what| StoreError::corrupt(tree, key, what))?;
        for h in heads {
            let rule = self.rule_number(h.rule);
            self.insert(
                h.id,
                Location {
                    block,
                    digest: h.digest,
                    rule,
                },
            );
        }
        self.next_block = number_after(key)?;
        Ok(())
    }

    /// Where finding `id` is stored, if it is.
    pub(crate) fn get(&self, id: &str) -> Option<&Location> {
        self.ids.get(&FindingKey::of(id))
    }

    /// Records finding `id` at `at` (replacing where it was).
    pub(crate) fn insert(&mut self, id: &str, at: Location) {
        self.ids.insert(FindingKey::of(id), at);
    }

    /// Forgets finding `id`.
    pub(crate) fn remove(&mut self, id: &str) {
        self.ids.remove(&FindingKey::of(id));
    }

    /// Whether block `block` holds the copy of `id` the index names (another copy can only
    /// come from damage, and does not count).
    pub(crate) fn is_current(&self, id: &str, block: u64) -> bool {
        self.get(id).is_some_and(|at| at.block == block)
    }

    /// The blocks holding the current copy of a finding of one of `rules`.
    pub(crate) fn blocks_of_rules(&self, rules: &[&str]) -> BTreeSet<u64> {
        let numbers: Vec<u32> = (0..self.rules.len() as u32)
            .filter(|&n| rules.contains(&self.rules[n as usize].as_str()))
            .collect();
        if numbers.is_empty() {
            return BTreeSet::new();
        }
        self.ids
            .values()
            .filter(|at| numbers.contains(&at.rule))
            .map(|at| at.block)
            .collect()
    }
}

impl Store {
    /// The index of stored findings, built from the blocks' heads on first use.
    pub(crate) fn finding_index(&self) -> Result<RwLockWriteGuard<'_, Option<FindingIndex>>> {
        let mut guard = self
            .finding_index
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let mut index = FindingIndex {
                // Sized once (growing it rehashed every id several times).
                ids: HashMap::with_capacity_and_hasher(
                    usize::try_from(self.finding_count()?).unwrap_or(0),
                    Default::default(),
                ),
                next_block: 0,
                rules: Vec::new(),
            };
            if self.finding_heads_complete()? {
                for kv in self.finding_heads.iter() {
                    let (k, head) = kv.map_err(StoreError::sled("reading finding heads"))?;
                    index.add_block(HEADS, &k, finding_blocks::decode_heads(&head))?;
                }
            } else {
                self.copy_finding_heads(&mut index)?;
            }
            *guard = Some(index);
        }
        Ok(guard)
    }

    /// Whether every finding block has its heads in `finding_heads`.
    fn finding_heads_complete(&self) -> Result<bool> {
        self.meta_marked(meta::FINDING_HEADS, "reading the finding heads mark")
    }

    /// Builds `index` from the blocks themselves (a store from a build without the
    /// `finding_heads` tree), and writes every block's heads there with the mark that they
    /// are complete, in one transaction: later builds of the index read the heads alone.
    /// (Nothing writes blocks meanwhile: writers hold the index's lock, other processes
    /// the state's.)
    fn copy_finding_heads(&self, index: &mut FindingIndex) -> Result<()> {
        let mut heads: Vec<(sled::IVec, Vec<u8>)> = Vec::new();
        for kv in evicting(&self.finding_blocks, self.finding_blocks.iter()) {
            let (k, v) = kv.map_err(StoreError::sled("reading finding blocks"))?;
            let head = finding_blocks::head_bytes(&v)
                .map_err(|what| StoreError::corrupt(BLOCKS, &k, what))?;
            index.add_block(BLOCKS, &k, finding_blocks::decode_heads(head))?;
            heads.push((k, head.to_vec()));
        }
        // Heads of blocks that no longer exist (none are expected) go: the blocks' keys were
        // just read, in order.
        let mut stale = Vec::new();
        for kv in self.finding_heads.iter() {
            let (k, _) = kv.map_err(StoreError::sled("reading finding heads"))?;
            if heads.binary_search_by(|(block, _)| block.cmp(&k)).is_err() {
                stale.push(k);
            }
        }
        (&self.finding_heads, &self.meta)
            .transaction(|(tree, meta_tree)| {
                for k in &stale {
                    tree.remove(k)?;
                }
                for (k, head) in &heads {
                    tree.insert(k, head.as_slice())?;
                }
                meta_tree.insert(meta::FINDING_HEADS, &[1u8])?;
                Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
            })
            .map_err(StoreError::transaction("copying the finding heads"))
    }

    /// The index, loaded, for reading.
    pub(crate) fn read_finding_index(&self) -> Result<RwLockReadGuard<'_, Option<FindingIndex>>> {
        let read = || self.finding_index.read().unwrap_or_else(|p| p.into_inner());
        // Built already (the usual case): readers share the lock.
        let guard = read();
        if guard.is_some() {
            return Ok(guard);
        }
        drop(guard);
        drop(self.finding_index()?);
        Ok(read())
    }

    /// Builds the index of stored findings now if it is not built yet (it is otherwise built
    /// by the first call that needs it): a caller with a core to spare loads it while it
    /// does something else, and its first write does not wait for it.
    pub fn load_finding_index(&self) -> Result<()> {
        self.read_finding_index().map(drop)
    }

    /// Every stored finding's id with the xxh3-128 hash of its stored JSON, from the
    /// writer's index: a writer about to store many findings compares against this and
    /// passes on only those that differ.
    pub fn finding_digests(&self) -> Result<crate::IdMap<u128>> {
        let guard = self.read_finding_index()?;
        Ok(guard
            .iter()
            .flat_map(|index| index.ids.iter())
            .map(|(key, at)| (key.id(), at.digest))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stable_ids_are_kept_as_their_bits_and_others_as_they_are() {
        let id = skein_model::Finding::stable_id("risky-signin", ["entra_signin|abc"]);
        assert!(matches!(FindingKey::of(&id), FindingKey::Stable(_)));
        assert_eq!(FindingKey::of(&id).id(), id);
        for other in [
            "f1",
            "F-",
            "F-00000000000000zz",
            "F-00000000000000AB",
            "F-0000000000000000a",
            "F-000000000000000",
            "G-0000000000000000",
            "",
        ] {
            assert_eq!(FindingKey::of(other), FindingKey::Other(other.into()));
            assert_eq!(FindingKey::of(other).id(), other);
        }
        assert_ne!(
            FindingKey::of("F-00000000000000ab"),
            FindingKey::of("F-00000000000000AB")
        );
    }

    proptest! {
        /// Two ids have the same key exactly when they are the same id, and a key gives
        /// its id back.
        #[test]
        fn keys_are_one_to_one(a in "(F-[0-9a-fA-F]{14,17})|.{0,20}", b in "(F-[0-9a-f]{16})|.{0,20}") {
            prop_assert_eq!(FindingKey::of(&a).id(), a.clone());
            prop_assert_eq!(FindingKey::of(&b).id(), b.clone());
            prop_assert_eq!(FindingKey::of(&a) == FindingKey::of(&b), a == b);
        }
    }
}
