//! Behaviour that depends on the chunked layout: buckets, de-duplication across reopening,
//! token summaries.

use chrono::DateTime;
use skein_model::{EntityRef, EntityType, Event, Source};

use super::{ev, ids, open, signin, t};

#[test]
fn duplicates_are_found_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let batch: Vec<Event> = (0..50)
        .map(|i| ev(Source::Cloudtrail, &format!("ct-{i}"), i * 97))
        .collect();
    assert_eq!(open(dir.path()).insert_batch(&batch).unwrap().inserted, 50);
    let store = open(dir.path());
    // get_event first (it loads the index), then a mixed batch.
    let e = store
        .get_event(Source::Cloudtrail, "ct-7")
        .unwrap()
        .unwrap();
    assert_eq!(e.time, t(7 * 97));
    let mut mixed = batch[25..].to_vec();
    mixed.push(ev(Source::Cloudtrail, "ct-new", 5));
    mixed.push(ev(Source::EntraSignin, "ct-3", 5));
    let out = store.insert_batch(&mixed).unwrap();
    assert_eq!((out.inserted, out.duplicates), (2, 25));
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.stats().unwrap().events[&Source::Cloudtrail], 51);
    let out = store.insert_batch(&mixed).unwrap();
    assert_eq!((out.inserted, out.duplicates), (0, 27));
    assert_eq!(store.events_in_range(None, None, None).count(), 52);
}

#[test]
fn bucket_boundaries_split_nothing_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Buckets are 10 minutes: 600 s. Events on both sides of two boundaries (one before 1970).
    let at = |id: &str, micros: i64| {
        let mut e = ev(Source::EntraSignin, id, 0);
        e.time = DateTime::from_timestamp_micros(micros).unwrap();
        e.actor.upn = Some("alice@contoso.com".into());
        e
    };
    let b = 600_000_000i64;
    let events = [
        at("before", b - 1),
        at("start", b),
        at("end", 2 * b - 1),
        at("next", 2 * b),
        at("neg-last", -1),
        at("zero", 0),
        at("neg-first", -b),
    ];
    // In two batches, so that buckets also hold several chunks.
    store.insert_batch(&events[..3]).unwrap();
    store.insert_batch(&events[3..]).unwrap();
    let time = |m: i64| Some(DateTime::from_timestamp_micros(m).unwrap());
    assert_eq!(
        ids(store.events_in_range(None, None, None)),
        [
            "neg-first",
            "neg-last",
            "zero",
            "before",
            "start",
            "end",
            "next"
        ]
    );
    assert_eq!(
        ids(store.events_in_range(None, time(b), time(2 * b))),
        ["start", "end"]
    );
    assert_eq!(
        ids(store.events_in_range_merged(time(b - 1), time(2 * b + 1))),
        ["before", "start", "end", "next"]
    );
    assert_eq!(
        ids(store.events_in_range(None, time(-1), time(1))),
        ["neg-last", "zero"]
    );
    let alice: EntityRef = "user:alice@contoso.com".parse().unwrap();
    assert_eq!(
        ids(store.events_for_entity(&alice, time(-b), time(0))),
        ["neg-first", "neg-last"]
    );
    assert_eq!(
        ids(store.events_for_entity(&alice, time(2 * b - 1), None)),
        ["end", "next"]
    );
    let s = store.entity_summary(&alice).unwrap().unwrap();
    assert_eq!(s.event_count, 7);
    assert_eq!(s.first_seen, time(-b).unwrap());
}

#[test]
fn token_summaries_are_computed_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut a = signin("1", 10, "alice@contoso.com", "203.0.113.5");
    a.tokens.session_id = Some("sess-1".into());
    let mut b = signin("2", 4000, "alice@contoso.com", "203.0.113.5");
    b.tokens.session_id = Some("sess-1".into());
    store.insert_batch(&[a, b]).unwrap();
    let token: EntityRef = "token:sess-1".parse().unwrap();
    let s = store.entity_summary(&token).unwrap().unwrap();
    assert_eq!(
        (s.first_seen, s.last_seen, s.event_count),
        (t(10), t(4000), 2)
    );
    assert!(store
        .entity_summary(&"token:nope".parse().unwrap())
        .unwrap()
        .is_none());
    assert_eq!(store.stats().unwrap().entities[&EntityType::Token], 0);
}
