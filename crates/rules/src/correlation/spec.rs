//! What a multi-event rule says, before its rule references and field names are resolved:
//! the four Sigma correlation types (parsed by `rsigma-parser`) and skein's own three
//! (`absence`, `geo_velocity`, `chain`, parsed here from the same `correlation:` block).
//!
//! ```yaml
//! correlation:                 # Sigma: event_count, value_count, temporal, temporal_ordered
//!   type: value_count
//!   rules: [signin-wrong-password]
//!   group-by: [src_ip]
//!   timespan: 10m
//!   condition: {gte: 5, field: actor.upn}
//! ---
//! correlation:                 # skein: an event with no partner event sharing its keys
//!   type: absence
//!   rules: [blob-oauth-access]
//!   absent: [signin-success]
//!   keys: [[actor.user_id, actor.upn], src_ip]   # a list = alternatives (any may match)
//!   before: 24h                # look for a partner this long before ...
//!   after: 0s                  # ... and this long after (default 0s)
//!   timespan: 1h               # later unmatched events of the same keys within this gap
//!                              #   join the same finding
//! ---
//! correlation:                 # skein: two located events of one group too far apart for the time
//!   type: geo_velocity
//!   rules: [signin-success]
//!   group-by: [[actor.user_id, actor.upn]]
//!   timespan: 24h              # compare with the previous event at most this old
//!   max_speed_kmh: 1000
//!   min_distance_km: 500
//! ---
//! correlation:                 # skein: events linked one to the next, each link its own join
//!   type: chain
//!   links:
//!     - rule: signin-wrong-password
//!     - rule: signin-success
//!       join: {src_ip: src_ip, actor.upn: actor.upn}   # previous link's field: this link's
//!       within: 1h
//! ```

use std::collections::BTreeMap;

use rsigma_parser::{
    ConditionExpr, ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType,
    Timespan,
};
use serde::Deserialize;

/// A duration written the Sigma way (`30s`, `10m`, `24h`, `7d`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub seconds: u64,
    pub text: String,
}

/// The longest window a rule may ask for (100 years): longer ones are mistakes, and time
/// arithmetic with them would overflow.
pub const MAX_SPAN_SECONDS: u64 = 100 * 366 * 24 * 3600;

impl Span {
    pub fn parse(text: &str) -> Result<Span, String> {
        let t = Timespan::parse(text.trim()).map_err(|e| format!("{text:?}: {e}"))?;
        Span::from_sigma(&t)
    }

    fn from_sigma(t: &Timespan) -> Result<Span, String> {
        if t.seconds > MAX_SPAN_SECONDS {
            return Err(format!(
                "{:?} is longer than 100 years, the longest window skein accepts",
                t.original
            ));
        }
        Ok(Span {
            seconds: t.seconds,
            text: t.original.clone(),
        })
    }

    pub fn zero() -> Span {
        Span {
            seconds: 0,
            text: "0s".into(),
        }
    }

    /// The span as a chrono duration.
    pub fn duration(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(i64::try_from(self.seconds).unwrap_or(i64::MAX / 1_000_000))
    }
}

/// One key of a group-by or join: a field, or alternatives (object id, else UPN).
pub type KeySpec = Vec<String>;

/// A comparison of the count with a number; all of a condition's must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
    Neq,
}

impl Op {
    pub fn holds(self, count: u64, n: u64) -> bool {
        match self {
            Op::Lt => count < n,
            Op::Lte => count <= n,
            Op::Gt => count > n,
            Op::Gte => count >= n,
            Op::Eq => count == n,
            Op::Neq => count != n,
        }
    }

    fn from_sigma(op: ConditionOperator) -> Op {
        match op {
            ConditionOperator::Lt => Op::Lt,
            ConditionOperator::Lte => Op::Lte,
            ConditionOperator::Gt => Op::Gt,
            ConditionOperator::Gte => Op::Gte,
            ConditionOperator::Eq => Op::Eq,
            ConditionOperator::Neq => Op::Neq,
        }
    }
}

/// A link of a chain after the first: the rule, how it joins the previous link and how
/// soon after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub rule: String,
    /// (field of the previous link's event, field of this link's event); all must be equal.
    pub join: Vec<(String, String)>,
    pub within: Span,
}

