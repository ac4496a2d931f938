//! One loaded rule: its Sigma detection compiled by `rsigma-eval`, the `skein:` block
//! resolved against the lists, and what its findings look like.

use std::collections::BTreeMap;
use std::sync::Arc;

use rsigma_eval::{compile_rule, CompiledRule, RuleFieldSet};
use rsigma_parser::{
    parse_condition, Detection, LogSource, Modifier, SigmaCollection, SigmaRule, SigmaString,
    SigmaValue,
};
use skein_model::{Severity, Source};

use crate::fast::{DetectionTable, FastRule, Memo};
use crate::fields::{self, Resolution};
use crate::lists::{ListFile, ListMatcher};
use crate::placeholders::expand_placeholders;
use crate::spec::{ListRef, SkeinBlock};

/// A list as one rule uses it.
#[derive(Debug, Clone)]
pub struct BoundList {
    /// The list file's name.
    pub list: String,
    /// The field looked up.
    pub field: String,
    /// The name evaluation uses for it: its token when it resolves to a model field.
    pub(crate) lookup: String,
    /// The model field it resolves to, read without looking its name up for each event.
    pub(crate) resolved: Option<fields::Field>,
    /// Whether the field is the event's source address (looked up as an address, without
    /// printing and parsing it).
    pub(crate) is_src_ip: bool,
    pub matcher: Arc<ListMatcher>,
}

impl BoundList {
    /// The field whose text alone decides whether an event is on the list: the looked-up
    /// model field, for an address or text list not looked up as the source address (an
    /// address list of `src_ip` reads the address itself; a window list reads the time).
    pub(crate) fn decided_by(&self) -> Option<fields::Field> {
        match *self.matcher {
            ListMatcher::Ip(_) | ListMatcher::Text(_) if !self.is_src_ip => self.resolved,
            _ => None,
        }
    }
}

/// A compiled Sigma detection: `rsigma`'s compiled rule, and its index-based form where
/// [`FastRule`] supports it (see `fast.rs` for why).
pub(crate) struct Matcher {
    compiled: CompiledRule,
    fast: Option<FastRule>,
}

impl Matcher {
    fn new(compiled: CompiledRule) -> Matcher {
        let fast = FastRule::new(&compiled);
        Matcher { compiled, fast }
    }

    /// rsigma's compiled rule (for tests of what the table is built from).
    #[cfg(test)]
    pub(crate) fn compiled(&self) -> &CompiledRule {
        &self.compiled
    }

    /// Moves the fast form's selections into the rule set's table (`lists`: the rule's,
    /// for the fields whose text alone decides a `list.<name>` field).
    pub(crate) fn intern(
        &mut self,
        table: &mut DetectionTable,
        scope: &str,
        lists: &BTreeMap<String, BoundList>,
    ) {
        if let Some(f) = &mut self.fast {
            f.intern(table, scope, &|name| lists.get(name)?.decided_by())
        }
    }

    /// True when the detection matches `event` (`memo` holds this event's answers so far).
    pub(crate) fn matches(
        &self,
        table: &DetectionTable,
        memo: &mut Memo,
        event: &impl crate::fast::ByField,
    ) -> bool {
        match &self.fast {
            Some(f) => f.matches(table, memo, event),
            None => rsigma_eval::evaluate_rule(&self.compiled, event).is_some(),
        }
    }

    /// The same answer from `rsigma_eval::evaluate_rule` alone (for tests of [`FastRule`]).
    pub(crate) fn matches_with_rsigma(&self, event: &impl rsigma_eval::Event) -> bool {
        rsigma_eval::evaluate_rule(&self.compiled, event).is_some()
    }

    /// True when the fast form is used.
    pub(crate) fn is_fast(&self) -> bool {
        self.fast.is_some()
    }
}

/// A named criterion, compiled.
pub struct Criterion {
    pub name: String,
    pub weight: u32,
    pub(crate) matcher: Matcher,
}

