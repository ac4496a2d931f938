//! `scan_chunks` and the read modes: every event of the range exactly once, with the same
//! `[from, to)` bounds as `events_in_range`; `WithoutRaw` is `Full` with `raw` emptied.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use skein_model::{Event, Source, WireShape};
use skein_store::{PerThread, ReadMode, ScanStats, Store, StoreError};

use super::{ev, open, open_sled, t};

/// Events of few ids over a few buckets (and far away), with a raw record.
fn scan_event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(Source::ALL.to_vec()),
        0u32..80,
        prop_oneof![
            4 => -1_800_000_000i64..3_600_000_000,
            1 => -62_135_596_800_000_000i64..253_402_300_799_000_000,
        ],
        0u32..1000,
        any::<String>(),
    )
        .prop_map(|(source, id, micros, nanos, raw)| {
            let time = DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::UNIX_EPOCH)
                + chrono::Duration::nanoseconds(nanos as i64);
            let mut e = Event::new(format!("e{id}"), source, WireShape::GraphSignin, time);
            e.actor.upn = Some(format!("user{}@contoso.com", id % 3));
            e.raw = raw;
            e
        })
}

/// A bound: none, exactly an event's time (to test the edges), or any time near the events.
fn bound() -> impl Strategy<Value = (Option<usize>, Option<i64>)> {
    prop_oneof![
        Just((None, None)),
        any::<usize>().prop_map(|i| (Some(i), None)),
        (-2_000_000_000i64..4_000_000_000).prop_map(|m| (None, Some(m))),
    ]
}

fn pick(b: (Option<usize>, Option<i64>), events: &[Event]) -> Option<DateTime<Utc>> {
    match b {
        (Some(i), _) => Some(events[i % events.len()].time),
        (None, Some(m)) => DateTime::from_timestamp_micros(m),
        (None, None) => None,
    }
}

/// Everything `scan_chunks` handed over, checking each call on the way.
fn scan(
    store: &Store,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    mode: ReadMode,
    threads: usize,
) -> (Vec<Event>, ScanStats) {
    let calls: Mutex<Vec<Vec<Event>>> = Mutex::new(Vec::new());
    let stats = store
        .scan_chunks(from, to, mode, threads, |events| {
            calls.lock().unwrap().push(events.to_vec())
        })
        .unwrap();
    let calls = calls.into_inner().unwrap();
    for call in &calls {
        assert!(!call.is_empty());
        let bucket = |e: &Event| e.time.timestamp_micros().div_euclid(600_000_000);
        assert!(call
            .iter()
            .all(|e| e.source == call[0].source && bucket(e) == bucket(&call[0])));
        assert!(call
            .windows(2)
            .all(|w| w[0].time.timestamp_micros() <= w[1].time.timestamp_micros()));
    }
    (calls.into_iter().flatten().collect(), stats)
}

fn by_identity(events: Vec<Event>) -> BTreeMap<(u8, String), Event> {
    let n = events.len();
    let map: BTreeMap<_, _> = events
        .into_iter()
        .map(|e| ((e.source.tag(), e.id.clone()), e))
        .collect();
    assert_eq!(map.len(), n, "an event came twice");
    map
}

fn strip(mut events: BTreeMap<(u8, String), Event>) -> BTreeMap<(u8, String), Event> {
    for e in events.values_mut() {
        e.raw.clear();
    }
    events
}