/// The kind of a multi-event rule and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    EventCount {
        condition: Condition,
    },
    ValueCount {
        field: String,
        condition: Condition,
    },
    /// Every referenced rule (or at least `min_rules` of them) within the timespan.
    Temporal {
        ordered: bool,
        min_rules: Option<u64>,
    },
    Absence {
        absent: Vec<String>,
        keys: Vec<KeySpec>,
        before: Span,
        after: Span,
    },
    GeoVelocity {
        max_speed_kmh: f64,
        min_distance_km: f64,
    },
    Chain {
        links: Vec<Link>,
    },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::EventCount { .. } => "event_count",
            Kind::ValueCount { .. } => "value_count",
            Kind::Temporal { ordered: false, .. } => "temporal",
            Kind::Temporal { ordered: true, .. } => "temporal_ordered",
            Kind::Absence { .. } => "absence",
            Kind::GeoVelocity { .. } => "geo_velocity",
            Kind::Chain { .. } => "chain",
        }
    }
}

/// What the finding of a multi-event rule looks like (its `skein:` block).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Presentation {
    /// Template: `{fields.NAME}`, `{group.FIELD}` (a group-by or key value), `{window}`,
    /// `{entity.TYPE}` (say `{entity.user}`: the first such entity's name, else its id).
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub score: Option<u32>,
    /// Name of the count in `fields` (default `event_count` or `distinct_values`).
    #[serde(default)]
    pub count_as: Option<String>,
    /// Name of the list of distinct values in `fields` (value_count; default `values`).
    #[serde(default)]
    pub values_as: Option<String>,
}

/// A multi-event rule as written, its references still names.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationDef {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub level: Option<String>,
    pub tags: Vec<String>,
    /// The rules whose events the correlation reads (for a chain: each link's, in order).
    pub rules: Vec<String>,
    /// Whether the referenced rules also give findings of their own (Sigma `generate`).
    pub generate: bool,
    pub group_by: Vec<KeySpec>,
    /// alias → (rule id → field name in that rule's events).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    pub timespan: Span,
    pub kind: Kind,
    pub presentation: Presentation,
}

/// A threshold: the comparisons that must all hold.
pub type Condition = Vec<(Op, u64)>;

/// A threshold condition and the field whose distinct values it counts.
fn condition_of(c: &CorrelationCondition) -> Result<(Condition, Option<String>), String> {
    match c {
        CorrelationCondition::Threshold {
            predicates, field, ..
        } => {
            let field = match field.as_deref() {
                None => None,
                Some([one]) => Some(one.clone()),
                Some(many) => {
                    return Err(format!(
                        "condition.field names {} fields; skein counts the distinct values of one",
                        many.len()
                    ))
                }
            };
            Ok((
                predicates
                    .iter()
                    .map(|(op, n)| (Op::from_sigma(*op), *n))
                    .collect(),
                field,
            ))
        }
        CorrelationCondition::Extended(_) => {
            Err("an expression condition is only meaningful for temporal types".into())
        }
    }
}

/// True when `expr` is `a and b and ...` over plain rule names (the only boolean temporal
/// condition skein evaluates: every rule within the timespan).
fn is_conjunction(expr: &ConditionExpr) -> bool {
    match expr {
        ConditionExpr::And(items) => items.iter().all(is_conjunction),
        ConditionExpr::Identifier(_) => true,
        _ => false,
    }
}