/// A rule ready to evaluate.
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    /// ATT&CK technique ids from the `attack.tNNNN` tags, upper-cased.
    pub attack: Vec<String>,
    /// ATT&CK tactic tags (`attack.initial-access`, ...) without the prefix.
    pub tactics: Vec<String>,
    pub sources: Vec<Source>,
    /// Where the rule was defined.
    pub path: String,
    pub line: usize,
    pub(crate) matcher: Matcher,
    pub criteria: Vec<Criterion>,
    pub score_field: Option<String>,
    pub base_score: u32,
    pub per_criterion: u32,
    pub summary: Option<String>,
    pub report: Vec<String>,
    /// `list.<name>` fields the detection may read.
    pub lists: BTreeMap<String, BoundList>,
    pub allow: Vec<BoundList>,
    /// The detection reads a field only the original record holds (or searches keywords).
    pub needs_raw: bool,
}

/// The default finding score of a Sigma level.
pub fn level_score(severity: Severity) -> u32 {
    match severity {
        Severity::Informational => 10,
        Severity::Low => 30,
        Severity::Medium => 50,
        Severity::High => 70,
        Severity::Critical => 90,
    }
}

/// The sources a Sigma `logsource` selects, or why it selects none skein reads.
pub fn sources_for(ls: &LogSource) -> Result<Vec<Source>, String> {
    let product = ls.product.as_deref().unwrap_or("").to_ascii_lowercase();
    let service = ls.service.as_deref().unwrap_or("").to_ascii_lowercase();
    match (product.as_str(), service.as_str()) {
        ("azure", "signinlogs") => Ok(vec![Source::EntraSignin]),
        ("azure", "storagebloblogs") => Ok(vec![Source::StorageBlob]),
        ("aws", "cloudtrail") => Ok(vec![Source::Cloudtrail]),
        _ => Err(format!(
            "logsource product={product:?} service={service:?}{} is not an input skein reads \
             (azure/signinlogs, azure/storagebloblogs, aws/cloudtrail)",
            ls.category
                .as_deref()
                .map(|c| format!(" category={c:?}"))
                .unwrap_or_default()
        )),
    }
}

fn severity_of(rule: &SigmaRule) -> Result<Severity, String> {
    let level = rule
        .level
        .as_ref()
        .ok_or("the rule has no `level` (informational, low, medium, high, critical)")?;
    let name = format!("{level:?}");
    name.parse::<Severity>()
}

/// Splits Sigma tags into ATT&CK techniques (`T1586.003`) and tactics.
pub(crate) fn attack_tags(tags: &[String]) -> (Vec<String>, Vec<String>) {
    let mut techniques = Vec::new();
    let mut tactics = Vec::new();
    for tag in tags {
        let Some(rest) = tag
            .to_ascii_lowercase()
            .strip_prefix("attack.")
            .map(str::to_string)
        else {
            continue;
        };
        let is_technique =
            rest.starts_with('t') && rest[1..].chars().next().is_some_and(|c| c.is_ascii_digit());
        if is_technique {
            techniques.push(rest.to_ascii_uppercase());
        } else if !rest.starts_with('g') && !rest.starts_with('s') {
            tactics.push(rest);
        }
    }
    (techniques, tactics)
}

/// Field names the detection reads that look canonical but are not (a typo there would
/// otherwise silently never match), and `list.*` names the `skein:` block does not declare.
fn field_names(rule: &SigmaRule) -> Vec<String> {
    let one = SigmaCollection {
        rules: vec![rule.clone()],
        ..SigmaCollection::new()
    };
    RuleFieldSet::collect(&one, &[], false)
        .names()
        .map(str::to_string)
        .collect()
}

fn has_keywords(d: &Detection) -> bool {
    match d {
        Detection::Keywords(_) => true,
        Detection::AnyOf(items) => items.iter().any(has_keywords),
        _ => false,
    }
}

