//! The [`Correlator`]: every multi-event rule's state, fed signals in time order.
//!
//! It is deterministic: the same signals in the same order give the same findings, and its
//! state can be saved after any batch ([`Correlator::checkpoint`]) and restored
//! ([`Correlator::restore`]) so that a later run continues exactly where this one stopped.
//! [`Correlator::flush`] reports the findings still open without changing the state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skein_model::Finding;

use super::absence::AbsenceState;
use super::chain::ChainState;
use super::geo::GeoState;
use super::window::{CountState, TemporalState};
use super::{Correlation, Kind, Signal, Slot};
use crate::engine::RuleSet;

/// Signals between two sweeps of idle state.
const SWEEP_EVERY: u64 = 4_096;
/// Version of the saved state's layout.
const CHECKPOINT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum State {
    Count(CountState),
    Temporal(TemporalState),
    Absence(AbsenceState),
    Geo(GeoState),
    Chain(ChainState),
}

impl State {
    fn new(kind: &Kind) -> State {
        match kind {
            Kind::EventCount { .. } | Kind::ValueCount { .. } => State::Count(Default::default()),
            Kind::Temporal { .. } => State::Temporal(Default::default()),
            Kind::Absence { .. } => State::Absence(Default::default()),
            Kind::GeoVelocity { .. } => State::Geo(Default::default()),
            Kind::Chain { .. } => State::Chain(Default::default()),
        }
    }

