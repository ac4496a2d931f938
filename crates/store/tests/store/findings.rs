//! Findings: stored by id, de-duplicated, replaced, listed by rule, counted, durable.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use skein_model::{EntityRole, EntityType, Finding, FindingEntity, Severity};
use skein_store::{FindingRecord, FindingsOutcome, OpenOptions, Store, StoreError};

use super::{open, t};

pub(crate) fn finding(id: &str, rule: &str, secs: i64) -> Finding {
    let mut fields = serde_json::Map::new();
    fields.insert("matched".into(), serde_json::json!(["a", 1, null]));
    Finding {
        id: id.to_string(),
        rule: rule.to_string(),
        title: format!("{rule} fired"),
        severity: Severity::High,
        score: 70,
        first_seen: t(secs),
        last_seen: t(secs + 60),
        entities: vec![FindingEntity {
            entity_type: EntityType::User,
            id: "alice@contoso.com".into(),
            role: EntityRole::Actor,
            name: None,
        }],
        events: vec![format!("ev-{id}")],
        attack: vec!["T1078.004".into()],
        summary: "something happened".into(),
        fields,
    }
}

fn outcome(inserted: u64, updated: u64, unchanged: u64) -> FindingsOutcome {
    FindingsOutcome {
        inserted,
        updated,
        unchanged,
    }
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.id.as_str()).collect()
}

/// Opens `dir`'s sled database directly (the store must be closed) and runs `f` on it.
fn with_raw_db(dir: &Path, f: impl FnOnce(&sled::Db)) {
    let db = super::open_sled(dir);
    f(&db);
    db.flush().unwrap();
}

/// Makes at `dir` a store of the layout before findings were kept in blocks (one value per
/// finding in `findings`, an index by rule in `findings_by_rule`, the count in `meta`) with
/// F-1 and F-2 of rule "spray", F-2 damaged. Opening it moves both into a block as they are
/// (F-2 under the rule its index entry names).
fn legacy_store_with_a_corrupt_finding(dir: &Path) {
    drop(open(dir));
    with_raw_db(dir, |db| {
        let old = db.open_tree("findings").unwrap();
        let by_rule = db.open_tree("findings_by_rule").unwrap();
        let json = serde_json::to_vec(&finding("F-1", "spray", 10)).unwrap();
        old.insert("F-1", json).unwrap();
        old.insert("F-2", &b"{not json"[..]).unwrap();
        for id in ["F-1", "F-2"] {
            by_rule.insert(format!("spray\0{id}"), &[][..]).unwrap();
        }
        db.open_tree("meta")
            .unwrap()
            .insert("findings", &2u64.to_be_bytes()[..])
            .unwrap();
    });
}

