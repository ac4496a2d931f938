//! Sliding windows: `event_count` / `value_count` (a threshold over one group's events in
//! the window) and `temporal` / `temporal_ordered` (every rule of the correlation within
//! the window, in order for the latter).
//!
//! Windows are exact: at each event `t`, the window holds the group's events with time in
//! `[t - timespan, t]`, whatever calendar boundaries they straddle.
//!
//! Counts (no event counted twice): when the condition first holds, the window's events
//! open a finding; the group's later events join that finding while each comes within one
//! timespan of the previous one, and none of them is counted again. After a longer pause the
//! finding is closed and counting starts afresh. A finding is also closed once it spans
//! [`episode_limit`] (a spray that never pauses gives one finding per day, not one that
//! holds every distinct value of the corpus in memory). An event that matched several
//! rules of the correlation counts once.
//!
//! Temporal: when the rules are all present (in order, for `temporal_ordered`) a finding is
//! made of the events used, which are then removed from the window.

use super::StateMap;
use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skein_model::Finding;

use super::episode::Episode;
use super::{Correlation, Kind, Role, Signal};

/// One group's window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountGroup {
    /// Events not yet part of a finding, oldest first.
    window: VecDeque<Signal>,
    /// value (lower-cased) → how many events of the window carry it (value_count).
    values: StateMap<String, u32>,
    episode: Option<Episode>,
    /// The last event counted (time, `source|id`): one event matching two of the
    /// correlation's rules arrives as two adjacent signals and counts once.
    #[serde(default)]
    last: Option<(DateTime<Utc>, String)>,
}

/// How long one count finding may run before it is closed and counting starts afresh:
/// a day, or two timespans for rules with longer windows.
pub fn episode_limit(rule: &Correlation) -> chrono::TimeDelta {
    (rule.def.timespan.duration() * 2).max(chrono::TimeDelta::days(1))
}

impl CountGroup {
    fn evict(&mut self, cutoff: DateTime<Utc>) {
        while self.window.front().is_some_and(|s| s.time < cutoff) {
            if let Some(old) = self.window.pop_front() {
                if let Some(v) = old.value() {
                    let v = v.to_lowercase();
                    if let Some(n) = self.values.get_mut(&v) {
                        *n -= 1;
                        if *n == 0 {
                            self.values.remove(&v);
                        }
                    }
                }
            }
        }
    }
}

/// Count state of one correlation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountState {
    groups: StateMap<String, CountGroup>,
}

fn holds(rule: &Correlation, group: &CountGroup) -> bool {
    let (condition, count) = match &rule.def.kind {
        Kind::EventCount { condition } => (condition, group.window.len() as u64),
        Kind::ValueCount { condition, .. } => (condition, group.values.len() as u64),
        _ => return false,
    };
    condition.iter().all(|(op, n)| op.holds(count, *n))
}

impl CountState {
    pub fn process(&mut self, rule: &Correlation, s: Signal, out: &mut Vec<Finding>) {
        let span = rule.def.timespan.duration();
        let key = s.group().to_string();
        let group = self.groups.entry(key.clone()).or_default();
        let anchor = (s.time, s.anchor());
        if group.last.as_ref() == Some(&anchor) {
            return;
        }
        group.last = Some(anchor);
        if let Some(ep) = &mut group.episode {
            if s.time - ep.last <= span && s.time - ep.first <= episode_limit(rule) {
                ep.add(&s);
                return;
            }
            out.push(ep.finding(rule));
            group.episode = None;
        }
        if let Some(v) = s.value() {
            *group.values.entry(v.to_lowercase()).or_default() += 1;
        }
        let cutoff = s.time - span;
        group.window.push_back(s);
        group.evict(cutoff);
        if holds(rule, group) {
            let mut ep = Episode::new(key, &group.window[0]);
            for old in group.window.drain(..) {
                ep.add(&old);
            }
            group.values.clear();
            group.episode = Some(ep);
        }
    }

    /// Drops what no later event can use and closes findings whose activity has stopped.
    pub fn sweep(&mut self, rule: &Correlation, now: DateTime<Utc>, out: &mut Vec<Finding>) {
        let span = rule.def.timespan.duration();
        self.groups.retain(|_, g| {
            g.evict(now - span);
            if g.episode.as_ref().is_some_and(|ep| now - ep.last > span) {
                if let Some(ep) = g.episode.take() {
                    out.push(ep.finding(rule));
                }
            }
            !g.window.is_empty() || g.episode.is_some()
        });
    }

