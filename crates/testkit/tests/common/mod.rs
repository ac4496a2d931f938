//! Reads a generated corpus back with serde_json (independently of skein-ingest) into a small
//! normalised form the tests can reason about.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use chrono::DateTime;
use serde_json::Value;
use skein_testkit::{generate, CorpusConfig, Manifest, Scenario};
use std::collections::BTreeSet;

pub fn corpus(events: u64, seed: u64, dir: &Path) -> Manifest {
    let cfg = CorpusConfig {
        events,
        seed,
        ..CorpusConfig::default()
    };
    generate(&cfg, dir, |_| {}).expect("corpus generation")
}

pub fn secs(t: &str) -> f64 {
    let d = DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("bad time {t}: {e}"));
    d.timestamp() as f64 + f64::from(d.timestamp_subsec_micros()) / 1e6
}

pub fn read_bytes(path: &Path, gzip: bool) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !gzip {
        return raw;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

const LINE_SHAPES: &[&str] = &[
    "graph_beta_ndjson",
    "la_signinlogs_ndjson",
    "la_noninteractive_ndjson",
    "diag_jsonl",
    "blob_la_ndjson",
    "blob_diag_jsonl",
    "cloudtrail_ndjson",
    "cloudtrail_eventbridge",
    "cloudtrail_logstash",
];

/// The records of one file, unwrapped from its framing (query-API rows become objects keyed by
/// column name; `LookupEvents` entries stay entries).
pub fn records(dir: &Path, path: &str, shape: &str, gzip: bool) -> Vec<Value> {
    let bytes = read_bytes(&dir.join(path), gzip);
    if LINE_SHAPES.contains(&shape) {
        return std::str::from_utf8(&bytes)
            .expect("utf-8")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}")))
            .collect();
    }
    let doc: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    match &doc {
        Value::Array(a) => a.clone(),
        Value::Object(o) if o.contains_key("value") => {
            doc["value"].as_array().cloned().unwrap_or_default()
        }
        Value::Object(o) if o.contains_key("records") => {
            doc["records"].as_array().cloned().unwrap_or_default()
        }
        Value::Object(o) if o.contains_key("Records") => {
            doc["Records"].as_array().cloned().unwrap_or_default()
        }
        Value::Object(o) if o.contains_key("Events") => {
            doc["Events"].as_array().cloned().unwrap_or_default()
        }
        Value::Object(o) if o.contains_key("tables") => {
            let t = &doc["tables"][0];
            let cols: Vec<String> = t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect();
            t["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let r = r.as_array().unwrap();
                    assert_eq!(r.len(), cols.len(), "{path}: row width");
                    Value::Object(cols.iter().cloned().zip(r.iter().cloned()).collect())
                })
                .collect()
        }
        _ => panic!("{path}: unknown framing"),
    }
}

#[derive(Debug, Clone)]
pub struct SignIn {
    pub id: String,
    pub t: f64,
    pub upn: String,
    pub user_id: String,
    pub ip: String,
    pub error: i64,
    pub level: String,
    pub state: String,
    pub events: Vec<String>,
    pub client_app: String,
    pub country: String,
    pub lat: f64,
    pub lon: f64,
    pub shape: String,
}

#[derive(Debug, Clone)]
pub struct Blob {
    pub correlation_id: String,
    pub operation: String,
    pub time: String,
    pub t: f64,
    pub auth: String,
    pub object_id: String,
    pub ip: String,
    pub caller: String,
}

#[derive(Debug, Clone)]
pub struct Ct {
    pub id: String,
    pub t: f64,
    pub name: String,
    pub ip: String,
    pub ua: String,
    pub key: Option<String>,
    pub record: Value,
}