#[test]
fn findings_are_stored_deduplicated_updated_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.finding_count().unwrap(), 0);
    assert!(store.findings(None).unwrap().is_empty());
    assert_eq!(store.put_findings(&[]).unwrap(), outcome(0, 0, 0));

    let a = finding("F-a", "risky-signin", 300);
    let b = finding("F-b", "spray", 100);
    let c = finding("F-c", "risky-signin", 100);
    let out = store
        .put_findings(&[a.clone(), b.clone(), c.clone()])
        .unwrap();
    assert_eq!(out, outcome(3, 0, 0));
    assert_eq!(store.finding("F-a").unwrap().as_ref(), Some(&a));
    assert_eq!(store.finding("F-zzz").unwrap(), None);
    // Sorted by (first_seen, id).
    assert_eq!(ids(&store.findings(None).unwrap()), ["F-b", "F-c", "F-a"]);
    assert_eq!(
        ids(&store.findings(Some("risky-signin")).unwrap()),
        ["F-c", "F-a"]
    );
    assert_eq!(ids(&store.findings(Some("spray")).unwrap()), ["F-b"]);
    // A rule that prefixes another lists nothing of the other.
    assert!(store.findings(Some("risky")).unwrap().is_empty());
    assert!(store.findings(Some("")).unwrap().is_empty());

    // Re-running adds nothing.
    let out = store
        .put_findings(&[a.clone(), b.clone(), c.clone()])
        .unwrap();
    assert_eq!(out, outcome(0, 0, 3));

    // Same id, new content (and a new rule): replaced and re-indexed.
    let mut a2 = a.clone();
    a2.score = 90;
    a2.rule = "spray".into();
    a2.first_seen = t(50);
    let d = finding("F-d", "spray", 400);
    let out = store.put_findings(&[a2.clone(), b.clone(), d]).unwrap();
    assert_eq!(out, outcome(1, 1, 1));
    assert_eq!(store.finding("F-a").unwrap().as_ref(), Some(&a2));
    assert_eq!(ids(&store.findings(Some("risky-signin")).unwrap()), ["F-c"]);
    assert_eq!(
        ids(&store.findings(Some("spray")).unwrap()),
        ["F-a", "F-b", "F-d"]
    );
    assert_eq!(store.finding_count().unwrap(), 4);
    assert_eq!(store.stats().unwrap().findings, 4);
    // Several rules at once, one sorted list; rules with nothing stored add nothing.
    assert_eq!(
        ids(&store
            .findings_of_rules(&["spray", "risky-signin", "none"])
            .unwrap()),
        ["F-a", "F-b", "F-c", "F-d"]
    );
    assert!(store.findings_of_rules(&[]).unwrap().is_empty());
    // The index's rules survive reopening (they are read back from the blocks' heads).
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        ids(&store.findings_of_rules(&["risky-signin"]).unwrap()),
        ["F-c"]
    );

    // The same id twice in one call: the last wins.
    let mut c2 = c.clone();
    c2.summary = "changed".into();
    let out = store.put_findings(&[c2.clone(), c.clone()]).unwrap();
    assert_eq!(out, outcome(0, 2, 0));
    assert_eq!(store.finding("F-c").unwrap().as_ref(), Some(&c));
    assert_eq!(store.finding_count().unwrap(), 4);
}

#[test]
fn findings_with_odd_rules_and_ids_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let rules = ["a", "a\u{0}b", "a\u{1}", "a\u{0}", "ab", "é"];
    let all: Vec<Finding> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| finding(&format!("id\u{0}{i}"), r, i as i64))
        .collect();
    assert_eq!(store.put_findings(&all).unwrap().inserted, 6);
    for (i, r) in rules.iter().enumerate() {
        assert_eq!(
            store.findings(Some(r)).unwrap(),
            vec![all[i].clone()],
            "rule {r:?}"
        );
    }
    let err = store.put_findings(&[finding("", "x", 0)]).unwrap_err();
    assert!(matches!(err, StoreError::InvalidFinding { .. }), "{err}");
    assert_eq!(store.finding_count().unwrap(), 6);
}

const CHILD_ENV: &str = "SKEIN_STORE_TEST_FINDINGS_CHILD";

/// Not a test of its own: when `findings_survive_a_killed_writer` re-runs this binary with
/// `CHILD_ENV` set, this stores a finding in the store named there (with sled's background
/// flush off), says so and exits at once, without closing or flushing the store.
#[test]
fn findings_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut opts = OpenOptions::default();
    opts.flush_every_ms = None;
    let store = Store::open(Path::new(&dir), opts).unwrap();
    store.put_findings(&[finding("F-1", "spray", 10)]).unwrap();
    println!("STORED");
    std::io::stdout().flush().unwrap();
    std::process::exit(0);
}

#[test]
fn findings_survive_a_killed_writer() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "findings::findings_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &state)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("STORED"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = open(&state);
    assert_eq!(
        store.finding("F-1").unwrap(),
        Some(finding("F-1", "spray", 10))
    );
    assert_eq!(store.finding_count().unwrap(), 1);
}

#[test]
fn findings_are_found_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let f = finding("F-1", "spray", 10);
    open(dir.path())
        .put_findings(std::slice::from_ref(&f))
        .unwrap();
    let store = open(dir.path());
    assert_eq!(store.finding("F-1").unwrap(), Some(f.clone()));
    assert_eq!(store.findings(Some("spray")).unwrap(), vec![f.clone()]);
    assert_eq!(store.stats().unwrap().findings, 1);
    assert_eq!(store.put_findings(&[f]).unwrap(), outcome(0, 0, 1));
}

