//! Table-driven tests of the dispatch on minimal records of every shape.

use super::*;
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
enum Want {
    Event(Source, WireShape),
    Ignored(String),
    Unrecognised,
    Json,
    Invalid,
    WrongSource,
}

fn outcome(item: &Item) -> Want {
    match item {
        Item::Event(ev) => Want::Event(ev.source, ev.shape),
        Item::Ignored { kind } => Want::Ignored(kind.clone()),
        Item::Rejected { error, .. } => match error {
            RecordError::Json(_) => Want::Json,
            RecordError::Unrecognised(_) => Want::Unrecognised,
            RecordError::Invalid { .. } => Want::Invalid,
            RecordError::WrongSource { .. } => Want::WrongSource,
        },
    }
}

fn run(text: &str, container: Container, forced: Option<Source>) -> Vec<Item> {
    let frame = Frame {
        line: 1,
        container,
        text: text.to_string(),
    };
    let mut out = Vec::new();
    parse_frame(&frame, forced, &mut out);
    out
}

fn one(text: &str) -> Want {
    let out = run(text, Container::TopLevel, None);
    assert_eq!(out.len(), 1, "{text}: {out:?}");
    outcome(&out[0])
}

use Source::{Cloudtrail, EntraSignin, StorageBlob};
use WireShape::{
    CloudtrailLookup, CloudtrailRecord, Diagnostic, EventBridge, GraphSignin, LogAnalytics,
};

