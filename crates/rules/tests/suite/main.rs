//! The integration tests of `skein-rules`, in one test binary (one link instead of seven):
//!
//! - `shipped`: the rules in `correlations/` load without a diagnostic;
//! - `seed_ports`: each seed port against its seed query's text, clause by clause and quirk
//!   by quirk, and every fixture;
//! - `oracle_agreement`: the ports against the corpus generator's per-event verdicts;
//! - `fast_path`: skein's condition evaluator equals `rsigma_eval::evaluate_rule`;
//! - `sigmahq`: SigmaHQ's cloud rules — what loads, what fires on real data, field gaps;
//! - `panther`: Panther's Azure sign-in rule tests through the matching skein rules;
//! - `correlation`: multi-event rules — windows at their edges, and a run split anywhere
//!   with the state saved and restored in between equals one run;
//! - `props`: no rule text, list or event makes the crate panic.

mod common;
mod correlation;
mod encoded;
mod fast_path;
mod oracle_agreement;
mod panther;
mod props;
mod seed_ports;
mod shipped;
mod sigmahq;