/// True when evaluating the rule needs the original record: a keyword search, or a field
/// name that resolves to no model field (see [`fields::resolve`]).
fn reads_raw(rule: &SigmaRule, sources: &[Source]) -> bool {
    rule.detection.named.values().any(has_keywords)
        || field_names(rule)
            .iter()
            .any(|n| !n.starts_with("list.") && fields::resolve(n, sources) == Resolution::Raw)
}

/// The rule with every field name replaced by its token, including the targets of
/// `|fieldref`: [`fields::token`] for a model field, [`fields::raw_token`] for a field of the
/// original record, so that evaluation never resolves a name again; `list.*` names stay.
fn with_tokens(rule: &SigmaRule, sources: &[Source]) -> SigmaRule {
    let swap = |name: &str| {
        if name.starts_with("list.") {
            return None;
        }
        Some(match fields::resolve(name, sources) {
            Resolution::Field(f) => fields::token(f),
            Resolution::Raw => fields::raw_token(name),
        })
    };
    fn walk(d: &mut Detection, swap: &dyn Fn(&str) -> Option<String>) {
        match d {
            Detection::AllOf(items) => {
                for item in items {
                    if let Some(t) = item.field.name.as_deref().and_then(swap) {
                        item.field.name = Some(t);
                    }
                    if item.field.modifiers.contains(&Modifier::FieldRef) {
                        for v in &mut item.values {
                            if let SigmaValue::String(s) = v {
                                if let Some(t) = swap(&s.original) {
                                    *s = SigmaString::new(&t);
                                }
                            }
                        }
                    }
                }
            }
            Detection::AnyOf(ds) => ds.iter_mut().for_each(|d| walk(d, swap)),
            _ => {}
        }
    }
    let mut out = rule.clone();
    for d in out.detection.named.values_mut() {
        walk(d, &swap);
    }
    out
}

fn unknown_fields(rule: &SigmaRule, block: &SkeinBlock) -> Vec<String> {
    let names = field_names(rule);
    let mut bad = Vec::new();
    for name in &names {
        if let Some(list) = name.strip_prefix("list.") {
            if !block.lists.contains_key(list) {
                bad.push(format!("{name}: no list named {list:?} under skein.lists"));
            }
        } else if !fields::is_valid_canonical(name) {
            bad.push(format!("{name}: not a field of the canonical model"));
        }
    }
    bad
}

/// Compiles a criterion: the rule with its condition replaced by `when`.
fn compile_criterion(rule: &SigmaRule, when: &str) -> Result<CompiledRule, String> {
    let expr = parse_condition(when).map_err(|e| format!("condition {when:?}: {e}"))?;
    let mut variant = rule.clone();
    variant.detection.conditions = vec![expr];
    variant.detection.condition_strings = vec![when.to_string()];
    compile_rule(&variant).map_err(|e| format!("condition {when:?}: {e}"))
}

