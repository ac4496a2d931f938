//! Real CloudTrail data from public repositories (see /work/shared/data/MANIFEST.md), through
//! the whole ingest path: `input::open` → `Framer` → `parse_frame`. The counts are the exact
//! numbers of records in the files; the spot checks cover the parser edge cases the data is
//! known for (leading-zero addresses, service-name callers, `@timestamp`, SAML key issue).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use skein_ingest::framing::{Container, Frame, Framer, DEFAULT_MAX_RECORD_BYTES};
use skein_ingest::{input, parse_frame, Item, RecordError};
use skein_model::{Event, Source, WireShape};

/// A path under the shared test data; panics if it is missing (the tests must not pass
/// vacuously).
fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    assert!(p.exists(), "test data missing: {}", p.display());
    p
}

/// Frames and parses one file: events, and rejections as (line, message).
fn ingest(path: &Path) -> (Vec<Event>, Vec<(u64, String)>) {
    let spec = input::InputSpec::file(path);
    let reader = input::open(&spec, Default::default()).unwrap();
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    for frame in Framer::new(reader, DEFAULT_MAX_RECORD_BYTES) {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                rejected.push((e.line(), e.to_string()));
                continue;
            }
        };
        let mut out = Vec::new();
        parse_frame(&frame, None, &mut out);
        for item in out {
            match item {
                Item::Event(ev) => events.push(*ev),
                Item::Ignored { kind } => rejected.push((frame.line, format!("ignored {kind}"))),
                Item::Rejected { error, .. } => rejected.push((frame.line, error.to_string())),
            }
        }
    }
    (events, rejected)
}

/// Parses one JSON value as a top-level record.
fn parse_value(v: &Value) -> Item {
    let frame = Frame {
        line: 1,
        container: Container::TopLevel,
        text: v.to_string(),
    };
    let mut out = Vec::new();
    parse_frame(&frame, Some(Source::Cloudtrail), &mut out);
    assert_eq!(out.len(), 1);
    out.remove(0)
}

/// The lines of a JSON Lines index file, parsed.
fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn stratus_red_team_detonation_logs() {
    let dir = data("stratus-red-team/docs/detonation-logs");
    let specs = input::expand_paths(&[dir]).unwrap();
    assert_eq!(specs.len(), 35);
    let mut all = Vec::new();
    for spec in &specs {
        let (events, rejected) = ingest(spec.path.as_deref().unwrap());
        assert!(rejected.is_empty(), "{}: {rejected:?}", spec.display);
        assert!(!events.is_empty(), "{}", spec.display);
        all.extend(events);
    }
    assert_eq!(all.len(), 310);
    assert!(all.iter().all(|e| e.source == Source::Cloudtrail
        && e.shape == WireShape::CloudtrailRecord
        && !e.id.starts_with("sha:")));
    let mut ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 310);

    // Anonymised addresses with leading-zero octets parse as decimal.
    let padded: Vec<&Event> = all
        .iter()
        .filter(|e| {
            let v: Value = serde_json::from_str(&e.raw).unwrap();
            v["sourceIPAddress"]
                .as_str()
                .is_some_and(|s| s.split('.').any(|o| o.len() > 1 && o.starts_with('0')))
        })
        .collect();
    assert_eq!(padded.len(), 107);
    assert!(padded
        .iter()
        .all(|e| e.src_ip.is_some() && e.src_host.is_none()));
    assert!(all.iter().any(|e| e.src_ip == ip("35.249.253.232")));
    assert!(all.iter().any(|e| e.src_ip == ip("255.18.64.253")));
    assert!(all.iter().all(|e| e.src_ip.is_some()));

    // Failures carry the error code.
    let failures: Vec<&Event> = all.iter().filter(|e| !e.outcome.success).collect();
    assert_eq!(failures.len(), 52);
    assert!(failures
        .iter()
        .any(|e| e.outcome.error_code.as_deref() == Some("Client.UnauthorizedOperation")));

    // Temporary keys issued by AssumeRole / GetFederationToken.
    let issued: Vec<&str> = all
        .iter()
        .filter_map(|e| e.tokens.issued_access_key_id.as_deref())
        .collect();
    assert_eq!(issued.len(), 9);
    assert!(issued.contains(&"ASIASTJKC5GCM7ZE6LUP"));

    // Assumed-role sessions.
    let roles = all
        .iter()
        .filter(|e| e.actor.aws_identity_type.as_deref() == Some("AssumedRole"))
        .count();
    assert_eq!(roles, 68);
    let ev = all
        .iter()
        .find(|e| e.id == "450230d4-b39e-4a18-a6a0-d07a6e2105cb")
        .unwrap();
    assert_eq!(
        ev.actor.role_session_name.as_deref(),
        Some("aws-go-sdk-1722375070115152000")
    );
    assert_eq!(ev.target.region.as_deref(), Some("apiso-northsouth-3r"));
    assert!(ev.tokens.aws_session_issuer.is_some());
}

