//! `skein findings`: stored findings as a table, JSON, NDJSON or CSV.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use skein_model::{EntityRole, Finding};

use crate::cli::{FindingsArgs, FindingsFormat};

pub fn run(state: &Path, args: FindingsArgs) -> Result<()> {
    let store = crate::open_with_findings(state)?;
    let findings = store
        .findings(args.rule.as_deref())
        .context("reading findings")?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        FindingsFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &findings)?;
            writeln!(out)?;
        }
        FindingsFormat::Ndjson => {
            for f in &findings {
                serde_json::to_writer(&mut out, f)?;
                writeln!(out)?;
            }
        }
        FindingsFormat::Csv => write_csv(&mut out, &findings)?,
        FindingsFormat::Table => write_table(&mut out, &findings)?,
    }
    out.flush()?;
    Ok(())
}

/// The first entity with `role`, as `type:id` (with its name when known).
fn entity_text(f: &Finding, role: EntityRole) -> String {
    f.entities
        .iter()
        .find(|e| e.role == role)
        .map(|e| match &e.name {
            Some(n) if n != &e.id => n.clone(),
            _ => e.id.clone(),
        })
        .unwrap_or_default()
}

/// The account of a finding: its actor, else its target.
fn account(f: &Finding) -> String {
    let a = entity_text(f, EntityRole::Actor);
    if a.is_empty() {
        entity_text(f, EntityRole::Target)
    } else {
        a
    }
}

fn write_table(out: &mut impl Write, findings: &[Finding]) -> std::io::Result<()> {
    let rule_w = findings
        .iter()
        .map(|f| f.rule.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let acct: Vec<String> = findings.iter().map(account).collect();
    let acct_w = acct
        .iter()
        .map(|a| a.chars().count())
        .max()
        .unwrap_or(7)
        .clamp(7, 40);
    writeln!(
        out,
        "{:<20}  {:<8}  {:>5}  {:<rule_w$}  {:<acct_w$}  {:<15}  SUMMARY",
        "FIRST SEEN", "SEVERITY", "SCORE", "RULE", "ACCOUNT", "SOURCE IP"
    )?;
    for (f, a) in findings.iter().zip(&acct) {
        let a: String = a.chars().take(acct_w).collect();
        writeln!(
            out,
            "{:<20}  {:<8}  {:>5}  {:<rule_w$}  {:<acct_w$}  {:<15}  {}",
            f.first_seen.format("%Y-%m-%dT%H:%M:%SZ"),
            f.severity.as_str(),
            f.score,
            f.rule,
            a,
            entity_text(f, EntityRole::Source),
            f.summary.replace(['\n', '\r'], " ")
        )?;
    }
    writeln!(out, "{} findings", findings.len())
}

/// A CSV cell: quoted when needed, and prefixed with `'` when a spreadsheet would read it as
/// a formula (`=`, `+`, `-`, `@`, tab, carriage return first).
pub fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn write_csv(out: &mut impl Write, findings: &[Finding]) -> std::io::Result<()> {
    writeln!(
        out,
        "id,rule,title,severity,score,first_seen,last_seen,account,source_ip,events,attack,summary,fields"
    )?;
    for f in findings {
        let cells = [
            f.id.clone(),
            f.rule.clone(),
            f.title.clone(),
            f.severity.as_str().to_string(),
            f.score.to_string(),
            f.first_seen.to_rfc3339(),
            f.last_seen.to_rfc3339(),
            account(f),
            entity_text(f, EntityRole::Source),
            f.events.join(" "),
            f.attack.join(" "),
            f.summary.clone(),
            serde_json::Value::Object(f.fields.clone()).to_string(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formula_safe() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-1+2"), "'-1+2");
    }
}
