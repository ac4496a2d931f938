//! Small, dense corpora for testing multi-event rules: few users, addresses, keys and places
//! over a few hours, so that sprays, travel, blob access with and without sign-ins and recon
//! bursts (and their near misses) happen by chance in every corpus. Deterministic per seed;
//! records in the wire shapes skein ingests (Graph sign-ins, blob diagnostic records,
//! CloudTrail records), each with its event time.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use crate::rng::Rng;

const USERS: usize = 12;
const IPS: [&str; 8] = [
    "203.0.113.7",
    "203.0.113.8",
    "198.51.100.9",
    "198.51.100.10",
    "192.0.2.44",
    "2001:db8::7",
    "81.2.69.160",
    "38.140.62.20",
];
/// (city, country, latitude, longitude)
const PLACES: [(&str, &str, f64, f64); 5] = [
    ("London", "GB", 51.5074, -0.1278),
    ("Paris", "FR", 48.8566, 2.3522),
    ("Sydney", "AU", -33.8688, 151.2093),
    ("New York", "US", 40.7128, -74.006),
    ("Tokyo", "JP", 35.6762, 139.6503),
];
const KEYS: [&str; 3] = [
    "AKIAEXAMPLE000000001",
    "AKIAEXAMPLE000000002",
    "ASIAEXAMPLE000000003",
];
const AGENTS: [&str; 2] = ["aws-cli/2.15.30", "Boto3/1.34.0 Python/3.12"];
const RECON: [&str; 6] = [
    "GetCallerIdentity",
    "ListAttachedUserPolicies",
    "ListGroupsForUser",
    "ListBuckets",
    "DescribeInstances",
    "ListUsers",
];

fn user_id(u: usize) -> String {
    format!("7f1d6a2e-0000-4c1e-9b1a-{u:012}")
}

fn upn(u: usize) -> String {
    format!("user{u}@contoso.com")
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A corpus of about `n` records for `seed`, sorted by time: `(time, record)`.
pub fn dense_corpus(seed: u64, n: usize) -> Vec<(DateTime<Utc>, Value)> {
    let mut rng = Rng::new(seed, 0xd3e5);
    let start = Utc
        .with_ymd_and_hms(2026, 3, 9, 6, 0, 0)
        .single()
        .unwrap_or_default();
    let span_ms = 4 * 3_600_000_i64;
    let mut out = Vec::with_capacity(n);
    let mut at = 0_i64;
    for i in 0..n {
        // Bursts: mostly seconds apart, now and then a jump of minutes.
        at += if rng.below(8) == 0 {
            rng.below(1_200_000) as i64
        } else {
            rng.below(20_000) as i64
        };
        let t = start + chrono::TimeDelta::milliseconds(at % span_ms);
        let u = rng.index(USERS);
        let ip = IPS[rng.index(IPS.len())];
        let record = match rng.below(10) {
            0..=2 => {
                // A failed sign-in, mostly with a wrong password.
                let code = if rng.below(6) == 0 { 50053 } else { 50126 };
                json!({"id": format!("s{seed}-{i}"), "createdDateTime": stamp(t), "userId": user_id(u),
                       "userPrincipalName": if rng.below(3) == 0 { upn(u).to_uppercase() } else { upn(u) },
                       "ipAddress": ip, "status": {"errorCode": code}})
            }
            3..=5 => {
                let (city, country, lat, lon) = PLACES[rng.index(PLACES.len())];
                json!({"id": format!("s{seed}-{i}"), "createdDateTime": stamp(t), "userId": user_id(u),
                       "userPrincipalName": upn(u), "ipAddress": ip, "status": {"errorCode": 0},
                       "location": {"city": city, "countryOrRegion": country,
                                    "geoCoordinates": {"latitude": lat, "longitude": lon}}})
            }
            6..=7 => {
                let auth = match rng.below(5) {
                    0 => "SAS",
                    _ => "OAuth",
                };
                let requester = if rng.below(4) == 0 {
                    json!({"upn": upn(u).to_uppercase()})
                } else {
                    json!({"objectId": user_id(u), "upn": upn(u)})
                };
                let caller = if ip.contains(':') {
                    format!("[{ip}]:{}", 40_000 + rng.below(20_000))
                } else {
                    format!("{ip}:{}", 40_000 + rng.below(20_000))
                };
                json!({"time": stamp(t), "category": "StorageRead", "operationName": "GetBlob",
                       "statusCode": 200, "callerIpAddress": caller,
                       "correlationId": format!("b{seed}-{i}"),
                       "identity": {"type": auth, "requester": requester}})
            }
            _ => {
                let key = KEYS[rng.index(KEYS.len())];
                let api = RECON[rng.index(RECON.len())];
                let console = rng.below(6) == 0;
                let identity = json!({"type": "IAMUser", "accountId": "111122223333",
                                          "accessKeyId": key,
                                          "arn": format!("arn:aws:iam::111122223333:user/{}", upn(u))});
                // Recon comes from two addresses, mostly with one agent: bursts happen.
                let ip = IPS[rng.index(2)];
                let agent = AGENTS[usize::from(rng.below(5) == 0)];
                json!({"eventVersion": "1.08", "eventID": format!("c{seed}-{i}"), "eventTime": stamp(t),
                       "eventSource": "iam.amazonaws.com", "eventName": api, "awsRegion": "us-east-1",
                       "sourceIPAddress": ip, "userAgent": agent,
                       "userIdentity": identity,
                       "sessionCredentialFromConsole": if console { Some("true") } else { None }})
            }
        };
        out.push((t, record));
    }
    out.sort_by_key(|r| r.0);
    out
}