#[test]
fn a_corrupt_finding_is_an_error_naming_tree_and_key() {
    let dir = tempfile::tempdir().unwrap();
    legacy_store_with_a_corrupt_finding(dir.path());
    let store = open(dir.path());
    assert!(store.finding("F-1").unwrap().is_some());
    for err in [
        store.finding("F-2").unwrap_err(),
        store.findings(None).unwrap_err(),
        store.findings(Some("spray")).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                StoreError::Corrupt {
                    tree: "findings",
                    ..
                }
            ),
            "{msg}"
        );
        // The key, hex-encoded: "F-2".
        assert!(msg.contains("462d32"), "{msg}");
    }
    // Replacing the corrupt value repairs it.
    let f = finding("F-2", "other", 20);
    let out = store.put_findings(std::slice::from_ref(&f)).unwrap();
    assert_eq!(out, outcome(0, 1, 0));
    assert_eq!(store.findings(Some("other")).unwrap(), vec![f]);
    // The stale index entry under the old rule is skipped.
    assert_eq!(ids(&store.findings(Some("spray")).unwrap()), ["F-1"]);
    assert_eq!(store.finding_count().unwrap(), 2);
}

#[test]
fn findings_are_shared_between_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store: Store = open(dir.path());
    std::thread::scope(|s| {
        for n in 0..4 {
            let store = &store;
            s.spawn(move || {
                let batch: Vec<Finding> = (0..20)
                    .map(|i| finding(&format!("F-{}", i + n * 10), "r", i))
                    .collect();
                store.put_findings(&batch).unwrap();
            });
        }
    });
    // 50 distinct ids, each counted once.
    assert_eq!(store.finding_count().unwrap(), 50);
    assert_eq!(store.findings(Some("r")).unwrap().len(), 50);
}

#[test]
fn removed_findings_leave_the_index_and_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.remove_findings(&[]).unwrap(), 0);
    assert_eq!(store.remove_findings(&["F-none".into()]).unwrap(), 0);
    assert_eq!(store.finding_count().unwrap(), 0);

    let all: Vec<Finding> = (0..6)
        .map(|i| {
            finding(
                &format!("F-{i}"),
                if i % 2 == 0 { "even" } else { "odd" },
                i,
            )
        })
        .collect();
    assert_eq!(store.put_findings(&all).unwrap(), outcome(6, 0, 0));

    // Stored, unknown and repeated ids: only the stored ones count, once.
    let gone = store
        .remove_findings(&[
            "F-0".into(),
            "F-3".into(),
            "F-unknown".into(),
            "F-0".into(),
            "F-4".into(),
        ])
        .unwrap();
    assert_eq!(gone, 3);
    assert_eq!(store.finding_count().unwrap(), 3);
    assert_eq!(store.stats().unwrap().findings, 3);
    assert_eq!(store.finding("F-0").unwrap(), None);
    assert_eq!(ids(&store.findings(None).unwrap()), ["F-1", "F-2", "F-5"]);
    assert_eq!(ids(&store.findings(Some("even")).unwrap()), ["F-2"]);
    assert_eq!(ids(&store.findings(Some("odd")).unwrap()), ["F-1", "F-5"]);
    // Removing again removes nothing.
    assert_eq!(store.remove_findings(&["F-3".into()]).unwrap(), 0);
    assert_eq!(store.finding_count().unwrap(), 3);

    // A removed id stored again is new, under its (new) rule only.
    let again = finding("F-0", "odd", 0);
    assert_eq!(
        store.put_findings(std::slice::from_ref(&again)).unwrap(),
        outcome(1, 0, 0)
    );
    assert_eq!(
        ids(&store.findings(Some("odd")).unwrap()),
        ["F-0", "F-1", "F-5"]
    );
    assert_eq!(ids(&store.findings(Some("even")).unwrap()), ["F-2"]);
    assert_eq!(store.finding_count().unwrap(), 4);

    // Durable, and a large removal works in one call.
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.finding_count().unwrap(), 4);
    let many: Vec<Finding> = (0..2_500)
        .map(|i| finding(&format!("M-{i:04}"), "many", i))
        .collect();
    store.put_findings(&many).unwrap();
    assert_eq!(store.finding_count().unwrap(), 2_504);
    let ids_many: Vec<String> = many.iter().map(|f| f.id.clone()).collect();
    assert_eq!(store.remove_findings(&ids_many).unwrap(), 2_500);
    assert!(store.findings(Some("many")).unwrap().is_empty());
    assert_eq!(store.finding_count().unwrap(), 4);
    drop(store);
    assert_eq!(open(dir.path()).finding_count().unwrap(), 4);
}

