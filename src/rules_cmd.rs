//! `skein rules list|validate|test`.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use serde_json::json;
use skein_rules::fixtures::{self, FixtureReport};
use skein_rules::Diagnostic;

use crate::cli::{ReportFormat, RulesArgs, RulesCommand};
use crate::rules_dir::{self, RulesDir};

pub fn run(cmd: RulesCommand) -> Result<()> {
    match cmd {
        RulesCommand::List(a) => list(&a),
        RulesCommand::Validate(a) => validate(&a),
        RulesCommand::Test(a) => test(&a),
    }
}

/// One line of `rules list`: a per-event rule (`event`, or `signal` when it only feeds
/// multi-event rules) or a multi-event rule (its type), and what it reads (sources or rules).
struct Row<'a> {
    id: &'a str,
    level: &'a str,
    kind: &'a str,
    reads: Vec<String>,
    title: &'a str,
    attack: &'a [String],
    path: &'a str,
    line: usize,
}

fn list(args: &RulesArgs) -> Result<()> {
    let rd = rules_dir::read(&args.dir)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let set = &rd.loaded.rules;
    let mut rows: Vec<Row> = set
        .rules()
        .iter()
        .enumerate()
        .map(|(i, r)| Row {
            id: &r.id,
            level: r.severity.as_str(),
            kind: if set.is_silent(i) { "signal" } else { "event" },
            reads: r.sources.iter().map(|s| s.as_str().to_string()).collect(),
            title: &r.title,
            attack: &r.attack,
            path: &r.path,
            line: r.line,
        })
        .collect();
    rows.extend(set.correlations().iter().map(|c| Row {
        id: &c.id,
        level: c.severity.as_str(),
        kind: c.def.kind.name(),
        reads: c.def.rules.clone(),
        title: &c.title,
        attack: &c.attack,
        path: &c.path,
        line: c.line,
    }));
    match args.format {
        ReportFormat::Json => {
            let v: Vec<_> = rows
                .iter()
                .map(|r| {
                    let key = if r.kind == "event" || r.kind == "signal" {
                        "sources"
                    } else {
                        "rules"
                    };
                    json!({
                        "id": r.id, "title": r.title, "level": r.level, "kind": r.kind,
                        key: r.reads, "attack": r.attack, "path": r.path, "line": r.line,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            let w = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
            let reads: Vec<String> = rows.iter().map(|r| r.reads.join(",")).collect();
            let sw = reads.iter().map(String::len).max().unwrap_or(6).max(6);
            writeln!(
                out,
                "{:<w$}  {:<13}  {:<12}  {:<sw$}  TITLE",
                "ID", "LEVEL", "KIND", "READS"
            )?;
            for (r, reads) in rows.iter().zip(&reads) {
                writeln!(
                    out,
                    "{:<w$}  {:<13}  {:<12}  {reads:<sw$}  {}",
                    r.id, r.level, r.kind, r.title
                )?;
            }
            writeln!(out, "{} rules", rows.len())?;
        }
    }
    if !rd.loaded.diagnostics.is_empty() {
        eprintln!(
            "skein: {} problem(s) in {}; run `skein rules validate` for details",
            rd.loaded.diagnostics.len(),
            args.dir.display()
        );
    }
    Ok(())
}

/// The Sigma feature or input a rule that did not load would need, from its message.
fn reason_class(message: &str) -> String {
    if let Some(rest) = message.split("logsource ").nth(1) {
        if message.contains("is not an input skein reads") {
            let what = rest.split(" is not").next().unwrap_or(rest);
            return format!("logsource not read by skein: {what}");
        }
    }
    if message.contains("Sigma correlation rule") {
        return "Sigma correlation rule (multi-event; not evaluated yet)".into();
    }
    if message.contains("Sigma filter rule") {
        return "Sigma filter rule".into();
    }
    if let Some(m) = message.split("Unknown modifier ").nth(1) {
        return format!("modifier {m}");
    }
    if message.contains("not a field of the canonical model") {
        return "field name that looks canonical but is not".into();
    }
    message.to_string()
}

/// Problems beyond loading: rules without fixtures, fixtures that do not parse or name no
/// rule.
fn fixture_diagnostics(rd: &RulesDir) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut covered = Vec::new();
    for f in &rd.fixtures {
        match fixtures::parse(&f.text) {
            Ok(fx) => {
                if !rd.loaded.rules.knows(&fx.rule) {
                    out.push(Diagnostic {
                        path: f.path.clone(),
                        line: 1,
                        message: format!("fixture for unknown rule {:?}", fx.rule),
                    });
                }
                covered.push(fx.rule);
            }
            Err(e) => out.push(Diagnostic {
                path: f.path.clone(),
                line: e
                    .split("line ")
                    .nth(1)
                    .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
                message: format!("fixture does not parse: {e}"),
            }),
        }
    }
    for (id, path, line) in rd.loaded.rules.finding_rules() {
        if !covered.iter().any(|c| c == id) {
            out.push(Diagnostic {
                path: path.to_string(),
                line,
                message: format!(
                    "rule {id:?} has no fixtures ({}/fixtures/{id}.yml)",
                    rd.root.display(),
                ),
            });
        }
    }
    out
}

fn validate(args: &RulesArgs) -> Result<()> {
    let rd = rules_dir::read(&args.dir)?;
    let mut problems = rd.loaded.diagnostics.clone();
    if rd.is_correlations {
        problems.extend(fixture_diagnostics(&rd));
    }
    let loaded = rd.loaded.rules.rules().len() + rd.loaded.rules.correlations().len();
    let mut by_reason: BTreeMap<String, Vec<&Diagnostic>> = BTreeMap::new();
    for d in &problems {
        by_reason
            .entry(reason_class(&d.message))
            .or_default()
            .push(d);
    }
    let files_with_problems: std::collections::BTreeSet<&str> =
        problems.iter().map(|d| d.path.as_str()).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ReportFormat::Json => {
            let v = json!({
                "dir": args.dir.display().to_string(),
                "rules_loaded": loaded,
                "files_with_problems": files_with_problems.len(),
                "problems": problems.iter().map(|d| json!({
                    "path": d.path, "line": d.line, "message": d.message,
                    "needs": reason_class(&d.message),
                })).collect::<Vec<_>>(),
                "by_reason": by_reason.iter().map(|(k, v)| (k.clone(), json!(v.len())))
                    .collect::<serde_json::Map<_, _>>(),
                "loaded": rd.loaded.rules.rules().iter().map(|r| json!({
                    "id": r.id, "path": r.path, "needs_raw": r.needs_raw,
                })).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            for d in &problems {
                writeln!(out, "{d}")?;
            }
            if !rd.is_correlations && !by_reason.is_empty() {
                writeln!(out, "\nnot loaded, by what they need:")?;
                for (reason, ds) in &by_reason {
                    writeln!(out, "  {:>4}  {reason}", ds.len())?;
                }
            }
            writeln!(
                out,
                "{loaded} rules loaded from {}; {} problem(s) in {} file(s)",
                args.dir.display(),
                problems.len(),
                files_with_problems.len()
            )?;
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::UsageError(format!(
            "{} problem(s) in {}",
            problems.len(),
            args.dir.display()
        ))
        .into())
    }
}

fn test(args: &RulesArgs) -> Result<()> {
    let rd = rules_dir::read_for_running(&args.dir)?;
    let mut reports: Vec<(String, FixtureReport)> = Vec::new();
    for f in &rd.fixtures {
        let report = match fixtures::parse(&f.text) {
            Ok(fx) => fixtures::run(&fx, &rd.loaded.rules),
            Err(e) => FixtureReport {
                rule: f.path.clone(),
                failures: vec![format!("does not parse: {e}")],
                ..FixtureReport::default()
            },
        };
        reports.push((f.path.clone(), report));
    }
    for (id, path, _) in rd.loaded.rules.finding_rules() {
        if !reports.iter().any(|(_, rep)| rep.rule == id) {
            reports.push((
                path.to_string(),
                FixtureReport {
                    rule: id.to_string(),
                    failures: vec!["no fixtures".into()],
                    ..FixtureReport::default()
                },
            ));
        }
    }
    let failed = reports.iter().filter(|(_, r)| !r.passed()).count();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ReportFormat::Json => {
            let v: Vec<_> = reports
                .iter()
                .map(|(path, r)| {
                    json!({
                        "rule": r.rule, "fixture": path, "passed": r.passed(),
                        "events": r.events, "expected": r.expected, "flagged": r.flagged,
                        "failures": r.failures,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            for (path, r) in &reports {
                let verdict = if r.passed() { "ok  " } else { "FAIL" };
                writeln!(
                    out,
                    "{verdict} {:<28} {:>3} events, {:>3} expected, {:>3} flagged  ({path})",
                    r.rule, r.events, r.expected, r.flagged
                )?;
                for f in &r.failures {
                    writeln!(out, "       {f}")?;
                }
            }
            writeln!(
                out,
                "rules test: {} passed, {failed} failed",
                reports.len() - failed
            )?;
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} rule fixture(s) failed");
    }
    Ok(())
}