#[test]
fn otrf_ec2_proxy_s3_exfiltration() {
    let path = data("otrf-security-datasets/datasets/atomic/aws/collection/ec2_proxy_s3_exfiltration_2020-09-14011940.json");
    let (events, rejected) = ingest(&path);
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(events.len(), 103);
    // `@timestamp` (Logstash), not `eventTime`.
    let first = &events[0];
    assert_eq!(first.id, "fd4f1042-c7f6-4107-a6ee-d841d92596e7");
    assert_eq!(first.time.to_rfc3339(), "2020-09-14T00:44:23+00:00");
    // Service-name callers are hosts, not addresses.
    let hosts: Vec<&Event> = events.iter().filter(|e| e.src_host.is_some()).collect();
    assert_eq!(hosts.len(), 5);
    assert!(hosts
        .iter()
        .all(|e| e.src_host.as_deref() == Some("ec2.amazonaws.com") && e.src_ip.is_none()));
    assert_eq!(
        events.iter().filter(|e| e.src_ip == ip("1.2.3.4")).count(),
        98
    );
    // The stolen instance-role key.
    let stolen: Vec<&Event> = events
        .iter()
        .filter(|e| e.actor.access_key_id.as_deref() == Some("ASIA5FLZVX4OPVKKVBMX"))
        .collect();
    assert_eq!(stolen.len(), 11);
    assert!(stolen.iter().all(|e| e.actor.role_session_name.as_deref()
        == Some("i-0317f6c6b66ae9c40")
        && e.user_agent
            .as_deref()
            .is_some_and(|ua| ua.contains("aws-cli/1.18.136"))));
}

#[test]
fn panther_cloudtrail_test_logs() {
    let tests = jsonl(&data("panther-analysis/_extracted_tests.jsonl"));
    let logs: Vec<&Value> = tests
        .iter()
        .filter(|t| t["log_types"] == serde_json::json!(["AWS.CloudTrail"]))
        .map(|t| &t["log"])
        .collect();
    assert_eq!(logs.len(), 461);
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    for log in &logs {
        match parse_value(log) {
            Item::Event(ev) => events.push(*ev),
            Item::Rejected { error, .. } => rejected.push(error),
            Item::Ignored { kind } => panic!("ignored {kind}: {log}"),
        }
    }
    // Hand-built fixtures without a usable timestamp are the only rejections: 14 have
    // none, two have a placeholder ("redacted", "...") where the time was.
    assert_eq!(events.len(), 445);
    assert_eq!(rejected.len(), 16);
    let problem = |e: &RecordError| match e {
        RecordError::Invalid {
            shape: "cloudtrail",
            problem,
        } => problem.clone(),
        other => panic!("{other:?}"),
    };
    let missing = rejected
        .iter()
        .filter(|e| problem(e) == "no eventTime or @timestamp")
        .count();
    assert_eq!(missing, 14);
    let placeholders: Vec<String> = rejected
        .iter()
        .map(problem)
        .filter(|p| p.starts_with("eventTime is not a time"))
        .collect();
    assert_eq!(
        placeholders,
        [
            "eventTime is not a time: \"redacted\"",
            "eventTime is not a time: \"...\""
        ]
    );
    assert!(events.iter().all(|e| e.source == Source::Cloudtrail));
    // Lower-cased keys (`eventtime`, `eventname`) and Panther's `p_event_time` are read.
    assert!(events
        .iter()
        .any(|e| e.raw.contains("\"eventtime\"") && e.target.action.is_some()));
}

#[test]
fn splunk_cloudtrail_example_logs() {
    let logs = jsonl(&data(
        "splunk-security-content/_extracted_example_logs.jsonl",
    ));
    let examples: Vec<&Value> = logs
        .iter()
        .filter(|l| {
            l["sourcetype"]
                .as_str()
                .is_some_and(|s| s.starts_with("aws:cloudtrail"))
        })
        .map(|l| &l["example_log"])
        .collect();
    assert_eq!(examples.len(), 48);
    let events: Vec<Event> = examples
        .iter()
        .map(|v| match parse_value(v) {
            Item::Event(ev) => *ev,
            other => panic!("{other:?}: {v}"),
        })
        .collect();

    let saml = events
        .iter()
        .find(|e| e.target.action.as_deref() == Some("AssumeRoleWithSAML"))
        .unwrap();
    assert_eq!(
        saml.tokens.issued_access_key_id.as_deref(),
        Some("ASIAYTOGP2RLKJXOV7VR")
    );
    assert_eq!(
        saml.actor.aws_user_name.as_deref(),
        Some("rodsoto@rodsoto.onmicrosoft.com")
    );
    assert_eq!(
        saml.actor.role_session_name.as_deref(),
        Some("rodsoto@rodsoto.onmicrosoft.com")
    );
    assert_eq!(saml.actor.aws_identity_type.as_deref(), Some("SAMLUser"));

    let internal: Vec<&Event> = events
        .iter()
        .filter(|e| e.src_host.as_deref() == Some("AWS Internal"))
        .collect();
    assert_eq!(internal.len(), 3);
    assert!(events
        .iter()
        .any(|e| e.src_host.as_deref() == Some("s3.amazonaws.com")));

    let console = events
        .iter()
        .find(|e| e.target.action.as_deref() == Some("ConsoleLogin"))
        .unwrap();
    assert_eq!(console.src_ip, ip("142.254.89.27"));

    // Nine examples are console traffic: a top-level `"sessionCredentialFromConsole": "true"`.
    let flags: Vec<Option<bool>> = events.iter().map(|e| e.actor.console_session).collect();
    assert_eq!(flags.iter().filter(|f| **f == Some(true)).count(), 9);
    assert_eq!(flags.iter().filter(|f| f.is_none()).count(), 39);
}
