//! The copy of a case's findings stored beside it, what rebuilding the case reads:
//! reading the copies of the cases a run rebuilds, and encoding the copies of the cases it
//! stores. A copy that the rebuilt case only extends (its findings first, unchanged, then new
//! ones) is reused, so a week-long case that gains a few findings is not encoded whole again.
//! Also [`case_json`] and [`findings_json`], the encodings of a case and of its findings
//! into buffers sized up front.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{Context, Result};
use skein_cases::{Case, CaseIndex};
use skein_model::Finding;
use skein_store::Store;

use crate::workers::on_every_core;

/// The digest of a case's stored findings its index entry records (xxh3-128, hex).
pub(crate) fn findings_digest(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// The stored findings with these ids (those that exist), in no particular order: each
/// block of findings read and decompressed once for all the ids it holds.
pub(crate) fn findings_by_id(store: &Store, ids: &[&str]) -> Result<Vec<Finding>> {
    store.findings_with_ids(ids).context("reading findings")
}

/// Room reserved per finding when a case or its findings are encoded (a finding is ~1.1 KB).
const BYTES_PER_FINDING: usize = 1536;

/// A case as JSON ([`Case::write_json`]: serde_json's bytes), into a buffer sized for its
/// `findings` findings up front: growing an 8 MB buffer by doubling copied it and touched
/// twice the memory (a reservation larger than the JSON costs nothing until it is written).
pub(crate) fn case_json(case: &Case, findings: usize) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096 + findings.saturating_mul(BYTES_PER_FINDING));
    case.write_json(&mut out)?;
    Ok(out)
}

/// A case's findings as stored beside it: a JSON array, each finding as
/// [`Finding::write_json`] writes it (serde_json's bytes), in a buffer sized up front.
pub(crate) fn findings_json(members: &[&Finding]) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(2 + members.len().saturating_mul(BYTES_PER_FINDING));
    out.push(b'[');
    for (i, f) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f.write_json(&mut out)?;
    }
    out.push(b']');
    Ok(out)
}

/// Stored copies read whole, by case id: the ids of the findings each holds, in its order,
/// and its bytes.
#[derive(Debug, Default)]
pub(crate) struct StoredCopies<'a> {
    by_case: std::sync::Mutex<HashMap<&'a str, StoredCopy<'a>>>,
}

/// A stored copy: the ids of its findings, in order, and its bytes.
type StoredCopy<'a> = (&'a [String], Vec<u8>);

impl<'a> StoredCopies<'a> {
    fn insert(&mut self, id: &'a str, ids: &'a [String], bytes: Vec<u8>) {
        self.by_case
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, (ids, bytes));
    }

    /// `members` (a case's findings, in its order) as stored for case `id`. When they begin
    /// with exactly the findings of the stored copy read for `id`, unchanged, the copy's
    /// bytes are kept and only the rest is encoded: the same bytes as encoding them all.
    /// The copy is taken (a case is encoded once) and extended in place, in the room it
    /// was read with: a week-long case's ~10 MB copy is not copied again.
    pub(crate) fn encode(&self, id: &str, members: &[&Finding]) -> serde_json::Result<Vec<u8>> {
        let whole = || findings_json(members);
        let taken = self
            .by_case
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let Some((ids, mut bytes)) = taken else {
            return whole();
        };
        let n = ids.len();
        let extends = n > 0
            && n <= members.len()
            && members[..n].iter().map(|f| &f.id).eq(ids.iter())
            && bytes.first() == Some(&b'[')
            && bytes.last() == Some(&b']');
        if !extends {
            return whole();
        }
        // `[a,b]` and `c` make `[a,b,c]`: an array is written with no spaces.
        bytes.pop();
        for f in &members[n..] {
            bytes.push(b',');
            f.write_json(&mut bytes)?;
        }
        bytes.push(b']');
        Ok(bytes)
    }
}