#[test]
fn removing_a_corrupt_finding_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    legacy_store_with_a_corrupt_finding(dir.path());
    let store = open(dir.path());
    assert_eq!(store.remove_findings(&["F-2".into()]).unwrap(), 1);
    assert_eq!(store.finding("F-2").unwrap(), None);
    // Its stale index entry is skipped.
    assert_eq!(ids(&store.findings(Some("spray")).unwrap()), ["F-1"]);
    assert_eq!(store.finding_count().unwrap(), 1);
}

#[test]
fn finding_digests_are_the_digests_of_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut a = finding("F-a", "r1", 10);
    let b = finding("F-b", "r2", 20);
    store.put_findings(&[a.clone(), b.clone()]).expect("put");
    let digest = |f: &Finding| skein_store::finding_digest(&serde_json::to_vec(f).expect("json"));
    let got = store.finding_digests().expect("digests");
    assert_eq!(got.len(), 2);
    assert_eq!(got["F-a"], digest(&a));
    assert_eq!(got["F-b"], digest(&b));
    a.summary = "changed".into();
    store
        .put_findings(std::slice::from_ref(&a))
        .expect("update");
    assert_eq!(store.finding_digests().expect("digests")["F-a"], digest(&a));
    store.remove_findings(&["F-b".to_string()]).expect("remove");
    assert!(!store
        .finding_digests()
        .expect("digests")
        .contains_key("F-b"));
}

#[test]
fn encoded_findings_go_straight_to_the_transaction_and_are_still_counted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = finding("F-a", "r1", 10);
    let b = finding("F-b", "r1", 20);
    store.put_findings(&[a.clone(), b.clone()]).expect("put");
    let mut moved = b.clone();
    moved.rule = "r2".into();
    let c = finding("F-c", "r2", 30);
    let records: Vec<FindingRecord> = [&a, &moved, &c]
        .into_iter()
        .map(|f| FindingRecord::of(f).expect("encode"))
        .collect();
    for r in &records {
        assert_eq!(
            r.digest(),
            skein_store::finding_digest(r.json()),
            "{}",
            r.id()
        );
    }
    let out = store
        .put_changed_findings_unflushed(&records)
        .expect("put records");
    assert_eq!(out, outcome(1, 1, 1), "a given unchanged is counted so");
    store.flush().expect("flush");
    assert_eq!(store.finding_count().unwrap(), 3);
    assert_eq!(ids(&store.findings(Some("r1")).unwrap()), ["F-a"]);
    assert_eq!(
        ids(&store.findings(Some("r2")).unwrap()),
        ["F-b", "F-c"],
        "re-indexed under its new rule"
    );
    let mut nameless = finding("", "r1", 40);
    nameless.id.clear();
    assert!(matches!(
        FindingRecord::of(&nameless),
        Err(StoreError::InvalidFinding { .. })
    ));
    // Nor can a record be made of parts without an id (every record reaching the store was
    // made by one of the two).
    assert!(matches!(
        FindingRecord::from_parts(String::new(), "r1".into(), b"{}".to_vec()),
        Err(StoreError::InvalidFinding { .. })
    ));
    assert_eq!(store.finding_count().unwrap(), 3, "nothing written");
}

