//! skein's canonical model (SPEC §3): the [`Event`] every wire shape is parsed into, the
//! [`Source`] it came from, and the typed references to graph entities ([`EntityRef`]).
//!
//! This crate owns plain data and the small amount of logic that belongs to the data itself
//! (entity ids, canonicalisation of user names and addresses). It must not do IO, parse wire
//! formats (that is `skein-ingest`) or know about storage (that is `skein-store`).
//!
//! Every type here round-trips through both `serde_json` and `postcard` (the store's encoding),
//! so no field uses `skip_serializing_if`, `flatten` or untagged enums.

mod entity;
mod event;

pub use entity::{EntityParseError, EntityRef, EntityType};
pub use event::{
    Actor, Event, Geo, Outcome, Risk, SigninDetails, Source, Target, Tenants, Tokens, WireShape,
};