fn cases() -> Vec<(&'static str, Value, Want)> {
    let t = "2024-05-01T10:00:00Z";
    let lookup_inner = json!({"eventName": "ListBuckets", "eventTime": t}).to_string();
    vec![
        (
            "cloudtrail record",
            json!({"eventVersion": "1.08", "eventTime": t, "eventName": "X"}),
            Want::Event(Cloudtrail, CloudtrailRecord),
        ),
        (
            "cloudtrail record, only eventSource",
            json!({"eventSource": "s3.amazonaws.com", "@timestamp": t}),
            Want::Event(Cloudtrail, CloudtrailRecord),
        ),
        (
            "cloudtrail record, lower-case keys",
            json!({"eventname": "X", "eventtime": t}),
            Want::Event(Cloudtrail, CloudtrailRecord),
        ),
        (
            "cloudtrail record without time",
            json!({"eventName": "X"}),
            Want::Invalid,
        ),
        (
            "lookup element",
            json!({"EventId": "e", "EventName": "ListBuckets", "CloudTrailEvent": lookup_inner}),
            Want::Event(Cloudtrail, CloudtrailLookup),
        ),
        (
            "eventbridge cloudtrail",
            json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "time": t, "detail": {"eventName": "CreateBucket", "eventSource": "s3.amazonaws.com"}}),
            Want::Event(Cloudtrail, EventBridge),
        ),
        (
            "eventbridge by source only",
            json!({"source": "aws.iam", "detail": {"eventName": "X", "eventTime": t}}),
            Want::Event(Cloudtrail, EventBridge),
        ),
        (
            "eventbridge not cloudtrail",
            json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {"state": "running"}}),
            Want::Ignored("EventBridge EC2 Instance State-change Notification".into()),
        ),
        (
            "LA AWSCloudTrail by Type",
            json!({"TimeGenerated": t, "Type": "AWSCloudTrail", "EventName": "ConsoleLogin", "EventSource": "signin.amazonaws.com"}),
            Want::Event(Cloudtrail, LogAnalytics),
        ),
        (
            "LA AWSCloudTrail by columns",
            json!({"TimeGenerated": t, "EventName": "ConsoleLogin", "AwsEventId": "a"}),
            Want::Event(Cloudtrail, LogAnalytics),
        ),
        (
            "LA sign-in by Type",
            json!({"TimeGenerated": t, "Type": "AADNonInteractiveUserSignInLogs", "Id": "s1", "ResultType": "0"}),
            Want::Event(EntraSignin, LogAnalytics),
        ),
        (
            "LA sign-in by columns",
            json!({"TimeGenerated": t, "Id": "s2", "ResultType": 50126, "UserPrincipalName": "a@b.c"}),
            Want::Event(EntraSignin, LogAnalytics),
        ),
        (
            "LA sign-in without TimeGenerated",
            json!({"CreatedDateTime": t, "Id": "s3", "ResultType": "0", "UserPrincipalName": "a@b.c"}),
            Want::Event(EntraSignin, LogAnalytics),
        ),
        (
            "LA StorageBlobLogs by Type",
            json!({"TimeGenerated": t, "Type": "StorageBlobLogs", "OperationName": "GetBlob", "StatusCode": 200, "CorrelationId": "c"}),
            Want::Event(StorageBlob, LogAnalytics),
        ),
        (
            "LA blob by columns",
            json!({"TimeGenerated": t, "AuthenticationType": "OAuth", "AccountName": "acct", "StatusCode": 200}),
            Want::Event(StorageBlob, LogAnalytics),
        ),
        (
            "LA other table",
            json!({"TimeGenerated": t, "Type": "AuditLogs", "OperationName": "Add user"}),
            Want::Ignored("table AuditLogs".into()),
        ),
        (
            "LA row of unknown table",
            json!({"TimeGenerated": t, "Foo": 1}),
            Want::Unrecognised,
        ),
        (
            "diagnostic sign-in",
            json!({"time": t, "category": "SignInLogs", "operationName": "Sign-in activity", "properties": {"id": "d1", "createdDateTime": t, "status": {"errorCode": 0}}}),
            Want::Event(EntraSignin, Diagnostic),
        ),
        (
            "diagnostic sign-in, no time",
            json!({"category": "ServicePrincipalSignInLogs", "operationName": "Sign-in activity", "properties": {"id": "d2", "createdDateTime": t}}),
            Want::Event(EntraSignin, Diagnostic),
        ),
        (
            "diagnostic storage",
            json!({"time": t, "category": "StorageRead", "operationName": "GetBlob", "statusCode": 200, "correlationId": "c"}),
            Want::Event(StorageBlob, Diagnostic),
        ),
        (
            "diagnostic audit",
            json!({"time": t, "category": "AuditLogs", "operationName": "Add member to role"}),
            Want::Ignored("category AuditLogs".into()),
        ),
        (
            "graph signIn",
            json!({"id": "g1", "createdDateTime": t, "userPrincipalName": "a@b.c", "status": {"errorCode": 0}}),
            Want::Event(EntraSignin, GraphSignin),
        ),
        (
            "unknown object",
            json!({"hello": "world"}),
            Want::Unrecognised,
        ),
        ("empty object", json!({}), Want::Unrecognised),
        (
            "createdDateTime alone",
            json!({"createdDateTime": t}),
            Want::Unrecognised,
        ),
    ]
}

#[test]
fn every_shape_is_recognised_by_content() {
    for (name, value, want) in cases() {
        assert_eq!(one(&value.to_string()), want, "{name}");
    }
}

#[test]
fn forced_source_rejects_other_sources() {
    for (name, value, want) in cases() {
        let Want::Event(found, _) = want else {
            continue;
        };
        for forced in Source::ALL {
            let out = run(&value.to_string(), Container::TopLevel, Some(forced));
            let got = outcome(&out[0]);
            if forced == found {
                assert_eq!(got, want, "{name} forced {forced}");
            } else {
                assert_eq!(got, Want::WrongSource, "{name} forced {forced}");
                assert!(matches!(
                    &out[0],
                    Item::Rejected { error: RecordError::WrongSource { expected, found: f }, .. }
                        if *expected == forced && *f == found
                ));
            }
        }
    }
}

#[test]
fn non_objects_and_bad_json() {
    assert_eq!(one("42"), Want::Unrecognised);
    assert_eq!(one("[1, 2]"), Want::Unrecognised);
    assert_eq!(one("\"text\""), Want::Unrecognised);
    assert_eq!(one("{\"a\": 1,}"), Want::Json);
    assert_eq!(one("{\"a\": [1,\n]}"), Want::Json);
    assert_eq!(one("not json"), Want::Json);
    assert_eq!(one(""), Want::Json);
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert_eq!(one(&deep), Want::Json);
}

