//! The `cases` tree: replaced as a whole, written only where changed, counted by `stats`.

use skein_store::CaseRecord;

use super::open;

fn case(id: &str, text: &str) -> CaseRecord {
    CaseRecord {
        id: id.to_string(),
        json: format!("{{\"id\":\"{id}\",\"t\":\"{text}\"}}").into_bytes(),
        index: format!("index of {id}").into_bytes(),
        findings: format!("[findings of {id}]").into_bytes(),
    }
}

#[test]
fn cases_are_replaced_written_only_when_changed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let out = store
        .replace_cases(&[case("C-1", "a"), case("C-2", "b")])
        .unwrap();
    assert_eq!(out.inserted, ["C-1", "C-2"]);
    assert_eq!(store.stats().unwrap().cases, 2);
    let out = store
        .replace_cases(&[case("C-1", "a"), case("C-2", "b2"), case("C-3", "c")])
        .unwrap();
    assert_eq!(out.unchanged, 1);
    assert_eq!(out.updated, ["C-2"]);
    assert_eq!(out.inserted, ["C-3"]);
    let out = store.replace_cases(&[case("C-3", "c")]).unwrap();
    assert_eq!(out.removed, ["C-1", "C-2"]);
    assert_eq!(out.unchanged, 1);
    let all = store.cases_json().unwrap();
    assert_eq!(all, vec![("C-3".to_string(), case("C-3", "c").json)]);
    assert_eq!(store.case_json("C-3").unwrap(), Some(case("C-3", "c").json));
    assert_eq!(
        store.case_indexes().unwrap(),
        Some(vec![("C-3".to_string(), case("C-3", "c").index)]),
        "the index entries follow the cases"
    );
    assert_eq!(store.case_json("C-1").unwrap(), None);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.stats().unwrap().cases, 1, "flushed before returning");
}

#[test]
fn some_cases_are_updated_and_the_rest_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .replace_cases(&[case("C-1", "a"), case("C-2", "b"), case("C-3", "c")])
        .unwrap();
    let out = store
        .update_cases(
            &[case("C-2", "b"), case("C-4", "d"), case("C-1", "a2")],
            &["C-3".into(), "C-1".into()],
        )
        .unwrap();
    assert_eq!(out.unchanged, 1);
    assert_eq!(out.inserted, ["C-4"]);
    assert_eq!(out.updated, ["C-1"]);
    assert_eq!(out.removed, ["C-3"], "an id also put is not removed");
    let ids: Vec<String> = store
        .cases_json()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["C-1", "C-2", "C-4"]);
}

#[test]
fn the_index_is_complete_only_after_a_replacement_and_follows_updates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.update_cases(&[case("C-1", "a")], &[]).unwrap();
    assert_eq!(
        store.case_indexes().unwrap(),
        None,
        "cases written before a full replacement may lack entries"
    );
    store.replace_cases(&[case("C-1", "a")]).unwrap();
    let mut changed = case("C-2", "b");
    changed.index = b"new entry".to_vec();
    let mut same_json = case("C-1", "a");
    same_json.index = b"rewritten entry".to_vec();
    let out = store.update_cases(&[same_json, changed], &[]).unwrap();
    assert_eq!(
        out.unchanged, 1,
        "an index change alone is not a case change"
    );
    assert_eq!(
        store.case_indexes().unwrap(),
        Some(vec![
            ("C-1".to_string(), b"rewritten entry".to_vec()),
            ("C-2".to_string(), b"new entry".to_vec())
        ])
    );
    store.update_cases(&[], &["C-1".to_string()]).unwrap();
    drop(store);
    let store = open(dir.path());
    let ids: Vec<String> = store
        .case_indexes()
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        ids,
        ["C-2"],
        "removed with its case, and kept across a reopen"
    );
}

/// A case's findings are written, rewritten and removed with it; an older state's case
/// without them answers `None` and gets them when next written.
#[test]
fn a_cases_findings_follow_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .replace_cases(&[case("C-1", "a"), case("C-2", "b")])
        .unwrap();
    assert_eq!(
        store.case_findings("C-1").unwrap(),
        Some(case("C-1", "a").findings)
    );
    // The same JSON with other findings: no case change, but the findings are written.
    let mut more = case("C-1", "a");
    more.findings = b"[findings of C-1, and one more]".to_vec();
    let out = store
        .update_cases(std::slice::from_ref(&more), &["C-2".to_string()])
        .unwrap();
    assert_eq!(
        (out.unchanged, out.removed.clone()),
        (1, vec!["C-2".to_string()])
    );
    assert_eq!(
        store.case_findings("C-1").unwrap(),
        Some(more.findings.clone())
    );
    assert_eq!(
        store.case_findings("C-2").unwrap(),
        None,
        "removed with its case"
    );
    drop(store);
    // An older state: the case without its findings.
    {
        let db = super::open_sled(dir.path());
        db.open_tree("case_findings")
            .unwrap()
            .remove("C-1")
            .unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.case_findings("C-1").unwrap(), None);
    let out = store.replace_cases(std::slice::from_ref(&more)).unwrap();
    assert_eq!(out.unchanged, 1);
    assert_eq!(store.case_findings("C-1").unwrap(), Some(more.findings));
}

