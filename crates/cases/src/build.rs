//! Cases from findings: findings that share an attacker-side entity (or one identity across
//! clouds) within the window join; targets, resources and hubs do not join anything.

use crate::FastMap;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::TimeDelta;
use skein_model::{EntityRef, EntityRole, EntityType, Finding, Severity};

use crate::graph::{joins, EntityGraph};
use crate::model::{
    Case, CaseEntity, CaseFinding, CaseGraph, GraphEdge, GraphNode, HubEntity, TimelineEntry,
};
use crate::score::{score, tactic_rank};

/// How cases are formed.
#[derive(Debug, Clone)]
pub struct CaseConfig {
    /// Findings sharing an entity join when one starts within this long of the other's end.
    pub window: TimeDelta,
    /// An address seen with at least this many accounts is a hub: it joins nothing.
    pub hub_accounts: usize,
}

impl Default for CaseConfig {
    fn default() -> Self {
        CaseConfig {
            window: TimeDelta::hours(24),
            hub_accounts: 50,
        }
    }
}

/// What the cases need to know of a rule.
#[derive(Debug, Clone, Default)]
pub struct RuleInfo {
    /// ATT&CK tactics of its tags (`credential-access`).
    pub tactics: Vec<String>,
    /// Clouds of the sources it reads (`azure`, `aws`).
    pub clouds: Vec<String>,
}

/// A case stored by an earlier run: its id is kept by the new case that holds most of its
/// findings.
#[derive(Debug, Clone)]
pub struct PreviousCase {
    pub id: String,
    pub findings: Vec<String>,
}

/// What the stored events tell about the findings' entities (the caller reads them).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// For addresses, how many distinct accounts succeeded from each (hubs at or above
    /// [`CaseConfig::hub_accounts`]); addresses not in it are judged by the findings alone.
    pub accounts_seen: HashMap<EntityRef, usize>,
    /// Temporary AWS keys and the users they were issued to (`AssumeRoleWithSAML`).
    pub issued_keys: Vec<IssuedKey>,
    /// Ids of stored cases this build does not rebuild (an incremental update keeps them):
    /// never given to a new case.
    pub other_case_ids: BTreeSet<String>,
}

/// An AWS key issued to a user: an identity link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub key: EntityRef,
    /// The user's UPN (the SAML user name).
    pub user: String,
    /// In words, with the event.
    pub reason: String,
}

/// The cases of `findings`.
pub fn build_cases(
    findings: &[Finding],
    rules: &HashMap<String, RuleInfo>,
    observed: &Observed,
    previous: &[PreviousCase],
    config: &CaseConfig,
) -> Vec<Case> {
    let plan = plan_cases(findings, rules, observed, previous, config);
    (0..plan.len()).map(|i| plan.build(i)).collect()
}

/// The cases of a set of findings, grouped and named but not yet made: [`CasePlan::build`]
/// makes any one of them from shared, read-only parts, so callers can make several at once
/// (on as many threads as they like) in any order, and encode and drop each as it is made:
/// a full rebuild makes thousands, and one of them can hold tens of thousands of findings.
#[derive(Debug)]
pub struct CasePlan<'a> {
    findings: &'a [Finding],
    rules: &'a HashMap<String, RuleInfo>,
    graph: EntityGraph,
    hubs: BTreeMap<EntityRef, usize>,
    /// Each case's findings (indexes into `findings`) by `(first_seen, id)`; the cases by
    /// their first finding.
    members: Vec<Vec<usize>>,
    ids: Vec<String>,
}

impl CasePlan<'_> {
    /// How many cases there are.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// How many findings case `i` holds (what making and encoding it costs).
    pub fn findings_of(&self, i: usize) -> usize {
        self.members.get(i).map_or(0, Vec::len)
    }

    /// Case `i` (in the order of their first findings); `i` below [`CasePlan::len`].
    pub fn build(&self, i: usize) -> Case {
        case_of(
            self.ids[i].clone(),
            &self.members[i],
            self.findings,
            &self.graph,
            &self.hubs,
            self.rules,
        )
    }
}

