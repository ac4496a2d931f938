//! Index-based evaluation of an `rsigma` compiled rule's condition.
//!
//! Why not only `rsigma_eval::evaluate_rule`: profiling `skein correlate` on 2.5M events showed
//! ~20% of the time in its condition walk, which looks every selection up by name in a
//! `HashMap<String, _>` (SipHash) for every event and rule, and on a match runs a second pass
//! that collects matched fields we do not use. This module resolves selection names to indices
//! once, then evaluates with rsigma's own compiled matchers (`CompiledMatcher::matches`) and the
//! same item semantics (`exists`, absent field vs `null`), so the matching itself stays
//! rsigma's. Constructs it does not mirror (keyword, array-scope and conditional blocks) make
//! [`FastRule::new`] return `None`, and the caller falls back to `evaluate_rule`. A test
//! checks both paths agree on every shipped rule and on SigmaHQ's.
//!
//! An item's matcher over the value it reads is `matching.rs`'s (rsigma's semantics, without
//! rsigma's copies of the text).
//!
//! A costly selection over one field with few distinct values (a regular expression over the
//! client, a country list) is remembered by that field's text on each thread
//! (`remember.rs`).
//!
//! Rules repeat selections (the five seed ports test the same risk fields; criteria reuse
//! their rule's selections): [`FastRule::intern`] moves every selection into one
//! [`DetectionTable`] per rule set, identical selections once, and [`Memo`] remembers each
//! selection's answer for the event being evaluated. Selections that read `list.*` fields
//! are shared only within their rule (the lists are the rule's own).

use std::collections::HashMap;

use rsigma_eval::{
    CompiledDetection, CompiledDetectionItem, CompiledMatcher, CompiledRule, Event, EventValue,
};
use rsigma_parser::{ConditionExpr, Quantifier};

use crate::fields::{self, Field};
use matching::{discard, matches, on_text, Text};
use remember::Verdicts;

mod matching;
mod remember;

/// A condition over selections by index.
enum Cond {
    Det(usize),
    /// A name with no selection: never true (as in rsigma).
    Never,
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// At least `n` of the selections.
    AtLeast(u64, Vec<usize>),
}

/// Every selection of a rule set, identical ones once.
#[derive(Default)]
pub struct DetectionTable {
    /// Which table this is, for the [`Memo`]s that remember its answers.
    id: TableId,
    /// Each selection with its items' fields resolved once ([`Fields`]), and how its
    /// answers are remembered, if they are.
    detections: Vec<(CompiledDetection, Fields, Option<RememberedBy>)>,
    keys: HashMap<String, usize>,
    /// Selections whose answers are remembered (the length of a [`Memo`]'s tables).
    remembered: usize,
}

/// A number no other [`DetectionTable`] of the process has (given again whenever a table
/// gains a selection): a [`Memo`] forgets what it remembered for another table, so a memo
/// used with two rule sets never answers one's selection with the other's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct TableId(u64);

