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
use super::order::{sort_signals, SortKey};
use super::window::{CountState, TemporalState};
use super::{Correlation, Kind, Signal, Slot};
use crate::engine::RuleSet;

/// One correlation's share of a [`Correlator::process`] call.
struct Job<'a, 'r> {
    rule: &'r Correlation,
    state: &'a mut State,
    /// Signals until its next sweep.
    since: &'a mut u64,
    room: Room,
}

/// Room one correlation's signals are moved into and sorted with; the next call reuses it.
#[derive(Debug, Default)]
struct Room {
    signals: Vec<Signal>,
    keys: Vec<SortKey>,
}

impl Job<'_, '_> {
    /// The findings, and the room emptied.
    fn run(mut self, slots: &[Slot]) -> (Vec<Finding>, Room) {
        // Signals are sorted here, per correlation (on the job's thread): the order of a
        // correlation's own signals is all its state depends on. Order keys are unique (one
        // signal per event and slot), so the order is the same every time.
        sort_signals(&mut self.room.signals, &mut self.room.keys);
        let mut found = Vec::new();
        for s in self.room.signals.drain(..) {
            let Some(slot) = slots.get(s.slot as usize) else {
                continue;
            };
            let now = s.time;
            match &mut *self.state {
                State::Count(st) => st.process(self.rule, s, &mut found),
                State::Temporal(st) => st.process(self.rule, slot.role, &s, &mut found),
                State::Absence(st) => st.process(self.rule, slot.role, s, &mut found),
                State::Geo(st) => st.process(self.rule, s, &mut found),
                State::Chain(st) => st.process(self.rule, slot.role, s, &mut found),
            }
            *self.since = self.since.saturating_sub(1);
            if *self.since == 0 {
                sweep(self.rule, self.state, now, &mut found);
                // Next sweep after as many signals as the state now holds (at least
                // SWEEP_EVERY): a sweep walks the whole state, so its cost per signal stays
                // constant and the state at most triples between sweeps.
                *self.since = SWEEP_EVERY.max(self.state.size() as u64);
            }
        }
        (found, self.room)
    }
}

/// Drops what no later signal of `rule` can use, closing the findings whose activity stopped.
fn sweep(rule: &Correlation, st: &mut State, now: DateTime<Utc>, out: &mut Vec<Finding>) {
    match st {
        State::Count(st) => st.sweep(rule, now, out),
        State::Temporal(st) => st.sweep(rule, now),
        State::Absence(st) => st.sweep(rule, now, out),
        State::Geo(st) => st.sweep(rule, now),
        State::Chain(st) => st.sweep(rule, now),
    }
}

