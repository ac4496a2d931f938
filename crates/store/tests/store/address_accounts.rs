//! Accounts by address: what `accounts_at_address` counts is what the stored events say,
//! over whole buckets; stores with events from before them answer `None`.

use std::collections::BTreeSet;

use proptest::prelude::*;
use skein_model::{EntityRef, Event, Source};
use skein_store::keys;

use super::{ev, open, signin, t};

fn succeeded(id: &str, secs: i64, upn: &str) -> Event {
    let mut e = signin(id, secs, upn, "203.0.113.5");
    e.outcome.success = true;
    e
}

/// What the hub check counted by reading events: distinct lower-cased accounts of the
/// successful events of `ip` whose bucket lies in the buckets of `from..=to`, up to `cap`.
fn counted_from_events(
    events: &[Event],
    ip: &str,
    (from, to): (Option<i64>, Option<i64>),
    cap: usize,
) -> usize {
    let bucket = |secs: i64| keys::bucket_of(secs * 1_000_000);
    let (lo, hi) = (from.map(bucket), to.map(bucket));
    let want: std::net::IpAddr = ip.parse().unwrap();
    let accounts: BTreeSet<String> = events
        .iter()
        .filter(|e| e.src_ip == Some(want) && e.outcome.success)
        .filter(|e| {
            let b = keys::bucket_of(keys::micros(&e.time));
            lo.is_none_or(|lo| b >= lo) && hi.is_none_or(|hi| b <= hi)
        })
        .filter_map(|e| e.account().map(str::to_lowercase))
        .collect();
    accounts.len().min(cap)
}

const ADDRESSES: [&str; 3] = ["203.0.113.5", "2001:db8::7", "198.51.100.9"];

prop_compose! {
    fn event(n: usize)(
        ip in 0..ADDRESSES.len(),
        account in 0..6usize,
        field in 0..4usize,
        loud in any::<bool>(),
        success in any::<bool>(),
        secs in 0i64..6 * 3600,
        cloudtrail in any::<bool>(),
    ) -> Event {
        let source = if cloudtrail { Source::Cloudtrail } else { Source::EntraSignin };
        let mut e = ev(source, &format!("e{n}"), secs);
        e.src_ip = Some(ADDRESSES[ip].parse().unwrap());
        e.outcome.success = success;
        let name = format!("Account{account}");
        let name = if loud { name } else { name.to_lowercase() };
        match field {
            0 => e.actor.user_id = Some(name),
            1 => e.actor.upn = Some(name),
            2 => e.actor.aws_arn = Some(name),
            _ => e.actor.access_key_id = Some(name),
        }
        e
    }
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    (0..60usize).prop_flat_map(|n| (0..n).map(event).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Over events stored in several batches, the count equals the events' count for any
    /// window and cap.
    #[test]
    fn counts_agree_with_the_events(
        events in events(),
        cut in 0usize..60,
        from in proptest::option::of(0i64..6 * 3600),
        span in 0i64..4 * 3600,
        bounded in any::<bool>(),
        cap in 1usize..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let cut = cut.min(events.len());
        store.insert_batch(&events[..cut]).unwrap();
        store.insert_batch(&events[cut..]).unwrap();
        let to = if bounded { Some(from.unwrap_or(0) + span) } else { None };
        for ip in ADDRESSES {
            let r: EntityRef = format!("ip:{ip}").parse().unwrap();
            let got = store
                .accounts_at_address(&r, (from.map(t), to.map(t)), cap)
                .unwrap();
            prop_assert_eq!(got, Some(counted_from_events(&events, ip, (from, to), cap)), "{}", ip);
        }
    }
}

#[test]
fn a_store_with_events_from_before_them_answers_none() {
    let dir = tempfile::tempdir().unwrap();
    let ip: EntityRef = "ip:203.0.113.5".parse().unwrap();
    {
        let store = open(dir.path());
        // Empty: nothing to miss.
        assert_eq!(
            store.accounts_at_address(&ip, (None, None), 50).unwrap(),
            Some(0)
        );
        store
            .insert_batch(&[succeeded("s1", 10, "alice@contoso.com")])
            .unwrap();
        assert_eq!(
            store.accounts_at_address(&ip, (None, None), 50).unwrap(),
            Some(1)
        );
        // Not an address: none.
        let user: EntityRef = "user:alice@contoso.com".parse().unwrap();
        assert_eq!(
            store.accounts_at_address(&user, (None, None), 50).unwrap(),
            Some(0)
        );
    }
    // What an older build left: the chunk, without its entries or the mark.
    skein_store::forget_accounts_by_address(dir.path()).unwrap();
    let store = open(dir.path());
    assert_eq!(
        store.accounts_at_address(&ip, (None, None), 50).unwrap(),
        None
    );
    // A batch written now is marked from its own chunks: still incomplete.
    store
        .insert_batch(&[succeeded("s2", 20, "bob@contoso.com")])
        .unwrap();
    assert_eq!(
        store.accounts_at_address(&ip, (None, None), 50).unwrap(),
        None
    );
}
