//! Cases out as text, in every export format of SPEC §1 (job 3): JSON, NDJSON, CSV, Markdown,
//! STIX 2.1, OCSF, Graphviz DOT and a self-contained HTML report.
//!
//! It owns
//! - [`Format`], parsed from the names the command line uses (`json`, `ndjson`, `csv`, `md`,
//!   `stix`, `ocsf`, `dot`, `html`);
//! - [`export`]: a slice of [`Case`]s to one `String` in a format, one module per format;
//! - the escaping each format needs (SPEC §10): CSV formula injection, HTML, Markdown table
//!   cells, DOT strings.
//!
//! It must not do IO, and must not depend on when or where it runs: the same cases give the
//! same bytes (everything is sorted, identifiers are derived from the case ids with UUIDv5,
//! times come from the cases, never from the clock).

mod csv_rows;
mod dot;
mod html;
mod json;
mod markdown;
mod ocsf;
mod stix;
mod svg;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::model::{Case, CaseEntity, CaseFinding, TimelineEntry};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// A pretty-printed JSON array of cases.
    Json,
    /// One case per line, compact JSON.
    Ndjson,
    /// One row per finding of each case.
    Csv,
    /// A Markdown report.
    Md,
    /// A STIX 2.1 bundle.
    Stix,
    /// A JSON array of OCSF Detection Findings (class 2004), one per finding per case.
    Ocsf,
    /// A Graphviz digraph, one cluster per case.
    Dot,
    /// One self-contained HTML file (inline CSS and SVG, no script, nothing fetched).
    Html,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 8] = [
        Format::Json,
        Format::Ndjson,
        Format::Csv,
        Format::Md,
        Format::Stix,
        Format::Ocsf,
        Format::Dot,
        Format::Html,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Stix => "stix",
            Format::Ocsf => "ocsf",
            Format::Dot => "dot",
            Format::Html => "html",
        }
    }

    /// The usual file extension of an export in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Stix | Format::Ocsf => "json",
            other => other.as_str(),
        }
    }

    fn names() -> String {
        Format::ALL
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == wanted)
            .ok_or_else(|| ExportError::UnknownFormat {
                given: s.to_string(),
                expected: Format::names(),
            })
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The format name is not one of [`Format::ALL`].
    #[error("unknown export format {given:?}: expected one of {expected}")]
    UnknownFormat { given: String, expected: String },
    /// A value could not be written as JSON.
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A row could not be written as CSV.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The CSV writer could not flush its buffer.
    #[error("flushing CSV: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV writer produced bytes that are not UTF-8 (it only ever gets `&str`, so never).
    #[error("CSV output is not UTF-8: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

/// Writes `cases` in `format`. The output depends only on the cases, not on their order.
pub fn export(cases: &[Case], format: Format) -> Result<String, ExportError> {
    let cases = sorted(cases);
    match format {
        Format::Json => json::json(&cases),
        Format::Ndjson => json::ndjson(&cases),
        Format::Csv => csv_rows::csv(&cases),
        Format::Md => Ok(markdown::markdown(&cases)),
        Format::Stix => stix::stix(&cases),
        Format::Ocsf => ocsf::ocsf(&cases),
        Format::Dot => Ok(dot::dot(&cases)),
        Format::Html => Ok(html::html(&cases)),
    }
}

/// The cases worst first (severity, score), then by first sighting and id; inside each case
/// every list in a fixed order, so that two runs over the same cases write the same bytes.
fn sorted(cases: &[Case]) -> Vec<Case> {
    let mut out: Vec<Case> = cases.iter().cloned().map(normalized).collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.score.cmp(&a.score))
            .then(a.first_seen.cmp(&b.first_seen))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// One case with its lists sorted. Tactics and score parts keep their order: it means
/// something (the order the case reached them, how the score was added up).
fn normalized(mut c: Case) -> Case {
    c.attack.sort();
    c.attack.dedup();
    c.clouds.sort();
    c.clouds.dedup();
    c.findings
        .sort_by(|a, b| (a.first_seen, &a.id, &a.rule).cmp(&(b.first_seen, &b.id, &b.rule)));
    for f in &mut c.findings {
        f.attack.sort();
        f.events.sort();
    }
    c.entities
        .sort_by(|a, b| (!a.joins, a.entity_type, &a.id).cmp(&(!b.joins, b.entity_type, &b.id)));
    for e in &mut c.entities {
        e.roles.sort();
        e.roles.dedup();
    }
    // At one instant a finding comes before its evidence.
    c.timeline.sort_by(|a, b| {
        let key = |t: &'_ TimelineEntry| {
            (
                t.time,
                t.kind != "finding",
                t.finding.clone(),
                t.event.clone(),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.text.cmp(&b.text))
    });
    c.graph.nodes.sort_by(|a, b| a.key.cmp(&b.key));
    c.graph.edges.sort_by(|a, b| {
        (&a.from, &a.to, &a.kind, &a.reason).cmp(&(&b.from, &b.to, &b.kind, &b.reason))
    });
    c.hubs
        .sort_by(|a, b| (a.entity_type, &a.id).cmp(&(b.entity_type, &b.id)));
    c
}

/// `type:id`, the key the graph uses.
fn entity_key(e: &CaseEntity) -> String {
    format!("{}:{}", e.entity_type, e.id)
}

/// The case's entities that a finding names ([`CaseFinding::entities`]).
fn finding_entities<'a>(case: &'a Case, finding: &CaseFinding) -> Vec<&'a CaseEntity> {
    let keys: std::collections::HashSet<&str> =
        finding.entities.iter().map(String::as_str).collect();
    case.entities
        .iter()
        .filter(|e| keys.contains(entity_key(e).as_str()))
        .collect()
}

/// RFC 3339 with milliseconds and `Z`, as STIX wants it.
fn rfc3339_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// RFC 3339 to the second with `Z`, for the tabular and human formats.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An entity as people read it: `type:id`, and its name when it has one.
fn entity_label(e: &CaseEntity) -> String {
    match &e.name {
        Some(n) if !n.is_empty() => format!("{} ({n})", entity_key(e)),
        _ => entity_key(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().ok(), Some(f));
        }
        assert_eq!(" HTML ".parse::<Format>().ok(), Some(Format::Html));
    }

    #[test]
    fn unknown_format_lists_the_known_ones() {
        let err = "xlsx".parse::<Format>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown export format \"xlsx\": expected one of json, ndjson, csv, md, stix, \
                 ocsf, dot, html"
            )
        );
    }
}