#[test]
fn a_write_of_several_rules_says_what_it_did_to_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let kept = finding("F-kept", "r1", 10);
    let old = finding("F-changed", "r2", 20);
    store
        .put_findings(&[kept.clone(), old.clone()])
        .expect("put");
    let mut changed = old.clone();
    changed.score = 90;
    let first = finding("F-new", "r1", 30);
    let mut again = first.clone();
    again.summary = "said again, differently".into();
    let records: Vec<FindingRecord> = [&kept, &changed, &first, &again]
        .into_iter()
        .map(|f| FindingRecord::of(f).expect("encode"))
        .collect();
    let per_rule = store
        .put_findings_of_rules_unflushed(&records)
        .expect("put records");
    assert_eq!(
        per_rule.into_iter().collect::<Vec<_>>(),
        [
            // F-new twice: new, then replaced within the write (the last one wins).
            ("r1".to_string(), outcome(1, 1, 1)),
            ("r2".to_string(), outcome(0, 1, 0)),
        ]
    );
    store.flush().expect("flush");
    assert_eq!(store.finding_count().unwrap(), 3);
    let r1 = store.findings(Some("r1")).unwrap();
    assert_eq!(ids(&r1), ["F-kept", "F-new"]);
    assert_eq!(r1[1].summary, "said again, differently");
    assert_eq!(store.findings(Some("r2")).unwrap()[0].score, 90);
    assert!(
        store
            .put_findings_of_rules_unflushed(&[])
            .expect("nothing to write")
            .is_empty(),
        "an empty write reports no rule"
    );
}

/// Writes `findings` into `dir` (a closed store) in the layout before blocks, as a build of
/// format revision 1 did, adding `added` to the stored count.
fn write_legacy_findings(dir: &Path, findings: &[Finding], added: u64) {
    with_raw_db(dir, |db| {
        let old = db.open_tree("findings").unwrap();
        let by_rule = db.open_tree("findings_by_rule").unwrap();
        for f in findings {
            old.insert(f.id.as_bytes(), serde_json::to_vec(f).unwrap())
                .unwrap();
            by_rule
                .insert(format!("{}\0{}", f.rule, f.id), &[][..])
                .unwrap();
        }
        let meta = db.open_tree("meta").unwrap();
        let count = meta
            .get("findings")
            .unwrap()
            .map_or(0, |v| u64::from_be_bytes(v.as_ref().try_into().unwrap()));
        meta.insert("findings", &(count + added).to_be_bytes()[..])
            .unwrap();
    });
}

#[test]
fn findings_of_the_layout_before_blocks_are_moved_into_blocks_on_opening() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let all: Vec<Finding> = (0..150)
        .map(|i| {
            let rule = if i % 3 == 0 { "spray" } else { "risky" };
            finding(&format!("F-{i:03}"), rule, i)
        })
        .collect();
    write_legacy_findings(dir.path(), &all[..100], 100);
    {
        let store = open(dir.path());
        assert_eq!(store.findings(None).unwrap(), all[..100].to_vec());
        assert_eq!(store.finding_count().unwrap(), 100);
        // Already stored exactly so: nothing to write.
        assert_eq!(store.put_findings(&all[..100]).unwrap(), outcome(0, 0, 100));
    }
    with_raw_db(dir.path(), |db| {
        for name in ["findings", "findings_by_rule"] {
            assert!(
                !db.tree_names()
                    .iter()
                    .any(|n| n.as_ref() == name.as_bytes()),
                "{name} is dropped"
            );
        }
    });
    // Old findings found again later (as a crash half-way through moving leaves them) are
    // moved too, into blocks after the existing ones.
    write_legacy_findings(dir.path(), &all[100..], 50);
    let store = open(dir.path());
    assert_eq!(store.findings(None).unwrap(), all);
    assert_eq!(store.finding_count().unwrap(), 150);
    let spray: Vec<Finding> = all.iter().filter(|f| f.rule == "spray").cloned().collect();
    assert_eq!(store.findings(Some("spray")).unwrap(), spray);
    assert_eq!(store.finding("F-120").unwrap().as_ref(), Some(&all[120]));
    let some = store
        .findings_with_ids(&["F-001", "F-149", "F-none"])
        .unwrap();
    assert_eq!(some.len(), 2);
    assert_eq!(store.remove_findings(&["F-001".into()]).unwrap(), 1);
    assert_eq!(store.finding_count().unwrap(), 149);
}