    /// The findings still open, as they stand.
    pub fn flush(&self, rule: &Correlation, out: &mut Vec<Finding>) {
        let mut open: Vec<&Episode> = self
            .groups
            .values()
            .filter_map(|g| g.episode.as_ref())
            .collect();
        open.sort_by(|a, b| (a.first, &a.anchor).cmp(&(b.first, &b.anchor)));
        out.extend(open.into_iter().map(|ep| ep.finding(rule)));
    }

    pub fn size(&self) -> usize {
        self.groups
            .values()
            .map(|g| g.window.len() + usize::from(g.episode.is_some()))
            .sum()
    }
}

/// One group's recent matches per rule of a temporal correlation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemporalGroup {
    hits: Vec<VecDeque<Signal>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemporalState {
    groups: StateMap<String, TemporalGroup>,
}

impl TemporalState {
    pub fn process(&mut self, rule: &Correlation, role: Role, s: &Signal, out: &mut Vec<Finding>) {
        let Role::Input(i) = role else { return };
        let Kind::Temporal { ordered, min_rules } = &rule.def.kind else {
            return;
        };
        let n = rule.def.rules.len();
        let span = rule.def.timespan.duration();
        let key = s.group().to_string();
        let group = self.groups.entry(key.clone()).or_default();
        if group.hits.len() < n {
            group.hits.resize(n, VecDeque::new());
        }
        group.hits[i].push_back(s.clone());
        let cutoff = s.time - span;
        for h in &mut group.hits {
            while h.front().is_some_and(|x| x.time < cutoff) {
                h.pop_front();
            }
        }
        let used: Vec<(usize, usize)> = if *ordered {
            // Walk back from this event (the last rule's): each earlier rule's latest match
            // no later than the one after it, and never the same event twice.
            if i != n - 1 {
                return;
            }
            let mut picked = vec![(i, group.hits[i].len() - 1)];
            let mut next = s;
            for k in (0..n - 1).rev() {
                let found = group.hits[k]
                    .iter()
                    .rposition(|h| h.time <= next.time && h.anchor() != next.anchor());
                let Some(j) = found else { return };
                picked.push((k, j));
                next = &group.hits[k][j];
            }
            picked
        } else {
            let present = group.hits.iter().filter(|h| !h.is_empty()).count() as u64;
            if present < min_rules.unwrap_or(n as u64).max(1) {
                return;
            }
            group
                .hits
                .iter()
                .enumerate()
                .flat_map(|(k, h)| (0..h.len()).map(move |j| (k, j)))
                .collect()
        };
        let mut evidence: Vec<Signal> = used
            .iter()
            .map(|&(k, j)| group.hits[k][j].clone())
            .collect();
        evidence.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        let mut ep = Episode::new(key, &evidence[0]);
        ep.anchor = evidence
            .iter()
            .map(Signal::anchor)
            .collect::<Vec<_>>()
            .join(",");
        let mut order = Vec::new();
        for e in &evidence {
            ep.add(e);
            if let Some((k, _)) = used
                .iter()
                .find(|&&(k, j)| group.hits[k][j].order_key() == e.order_key())
            {
                order.push(serde_json::Value::from(rule.def.rules[*k].clone()));
            }
        }
        ep.fields
            .insert("rules".into(), serde_json::Value::Array(order));
        // The events used are consumed: none is counted again.
        let mut by_rule: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &(k, j) in &used {
            by_rule[k].push(j);
        }
        for (k, mut js) in by_rule.into_iter().enumerate() {
            js.sort_unstable();
            for j in js.into_iter().rev() {
                group.hits[k].remove(j);
            }
        }
        out.push(ep.finding(rule));
    }

    pub fn sweep(&mut self, rule: &Correlation, now: DateTime<Utc>) {
        let cutoff = now - rule.def.timespan.duration();
        self.groups.retain(|_, g| {
            for h in &mut g.hits {
                while h.front().is_some_and(|x| x.time < cutoff) {
                    h.pop_front();
                }
            }
            g.hits.iter().any(|h| !h.is_empty())
        });
    }

    pub fn size(&self) -> usize {
        self.groups
            .values()
            .map(|g| g.hits.iter().map(VecDeque::len).sum::<usize>())
            .sum()
    }
}
