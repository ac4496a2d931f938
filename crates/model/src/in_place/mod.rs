//! Decoding the store's postcard encoding of events over events decoded before, keeping their
//! strings' buffers: a reader that decodes millions of events one chunk at a time would
//! otherwise allocate (and free) a string per field per event.
//!
//! The decoder is written by hand for the one layout it reads (a `Vec<Event>` as postcard
//! writes it through `Event`'s derived `Serialize`), not driven through serde: correlation
//! decodes every stored event, and serde's visitor machinery (a call per field through a
//! `SeqAccess`, in-place seeds for every `Option<String>`, since serde's `Option` has no
//! in-place form) cost more than the reading itself. What it reads is exactly what
//! `postcard::from_bytes::<Vec<Event>>` reads: the property tests below compare the two on
//! any events, and on damaged encodings of them (they agree on which bytes are an error).
//!
//! The layout, as postcard writes it: a struct is its fields in declaration order; a string
//! or a sequence is a varint length and then its bytes or elements; `Option` is a byte 0 or
//! 1, then the value; `bool` a byte 0 or 1; `f64` eight little-endian bytes; an enum a varint
//! variant index (`u32`), then the variant's content; `IpAddr` the variant `V4` or `V6`, then
//! 4 or 16 bytes; a time its RFC 3339 text. Each struct's field list below is checked
//! against the struct by a pattern without `..` (a field added to a struct and not here
//! does not compile).

mod reader;

use chrono::DateTime;

use crate::event::{Actor, Event, Geo, Outcome, Risk, SigninDetails, Target, Tenants, Tokens};
use crate::{Source, WireShape};
use reader::{Read, Reader};

