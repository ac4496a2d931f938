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

use rsigma_eval::{CompiledDetection, CompiledDetectionItem, CompiledMatcher, CompiledRule, Event};
use rsigma_parser::{ConditionExpr, Quantifier};

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

/// A compiled rule with its selections in a vector and its conditions over their indices.
pub struct FastRule {
    detections: Vec<CompiledDetection>,
    conditions: Vec<Cond>,
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
        })
    }

    /// True when any of the rule's conditions holds for `event`.
    pub fn matches(&self, event: &impl Event) -> bool {
        self.conditions.iter().any(|c| self.eval(c, event))
    }

    fn eval(&self, c: &Cond, event: &impl Event) -> bool {
        match c {
            Cond::Det(i) => detection(&self.detections[*i], event),
            Cond::Never => false,
            Cond::And(cs) => cs.iter().all(|c| self.eval(c, event)),
            Cond::Or(cs) => cs.iter().any(|c| self.eval(c, event)),
            Cond::Not(inner) => !self.eval(inner, event),
            Cond::AtLeast(0, _) => true,
            Cond::AtLeast(n, ds) => {
                let mut hits = 0u64;
                ds.iter().any(|i| {
                    if detection(&self.detections[*i], event) {
                        hits += 1;
                    }
                    hits >= *n
                })
            }
        }
    }
}

fn detection(d: &CompiledDetection, event: &impl Event) -> bool {
    match d {
        CompiledDetection::AllOf(items) => items.iter().all(|i| item(i, event)),
        CompiledDetection::AnyOf(ds) => ds.iter().any(|d| detection(d, event)),
        // Not produced: `FastRule::new` refuses rules with other shapes.
        _ => false,
    }
}

/// One detection item, with rsigma's semantics: `exists` tests presence (null counts as
/// absent); an absent field matches only a `null` value.
fn item(i: &CompiledDetectionItem, event: &impl Event) -> bool {
    let Some(field) = &i.field else {
        return false;
    };
    if let Some(expect) = i.exists {
        return event.get_field(field).is_some_and(|v| !v.is_null()) == expect;
    }
    match event.get_field(field) {
        Some(value) => i.matcher.matches(&value, event),
        None => matches!(i.matcher, CompiledMatcher::Null),
    }
}
