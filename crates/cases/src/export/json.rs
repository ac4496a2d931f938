//! JSON and NDJSON exports: the [`Case`] model as it is (SPEC §5 field names), pretty-printed
//! as one array, or compact with one case per line.

use super::ExportError;
use crate::model::Case;

/// A pretty-printed JSON array of the cases, ending with a newline.
pub(super) fn json(cases: &[Case]) -> Result<String, ExportError> {
    let mut out = serde_json::to_string_pretty(cases)?;
    out.push('\n');
    Ok(out)
}

/// One compact JSON object per case, each on its own line (no line for no cases).
pub(super) fn ndjson(cases: &[Case]) -> Result<String, ExportError> {
    let mut out = String::new();
    for case in cases {
        out.push_str(&serde_json::to_string(case)?);
        out.push('\n');
    }
    Ok(out)
}