/// Why bytes are not the encoding of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventsDecodeError {
    #[error("the bytes end inside {0}")]
    End(&'static str),
    #[error("{0}: a varint longer than its type")]
    Varint(&'static str),
    #[error("{0}: text that is not UTF-8")]
    Utf8(&'static str),
    #[error("{0}: a flag or option tag that is neither 0 nor 1")]
    Tag(&'static str),
    #[error("{0}: an unknown variant")]
    Variant(&'static str),
    #[error("{0}: not an RFC 3339 time")]
    Time(&'static str),
    #[error("{0} bytes after the last event")]
    Trailing(usize),
}

/// The events of one postcard `Vec<Event>` after another, decoded over the same events: the
/// events and strings of earlier decodes are kept (beyond the current count too) and
/// written over.
#[derive(Debug, Default)]
pub struct EventsInPlace {
    events: Vec<Event>,
    /// How many of `events` the last decode gave.
    len: usize,
    spare: Vec<String>,
}

impl EventsInPlace {
    /// Decodes `bytes`, which must be exactly the postcard encoding of a `Vec<Event>`, over
    /// the events held. After an error the events held are unspecified (but valid).
    pub fn decode(&mut self, bytes: &[u8]) -> Result<(), EventsDecodeError> {
        self.len = 0;
        let mut r = Reader {
            bytes,
            at: 0,
            spare: &mut self.spare,
        };
        let count = r.len("the event count")?;
        for i in 0..count {
            if i == self.events.len() {
                self.events.push(Event::new(
                    String::new(),
                    Source::EntraSignin,
                    WireShape::GraphSignin,
                    DateTime::UNIX_EPOCH,
                ));
            }
            r.event(&mut self.events[i])?;
            self.len = i + 1;
        }
        match bytes.len() - r.at {
            0 => Ok(()),
            n => Err(EventsDecodeError::Trailing(n)),
        }
    }

    /// The events of the last decode.
    pub fn events(&self) -> &[Event] {
        &self.events[..self.len]
    }

    /// The events of the last decode, to change (their order, their `raw`).
    pub fn events_mut(&mut self) -> &mut [Event] {
        &mut self.events[..self.len]
    }

    /// The events of the last decode, taken out.
    pub fn into_events(mut self) -> Vec<Event> {
        self.events.truncate(self.len);
        self.events
    }
}

/// Reads one struct's fields in declaration order, each with the [`Reader`] method named
/// beside it, the field's name (for errors) being `Type.field`.
macro_rules! fields {
    ($r:ident, $value:expr, $ty:ident { $($field:ident: $how:ident),+ $(,)? }) => {{
        let $ty { $($field),+ } = $value;
        $( $r.$how(concat!(stringify!($ty), ".", stringify!($field)), $field)?; )+
        Ok(())
    }};
}

/// The structs of an event, each read field by field.
impl Reader<'_, '_> {
    fn outcome(&mut self, _: &'static str, v: &mut Outcome) -> Read {
        fields!(
            self,
            v,
            Outcome {
                success: flag,
                error_code: opt_text,
                reason: opt_text,
            }
        )
    }

    fn actor(&mut self, _: &'static str, v: &mut Actor) -> Read {
        fields!(
            self,
            v,
            Actor {
                user_id: opt_text,
                upn: opt_text,
                display_name: opt_text,
                app_id: opt_text,
                app_name: opt_text,
                service_principal_id: opt_text,
                aws_arn: opt_text,
                aws_identity_type: opt_text,
                access_key_id: opt_text,
                aws_account_id: opt_text,
                role_session_name: opt_text,
                aws_user_name: opt_text,
                auth_type: opt_text,
                console_session: opt_flag,
            }
        )
    }

    fn geo(&mut self, _: &'static str, v: &mut Geo) -> Read {
        fields!(
            self,
            v,
            Geo {
                country: opt_text,
                state: opt_text,
                city: opt_text,
                latitude: opt_number,
                longitude: opt_number,
            }
        )
    }

    fn tenants(&mut self, _: &'static str, v: &mut Tenants) -> Read {
        fields!(
            self,
            v,
            Tenants {
                home: opt_text,
                resource: opt_text,
                home_blank: flag,
                resource_blank: flag,
                resource_inferred: flag,
            }
        )
    }

    fn tokens(&mut self, _: &'static str, v: &mut Tokens) -> Read {
        fields!(
            self,
            v,
            Tokens {
                unique_token_id: opt_text,
                session_id: opt_text,
                correlation_id: opt_text,
                token_hash: opt_text,
                aws_session_issuer: opt_text,
                issued_access_key_id: opt_text,
            }
        )
    }

    fn target(&mut self, _: &'static str, v: &mut Target) -> Read {
        fields!(
            self,
            v,
            Target {
                resource_id: opt_text,
                resource_name: opt_text,
                storage_account: opt_text,
                object: opt_text,
                service: opt_text,
                action: opt_text,
                region: opt_text,
                account_id: opt_text,
            }
        )
    }

    fn risk(&mut self, _: &'static str, v: &mut Risk) -> Read {
        fields!(
            self,
            v,
            Risk {
                level_during_signin: opt_text,
                level_aggregated: opt_text,
                state: opt_text,
                detail: opt_text,
                event_types: texts,
                event_types_text: opt_text,
                event_types_from_v1: flag,
            }
        )
    }

    fn signin(&mut self, _: &'static str, v: &mut SigninDetails) -> Read {
        fields!(
            self,
            v,
            SigninDetails {
                category: opt_text,
                client_app_used: opt_text,
                authentication_requirement: opt_text,
                conditional_access_status: opt_text,
                cross_tenant_access_type: opt_text,
                authentication_protocol: opt_text,
                is_interactive: opt_flag,
                user_type: opt_text,
            }
        )
    }

    fn event(&mut self, v: &mut Event) -> Read {
        fields!(
            self,
            v,
            Event {
                id: text,
                source: source,
                shape: shape,
                time: time,
                outcome: outcome,
                actor: actor,
                src_ip: opt_ip,
                src_host: opt_text,
                user_agent: opt_text,
                geo: geo,
                tenants: tenants,
                tokens: tokens,
                target: target,
                risk: risk,
                signin: signin,
                verbatim: pairs,
                raw: text,
            }
        )
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

    /// What kind of error, in words both decoders' errors map to.
    fn kind(e: &EventsDecodeError) -> &'static str {
        match e {
            EventsDecodeError::End(_) => "end",
            EventsDecodeError::Varint(_) => "varint",
            EventsDecodeError::Utf8(_) => "utf8",
            EventsDecodeError::Tag(_) => "tag",
            EventsDecodeError::Variant(_) | EventsDecodeError::Time(_) => "invalid value",
            EventsDecodeError::Trailing(_) => "trailing",
        }
    }

    /// postcard's own (serde) decoding, every byte used; an error as its [`kind`].
    fn serde_decode(bytes: &[u8]) -> Result<Vec<Event>, &'static str> {
        use postcard::Error as E;
        match postcard::take_from_bytes::<Vec<Event>>(bytes) {
            Ok((v, [])) => Ok(v),
            Ok(_) => Err("trailing"),
            Err(E::DeserializeUnexpectedEnd) => Err("end"),
            Err(E::DeserializeBadVarint) => Err("varint"),
            Err(E::DeserializeBadUtf8) => Err("utf8"),
            Err(E::DeserializeBadBool | E::DeserializeBadOption) => Err("tag"),
            Err(E::SerdeDeCustom) => Err("invalid value"),
            Err(_) => Err("other"),
        }
    }

    /// The same events (compared through their encoding: a damaged number may be a NaN).
    fn same(a: &[Event], b: &[Event]) -> bool {
        postcard::to_allocvec(a).unwrap() == postcard::to_allocvec(b).unwrap()
    }

    fn decode_over(
        bytes: &[u8],
        place: &mut EventsInPlace,
    ) -> Result<Vec<Event>, EventsDecodeError> {
        place.decode(bytes)?;
        Ok(place.events().to_vec())
    }

    /// The events held before, as a decoder that has decoded them.
    fn holding(earlier: &[Event]) -> EventsInPlace {
        let mut place = EventsInPlace::default();
        place
            .decode(&postcard::to_allocvec(earlier).unwrap())
            .unwrap();
        place
    }

    #[test]
    fn enum_variants_are_in_postcard_order() {
        for (i, s) in Source::ALL.iter().enumerate() {
            assert_eq!(postcard::to_allocvec(s).unwrap(), [i as u8]);
            // Every variant listed: a new one fails this match until it is added.
            let listed = match s {
                Source::EntraSignin | Source::StorageBlob | Source::Cloudtrail => true,
            };
            assert!(listed);
        }
        for (i, s) in WireShape::ALL.iter().enumerate() {
            assert_eq!(postcard::to_allocvec(s).unwrap(), [i as u8]);
            let listed = match s {
                WireShape::GraphSignin
                | WireShape::LogAnalytics
                | WireShape::Diagnostic
                | WireShape::CloudtrailRecord
                | WireShape::CloudtrailLookup
                | WireShape::EventBridge => true,
            };
            assert!(listed);
        }
    }

    #[test]
    fn errors_name_the_field() {
        let e = Event::new(
            "x".into(),
            Source::Cloudtrail,
            WireShape::EventBridge,
            chrono::DateTime::UNIX_EPOCH,
        );
        let bytes = postcard::to_allocvec(&vec![e]).unwrap();
        let mut place = EventsInPlace::default();
        assert_eq!(
            place.decode(&bytes[..5]),
            Err(EventsDecodeError::End("Event.time"))
        );
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(place.decode(&extra), Err(EventsDecodeError::Trailing(1)));
        // A length of ten varint bytes whose last one holds more than a u64's last bit.
        let mut long = vec![0xffu8; 9];
        long.push(0x02);
        assert_eq!(
            place.decode(&long),
            Err(EventsDecodeError::Varint("the event count"))
        );
        assert_eq!(serde_decode(&long).map(|_| ()), Err("varint"));
        place.decode(&bytes).unwrap();
        assert_eq!(place.events().len(), 1);
    }

    proptest! {
        /// Decoding over any earlier events gives exactly what postcard's own (serde)
        /// decoding gives.
        #[test]
        fn decoding_over_earlier_events_equals_decoding_with_serde(
            events in prop::collection::vec(event(), 0..6),
            earlier in prop::collection::vec(event(), 0..6),
        ) {
            let bytes = postcard::to_allocvec(&events).unwrap();
            let mut place = holding(&earlier);
            let decoded = decode_over(&bytes, &mut place).unwrap();
            prop_assert_eq!(&decoded, &events);
            let fresh: Vec<Event> = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(decoded, fresh);
            prop_assert_eq!(place.into_events(), events);
        }

        /// Damaged encodings (bytes changed, cut or inserted) are errors of the same kind as
        /// serde's decoding gives (the first wrong byte is found at the same field), and
        /// decode to the same events when they are not errors.
        #[test]
        fn damaged_encodings_decode_as_with_serde(
            events in prop::collection::vec(event(), 1..4),
            earlier in prop::collection::vec(event(), 0..4),
            damage in prop::collection::vec(
                (any::<prop::sample::Index>(), prop_oneof![0u8..3, 0x7fu8..0x82, any::<u8>()], 0u8..3),
                1..4,
            ),
        ) {
            let mut bytes = postcard::to_allocvec(&events).unwrap();
            for (at, byte, how) in damage {
                let i = at.index(bytes.len().max(1));
                match how {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i.min(bytes.len()), byte),
                }
            }
            let mut place = holding(&earlier);
            let ours = decode_over(&bytes, &mut place);
            let serde = serde_decode(&bytes);
            match (ours, serde) {
                (Ok(a), Ok(b)) => prop_assert!(same(&a, &b)),
                (Err(a), Err(b)) => prop_assert_eq!(kind(&a), b, "{}", a),
                (a, b) => prop_assert!(false, "ours {:?}, serde {:?}", a, b),
            }
        }

        /// Arbitrary bytes never panic, over any earlier events.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..400),
            earlier in prop::collection::vec(event(), 0..3),
        ) {
            let mut place = holding(&earlier);
            let ours = decode_over(&bytes, &mut place).map_err(|e| kind(&e));
            prop_assert_eq!(ours.map(|_| ()), serde_decode(&bytes).map(|_| ()));
        }
    }
}