#[test]
fn unrecognised_names_keys_and_container() {
    let keys: String = (0..10).map(|i| format!("\"k{i}\":{i},")).collect();
    let text = format!("{{{}\"last\":0}}", keys);
    let out = run(
        &text,
        Container::Key(crate::framing::ContainerKey::Records),
        None,
    );
    let Item::Rejected {
        error: RecordError::Unrecognised(msg),
        row: None,
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert!(msg.contains("k0, k1"), "{msg}");
    assert!(msg.contains("and 5 more"), "{msg}");
    assert!(msg.ends_with("in the \"Records\" array"), "{msg}");
}

#[test]
fn tables_give_one_item_per_row() {
    let table = json!({
        "name": "PrimaryResult",
        "columns": [{"name": "TimeGenerated", "type": "datetime"}, {"name": "Type", "type": "string"},
                    {"name": "EventName", "type": "string"}, {"name": "AwsEventId", "type": "string"}],
        "rows": [
            ["2024-05-01T10:00:00Z", "AWSCloudTrail", "ConsoleLogin", "r1"],
            ["2024-05-01T10:00:01Z", "AWSCloudTrail", "ListBuckets", "r2"],
            ["2024-05-01T10:00:02Z", "AuditLogs", "x", "r3"]
        ]
    });
    let out = run(
        &table.to_string(),
        Container::Key(crate::framing::ContainerKey::Tables),
        None,
    );
    let got: Vec<Want> = out.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            Want::Event(Cloudtrail, LogAnalytics),
            Want::Event(Cloudtrail, LogAnalytics),
            Want::Ignored("table AuditLogs".into()),
        ]
    );
    // The same table inside a whole response that arrived as one record.
    let whole = json!({"tables": [table, 7]});
    let out = run(&whole.to_string(), Container::TopLevel, None);
    assert_eq!(out.len(), 4);
    assert!(matches!(
        out[3],
        Item::Rejected {
            row: Some(1),
            error: RecordError::Unrecognised(_)
        }
    ));
    // Forcing applies to every row.
    let out = run(&table.to_string(), Container::TopLevel, Some(EntraSignin));
    assert_eq!(outcome(&out[0]), Want::WrongSource);
    assert!(matches!(out[0], Item::Rejected { row: Some(0), .. }));
}

#[test]
fn the_rules_table_is_ordered_so_shapes_do_not_shadow_each_other() {
    // A LookupEvents element has PascalCase CloudTrail columns too; an LA sign-in row has
    // `Category` and `OperationName` like a diagnostic record; an EventBridge detail is a
    // CloudTrail record.
    let lookup = json!({"EventName": "X", "EventSource": "s", "AwsEventId": "a", "CloudTrailEvent": "{\"eventName\":\"X\",\"eventTime\":\"2024-01-01T00:00:00Z\"}"});
    assert_eq!(
        one(&lookup.to_string()),
        Want::Event(Cloudtrail, CloudtrailLookup)
    );
    let la = json!({"TimeGenerated": "2024-01-01T00:00:00Z", "Category": "SignInLogs", "OperationName": "Sign-in activity", "Type": "SigninLogs", "Id": "x", "ResultType": 0});
    assert_eq!(one(&la.to_string()), Want::Event(EntraSignin, LogAnalytics));
    let positions: Vec<Shape> = RULES.iter().map(|(s, _)| *s).collect();
    let pos = |s| positions.iter().position(|p| *p == s).unwrap();
    assert!(pos(Shape::Lookup) < pos(Shape::CloudTrail));
    assert!(pos(Shape::EventBridge) < pos(Shape::CloudTrail));
    assert!(pos(Shape::LaRow) < pos(Shape::Diagnostic));
    assert!(pos(Shape::LaRow) < pos(Shape::Graph));
}
