//! `chain`: events of the links' rules, each joined to the previous link's event by that
//! link's own fields and following it within the link's `within`. A chain is extended from
//! the most recent matching partial chain; each event completing the last link gives one
//! finding.

use super::StateMap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skein_model::Finding;

use super::episode::Episode;
use super::{Correlation, Kind, Role, ShownKeys, Signal};

/// A chain built up to some link: its events, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Partial {
    events: Vec<Signal>,
}

impl Partial {
    /// Its latest event (a chain has one from its first link on; a damaged saved state may
    /// hold an empty one, which then waits for nothing).
    fn last(&self) -> Option<&Signal> {
        self.events.last()
    }
}

/// The join key of `keys` (each key's value, lower-cased).
fn tuple(keys: &ShownKeys<'_>, range: std::ops::Range<usize>) -> String {
    keys.joined(range).to_lowercase()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainState {
    /// For link `k` (index into the map list = k - 1): join key → chains waiting for it.
    waiting: Vec<StateMap<String, Partial>>,
}

impl ChainState {
    pub fn process(&mut self, rule: &Correlation, role: Role, s: Signal, out: &mut Vec<Finding>) {
        let (Role::Link(k), Kind::Chain { links }) = (role, &rule.def.kind) else {
            return;
        };
        let n = links.len();
        if self.waiting.len() < n - 1 {
            self.waiting.resize(n - 1, StateMap::default());
        }
        let own = links[k].join.len();
        let chain = if k == 0 {
            Partial { events: vec![s] }
        } else {
            let key = tuple(&s.keys(), 0..own);
            let within = links[k].within.duration();
            let Some(p) = self.waiting[k - 1].get(&key) else {
                return;
            };
            let Some(last) = p.last() else {
                return;
            };
            if s.time - last.time > within || last.anchor() == s.anchor() {
                return;
            }
            let mut events = p.events.clone();
            events.push(s);
            Partial { events }
        };
        if k + 1 == n {
            let mut ep = Episode::new(String::new(), &chain.events[0]);
            ep.anchor = chain
                .events
                .iter()
                .map(Signal::anchor)
                .collect::<Vec<_>>()
                .join(",");
            for e in &chain.events {
                ep.add(e);
            }
            ep.fields.insert(
                "links".into(),
                serde_json::Value::from(links.iter().map(|l| l.rule.clone()).collect::<Vec<_>>()),
            );
            out.push(ep.finding(rule));
            return;
        }
        let Some(last) = chain.last() else {
            return;
        };
        let last = last.keys();
        let next_key = tuple(&last, own..last.len());
        // The most recent chain wins: it leaves the most time for the next link.
        self.waiting[k].insert(next_key, chain);
    }

    pub fn sweep(&mut self, rule: &Correlation, now: DateTime<Utc>) {
        let Kind::Chain { links } = &rule.def.kind else {
            return;
        };
        for (i, map) in self.waiting.iter_mut().enumerate() {
            // (More maps than links only in a damaged saved state: nothing there can
            // continue.)
            let Some(link) = links.get(i + 1) else {
                map.clear();
                continue;
            };
            let within = link.within.duration();
            map.retain(|_, p| p.last().is_some_and(|last| now - last.time <= within));
        }
    }

    pub fn size(&self) -> usize {
        self.waiting.iter().map(StateMap::len).sum()
    }
}
