//! The CSV export: one row per finding of each case, with the case's columns repeated, and
//! every cell guarded against formula injection.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and some also after a
//! leading tab or carriage return) as a formula, so such cells get a leading `'` as OWASP's
//! "CSV Injection" page advises. Quoting is the `csv` crate's.

use super::{entity_key, finding_entities, rfc3339, ExportError};
use crate::model::Case;

/// The header row.
const HEADER: [&str; 12] = [
    "case_id",
    "case_title",
    "case_severity",
    "case_score",
    "finding_id",
    "rule",
    "severity",
    "score",
    "first_seen",
    "last_seen",
    "entities",
    "summary",
];

pub(super) fn csv(cases: &[Case]) -> Result<String, ExportError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(HEADER)?;
    for case in cases {
        for f in &case.findings {
            let entities = finding_entities(case, f)
                .into_iter()
                .map(entity_key)
                .collect::<Vec<_>>()
                .join(";");
            let row = [
                case.id.clone(),
                case.title.clone(),
                case.severity.to_string(),
                case.score.to_string(),
                f.id.clone(),
                f.rule.clone(),
                f.severity.to_string(),
                f.score.to_string(),
                rfc3339(f.first_seen),
                rfc3339(f.last_seen),
                entities,
                f.summary.clone(),
            ];
            w.write_record(row.iter().map(|cell| defuse(cell).into_owned()))?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes)?)
}

/// A cell a spreadsheet will not run: a leading `'` before `=`, `+`, `-`, `@`, tab or CR.
pub(super) fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn formula_cells_get_a_quote() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse(bad), format!("'{bad}"));
        }
        assert_eq!(defuse("alice=bob"), "alice=bob");
        assert_eq!(defuse(""), "");
    }
}
