//! Accounts by address: which accounts succeeded from an address in each bucket, written
//! with the events, so that counting the accounts behind an address (the cases' hub check)
//! reads a few hundred bytes instead of every chunk that holds the address's events.
//!
//! **Why.** A case update asks, for every address that new findings share between parties,
//! how many distinct accounts succeeded from it in the 24 hours around them. Reading the
//! events meant one chunk (24 decoded events) per event of the address: on the bench, the
//! two busy egress addresses cost ~1,600 chunk reads, ~47 MB of sled leaves and ~0.1 s of a
//! 0.6 s sweep.
//!
//! **Layout.** An entry is `address hash (u64 BE) | bucket (8, order-preserving) | account
//! hash (u64 BE)`, 24 bytes: the address hash is the entity index's
//! ([`crate::index::entity_hash`] of the address entity), the account hash xxh3-64 of the
//! lower-cased [account](skein_model::Event::account) of a successful event. Every batch
//! writes its distinct entries as one run per shard (the top bits of the address hash, as
//! the entity index shards), key `shard (1) | first chunk seq of the batch (8 BE)`, value
//! `format (1) = 1 | entries sorted`, **in the transaction that commits the batch's
//! chunks**: unlike the
//! entity index, whose readers check every event they decode, nothing checks an entry, so
//! one must exist exactly when its event does.
//!
//! **Coverage.** A store is covered from the chunk seq in `meta` under
//! [`crate::store::meta::ADDRESS_ACCOUNTS_FROM`], written with the first batch a build that
//! writes entries commits; counts are given only when that is 0 (every chunk has its
//! entries). Stores ingested by earlier builds are read the old way.
//!
//! **What it answers.** Distinct account hashes over whole buckets: a window is widened to
//! the 10-minute buckets it touches, and two accounts (or two addresses) whose 64-bit hashes
//! collide count as one, about 1 in 10¹⁶ for a hub threshold of 50.
//!
//! [`Store::accounts_at_address`] is the reader; the writer is `write`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use skein_model::{EntityRef, EntityType};

use crate::error::{Result, StoreError};
use crate::index::shard;
use crate::keys;
use crate::stats::decode_u64;
use crate::store::{meta, sled_config, Store};

