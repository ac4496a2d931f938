//! `absence`: an event of the correlation's rules with no event of the `absent` rules sharing
//! every key within `before` before it and `after` after it. Unmatched events of the same
//! keys join one finding while each comes within `timespan` of the previous one.
//!
//! An event is decided once no event that could still match it can arrive: when an event
//! later than its time plus `after` is processed (at the end of the input, the findings
//! still undecided are reported as they stand, and decided again by the next run).
//!
//! Of the absent rules' events only the latest per key tuple is kept. Signals come in time
//! order and an event waits until the end of its window has passed, so when it is decided
//! (or flushed) every time held is at most its window's end: one of them is in its window
//! exactly when the latest is. Keeping every time made the state as large as a day of
//! sign-ins (two tuples each); the latest per tuple keeps one entry per user and address.

use super::StateMap;
use std::collections::VecDeque;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use skein_model::Finding;

use super::episode::Episode;
use super::{Correlation, Kind, Role, Signal};

fn windows(rule: &Correlation) -> (TimeDelta, TimeDelta, TimeDelta) {
    match &rule.def.kind {
        Kind::Absence { before, after, .. } => (
            before.duration(),
            after.duration(),
            rule.def.timespan.duration(),
        ),
        _ => (TimeDelta::zero(), TimeDelta::zero(), TimeDelta::zero()),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AbsenceState {
    /// key tuple (hashed, see [`Signal::tuples`]) → the time of the latest of the absent
    /// rules' events (see the module doc).
    present: StateMap<u128, LatestTime>,
    /// Events waiting for their `after` window to pass, in time order.
    pending: VecDeque<Signal>,
    /// group → the open finding of unmatched events.
    episodes: StateMap<String, Episode>,
}

/// The time of the latest event of a key tuple. Saved as one time; a JSON state saved by
/// an earlier build, which kept every time (oldest first), is read as its latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
struct LatestTime(DateTime<Utc>);

impl<'de> Deserialize<'de> for LatestTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = LatestTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time, or a list of them")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<LatestTime, E> {
                skein_model::time::parse(v)
                    .map(LatestTime)
                    .map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LatestTime, A::Error> {
                let mut latest: Option<DateTime<Utc>> = None;
                while let Some(t) = seq.next_element::<DateTime<Utc>>()? {
                    latest = latest.max(Some(t));
                }
                latest
                    .map(LatestTime)
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(Either)
        } else {
            // A binary layout (the checkpoint's) only ever held one time.
            skein_model::time::deserialize(d).map(LatestTime)
        }
    }
}

/// Decides `x` against `present`, adding it to (or closing and opening) its group's finding.
fn decide(
    rule: &Correlation,
    present: &StateMap<u128, LatestTime>,
    episodes: &mut StateMap<String, Episode>,
    x: &Signal,
    out: &mut Vec<Finding>,
) {
    let (before, after, gap) = windows(rule);
    let (from, to) = (x.time - before, x.time + after);
    // `<= to` always holds here (see the module doc); kept so that the test reads as the
    // window it is.
    let matched = x
        .tuples
        .iter()
        .any(|t| present.get(t).is_some_and(|p| p.0 >= from && p.0 <= to));
    if matched {
        return;
    }
    let key = x.group().to_string();
    if let Some(ep) = episodes.get_mut(&key) {
        if x.time - ep.last <= gap {
            ep.add(x);
            return;
        }
        out.push(ep.finding(rule));
    }
    let mut ep = Episode::new(key.clone(), x);
    ep.add(x);
    episodes.insert(key, ep);
}

impl AbsenceState {
    pub fn process(&mut self, rule: &Correlation, role: Role, s: Signal, out: &mut Vec<Finding>) {
        self.decide_before(rule, s.time, out);
        match role {
            Role::Absent => {
                for t in s.tuples {
                    let latest = self.present.entry(t).or_insert(LatestTime(s.time));
                    latest.0 = latest.0.max(s.time);
                }
            }
            _ => self.pending.push_back(s),
        }
    }

    /// Decides every pending event whose `after` window ends before `now`.
    fn decide_before(&mut self, rule: &Correlation, now: DateTime<Utc>, out: &mut Vec<Finding>) {
        let (_, after, _) = windows(rule);
        while self.pending.front().is_some_and(|x| x.time + after < now) {
            if let Some(x) = self.pending.pop_front() {
                decide(rule, &self.present, &mut self.episodes, &x, out);
            }
        }
    }

    pub fn sweep(&mut self, rule: &Correlation, now: DateTime<Utc>, out: &mut Vec<Finding>) {
        self.decide_before(rule, now, out);
        let (before, after, gap) = windows(rule);
        // A pending event is later than now - after, so it looks no further back than this.
        let cutoff = now - after - before;
        self.present.retain(|_, latest| latest.0 >= cutoff);
        let mut closed: Vec<String> = self
            .episodes
            .iter()
            .filter(|(_, ep)| now - ep.last > gap + after)
            .map(|(k, _)| k.clone())
            .collect();
        closed.sort();
        for k in closed {
            if let Some(ep) = self.episodes.remove(&k) {
                out.push(ep.finding(rule));
            }
        }
    }

    /// The findings as they stand, deciding the pending events on a copy.
    pub fn flush(&self, rule: &Correlation, out: &mut Vec<Finding>) {
        let mut episodes = self.episodes.clone();
        for x in &self.pending {
            decide(rule, &self.present, &mut episodes, x, out);
        }
        let mut open: Vec<&Episode> = episodes.values().collect();
        open.sort_by(|a, b| (a.first, &a.anchor).cmp(&(b.first, &b.anchor)));
        out.extend(open.into_iter().map(|ep| ep.finding(rule)));
    }

    pub fn size(&self) -> usize {
        self.present.len() + self.pending.len() + self.episodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().expect("a test time")
    }

    #[test]
    fn a_state_saved_with_every_time_is_read_as_the_latest() {
        let earlier = r#"{"present":{"7":["2026-03-09T08:00:00Z","2026-03-09T08:30:00Z"]},
            "pending":[],"episodes":{}}"#;
        let st: AbsenceState = serde_json::from_str(earlier).expect("reads the earlier layout");
        assert_eq!(st.present[&7].0, time("2026-03-09T08:30:00Z"));
        let saved = serde_json::to_string(&st).expect("saves");
        assert!(saved.contains(r#""7":"2026-03-09T08:30:00Z""#), "{saved}");
        let again: AbsenceState = serde_json::from_str(&saved).expect("reads its own layout");
        assert_eq!(again, st);
        let empty = r#"{"present":{"7":[]},"pending":[],"episodes":{}}"#;
        assert!(serde_json::from_str::<AbsenceState>(empty).is_err());
        let not_a_time = r#"{"present":{"7":"yesterday"},"pending":[],"episodes":{}}"#;
        assert!(serde_json::from_str::<AbsenceState>(not_a_time).is_err());
    }
}