#[test]
fn a_damaged_block_is_an_error_naming_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path())
        .put_findings(&[finding("F-1", "spray", 10)])
        .unwrap();
    with_raw_db(dir.path(), |db| {
        let blocks = db.open_tree("finding_blocks").unwrap();
        let (k, v) = blocks.first().unwrap().expect("a block");
        let mut damaged = v.to_vec();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        damaged.truncate(last - 3);
        blocks.insert(k, damaged).unwrap();
    });
    let store = open(dir.path());
    for err in [
        store.finding("F-1").unwrap_err(),
        store.findings(None).unwrap_err(),
        store.findings(Some("spray")).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                StoreError::Corrupt {
                    tree: "finding_blocks",
                    ..
                }
            ),
            "{err}"
        );
    }
    drop(store);
    // A damaged head is found when the index is built: in the heads tree it is read from,
    let damage_head = |db: &sled::Db, tree: &str| {
        let tree = db.open_tree(tree).unwrap();
        let (k, _) = tree.first().unwrap().expect("a value");
        tree.insert(k, &[200u8, 0, 0, 0][..]).unwrap();
    };
    with_raw_db(dir.path(), |db| damage_head(db, "finding_heads"));
    let store = open(dir.path());
    assert!(matches!(
        store.finding_digests().unwrap_err(),
        StoreError::Corrupt {
            tree: "finding_heads",
            ..
        }
    ));
    drop(store);
    // and in a block of a store without the heads tree (from an older build), read from
    // the blocks themselves.
    with_raw_db(dir.path(), |db| {
        db.drop_tree("finding_heads").unwrap();
        db.open_tree("meta")
            .unwrap()
            .remove("finding_heads")
            .unwrap();
        let blocks = db.open_tree("finding_blocks").unwrap();
        let (k, _) = blocks.first().unwrap().expect("a block");
        blocks.insert(k, &[1u8, 200, 0, 0, 0][..]).unwrap();
    });
    let store = open(dir.path());
    assert!(matches!(
        store.finding_digests().unwrap_err(),
        StoreError::Corrupt {
            tree: "finding_blocks",
            ..
        }
    ));
}

/// Makes the closed store at `dir` one of a build without the `finding_heads` tree.
fn without_heads(dir: &Path) {
    with_raw_db(dir, |db| {
        db.drop_tree("finding_heads").unwrap();
        db.open_tree("meta")
            .unwrap()
            .remove("finding_heads")
            .unwrap();
    });
}

#[test]
fn the_index_from_the_heads_tree_is_the_index_from_the_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<Finding> = (0..300)
        .map(|i| finding(&format!("F-{i:03}"), ["a", "b", "c"][i % 3], i as i64))
        .collect();
    {
        let store = open(dir.path());
        store.put_findings(&all[..200]).unwrap();
        // Replacing, removing and topping up rewrite and remove blocks.
        let mut changed = all[50..60].to_vec();
        for f in &mut changed {
            f.score += 1;
        }
        store.put_findings(&changed).unwrap();
        let gone: Vec<String> = (100..180).map(|i| format!("F-{i:03}")).collect();
        assert_eq!(store.remove_findings(&gone).unwrap(), 80);
        store.put_findings(&all[200..]).unwrap();
    }
    let read = |dir: &Path| {
        let store = open(dir);
        let mut digests: Vec<(String, u128)> =
            store.finding_digests().unwrap().into_iter().collect();
        digests.sort();
        (
            digests,
            store.findings(Some("b")).unwrap(),
            store.finding_count().unwrap(),
        )
    };
    let from_heads = read(dir.path());
    assert_eq!(from_heads.2, 220);
    assert_eq!(from_heads.0.len(), 220);
    // The same store, its heads tree gone (and a stray head of no block left behind): the
    // index is read from the blocks and the heads are written again (the second read is
    // from them).
    without_heads(dir.path());
    with_raw_db(dir.path(), |db| {
        let stray = 1u64 << 40;
        let heads = db.open_tree("finding_heads").unwrap();
        heads.insert(stray.to_be_bytes(), &[0u8][..]).unwrap();
    });
    assert_eq!(read(dir.path()), from_heads);
    let mut heads = 0;
    with_raw_db(dir.path(), |db| {
        heads = db.open_tree("finding_heads").unwrap().len();
        assert!(db
            .open_tree("meta")
            .unwrap()
            .get("finding_heads")
            .unwrap()
            .is_some());
    });
    assert_eq!(heads, blocks_in(dir.path()));
    assert_eq!(read(dir.path()), from_heads);
    // Writes after the copy keep the heads with the blocks: removing every finding
    // removes every block (and its heads), then new ones are written.
    {
        let store = open(dir.path());
        let gone: Vec<String> = from_heads.0.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(store.remove_findings(&gone).unwrap(), 220);
        store.put_findings(&all[..10]).unwrap();
    }
    let after = read(dir.path());
    assert_eq!(after.2, 10);
    assert_eq!(after.0.len(), 10);
    without_heads(dir.path());
    assert_eq!(read(dir.path()), after);
}