/// A Sigma correlation rule, as skein evaluates it. `has_condition` says whether the
/// document wrote a `condition` (`rsigma-parser` fills in `gte: 1` for a temporal rule
/// without one, which would read as "any one rule"; Sigma means "all of them").
pub fn from_sigma(
    c: &CorrelationRule,
    has_condition: bool,
    presentation: Presentation,
) -> Result<CorrelationDef, String> {
    let id = c.id.clone().or_else(|| c.name.clone()).unwrap_or_default();
    let kind = match c.correlation_type {
        CorrelationType::EventCount => Kind::EventCount {
            condition: condition_of(&c.condition)?.0,
        },
        CorrelationType::ValueCount => {
            let (condition, field) = condition_of(&c.condition)?;
            Kind::ValueCount {
                field: field.ok_or("value_count needs condition.field (the values to count)")?,
                condition,
            }
        }
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
            let min_rules = match &c.condition {
                CorrelationCondition::Threshold { .. } if !has_condition => None,
                CorrelationCondition::Threshold { predicates, .. } => {
                    match predicates.as_slice() {
                        [(ConditionOperator::Gte, n)] => Some(*n),
                        _ => return Err("a temporal condition is `gte: N` (rules that must occur) or `rule_a and rule_b`".into()),
                    }
                }
                CorrelationCondition::Extended(expr) if is_conjunction(expr) => None,
                CorrelationCondition::Extended(_) => {
                    return Err("skein evaluates temporal conditions joined by `and` only".into())
                }
            };
            Kind::Temporal {
                ordered: c.correlation_type == CorrelationType::TemporalOrdered,
                min_rules,
            }
        }
        other => {
            return Err(format!(
                "correlation type {} is not evaluated by skein (event_count, value_count, temporal, temporal_ordered, absence, geo_velocity, chain)",
                other.as_str()
            ))
        }
    };
    if c.window != rsigma_parser::WindowMode::Sliding {
        return Err(format!(
            "window: {} — skein's windows are sliding (exact per event)",
            c.window.as_str()
        ));
    }
    Ok(CorrelationDef {
        id,
        title: c.title.clone(),
        description: c.description.clone(),
        level: c.level.as_ref().map(|l| format!("{l:?}")),
        tags: c.tags.clone(),
        rules: c.rules.clone(),
        generate: c.generate,
        group_by: c.group_by.iter().map(|g| vec![g.clone()]).collect(),
        aliases: c
            .aliases
            .iter()
            .map(|a| {
                (
                    a.alias.clone(),
                    a.mapping
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            })
            .collect(),
        timespan: Span::from_sigma(&c.timespan).map_err(|e| format!("timespan: {e}"))?,
        kind,
        presentation,
    })
}

/// A key written as a field name or a list of alternatives.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum KeyText {
    One(String),
    Alternatives(Vec<String>),
}

