//! The `cases` tree: replaced as a whole, written only where changed, counted by `stats`.

use super::open;

fn case(id: &str, text: &str) -> (String, Vec<u8>) {
    (
        id.to_string(),
        format!("{{\"id\":\"{id}\",\"t\":\"{text}\"}}").into_bytes(),
    )
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
    assert_eq!(all, vec![case("C-3", "c")]);
    assert_eq!(store.case_json("C-3").unwrap(), Some(case("C-3", "c").1));
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
