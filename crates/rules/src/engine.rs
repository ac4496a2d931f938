//! [`RuleSet`]: evaluating every rule that applies to an event's source and turning matches
//! into [`Finding`]s, with counts of what each allow-list suppressed.

use std::borrow::Cow;

use rsigma_eval::{Event as SigmaEvent, EventValue};
use serde_json::Value;
use skein_model::{Event, Finding, Source};

use crate::correlation::{self, Compiled, Correlation, Signal, Slot};
use crate::fast::{DetectionTable, Memo};
use crate::finding::{
    entities_in, entities_listed, render_summary, render_summary_into, EntitiesJson, FindingScratch,
};
use crate::finding_fields::{FieldValue, FindingFields};
use crate::lists::ListMatcher;
use crate::rule::{BoundList, Rule};
use crate::view::EventView;

/// Loaded rules, indexed by the source they apply to, and the multi-event rules over them.
pub struct RuleSet {
    rules: Vec<Rule>,
    by_source: [Vec<usize>; 3],
    /// Every selection of every rule, identical ones once (see `fast.rs`).
    table: DetectionTable,
    correlations: Vec<Correlation>,
    slots: Vec<Slot>,
    /// Per rule: the slots its matches feed.
    rule_slots: Vec<Vec<u32>>,
    /// Per rule: true when it only feeds correlations (Sigma `generate: false`).
    silent: Vec<bool>,
    correlations_need_raw: bool,
}

fn source_index(s: Source) -> usize {
    match s {
        Source::EntraSignin => 0,
        Source::StorageBlob => 1,
        Source::Cloudtrail => 2,
    }
}

/// A finding that JSON cannot hold (a time outside what RFC 3339 writes, a number JSON has
/// no form for).
#[derive(Debug, thiserror::Error)]
#[error("finding {id} is not serialisable as JSON: {source}")]
pub struct FindingEncodeError {
    pub id: String,
    #[source]
    pub source: serde_json::Error,
}

/// A per-event finding written as stored ([`RuleSet::evaluate_encoded`]): its id, its rule
/// (an index into [`RuleSet::rules`]) and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFinding {
    pub id: String,
    pub rule: usize,
    pub json: Vec<u8>,
}

/// Per-rule counts of one evaluation run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts {
    /// Events the detection matched (before allow-lists).
    pub matched: u64,
    /// Of those, events an allow-list suppressed, per entry of the rule's `allow`.
    pub suppressed: Vec<u64>,
}

/// Counts of an evaluation run, mergeable across threads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvalStats {
    pub events: u64,
    /// Indexed like [`RuleSet::rules`].
    pub per_rule: Vec<RuleCounts>,
}

impl EvalStats {
    pub fn merge(&mut self, other: &EvalStats) {
        self.events += other.events;
        if self.per_rule.len() < other.per_rule.len() {
            self.per_rule
                .resize(other.per_rule.len(), RuleCounts::default());
        }
        for (mine, theirs) in self.per_rule.iter_mut().zip(&other.per_rule) {
            mine.matched += theirs.matched;
            if mine.suppressed.len() < theirs.suppressed.len() {
                mine.suppressed.resize(theirs.suppressed.len(), 0);
            }
            for (m, t) in mine.suppressed.iter_mut().zip(&theirs.suppressed) {
                *m += t;
            }
        }
    }
}

/// The string values of a field (each element of a list), for list lookups.
fn strings<'v>(value: &'v Option<EventValue<'v>>) -> smallvec::SmallVec<[&'v str; 2]> {
    fn push<'v>(v: &'v EventValue<'v>, out: &mut smallvec::SmallVec<[&'v str; 2]>) {
        match v {
            EventValue::Str(s) => out.push(s.as_ref()),
            EventValue::Array(items) => items.iter().for_each(|i| push(i, out)),
            _ => {}
        }
    }
    // (Inline: one value, nearly always.)
    let mut out = smallvec::SmallVec::new();
    if let Some(v) = value {
        push(v, &mut out);
    }
    out
}

/// True when the event's `field` is on the bound list.
fn on_list(view: &EventView<'_>, bound: &BoundList) -> bool {
    if bound.is_src_ip {
        if let ListMatcher::Ip(nets) = &*bound.matcher {
            return view
                .event()
                .src_ip
                .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)));
        }
    }
    let value = match bound.resolved {
        Some(field) => view.value(field),
        None => view.get_field(&bound.lookup),
    };
    let owned: Option<EventValue<'_>> = match value {
        Some(EventValue::Int(n)) => Some(EventValue::Str(Cow::Owned(n.to_string()))),
        other => other,
    };
    let values = strings(&owned);
    bound.matcher.contains(&values, view.event().time)
}

/// The event as one rule sees it: the view plus that rule's `list.<name>` fields.
struct Scoped<'v, 'e> {
    view: &'v EventView<'e>,
    rule: &'v Rule,
}

