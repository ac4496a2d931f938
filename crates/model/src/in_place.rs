//! Decoding events over events decoded before, keeping their strings' buffers: a reader that
//! decodes millions of events one chunk at a time allocates (and frees) a string per field
//! per event otherwise, about a third of what reading costs.
//!
//! For sequence formats only (postcard, the store's encoding), which give a struct's fields in
//! declaration order. Why not serde's own `deserialize_in_place` (derive feature): it rebuilds
//! every `Option<String>` (serde's `Option` has no in-place form), and nearly every field here
//! is one. Each struct's field list is checked against the struct by a pattern without `..`
//! (a field added to a struct and not here does not compile); the order is checked by the
//! round-trip property tests (`tests` below).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::event::{Actor, Event, Geo, Outcome, Risk, SigninDetails, Target, Tenants, Tokens};

/// A value decoded fresh into its place (numbers, flags, enums, times, addresses).
struct Fresh<'a, T>(&'a mut T);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Fresh<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        *self.0 = T::deserialize(d)?;
        Ok(())
    }
}

/// A time, read as [`crate::time::deserialize`] reads it.
struct Time<'a>(&'a mut chrono::DateTime<chrono::Utc>);

impl<'de> DeserializeSeed<'de> for Time<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        *self.0 = crate::time::deserialize(d)?;
        Ok(())
    }
}

/// A value with serde's own in-place form (`String` keeps its buffer; `Vec<String>` and
/// `Vec<(String, String)>` keep their elements').
struct Reuse<'a, T>(&'a mut T);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Reuse<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        T::deserialize_in_place(d, self.0)
    }
}

/// An optional string: a string already there keeps its buffer.
struct OptText<'a>(&'a mut Option<String>);

impl<'de> DeserializeSeed<'de> for OptText<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptText<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an optional string")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.0 {
            Some(s) => String::deserialize_in_place(d, s),
            None => {
                *self.0 = Some(String::deserialize(d)?);
                Ok(())
            }
        }
    }
}

/// An in-place seed for a struct: its fields in declaration order, each with the seed that
/// decodes it (`Fresh`, `Reuse`, `OptText`, or another struct's seed).
macro_rules! in_place_struct {
    ($seed:ident, $ty:ident, [$($field:ident: $how:ident),+ $(,)?]) => {
        pub(crate) struct $seed<'a>(pub(crate) &'a mut $ty);

        impl<'de> DeserializeSeed<'de> for $seed<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                const FIELDS: &[&str] = &[$(stringify!($field)),+];
                d.deserialize_struct(stringify!($ty), FIELDS, self)
            }
        }

        impl<'de> Visitor<'de> for $seed<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "struct {}", stringify!($ty))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                // Every field named, none left out (no `..`): adding a field to the struct
                // without adding it here does not compile.
                let $ty { $($field),+ } = self.0;
                let mut at = 0;
                $(
                    if seq.next_element_seed($how($field))?.is_none() {
                        return Err(de::Error::invalid_length(
                            at,
                            &concat!("the fields of ", stringify!($ty)),
                        ));
                    }
                    at += 1;
                )+
                let _ = at;
                Ok(())
            }
        }
    };
}

in_place_struct!(OutcomeSeed, Outcome, [
    success: Fresh,
    error_code: OptText,
    reason: OptText,
]);

in_place_struct!(ActorSeed, Actor, [
    user_id: OptText,
    upn: OptText,
    display_name: OptText,
    app_id: OptText,
    app_name: OptText,
    service_principal_id: OptText,
    aws_arn: OptText,
    aws_identity_type: OptText,
    access_key_id: OptText,
    aws_account_id: OptText,
    role_session_name: OptText,
    aws_user_name: OptText,
    auth_type: OptText,
    console_session: Fresh,
]);

in_place_struct!(GeoSeed, Geo, [
    country: OptText,
    state: OptText,
    city: OptText,
    latitude: Fresh,
    longitude: Fresh,
]);

in_place_struct!(TenantsSeed, Tenants, [
    home: OptText,
    resource: OptText,
    home_blank: Fresh,
    resource_blank: Fresh,
    resource_inferred: Fresh,
]);

in_place_struct!(TokensSeed, Tokens, [
    unique_token_id: OptText,
    session_id: OptText,
    correlation_id: OptText,
    token_hash: OptText,
    aws_session_issuer: OptText,
    issued_access_key_id: OptText,
]);

in_place_struct!(TargetSeed, Target, [
    resource_id: OptText,
    resource_name: OptText,
    storage_account: OptText,
    object: OptText,
    service: OptText,
    action: OptText,
    region: OptText,
    account_id: OptText,
]);

in_place_struct!(RiskSeed, Risk, [
    level_during_signin: OptText,
    level_aggregated: OptText,
    state: OptText,
    detail: OptText,
    event_types: Reuse,
    event_types_text: OptText,
    event_types_from_v1: Fresh,
]);

in_place_struct!(SigninSeed, SigninDetails, [
    category: OptText,
    client_app_used: OptText,
    authentication_requirement: OptText,
    conditional_access_status: OptText,
    cross_tenant_access_type: OptText,
    authentication_protocol: OptText,
    is_interactive: Fresh,
    user_type: OptText,
]);

