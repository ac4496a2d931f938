//! Crashes at every step of a write: nothing is lost that was committed, nothing is doubled.
//!
//! A crash is simulated by making the write fail at a point ([`crate::write::CRASH_AT`]),
//! which drops the in-memory state unwritten, then closing and reopening the store, which sees
//! exactly what a killed process would have left in sled.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use chrono::{TimeZone, Utc};
use skein_model::{EntityRef, Event, Source, WireShape};

use crate::write::CRASH_AT;
use crate::{OpenOptions, Store};

/// The crash point is process-wide: these tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn signin(id: &str, secs: i64, upn: &str) -> Event {
    let time = Utc.timestamp_opt(secs, 0).single().unwrap();
    let mut e = Event::new(id.into(), Source::EntraSignin, WireShape::GraphSignin, time);
    e.actor.upn = Some(upn.into());
    e.src_ip = Some("203.0.113.5".parse().unwrap());
    e
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, OpenOptions::default()).unwrap()
}

fn check(store: &Store, events: u64, alice: u64) {
    assert_eq!(store.stats().unwrap().events[&Source::EntraSignin], events);
    assert_eq!(
        store.events_in_range(None, None, None).count() as u64,
        events
    );
    let user: EntityRef = "user:alice@contoso.com".parse().unwrap();
    let got = store
        .entity_summary(&user)
        .unwrap()
        .map_or(0, |s| s.event_count);
    assert_eq!(got, alice);
    assert_eq!(
        store.events_for_entity(&user, None, None).count() as u64,
        alice
    );
    let ip: EntityRef = "ip:203.0.113.5".parse().unwrap();
    let got = store
        .entity_summary(&ip)
        .unwrap()
        .map_or(0, |s| s.event_count);
    assert_eq!(got, events);
}

#[test]
fn a_crash_at_any_step_loses_and_doubles_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let b0: Vec<Event> = (0..3)
        .map(|i| signin(&format!("a{i}"), i * 700, "alice@contoso.com"))
        .collect();
    let b1: Vec<Event> = (0..4)
        .map(|i| signin(&format!("b{i}"), 5000 + i * 300, "alice@contoso.com"))
        .chain([signin("c", 9000, "bob@contoso.com")])
        .collect();
    for point in [1u8, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            store.insert_batch(&b0).unwrap();
            store.flush().unwrap();
            CRASH_AT.store(point, Ordering::SeqCst);
            let r = store.insert_batch(&b1).and_then(|_| store.flush());
            CRASH_AT.store(0, Ordering::SeqCst);
            assert!(r.is_err(), "crash point {point} was not reached");
            // The process "dies": the store closes without its in-memory state.
        }
        let store = open(dir.path());
        if point == 1 {
            // Before the commit point: the batch is lost, and ingesting it again stores it.
            check(&store, 3, 3);
            check_changes(&store, &[3]);
            let again = store.insert_batch(&b1).unwrap();
            assert_eq!((again.inserted, again.duplicates), (5, 0));
        } else {
            // After it: the batch is kept, its summaries are replayed exactly once.
            check(&store, 8, 7);
            check_changes(&store, &[3, 5]);
            let again = store.insert_batch(&b1).unwrap();
            assert_eq!((again.inserted, again.duplicates), (0, 5));
        }
        check(&store, 8, 7);
        check_changes(&store, &[3, 5]);
        drop(store);
        // And once more after a clean close.
        let store = open(dir.path());
        check(&store, 8, 7);
        check_changes(&store, &[3, 5]);
    }
}

/// The change log has one entry per stored batch, with these event counts, each entry at
/// the first seq of a stored chunk, and the change seq is the next chunk seq: an entry exists
/// exactly when its batch's chunks do.
fn check_changes(store: &Store, batches: &[u64]) {
    let mut chunk_seqs: Vec<u64> = store
        .chunk_ids
        .iter()
        .map(|kv| crate::keys::decode_chunk_key(&kv.unwrap().0).unwrap().2)
        .collect();
    chunk_seqs.sort_unstable();
    let next = chunk_seqs.last().map_or(0, |s| s + 1);
    assert_eq!(store.change_seq().unwrap(), next);
    let entries: Vec<u64> = store
        .changes
        .iter()
        .map(|kv| u64::from_be_bytes(kv.unwrap().0.as_ref().try_into().unwrap()))
        .collect();
    assert_eq!(entries.len(), batches.len(), "one entry per stored batch");
    for (i, &first) in entries.iter().enumerate() {
        assert!(chunk_seqs.contains(&first), "entry {first} names no chunk");
        let end = entries.get(i + 1).copied().unwrap_or(next);
        let summary = store.changes_since(first).unwrap();
        let after = store.changes_since(end).unwrap();
        assert_eq!(summary.events - after.events, batches[i]);
        assert_eq!(summary.batches - after.batches, 1);
    }
    let all = store.changes_since(0).unwrap();
    assert_eq!(all.events, batches.iter().sum::<u64>());
    assert_eq!(
        all.events,
        store.stats().unwrap().events[&Source::EntraSignin]
    );
}

#[test]
fn orphaned_index_runs_and_chunks_without_summaries_read_correctly() {
    // A crash right after the chunk transaction, without reopening: a fresh reader that
    // finds the summaries behind replays them before answering.
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .insert_batch(&[signin("x", 10, "alice@contoso.com")])
        .unwrap();
    CRASH_AT.store(2, Ordering::SeqCst);
    let r = store.insert_batch(&[signin("y", 20, "alice@contoso.com")]);
    CRASH_AT.store(0, Ordering::SeqCst);
    assert!(r.is_err());
    // Same process, state dropped: the next read reloads it from the database.
    check(&store, 2, 2);
    assert!(store.get_event(Source::EntraSignin, "y").unwrap().is_some());
}
