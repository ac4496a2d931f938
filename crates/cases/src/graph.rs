//! The entity graph (SPEC §3) over findings: a node per entity, identities resolved (an
//! object id and its UPN are one user), and an edge for every reason two entities are linked:
//! named together by a finding, or an identity link across clouds (an AWS role session or
//! principal named after an Entra UPN).
//!
//! Built on petgraph's `StableGraph`, so node indices stay valid while the graph is trimmed.

use crate::FastMap;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableUnGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use skein_model::{EntityRef, EntityRole, EntityType, Finding};

/// What the graph knows of one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityNode {
    pub entity: EntityRef,
    /// A readable name (a user's UPN when its id is an object id; a session's name).
    pub name: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Indices (into the findings the graph was built from) of the findings naming it,
    /// with its role in each.
    pub findings: Vec<(usize, EntityRole)>,
}

/// Why two entities are linked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkKind {
    /// Named together by a finding: its index among the findings the graph was built from
    /// (the link's reason is written when a case lists it: a graph over a hundred thousand
    /// findings holds several hundred thousand of these links).
    Finding(usize),
    /// An AWS role session whose session name is an Entra user's UPN.
    SessionName,
    /// An AWS principal whose user name (a SAML user) is an Entra user's UPN.
    UserName,
    /// A temporary AWS key issued to the user (`AssumeRoleWithSAML`).
    IssuedKey,
}

impl LinkKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            LinkKind::Finding(_) => "finding",
            LinkKind::SessionName => "session_name",
            LinkKind::UserName => "user_name",
            LinkKind::IssuedKey => "issued_key",
        }
    }

    /// Whether the link says two entities are one identity (not just seen together).
    pub fn is_identity(&self) -> bool {
        !matches!(self, LinkKind::Finding(_))
    }
}

/// A link with its reason in words (empty in the graph for a finding's link: see
/// [`EntityGraph::case_links`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub kind: LinkKind,
    pub reason: String,
}

/// Entities and their links.
#[derive(Debug, Default)]
pub struct EntityGraph {
    graph: StableUnGraph<EntityNode, Link>,
    index: FastMap<EntityRef, NodeIndex>,
    /// UPN (as a `user:` ref) → the object id it belongs to, learned from findings that
    /// name both.
    aliases: FastMap<EntityRef, EntityRef>,
    /// Per finding (by index): the edges it made. A case's links are its findings' edges
    /// and the identity links among its entities, found without walking the whole graph.
    finding_edges: Vec<Vec<EdgeIndex>>,
    identity_edges: Vec<EdgeIndex>,
}

/// Whether a role joins cases: the account that acted, or where the activity came from. A
/// target of failed attempts or a resource touched does not.
pub fn joins(role: EntityRole) -> bool {
    matches!(role, EntityRole::Actor | EntityRole::Source)
}

impl EntityGraph {
    /// The graph of `findings`' entities.
    pub fn from_findings(findings: &[Finding]) -> EntityGraph {
        let mut g = EntityGraph::default();
        for f in findings {
            for e in &f.entities {
                if let (EntityType::User, Some(name)) = (e.entity_type, &e.name) {
                    if let (Some(id), Some(upn)) = (
                        EntityRef::new(EntityType::User, &e.id),
                        EntityRef::new(EntityType::User, name),
                    ) {
                        if id != upn {
                            g.aliases.entry(upn).or_insert(id);
                        }
                    }
                }
            }
        }
        // Each entity as named, resolved once (the aliases are all known by now).
        let mut resolved: FastMap<(EntityType, &str), Option<EntityRef>> = FastMap::default();
        for (i, f) in findings.iter().enumerate() {
            let mut named: Vec<(NodeIndex, EntityRole)> = Vec::new();
            for e in &f.entities {
                let r = resolved
                    .entry((e.entity_type, e.id.as_str()))
                    .or_insert_with(|| Some(g.resolve(EntityRef::new(e.entity_type, &e.id)?)));
                let Some(r) = r.as_ref() else {
                    continue;
                };
                let name = e.name.as_deref().filter(|n| !n.eq_ignore_ascii_case(&r.id));
                let n = g.node_for(r, name, f.first_seen, f.last_seen);
                g.graph[n].findings.push((i, e.role));
                named.push((n, e.role));
            }
            // A star from each joining entity to the others (a spray's address to each user
            // it tried), not every pair.
            let hubs: Vec<NodeIndex> = named
                .iter()
                .filter(|(_, r)| joins(*r))
                .map(|(n, _)| *n)
                .collect();
            let centre = if hubs.is_empty() {
                named.first().map(|(n, _)| vec![*n]).unwrap_or_default()
            } else {
                hubs
            };
            let mut made = Vec::new();
            let mut pairs = BTreeSet::new();
            for &c in &centre {
                for &(n, _) in &named {
                    let pair = if c < n { (c, n) } else { (n, c) };
                    if n != c && pairs.insert(pair) {
                        made.push(g.graph.add_edge(
                            c,
                            n,
                            Link {
                                kind: LinkKind::Finding(i),
                                reason: String::new(),
                            },
                        ));
                    }
                }
            }
            g.finding_edges.push(made);
        }
        g.link_names();
        g
    }