#[test]
fn scans_cover_every_event_of_the_range_once() {
    proptest!(ProptestConfig::with_cases(40), |(
        events in proptest::collection::vec(scan_event(), 1..150),
        batch in 1usize..60,
        from in bound(),
        to in bound(),
        threads in 0usize..4,
    )| {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        for part in events.chunks(batch) {
            store.insert_batch(part).unwrap();
        }
        let (from, to) = (pick(from, &events), pick(to, &events));
        let mut stored = BTreeMap::new();
        for e in &events {
            stored.entry((e.source.tag(), e.id.clone())).or_insert_with(|| e.clone());
        }
        let want: BTreeMap<_, _> = stored
            .into_iter()
            .filter(|(_, e)| from.is_none_or(|f| e.time >= f) && to.is_none_or(|u| e.time < u))
            .collect();

        let (full, stats) = scan(&store, from, to, ReadMode::Full, threads);
        prop_assert_eq!(stats.events, want.len() as u64);
        prop_assert!(stats.bytes > 0 || stats.chunks == 0);
        let full = by_identity(full);
        prop_assert_eq!(&full, &want);
        let ranged = store
            .events_in_range_with(None, from, to, ReadMode::Full)
            .map(|e| e.unwrap())
            .collect();
        prop_assert_eq!(&by_identity(ranged), &want);

        let (lean, lean_stats) = scan(&store, from, to, ReadMode::WithoutRaw, threads);
        prop_assert_eq!((lean_stats.chunks, lean_stats.events), (stats.chunks, stats.events));
        // Without raws, only the `chunks` values are read.
        prop_assert!(lean_stats.bytes < stats.bytes || stats.chunks == 0);
        let want_lean = strip(want);
        prop_assert_eq!(&by_identity(lean), &want_lean);
        let merged: Vec<Event> = store
            .events_in_range_merged_with(from, to, ReadMode::WithoutRaw)
            .map(|e| e.unwrap())
            .collect();
        prop_assert!(merged.windows(2).all(|w| w[0].time <= w[1].time));
        prop_assert_eq!(&by_identity(merged), &want_lean);
    });
}

#[test]
fn read_modes_apply_to_every_range_api_but_get_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut a = super::signin("a", 10, "alice@contoso.com", "203.0.113.5");
    a.raw = "{\"id\":\"a\"}".into();
    store.insert_batch(std::slice::from_ref(&a)).unwrap();
    let user = "user:alice@contoso.com".parse().unwrap();
    let lean: Vec<Event> = store
        .events_for_entity_with(&user, None, None, ReadMode::WithoutRaw)
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(lean.len(), 1);
    assert_eq!(lean[0].raw, "");
    assert_eq!(lean[0].actor, a.actor);
    let full: Vec<Event> = store
        .events_for_entity(&user, None, None)
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(full, vec![a.clone()]);
    assert_eq!(
        store
            .events_in_range(None, None, None)
            .next()
            .unwrap()
            .unwrap(),
        a
    );
    assert_eq!(store.get_event(Source::EntraSignin, "a").unwrap(), Some(a));
}

#[test]
fn scan_bounds_are_from_inclusive_to_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .insert_batch(&[
            ev(Source::Cloudtrail, "c1", -1),
            ev(Source::Cloudtrail, "c2", 600),
            ev(Source::Cloudtrail, "c3", 1200),
            ev(Source::EntraSignin, "e1", 600),
        ])
        .unwrap();
    let ids = |from, to| {
        let (events, _) = scan(&store, from, to, ReadMode::WithoutRaw, 2);
        let mut ids: Vec<String> = events.into_iter().map(|e| e.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(Some(t(600)), Some(t(1200))), ["c2", "e1"]);
    assert_eq!(ids(None, Some(t(600))), ["c1"]);
    assert_eq!(ids(Some(t(0)), None), ["c2", "c3", "e1"]);
    assert!(ids(Some(t(601)), Some(t(1200))).is_empty());
    assert!(ids(Some(t(700)), Some(t(600))).is_empty());
    let empty = tempfile::tempdir().unwrap();
    let (events, stats) = scan(&open(empty.path()), None, None, ReadMode::Full, 3);
    assert!(events.is_empty());
    assert_eq!(stats, ScanStats::default());
}

#[test]
fn scans_of_some_sources_read_only_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .insert_batch(&[
            ev(Source::Cloudtrail, "c1", 0),
            ev(Source::EntraSignin, "e1", 0),
            ev(Source::StorageBlob, "b1", 0),
            ev(Source::EntraSignin, "e2", 900),
        ])
        .unwrap();
    let got = Mutex::new(Vec::new());
    let stats = store
        .scan_chunks_of(
            &[Source::EntraSignin],
            None,
            None,
            ReadMode::WithoutRaw,
            2,
            |evs| {
                got.lock().unwrap().extend(evs.iter().map(|e| e.id.clone()));
            },
        )
        .unwrap();
    let mut ids = got.into_inner().unwrap();
    ids.sort();
    assert_eq!(ids, ["e1", "e2"]);
    assert_eq!(stats.events, 2);
    let none = store
        .scan_chunks_of(&[], None, None, ReadMode::Full, 2, |_| {
            panic!("nothing to read")
        })
        .unwrap();
    assert_eq!(none, ScanStats::default());
}