impl KeyText {
    fn spec(self) -> KeySpec {
        match self {
            KeyText::One(s) => vec![s],
            KeyText::Alternatives(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkText {
    rule: String,
    #[serde(default)]
    join: BTreeMap<String, String>,
    #[serde(default)]
    within: Option<String>,
}

/// The `correlation:` block of skein's own types.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkeinCorrelationText {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    keys: Vec<KeyText>,
    #[serde(default, rename = "group-by")]
    group_by: Vec<KeyText>,
    #[serde(default)]
    aliases: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    timespan: Option<String>,
    #[serde(default)]
    max_speed_kmh: Option<f64>,
    #[serde(default)]
    min_distance_km: Option<f64>,
    #[serde(default)]
    links: Vec<LinkText>,
    #[serde(default)]
    generate: bool,
}

/// A whole document of one of skein's own types.
#[derive(Debug, Deserialize)]
struct SkeinDocText {
    title: String,
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    correlation: SkeinCorrelationText,
    #[serde(default)]
    skein: Presentation,
}

/// The correlation types skein adds to Sigma's.
pub const SKEIN_TYPES: [&str; 3] = ["absence", "geo_velocity", "chain"];

/// True when a YAML document is a correlation of one of skein's own types.
pub fn is_skein_type(doc: &yaml_serde::Value) -> bool {
    doc.get("correlation")
        .and_then(|c| c.get("type"))
        .and_then(|t| t.as_str())
        .is_some_and(|t| SKEIN_TYPES.contains(&t))
}

fn span(field: &str, text: Option<&str>) -> Result<Span, String> {
    Span::parse(text.ok_or_else(|| format!("correlation.{field} is required"))?)
        .map_err(|e| format!("correlation.{field}: {e}"))
}

/// Parses a document of one of skein's own types.
pub fn from_skein_yaml(doc: yaml_serde::Value) -> Result<CorrelationDef, String> {
    let d: SkeinDocText = yaml_serde::from_value(doc).map_err(|e| e.to_string())?;
    let c = d.correlation;
    let mut rules = c.rules.clone();
    let timespan;
    let kind = match c.kind.as_str() {
        "absence" => {
            if c.keys.is_empty() {
                return Err("correlation.keys: an absence needs at least one key".into());
            }
            if c.absent.is_empty() {
                return Err(
                    "correlation.absent: name the rule whose events must be missing".into(),
                );
            }
            timespan = match c.timespan.as_deref() {
                Some(t) => Span::parse(t).map_err(|e| format!("correlation.timespan: {e}"))?,
                None => Span::zero(),
            };
            Kind::Absence {
                absent: c.absent,
                keys: c.keys.into_iter().map(KeyText::spec).collect(),
                before: span("before", c.before.as_deref())?,
                after: match c.after.as_deref() {
                    Some(t) => Span::parse(t).map_err(|e| format!("correlation.after: {e}"))?,
                    None => Span::zero(),
                },
            }
        }
        "geo_velocity" => {
            timespan = span("timespan", c.timespan.as_deref())?;
            let speed = c
                .max_speed_kmh
                .ok_or("correlation.max_speed_kmh is required")?;
            let distance = c.min_distance_km.unwrap_or(0.0);
            if !(speed.is_finite() && speed > 0.0 && distance.is_finite() && distance >= 0.0) {
                return Err(
                    "correlation.max_speed_kmh must be > 0 and min_distance_km >= 0".into(),
                );
            }
            Kind::GeoVelocity {
                max_speed_kmh: speed,
                min_distance_km: distance,
            }
        }
        "chain" => {
            if c.links.len() < 2 {
                return Err("correlation.links: a chain has at least two links".into());
            }
            if !c.rules.is_empty() {
                return Err("correlation.rules: a chain names its rules in `links`".into());
            }
            let mut links = Vec::new();
            let mut longest = 0;
            for (i, l) in c.links.into_iter().enumerate() {
                if i > 0 && l.join.is_empty() {
                    return Err(format!(
                        "correlation.links[{i}].join: say how this link joins the previous one"
                    ));
                }
                let within = if i == 0 {
                    Span::zero()
                } else {
                    span(&format!("links[{i}].within"), l.within.as_deref())?
                };
                longest = longest.max(within.seconds);
                rules.push(l.rule.clone());
                links.push(Link {
                    rule: l.rule,
                    join: l.join.into_iter().collect(),
                    within,
                });
            }
            let total: u64 = links.iter().map(|l| l.within.seconds).sum();
            timespan = Span {
                seconds: total,
                text: format!("{total}s"),
            };
            Kind::Chain { links }
        }
        other => return Err(format!("unknown correlation type {other:?}")),
    };
    if rules.is_empty() {
        return Err("correlation.rules: name at least one rule".into());
    }
    Ok(CorrelationDef {
        id: d.id,
        title: d.title,
        description: d.description,
        level: d.level,
        tags: d.tags,
        rules,
        generate: c.generate,
        group_by: c.group_by.into_iter().map(KeyText::spec).collect(),
        aliases: c.aliases,
        timespan,
        kind,
        presentation: d.skein,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> yaml_serde::Value {
        yaml_serde::from_str(s).expect("yaml")
    }

    #[test]
    fn absence_documents_parse_with_alternative_keys() {
        let doc = yaml(
            "title: t\nid: a\nlevel: high\ncorrelation:\n  type: absence\n  rules: [x]\n  absent: [y]\n  keys: [[actor.user_id, actor.upn], src_ip]\n  before: 24h\n  timespan: 1h\n",
        );
        assert!(is_skein_type(&doc));
        let d = from_skein_yaml(doc).expect("parses");
        let Kind::Absence {
            keys,
            before,
            after,
            ..
        } = &d.kind
        else {
            panic!("{:?}", d.kind)
        };
        assert_eq!(
            keys,
            &vec![
                vec!["actor.user_id".to_string(), "actor.upn".into()],
                vec!["src_ip".into()]
            ]
        );
        assert_eq!(before.seconds, 86_400);
        assert_eq!(after.seconds, 0);
        assert_eq!(d.timespan.seconds, 3_600);
    }

    #[test]
    fn chains_collect_their_rules_and_need_joins() {
        let ok = yaml("title: t\nid: c\ncorrelation:\n  type: chain\n  links:\n    - rule: a\n    - rule: b\n      join: {src_ip: src_ip}\n      within: 1h\n");
        let d = from_skein_yaml(ok).expect("parses");
        assert_eq!(d.rules, vec!["a", "b"]);
        let bad = yaml("title: t\nid: c\ncorrelation:\n  type: chain\n  links:\n    - rule: a\n    - rule: b\n      within: 1h\n");
        assert!(from_skein_yaml(bad).unwrap_err().contains("join"));
    }

    #[test]
    fn geo_velocity_needs_a_speed() {
        let bad = yaml(
            "title: t\nid: g\ncorrelation:\n  type: geo_velocity\n  rules: [a]\n  timespan: 24h\n",
        );
        assert!(from_skein_yaml(bad).unwrap_err().contains("max_speed_kmh"));
    }
}