    /// Links AWS sessions and principals to the Entra users they are named after.
    fn link_names(&mut self) {
        let mut users: BTreeMap<String, NodeIndex> = BTreeMap::new();
        for n in self.graph.node_indices() {
            let node = &self.graph[n];
            if node.entity.ty == EntityType::User {
                for name in [Some(&node.entity.id), node.name.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    if name.contains('@') {
                        users.entry(name.to_lowercase()).or_insert(n);
                    }
                }
            }
        }
        let mut links = Vec::new();
        for n in self.graph.node_indices() {
            let node = &self.graph[n];
            let kind = match node.entity.ty {
                EntityType::AwsSession => LinkKind::SessionName,
                EntityType::AwsPrincipal => LinkKind::UserName,
                _ => continue,
            };
            let name = node
                .name
                .clone()
                .or_else(|| node.entity.id.rsplit('/').next().map(str::to_string));
            let Some(name) = name else { continue };
            if let Some(&u) = users.get(&name.to_lowercase()) {
                let what = match kind {
                    LinkKind::SessionName => "role session name",
                    _ => "user name",
                };
                links.push((
                    n,
                    u,
                    Link {
                        reason: format!("AWS {what} {name:?} equals the Entra user's UPN"),
                        kind,
                    },
                ));
            }
        }
        for (a, b, link) in links {
            self.identity_edges.push(self.graph.add_edge(a, b, link));
        }
    }

    fn node_for(
        &mut self,
        r: &EntityRef,
        name: Option<&str>,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
    ) -> NodeIndex {
        if let Some(&n) = self.index.get(r) {
            let node = &mut self.graph[n];
            node.first_seen = node.first_seen.min(first);
            node.last_seen = node.last_seen.max(last);
            if node.name.is_none() {
                node.name = name.map(str::to_string);
            }
            return n;
        }
        let n = self.graph.add_node(EntityNode {
            entity: r.clone(),
            name: name.map(str::to_string),
            first_seen: first,
            last_seen: last,
            findings: Vec::new(),
        });
        self.index.insert(r.clone(), n);
        n
    }

    /// Links a key named by the findings to the user it was issued to (`upn`): the user's
    /// node when a finding names it (by object id or UPN), else a node for the UPN.
    pub fn link_issued_key(&mut self, key: &EntityRef, upn: &str, reason: &str) {
        let Some(&k) = self.index.get(key) else {
            return;
        };
        let Some(user) = EntityRef::new(EntityType::User, upn) else {
            return;
        };
        let user = self.resolve(user);
        let first = self.graph[k].first_seen;
        let last = self.graph[k].last_seen;
        let u = match self.index.get(&user) {
            Some(&u) => u,
            None => match self.graph.node_indices().find(|&n| {
                self.graph[n]
                    .name
                    .as_deref()
                    .is_some_and(|nm| nm.eq_ignore_ascii_case(upn))
                    && self.graph[n].entity.ty == EntityType::User
            }) {
                Some(u) => u,
                None => self.node_for(&user, None, first, last),
            },
        };
        self.identity_edges.push(self.graph.add_edge(
            k,
            u,
            Link {
                kind: LinkKind::IssuedKey,
                reason: reason.to_string(),
            },
        ));
    }

    /// The canonical entity for `r`: a user's UPN resolves to its object id when known.
    pub fn resolve(&self, r: EntityRef) -> EntityRef {
        match self.aliases.get(&r) {
            Some(id) => id.clone(),
            None => r,
        }
    }