/// The stored findings of `cases` but those in `skip` (the caller reads those itself), each
/// once: from each case's stored findings (one read) when their digest is the one its index
/// entry records and they are exactly the findings it lists, otherwise (a state from an
/// older build, a damaged value) from the findings' blocks. A long case's findings are spread
/// over many blocks, so the copy beside each case stays the fast path. One worker per core,
/// the longest cases first. Also the copies read whole with nothing skipped, for
/// [`StoredCopies::encode`].
pub(crate) fn findings_of_cases<'a>(
    store: &Store,
    cases: &[&'a CaseIndex],
    skip: &skein_store::IdSet,
) -> Result<(Vec<Finding>, StoredCopies<'a>)> {
    let mut cases = cases.to_vec();
    cases.sort_by_key(|c| std::cmp::Reverse(c.findings.len()));
    let per_case = on_every_core(&cases, "a case findings reader", |&c| {
        let unreadable = |e: &dyn std::fmt::Display| {
            tracing::warn!(
                "the stored findings of case {} are unreadable ({e}); reading them one by one",
                c.id
            )
        };
        let stored = store
            .case_findings(&c.id)
            .map_err(|e| unreadable(&e))
            .ok()
            .flatten()
            // Written with this index entry (an older build rewrites the entry without it).
            .filter(|bytes| c.findings_digest.as_deref() == Some(&findings_digest(bytes)));
        let decoded = stored.and_then(|bytes| {
            Finding::list_from_json(&bytes)
                .map_err(|e| unreadable(&e))
                .ok()
                .map(|list| (list, bytes))
        });
        Ok(match decoded {
            Some((list, bytes)) if list.iter().map(|f| &f.id).eq(c.findings.iter()) => {
                Ok((c, list, bytes))
            }
            _ => Err(c),
        })
    })?;
    let (mut out, mut one_by_one) = (Vec::new(), BTreeSet::new());
    let mut copies = StoredCopies::default();
    let mut seen = HashSet::new();
    for found in per_case {
        match found {
            Ok((c, list, bytes)) => {
                let before = out.len();
                let whole = list.len();
                out.extend(
                    list.into_iter()
                        .filter(|f| !skip.contains(&f.id) && seen.insert(f.id.clone())),
                );
                if out.len() - before == whole {
                    copies.insert(c.id.as_str(), c.findings.as_slice(), bytes);
                }
            }
            Err(c) => one_by_one.extend(c.findings.iter().map(String::as_str)),
        }
    }
    let ids: Vec<&str> = one_by_one
        .into_iter()
        .filter(|id| !skip.contains(*id) && !seen.contains(*id))
        .collect();
    out.extend(findings_by_id(store, &ids)?);
    Ok((out, copies))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// Finding `i`: each index has its own content.
    fn finding(i: usize) -> Finding {
        let t = chrono::Utc
            .timestamp_opt(1_700_000_000 + i as i64 * 60, 0)
            .unwrap();
        let mut fields = serde_json::Map::new();
        fields.insert("n".into(), serde_json::json!(i));
        Finding {
            id: format!("F-{i:016x}"),
            rule: "risky-signin".into(),
            title: "Risky sign-in".into(),
            severity: skein_model::Severity::High,
            score: 70,
            first_seen: t,
            last_seen: t,
            entities: Vec::new(),
            events: vec![format!("event-{i}")],
            attack: vec!["T1078.004".into()],
            summary: format!("sign-in {i} with \"quotes\" and \\ ,]["),
            fields,
        }
    }

    /// The copies of one case `C-1` holding `stored` (as an earlier run encoded them).
    fn copies<'a>(ids: &'a [String], stored: &[Finding]) -> StoredCopies<'a> {
        let mut copies = StoredCopies::default();
        let bytes = serde_json::to_vec(stored).unwrap();
        copies.insert("C-1", ids, bytes);
        copies
    }

    fn encoded(stored: &[usize], members: &[usize]) -> (Vec<u8>, Vec<u8>) {
        let stored: Vec<Finding> = stored.iter().map(|&i| finding(i)).collect();
        let ids: Vec<String> = stored.iter().map(|f| f.id.clone()).collect();
        let members: Vec<Finding> = members.iter().map(|&i| finding(i)).collect();
        let members: Vec<&Finding> = members.iter().collect();
        let copies = copies(&ids, &stored);
        (
            copies.encode("C-1", &members).unwrap(),
            serde_json::to_vec(&members).unwrap(),
        )
    }

    #[test]
    fn a_case_that_gains_findings_keeps_its_copy_and_encodes_the_same_bytes() {
        for (stored, members) in [
            (&[1, 2][..], &[1, 2, 3, 4][..]),
            (&[1, 2], &[1, 2]),
            (&[1], &[1, 9]),
        ] {
            let (got, want) = encoded(stored, members);
            assert_eq!(String::from_utf8(got), String::from_utf8(want));
        }
    }

    #[test]
    fn a_case_that_does_not_begin_with_its_copy_is_encoded_whole() {
        for (stored, members) in [
            (&[1, 2][..], &[2, 1, 3][..]),
            (&[1, 2], &[1]),
            (&[1, 2], &[1, 3, 2]),
            (&[1, 2], &[]),
            (&[], &[1]),
        ] {
            let (got, want) = encoded(stored, members);
            assert_eq!(String::from_utf8(got), String::from_utf8(want));
        }
        // Another case's id, or no copy: encoded whole.
        let members = [finding(1), finding(2)];
        let members: Vec<&Finding> = members.iter().collect();
        let ids = vec![finding(1).id];
        let copies = copies(&ids, &[finding(1)]);
        assert_eq!(
            copies.encode("C-2", &members).unwrap(),
            serde_json::to_vec(&members).unwrap()
        );
    }

    #[test]
    fn a_copy_that_is_not_an_array_is_not_spliced() {
        let ids = [finding(1).id];
        let mut copies = StoredCopies::default();
        copies.insert("C-1", &ids[..], b"{}".to_vec());
        let members = [finding(1), finding(2)];
        let members: Vec<&Finding> = members.iter().collect();
        assert_eq!(
            copies.encode("C-1", &members).unwrap(),
            serde_json::to_vec(&members).unwrap()
        );
    }

    proptest! {
        /// Whatever the stored copy and the new members (each id with its one content, as a
        /// run guarantees by skipping the findings it changed), the bytes are those of
        /// encoding the members whole.
        #[test]
        fn encoding_with_a_copy_gives_the_bytes_of_encoding_whole(
            stored in proptest::collection::vec(0usize..12, 0..8),
            members in proptest::collection::vec(0usize..12, 0..12),
            extend in any::<bool>(),
        ) {
            let members = if extend {
                stored.iter().chain(&members).copied().collect()
            } else {
                members
            };
            let (got, want) = encoded(&stored, &members);
            prop_assert_eq!(got, want);
        }
    }
}