/// A case's stored bytes, read with sled directly (the store must be closed).
fn raw_case(dir: &std::path::Path, id: &str) -> Option<Vec<u8>> {
    let db = super::open_sled(dir);
    let tree = db.open_tree("cases").unwrap();
    tree.get(id).unwrap().map(|v| v.to_vec())
}

#[test]
fn cases_are_stored_compressed_and_plain_json_from_older_states_is_read_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let big = case("C-1", &"repeated evidence ".repeat(500));
    let store = open(dir.path());
    store.replace_cases(std::slice::from_ref(&big)).unwrap();
    drop(store);
    let stored = raw_case(dir.path(), "C-1").expect("stored");
    assert!(
        stored.len() * 4 < big.json.len(),
        "{} bytes stored for {} of JSON",
        stored.len(),
        big.json.len()
    );
    // An older state: the case as plain JSON.
    {
        let db = super::open_sled(dir.path());
        let tree = db.open_tree("cases").unwrap();
        tree.insert("C-1", big.json.as_slice()).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.case_json("C-1").unwrap(), Some(big.json.clone()));
    assert_eq!(
        store.cases_json().unwrap(),
        vec![("C-1".into(), big.json.clone())]
    );
    let out = store.replace_cases(std::slice::from_ref(&big)).unwrap();
    assert_eq!(
        out.unchanged, 1,
        "the same JSON, compressed or not, is no change"
    );
    drop(store);
    assert_eq!(
        raw_case(dir.path(), "C-1"),
        Some(stored),
        "rewritten compressed all the same"
    );
}

#[test]
fn a_damaged_compressed_case_is_an_error_to_read_and_replaced_when_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.replace_cases(&[case("C-1", "a")]).unwrap();
    drop(store);
    {
        let db = super::open_sled(dir.path());
        let tree = db.open_tree("cases").unwrap();
        // The compressed marker, then a size far beyond any case.
        tree.insert("C-1", &[1u8, 0xff, 0xff, 0xff, 0xff, 0][..])
            .unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    let err = store.case_json("C-1").unwrap_err().to_string();
    assert!(
        err.contains("corrupt state") && err.contains("cases"),
        "{err}"
    );
    let out = store.replace_cases(&[case("C-1", "a")]).unwrap();
    assert_eq!(out.updated, ["C-1"]);
    assert_eq!(store.case_json("C-1").unwrap(), Some(case("C-1", "a").json));
}

#[test]
fn a_streamed_replacement_writes_as_it_goes_and_removes_only_when_finished() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .replace_cases(&[case("C-1", "a"), case("C-2", "b")])
        .unwrap();
    // Enough cases for several batches; dropped unfinished (the caller failed).
    let many: Vec<_> = (0..1_250)
        .map(|i| case(&format!("N-{i:04}"), "n"))
        .collect();
    let mut replacement = store.case_replacement();
    for c in &many {
        replacement.put(c.clone()).unwrap();
    }
    drop(replacement);
    let stored = store.cases_json().unwrap();
    assert!(stored.iter().any(|(id, _)| id == "C-1"), "nothing removed");
    assert_eq!(
        stored.len(),
        2 + 1_200,
        "full batches (of 100) were written as they came, the rest was not"
    );

    let mut replacement = store.case_replacement();
    replacement.put(case("C-2", "b")).unwrap();
    replacement.put(case("C-3", "c")).unwrap();
    replacement.put(case("C-2", "b2")).unwrap();
    replacement.put(case("C-3", "c2")).unwrap();
    let out = replacement.finish().unwrap();
    assert_eq!(out.unchanged, 0);
    assert_eq!(out.updated, ["C-2"], "unchanged at first, then changed");
    assert_eq!(out.inserted, ["C-3"], "counted once");
    assert_eq!(out.removed.len(), 1 + 1_200);
    assert_eq!(
        store.cases_json().unwrap(),
        vec![
            ("C-2".to_string(), case("C-2", "b2").json),
            ("C-3".to_string(), case("C-3", "c2").json)
        ],
        "the last of an id given twice wins"
    );
    assert!(store.case_indexes().unwrap().is_some());
}

/// Cases of several MiB each (a case of thousands of findings) are written in batches cut
/// by size as they are given, an update's as a replacement's; each is stored whole, and a
/// repeated id still ends as the last given.
#[test]
fn large_cases_are_written_as_they_come_and_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let large = |id: &str, fill: u8| {
        let mut c = case(id, "large");
        c.findings = vec![fill; 5 << 20];
        c
    };
    let mut update = store.case_update(vec!["C-0".into()]);
    for (i, id) in ["C-1", "C-2", "C-3"].iter().enumerate() {
        update.put(large(id, b'a' + i as u8)).unwrap();
    }
    update.put(large("C-1", b'z')).unwrap();
    let out = update.finish().unwrap();
    assert_eq!(out.inserted, ["C-1", "C-2", "C-3"]);
    assert!(out.removed.is_empty(), "C-0 was never stored");
    for (id, fill) in [("C-1", b'z'), ("C-2", b'b'), ("C-3", b'c')] {
        assert_eq!(
            store.case_findings(id).unwrap(),
            Some(vec![fill; 5 << 20]),
            "{id}"
        );
    }
    assert_eq!(store.stats().unwrap().cases, 3);
}
