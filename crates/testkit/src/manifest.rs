//! The manifest (`manifest.json`): what was generated, where, and the ground truth of every
//! scenario. Field names are stable; tests and benchmarks parse them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::oracle::SeedVerdicts;

/// Bump when the manifest's shape changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// False-positive classes list at most this many events (the count is always exact).
pub const FP_EVENT_LIST_CAP: usize = 2_000;

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Manifest {
    pub generator: String,
    pub format_version: u32,
    pub seed: u64,
    pub requested_events: u64,
    pub start: String,
    pub end: String,
    pub days: u32,
    pub gzip_share: f64,
    pub first_event_time: String,
    pub last_event_time: String,
    pub tenant: TenantInfo,
    pub reference_lists: ReferenceLists,
    pub events: EventCounts,
    /// Counts of the known shape drift present in the corpus.
    pub drift: BTreeMap<String, u64>,
    pub files: Vec<FileInfo>,
    pub scenarios: Vec<Scenario>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TenantInfo {
    pub tenant_id: String,
    pub domain: String,
    pub users: usize,
    pub guests: usize,
    pub partner_tenants: Vec<NamedId>,
    pub aws_accounts: Vec<AwsAccountInfo>,
    pub storage_accounts: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct NamedId {
    pub name: String,
    pub id: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AwsAccountInfo {
    pub id: String,
    pub name: String,
    pub organization: Option<String>,
}

/// Values for `correlations/lists/`: the allow-lists and watch-lists the scenarios assume.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ReferenceLists {
    pub corporate_egress_ips: Vec<String>,
    pub corporate_vpn_ips: Vec<String>,
    pub partner_tenant_ids: Vec<String>,
    pub approved_legacy_accounts: Vec<String>,
    pub tor_exit_ips: Vec<String>,
    pub high_risk_countries: Vec<String>,
    pub recon_apis: Vec<String>,
    pub legacy_client_apps: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct EventCounts {
    pub total: u64,
    pub by_source: BTreeMap<String, u64>,
    pub by_shape: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct FileInfo {
    pub path: String,
    pub source: String,
    pub shape: String,
    pub records: u64,
    pub gzip: bool,
    pub bytes: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Entities {
    pub ips: BTreeSet<String>,
    pub upns: BTreeSet<String>,
    pub user_ids: BTreeSet<String>,
    pub access_keys: BTreeSet<String>,
    pub aws_sessions: BTreeSet<String>,
    pub tenants: BTreeSet<String>,
    pub user_agents: BTreeSet<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// `attack`, `near_miss`, `out_of_scope`, `coverage` or `false_positive`.
    pub kind: String,
    pub description: String,
    /// skein rule ids expected to produce a finding from these events (scenario level).
    pub flagged_by: Vec<String>,
    /// skein rule ids expected to stay silent on these events.
    pub not_flagged_by: Vec<String>,
    pub entities: Entities,
    pub first_event_time: Option<String>,
    pub last_event_time: Option<String>,
    /// Exact number of events in the scenario.
    pub event_count: u64,
    /// True when `events` lists only the first `FP_EVENT_LIST_CAP` (large false-positive classes).
    pub events_truncated: bool,
    pub events: Vec<EventRef>,
}

/// One event, identified by the source's own id (blob: correlation id + operation + time).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EventRef {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operation: Option<String>,
    pub time: String,
    pub label: String,
    pub shape: String,
    pub file: String,
    /// For sign-ins: the seed ports expected to flag / not flag this event and their scores.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seeds: Option<SeedVerdictsOwned>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct SeedVerdictsOwned {
    pub flagged: Vec<String>,
    pub not_flagged: Vec<String>,
    pub threat_scores: BTreeMap<String, u8>,
}

impl From<SeedVerdicts> for SeedVerdictsOwned {
    fn from(v: SeedVerdicts) -> Self {
        SeedVerdictsOwned {
            flagged: v.flagged.iter().map(|s| s.to_string()).collect(),
            not_flagged: v.not_flagged.iter().map(|s| s.to_string()).collect(),
            threat_scores: v
                .threat_scores
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        }
    }
}

impl Manifest {
    pub fn scenario(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }
}