    fn size(&self) -> usize {
        match self {
            State::Count(s) => s.size(),
            State::Temporal(s) => s.size(),
            State::Absence(s) => s.size(),
            State::Geo(s) => s.size(),
            State::Chain(s) => s.size(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    version: u32,
    fingerprint: String,
    watermark: Option<DateTime<Utc>>,
    since_sweep: u64,
    /// (correlation id, state), in the rule set's order.
    states: Vec<(String, State)>,
}

/// Why a saved state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("the saved correlation state is unreadable: {0}")]
    Unreadable(String),
    #[error("the correlation state cannot be saved: {0}")]
    Unsavable(String),
    #[error("the saved correlation state was made by other rules")]
    OtherRules,
    #[error("signal at {got} is earlier than the last one processed ({watermark})")]
    OutOfOrder {
        got: DateTime<Utc>,
        watermark: DateTime<Utc>,
    },
}

/// Multi-event rules over signals in time order.
pub struct Correlator<'r> {
    correlations: &'r [Correlation],
    slots: &'r [Slot],
    states: Vec<State>,
    watermark: Option<DateTime<Utc>>,
    since_sweep: u64,
    fingerprint: String,
}

impl<'r> Correlator<'r> {
    /// An empty state for `rules`' correlations; `fingerprint` identifies the rules (a saved
    /// state is only restored under the same one).
    pub fn new(rules: &'r RuleSet, fingerprint: &str) -> Correlator<'r> {
        Correlator {
            correlations: rules.correlations(),
            slots: rules.slots(),
            states: rules
                .correlations()
                .iter()
                .map(|c| State::new(&c.def.kind))
                .collect(),
            watermark: None,
            since_sweep: 0,
            fingerprint: fingerprint.to_string(),
        }
    }

    /// The state saved by [`Correlator::checkpoint`] under the same rules.
    pub fn restore(
        rules: &'r RuleSet,
        fingerprint: &str,
        saved: &[u8],
    ) -> Result<Correlator<'r>, CheckpointError> {
        let s: Saved = serde_json::from_slice(saved)
            .map_err(|e| CheckpointError::Unreadable(e.to_string()))?;
        if s.version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Unreadable(format!(
                "layout version {} (this build reads {CHECKPOINT_VERSION})",
                s.version
            )));
        }
        let ids: Vec<&str> = rules.correlations().iter().map(|c| c.id.as_str()).collect();
        let saved_ids: Vec<&str> = s.states.iter().map(|(id, _)| id.as_str()).collect();
        if s.fingerprint != fingerprint || ids != saved_ids {
            return Err(CheckpointError::OtherRules);
        }
        Ok(Correlator {
            correlations: rules.correlations(),
            slots: rules.slots(),
            states: s.states.into_iter().map(|(_, st)| st).collect(),
            watermark: s.watermark,
            since_sweep: s.since_sweep,
            fingerprint: fingerprint.to_string(),
        })
    }

    /// The state, to be given to [`Correlator::restore`] by a later run.
    pub fn checkpoint(&self) -> Result<Vec<u8>, CheckpointError> {
        let saved = Saved {
            version: CHECKPOINT_VERSION,
            fingerprint: self.fingerprint.clone(),
            watermark: self.watermark,
            since_sweep: self.since_sweep,
            states: self
                .correlations
                .iter()
                .map(|c| c.id.clone())
                .zip(self.states.iter().cloned())
                .collect(),
        };
        serde_json::to_vec(&saved).map_err(|e| CheckpointError::Unsavable(e.to_string()))
    }

    /// The time of the last signal processed.
    pub fn watermark(&self) -> Option<DateTime<Utc>> {
        self.watermark
    }

    /// Moves the watermark to `to` (the latest event read, which gave no signal), so that a
    /// run resumed from this state reads only later events.
    pub fn advance(&mut self, to: DateTime<Utc>) {
        if self.watermark.is_none_or(|w| w < to) {
            self.watermark = Some(to);
        }
    }

    /// Entries held in window state (for reports: memory is bounded by this).
    pub fn state_size(&self) -> usize {
        self.states.iter().map(State::size).sum()
    }

    /// Sorts `signals` and processes them. They must all be later than the watermark (the
    /// caller feeds time slices in order); otherwise nothing is processed.
    pub fn process(
        &mut self,
        signals: &mut [Signal],
        out: &mut Vec<Finding>,
    ) -> Result<(), CheckpointError> {
        signals.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        if let (Some(first), Some(w)) = (signals.first(), self.watermark) {
            if first.time <= w {
                return Err(CheckpointError::OutOfOrder {
                    got: first.time,
                    watermark: w,
                });
            }
        }
        for s in signals.iter() {
            self.one(s, out);
        }
        Ok(())
    }

    fn one(&mut self, s: &Signal, out: &mut Vec<Finding>) {
        let Some(slot) = self.slots.get(s.slot as usize) else {
            return;
        };
        let rule = &self.correlations[slot.correlation];
        match &mut self.states[slot.correlation] {
            State::Count(st) => st.process(rule, s, out),
            State::Temporal(st) => st.process(rule, slot.role, s, out),
            State::Absence(st) => st.process(rule, slot.role, s, out),
            State::Geo(st) => st.process(rule, s, out),
            State::Chain(st) => st.process(rule, slot.role, s, out),
        }
        self.watermark = Some(s.time);
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            self.sweep(s.time, out);
        }
    }

    fn sweep(&mut self, now: DateTime<Utc>, out: &mut Vec<Finding>) {
        for (rule, st) in self.correlations.iter().zip(&mut self.states) {
            match st {
                State::Count(st) => st.sweep(rule, now, out),
                State::Temporal(st) => st.sweep(rule, now),
                State::Absence(st) => st.sweep(rule, now, out),
                State::Geo(st) => st.sweep(rule, now),
                State::Chain(st) => st.sweep(rule, now),
            }
        }
    }

    /// The findings still open (counts still growing, absences not yet decided), as they
    /// stand; the state is unchanged.
    pub fn flush(&self, out: &mut Vec<Finding>) {
        for (rule, st) in self.correlations.iter().zip(&self.states) {
            match st {
                State::Count(st) => st.flush(rule, out),
                State::Absence(st) => st.flush(rule, out),
                State::Temporal(_) | State::Geo(_) | State::Chain(_) => {}
            }
        }
    }
}
