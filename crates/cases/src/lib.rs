//! skein's entity graph and cases (SPEC §3, §5).
//!
//! It owns
//! - [`EntityGraph`]: entities of the findings as petgraph nodes, identities resolved (a
//!   user's UPN is an alias of its object id), and every link with its reason (named together
//!   by a finding; an AWS role session or principal named after an Entra UPN);
//! - [`build_cases`]: findings joined through attacker-side entities (the account that acted,
//!   the address it came from, an AWS key or session) within a window, never through targets
//!   of failed attempts, resources or hubs (addresses seen with too many accounts), with
//!   stable ids across runs, an explained score, ordered tactics, a timeline and a subgraph
//!   ([`plan_cases`] groups and names them first, so a caller can make them on several
//!   threads);
//! - the [`Case`] JSON model, and the [`CaseIndex`] stored beside each case.
//!
//! It must not do IO: the store's events and findings come in as values (the binary reads
//! them), and cases go out as values.

pub mod build;
pub mod export;
pub mod graph;
pub mod index;
pub mod model;
mod model_json;
pub mod score;

pub use build::{
    build_cases, plan_cases, CaseConfig, CasePlan, IssuedKey, Observed, PreviousCase, RuleInfo,
};
pub use export::{export, ExportError, Format};
pub use graph::{EntityGraph, EntityNode, Link, LinkKind};
pub use index::{entity_keys, CaseIndex};
pub use model::{
    Case, CaseEntity, CaseFinding, CaseGraph, GraphEdge, GraphNode, HubEntity, ScorePart,
    TimelineEntry,
};

/// The maps built while grouping and making cases, hashed with foldhash rather than std's
/// SipHash (~2% of a sweep). Seeded per process as std's are; no output depends on their
/// order (groups and members are sorted).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