/// Groups `findings` into cases and names them (see [`build_cases`]).
pub fn plan_cases<'a>(
    findings: &'a [Finding],
    rules: &'a HashMap<String, RuleInfo>,
    observed: &Observed,
    previous: &[PreviousCase],
    config: &CaseConfig,
) -> CasePlan<'a> {
    let mut graph = EntityGraph::from_findings(findings);
    for k in &observed.issued_keys {
        graph.link_issued_key(&k.key, &k.user, &k.reason);
    }
    let identity = graph.identities();
    let hubs = hubs(&graph, findings, &observed.accounts_seen, config);
    // What each joining entity, as named, joins through: its identity, unless it is a hub
    // or a tenant (`None`). Worked out once per entity, not per finding that names it.
    let mut joins_through: FastMap<(EntityType, &str), Option<EntityRef>> = FastMap::default();
    for e in findings
        .iter()
        .flat_map(|f| &f.entities)
        .filter(|e| joins(e.role))
    {
        joins_through
            .entry((e.entity_type, e.id.as_str()))
            .or_insert_with(|| {
                let r = graph.resolve(EntityRef::new(e.entity_type, &e.id)?);
                if hubs.contains_key(&r) || e.entity_type == EntityType::Tenant {
                    return None;
                }
                Some(identity.get(&r).cloned().unwrap_or(r))
            });
    }
    // joining entity (its identity) → (first seen, finding) of the findings it joins. (The
    // order of the entities does not matter: the groups are sorted below.)
    let mut by_entity: FastMap<&EntityRef, Vec<(chrono::DateTime<chrono::Utc>, usize)>> =
        FastMap::default();
    for (i, f) in findings.iter().enumerate() {
        let mut seen: Vec<&EntityRef> = Vec::new();
        for e in f.entities.iter().filter(|e| joins(e.role)) {
            let key = joins_through
                .get(&(e.entity_type, e.id.as_str()))
                .and_then(Option::as_ref);
            let Some(key) = key else {
                continue;
            };
            if !seen.contains(&key) {
                seen.push(key);
                by_entity.entry(key).or_default().push((f.first_seen, i));
            }
        }
    }
    let mut uf = petgraph::unionfind::UnionFind::<usize>::new(findings.len());
    for list in by_entity.values_mut() {
        list.sort();
        let mut end: Option<chrono::DateTime<chrono::Utc>> = None;
        let mut prev = None;
        for &(first, i) in list.iter() {
            if let (Some(e), Some(p)) = (end, prev) {
                // (No later limit when the end plus the window is past chrono's range.)
                if e.checked_add_signed(config.window)
                    .is_none_or(|limit| first <= limit)
                {
                    uf.union(p, i);
                }
            }
            let last = findings[i].last_seen;
            end = Some(end.map_or(last, |e: chrono::DateTime<chrono::Utc>| e.max(last)));
            prev = Some(i);
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..findings.len() {
        groups.entry(uf.find(i)).or_default().push(i);
    }
    let mut members: Vec<Vec<usize>> = groups.into_values().collect();
    for m in &mut members {
        m.sort_by(|&a, &b| {
            (findings[a].first_seen, &findings[a].id)
                .cmp(&(findings[b].first_seen, &findings[b].id))
        });
    }
    members.sort_by(|a, b| {
        let (x, y) = (&findings[a[0]], &findings[b[0]]);
        (x.first_seen, &x.id).cmp(&(y.first_seen, &y.id))
    });
    let ids = assign_ids(findings, &members, previous, &observed.other_case_ids);
    CasePlan {
        findings,
        rules,
        graph,
        hubs,
        members,
        ids,
    }
}

/// Addresses that link too much: seen with at least `hub_accounts` accounts in the events,
/// or in the findings (accounts that acted from it).
fn hubs(
    graph: &EntityGraph,
    findings: &[Finding],
    accounts_seen: &HashMap<EntityRef, usize>,
    config: &CaseConfig,
) -> BTreeMap<EntityRef, usize> {
    let mut out = BTreeMap::new();
    for node in graph.nodes().filter(|n| n.entity.ty == EntityType::Ip) {
        let mut actors = BTreeSet::new();
        for &(i, role) in &node.findings {
            if role != EntityRole::Source {
                continue;
            }
            for e in &findings[i].entities {
                let account = matches!(
                    e.entity_type,
                    EntityType::User | EntityType::AwsPrincipal | EntityType::AwsSession
                );
                if account && e.role == EntityRole::Actor {
                    // By id: an AWS principal and its session share the ARN (one account).
                    actors.insert(e.id.to_lowercase());
                }
            }
        }
        let seen = accounts_seen.get(&node.entity).copied().unwrap_or(0);
        let n = seen.max(actors.len());
        if n >= config.hub_accounts {
            out.insert(node.entity.clone(), n);
        }
    }
    out
}

/// Case ids: a group keeps the id of the earlier case it shares most findings with (each
/// id once); otherwise its id derives from its earliest finding.
fn assign_ids(
    findings: &[Finding],
    groups: &[Vec<usize>],
    previous: &[PreviousCase],
    others: &BTreeSet<String>,
) -> Vec<String> {
    let mut owner: FastMap<&str, usize> = FastMap::default();
    for (p, c) in previous.iter().enumerate() {
        for f in &c.findings {
            owner.insert(f.as_str(), p);
        }
    }
    // (overlap, group, previous case), best first.
    let mut candidates = Vec::new();
    for (g, m) in groups.iter().enumerate() {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in m {
            if let Some(&p) = owner.get(findings[i].id.as_str()) {
                *counts.entry(p).or_default() += 1;
            }
        }
        for (p, n) in counts {
            candidates.push((std::cmp::Reverse(n), g, p));
        }
    }
    candidates.sort_by(|a, b| (a.0, a.1, &previous[a.2].id).cmp(&(b.0, b.1, &previous[b.2].id)));
    let mut ids: Vec<Option<String>> = vec![None; groups.len()];
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (_, g, p) in candidates {
        if ids[g].is_none() && !taken.contains(&previous[p].id) {
            ids[g] = Some(previous[p].id.clone());
            taken.insert(previous[p].id.clone());
        }
    }
    let held: BTreeSet<&str> = previous
        .iter()
        .map(|p| p.id.as_str())
        .chain(others.iter().map(String::as_str))
        .collect();
    ids.into_iter()
        .enumerate()
        .map(|(g, id)| {
            id.unwrap_or_else(|| {
                let seed = &findings[groups[g][0]].id;
                let mut salt = 0u32;
                loop {
                    let id = case_id(seed, salt);
                    if !taken.contains(&id) && !held.contains(id.as_str()) {
                        taken.insert(id.clone());
                        return id;
                    }
                    salt += 1;
                }
            })
        })
        .collect()
}

/// `C-` and 16 hex digits of FNV-1a/64 over the earliest finding's id (and a salt on the
/// rare clash). Written out: a dozen lines, stable across builds, not a security boundary.
fn case_id(seed: &str, salt: u32) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = seed.bytes().chain(if salt == 0 {
        Vec::new()
    } else {
        salt.to_le_bytes().to_vec()
    });
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("C-{h:016x}")
}

