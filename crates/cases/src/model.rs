//! A case as stored, listed and exported (SPEC §5). Field names are part of the interface.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skein_model::{EntityRole, EntityType, Severity, Source};

/// Findings joined through the entities an attacker used, with why and how bad.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// `C-` and 16 hex digits; kept when the case gains findings in a later run.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// 0–100, the sum of [`Case::score_parts`] (capped).
    pub score: u32,
    /// How the score was reached, one line per part.
    pub score_parts: Vec<ScorePart>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// ATT&CK tactics in the order the case reached them.
    pub tactics: Vec<String>,
    /// ATT&CK technique ids of its findings, sorted.
    pub attack: Vec<String>,
    /// `azure`, `aws`: where its evidence comes from.
    pub clouds: Vec<String>,
    /// Its findings by `(first_seen, id)`.
    pub findings: Vec<CaseFinding>,
    /// Its entities, the joining ones first.
    pub entities: Vec<CaseEntity>,
    /// Evidence in time order.
    pub timeline: Vec<TimelineEntry>,
    /// The entities and the links between them, each with its reason.
    pub graph: CaseGraph,
    /// Entities of its findings that link too much to join anything (shared addresses), with
    /// how many accounts each was seen with.
    pub hubs: Vec<HubEntity>,
}

/// One part of a case's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScorePart {
    pub points: u32,
    pub reason: String,
}

/// A finding as a case lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFinding {
    pub id: String,
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub score: u32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub summary: String,
    pub attack: Vec<String>,
    /// The source's own ids of its evidence events.
    pub events: Vec<String>,
    /// The case entities it names, as `type:id` (identities resolved).
    #[serde(default)]
    pub entities: Vec<String>,
}

/// An entity of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEntity {
    #[serde(rename = "type")]
    pub entity_type: EntityType,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every role it played in the case's findings.
    pub roles: Vec<EntityRole>,
    /// How many of the case's findings name it.
    pub findings: usize,
    /// Whether the case was joined through it (an attacker-side role, not a hub).
    pub joins: bool,
}

impl CaseEntity {
    /// Its roles as `actor, target`.
    pub fn roles_text(&self) -> String {
        let roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        roles.join(", ")
    }
}

/// One line of a case's timeline: a finding, or one of its evidence events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub time: DateTime<Utc>,
    /// `finding` or `event`.
    pub kind: String,
    pub finding: String,
    pub rule: String,
    /// For an event: its source and id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// What happened, in a line.
    pub text: String,
}

/// A case's subgraph.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseGraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphNode {
    /// `type:id`.
    pub key: String,
    #[serde(rename = "type")]
    pub entity_type: EntityType,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A link between two entities and why it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    /// `finding` (named together by a finding), `alias` (an object id and its UPN on the
    /// same event), `session_name` (an AWS role session named after an Entra UPN) or
    /// `user_name` (an AWS principal's user name equal to an Entra UPN).
    pub kind: String,
    /// In words, with the finding or the names that made it.
    pub reason: String,
}

/// An entity that links too much to join cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubEntity {
    #[serde(rename = "type")]
    pub entity_type: EntityType,
    pub id: String,
    /// Distinct accounts it was seen with (at least the threshold).
    pub accounts: usize,
}
