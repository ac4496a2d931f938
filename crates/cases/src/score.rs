//! A case's score, explained part by part: its worst finding, how many more findings back it
//! up, how far along the ATT&CK tactics it got, and whether it crossed clouds.

use skein_model::{Finding, Severity};

use crate::model::ScorePart;

/// ATT&CK enterprise tactics in kill-chain order.
pub const TACTICS: [&str; 14] = [
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

/// A tactic's place in [`TACTICS`] (unknown ones last).
pub fn tactic_rank(t: &str) -> usize {
    TACTICS
        .iter()
        .position(|x| *x == t)
        .unwrap_or(TACTICS.len())
}

/// Points for each further finding, and at most.
const PER_FINDING: u32 = 5;
const MAX_FINDINGS: u32 = 15;
/// Points for each tactic after the first, and at most.
const PER_TACTIC: u32 = 10;
const MAX_TACTICS: u32 = 30;
/// Points for evidence from more than one cloud.
const CROSS_CLOUD: u32 = 15;

/// The score (0–100) and its parts. `tactics`: the distinct primary tactics (each
/// finding's first) in the case. Findings over exactly the same evidence events (several
/// ports of one detection) count as one.
pub fn score(findings: &[&Finding], tactics: usize, clouds: usize) -> (u32, Vec<ScorePart>) {
    let mut parts = Vec::new();
    if let Some(top) = findings
        .iter()
        .max_by_key(|f| (f.score, std::cmp::Reverse(&f.id)))
    {
        parts.push(ScorePart {
            points: top.score,
            reason: format!("highest finding score ({}, {})", top.rule, top.id),
        });
    }
    let mut evidence: Vec<Vec<&str>> = findings
        .iter()
        .map(|f| {
            let mut e: Vec<&str> = f.events.iter().map(String::as_str).collect();
            e.sort_unstable();
            e
        })
        .collect();
    evidence.sort();
    evidence.dedup();
    let more = evidence.len().saturating_sub(1) as u32;
    if more > 0 {
        parts.push(ScorePart {
            points: (more * PER_FINDING).min(MAX_FINDINGS),
            reason: format!(
                "{more} more finding(s) on other evidence, {PER_FINDING} each (at most {MAX_FINDINGS})"
            ),
        });
    }
    let further = tactics.saturating_sub(1) as u32;
    if further > 0 {
        parts.push(ScorePart {
            points: (further * PER_TACTIC).min(MAX_TACTICS),
            reason: format!(
                "{tactics} ATT&CK tactics reached (each finding's first): {further} after the first, {PER_TACTIC} each (at most {MAX_TACTICS})"
            ),
        });
    }
    if clouds > 1 {
        parts.push(ScorePart {
            points: CROSS_CLOUD,
            reason: format!("evidence from {clouds} clouds"),
        });
    }
    let total = parts.iter().map(|p| p.points).sum::<u32>().min(100);
    (total, parts)
}

/// The severity a score means.
pub fn severity_of(score: u32) -> Severity {
    match score {
        90.. => Severity::Critical,
        70..=89 => Severity::High,
        40..=69 => Severity::Medium,
        15..=39 => Severity::Low,
        _ => Severity::Informational,
    }
}
