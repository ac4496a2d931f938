//! The change log in detail: several batches of several sources and chunks, late events,
//! duplicates, a middle seq, microsecond flooring; checkpoints apart from cursors.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use skein_model::{Event, Source};
use skein_store::ChangeSummary;

use super::{ev, open, signin, t};

fn trail(id: &str, secs: i64) -> Event {
    ev(Source::Cloudtrail, id, secs)
}

#[test]
fn each_storing_batch_is_logged_with_its_sources_span() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.change_seq().unwrap(), 0);
    assert_eq!(store.changes_since(0).unwrap(), ChangeSummary::default());

    // On time: events of two sources, all in one 10-minute bucket.
    let on_time: Vec<Event> = (0..5)
        .map(|i| {
            signin(
                &format!("s{i}"),
                99_600 + i * 60,
                "alice@contoso.com",
                "203.0.113.5",
            )
        })
        .chain([trail("c1", 99_630), trail("c2", 99_900)])
        .collect();
    store.insert_batch(&on_time).unwrap();
    let s1 = store.change_seq().unwrap();
    assert_eq!(s1, 2, "one chunk per source");
    let first = ChangeSummary {
        batches: 1,
        events: 7,
        min_time: Some(t(99_600)),
        max_time: Some(t(99_900)),
        per_source: BTreeMap::from([
            (Source::EntraSignin, (t(99_600), t(99_840), 5)),
            (Source::Cloudtrail, (t(99_630), t(99_900), 2)),
        ]),
    };
    assert_eq!(store.changes_since(0).unwrap(), first);

    // Late: events long before the previous batch's, with a duplicate that is not counted.
    let late = vec![
        signin("late-1", 5_000, "bob@contoso.com", "198.51.100.7"),
        signin("late-2", 3_000, "bob@contoso.com", "198.51.100.7"),
        signin("s0", 99_600, "alice@contoso.com", "203.0.113.5"),
    ];
    let out = store.insert_batch(&late).unwrap();
    assert_eq!((out.inserted, out.duplicates), (2, 1));
    let s2 = store.change_seq().unwrap();
    assert!(s2 > s1);
    let second = ChangeSummary {
        batches: 1,
        events: 2,
        min_time: Some(t(3_000)),
        max_time: Some(t(5_000)),
        per_source: BTreeMap::from([(Source::EntraSignin, (t(3_000), t(5_000), 2))]),
    };
    assert_eq!(store.changes_since(s1).unwrap(), second);

    // Only duplicates, or nothing: no entry, no new seq.
    assert_eq!(store.insert_batch(&on_time).unwrap().inserted, 0);
    store.insert_batch(&[]).unwrap();
    assert_eq!(store.change_seq().unwrap(), s2);
    assert_eq!(store.changes_since(s2).unwrap(), ChangeSummary::default());

    // Many chunks are still one batch: 300 events over 6 buckets (40, 4 × 60 and 20 events),
    // cut into chunks of at most 40 events, are 1 + 4 × 2 + 1 = 10 chunks, and the change seq
    // counts chunks.
    let bulk: Vec<Event> = (0..300)
        .map(|i| trail(&format!("bulk{i}"), 200_000 + i * 10))
        .collect();
    store.insert_batch(&bulk).unwrap();
    let s3 = store.change_seq().unwrap();
    assert_eq!(s3, s2 + 10);

    // A middle seq covers the batches from there on, and only those.
    let middle = store.changes_since(s1).unwrap();
    assert_eq!(
        middle,
        ChangeSummary {
            batches: 2,
            events: 302,
            min_time: Some(t(3_000)),
            max_time: Some(t(202_990)),
            per_source: BTreeMap::from([
                (Source::EntraSignin, (t(3_000), t(5_000), 2)),
                (Source::Cloudtrail, (t(200_000), t(202_990), 300)),
            ]),
        }
    );
    // A seq inside a batch's chunks starts after that batch.
    assert_eq!(
        store.changes_since(s2 + 1).unwrap(),
        ChangeSummary::default()
    );
    assert_eq!(store.changes_since(s3).unwrap(), ChangeSummary::default());
    assert_eq!(
        store.changes_since(u64::MAX).unwrap(),
        ChangeSummary::default()
    );
    let total = store.changes_since(0).unwrap();
    assert_eq!((total.batches, total.events), (3, 309));
    assert_eq!(
        total.per_source[&Source::Cloudtrail],
        (t(99_630), t(202_990), 302)
    );
    assert_eq!(
        total.per_source[&Source::EntraSignin],
        (t(3_000), t(99_840), 7)
    );

    // Durable.
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.change_seq().unwrap(), s3);
    assert_eq!(store.changes_since(0).unwrap(), total);
    assert_eq!(store.changes_since(s1).unwrap(), middle);
}

