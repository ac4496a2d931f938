//! Scenario ground truth: each attack scenario has the structure its detection needs, each near
//! miss does not, and benign traffic never imitates them (outside the tagged false positives).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;

const N: u64 = 2_000;

#[test]
fn scenarios_have_the_expected_structure() {
    let dir = tempfile::tempdir().unwrap();
    let m = corpus(N, 11, dir.path());
    let c = load(dir.path(), &m);
    let si: BTreeMap<&str, &SignIn> = c.signins.iter().map(|s| (s.id.as_str(), s)).collect();
    let ct: BTreeMap<&str, &Ct> = c.cts.iter().map(|s| (s.id.as_str(), s)).collect();

    // (1) Password spray: >= 20 distinct users failing 50126 from one IP within 10 minutes, then a
    // success for a sprayed user from that IP.
    let sc = scenario(&m, "password_spray");
    let fails: Vec<&SignIn> = ids(sc, "spray_failure")
        .iter()
        .map(|i| si[i.as_str()])
        .collect();
    let ips: BTreeSet<&str> = fails.iter().map(|s| s.ip.as_str()).collect();
    assert_eq!(ips.len(), 1);
    assert!(fails.iter().all(|s| s.error == 50126));
    assert!(
        max_distinct_in_window(fails.iter().map(|s| (s.t, s.upn.clone())).collect(), 600.0) >= 20
    );
    let ok = si[ids(sc, "spray_success")[0].as_str()];
    assert_eq!(ok.error, 0);
    assert!(ips.contains(ok.ip.as_str()) && fails.iter().any(|f| f.upn == ok.upn && f.t < ok.t));
    let slow: Vec<&SignIn> = ids(scenario(&m, "password_spray_slow"), "")
        .iter()
        .map(|i| si[i.as_str()])
        .collect();
    assert!(
        slow.len() >= 20
            && max_distinct_in_window(slow.iter().map(|s| (s.t, s.upn.clone())).collect(), 600.0)
                < 5
    );

    // (5) AWS recon: >= 4 distinct APIs within 120 s from one key / IP / aws-cli UA; near misses.
    let burst = |name: &str| -> (usize, BTreeSet<(String, String, String)>) {
        let evs: Vec<&Ct> = ids(scenario(&m, name), "")
            .iter()
            .map(|i| ct[i.as_str()])
            .collect();
        let groups = evs
            .iter()
            .map(|e| (e.key.clone().unwrap(), e.ip.clone(), e.ua.clone()))
            .collect();
        let best = evs.iter().map(|g| {
            let same: Vec<(f64, String)> = evs
                .iter()
                .filter(|e| e.key == g.key && e.ip == g.ip && e.ua == g.ua)
                .map(|e| (e.t, e.name.clone()))
                .collect();
            max_distinct_in_window(same, 120.0)
        });
        (best.max().unwrap_or(0), groups)
    };
    let (n, groups) = burst("aws_recon_burst");
    assert!(n >= 4 && groups.len() == 1 && groups.iter().all(|g| g.2.starts_with("aws-cli/2.")));
    assert!(burst("aws_recon_slow").0 < 4);
    let (n, groups) = burst("aws_recon_distributed_keys");
    assert!(n < 4 && groups.len() == 5);

    // (6) Impossible travel and its near miss.
    let speed = |name: &str| {
        let v: Vec<&SignIn> = ids(scenario(&m, name), "success")
            .iter()
            .map(|i| si[i.as_str()])
            .collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].upn, v[1].upn);
        let km = distance_km((v[0].lat, v[0].lon), (v[1].lat, v[1].lon));
        (km, km / ((v[1].t - v[0].t).abs() / 3600.0))
    };
    for name in [
        "impossible_travel_london_sydney",
        "impossible_travel_london_tokyo",
    ] {
        let (km, kmh) = speed(name);
        assert!(km > 500.0 && kmh > 1000.0, "{name}: {km} km at {kmh} km/h");
    }
    let (km, kmh) = speed("travel_london_paris");
    assert!(km < 500.0 && kmh < 1000.0);

    // (4) OAuth token replay and near misses.
    let successes: Vec<&SignIn> = c.signins.iter().filter(|s| s.error == 0).collect();
    let signed_in_before = |oid: &str, ip: &str, t: f64| {
        successes
            .iter()
            .any(|s| s.user_id == oid && s.ip == ip && s.t <= t && t - s.t <= 86_400.0)
    };
    let blobs_of = |name: &str| -> Vec<&Blob> {
        let sc = scenario(&m, name);
        sc.events
            .iter()
            .filter_map(|e| e.correlation_id.as_ref())
            .map(|cid| c.blobs.iter().find(|b| &b.correlation_id == cid).unwrap())
            .collect()
    };
    let replay = blobs_of("oauth_blob_token_replay");
    assert!(
        replay.len() >= 2
            && replay
                .iter()
                .all(|b| b.auth == "OAuth" && !signed_in_before(&b.object_id, &b.ip, b.t))
    );
    assert!(
        replay.iter().any(|b| b.operation == "ListBlobs")
            && replay.iter().any(|b| b.operation == "GetBlob")
    );
    let near = blobs_of("oauth_blob_after_signin");
    assert!(
        !near.is_empty()
            && near
                .iter()
                .all(|b| b.auth == "OAuth" && signed_in_before(&b.object_id, &b.ip, b.t))
    );
    assert!(blobs_of("sas_blob_unusual_ip")
        .iter()
        .all(|b| b.auth == "SAS" && b.object_id.is_empty()));

    // (3) Anonymizing proxy.
    let tor = si[ids(scenario(&m, "anonymizing_proxy_signin"), "")[0].as_str()];
    assert!(
        tor.error == 0
            && tor.events.contains(&"anonymizedIPAddress".to_string())
            && tor.level == "medium"
    );
    assert!(m.reference_lists.tor_exit_ips.contains(&tor.ip));

    // (7) The cross-cloud chain.
    let sc = scenario(&m, "cross_cloud_chain");
    let spray: Vec<&SignIn> = ids(sc, "chain_spray_failure")
        .iter()
        .map(|i| si[i.as_str()])
        .collect();
    let a = spray[0].ip.clone();
    assert!(spray.iter().all(|s| s.ip == a && s.error == 50126));
    assert!(
        max_distinct_in_window(spray.iter().map(|s| (s.t, s.upn.clone())).collect(), 600.0) >= 20
    );
    let risky = si[ids(sc, "chain_risky_success")[0].as_str()];
    assert!(
        risky.error == 0
            && risky.ip == a
            && risky.level == "high"
            && spray.iter().any(|s| s.upn == risky.upn)
    );
    let chain_blobs: Vec<&Blob> = sc
        .events
        .iter()
        .filter_map(|e| e.correlation_id.as_ref())
        .map(|cid| c.blobs.iter().find(|b| &b.correlation_id == cid).unwrap())
        .collect();
    assert!(!chain_blobs.is_empty());
    for b in &chain_blobs {
        assert!(
            b.auth == "OAuth"
                && b.object_id == risky.user_id
                && b.ip != a
                && !signed_in_before(&b.object_id, &b.ip, b.t)
        );
    }
    let saml = ct[ids(sc, "chain_assume_role_with_saml")[0].as_str()];
    assert_eq!(saml.name, "AssumeRoleWithSAML");
    assert_eq!(
        saml.record["requestParameters"]["roleSessionName"],
        risky.upn.as_str()
    );
    let key = saml.record["responseElements"]["credentials"]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with("ASIA"));
    let recon: Vec<&Ct> = ids(sc, "chain_recon_call")
        .iter()
        .map(|i| ct[i.as_str()])
        .collect();
    assert!(recon.iter().all(|r| r.key.as_deref() == Some(key.as_str())));
    assert!(
        max_distinct_in_window(recon.iter().map(|r| (r.t, r.name.clone())).collect(), 120.0) >= 4
    );
    assert!(sc.entities.access_keys.contains(&key) && sc.entities.upns.contains(&risky.upn));
    // Two unrelated sprays share some targets.
    let first: BTreeSet<&str> = ids(scenario(&m, "password_spray"), "spray_failure")
        .iter()
        .map(|i| si[i.as_str()].upn.as_str())
        .collect();
    assert!(
        spray
            .iter()
            .filter(|s| first.contains(s.upn.as_str()))
            .count()
            >= 5
    );

    // (2) Risky sign-in coverage: every listed risk event type in every encoding, case variants,
    // countries, legacy clients, failures.
    let sc = scenario(&m, "risky_signin_event_types");
    for ev in [
        "impossibleTravel",
        "anonymizedIPAddress",
        "maliciousIPAddress",
        "unfamiliarFeatures",
        "passwordSpray",
        "leakedCredentials",
        "nationStateIP",
        "riskyIPAddress",
        "investigationsThreatIntelligence",
    ] {
        for enc in ["array", "json_text", "comma"] {
            let id = ids(sc, &format!("risk_event_{ev}_{enc}"));
            assert_eq!(id.len(), 1, "{ev} {enc}");
            let s = si[id[0].as_str()];
            assert!(s.error == 0 && s.events == vec![ev.to_string()]);
            let raw = c.raw[&s.shape]
                .iter()
                .find(|r| r.to_string().contains(&s.id))
                .unwrap();
            let field = raw
                .get("RiskEventTypes_V2")
                .or_else(|| raw.get("riskEventTypes_v2"))
                .or_else(|| raw["properties"].get("riskEventTypes_v2"))
                .unwrap();
            match enc {
                "array" => assert!(field.is_array()),
                "json_text" => assert!(field.as_str().unwrap().starts_with('[')),
                _ => assert_eq!(field.as_str().unwrap(), ev),
            }
        }
    }
    let levels: BTreeSet<String> = ids(scenario(&m, "risky_signin_level_and_state"), "")
        .iter()
        .map(|i| si[i.as_str()].level.clone())
        .collect();
    assert!(levels.contains("High") && levels.contains("high") && levels.contains("medium"));
    let countries: BTreeSet<String> = ids(scenario(&m, "signin_high_risk_country"), "")
        .iter()
        .map(|i| si[i.as_str()].country.clone())
        .collect();
    assert_eq!(
        countries,
        ["BY", "CN", "IR", "KP", "RU"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let apps: BTreeSet<String> = ids(scenario(&m, "signin_legacy_client"), "")
        .iter()
        .map(|i| si[i.as_str()].client_app.clone())
        .collect();
    assert!(
        apps.contains("Exchange ActiveSync")
            && apps.contains("ExchangeActiveSync")
            && apps.len() == 8
    );
    assert!(ids(scenario(&m, "failed_risky_signins"), "")
        .iter()
        .all(|i| si[i.as_str()].error != 0));
    // Per-event seed verdicts: the EQL case-sensitivity quirk.
    let high = scenario(&m, "risky_signin_level_and_state")
        .events
        .iter()
        .find(|e| e.label == "risk_level_case_High")
        .unwrap();
    let seeds = high.seeds.as_ref().unwrap();
    assert!(
        seeds.not_flagged.contains(&"elastic-t1586-003".to_string())
            && seeds.flagged.contains(&"logscale-t1586-003".to_string())
    );
}

#[test]
fn benign_traffic_keeps_the_ground_truth_clean() {
    let dir = tempfile::tempdir().unwrap();
    let m = corpus(6_000, 21, dir.path());
    let c = load(dir.path(), &m);
    let tagged: BTreeMap<String, &str> = m
        .scenarios
        .iter()
        .flat_map(|s| {
            s.events.iter().map(move |e| {
                (
                    e.id.clone().or_else(|| e.correlation_id.clone()).unwrap(),
                    s.name.as_str(),
                )
            })
        })
        .collect();
    // Only the two spray scenarios have >= 5 distinct users failing 50126 from one IP in 10 minutes.
    let mut by_ip: BTreeMap<&str, Vec<(f64, String)>> = BTreeMap::new();
    for s in c.signins.iter().filter(|s| s.error == 50126) {
        by_ip.entry(&s.ip).or_default().push((s.t, s.upn.clone()));
    }
    let spray_ips: BTreeSet<&str> = by_ip
        .into_iter()
        .filter(|(_, v)| max_distinct_in_window(v.clone(), 600.0) >= 5)
        .map(|(ip, _)| ip)
        .collect();
    let expected: BTreeSet<&str> = ["password_spray", "cross_cloud_chain"]
        .iter()
        .map(|n| {
            c.signins
                .iter()
                .find(|s| s.id == ids(scenario(&m, n), "").first().cloned().unwrap())
                .unwrap()
                .ip
                .as_str()
        })
        .collect();
    assert_eq!(spray_ips, expected);
    // Only the impossible-travel scenarios move faster than 1000 km/h over more than 500 km.
    let mut by_user: BTreeMap<&str, Vec<&SignIn>> = BTreeMap::new();
    for s in c
        .signins
        .iter()
        .filter(|s| s.error == 0 && !s.upn.is_empty())
    {
        by_user.entry(&s.upn).or_default().push(s);
    }
    let mut fast = BTreeSet::new();
    for v in by_user.values_mut() {
        v.sort_by(|a, b| a.t.total_cmp(&b.t));
        for w in v.windows(2) {
            let km = distance_km((w[0].lat, w[0].lon), (w[1].lat, w[1].lon));
            if km > 500.0 && km / ((w[1].t - w[0].t).max(1.0) / 3600.0) > 1000.0 {
                fast.insert(tagged.get(&w[1].id).copied().unwrap_or("benign"));
            }
        }
    }
    assert_eq!(
        fast,
        BTreeSet::from([
            "impossible_travel_london_sydney",
            "impossible_travel_london_tokyo"
        ])
    );
    // Every OAuth blob access without a prior sign-in from its IP belongs to a scenario.
    let successes: Vec<&SignIn> = c.signins.iter().filter(|s| s.error == 0).collect();
    for b in c.blobs.iter().filter(|b| b.auth == "OAuth") {
        let ok = successes.iter().any(|s| {
            s.user_id == b.object_id && s.ip == b.ip && s.t <= b.t && b.t - s.t <= 86_400.0
        });
        if !ok {
            let sc = tagged.get(&b.correlation_id).copied().unwrap_or("benign");
            assert!(
                sc == "oauth_blob_token_replay" || sc == "cross_cloud_chain",
                "{b:?}"
            );
        }
    }
    // Recon bursts outside the scenarios come only from the console.
    let recon: BTreeSet<&str> = m
        .reference_lists
        .recon_apis
        .iter()
        .map(String::as_str)
        .collect();
    let mut groups: BTreeMap<(String, String, String), Vec<(f64, String)>> = BTreeMap::new();
    for r in c
        .cts
        .iter()
        .filter(|r| recon.contains(r.name.as_str()) && r.key.is_some())
    {
        groups
            .entry((r.key.clone().unwrap(), r.ip.clone(), r.ua.clone()))
            .or_default()
            .push((r.t, r.name.clone()));
    }
    for ((key, _, ua), v) in groups {
        if max_distinct_in_window(v, 120.0) >= 4 {
            let in_scenario = ["aws_recon_burst", "cross_cloud_chain"]
                .iter()
                .any(|n| scenario(&m, n).entities.access_keys.contains(&key));
            assert!(
                in_scenario || ua == "console.ec2.amazonaws.com",
                "{key} {ua}"
            );
        }
    }
}
