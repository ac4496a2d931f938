//! `skein cases list|show|export`: reading the stored cases for people and other tools. The
//! cases themselves are built by `cases_cmd` (at the end of every `correlate`).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use skein_cases::Case;
use skein_model::Source;
use skein_store::Store;

use crate::cases_cmd::stored_cases;
use crate::cli::{CasesCommand, CasesExportArgs, CasesListArgs, CasesShowArgs, ListFormat};

pub fn run(state: &Path, cmd: CasesCommand) -> Result<()> {
    let store = crate::open_with_findings(state)?;
    match cmd {
        CasesCommand::List(args) => list(&store, &args),
        CasesCommand::Show(args) => show(&store, &args),
        CasesCommand::Export(args) => export(&store, &args),
    }
}

/// Cases by score, then first seen.
fn ranked(mut cases: Vec<Case>) -> Vec<Case> {
    cases.sort_by(|a, b| {
        (std::cmp::Reverse(a.score), a.first_seen, &a.id).cmp(&(
            std::cmp::Reverse(b.score),
            b.first_seen,
            &b.id,
        ))
    });
    cases
}

fn list(store: &Store, args: &CasesListArgs) -> Result<()> {
    let cases: Vec<Case> = ranked(stored_cases(store)?)
        .into_iter()
        .filter(|c| args.min_severity.is_none_or(|s| c.severity >= s))
        .collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = cases.iter().map(list_row).collect();
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:<18}  {:<13}  {:>5}  {:>8}  {:<20}  {:<11}  TITLE",
                "CASE", "SEVERITY", "SCORE", "FINDINGS", "FIRST SEEN", "CLOUDS"
            )?;
            for c in &cases {
                writeln!(
                    out,
                    "{:<18}  {:<13}  {:>5}  {:>8}  {:<20}  {:<11}  {}",
                    c.id,
                    c.severity.as_str(),
                    c.score,
                    c.findings.len(),
                    c.first_seen.format("%Y-%m-%dT%H:%M:%SZ"),
                    c.clouds.join(","),
                    crate::text::one_line(&c.title)
                )?;
            }
            writeln!(out, "{} case(s)", cases.len())?;
        }
    }
    out.flush()?;
    Ok(())
}

fn list_row(c: &Case) -> serde_json::Value {
    serde_json::json!({
        "id": c.id, "title": c.title, "severity": c.severity, "score": c.score,
        "first_seen": c.first_seen, "last_seen": c.last_seen, "tactics": c.tactics,
        "clouds": c.clouds, "findings": c.findings.len(), "entities": c.entities.len(),
    })
}

/// The stored case `id`, or a usage error naming the closest ids.
pub fn case_by_id(store: &Store, id: &str) -> Result<Case> {
    if let Some(json) = store.case_json(id).context("reading the case")? {
        return serde_json::from_slice(&json).with_context(|| format!("decoding case {id}"));
    }
    let ids: Vec<String> = store
        .cases_json()
        .context("reading cases")?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let want = id.to_lowercase();
    let mut close: Vec<&String> = ids
        .iter()
        .filter(|c| c.to_lowercase().starts_with(&want) || want.starts_with(&c.to_lowercase()))
        .take(5)
        .collect();
    if close.is_empty() {
        close = ids.iter().take(0).collect();
    }
    let hint = if close.is_empty() {
        "see `skein cases list`".to_string()
    } else {
        format!(
            "did you mean {}?",
            close
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(crate::UsageError(format!("no case {id} ({hint})")).into())
}

fn show(store: &Store, args: &CasesShowArgs) -> Result<()> {
    let case = case_by_id(store, &args.id)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &case)?;
            writeln!(out)?;
        }
        ListFormat::Table => write_case(&mut out, &case)?,
    }
    out.flush()?;
    Ok(())
}

