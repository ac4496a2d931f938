//! Cases: derived from the stored findings at the end of every `correlate` ([`update`]);
//! `cases_view` shows and exports them.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};
use skein_cases::{
    entity_keys, plan_cases, Case, CaseConfig, CaseIndex, Observed, PreviousCase, RuleInfo,
};
use skein_collect::config::CasesConfig;
use skein_model::{EntityRef, Finding, Source};
use skein_rules::RuleSet;
use skein_store::{CaseRecord, CasesOutcome, Store};

use crate::case_findings::{
    case_json, findings_by_id, findings_digest, findings_of_cases, StoredCopies,
};
use crate::cases_observe::{accounts_seen, issued_keys};
use crate::workers::{drop_in_background, streamed_on_every_core};

/// The cloud a source's events come from.
fn cloud(s: Source) -> &'static str {
    match s {
        Source::EntraSignin | Source::StorageBlob => "azure",
        Source::Cloudtrail => "aws",
    }
}

/// Tactics and clouds of every rule, per-event and multi-event.
fn rule_info(rules: &RuleSet) -> HashMap<String, RuleInfo> {
    let mut out = HashMap::new();
    for r in rules.rules() {
        out.insert(
            r.id.clone(),
            RuleInfo {
                tactics: r.tactics.clone(),
                clouds: r.sources.iter().map(|s| cloud(*s).to_string()).collect(),
            },
        );
    }
    for (i, c) in rules.correlations().iter().enumerate() {
        let clouds: BTreeSet<String> = rules
            .slots()
            .iter()
            .filter(|s| s.correlation == i)
            .flat_map(|s| rules.rules()[s.rule].sources.iter())
            .map(|s| cloud(*s).to_string())
            .collect();
        out.insert(
            c.id.clone(),
            RuleInfo {
                tactics: c.tactics.clone(),
                clouds: clouds.into_iter().collect(),
            },
        );
    }
    out
}

/// Cases with at least this many findings are encoded on two threads (below it, a thread
/// costs more than it saves).
const PARALLEL_ENCODE_FINDINGS: usize = 500;

/// The stored cases, decoded (a case that no longer decodes is skipped with a warning: it
/// is derived data, rebuilt by the next `correlate`).
pub fn stored_cases(store: &Store) -> Result<Vec<Case>> {
    Ok(decode_cases(&store.cases_json().context("reading cases")?))
}

fn decode_cases(raw: &[(String, Vec<u8>)]) -> Vec<Case> {
    let mut out = Vec::new();
    for (id, json) in raw {
        match serde_json::from_slice::<Case>(json) {
            Ok(c) => out.push(c),
            Err(e) => {
                tracing::warn!("case {id} is unreadable ({e}); the next correlate rebuilds it")
            }
        }
    }
    out
}

/// Every stored case's index entry, or `None` when the store has no complete index or an
/// entry no longer decodes (the caller then rebuilds every case).
pub(crate) fn stored_indexes(store: &Store) -> Result<Option<Vec<CaseIndex>>> {
    let Some(raw) = store.case_indexes().context("reading the case index")? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(raw.len());
    for (id, bytes) in raw {
        match serde_json::from_slice::<CaseIndex>(&bytes) {
            Ok(c) => out.push(c),
            Err(e) => {
                tracing::warn!(
                    "the index entry of case {id} is unreadable ({e}); rebuilding every case"
                );
                return Ok(None);
            }
        }
    }
    Ok(Some(out))
}

/// What a case update rebuilds: these findings, over these earlier cases; the other stored
/// cases are kept as they are (`None`: every case is rebuilt).
struct Scope<'a> {
    findings: Vec<Finding>,
    previous: Vec<&'a CaseIndex>,
    kept: Option<BTreeSet<String>>,
    /// The stored findings copies of the cases rebuilt, read whole.
    copies: StoredCopies<'a>,
}

/// The checkpoint that records the settings the stored cases were built with.
const SETTINGS_CHECKPOINT: &str = "cases/settings";

fn settings_text(s: &CasesConfig) -> String {
    format!(
        "window={}ms hub_accounts={}",
        s.window.0.as_millis(),
        s.hub_accounts
    )
}