in_place_struct!(EventSeed, Event, [
    id: Reuse,
    source: Fresh,
    shape: Fresh,
    time: Time,
    outcome: OutcomeSeed,
    actor: ActorSeed,
    src_ip: Fresh,
    src_host: OptText,
    user_agent: OptText,
    geo: GeoSeed,
    tenants: TenantsSeed,
    tokens: TokensSeed,
    target: TargetSeed,
    risk: RiskSeed,
    signin: SigninSeed,
    verbatim: Reuse,
    raw: Reuse,
]);

/// A sequence of events decoded over `events` (the events there keep their buffers; the
/// vector ends with exactly as many events as were decoded).
pub struct EventsInPlace<'a>(pub &'a mut Vec<Event>);

impl<'de> DeserializeSeed<'de> for EventsInPlace<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EventsInPlace<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let events = self.0;
        let mut n = 0;
        loop {
            if n == events.len() {
                let mut fresh = Event::new(
                    String::new(),
                    crate::Source::EntraSignin,
                    crate::WireShape::GraphSignin,
                    chrono::DateTime::UNIX_EPOCH,
                );
                if seq.next_element_seed(EventSeed(&mut fresh))?.is_none() {
                    break;
                }
                events.push(fresh);
            } else if seq.next_element_seed(EventSeed(&mut events[n]))?.is_none() {
                break;
            }
            n += 1;
        }
        events.truncate(n);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Source, WireShape};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = Option<String>> {
        prop::option::of("[a-zA-Z0-9 é@.:-]{0,16}")
    }

    prop_compose! {
        fn event()(
            id in "[a-z0-9-]{0,12}",
            source in prop::sample::select(Source::ALL.to_vec()),
            shape in prop::sample::select(vec![
                WireShape::GraphSignin, WireShape::Diagnostic, WireShape::CloudtrailLookup]),
            secs in 0i64..4_000_000_000,
            nanos in 0u32..1_000_000_000,
            texts in prop::collection::vec(text(), 48),
            flags in prop::collection::vec(any::<bool>(), 8),
            maybe in prop::collection::vec(prop::option::of(any::<bool>()), 2),
            coords in prop::collection::vec(prop::option::of(-180.0f64..180.0), 2),
            ip in prop::option::of(any::<std::net::IpAddr>()),
            event_types in prop::collection::vec("[a-z]{0,8}", 0..3),
            verbatim in prop::collection::vec(("[a-z]{1,6}", "[a-z0-9]{0,6}"), 0..3),
            raw in "[ -~]{0,40}",
        ) -> Event {
            let mut e = Event::new(
                id, source, shape,
                chrono::Utc.timestamp_opt(secs, nanos).single().unwrap_or_default(),
            );
            let mut t = texts.into_iter();
            let mut next = || t.next().flatten();
            e.outcome = Outcome { success: flags[0], error_code: next(), reason: next() };
            e.actor = Actor {
                user_id: next(), upn: next(), display_name: next(), app_id: next(),
                app_name: next(), service_principal_id: next(), aws_arn: next(),
                aws_identity_type: next(), access_key_id: next(), aws_account_id: next(),
                role_session_name: next(), aws_user_name: next(), auth_type: next(),
                console_session: maybe[0],
            };
            e.src_ip = ip;
            e.src_host = next();
            e.user_agent = next();
            e.geo = Geo {
                country: next(), state: next(), city: next(),
                latitude: coords[0], longitude: coords[1],
            };
            e.tenants = Tenants {
                home: next(), resource: next(), home_blank: flags[1],
                resource_blank: flags[2], resource_inferred: flags[3],
            };
            e.tokens = Tokens {
                unique_token_id: next(), session_id: next(), correlation_id: next(),
                token_hash: next(), aws_session_issuer: next(), issued_access_key_id: next(),
            };
            e.target = Target {
                resource_id: next(), resource_name: next(), storage_account: next(),
                object: next(), service: next(), action: next(), region: next(),
                account_id: next(),
            };
            e.risk = Risk {
                level_during_signin: next(), level_aggregated: next(), state: next(),
                detail: next(), event_types, event_types_text: next(),
                event_types_from_v1: flags[4],
            };
            e.signin = SigninDetails {
                category: next(), client_app_used: next(),
                authentication_requirement: next(), conditional_access_status: next(),
                cross_tenant_access_type: next(), authentication_protocol: next(),
                is_interactive: maybe[1], user_type: next(),
            };
            e.verbatim = verbatim;
            e.raw = raw;
            e
        }
    }

    fn decode_over(bytes: &[u8], events: &mut Vec<Event>) -> postcard::Result<()> {
        let mut de = postcard::Deserializer::from_bytes(bytes);
        EventsInPlace(events).deserialize(&mut de)?;
        match de.finalize()? {
            [] => Ok(()),
            _ => Err(postcard::Error::DeserializeBadEncoding),
        }
    }

    proptest! {
        /// Decoding over any earlier events gives exactly what decoding fresh gives.
        #[test]
        fn decoding_over_earlier_events_equals_decoding_fresh(
            events in prop::collection::vec(event(), 0..6),
            earlier in prop::collection::vec(event(), 0..6),
        ) {
            let bytes = postcard::to_allocvec(&events).unwrap();
            let mut place = earlier;
            decode_over(&bytes, &mut place).unwrap();
            prop_assert_eq!(&place, &events);
            let fresh: Vec<Event> = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(place, fresh);
        }

        /// Damaged bytes never panic, over any earlier events.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..400),
            earlier in prop::collection::vec(event(), 0..3),
        ) {
            let mut place = earlier;
            let _ = decode_over(&bytes, &mut place);
        }
    }
}