impl Store {
    /// How many distinct accounts succeeded from address `ip` in the 10-minute buckets that
    /// `from..=to` touches (`None`: unbounded), counting up to `cap`; `None` when this store
    /// holds events ingested before accounts by address were written (read the events
    /// instead). An entity other than an address has none.
    pub fn accounts_at_address(
        &self,
        ip: &EntityRef,
        (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        cap: usize,
    ) -> Result<Option<usize>> {
        if !self.accounts_by_address_complete()? {
            return Ok(None);
        }
        let Some(canon) = EntityType::Ip
            .canonical_id(&ip.id)
            .filter(|_| ip.ty == EntityType::Ip)
        else {
            return Ok(Some(0));
        };
        let hash = crate::index::entity_hash(&mut Vec::new(), EntityType::Ip.tag(), &canon);
        let bucket = |t: &DateTime<Utc>| keys::bucket_of(keys::micros(t));
        let buckets = (from.as_ref().map(bucket), to.as_ref().map(bucket));
        count(&self.address_accounts, hash, buckets, cap).map(Some)
    }

    /// Whether every stored chunk has its accounts by address.
    fn accounts_by_address_complete(&self) -> Result<bool> {
        let from = self
            .meta
            .get(meta::ADDRESS_ACCOUNTS_FROM)
            .map_err(StoreError::sled("reading the accounts-by-address mark"))?;
        match from {
            Some(v) => decode_u64(&v).map(|from| from == 0).ok_or_else(|| {
                StoreError::corrupt("meta", meta::ADDRESS_ACCOUNTS_FROM, "not 8 bytes")
            }),
            // No batch written since they exist: complete only if none at all.
            None => Ok(self.change_seq()? == 0),
        }
    }
}

/// The format byte of a run.
const FORMAT_ENTRIES: u8 = 1;

/// The tree of entries.
pub(crate) const TREE: &str = "address_accounts";

/// Makes the store in state directory `dir` look as a build before accounts by address left
/// it: no entries and no mark, so counting falls back to reading events. For tests of that
/// fallback (in this crate and the binary's); never on a store that is open.
#[doc(hidden)]
pub fn forget_accounts_by_address(dir: &std::path::Path) -> Result<()> {
    let db = sled_config(dir)
        .open()
        .map_err(StoreError::sled("opening the store"))?;
    db.open_tree("meta")
        .and_then(|t| t.remove(meta::ADDRESS_ACCOUNTS_FROM))
        .map_err(StoreError::sled("removing the accounts-by-address mark"))?;
    db.open_tree(TREE)
        .and_then(|t| t.clear())
        .map_err(StoreError::sled("clearing accounts by address"))?;
    db.flush().map_err(StoreError::sled("flushing the store"))?;
    Ok(())
}
/// Bytes of an entry.
const ENTRY: usize = 8 + keys::TIME_LEN + 8;

/// An entry: address hash, bucket, account hash.
pub(crate) type Entry = (u64, i64, u64);

/// The hash of an account as entries hold it (of its lower-cased form).
pub(crate) fn account_hash(account: &str) -> u64 {
    if account.bytes().any(|b| b.is_ascii_uppercase()) || !account.is_ascii() {
        xxhash_rust::xxh3::xxh3_64(account.to_lowercase().as_bytes())
    } else {
        xxhash_rust::xxh3::xxh3_64(account.as_bytes())
    }
}

/// The runs of one batch: `(key, value)` for each shard that has entries. Sorts and
/// de-duplicates `entries`.
pub(crate) fn runs(entries: &mut Vec<Entry>, seq: u64) -> Vec<([u8; 9], Vec<u8>)> {
    entries.sort_unstable();
    entries.dedup();
    let mut out = Vec::new();
    for group in entries.chunk_by(|a, b| shard(a.0) == shard(b.0)) {
        let mut value = Vec::with_capacity(1 + group.len() * ENTRY);
        value.push(FORMAT_ENTRIES);
        for &(address, bucket, account) in group {
            value.extend_from_slice(&address.to_be_bytes());
            value.extend_from_slice(&keys::encode_time(bucket));
            value.extend_from_slice(&account.to_be_bytes());
        }
        let mut key = [0u8; 9];
        key[0] = shard(group[0].0);
        key[1..].copy_from_slice(&seq.to_be_bytes());
        out.push((key, value));
    }
    out
}

/// Buckets from `lo` to `hi` (inclusive; `None`: unbounded).
pub(crate) type BucketRange = (Option<i64>, Option<i64>);

/// Adds the account hashes of `address` in `buckets` found in one run's value to `found`,
/// until it holds `cap`.
pub(crate) fn collect(
    value: &[u8],
    address: u64,
    (lo, hi): BucketRange,
    cap: usize,
    found: &mut HashSet<u64>,
) -> std::result::Result<(), &'static str> {
    let body = match value.split_first() {
        Some((&FORMAT_ENTRIES, body)) => body,
        Some(_) => return Err("unknown run format"),
        None => return Err("empty run"),
    };
    let (entries, rest) = body.as_chunks::<ENTRY>();
    if !rest.is_empty() {
        return Err("run is not a whole number of entries");
    }
    let want = address.to_be_bytes();
    let first = entries.partition_point(|e| e[..8] < want[..]);
    for e in entries[first..].iter().take_while(|e| e[..8] == want[..]) {
        if found.len() >= cap {
            break;
        }
        let mut b = [0u8; keys::TIME_LEN];
        b.copy_from_slice(&e[8..8 + keys::TIME_LEN]);
        let bucket = keys::decode_time(b);
        if lo.is_some_and(|lo| bucket < lo) {
            continue;
        }
        if hi.is_some_and(|hi| bucket > hi) {
            // Sorted by bucket within an address: nothing later is in range.
            break;
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&e[8 + keys::TIME_LEN..]);
        found.insert(u64::from_be_bytes(a));
    }
    Ok(())
}