impl SigmaEvent for Scoped<'_, '_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        match path.strip_prefix("list.") {
            Some(name) => self
                .rule
                .lists
                .get(name)
                .map(|b| EventValue::Bool(on_list(self.view, b))),
            None => self.view.get_field(path),
        }
    }
    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.view.any_string_value(pred)
    }
    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.view.all_string_values()
    }
    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.view.visit_string_values(visit)
    }
    fn to_json(&self) -> Value {
        self.view.to_json()
    }
}

impl crate::fast::ByField for Scoped<'_, '_> {
    // (A token never starts with `list.`: it is the view's field.)
    fn by_field(&self, field: crate::fields::Field) -> Option<EventValue<'_>> {
        self.view.value(field)
    }

    fn text_field(&self, field: crate::fields::Field) -> Option<Option<&str>> {
        self.view.text_value(field)
    }
}

impl RuleSet {
    /// Per-event rules only.
    pub fn new(rules: Vec<Rule>) -> RuleSet {
        RuleSet::with_correlations(rules, Vec::new())
    }

    /// Per-event rules and the multi-event rules compiled against them (in this order: a
    /// slot names its rule by position).
    pub fn with_correlations(mut rules: Vec<Rule>, compiled: Vec<Compiled>) -> RuleSet {
        let mut correlations = Vec::new();
        let mut slots = Vec::new();
        let mut correlations_need_raw = false;
        for c in compiled {
            correlations_need_raw |= c.needs_raw;
            correlations.push(c.correlation);
            slots.extend(c.slots);
        }
        let mut rule_slots = vec![Vec::new(); rules.len()];
        for (i, slot) in slots.iter().enumerate() {
            if let Some(v) = rule_slots.get_mut(slot.rule) {
                v.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        let silent_ids = correlation::silent_rules(&correlations);
        let silent = rules
            .iter()
            .map(|r| silent_ids.contains_key(&r.id))
            .collect();
        let mut by_source: [Vec<usize>; 3] = Default::default();
        let mut table = DetectionTable::default();
        for (i, r) in rules.iter_mut().enumerate() {
            for s in &r.sources {
                by_source[source_index(*s)].push(i);
            }
            r.matcher.intern(&mut table, &r.id, &r.lists);
            for c in &mut r.criteria {
                c.matcher.intern(&mut table, &r.id, &r.lists);
            }
        }
        RuleSet {
            rules,
            by_source,
            table,
            correlations,
            slots,
            rule_slots,
            silent,
            correlations_need_raw,
        }
    }

    /// True when a per-event or multi-event rule has this id.
    pub fn knows(&self, id: &str) -> bool {
        self.get(id).is_some() || self.correlations.iter().any(|c| c.id == id)
    }

    /// The rules that give findings (per-event rules that are not only signals, and every
    /// multi-event rule) as (id, path, line): the ones fixtures must cover. A signal-only rule
    /// is tested through the correlations that read it.
    pub fn finding_rules(&self) -> Vec<(&str, &str, usize)> {
        let singles = self
            .rules
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.silent[*i])
            .map(|(_, r)| (r.id.as_str(), r.path.as_str(), r.line));
        let multi = self
            .correlations
            .iter()
            .map(|c| (c.id.as_str(), c.path.as_str(), c.line));
        singles.chain(multi).collect()
    }

    /// The multi-event rules.
    pub fn correlations(&self) -> &[Correlation] {
        &self.correlations
    }

    /// How per-event matches feed the multi-event rules.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// True when the per-event rule at `index` gives no findings of its own (it only feeds
    /// correlations).
    pub fn is_silent(&self, index: usize) -> bool {
        self.silent.get(index).copied().unwrap_or(false)
    }

    /// A [`Memo`] for [`RuleSet::evaluate_with`].
    pub fn memo(&self) -> Memo {
        Memo::new()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The same per-event rules restricted to those `keep` accepts (without correlations).
    pub fn retain(self, keep: impl Fn(&Rule) -> bool) -> RuleSet {
        RuleSet::new(self.rules.into_iter().filter(|r| keep(r)).collect())
    }

    /// The sources some rule applies to, in [`Source::ALL`] order: events of other sources
    /// need not be read at all.
    pub fn sources(&self) -> Vec<Source> {
        Source::ALL
            .into_iter()
            .filter(|s| !self.by_source[source_index(*s)].is_empty())
            .collect()
    }

    /// True when some rule reads a field only the original record holds, so events must be
    /// read with their `raw` text.
    pub fn needs_raw(&self) -> bool {
        self.correlations_need_raw || self.rules.iter().any(|r| r.needs_raw)
    }

    /// An empty [`EvalStats`] shaped for these rules.
    pub fn new_stats(&self) -> EvalStats {
        EvalStats {
            events: 0,
            per_rule: self
                .rules
                .iter()
                .map(|r| RuleCounts {
                    matched: 0,
                    suppressed: vec![0; r.allow.len()],
                })
                .collect(),
        }
    }

    /// Evaluates every rule (detection and criteria) for `event` both ways — skein's
    /// index-based evaluator and `rsigma_eval::evaluate_rule` — and names every rule where
    /// they disagree. For tests; returns how many detections used the fast path.
    pub fn cross_check(&self, event: &Event) -> Result<usize, Vec<String>> {
        self.cross_check_with(&mut Memo::new(), event)
    }

    /// [`RuleSet::cross_check`] with `memo` kept from event to event, as evaluation keeps
    /// it (answers remembered by text are then given from earlier events).
    pub fn cross_check_with(&self, memo: &mut Memo, event: &Event) -> Result<usize, Vec<String>> {
        let view = EventView::new(event);
        let mut fast = 0;
        let mut bad = Vec::new();
        memo.reset(&self.table);
        for &i in &self.by_source[source_index(event.source)] {
            let rule = &self.rules[i];
            let scoped = Scoped { view: &view, rule };
            let matchers = std::iter::once((rule.id.as_str(), &rule.matcher))
                .chain(rule.criteria.iter().map(|c| (c.name.as_str(), &c.matcher)));
            for (name, m) in matchers {
                fast += usize::from(m.is_fast());
                let a = m.matches(&self.table, memo, &scoped);
                let b = m.matches_with_rsigma(&scoped);
                if a != b {
                    bad.push(format!(
                        "{} ({name}) on {}: fast {a}, rsigma {b}",
                        rule.id, event.id
                    ));
                }
            }
        }
        if bad.is_empty() {
            Ok(fast)
        } else {
            Err(bad)
        }
    }

    /// Evaluates every rule for `event`'s source, appending findings to `out`.
    pub fn evaluate(&self, event: &Event, out: &mut Vec<Finding>, stats: &mut EvalStats) {
        self.evaluate_with(&mut Memo::new(), event, out, stats)
    }

    /// [`RuleSet::evaluate`] reusing `memo`'s buffer (one per thread, from
    /// [`RuleSet::memo`]); signals for multi-event rules are dropped.
    pub fn evaluate_with(
        &self,
        memo: &mut Memo,
        event: &Event,
        out: &mut Vec<Finding>,
        stats: &mut EvalStats,
    ) {
        let mut ignored = Vec::new();
        self.evaluate_signals(memo, event, out, &mut ignored, stats)
    }

    /// Evaluates every rule for `event`'s source: findings of per-event rules into `out`,
    /// and the signals their matches give multi-event rules into `signals`.
    pub fn evaluate_signals(
        &self,
        memo: &mut Memo,
        event: &Event,
        out: &mut Vec<Finding>,
        signals: &mut Vec<Signal>,
        stats: &mut EvalStats,
    ) {
        self.evaluate_each(memo, event, signals, stats, |i, scoped, memo| {
            out.push(self.finding(&self.rules[i], scoped, memo))
        })
    }

    /// [`RuleSet::evaluate_signals`] with the per-event findings written as stored, straight
    /// from the rule and the event (no [`Finding`] is made: its ~40 allocations were most of
    /// the cost of a finding). Each is what [`Finding::write_json`] writes for the finding
    /// `evaluate_signals` gives (a test compares them on every shipped and SigmaHQ rule over
    /// real data); an error is a finding JSON cannot hold.
    pub fn evaluate_encoded(
        &self,
        memo: &mut Memo,
        event: &Event,
        out: &mut Vec<Result<EncodedFinding, FindingEncodeError>>,
        scratch: &mut FindingScratch,
        signals: &mut Vec<Signal>,
        stats: &mut EvalStats,
    ) {
        self.evaluate_each(memo, event, signals, stats, |i, scoped, memo| {
            out.push(self.encode(i, scoped, memo, scratch))
        })
    }

    /// Evaluates every rule for `event`'s source, calling `found` (with the rule's index)
    /// for each match of a rule that makes findings, and pushing the signals matches give
    /// multi-event rules.
    fn evaluate_each(
        &self,
        memo: &mut Memo,
        event: &Event,
        signals: &mut Vec<Signal>,
        stats: &mut EvalStats,
        mut found: impl FnMut(usize, &Scoped<'_, '_>, &mut Memo),
    ) {
        stats.events += 1;
        memo.reset(&self.table);
        let candidates = &self.by_source[source_index(event.source)];
        if candidates.is_empty() {
            return;
        }
        let view = EventView::new(event);
        for &i in candidates {
            let rule = &self.rules[i];
            let scoped = Scoped { view: &view, rule };
            if !rule.matcher.matches(&self.table, memo, &scoped) {
                continue;
            }
            let counts = &mut stats.per_rule[i];
            counts.matched += 1;
            if let Some(j) = rule.allow.iter().position(|b| on_list(&view, b)) {
                counts.suppressed[j] += 1;
                continue;
            }
            for &slot in &self.rule_slots[i] {
                if let Some(sig) = correlation::signal(slot, &self.slots[slot as usize], &view) {
                    signals.push(sig);
                }
            }
            if !self.silent[i] {
                found(i, &scoped, memo);
            }
        }
    }

    fn finding(&self, rule: &Rule, scoped: &Scoped<'_, '_>, memo: &mut Memo) -> Finding {
        let event = scoped.view.event();
        let (fields, score) = self.finding_fields(rule, scoped, memo);
        let key = format!("{}|{}", event.source.as_str(), event.id);
        let fields = fields.to_map();
        let summary = render_summary(rule, scoped.view, &fields);
        Finding {
            id: Finding::stable_id(&rule.id, [key.as_str()]),
            rule: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity,
            score,
            first_seen: event.time,
            last_seen: event.time,
            entities: entities_listed(scoped.view, true),
            events: vec![event.id.clone()],
            attack: rule.attack.clone(),
            summary,
            fields,
        }
    }

    /// The finding [`RuleSet::finding`] makes, written as its JSON (field for field in the
    /// order [`Finding::write_json`] writes them).
    fn encode(
        &self,
        index: usize,
        scoped: &Scoped<'_, '_>,
        memo: &mut Memo,
        scratch: &mut FindingScratch,
    ) -> Result<EncodedFinding, FindingEncodeError> {
        use skein_model::json_text::{key, str_member, string, strings, time, unsigned};
        let rule = &self.rules[index];
        let event = scoped.view.event();
        let (mut fields, score) = self.finding_fields(rule, scoped, memo);
        scratch.key.clear();
        scratch.key.push_str(event.source.as_str());
        scratch.key.push('|');
        scratch.key.push_str(&event.id);
        let id = Finding::stable_id(&rule.id, [scratch.key.as_str()]);
        scratch.summary.clear();
        render_summary_into(rule, scoped.view, &|f| fields.text(f), &mut scratch.summary);
        // Sized for a usual finding (~1.1 KB), as `FindingRecord::of` sizes it.
        let mut json = Vec::with_capacity(2048);
        let mut write = |out: &mut Vec<u8>| -> serde_json::Result<()> {
            out.push(b'{');
            str_member(out, true, "id", &id);
            str_member(out, false, "rule", &rule.id);
            str_member(out, false, "title", &rule.title);
            str_member(out, false, "severity", rule.severity.as_str());
            key(out, false, "score");
            unsigned(out, u64::from(score));
            key(out, false, "first_seen");
            time(out, &event.time)?;
            key(out, false, "last_seen");
            time(out, &event.time)?;
            key(out, false, "entities");
            let mut entities = EntitiesJson::start(out, scratch);
            entities_in(scoped.view, true, &mut entities);
            entities.finish();
            key(out, false, "events");
            out.push(b'[');
            string(out, &event.id);
            out.push(b']');
            key(out, false, "attack");
            strings(out, &rule.attack)?;
            str_member(out, false, "summary", &scratch.summary);
            key(out, false, "fields");
            fields.write_json(out)?;
            out.push(b'}');
            Ok(())
        };
        if let Err(source) = write(&mut json) {
            return Err(FindingEncodeError { id, source });
        }
        Ok(EncodedFinding {
            id,
            rule: index,
            json,
        })
    }

    /// A per-event finding's fields (the criteria matched and the score they give, the
    /// reported event fields) and its score.
    fn finding_fields<'a>(
        &self,
        rule: &'a Rule,
        scoped: &'a Scoped<'_, '_>,
        memo: &mut Memo,
    ) -> (FindingFields<'a>, u32) {
        let mut fields = FindingFields::default();
        if !rule.criteria.is_empty() {
            let mut matched = smallvec::SmallVec::new();
            let mut weight = 0u32;
            for c in &rule.criteria {
                if c.matcher.matches(&self.table, memo, scoped) {
                    matched.push(c.name.as_str());
                    weight += c.weight;
                }
            }
            if let Some(f) = &rule.score_field {
                fields.insert(f, FieldValue::Number(u64::from(weight)));
            }
            fields.insert("matched", FieldValue::Names(matched));
            fields.insert("_weight", FieldValue::Number(u64::from(weight)));
        }
        for name in &rule.report {
            if let Some(v) = scoped.view.get_field(name) {
                fields.insert(name, FieldValue::Event(v));
            }
        }
        let weight = fields.remove_u64("_weight").unwrap_or(0);
        let score = (u64::from(rule.base_score) + u64::from(rule.per_criterion) * weight).min(100);
        (fields, u32::try_from(score).unwrap_or(100))
    }
}
