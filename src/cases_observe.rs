//! What the stored events say about the entities of the findings a case update rebuilds
//! from: how many accounts succeeded from a shared address (hubs join nothing), and which
//! user an AWS key was issued to. Reads events through the entity index; builds nothing.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};
use skein_cases::{CaseConfig, IssuedKey};
use skein_model::{EntityRef, EntityRole, EntityType, Finding};
use skein_store::{EntityOrder, ReadMode, Store};

use crate::workers::on_every_core;

/// For each address that could join findings of different parties (accounts, or a finding
/// with none): how many distinct accounts succeeded from it in the stored events around those
/// findings (counting stops
/// at the hub threshold). An address whose findings all name one account (a user's home
/// address) cannot merge two people's activity, so its events are not read.
pub(crate) fn accounts_seen(
    store: &Store,
    findings: &[Finding],
    config: &CaseConfig,
    known_hubs: &HashMap<EntityRef, usize>,
) -> Result<HashMap<EntityRef, usize>> {
    type Span = (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>);
    let mut uses: HashMap<EntityRef, (BTreeSet<String>, Span)> = HashMap::new();
    for f in findings {
        // The parties of a finding: its accounts (a principal and its session share an
        // ARN: one party), or, with no account (a spray names only targets), the finding.
        let mut actors: Vec<String> = f
            .entities
            .iter()
            .filter(|e| {
                e.role == EntityRole::Actor
                    && matches!(
                        e.entity_type,
                        EntityType::User | EntityType::AwsPrincipal | EntityType::AwsSession
                    )
            })
            .map(|e| e.id.to_lowercase())
            .collect();
        if actors.is_empty() {
            actors.push(format!("finding:{}", f.id));
        }
        for e in &f.entities {
            if e.entity_type != EntityType::Ip || e.role != EntityRole::Source {
                continue;
            }
            let Some(r) = EntityRef::new(EntityType::Ip, &e.id) else {
                continue;
            };
            let entry = uses
                .entry(r)
                .or_insert_with(|| (BTreeSet::new(), (f.first_seen, f.last_seen)));
            entry.0.extend(actors.iter().cloned());
            entry.1 = (entry.1 .0.min(f.first_seen), entry.1 .1.max(f.last_seen));
        }
    }
    let mut shared: Vec<(EntityRef, Span)> = uses
        .into_iter()
        .filter(|(_, (actors, _))| actors.len() > 1)
        .map(|(r, (_, span))| (r, span))
        .collect();
    shared.sort();
    shared.retain(|(ip, _)| known_hubs.get(ip).is_none_or(|&n| n < config.hub_accounts));
    // The addresses are independent: one worker per core takes them in turn.
    let counted = on_every_core(&shared, "a hub check worker", |(ip, span)| {
        Ok((ip.clone(), accounts_from(store, ip, *span, config)?))
    })?;
    Ok(counted.into_iter().collect())
}

/// How many distinct accounts succeeded from `ip` within the window around `span` (counting
/// stops at the hub threshold): from the store's accounts by address, or (a store ingested
/// before they existed) by reading the address's events.
fn accounts_from(
    store: &Store,
    ip: &EntityRef,
    (first, last): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    config: &CaseConfig,
) -> Result<usize> {
    let from = first.checked_sub_signed(config.window);
    let to = last.checked_add_signed(config.window);
    // What the store keeps of each address's accounts at ingest answers without reading its
    // events (over whole 10-minute buckets); a store ingested by older builds has none.
    if let Some(n) = store
        .accounts_at_address(ip, (from, to), config.hub_accounts)
        .with_context(|| format!("counting the accounts of {ip}"))?
    {
        tracing::debug!("{ip}: {n} accounts from {first} to {last}");
        return Ok(n);
    }
    let mut accounts = BTreeSet::new();
    // Source by source: the count stops at the threshold, and sign-ins reach it soonest.
    let events = store.events_for_entity_ordered(
        ip,
        (from, to),
        ReadMode::WithoutRaw,
        EntityOrder::BySource,
    );
    let mut read = 0usize;
    for ev in events {
        let ev = ev.with_context(|| format!("reading the events of {ip}"))?;
        read += 1;
        if !ev.outcome.success {
            continue;
        }
        if let Some(acc) = ev.account() {
            accounts.insert(acc.to_lowercase());
            if accounts.len() >= config.hub_accounts {
                break;
            }
        }
    }
    tracing::debug!(
        "{ip}: {} accounts in {read} events from {first} to {last}",
        accounts.len()
    );
    Ok(accounts.len())
}

/// The users the findings' AWS keys were issued to: an issuing event
/// (`AssumeRoleWithSAML`, `AssumeRoleWithWebIdentity`) that returned the key to a user named
/// by a UPN, found through the entity index. Keys in `looked_up` were searched for already
/// (their answers are in `found`, which this extends); each key's events are read once.
pub(crate) fn issued_keys(
    store: &Store,
    findings: &[Finding],
    config: &CaseConfig,
    looked_up: &mut BTreeSet<EntityRef>,
    found: &mut Vec<IssuedKey>,
) -> Result<()> {
    type Span = (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>);
    let mut keys: std::collections::BTreeMap<EntityRef, Span> = std::collections::BTreeMap::new();
    for f in findings {
        for e in &f.entities {
            if e.entity_type != EntityType::AwsKey || e.role != EntityRole::Actor {
                continue;
            }
            if let Some(r) = EntityRef::new(EntityType::AwsKey, &e.id) {
                let span = keys.entry(r).or_insert((f.first_seen, f.last_seen));
                *span = (span.0.min(f.first_seen), span.1.max(f.last_seen));
            }
        }
    }
    for (key, (first, last)) in keys {
        if !looked_up.insert(key.clone()) {
            continue;
        }
        // Temporary credentials live at most 12 hours (36 for role chaining): look that far
        // back for the event that issued the key.
        let from = first.checked_sub_signed(chrono::TimeDelta::hours(36));
        let to = last.checked_add_signed(config.window);
        for ev in store.events_for_entity_with(&key, from, to, ReadMode::WithoutRaw) {
            let ev = ev.with_context(|| format!("reading the events of {key}"))?;
            let issued = ev
                .tokens
                .issued_access_key_id
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(&key.id));
            let user = ev
                .actor
                .aws_user_name
                .as_deref()
                .filter(|u| u.contains('@'));
            if let (true, Some(user)) = (issued, user) {
                found.push(IssuedKey {
                    key: key.clone(),
                    user: user.to_string(),
                    reason: format!(
                        "{} at {} issued this key to {user}",
                        ev.target.action.as_deref().unwrap_or("an STS call"),
                        ev.time.to_rfc3339()
                    ),
                });
                break;
            }
        }
    }
    Ok(())
}