fn write_case(out: &mut impl Write, c: &Case) -> std::io::Result<()> {
    let one = crate::text::one_line;
    writeln!(out, "{}  {}", c.id, one(&c.title))?;
    writeln!(
        out,
        "severity {} · score {} · {} → {} · clouds {}",
        c.severity,
        c.score,
        c.first_seen.to_rfc3339(),
        c.last_seen.to_rfc3339(),
        c.clouds.join(", ")
    )?;
    writeln!(out, "\nscore")?;
    for p in &c.score_parts {
        writeln!(out, "  {:>3}  {}", p.points, one(&p.reason))?;
    }
    writeln!(out, "\ntactics  {}", c.tactics.join(" → "))?;
    writeln!(out, "\nfindings")?;
    for f in &c.findings {
        writeln!(
            out,
            "  {}  {:<8}  {:<26}  {}",
            f.first_seen.format("%Y-%m-%dT%H:%M:%SZ"),
            f.severity.as_str(),
            f.rule,
            one(&f.summary)
        )?;
    }
    writeln!(out, "\nentities (* joined the case)")?;
    for e in &c.entities {
        let roles: Vec<&str> = e.roles.iter().map(|r| r.as_str()).collect();
        let name = e
            .name
            .as_deref()
            .map(|n| format!(" ({})", one(n)))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {}:{}{}  [{}] in {} finding(s)",
            if e.joins { "*" } else { " " },
            e.entity_type,
            one(&e.id),
            name,
            roles.join(","),
            e.findings
        )?;
    }
    if !c.hubs.is_empty() {
        writeln!(out, "\nhubs (linked to too many accounts to join anything)")?;
        for h in &c.hubs {
            writeln!(out, "  {}:{}  {} accounts", h.entity_type, h.id, h.accounts)?;
        }
    }
    writeln!(out, "\nlinks")?;
    for e in &c.graph.edges {
        writeln!(
            out,
            "  {} — {}  {}: {}",
            one(&e.from),
            one(&e.to),
            e.kind,
            one(&e.reason)
        )?;
    }
    Ok(())
}

/// Evidence events a timeline lists at most per case (the findings say how many there are).
const TIMELINE_EVENTS: usize = 300;

/// Adds the evidence events (looked up in the store) to a case's timeline, in time order.
pub fn with_events(store: &Store, mut case: Case) -> Result<Case> {
    let mut added = 0;
    let mut entries = Vec::new();
    'findings: for f in &case.findings {
        for id in &f.events {
            if added >= TIMELINE_EVENTS {
                break 'findings;
            }
            for source in Source::ALL {
                let Some(ev) = store
                    .get_event(source, id)
                    .with_context(|| format!("reading event {id}"))?
                else {
                    continue;
                };
                let who = ev
                    .actor
                    .upn
                    .as_deref()
                    .or(ev.actor.aws_arn.as_deref())
                    .or(ev.actor.access_key_id.as_deref())
                    .unwrap_or("-");
                let what = ev.target.action.as_deref().unwrap_or(source.as_str());
                let from = ev
                    .src_ip
                    .map(|ip| ip.to_string())
                    .unwrap_or_else(|| "-".into());
                let outcome = if ev.outcome.success {
                    "succeeded".to_string()
                } else {
                    format!(
                        "failed ({})",
                        ev.outcome.error_code.as_deref().unwrap_or("no code")
                    )
                };
                entries.push(skein_cases::TimelineEntry {
                    time: ev.time,
                    kind: "event".into(),
                    finding: f.id.clone(),
                    rule: f.rule.clone(),
                    source: Some(source),
                    event: Some(id.clone()),
                    text: format!("{what} by {who} from {from}: {outcome}"),
                });
                added += 1;
                break;
            }
        }
    }
    case.timeline.extend(entries);
    case.timeline
        .sort_by(|a, b| (a.time, &a.kind, &a.finding).cmp(&(b.time, &b.kind, &b.finding)));
    Ok(case)
}

fn export(store: &Store, args: &CasesExportArgs) -> Result<()> {
    let cases: Vec<Case> = if args.ids.is_empty() {
        stored_cases(store)?
    } else {
        args.ids
            .iter()
            .map(|id| case_by_id(store, id))
            .collect::<Result<_>>()?
    };
    let cases = cases
        .into_iter()
        .filter(|c| args.min_severity.is_none_or(|s| c.severity >= s))
        .map(|c| with_events(store, c))
        .collect::<Result<Vec<_>>>()?;
    let text = skein_cases::export(&cases, args.format)
        .with_context(|| format!("exporting {} case(s) as {}", cases.len(), args.format))?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} case(s) to {}", cases.len(), path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}
