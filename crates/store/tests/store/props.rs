//! Arbitrary events round-trip through the store unchanged.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use skein_model::{
    Actor, EntityRef, EntityType, Event, Geo, Source, Target, Tenants, Tokens, WireShape,
};

use super::open;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9@._:/-]{0,24}",
        any::<String>().prop_map(|s| s.chars().take(24).collect()),
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn source() -> impl Strategy<Value = Source> {
    prop::sample::select(Source::ALL.to_vec())
}

fn shape() -> impl Strategy<Value = WireShape> {
    prop::sample::select(WireShape::ALL.to_vec())
}

/// Any time from year 1 to 9999, with nanoseconds.
fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap_or(DateTime::UNIX_EPOCH))
}

fn ip() -> impl Strategy<Value = Option<IpAddr>> {
    proptest::option::of(prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ])
}

fn coord() -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(-180.0f64..180.0)
}

prop_compose! {
    fn actor()(
        user_id in opt_text(), upn in opt_text(), app_id in opt_text(),
        spn in opt_text(), arn in opt_text(), key in opt_text(), session in opt_text(),
        console_session in proptest::option::of(any::<bool>()),
    ) -> Actor {
        Actor {
            user_id,
            upn,
            app_id,
            service_principal_id: spn,
            aws_arn: arn,
            access_key_id: key,
            role_session_name: session,
            console_session,
            ..Actor::default()
        }
    }
}

prop_compose! {
    fn place()(
        src_ip in ip(), src_host in opt_text(), user_agent in opt_text(),
        country in opt_text(), latitude in coord(), longitude in coord(),
    ) -> (Option<IpAddr>, Option<String>, Option<String>, Geo) {
        let geo = Geo { country, latitude, longitude, ..Geo::default() };
        (src_ip, src_host, user_agent, geo)
    }
}

prop_compose! {
    fn links()(
        home in opt_text(), resource in opt_text(),
        utid in opt_text(), sid in opt_text(), issued in opt_text(),
        storage in opt_text(), action in opt_text(),
    ) -> (Tenants, Tokens, Target) {
        (
            Tenants { home, resource, ..Tenants::default() },
            Tokens {
                unique_token_id: utid,
                session_id: sid,
                issued_access_key_id: issued,
                ..Tokens::default()
            },
            Target { storage_account: storage, action, ..Target::default() },
        )
    }
}

prop_compose! {
    fn event()(
        id in text(), source in source(), shape in shape(), time in time(),
        success in any::<bool>(), error_code in opt_text(),
        actor in actor(), place in place(), links in links(),
        risk_types in proptest::collection::vec(text(), 0..3),
        interactive in proptest::option::of(any::<bool>()),
        raw in any::<String>(),
    ) -> Event {
        let mut e = Event::new(id, source, shape, time);
        e.outcome.success = success;
        e.outcome.error_code = error_code;
        e.actor = actor;
        (e.src_ip, e.src_host, e.user_agent, e.geo) = place;
        (e.tenants, e.tokens, e.target) = links;
        e.risk.event_types = risk_types;
        e.signin.is_interactive = interactive;
        e.raw = raw;
        e
    }
}

#[test]
fn arbitrary_events_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // One store for every case; each case's ids get a unique prefix.
    let case = AtomicU64::new(0);
    proptest!(ProptestConfig::with_cases(64), |(events in proptest::collection::vec(event(), 1..8))| {
        let n = case.fetch_add(1, Ordering::Relaxed);
        let events: Vec<Event> = events
            .into_iter()
            .map(|mut e| {
                e.id = format!("{n}/{}", e.id);
                e
            })
            .collect();
        let out = store.insert_batch(&events).unwrap();
        prop_assert_eq!(out.inserted + out.duplicates, events.len() as u64);
        for e in &events {
            let first = events.iter().find(|o| o.source == e.source && o.id == e.id).unwrap();
            let stored = store.get_event(e.source, &e.id).unwrap();
            prop_assert_eq!(stored.as_ref(), Some(first));
            for ent in first.entities() {
                let s = store.entity_summary(&ent).unwrap();
                prop_assert!(s.is_some(), "no summary for {}", ent);
            }
        }
    });
    // Every stored event reads back in per-source time order.
    let mut last: Option<(Source, DateTime<Utc>)> = None;
    for e in store.events_in_range(None, None, None) {
        let e = e.unwrap();
        if let Some((s, t)) = last {
            if s == e.source {
                assert!(t.timestamp_micros() <= e.time.timestamp_micros());
            }
        }
        last = Some((e.source, e.time));
    }
}