impl Default for TableId {
    fn default() -> TableId {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        TableId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

/// For a `list.<name>` field of a rule, the field whose text alone decides it, if one does.
pub type ListField<'a> = &'a dyn Fn(&str) -> Option<Field>;

/// A selection whose answer is a function of one text field's text, remembered by it in
/// the [`Memo`]'s table `table`.
#[derive(Clone, Copy)]
struct RememberedBy {
    field: Field,
    table: usize,
}

/// The fields of a selection's items, in its shape: the canonical field an item's token
/// names, resolved when the rule set is made (`None`: looked up by name for each event).
/// Parsing the token for every item of every event was ~2% of a full run.
enum Fields {
    AllOf(Vec<Option<Field>>),
    AnyOf(Vec<Fields>),
    /// A shape the fast path does not evaluate.
    Other,
}

impl Fields {
    fn of(d: &CompiledDetection) -> Fields {
        match d {
            CompiledDetection::AllOf(items) => Fields::AllOf(
                items
                    .iter()
                    .map(|i| i.field.as_deref().and_then(fields::from_token))
                    .collect(),
            ),
            CompiledDetection::AnyOf(ds) => Fields::AnyOf(ds.iter().map(Fields::of).collect()),
            _ => Fields::Other,
        }
    }
}

/// An event whose canonical fields are read by [`Field`] as well as by name.
pub trait ByField: Event {
    /// What `get_field` gives for the token of `field`.
    fn by_field(&self, field: Field) -> Option<EventValue<'_>>;

    /// [`ByField::by_field`] for a field whose value is a text or absent, as that text (see
    /// `EventView::text_value`); `None` for other fields.
    fn text_field(&self, field: Field) -> Option<Option<&str>>;
}

impl DetectionTable {
    pub fn len(&self) -> usize {
        self.detections.len()
    }

    pub fn is_empty(&self) -> bool {
        self.detections.is_empty()
    }

    /// The index of `d` in the table, added if new. `scope` keeps selections that read a
    /// rule's own lists apart from other rules' (empty: shared by all); `list_field` gives,
    /// for a `list.<name>` field of that rule, the field whose text alone decides it.
    fn intern(&mut self, d: CompiledDetection, scope: &str, list_field: ListField<'_>) -> usize {
        let mut key = format!("{scope}\u{0}");
        crate::fingerprint::detection(&d, &mut key);
        if let Some(i) = self.keys.get(&key) {
            return *i;
        }
        let fields = Fields::of(&d);
        self.id = TableId::default();
        let remembered = remembered_by(&d, list_field).map(|field| {
            self.remembered += 1;
            RememberedBy {
                field,
                table: self.remembered - 1,
            }
        });
        self.detections.push((d, fields, remembered));
        self.keys.insert(key, self.detections.len() - 1);
        self.detections.len() - 1
    }
}

/// The field by whose text a selection's answer is remembered: its one item's field, for a
/// costly matcher over it (see `remember.rs`), or the field a `list.<name>` item looks up.
fn remembered_by(d: &CompiledDetection, list_field: ListField<'_>) -> Option<Field> {
    let CompiledDetection::AllOf(items) = d else {
        return None;
    };
    let [item] = items.as_slice() else {
        return None;
    };
    let token = item.field.as_deref()?;
    if item.exists.is_some() || !remember::value_only(&item.matcher) {
        return None;
    }
    match token.strip_prefix("list.") {
        Some(name) => list_field(name),
        None => remember::costly(&item.matcher)
            .then(|| fields::from_token(token))
            .flatten(),
    }
}

/// The answers of the selections of a [`DetectionTable`] for one event (0 unknown, 1 false,
/// 2 true), and the answers remembered by text from one event to the next (one table per
/// remembered selection; one `Memo` per evaluating thread).
pub struct Memo {
    answers: Vec<u8>,
    remembered: Vec<Verdicts>,
    /// The table `remembered` is for (none yet: 0).
    table: u64,
}

impl Default for Memo {
    fn default() -> Memo {
        Memo::new()
    }
}

impl Memo {
    pub fn new() -> Memo {
        Memo {
            answers: Vec::new(),
            remembered: Vec::new(),
            table: 0,
        }
    }

    /// Forgets every answer for the event (call before each event); what is remembered by
    /// text is kept while the memo is used with the same table.
    pub fn reset(&mut self, table: &DetectionTable) {
        self.answers.clear();
        self.answers.resize(table.len(), 0);
        if self.table != table.id.0 {
            self.table = table.id.0;
            self.remembered.clear();
            self.remembered
                .resize_with(table.remembered, Verdicts::default);
        }
    }
}

/// True when a selection reads a `list.*` field (a rule's own list).
fn reads_lists(d: &CompiledDetection) -> bool {
    match d {
        CompiledDetection::AllOf(items) => items
            .iter()
            .any(|i| i.field.as_deref().is_some_and(|f| f.starts_with("list."))),
        CompiledDetection::AnyOf(ds) => ds.iter().any(reads_lists),
        _ => false,
    }
}

/// A compiled rule with its selections in a vector and its conditions over their indices;
/// [`FastRule::intern`] derives the conditions over a rule set's table that
/// [`FastRule::matches`] evaluates (again for each new rule set, e.g. after `retain`).
pub struct FastRule {
    detections: Vec<CompiledDetection>,
    conditions: Vec<Cond>,
    interned: Vec<Cond>,
}

/// True for the detection shapes this module evaluates itself.
fn supported(d: &CompiledDetection) -> bool {
    match d {
        CompiledDetection::AllOf(items) => items.iter().all(|i| i.field.is_some()),
        CompiledDetection::AnyOf(ds) => ds.iter().all(supported),
        _ => false,
    }
}

impl FastRule {
    /// The fast form of `rule`, or `None` when it uses a construct only rsigma evaluates.
    pub fn new(rule: &CompiledRule) -> Option<FastRule> {
        let mut names: Vec<&String> = rule.detections.keys().collect();
        names.sort();
        if !rule.detections.values().all(supported) {
            return None;
        }
        let index = |name: &str| names.iter().position(|n| n.as_str() == name);
        fn convert(
            e: &ConditionExpr,
            names: &[&String],
            index: &dyn Fn(&str) -> Option<usize>,
        ) -> Cond {
            match e {
                ConditionExpr::Identifier(n) => index(n).map_or(Cond::Never, Cond::Det),
                ConditionExpr::And(es) => {
                    Cond::And(es.iter().map(|e| convert(e, names, index)).collect())
                }
                ConditionExpr::Or(es) => {
                    Cond::Or(es.iter().map(|e| convert(e, names, index)).collect())
                }
                ConditionExpr::Not(inner) => Cond::Not(Box::new(convert(inner, names, index))),
                ConditionExpr::Selector {
                    quantifier,
                    pattern,
                } => {
                    let matching: Vec<usize> = names
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| pattern.matches_detection_name(n))
                        .map(|(i, _)| i)
                        .collect();
                    match quantifier {
                        Quantifier::Any => Cond::AtLeast(1, matching),
                        Quantifier::All => Cond::And(matching.into_iter().map(Cond::Det).collect()),
                        Quantifier::Count(n) => Cond::AtLeast(*n, matching),
                    }
                }
            }
        }
        let conditions = rule
            .conditions
            .iter()
            .map(|c| convert(c, &names, &index))
            .collect();
        let detections = names
            .iter()
            .map(|n| rule.detections[n.as_str()].clone())
            .collect();
        Some(FastRule {
            detections,
            conditions,
            interned: Vec::new(),
        })
    }

    /// Moves the rule's selections into `table` (rule `scope` for those reading lists, with
    /// `list_field` giving the field whose text alone decides a `list.<name>` field of the
    /// rule, if one does) and points its conditions at them.
    pub fn intern(&mut self, table: &mut DetectionTable, scope: &str, list_field: ListField<'_>) {
        let map: Vec<usize> = self
            .detections
            .iter()
            .map(|d| {
                let (s, lists): (&str, ListField<'_>) = if reads_lists(d) {
                    (scope, list_field)
                } else {
                    ("", &|_| None)
                };
                table.intern(d.clone(), s, lists)
            })
            .collect();
        fn remap(c: &Cond, map: &[usize]) -> Cond {
            match c {
                Cond::Det(i) => Cond::Det(map[*i]),
                Cond::Never => Cond::Never,
                Cond::And(cs) => Cond::And(cs.iter().map(|c| remap(c, map)).collect()),
                Cond::Or(cs) => Cond::Or(cs.iter().map(|c| remap(c, map)).collect()),
                Cond::Not(inner) => Cond::Not(Box::new(remap(inner, map))),
                Cond::AtLeast(n, ds) => Cond::AtLeast(*n, ds.iter().map(|i| map[*i]).collect()),
            }
        }
        self.interned = self.conditions.iter().map(|c| remap(c, &map)).collect();
    }

    /// True when any of the rule's conditions holds for `event` (after [`FastRule::intern`]).
    pub fn matches(&self, table: &DetectionTable, memo: &mut Memo, event: &impl ByField) -> bool {
        self.interned.iter().any(|c| eval(c, table, memo, event))
    }
}

/// The answer of selection `i`, from the memo or computed.
#[inline(always)]
fn selection(i: usize, table: &DetectionTable, memo: &mut Memo, event: &impl ByField) -> bool {
    match memo.answers.get(i) {
        Some(1) => false,
        Some(2) => true,
        _ => compute(i, table, memo, event),
    }
}

/// Selection `i` evaluated, and its answer remembered. Out of line: the condition walk that
/// calls it stays small (its prologue and epilogue ran on every node of every rule's
/// condition, ~2k instructions per event, while this runs once per selection).
#[inline(never)]
fn compute(i: usize, table: &DetectionTable, memo: &mut Memo, event: &impl ByField) -> bool {
    let Some((d, fields, remembered)) = table.detections.get(i) else {
        return false;
    };
    let by_text = remembered.and_then(|r| {
        let text = event.text_field(r.field).flatten()?;
        Some((memo.remembered.get_mut(r.table)?, text))
    });
    let hit = match by_text {
        Some((verdicts, text)) => verdicts.answer(text, || detection(d, fields, event)),
        None => detection(d, fields, event),
    };
    if let Some(slot) = memo.answers.get_mut(i) {
        *slot = 1 + u8::from(hit);
    }
    hit
}

/// [`eval`] of `c`, a selection answered here without a call (most nodes are selections).
#[inline(always)]
fn node(c: &Cond, table: &DetectionTable, memo: &mut Memo, event: &impl ByField) -> bool {
    match c {
        Cond::Det(i) => selection(*i, table, memo, event),
        other => eval(other, table, memo, event),
    }
}

fn eval(c: &Cond, table: &DetectionTable, memo: &mut Memo, event: &impl ByField) -> bool {
    match c {
        Cond::Det(i) => selection(*i, table, memo, event),
        Cond::Never => false,
        Cond::And(cs) => cs.iter().all(|c| node(c, table, memo, event)),
        Cond::Or(cs) => cs.iter().any(|c| node(c, table, memo, event)),
        Cond::Not(inner) => !node(inner, table, memo, event),
        Cond::AtLeast(0, _) => true,
        Cond::AtLeast(n, ds) => {
            let mut hits = 0u64;
            ds.iter().any(|i| {
                if selection(*i, table, memo, event) {
                    hits += 1;
                }
                hits >= *n
            })
        }
    }
}

fn detection(d: &CompiledDetection, fields: &Fields, event: &impl ByField) -> bool {
    match (d, fields) {
        (CompiledDetection::AllOf(items), Fields::AllOf(fields)) => items
            .iter()
            .zip(fields)
            .all(|(i, field)| item(i, *field, event)),
        (CompiledDetection::AnyOf(ds), Fields::AnyOf(fields)) => ds
            .iter()
            .zip(fields)
            .any(|(d, fields)| detection(d, fields, event)),
        // Not produced: `FastRule::new` refuses rules with other shapes.
        _ => false,
    }
}

/// One detection item, with rsigma's semantics: `exists` tests presence (null counts as
/// absent); an absent field matches only a `null` value.
fn item(i: &CompiledDetectionItem, resolved: Option<Field>, event: &impl ByField) -> bool {
    let Some(field) = &i.field else {
        return false;
    };
    // A text field (nearly every item): the same answers as below, for a `Str` value.
    if let Some(text) = resolved.and_then(|f| event.text_field(f)) {
        return match (i.exists, text) {
            (Some(expect), text) => text.is_some() == expect,
            (None, Some(text)) => {
                let value = EventValue::Str(std::borrow::Cow::Borrowed(text));
                let hit = on_text(&i.matcher, &mut Text::new(text), &value, event);
                discard(value);
                hit
            }
            (None, None) => matches!(i.matcher, CompiledMatcher::Null),
        };
    }
    let value = match resolved {
        Some(f) => event.by_field(f),
        None => event.get_field(field),
    };
    if let Some(expect) = i.exists {
        return value.is_some_and(|v| !v.is_null()) == expect;
    }
    match value {
        Some(value) => {
            let hit = matches(&i.matcher, &value, event);
            discard(value);
            hit
        }
        None => matches!(i.matcher, CompiledMatcher::Null),
    }
}
