//! `absence`: an event of the correlation's rules with no event of the `absent` rules sharing
//! every key within `before` before it and `after` after it. Unmatched events of the same
//! keys join one finding while each comes within `timespan` of the previous one.
//!
//! An event is decided once no event that could still match it can arrive: when an event
//! later than its time plus `after` is processed (at the end of the input, the findings
//! still undecided are reported as they stand, and decided again by the next run).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
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
    /// key tuple (hashed, see [`Signal::tuples`]) → times of the absent rules' events,
    /// oldest first.
    present: HashMap<u128, VecDeque<DateTime<Utc>>>,
    /// Events waiting for their `after` window to pass, in time order.
    pending: VecDeque<Signal>,
    /// group → the open finding of unmatched events.
    episodes: HashMap<String, Episode>,
}

/// Decides `x` against `present`, adding it to (or closing and opening) its group's finding.
fn decide(
    rule: &Correlation,
    present: &HashMap<u128, VecDeque<DateTime<Utc>>>,
    episodes: &mut HashMap<String, Episode>,
    x: &Signal,
    out: &mut Vec<Finding>,
) {
    let (before, after, gap) = windows(rule);
    let (from, to) = (x.time - before, x.time + after);
    let matched = x.tuples.iter().any(|t| {
        present
            .get(t)
            .is_some_and(|times| times.iter().any(|p| *p >= from && *p <= to))
    });
    if matched {
        return;
    }
    let key = x.group.clone();
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
                    self.present.entry(t).or_default().push_back(s.time);
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
        self.present.retain(|_, times| {
            while times.front().is_some_and(|t| *t < cutoff) {
                times.pop_front();
            }
            !times.is_empty()
        });
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
        self.present.values().map(VecDeque::len).sum::<usize>()
            + self.pending.len()
            + self.episodes.len()
    }
}