/// The library's settings from the configuration's `[cases]`.
fn case_config(s: &CasesConfig) -> CaseConfig {
    CaseConfig {
        window: chrono::TimeDelta::from_std(s.window.0).unwrap_or(chrono::TimeDelta::MAX),
        hub_accounts: s.hub_accounts,
    }
}

/// The value of checkpoint `name`, if set.
fn checkpoint(store: &Store, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(store
        .checkpoints_with_prefix(name)
        .context("reading the case state")?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v))
}

/// Whether the stored cases were built with other settings than `s` (a store whose cases
/// predate this record counts as built with the defaults).
pub fn settings_changed(store: &Store, s: &CasesConfig) -> Result<bool> {
    let stored = checkpoint(store, SETTINGS_CHECKPOINT)?
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_else(|| settings_text(&CasesConfig::default()));
    Ok(stored != settings_text(s))
}

/// The settings the stored cases were built with (the defaults if none were recorded): what
/// a `correlate` without `--config` keeps using, so that it and the sweeps agree.
pub fn stored_settings(store: &Store) -> Result<CasesConfig> {
    let mut settings = CasesConfig::default();
    if let Some(v) = checkpoint(store, SETTINGS_CHECKPOINT)? {
        for part in String::from_utf8_lossy(&v).split_whitespace() {
            match part.split_once('=') {
                Some(("window", ms)) => {
                    if let Some(ms) = ms.strip_suffix("ms").and_then(|m| m.parse::<u64>().ok()) {
                        settings.window.0 = std::time::Duration::from_millis(ms);
                    }
                }
                Some(("hub_accounts", n)) => {
                    if let Ok(n) = n.parse() {
                        settings.hub_accounts = n;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(settings)
}

/// Marks that findings may change before the cases follow them: set before a run stores
/// findings, cleared by [`update`]. A run killed in between leaves it set, and the next run
/// rebuilds every case (the findings it stored would otherwise look unchanged and touch no
/// case).
const PENDING_CHECKPOINT: &str = "cases/pending";

pub fn mark_pending(store: &Store) -> Result<()> {
    store
        .checkpoint_put(PENDING_CHECKPOINT, b"1")
        .context("marking the cases for update")
}

/// Whether a run stored findings and stopped before updating the cases.
pub fn pending(store: &Store) -> Result<bool> {
    Ok(checkpoint(store, PENDING_CHECKPOINT)?.is_some())
}

/// Rebuilds the cases. `touched`: the findings this run may have changed; only the cases
/// holding them, or sharing an entity with them, are rebuilt (over their own findings and
/// the touched ones). `None`, or no stored cases yet: every case, from every finding.
pub fn update(
    store: &Store,
    rules: &RuleSet,
    touched: Option<&skein_store::IdSet>,
    settings: &CasesConfig,
) -> Result<(usize, CasesOutcome)> {
    update_with(store, rules, touched, settings, None)
}

/// [`update`], given the stored cases' index entries when they were read already
/// ([`stored_indexes`]'s answer: an incremental `correlate` reads them while it correlates;
/// nothing else writes cases meanwhile). `None`, or a read that failed: read here.
pub fn update_with(
    store: &Store,
    rules: &RuleSet,
    touched: Option<&skein_store::IdSet>,
    settings: &CasesConfig,
    read_before: Option<Result<Option<Vec<CaseIndex>>>>,
) -> Result<(usize, CasesOutcome)> {
    let config = case_config(settings);
    // Cases built with other settings are all rebuilt.
    let touched = touched.filter(|_| !settings_changed(store, settings).unwrap_or(true));
    let started = std::time::Instant::now();
    // Each stored case's index entry; a state without a complete index (from before it, or
    // with an entry that no longer decodes) rebuilds every case, which writes them all.
    let indexed = match read_before {
        Some(Ok(indexed)) => indexed,
        _ => stored_indexes(store)?,
    };
    let touched = touched.filter(|_| indexed.is_some());
    let stored: Vec<CaseIndex> = match indexed {
        Some(i) => i,
        None => stored_cases(store)?.iter().map(CaseIndex::of).collect(),
    };
    tracing::debug!(
        "{} stored case index entries read in {:.2}s",
        stored.len(),
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    // Issuing events of AWS keys, looked up once per key.
    let mut looked_up = BTreeSet::new();
    let mut issued = Vec::new();
    let Scope {
        findings,
        previous,
        kept,
        copies,
    } = match touched {
        Some(touched) if !stored.is_empty() => {
            let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
            let mut marked = BTreeSet::new();
            // A user's object id ↔ its UPN, as stored cases name them: a touched finding that
            // names only one of them reaches the cases that name the other.
            let mut alias: HashMap<&str, Vec<&str>> = HashMap::new();
            for (i, c) in stored.iter().enumerate() {
                for (a, b) in &c.user_aliases {
                    alias.entry(a).or_default().push(b);
                    alias.entry(b).or_default().push(a);
                }
                // Its joining entities, and both ends of its identity links (a key issued
                // to a user, a session named after one): a new finding of that user must
                // rebuild this case.
                for k in c.joining_keys.iter().chain(&c.link_ends) {
                    by_key.entry(k).or_default().push(i);
                }
                // A case holding a touched finding is rebuilt (a set lookup per stored finding,
                // where a map of every stored finding cost a hash insert each).
                if c.findings.iter().any(|f| touched.contains(f)) {
                    marked.insert(i);
                }
            }
            let ids: Vec<&str> = touched.iter().map(String::as_str).collect();
            let mut fresh = findings_by_id(store, &ids)?;
            for f in &fresh {
                for e in f
                    .entities
                    .iter()
                    .filter(|e| skein_cases::graph::joins(e.role))
                {
                    for k in entity_keys(e.entity_type, &e.id, e.name.as_deref()) {
                        let also = alias.get(k.as_str()).into_iter().flatten().copied();
                        for k in std::iter::once(k.as_str()).chain(also) {
                            marked.extend(by_key.get(k).into_iter().flatten().copied());
                        }
                    }
                }
            }
            // A touched finding's key may have been issued to a user other cases name.
            issued_keys(store, &fresh, &config, &mut looked_up, &mut issued)?;
            for k in &issued {
                let key = format!("user:{}", k.user.to_lowercase());
                marked.extend(by_key.get(key.as_str()).into_iter().flatten().copied());
            }
            // The rebuilt cases' other findings (not a pass over every finding: memory stays
            // at what is rebuilt).
            let rebuilt: Vec<&CaseIndex> = marked.iter().map(|&i| &stored[i]).collect();
            let (stored_findings, copies) = findings_of_cases(store, &rebuilt, touched)?;
            fresh.extend(stored_findings);
            let marked_ids: BTreeSet<&str> =
                marked.iter().map(|&i| stored[i].id.as_str()).collect();
            let kept = stored
                .iter()
                .map(|c| c.id.clone())
                .filter(|id| !marked_ids.contains(id.as_str()))
                .collect();
            Scope {
                findings: fresh,
                previous: marked.iter().map(|&i| &stored[i]).collect(),
                kept: Some(kept),
                copies,
            }
        }
        _ => Scope {
            findings: store.findings(None).context("reading findings")?,
            previous: stored.iter().collect(),
            kept: None,
            copies: StoredCopies::default(),
        },
    };
    tracing::debug!(
        "{} findings to rebuild from read in {:.2}s (peak memory so far {} MiB)",
        findings.len(),
        started.elapsed().as_secs_f64(),
        crate::progress::peak_rss_mib().unwrap_or(0)
    );
    // One order whatever way they were read, so that names and aliases (the first finding
    // to give one wins) are the same in a full and an incremental rebuild.
    let mut findings = findings;
    findings.sort_by(|a, b| (a.first_seen, &a.id).cmp(&(b.first_seen, &b.id)));
    let previous: Vec<PreviousCase> = previous
        .into_iter()
        .map(|c| PreviousCase {
            id: c.id.clone(),
            findings: c.findings.clone(),
        })
        .collect();
    let started = std::time::Instant::now();
    // Hubs stay hubs: an incremental rebuild sees fewer findings than a full one, so the
    // addresses stored cases list as hubs keep their count (and their events are not read
    // again: a hub's count stops at the threshold).
    let mut known_hubs: HashMap<EntityRef, usize> = HashMap::new();
    for h in stored.iter().flat_map(|c| c.hubs.iter()) {
        if let Some(r) = EntityRef::new(h.entity_type, &h.id) {
            let n = known_hubs.entry(r).or_default();
            *n = (*n).max(h.accounts);
        }
    }
    let mut seen = accounts_seen(store, &findings, &config, &known_hubs)?;
    for (r, accounts) in known_hubs {
        let n = seen.entry(r).or_default();
        *n = (*n).max(accounts);
    }
    let observed = Observed {
        accounts_seen: seen,
        issued_keys: {
            issued_keys(store, &findings, &config, &mut looked_up, &mut issued)?;
            issued
        },
        other_case_ids: kept.clone().unwrap_or_default(),
    };
    tracing::debug!(
        "hub check and issued keys: {} shared addresses, {} keys in {:.2}s",
        observed.accounts_seen.len(),
        observed.issued_keys.len(),
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let rule_info = rule_info(rules);
    let by_id: HashMap<&str, &Finding> = findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let encode = |c: Case| -> Result<CaseRecord> {
        // The case's findings as they are stored, in its order: what rebuilding it reads.
        let members: Vec<&Finding> = c
            .findings
            .iter()
            .filter_map(|f| by_id.get(f.id.as_str()).copied())
            .collect();
        let stored_findings = || copies.encode(&c.id, &members);
        let encode_case = || case_json(&c, members.len());
        // A long case's findings and its own JSON are encoded side by side (each is about
        // half of encoding it; a sweep rebuilds the week-long cases whole every time).
        let (findings, json) = if members.len() >= PARALLEL_ENCODE_FINDINGS {
            std::thread::scope(|scope| {
                let findings = scope.spawn(stored_findings);
                let json = encode_case();
                let findings = findings
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (findings, json)
            })
        } else {
            (stored_findings(), encode_case())
        };
        let findings = findings?;
        let index = CaseIndex {
            findings_digest: Some(findings_digest(&findings)),
            ..CaseIndex::of(&c)
        };
        Ok(CaseRecord {
            json: json?,
            index: serde_json::to_vec(&index)?,
            findings,
            id: c.id,
        })
    };
    // Each case is encoded as soon as it is built, and dropped; they are written as they
    // come (memory never holds every case, built or encoded). One worker per core builds and
    // encodes them, the longest first: a sweep rebuilds the week-long cases whole, and they
    // are made side by side. A full rebuild replaces every stored case; an incremental one
    // replaces those it rebuilt.
    let plan = plan_cases(&findings, &rule_info, &observed, &previous, &config);
    let mut longest_first: Vec<usize> = (0..plan.len()).collect();
    longest_first.sort_by_key(|&i| std::cmp::Reverse(plan.findings_of(i)));
    let mut writer = match &kept {
        Some(_) => store.case_update(previous.iter().map(|p| p.id.clone()).collect()),
        None => store.case_replacement(),
    };
    streamed_on_every_core(
        &longest_first,
        "a case builder",
        |&i| encode(plan.build(i)),
        |record| writer.put(record).context("storing cases"),
    )?;
    let built = plan.len();
    let mut outcome = writer.finish().context("storing cases")?;
    // Written in the order they were made: listed by id.
    outcome.inserted.sort_unstable();
    outcome.updated.sort_unstable();
    tracing::debug!(
        "{built} cases from {} findings built and stored in {:.2}s (peak memory so far {} MiB)",
        findings.len(),
        started.elapsed().as_secs_f64(),
        crate::progress::peak_rss_mib().unwrap_or(0)
    );
    // Freeing the findings and index entries read (~15k findings and ~2,600 entries in a
    // sweep, many allocations each) took ~10 ms of the caller's time: done aside.
    drop((plan, by_id, copies, previous));
    drop_in_background((findings, stored));
    store
        .checkpoint_put(SETTINGS_CHECKPOINT, settings_text(settings).as_bytes())
        .context("saving the case settings")?;
    store
        .checkpoint_remove(PENDING_CHECKPOINT)
        .context("clearing the case update mark")?;
    let total = kept.map_or(0, |k| k.len()) + built;
    Ok((total, outcome))
}
