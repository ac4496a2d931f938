//! skein's rules (SPEC §4): per-event detections written in Sigma, evaluated over the
//! canonical model, and the findings they produce (SPEC §5).
//!
//! - [`fields`]: the names rules use for fields (canonical names, the Elastic integration's
//!   names, the source's own names) — the mapping that lets SigmaHQ's cloud rules load
//!   unchanged and lets the seed ports read fields exactly as their platforms did;
//! - [`view`]: an event seen through those names, for the Sigma evaluator;
//! - [`spec`]: the `skein:` block a rule adds to Sigma (criteria, scores, lists, summary);
//! - [`lists`]: allow-lists and match lists from `correlations/lists/`;
//! - [`load`]: rule and list texts → [`RuleSet`] plus diagnostics with file and line;
//! - [`correlation`]: multi-event rules (Sigma correlations and skein's absence, geo
//!   velocity and chains) over the per-event matches, in time order;
//! - [`engine`]: evaluation of a [`RuleSet`] over events → findings and per-rule counts;
//! - [`fixtures`]: records in, exact findings out, for `skein rules test`.
//!
//! Sigma is parsed and evaluated by the maintained `rsigma-parser` / `rsigma-eval` crates; this
//! crate adds only what Sigma has no word for (scores, entity roles, list membership, the
//! field mapping). It does no IO: callers read the files and the store. Rule files cannot run
//! code — they are YAML data compiled into matchers.

pub mod correlation;
pub mod engine;
mod fast;
pub mod fields;
pub mod finding;
mod finding_fields;
mod fingerprint;
pub mod fixtures;
pub mod lists;
pub mod load;
mod placeholders;
pub mod rule;
pub mod spec;
pub mod view;

pub use correlation::{Correlation, Correlator, Signal};
pub use engine::{EncodedFinding, EvalStats, FindingEncodeError, RuleCounts, RuleSet};
pub use fast::Memo;
pub use finding::FindingScratch;
pub use load::{load, Diagnostic, SourceText};
pub use rule::Rule;