#[test]
fn per_thread_states_see_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let batch: Vec<Event> = (0..500)
        .map(|i| ev(Source::ALL[i as usize % 3], &format!("x{i}"), i * 37))
        .collect();
    store.insert_batch(&batch).unwrap();
    for threads in [1, 2, 3] {
        // Each state: the ids it saw, and how many calls it had.
        let (stats, states) = store
            .scan_chunks_with(
                &Source::ALL,
                None,
                None,
                ReadMode::WithoutRaw,
                threads,
                PerThread {
                    init: || (Vec::new(), 0usize),
                    each_chunk: |(ids, calls): &mut (Vec<String>, usize), events: &[Event]| {
                        *calls += 1;
                        ids.extend(events.iter().map(|e| e.id.clone()));
                    },
                },
            )
            .unwrap();
        assert_eq!(states.len(), threads);
        let mut ids: Vec<String> = states.iter().flat_map(|(ids, _)| ids.clone()).collect();
        ids.sort();
        let mut expected: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
        expected.sort();
        assert_eq!(ids, expected, "{threads} threads");
        assert_eq!(stats.events, 500);
        // A state is kept from one chunk to the next (500 events are many chunks).
        assert!(states.iter().map(|(_, calls)| calls).sum::<usize>() > threads);
    }
}

#[test]
fn a_corrupt_chunk_fails_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let batch: Vec<Event> = (0..300)
            .map(|i| ev(Source::Cloudtrail, &format!("c{i}"), i * 60))
            .collect();
        store.insert_batch(&batch).unwrap();
    }
    let db = open_sled(dir.path());
    let chunks = db.open_tree("chunks").unwrap();
    let raws = db.open_tree("chunk_raws").unwrap();
    let keys: Vec<sled::IVec> = chunks.iter().keys().take(2).map(|k| k.unwrap()).collect();
    let (k0, k1) = (&keys[0], &keys[1]);
    // The raw records of one chunk are lost, those of another damaged: only reads that want
    // them fail.
    raws.remove(k0).unwrap();
    raws.insert(k1, &[1u8, 9, 9][..]).unwrap();
    db.flush().unwrap();
    {
        drop((chunks, raws, db));
        let store = open(dir.path());
        let lean = store.scan_chunks(None, None, ReadMode::WithoutRaw, 2, |_| {});
        assert_eq!(lean.unwrap().events, 300);
        let err = store
            .scan_chunks(None, None, ReadMode::Full, 1, |_| {})
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                StoreError::Corrupt {
                    tree: "chunk_raws",
                    ..
                }
            ) && msg.contains("missing"),
            "{msg}"
        );
        assert!(store
            .events_in_range_with(None, None, None, ReadMode::WithoutRaw)
            .all(|e| e.is_ok()));
        assert!(store.events_in_range(None, None, None).any(|e| e.is_err()));
    }
    let db = open_sled(dir.path());
    let chunks = db.open_tree("chunks").unwrap();
    let key = chunks.iter().keys().nth(2).unwrap().unwrap();
    chunks.insert(key, &[2u8, 0, 0][..]).unwrap();
    db.flush().unwrap();
    drop((chunks, db));
    let store = open(dir.path());
    for threads in [1, 2] {
        let err = store
            .scan_chunks(None, None, ReadMode::WithoutRaw, threads, |_| {})
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { tree: "chunks", .. }),
            "{err}"
        );
    }
    assert!(store
        .events_in_range_with(None, None, None, ReadMode::WithoutRaw)
        .any(|e| e.is_err()));
}

#[test]
fn a_panic_in_the_callback_is_propagated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let batch: Vec<Event> = (0..300)
        .map(|i| ev(Source::Cloudtrail, &format!("c{i}"), i * 60))
        .collect();
    store.insert_batch(&batch).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.scan_chunks(None, None, ReadMode::Full, 2, |_| panic!("boom"))
    }));
    assert!(result.is_err());
    // The store is still usable.
    assert_eq!(
        store
            .scan_chunks(None, None, ReadMode::Full, 2, |_| {})
            .unwrap()
            .events,
        300
    );
}