#[test]
fn change_times_are_floored_to_the_microsecond() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let at = |nanos: i64| -> DateTime<Utc> { t(1_000) + Duration::nanoseconds(nanos) };
    let mut a = signin("a", 0, "alice@contoso.com", "203.0.113.5");
    a.time = at(1_999);
    let mut b = signin("b", 0, "alice@contoso.com", "203.0.113.5");
    b.time = at(-1);
    store.insert_batch(&[a, b]).unwrap();
    let got = store.changes_since(0).unwrap();
    assert_eq!(got.min_time, Some(at(-1_000)));
    assert_eq!(got.max_time, Some(at(1_000)));
}

#[test]
fn checkpoints_are_listed_by_prefix_apart_from_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.checkpoints_with_prefix("").unwrap().is_empty());

    let big: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    store.checkpoint_put("correlate/b", b"second").unwrap();
    store.checkpoint_put("correlate/a", &big).unwrap();
    store.checkpoint_put("correlatex", b"other").unwrap();
    store.checkpoint_put("sweep", b"").unwrap();
    store.cursor_set("correlate/cursor", b"c").unwrap();

    let list = store.checkpoints_with_prefix("correlate/").unwrap();
    let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["correlate/a", "correlate/b"]);
    assert_eq!(list[0].1, big);
    assert_eq!(store.checkpoints_with_prefix("").unwrap().len(), 4);
    assert_eq!(
        store.checkpoints_with_prefix("sweep").unwrap(),
        vec![("sweep".to_string(), Vec::new())]
    );

    // Replace and remove.
    store.checkpoint_put("correlate/a", b"small").unwrap();
    store.checkpoint_remove("correlate/b").unwrap();
    let list = store.checkpoints_with_prefix("correlate").unwrap();
    assert_eq!(
        list,
        vec![
            ("correlate/a".to_string(), b"small".to_vec()),
            ("correlatex".to_string(), b"other".to_vec()),
        ]
    );

    drop(store);
    let store = open(dir.path());
    assert_eq!(store.checkpoints_with_prefix("correlate").unwrap(), list);
    assert_eq!(
        store.cursor_get("correlate/cursor").unwrap(),
        Some(b"c".to_vec())
    );
}

#[test]
fn a_corrupt_change_entry_is_an_error_naming_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).insert_batch(&[trail("a", 100)]).unwrap();
    {
        let db = super::open_sled(dir.path());
        let changes = db.open_tree("changes").unwrap();
        assert_eq!(changes.len(), 1);
        changes.insert(7u64.to_be_bytes(), &b"short"[..]).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    // Entries after the damaged one still read; a range over it fails.
    assert_eq!(store.changes_since(8).unwrap(), ChangeSummary::default());
    assert!(store.changes_since(0).is_err());
    let err = store.changes_since(7).unwrap_err();
    assert!(
        matches!(
            err,
            skein_store::StoreError::Corrupt {
                tree: "changes",
                ..
            }
        ),
        "{err}"
    );
}