/// What `e` resolved to in `resolved` (`None`: not an entity reference).
fn lookup<'m, 'k>(
    resolved: &'m FastMap<(EntityType, &'k str), Option<(EntityRef, String)>>,
    e: &'k skein_model::FindingEntity,
) -> Option<&'m (EntityRef, String)> {
    resolved
        .get(&(e.entity_type, e.id.as_str()))
        .and_then(Option::as_ref)
}

fn case_of(
    id: String,
    members: &[usize],
    findings: &[Finding],
    graph: &EntityGraph,
    hubs: &BTreeMap<EntityRef, usize>,
    rules: &HashMap<String, RuleInfo>,
) -> Case {
    let fs: Vec<&Finding> = members.iter().map(|&i| &findings[i]).collect();
    // Each entity the findings name, resolved once with its `type:id` (a long case names
    // the same few entities thousands of times).
    let mut resolved: FastMap<(EntityType, &str), Option<(EntityRef, String)>> = FastMap::default();
    for e in fs.iter().flat_map(|f| &f.entities) {
        resolved
            .entry((e.entity_type, e.id.as_str()))
            .or_insert_with(|| {
                let r = graph.resolve(EntityRef::new(e.entity_type, &e.id)?);
                let key = r.to_string();
                Some((r, key))
            });
    }
    let resolved_of = |e| lookup(&resolved, e);
    let first_seen = fs.iter().map(|f| f.first_seen).min().unwrap_or_default();
    let last_seen = fs.iter().map(|f| f.last_seen).max().unwrap_or_default();
    // Tactics in the order the case reached them (kill-chain order within one instant).
    let mut reached: BTreeMap<String, (chrono::DateTime<chrono::Utc>, usize)> = BTreeMap::new();
    let mut clouds = BTreeSet::new();
    for f in &fs {
        if let Some(info) = rules.get(&f.rule) {
            for t in &info.tactics {
                let at = (f.first_seen, tactic_rank(t));
                reached
                    .entry(t.clone())
                    .and_modify(|x| *x = (*x).min(at))
                    .or_insert(at);
            }
            clouds.extend(info.clouds.iter().cloned());
        }
    }
    let mut tactics: Vec<(String, (chrono::DateTime<chrono::Utc>, usize))> =
        reached.into_iter().collect();
    tactics.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let tactics: Vec<String> = tactics.into_iter().map(|(t, _)| t).collect();
    let clouds: Vec<String> = clouds.into_iter().collect();
    let attack: Vec<String> = fs
        .iter()
        .flat_map(|f| f.attack.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let primary: BTreeSet<&str> = fs
        .iter()
        .filter_map(|f| rules.get(&f.rule).and_then(|i| i.tactics.first()))
        .map(String::as_str)
        .collect();
    let (points, parts) = score(&fs, primary.len(), clouds.len());
    let max_severity = fs.iter().map(|f| f.severity).max().unwrap_or(Severity::Low);
    let severity = crate::score::severity_of(points).max(max_severity);

    // Entities, resolved; the joining ones first.
    let mut entities: BTreeMap<EntityRef, CaseEntity> = BTreeMap::new();
    let mut case_hubs = BTreeMap::new();
    for f in &fs {
        for e in &f.entities {
            let Some((r, _)) = resolved_of(e) else {
                continue;
            };
            if let Some(&n) = hubs.get(r) {
                case_hubs.insert(r.clone(), n);
            }
            let joined = joins(e.role) && !hubs.contains_key(r) && r.ty != EntityType::Tenant;
            if !entities.contains_key(r) {
                let entity = CaseEntity {
                    entity_type: r.ty,
                    id: r.id.clone(),
                    name: graph.node(r).and_then(|n| n.name.clone()),
                    roles: Vec::new(),
                    findings: 0,
                    joins: false,
                };
                entities.insert(r.clone(), entity);
            }
            let Some(ce) = entities.get_mut(r) else {
                continue;
            };
            if !ce.roles.contains(&e.role) {
                ce.roles.push(e.role);
                ce.roles.sort();
            }
            ce.findings += 1;
            ce.joins |= joined;
        }
    }
    let mut entity_list: Vec<CaseEntity> = entities.values().cloned().collect();
    entity_list
        .sort_by(|a, b| (!a.joins, a.entity_type, &a.id).cmp(&(!b.joins, b.entity_type, &b.id)));

    let member_refs: BTreeSet<EntityRef> = entities.keys().cloned().collect();
    let key = |r: &EntityRef| format!("{}:{}", r.ty, r.id);
    let graph_out = CaseGraph {
        nodes: entities
            .values()
            .map(|e| GraphNode {
                key: format!("{}:{}", e.entity_type, e.id),
                entity_type: e.entity_type,
                id: e.id.clone(),
                name: e.name.clone(),
            })
            .collect(),
        edges: graph
            .case_links(findings, members, &member_refs)
            .into_iter()
            .map(|(a, b, l)| GraphEdge {
                from: key(&a),
                to: key(&b),
                kind: l.kind.as_str().to_string(),
                reason: l.reason,
            })
            .collect(),
    };

    let timeline = fs
        .iter()
        .map(|f| TimelineEntry {
            time: f.first_seen,
            kind: "finding".into(),
            finding: f.id.clone(),
            rule: f.rule.clone(),
            source: None,
            event: None,
            text: f.summary.clone(),
        })
        .collect();
    Case {
        title: title(&fs, &entity_list),
        id,
        severity,
        score: points,
        score_parts: parts,
        first_seen,
        last_seen,
        tactics,
        attack,
        clouds,
        findings: fs
            .iter()
            .map(|f| CaseFinding {
                id: f.id.clone(),
                rule: f.rule.clone(),
                title: f.title.clone(),
                severity: f.severity,
                score: f.score,
                first_seen: f.first_seen,
                last_seen: f.last_seen,
                summary: f.summary.clone(),
                attack: f.attack.clone(),
                events: f.events.clone(),
                entities: f
                    .entities
                    .iter()
                    .filter_map(|e| resolved_of(e).map(|(_, key)| key.as_str()))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            })
            .collect(),
        entities: entity_list,
        timeline,
        graph: graph_out,
        hubs: case_hubs
            .into_iter()
            .map(|(r, accounts)| HubEntity {
                entity_type: r.ty,
                id: r.id,
                accounts,
            })
            .collect(),
    }
}

/// "Password spray → Risky sign-in: alice@contoso.com": the rules in the order they fired
/// (at most three) and the account (else the address) most of the findings share.
fn title(fs: &[&Finding], entities: &[CaseEntity]) -> String {
    let mut titles: Vec<&str> = Vec::new();
    for f in fs {
        if !titles.contains(&f.title.as_str()) {
            titles.push(&f.title);
        }
    }
    let more = titles.len().saturating_sub(3);
    let mut text = titles.into_iter().take(3).collect::<Vec<_>>().join(" → ");
    if more > 0 {
        text.push_str(&format!(" (+{more})"));
    }
    let subject = entities
        .iter()
        .filter(|e| e.joins)
        .max_by_key(|e| {
            let account = matches!(
                e.entity_type,
                EntityType::User
                    | EntityType::AwsPrincipal
                    | EntityType::AwsSession
                    | EntityType::AwsKey
            );
            (account, e.findings, std::cmp::Reverse(e.id.clone()))
        })
        .map(|e| e.name.clone().unwrap_or_else(|| e.id.clone()));
    match subject {
        Some(s) => format!("{text}: {s}"),
        None => text,
    }
}
