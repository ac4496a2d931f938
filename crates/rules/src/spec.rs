//! The `skein:` block a rule file may add to a Sigma rule: what the finding says and scores,
//! which lists the rule reads, and which allow-lists suppress it. Sigma tools ignore the
//! block (it is a custom attribute), so skein's rule files stay valid Sigma.
//!
//! ```yaml
//! skein:
//!   summary: "{actor.upn} signed in from {src_ip} with risk {risk.level_during_signin}"
//!   score: 60                  # base finding score 0-100 (default: from `level`)
//!   per_criterion: 10          # added per matched criterion weight
//!   criteria:                  # named Sigma conditions over the rule's selections,
//!     - name: risk_level       #   reported in fields.matched
//!       when: risk_level
//!       weight: 1              # default 1
//!   score_field: threat_score  # fields.threat_score = sum of matched weights
//!   lists:                     # virtual fields list.<name> (true/false) for the detection
//!     anonymizer: {list: anonymizers, field: src_ip, kind: ip}
//!   allow:                     # an event on any of these lists gives no finding
//!     - {list: corporate-egress, field: src_ip}
//!     - {list: red-team-windows, field: actor.upn, kind: window}
//!   report: [risk.level_during_signin, signin.client_app_used]   # copied into fields
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::lists::ListKind;

/// One named criterion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriterionSpec {
    pub name: String,
    /// A Sigma condition expression over the rule's named detections.
    pub when: String,
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

/// A reference from a rule to a list file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRef {
    /// File name in `lists/` without `.txt`.
    pub list: String,
    /// The field whose value is looked up (any name a detection could use).
    pub field: String,
    /// `ip`, `text` or `window`; default `ip` for `src_ip`, else `text`.
    #[serde(default)]
    pub kind: Option<ListKind>,
}

impl ListRef {
    pub fn kind(&self) -> ListKind {
        self.kind.unwrap_or(if self.field == "src_ip" {
            ListKind::Ip
        } else {
            ListKind::Text
        })
    }
}

/// The whole `skein:` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkeinBlock {
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub score: Option<u32>,
    #[serde(default)]
    pub per_criterion: Option<u32>,
    #[serde(default)]
    pub criteria: Vec<CriterionSpec>,
    #[serde(default)]
    pub score_field: Option<String>,
    #[serde(default)]
    pub lists: BTreeMap<String, ListRef>,
    #[serde(default)]
    pub allow: Vec<ListRef>,
    #[serde(default)]
    pub report: Vec<String>,
}