/// Signals in one call from which correlations are processed on threads of their own.
const PARALLEL_FROM: usize = 20_000;
/// Signals between two sweeps of a correlation's idle state.
const SWEEP_EVERY: u64 = 4_096;
/// Version of the saved state's layout: postcard (serde's binary form) from version 5;
/// JSON before. Restoring a 4.4 MB state from JSON was ~0.02 s of a 0.25 s sweep.
const CHECKPOINT_VERSION: u32 = 5;

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
    /// (correlation id, state, signals until its next sweep), in the rule set's order.
    states: Vec<(String, State, u64)>,
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
    /// Per correlation: signals until its next sweep.
    since_sweep: Vec<u64>,
    watermark: Option<DateTime<Utc>>,
    fingerprint: String,
    /// Signals in one call from which correlations run on threads of their own.
    parallel_from: usize,
    /// Per correlation, the emptied room its signals were last moved into and sorted in:
    /// the next call uses the same memory. (Fresh vectors for every slice of a full run were
    /// ~13% of its page faults in one profile; the room costs ~5 MiB at the peak.)
    rooms: Vec<Room>,
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
            since_sweep: vec![SWEEP_EVERY; rules.correlations().len()],
            watermark: None,
            fingerprint: fingerprint.to_string(),
            parallel_from: PARALLEL_FROM,
            rooms: Vec::new(),
        }
    }

    /// The state saved by [`Correlator::checkpoint`] under the same rules.
    pub fn restore(
        rules: &'r RuleSet,
        fingerprint: &str,
        saved: &[u8],
    ) -> Result<Correlator<'r>, CheckpointError> {
        // The layout version is read first, so that a state of another layout is named as
        // such (earlier builds saved JSON: `{` first).
        if saved.first() == Some(&b'{') {
            return Err(CheckpointError::Unreadable(format!(
                "the JSON layout of an earlier build (this build reads binary layout \
                 {CHECKPOINT_VERSION})"
            )));
        }
        let (version, _) = postcard::take_from_bytes::<u32>(saved)
            .map_err(|e| CheckpointError::Unreadable(e.to_string()))?;
        if version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Unreadable(format!(
                "layout version {version} (this build reads {CHECKPOINT_VERSION})"
            )));
        }
        let s: Saved = match postcard::take_from_bytes(saved) {
            Ok((s, [])) => s,
            Ok((_, rest)) => {
                return Err(CheckpointError::Unreadable(format!(
                    "{} bytes after the state",
                    rest.len()
                )))
            }
            Err(e) => return Err(CheckpointError::Unreadable(e.to_string())),
        };
        let ids: Vec<&str> = rules.correlations().iter().map(|c| c.id.as_str()).collect();
        let saved_ids: Vec<&str> = s.states.iter().map(|(id, ..)| id.as_str()).collect();
        if s.fingerprint != fingerprint || ids != saved_ids {
            return Err(CheckpointError::OtherRules);
        }
        Ok(Correlator {
            correlations: rules.correlations(),
            slots: rules.slots(),
            since_sweep: s.states.iter().map(|(.., n)| *n).collect(),
            states: s.states.into_iter().map(|(_, st, _)| st).collect(),
            watermark: s.watermark,
            fingerprint: fingerprint.to_string(),
            parallel_from: PARALLEL_FROM,
            rooms: Vec::new(),
        })
    }

    /// The state, to be given to [`Correlator::restore`] by a later run.
    pub fn checkpoint(&self) -> Result<Vec<u8>, CheckpointError> {
        let saved = Saved {
            version: CHECKPOINT_VERSION,
            fingerprint: self.fingerprint.clone(),
            watermark: self.watermark,
            states: self
                .correlations
                .iter()
                .zip(&self.states)
                .zip(&self.since_sweep)
                .map(|((c, st), n)| (c.id.clone(), st.clone(), *n))
                .collect(),
        };
        postcard::to_allocvec(&saved).map_err(|e| CheckpointError::Unsavable(e.to_string()))
    }

    /// Runs correlations on threads of their own from `n` signals in one call (default
    /// 20,000); the findings are the same either way (tests use 0 to show it).
    pub fn parallel_from(mut self, n: usize) -> Self {
        self.parallel_from = n;
        self
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
    /// caller feeds time slices in order); otherwise nothing is processed. Each
    /// correlation's state depends only on its own signals, so correlations are processed on
    /// separate threads when there is enough work; each sees its signals in the same order
    /// whatever the threads do.
    pub fn process(
        &mut self,
        signals: Vec<Signal>,
        out: &mut Vec<Finding>,
    ) -> Result<(), CheckpointError> {
        self.process_batches(vec![signals], out)
    }

    /// [`Correlator::process`] over signals gathered in several batches (as scanning
    /// threads produce them): each correlation's signals are moved once into a vector of
    /// the right size, never into one growing vector of all of them.
    pub fn process_batches(
        &mut self,
        batches: Vec<Vec<Signal>>,
        out: &mut Vec<Finding>,
    ) -> Result<(), CheckpointError> {
        let times = batches.iter().flatten().map(|s| s.time);
        let (Some(first), Some(last_time)) = (times.clone().min(), times.max()) else {
            return Ok(());
        };
        if let Some(w) = self.watermark {
            if first <= w {
                return Err(CheckpointError::OutOfOrder {
                    got: first,
                    watermark: w,
                });
            }
        }
        let correlation_of = |s: &Signal| self.slots.get(s.slot as usize).map(|sl| sl.correlation);
        let mut sizes = vec![0usize; self.states.len()];
        for c in batches.iter().flatten().filter_map(correlation_of) {
            sizes[c] += 1;
        }
        let mut per = std::mem::take(&mut self.rooms);
        per.resize_with(self.states.len(), Room::default);
        for (room, size) in per.iter_mut().zip(sizes) {
            room.signals.reserve_exact(size);
        }
        for s in batches.into_iter().flatten() {
            if let Some(c) = correlation_of(&s) {
                per[c].signals.push(s);
            }
        }
        let busy = per.iter().filter(|p| !p.signals.is_empty()).count();
        let total: usize = per.iter().map(|p| p.signals.len()).sum();
        let slots = self.slots;
        let jobs: Vec<Job<'_, 'r>> = self
            .correlations
            .iter()
            .zip(self.states.iter_mut())
            .zip(self.since_sweep.iter_mut())
            .zip(per)
            .map(|(((rule, state), since), room)| Job {
                rule,
                state,
                since,
                room,
            })
            .collect();
        let done: Vec<(Vec<Finding>, Room)> = if busy > 1 && total >= self.parallel_from {
            std::thread::scope(|scope| {
                let handles: Vec<_> = jobs
                    .into_iter()
                    .map(|job| scope.spawn(move || job.run(slots)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        } else {
            jobs.into_iter().map(|job| job.run(slots)).collect()
        };
        for (mut found, room) in done {
            out.append(&mut found);
            self.rooms.push(room);
        }
        self.watermark = Some(last_time);
        Ok(())
    }

    /// Sweeps every correlation's state at the watermark: drops what no later signal can
    /// use and closes (into `out`) the findings whose activity has stopped, so that a saved
    /// state is as small as it can be. The findings are the same with or without it.
    pub fn compact(&mut self, out: &mut Vec<Finding>) {
        let Some(now) = self.watermark else { return };
        for (rule, st) in self.correlations.iter().zip(&mut self.states) {
            sweep(rule, st, now, out);
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