/// Looks up and compiles the lists a rule references.
fn bind(
    r: &ListRef,
    sources: &[Source],
    lists: &BTreeMap<String, ListFile>,
    cache: &mut BTreeMap<(String, String), Arc<ListMatcher>>,
) -> Result<BoundList, String> {
    let file = lists.get(&r.list).ok_or_else(|| {
        format!(
            "list {:?} does not exist (lists/{}.txt); known lists: {}",
            r.list,
            r.list,
            lists.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let kind = r.kind();
    let key = (r.list.clone(), format!("{kind:?}"));
    let matcher = match cache.get(&key) {
        Some(m) => m.clone(),
        None => {
            let m = Arc::new(ListMatcher::compile(file, kind).map_err(|errs| {
                errs.iter()
                    .map(|e| format!("{}:{}: {}", e.path, e.line, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            })?);
            cache.insert(key, m.clone());
            m
        }
    };
    let resolved = fields::resolve(&r.field, sources);
    let lookup = match resolved {
        Resolution::Field(f) => fields::token(f),
        Resolution::Raw => fields::raw_token(&r.field),
    };
    Ok(BoundList {
        list: r.list.clone(),
        field: r.field.clone(),
        lookup,
        resolved: match resolved {
            Resolution::Field(f) => Some(f),
            Resolution::Raw => None,
        },
        is_src_ip: resolved == Resolution::Field(fields::Field::SrcIp),
        matcher,
    })
}

/// Builds a [`Rule`] from a parsed Sigma rule. Errors are messages (the loader adds file and
/// line).
pub(crate) fn build(
    rule: &SigmaRule,
    block: SkeinBlock,
    lists: &BTreeMap<String, ListFile>,
    cache: &mut BTreeMap<(String, String), Arc<ListMatcher>>,
    path: &str,
    line: usize,
) -> Result<Rule, Vec<String>> {
    let mut errors = Vec::new();
    let expanded = expand_placeholders(rule, lists).unwrap_or_else(|e| {
        errors.extend(e);
        None
    });
    let rule = expanded.as_ref().unwrap_or(rule);
    let id = rule.id.clone().unwrap_or_default();
    if id.trim().is_empty() {
        errors.push("the rule has no `id`".to_string());
    }
    let severity = severity_of(rule).map_err(|e| errors.push(e)).ok();
    let sources = sources_for(&rule.logsource)
        .map_err(|e| errors.push(e))
        .ok();
    errors.extend(unknown_fields(rule, &block));
    let needs_raw = reads_raw(rule, sources.as_deref().unwrap_or(&[]));
    let tokenised = with_tokens(rule, sources.as_deref().unwrap_or(&[]));
    let compiled = compile_rule(&tokenised)
        .map_err(|e| errors.push(format!("detection: {e}")))
        .ok();
    let mut criteria = Vec::new();
    for c in &block.criteria {
        match compile_criterion(&tokenised, &c.when) {
            Ok(compiled) => criteria.push(Criterion {
                name: c.name.clone(),
                weight: c.weight,
                matcher: Matcher::new(compiled),
            }),
            Err(e) => errors.push(format!("criterion {:?}: {e}", c.name)),
        }
    }
    let mut bound_lists = BTreeMap::new();
    for (name, r) in &block.lists {
        match bind(r, sources.as_deref().unwrap_or(&[]), lists, cache) {
            Ok(b) => {
                bound_lists.insert(name.clone(), b);
            }
            Err(e) => errors.push(format!("skein.lists.{name}: {e}")),
        }
    }
    let mut allow = Vec::new();
    for r in &block.allow {
        match bind(r, sources.as_deref().unwrap_or(&[]), lists, cache) {
            Ok(b) => allow.push(b),
            Err(e) => errors.push(format!("skein.allow: {e}")),
        }
    }
    for f in &block.report {
        if !fields::is_canonical_name(f) {
            errors.push(format!("skein.report: {f:?} is not a canonical field"));
        }
    }
    if block.score.is_some_and(|s| s > 100) {
        errors.push("skein.score must be 0-100".to_string());
    }
    let (Some(severity), Some(sources), Some(compiled), true) =
        (severity, sources, compiled, errors.is_empty())
    else {
        return Err(errors);
    };
    let (attack, tactics) = attack_tags(&rule.tags);
    Ok(Rule {
        needs_raw,
        id,
        title: rule.title.clone(),
        description: rule.description.clone(),
        severity,
        attack,
        tactics,
        sources,
        path: path.to_string(),
        line,
        matcher: Matcher::new(compiled),
        criteria,
        score_field: block.score_field,
        base_score: block.score.unwrap_or_else(|| level_score(severity)),
        per_criterion: block.per_criterion.unwrap_or(0),
        summary: block.summary,
        report: block.report,
        lists: bound_lists,
        allow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_tags_split_into_techniques_and_tactics() {
        let (t, a) = attack_tags(&[
            "attack.resource-development".into(),
            "attack.t1586.003".into(),
            "attack.T1078".into(),
            "attack.g0016".into(),
            "cve.2021-1".into(),
        ]);
        assert_eq!(t, vec!["T1586.003", "T1078"]);
        assert_eq!(a, vec!["resource-development"]);
    }
}