/// The number of values in the `finding_blocks` tree of the closed store at `dir`.
fn blocks_in(dir: &Path) -> usize {
    let mut n = 0;
    with_raw_db(dir, |db| n = db.open_tree("finding_blocks").unwrap().len());
    n
}

#[test]
fn small_writes_top_up_the_last_block_and_thinned_blocks_are_folded() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<Finding> = (0..130)
        .map(|i| finding(&format!("F-{i:03}"), if i % 2 == 0 { "a" } else { "b" }, i))
        .collect();
    {
        let store = open(dir.path());
        // One finding per write, as a sweep storing a few at a time.
        for f in &all {
            store.put_findings(std::slice::from_ref(f)).unwrap();
        }
        assert_eq!(store.finding_count().unwrap(), 130);
    }
    assert_eq!(blocks_in(dir.path()), 3, "130 findings fill blocks of 64");
    {
        let store = open(dir.path());
        assert_eq!(store.findings(None).unwrap(), all);
        // Replacing 55 of the first block's findings leaves it 9: folded into the new ones.
        let changed: Vec<Finding> = all[..55]
            .iter()
            .map(|f| Finding {
                score: 1,
                ..f.clone()
            })
            .collect();
        assert_eq!(store.put_findings(&changed).unwrap(), outcome(0, 55, 0));
        let mut expected = changed.clone();
        expected.extend_from_slice(&all[55..]);
        assert_eq!(store.findings(None).unwrap(), expected);
        assert_eq!(store.finding_count().unwrap(), 130);
        let odd: Vec<Finding> = expected.iter().filter(|f| f.rule == "b").cloned().collect();
        assert_eq!(store.findings(Some("b")).unwrap(), odd);
    }
    assert_eq!(blocks_in(dir.path()), 3, "no block is left thin");
    let store = open(dir.path());
    assert_eq!(store.finding_count().unwrap(), 130);
    assert_eq!(store.findings(None).unwrap().len(), 130);
}

#[test]
fn a_block_rewritten_in_place_does_not_stop_the_last_one_being_topped_up() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<Finding> = (0..76)
        .map(|i| finding(&format!("F-{i:03}"), "a", i))
        .collect();
    {
        let store = open(dir.path());
        store.put_findings(&all[..64]).unwrap();
        store.put_findings(&all[64..74]).unwrap();
        // One finding of the full first block replaced: that block is rewritten in place
        // (63 left), the replacement and the last block's 10 go to a new block.
        let changed = Finding {
            score: 1,
            ..all[0].clone()
        };
        assert_eq!(store.put_findings(&[changed]).unwrap(), outcome(0, 1, 0));
        // Then two new ones top that new block up.
        store.put_findings(&all[74..]).unwrap();
        assert_eq!(store.finding_count().unwrap(), 76);
        assert_eq!(store.findings(None).unwrap().len(), 76);
    }
    assert_eq!(blocks_in(dir.path()), 2);
}