/// Events of few ids over a few buckets (and far away), so that batches collide and buckets
/// hold many chunks.
fn clustered_event() -> impl Strategy<Value = Event> {
    (
        source(),
        0u32..60,
        prop_oneof![
            4 => -1_800_000_000i64..1_800_000_000,
            1 => -62_135_596_800_000_000i64..253_402_300_799_000_000,
        ],
        0u32..1000,
    )
        .prop_map(|(source, id, micros, nanos)| {
            let time = DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::UNIX_EPOCH)
                + chrono::Duration::nanoseconds(nanos as i64);
            let mut e = Event::new(format!("e{id}"), source, WireShape::GraphSignin, time);
            e.actor.upn = Some(format!("user{}@contoso.com", id % 3));
            e
        })
}

#[test]
fn chunks_round_trip_in_time_order_whatever_the_batches() {
    proptest!(ProptestConfig::with_cases(48), |(
        events in proptest::collection::vec(clustered_event(), 1..120),
        cuts in proptest::collection::vec(1usize..40, 1..10),
    )| {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut expected: Vec<Event> = Vec::new();
        let mut rest = &events[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            store.insert_batch(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        for e in &events {
            if !expected.iter().any(|o| o.source == e.source && o.id == e.id) {
                expected.push(e.clone());
            }
        }
        let key = |e: &Event| (e.time.timestamp_micros(), e.id.clone());
        for s in Source::ALL {
            let mut want: Vec<&Event> = expected.iter().filter(|e| e.source == s).collect();
            want.sort_by_key(|e| key(e));
            let got: Vec<Event> = store
                .events_in_range(Some(s), None, None)
                .map(|e| e.unwrap())
                .collect();
            prop_assert_eq!(got.iter().collect::<Vec<_>>(), want);
        }
        let order = |s: Source| Source::ALL.iter().position(|x| *x == s);
        let mut want: Vec<&Event> = expected.iter().collect();
        want.sort_by_key(|e| (e.time.timestamp_micros(), order(e.source), e.id.clone()));
        let got: Vec<Event> = store
            .events_in_range_merged(None, None)
            .map(|e| e.unwrap())
            .collect();
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), want.clone());
        // A window: exactly the events inside it.
        let from = DateTime::from_timestamp(-600, 0).unwrap();
        let to = DateTime::from_timestamp(1200, 0).unwrap();
        let inside: Vec<&Event> = want
            .iter()
            .copied()
            .filter(|e| e.time >= from && e.time < to)
            .collect();
        let got: Vec<Event> = store
            .events_in_range_merged(Some(from), Some(to))
            .map(|e| e.unwrap())
            .collect();
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), inside);
        // An entity's events, through the index (postings name chunks, several per bucket
        // when batches cut it): exactly those that mention it, in the same order.
        for u in 0..3 {
            let who = EntityRef::new(EntityType::User, &format!("user{u}@contoso.com")).unwrap();
            let theirs: Vec<&Event> = want.iter().copied().filter(|e| e.mentions(&who)).collect();
            let got: Vec<Event> = store
                .events_for_entity(&who, None, None)
                .map(|e| e.unwrap())
                .collect();
            prop_assert_eq!(got.iter().collect::<Vec<_>>(), theirs);
        }
        let stats = store.stats().unwrap();
        prop_assert_eq!(
            stats.events.values().sum::<u64>(),
            expected.len() as u64
        );
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The entity filter of the store's entity reads (`Event::mentions`) says yes exactly for
    /// the entities `Event::entities` lists (also for those of another event).
    #[test]
    fn mentions_agrees_with_the_entity_list(a in event(), b in event()) {
        let listed = a.entities();
        for r in listed.iter().chain(b.entities().iter()) {
            prop_assert_eq!(a.mentions(r), listed.contains(r), "{}", r);
        }
    }
}
