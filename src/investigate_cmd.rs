//! `skein investigate TYPE:ID`: everything linked to one entity — aliases, linked entities
//! with counts and first / last seen (to `--depth` hops), a timeline of its events, and the
//! findings and cases that name it. An unknown entity gets the closest known ids.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::json;
use skein_model::{EntityRef, EntityType, Event};
use skein_store::{ReadMode, Store};

use crate::cli::{InvestigateArgs, InvestigateFormat};
use crate::text::one_line;

/// Events read per entity at most (a busy address has millions; the counts say so).
const EVENTS_PER_ENTITY: usize = 20_000;
/// Linked entities followed to the next hop, per entity.
const FOLLOW_PER_HOP: usize = 10;
/// Timeline lines printed as text.
const TIMELINE_TEXT: usize = 50;

/// An entity linked to the one investigated.
#[derive(Debug, Clone, serde::Serialize)]
struct Linked {
    entity: String,
    /// Through which entity (the investigated one at depth 1).
    via: String,
    depth: u32,
    events: u64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

fn brief(e: &Event) -> serde_json::Value {
    json!({
        "time": e.time, "source": e.source.as_str(), "id": e.id,
        "action": e.target.action, "success": e.outcome.success,
        "error_code": e.outcome.error_code, "src_ip": e.src_ip.map(|i| i.to_string()),
        "user": e.actor.upn.as_deref().or(e.actor.user_id.as_deref()),
        "aws_principal": e.actor.aws_arn,
    })
}

/// The entity's events in range (at most [`EVENTS_PER_ENTITY`]) and whether there were more.
fn events_of(store: &Store, e: &EntityRef, args: &InvestigateArgs) -> Result<(Vec<Event>, bool)> {
    let mut out = Vec::new();
    for ev in store.events_for_entity_with(e, args.since, args.until, ReadMode::WithoutRaw) {
        let ev = ev.with_context(|| format!("reading the events of {e}"))?;
        if out.len() >= EVENTS_PER_ENTITY {
            return Ok((out, true));
        }
        out.push(ev);
    }
    Ok((out, false))
}

/// A usage error for an entity no stored event mentions, with the closest known ids.
fn unknown(store: &Store, e: &EntityRef) -> Result<anyhow::Error> {
    let mut close = Vec::new();
    let chars: Vec<char> = e.id.chars().collect();
    for keep in (1..=chars.len()).rev() {
        let prefix: String = chars[..keep].iter().collect();
        close = store
            .entities_with_prefix(e.ty, &prefix, 5)
            .context("looking up similar entities")?;
        if !close.is_empty() || keep <= 1 {
            break;
        }
    }
    let hint = if close.is_empty() {
        format!("no {} is known at all", e.ty)
    } else {
        format!(
            "closest known: {}",
            close
                .iter()
                .map(|(r, _)| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(crate::UsageError(format!("no stored event mentions {e} ({hint})")).into())
}

pub fn run(state: &Path, args: InvestigateArgs) -> Result<()> {
    let target: EntityRef = args
        .entity
        .parse()
        .map_err(|e| crate::UsageError(format!("{e}")))?;
    let store = crate::open_with_findings(state)?;
    let Some(summary) = store
        .entity_summary(&target)
        .context("reading the entity's summary")?
    else {
        return Err(unknown(&store, &target)?);
    };
    let (events, truncated) = events_of(&store, &target, &args)?;
    // Aliases: the other names the same account goes by on its events.
    let mut aliases = BTreeSet::new();
    if target.ty == EntityType::User {
        for ev in &events {
            for id in [&ev.actor.user_id, &ev.actor.upn].into_iter().flatten() {
                if let Some(r) = EntityRef::new(EntityType::User, id) {
                    if r != target {
                        aliases.insert(r.to_string());
                    }
                }
            }
        }
    }
    let mut linked: BTreeMap<String, Linked> = BTreeMap::new();
    let mut frontier = vec![(target.clone(), events)];
    let mut seen: BTreeSet<EntityRef> = BTreeSet::from([target.clone()]);
    seen.extend(aliases.iter().filter_map(|a| a.parse::<EntityRef>().ok()));
    let mut timeline: Vec<serde_json::Value> = Vec::new();
    for depth in 1..=args.depth.max(1) {
        let mut next = Vec::new();
        for (from, evs) in &frontier {
            if depth == 1 {
                timeline.extend(evs.iter().map(brief));
            }
            let mut here: BTreeMap<EntityRef, Linked> = BTreeMap::new();
            for ev in evs {
                for r in ev.entities() {
                    if seen.contains(&r) || r.ty == EntityType::Token || r.ty == EntityType::Tenant
                    {
                        continue;
                    }
                    let l = here.entry(r.clone()).or_insert_with(|| Linked {
                        entity: r.to_string(),
                        via: from.to_string(),
                        depth,
                        events: 0,
                        first_seen: ev.time,
                        last_seen: ev.time,
                    });
                    l.events += 1;
                    l.first_seen = l.first_seen.min(ev.time);
                    l.last_seen = l.last_seen.max(ev.time);
                }
            }
            let mut ranked: Vec<(EntityRef, Linked)> = here.into_iter().collect();
            ranked.sort_by(|a, b| {
                (std::cmp::Reverse(a.1.events), &a.0).cmp(&(std::cmp::Reverse(b.1.events), &b.0))
            });
            if depth < args.depth {
                next.extend(ranked.iter().take(FOLLOW_PER_HOP).map(|(r, _)| r.clone()));
            }
            for (r, l) in ranked {
                seen.insert(r.clone());
                linked.entry(l.entity.clone()).or_insert(l);
            }
        }
        frontier = Vec::new();
        for r in next {
            let (evs, _) = events_of(&store, &r, &args)?;
            frontier.push((r, evs));
        }
    }
    let mut linked: Vec<Linked> = linked.into_values().collect();
    linked.sort_by(|a, b| {
        (a.depth, std::cmp::Reverse(a.events), &a.entity).cmp(&(
            b.depth,
            std::cmp::Reverse(b.events),
            &b.entity,
        ))
    });

    // Findings and cases that name it (or one of its aliases).
    let names: BTreeSet<String> = std::iter::once(target.to_string())
        .chain(aliases.iter().cloned())
        .collect();
    let names_entity = |ty: EntityType, id: &str| {
        EntityRef::new(ty, id).is_some_and(|r| names.contains(&r.to_string()))
    };
    let findings: Vec<serde_json::Value> = store
        .findings(None)
        .context("reading findings")?
        .into_iter()
        .filter(|f| f.entities.iter().any(|e| names_entity(e.entity_type, &e.id)))
        .map(|f| json!({"id": f.id, "rule": f.rule, "severity": f.severity, "first_seen": f.first_seen, "summary": f.summary}))
        .collect();
    let cases: Vec<serde_json::Value> = crate::cases_cmd::stored_cases(&store)?
        .into_iter()
        .filter(|c| {
            c.entities
                .iter()
                .any(|e| names_entity(e.entity_type, &e.id))
        })
        .map(|c| json!({"id": c.id, "title": c.title, "severity": c.severity, "score": c.score}))
        .collect();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        InvestigateFormat::Json => {
            let v = json!({
                "entity": target.to_string(), "first_seen": summary.first_seen,
                "last_seen": summary.last_seen, "events": summary.event_count,
                "aliases": aliases, "linked": linked, "timeline": timeline,
                "timeline_truncated": truncated, "findings": findings, "cases": cases,
            });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        InvestigateFormat::Dot => {
            let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            writeln!(out, "graph investigate {{")?;
            writeln!(out, "  {} [shape=doublecircle];", q(&target.to_string()))?;
            for l in &linked {
                writeln!(
                    out,
                    "  {} -- {} [label={}];",
                    q(&l.via),
                    q(&l.entity),
                    q(&format!("{} events", l.events))
                )?;
            }
            writeln!(out, "}}")?;
        }
        InvestigateFormat::Text => {
            writeln!(
                out,
                "{}: {} events, {} → {}",
                one_line(&target.to_string()),
                summary.event_count,
                summary.first_seen.to_rfc3339(),
                summary.last_seen.to_rfc3339()
            )?;
            if !aliases.is_empty() {
                let a: Vec<String> = aliases.iter().map(|s| one_line(s)).collect();
                writeln!(out, "aliases: {}", a.join(", "))?;
            }
            writeln!(
                out,
                "\nlinked entities (depth, events, first seen → last seen)"
            )?;
            for l in &linked {
                writeln!(
                    out,
                    "  {} {:<60} {:>7}  {} → {}{}",
                    l.depth,
                    one_line(&l.entity),
                    l.events,
                    l.first_seen.format("%Y-%m-%dT%H:%M:%SZ"),
                    l.last_seen.format("%Y-%m-%dT%H:%M:%SZ"),
                    if l.depth > 1 {
                        format!("  via {}", one_line(&l.via))
                    } else {
                        String::new()
                    }
                )?;
            }
            writeln!(out, "\nfindings ({})", findings.len())?;
            for f in &findings {
                writeln!(
                    out,
                    "  {}  {}  {}",
                    f["first_seen"].as_str().unwrap_or(""),
                    f["rule"].as_str().unwrap_or(""),
                    one_line(f["summary"].as_str().unwrap_or(""))
                )?;
            }
            writeln!(out, "\ncases ({})", cases.len())?;
            for c in &cases {
                writeln!(
                    out,
                    "  {}  {}  {}",
                    c["id"].as_str().unwrap_or(""),
                    c["severity"].as_str().unwrap_or(""),
                    one_line(c["title"].as_str().unwrap_or(""))
                )?;
            }
            writeln!(
                out,
                "\ntimeline (first {TIMELINE_TEXT} of {} events{})",
                timeline.len(),
                if truncated { ", more not read" } else { "" }
            )?;
            for t in timeline.iter().take(TIMELINE_TEXT) {
                writeln!(
                    out,
                    "  {}  {:<12}  {:<28}  {:<9}  from {}",
                    t["time"].as_str().unwrap_or(""),
                    t["source"].as_str().unwrap_or(""),
                    one_line(t["action"].as_str().unwrap_or("-")),
                    if t["success"].as_bool().unwrap_or(false) {
                        "succeeded"
                    } else {
                        "failed"
                    },
                    t["src_ip"].as_str().unwrap_or("-")
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
