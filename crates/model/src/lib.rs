//! skein's canonical model (SPEC §3): the [`Event`] every wire shape is parsed into, the
//! [`Source`] it came from, the typed references to graph entities ([`EntityRef`]) and the
//! [`Finding`]s rules produce (SPEC §5).
//!
//! This crate owns plain data and the small amount of logic that belongs to the data itself
//! (entity ids, canonicalisation of user names and addresses). It must not do IO, parse wire
//! formats (that is `skein-ingest`) or know about storage (that is `skein-store`).
//!
//! Every event type here round-trips through both `serde_json` and `postcard` (the store's
//! encoding), so no field uses `skip_serializing_if`, `flatten` or untagged enums. Findings
//! ([`Finding`]) are JSON only: their `fields` are free-form. [`FindingEntity`] also goes
//! into the correlation state's postcard, with its `name` always in place there.
//!
//! The hot encodings of this data are also here, beside the types whose every field they
//! name (a field added and not encoded does not compile), each checked against serde by
//! property tests: [`EventsInPlace`] decodes the postcard of a `Vec<Event>` over events
//! decoded before; [`Finding::write_json`], [`Finding::from_json`] and the pieces in
//! [`json_text`] write and read JSON byte for byte as serde_json does. They take and give
//! bytes: where the bytes are kept is still `skein-store`'s business.

mod entity;
mod event;
mod finding;
mod finding_json;
mod finding_read;
mod in_place;
pub mod json_text;
pub mod text;
pub mod time;

pub use entity::{EntityParseError, EntityRef, EntityType};
pub use event::{
    Actor, Event, Geo, Outcome, Risk, SigninDetails, Source, Target, Tenants, Tokens, WireShape,
};
pub use finding::{EntityRole, Finding, FindingEntity, Severity};
pub use in_place::{EventsDecodeError, EventsInPlace};
