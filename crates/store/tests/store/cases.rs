//! The `cases` tree: replaced as a whole, written only where changed, counted by `stats`.

use skein_store::CaseRecord;

use super::open;

fn case(id: &str, text: &str) -> CaseRecord {
    CaseRecord {
        id: id.to_string(),
        json: format!("{{\"id\":\"{id}\",\"t\":\"{text}\"}}").into_bytes(),
        index: format!("index of {id}").into_bytes(),
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
