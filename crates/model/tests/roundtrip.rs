//! The model's promises: every type round-trips through JSON and postcard (the store's
//! encoding), and `TYPE:ID` references parse back from their display form.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use skein_model::{EntityRef, EntityType, Event, Source, WireShape};

fn any_source() -> impl Strategy<Value = Source> {
    prop::sample::select(Source::ALL.to_vec())
}

fn any_entity_type() -> impl Strategy<Value = EntityType> {
    prop::sample::select(EntityType::ALL.to_vec())
}

fn any_event() -> impl Strategy<Value = Event> {
    (
        "[a-zA-Z0-9-]{1,40}",
        any_source(),
        -2_000_000_000i64..4_000_000_000i64,
        any::<bool>(),
        proptest::option::of("[A-Za-z0-9]{1,8}"),
        proptest::option::of("[a-z]{1,8}@[a-z]{1,8}\\.com"),
        proptest::option::of(any::<[u8; 4]>()),
        proptest::option::of(-90.0f64..90.0),
        prop::collection::vec("[a-zA-Z]{1,20}", 0..4),
        ".{0,200}",
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(id, source, secs, success, code, upn, ip, lat, risks, raw, console)| {
                let time = Utc.timestamp_opt(secs, 0).single().unwrap_or_default();
                let mut e = Event::new(id, source, WireShape::GraphSignin, time);
                e.outcome.success = success;
                e.outcome.error_code = code;
                e.actor.upn = upn;
                e.actor.console_session = console;
                e.src_ip = ip.map(std::net::IpAddr::from);
                e.geo.latitude = lat;
                e.risk.event_types = risks;
                e.raw = raw;
                e
            },
        )
}

proptest! {
    #[test]
    fn events_round_trip_through_json_and_postcard(event in any_event()) {
        let json = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &event);
        let bytes = postcard::to_allocvec(&event).unwrap();
        let back: Event = postcard::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back, event);
    }

    #[test]
    fn entity_references_never_panic_and_round_trip(text in ".{0,60}", ty in any_entity_type(), id in "[a-zA-Z0-9@._-]{1,40}") {
        let _ = text.parse::<EntityRef>();
        if let Some(e) = EntityRef::new(ty, &id) {
            let back: EntityRef = e.to_string().parse().unwrap();
            prop_assert_eq!(back, e);
        }
    }
}

#[test]
fn source_names_and_tags_are_stable() {
    for s in Source::ALL {
        assert_eq!(Source::from_tag(s.tag()), Some(s));
        assert_eq!(s.as_str().parse::<Source>(), Ok(s));
    }
    assert_eq!("entra".parse::<Source>(), Ok(Source::EntraSignin));
    assert!("gcp".parse::<Source>().is_err());
}