    pub fn node(&self, r: &EntityRef) -> Option<&EntityNode> {
        let r = self.aliases.get(r).unwrap_or(r);
        self.index.get(r).map(|&n| &self.graph[n])
    }

    pub fn nodes(&self) -> impl Iterator<Item = &EntityNode> {
        self.graph.node_weights()
    }

    /// The links of a case: the edges its findings (indices into `all`, the findings the
    /// graph was built from, in the case's order) made, and the identity links among
    /// `members`, as (from, to, link) in a stable order.
    ///
    /// The findings that name the same two entities make one link, not one each: its reason
    /// says how many findings, of which rules, and the first of them (a device account's
    /// sign-ins flagged every few minutes made tens of thousands of links between four
    /// entities, which no graph, export or reader could use).
    pub fn case_links(
        &self,
        all: &[Finding],
        findings: &[usize],
        members: &BTreeSet<EntityRef>,
    ) -> Vec<(EntityRef, EntityRef, Link)> {
        type Pair<'g> = (&'g EntityRef, &'g EntityRef);
        let ends = |e: EdgeIndex| -> Option<Pair<'_>> {
            let (a, b) = self.graph.edge_endpoints(e)?;
            let (a, b) = (&self.graph[a].entity, &self.graph[b].entity);
            let in_case = members.contains(a) && members.contains(b);
            in_case.then_some(if a <= b { (a, b) } else { (b, a) })
        };
        // Per pair: the first finding, how many findings, and their rules.
        let mut named: BTreeMap<Pair<'_>, (usize, usize, BTreeSet<&str>)> = BTreeMap::new();
        for &i in findings {
            let (Some(edges), Some(f)) = (self.finding_edges.get(i), all.get(i)) else {
                continue;
            };
            for &e in edges {
                let Some(pair) = ends(e) else { continue };
                let entry = named.entry(pair).or_insert((i, 0, BTreeSet::new()));
                entry.1 += 1;
                entry.2.insert(&f.rule);
            }
        }
        let mut found: Vec<(&EntityRef, &EntityRef, Link)> = named
            .into_iter()
            .map(|((a, b), (first, count, rules))| {
                let f = &all[first];
                let reason = match count {
                    1 => format!("named together by {} ({})", f.id, f.rule),
                    _ => format!(
                        "named together by {count} findings ({}), the first {}",
                        rules.into_iter().collect::<Vec<_>>().join(", "),
                        f.id
                    ),
                };
                let kind = LinkKind::Finding(first);
                (a, b, Link { kind, reason })
            })
            .collect();
        let mut identity: Vec<(&EntityRef, &EntityRef, &Link)> = self
            .identity_edges
            .iter()
            .filter_map(|&e| ends(e).map(|(a, b)| (a, b, &self.graph[e])))
            .collect();
        identity.sort_by(|x, y| (x.0, x.1, &x.2.kind).cmp(&(y.0, y.1, &y.2.kind)));
        identity.dedup();
        found.extend(identity.into_iter().map(|(a, b, l)| (a, b, l.clone())));
        found.sort_by(|x, y| (x.0, x.1, &x.2.kind).cmp(&(y.0, y.1, &y.2.kind)));
        found
            .into_iter()
            .map(|(a, b, link)| (a.clone(), b.clone(), link))
            .collect()
    }

    /// Identity clusters: entities joined by identity links (a session and the user it is
    /// named after) map to one representative (the smallest ref of the cluster).
    pub fn identities(&self) -> HashMap<EntityRef, EntityRef> {
        let mut uf = petgraph::unionfind::UnionFind::<usize>::new(
            self.graph
                .node_indices()
                .map(|n| n.index() + 1)
                .max()
                .unwrap_or(0),
        );
        for e in (&self.graph).edge_references() {
            if e.weight().kind.is_identity() {
                uf.union(e.source().index(), e.target().index());
            }
        }
        let mut rep: FastMap<usize, EntityRef> = FastMap::default();
        for n in self.graph.node_indices() {
            let root = uf.find(n.index());
            let r = &self.graph[n].entity;
            rep.entry(root)
                .and_modify(|cur| {
                    if r < cur {
                        *cur = r.clone();
                    }
                })
                .or_insert_with(|| r.clone());
        }
        self.graph
            .node_indices()
            .map(|n| {
                (
                    self.graph[n].entity.clone(),
                    rep[&uf.find(n.index())].clone(),
                )
            })
            .collect()
    }
}
