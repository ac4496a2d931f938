//! [`CaseIndex`]: what an incremental case update needs to know of a stored case (which
//! findings it holds, which keys can reach it, its hubs), small enough to read for every case
//! on every run, where decoding every case whole (timelines, graphs) is not.

use serde::{Deserialize, Serialize};
use skein_model::{EntityRef, EntityType};

use crate::model::{Case, HubEntity};

/// The compact summary of one case, stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseIndex {
    pub id: String,
    /// Its findings' ids.
    pub findings: Vec<String>,
    /// Keys of its joining entities ([`entity_keys`]).
    pub joining_keys: Vec<String>,
    /// Its users' two keys (object id and UPN): a finding naming one reaches cases naming
    /// the other.
    pub user_aliases: Vec<(String, String)>,
    /// Both ends of its identity links (a key issued to a user, a session named after one),
    /// as `type:id`.
    pub link_ends: Vec<String>,
    /// Its hubs, with their account counts.
    pub hubs: Vec<HubEntity>,
    /// A digest of the findings stored beside the case, set by whoever stores them (`None`
    /// from [`CaseIndex::of`]). A reader trusts those findings only when they match it: an
    /// entry rewritten by a build that does not store them has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings_digest: Option<String>,
}

/// Keys a case entity (or a finding's entity) can be found by: `type:id`, and for a named
/// account `user:<name>` (a UPN: object ids, sessions and principals named after it).
pub fn entity_keys(ty: EntityType, id: &str, name: Option<&str>) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(r) = EntityRef::new(ty, id) {
        keys.push(r.to_string());
    }
    if let Some(n) = name.filter(|n| n.contains('@')) {
        keys.push(format!("user:{}", n.to_lowercase()));
    }
    keys
}

impl CaseIndex {
    /// The index entry of `case`.
    pub fn of(case: &Case) -> CaseIndex {
        let mut user_aliases = Vec::new();
        for e in case
            .entities
            .iter()
            .filter(|e| e.entity_type == EntityType::User)
        {
            if let [a, b] = entity_keys(e.entity_type, &e.id, e.name.as_deref()).as_slice() {
                user_aliases.push((a.clone(), b.clone()));
            }
        }
        CaseIndex {
            id: case.id.clone(),
            findings: case.findings.iter().map(|f| f.id.clone()).collect(),
            joining_keys: case
                .entities
                .iter()
                .filter(|e| e.joins)
                .flat_map(|e| entity_keys(e.entity_type, &e.id, e.name.as_deref()))
                .collect(),
            user_aliases,
            link_ends: case
                .graph
                .edges
                .iter()
                .filter(|e| e.kind != "finding")
                .flat_map(|e| [&e.from, &e.to])
                .filter_map(|end| end.parse::<EntityRef>().ok())
                .map(|r| r.to_string())
                .collect(),
            hubs: case.hubs.clone(),
            findings_digest: None,
        }
    }
}