/// How many distinct accounts the runs in `tree` name for `address` in `buckets`, counting
/// up to `cap`.
pub(crate) fn count(
    tree: &sled::Tree,
    address: u64,
    buckets: BucketRange,
    cap: usize,
) -> Result<usize> {
    let mut found = HashSet::new();
    for r in tree.scan_prefix([shard(address)]) {
        let (k, v) = r.map_err(StoreError::sled("reading the accounts by address"))?;
        collect(&v, address, buckets, cap, &mut found)
            .map_err(|what| StoreError::corrupt("address_accounts", &k, what))?;
        if found.len() >= cap {
            break;
        }
    }
    Ok(found.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(value: &[u8], address: u64) -> Vec<u64> {
        let mut found = HashSet::new();
        collect(value, address, (None, None), usize::MAX, &mut found).unwrap();
        let mut v: Vec<u64> = found.into_iter().collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn accounts_are_counted_per_address_within_the_buckets_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("address_accounts").unwrap();
        let (a, b) = (0x0100_0000_0000_0001_u64, 0x0100_0000_0000_0002_u64);
        let mut batch = vec![(a, 0, 1), (a, 600, 2), (a, 600, 2), (b, 0, 3), (a, 1200, 3)];
        for (k, v) in runs(&mut batch, 1) {
            tree.insert(k, v).unwrap();
        }
        let mut later = vec![(a, 1800, 1), (a, 1800, 4)];
        for (k, v) in runs(&mut later, 7) {
            tree.insert(k, v).unwrap();
        }
        assert_eq!(count(&tree, a, (None, None), 50).unwrap(), 4);
        assert_eq!(count(&tree, a, (Some(600), Some(1200)), 50).unwrap(), 2);
        assert_eq!(count(&tree, a, (Some(1800), None), 50).unwrap(), 2);
        assert_eq!(count(&tree, a, (None, Some(0)), 50).unwrap(), 1);
        assert_eq!(count(&tree, a, (None, None), 3).unwrap(), 3);
        assert_eq!(count(&tree, b, (None, None), 50).unwrap(), 1);
        assert_eq!(count(&tree, 7, (None, None), 50).unwrap(), 0);
    }

    #[test]
    fn an_account_hash_ignores_case() {
        assert_eq!(
            account_hash("Alice@Contoso.com"),
            account_hash("alice@contoso.com")
        );
        assert_eq!(account_hash("ÉLODIE@x.fr"), account_hash("élodie@x.fr"));
        assert_ne!(account_hash("alice"), account_hash("bob"));
    }

    proptest! {
        /// Arbitrary bytes are an error or an answer, never a panic.
        #[test]
        fn arbitrary_values_never_panic(value in proptest::collection::vec(any::<u8>(), 0..200), address in any::<u64>()) {
            let mut found = HashSet::new();
            let _ = collect(&value, address, (Some(-5), Some(5)), 10, &mut found);
        }

        /// What a run holds comes back: each address's distinct accounts.
        #[test]
        fn runs_round_trip(entries in proptest::collection::vec((0u64..4, -3i64..3, 0u64..6), 0..40)) {
            // Spread the addresses over shards (top bits) and keep them distinct.
            let spread = |a: u64| (a << 62) | a;
            let mut batch: Vec<Entry> = entries.iter().map(|&(a, b, c)| (spread(a), b * 600, c)).collect();
            let written = runs(&mut batch, 3);
            for a in 0..4u64 {
                let want: std::collections::BTreeSet<u64> =
                    entries.iter().filter(|e| e.0 == a).map(|e| e.2).collect();
                let got: Vec<u64> = written.iter().flat_map(|(_, v)| all(v, spread(a))).collect();
                prop_assert_eq!(got, want.into_iter().collect::<Vec<_>>());
            }
        }
    }
}