#[derive(Default)]
pub struct Corpus {
    pub signins: Vec<SignIn>,
    pub blobs: Vec<Blob>,
    pub cts: Vec<Ct>,
    /// Raw records per shape.
    pub raw: BTreeMap<String, Vec<Value>>,
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A Log Analytics dynamic value: nested JSON, or JSON text.
fn dynamic(v: &Value) -> Value {
    match v {
        Value::String(t) if t.starts_with('{') || t.starts_with('[') => {
            serde_json::from_str(t).expect("json text")
        }
        other => other.clone(),
    }
}

pub fn risk_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(s).collect(),
        Value::String(t) if t.starts_with('[') => serde_json::from_str(t).expect("json text list"),
        Value::String(t) => t
            .split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

pub fn strip_port(caller: &str) -> String {
    if let Some(rest) = caller.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    caller
        .rsplit_once(':')
        .map(|(ip, _)| ip.to_string())
        .unwrap_or_else(|| caller.to_string())
}

pub fn load(dir: &Path, m: &Manifest) -> Corpus {
    let mut c = Corpus::default();
    for f in &m.files {
        let recs = records(dir, &f.path, &f.shape, f.gzip);
        for r in &recs {
            match f.source.as_str() {
                "entra_signin" => c.signins.push(signin(r, &f.shape)),
                "storage_blob" => c.blobs.push(blob(r, &f.shape)),
                _ => c.cts.push(ct(r, &f.shape)),
            }
        }
        c.raw.entry(f.shape.clone()).or_default().extend(recs);
    }
    c
}

fn signin(r: &Value, shape: &str) -> SignIn {
    if shape.starts_with("graph") || shape.starts_with("diag") {
        let q = if shape.starts_with("diag") {
            &r["properties"]
        } else {
            r
        };
        let loc = &q["location"];
        SignIn {
            id: s(&q["id"]),
            t: secs(q["createdDateTime"].as_str().unwrap()),
            upn: s(&q["userPrincipalName"]),
            user_id: s(&q["userId"]),
            ip: s(&q["ipAddress"]),
            error: q["status"]["errorCode"].as_i64().expect("errorCode number"),
            level: s(&q["riskLevelDuringSignIn"]),
            state: s(&q["riskState"]),
            events: risk_list(&q["riskEventTypes_v2"]),
            client_app: s(&q["clientAppUsed"]),
            country: s(&loc["countryOrRegion"]),
            lat: loc["geoCoordinates"]["latitude"].as_f64().unwrap(),
            lon: loc["geoCoordinates"]["longitude"].as_f64().unwrap(),
            shape: shape.into(),
        }
    } else {
        let loc = dynamic(&r["LocationDetails"]);
        let status = dynamic(&r["Status"]);
        let result: i64 = r["ResultType"]
            .as_str()
            .expect("ResultType string")
            .parse()
            .unwrap();
        assert_eq!(status["errorCode"].as_i64(), Some(result));
        SignIn {
            id: s(&r["Id"]),
            t: secs(r["CreatedDateTime"].as_str().unwrap()),
            upn: s(&r["UserPrincipalName"]),
            user_id: s(&r["UserId"]),
            ip: s(&r["IPAddress"]),
            error: result,
            level: s(&r["RiskLevelDuringSignIn"]),
            state: s(&r["RiskState"]),
            events: risk_list(&r["RiskEventTypes_V2"]),
            client_app: s(&r["ClientAppUsed"]),
            country: s(&loc["countryOrRegion"]),
            lat: loc["geoCoordinates"]["latitude"].as_f64().unwrap(),
            lon: loc["geoCoordinates"]["longitude"].as_f64().unwrap(),
            shape: shape.into(),
        }
    }
}

fn blob(r: &Value, shape: &str) -> Blob {
    if shape == "blob_diag_jsonl" {
        let caller = s(&r["callerIpAddress"]);
        Blob {
            correlation_id: s(&r["correlationId"]),
            operation: s(&r["operationName"]),
            time: s(&r["time"]),
            t: secs(r["time"].as_str().unwrap()),
            auth: s(&r["identity"]["type"]),
            object_id: s(&r["identity"]["requester"]["objectId"]),
            ip: strip_port(&caller),
            caller,
        }
    } else {
        let caller = s(&r["CallerIpAddress"]);
        Blob {
            correlation_id: s(&r["CorrelationId"]),
            operation: s(&r["OperationName"]),
            time: s(&r["TimeGenerated"]),
            t: secs(r["TimeGenerated"].as_str().unwrap()),
            auth: s(&r["AuthenticationType"]),
            object_id: s(&r["RequesterObjectId"]),
            ip: strip_port(&caller),
            caller,
        }
    }
}

fn ct(r: &Value, shape: &str) -> Ct {
    let rec: Value = match shape {
        "cloudtrail_lookup_events" => {
            serde_json::from_str(r["CloudTrailEvent"].as_str().expect("string")).unwrap()
        }
        "cloudtrail_eventbridge" => r["detail"].clone(),
        _ => r.clone(),
    };
    let time = rec
        .get("eventTime")
        .or_else(|| rec.get("@timestamp"))
        .and_then(Value::as_str)
        .expect("time");
    Ct {
        id: s(&rec["eventID"]),
        t: secs(time),
        name: s(&rec["eventName"]),
        ip: s(&rec["sourceIPAddress"]),
        ua: s(&rec["userAgent"]),
        key: rec["userIdentity"]["accessKeyId"]
            .as_str()
            .map(str::to_string),
        record: rec,
    }
}

pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

pub fn scenario<'m>(m: &'m Manifest, name: &str) -> &'m Scenario {
    m.scenario(name)
        .unwrap_or_else(|| panic!("scenario {name} missing"))
}

pub fn ids(sc: &Scenario, label_prefix: &str) -> Vec<String> {
    sc.events
        .iter()
        .filter(|e| e.label.starts_with(label_prefix))
        .filter_map(|e| e.id.clone())
        .collect()
}

/// Largest number of distinct `key`s inside any window of `window` seconds.
pub fn max_distinct_in_window<K: Ord + Clone>(mut items: Vec<(f64, K)>, window: f64) -> usize {
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    (0..items.len())
        .map(|i| {
            items
                .iter()
                .filter(|x| x.0 >= items[i].0 && x.0 <= items[i].0 + window)
                .map(|x| x.1.clone())
                .collect::<BTreeSet<_>>()
                .len()
        })
        .max()
        .unwrap_or(0)
}
