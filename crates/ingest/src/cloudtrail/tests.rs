//! Unit tests of the CloudTrail mapping on small records, a `LookupEvents` response and an
//! EventBridge envelope built after the shapes in the AWS documentation.

use super::*;
use serde_json::json;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn record(v: Value) -> Result<Event, RecordError> {
    let raw = v.to_string();
    from_record(&obj(v), &raw, WireShape::CloudtrailRecord)
}

fn problem(r: Result<Event, RecordError>) -> String {
    match r {
        Err(RecordError::Invalid { problem, .. }) => problem,
        other => panic!("expected an invalid record, got {other:?}"),
    }
}

#[test]
fn assumed_role_call_maps_every_field() {
    let ev = record(json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:alice@contoso.com",
            "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice@contoso.com",
            "accountId": "111122223333",
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Admin", "userName": "Admin"},
                "attributes": {"mfaAuthenticated": "false"}
            }
        },
        "eventTime": "2024-07-30T21:31:21Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.5",
        "userAgent": "aws-cli/2.15.0",
        "eventID": "450230d4-b39e-4a18-a6a0-d07a6e2105cb",
        "recipientAccountId": "444455556666"
    }))
    .unwrap();
    assert_eq!(ev.id, "450230d4-b39e-4a18-a6a0-d07a6e2105cb");
    assert_eq!(
        (ev.source, ev.shape),
        (Source::Cloudtrail, WireShape::CloudtrailRecord)
    );
    assert_eq!(ev.time.to_rfc3339(), "2024-07-30T21:31:21+00:00");
    assert!(ev.outcome.success);
    let a = &ev.actor;
    assert_eq!(
        a.aws_arn.as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/Admin/alice@contoso.com")
    );
    assert_eq!(a.aws_identity_type.as_deref(), Some("AssumedRole"));
    assert_eq!(a.access_key_id.as_deref(), Some("ASIAEXAMPLE"));
    assert_eq!(a.aws_account_id.as_deref(), Some("111122223333"));
    assert_eq!(a.role_session_name.as_deref(), Some("alice@contoso.com"));
    assert_eq!(a.aws_user_name, None);
    assert_eq!(
        ev.tokens.aws_session_issuer.as_deref(),
        Some("arn:aws:iam::111122223333:role/Admin")
    );
    assert_eq!(ev.src_ip, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(ev.user_agent.as_deref(), Some("aws-cli/2.15.0"));
    let t = &ev.target;
    assert_eq!(t.service.as_deref(), Some("s3.amazonaws.com"));
    assert_eq!(t.action.as_deref(), Some("ListBuckets"));
    assert_eq!(t.region.as_deref(), Some("us-east-1"));
    assert_eq!(t.account_id.as_deref(), Some("444455556666"));
    assert!(ev.raw.contains("ListBuckets"));
}

#[test]
fn callers_that_are_services_or_padded_addresses() {
    let base = |ip: &str| {
        record(
            json!({"eventTime": "2024-01-01T00:00:00Z", "eventName": "X", "sourceIPAddress": ip}),
        )
        .unwrap()
    };
    let ev = base("ec2.amazonaws.com");
    assert_eq!(
        (ev.src_ip, ev.src_host.as_deref()),
        (None, Some("ec2.amazonaws.com"))
    );
    let ev = base("AWS Internal");
    assert_eq!(
        (ev.src_ip, ev.src_host.as_deref()),
        (None, Some("AWS Internal"))
    );
    let ev = base("035.249.253.232");
    assert_eq!(ev.src_ip, Some("35.249.253.232".parse().unwrap()));
    assert_eq!(ev.src_host, None);
}

#[test]
fn errors_and_console_login_failures_are_failures() {
    let ev = record(json!({
        "eventTime": "2024-01-01T00:00:00Z", "eventName": "GetPasswordData",
        "errorCode": "Client.UnauthorizedOperation", "errorMessage": "You are not authorized"
    }))
    .unwrap();
    assert!(!ev.outcome.success);
    assert_eq!(
        ev.outcome.error_code.as_deref(),
        Some("Client.UnauthorizedOperation")
    );
    assert_eq!(ev.outcome.reason.as_deref(), Some("You are not authorized"));

    let ev = record(json!({
        "eventTime": "2024-01-01T00:00:00Z", "eventName": "ConsoleLogin",
        "errorMessage": "Failed authentication",
        "responseElements": {"ConsoleLogin": "Failure"},
        "userIdentity": {"type": "IAMUser", "userName": "bob", "arn": "arn:aws:iam::111122223333:user/bob"}
    }))
    .unwrap();
    assert!(!ev.outcome.success);
    assert_eq!(ev.outcome.error_code, None);
    assert_eq!(ev.outcome.reason.as_deref(), Some("Failed authentication"));
    assert_eq!(ev.actor.aws_user_name.as_deref(), Some("bob"));
    assert_eq!(ev.actor.aws_account_id.as_deref(), Some("111122223333"));

    let ok = record(json!({
        "eventTime": "2024-01-01T00:00:00Z", "eventName": "ConsoleLogin",
        "responseElements": {"ConsoleLogin": "Success"}
    }))
    .unwrap();
    assert!(ok.outcome.success);
    assert_eq!(
        ok.outcome,
        skein_model::Outcome {
            success: true,
            error_code: None,
            reason: None
        }
    );
}

#[test]
fn assume_role_with_saml_links_the_issued_key_to_the_user() {
    let ev = record(json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "SAMLUser", "principalId": "x:alice@contoso.com",
                         "userName": "alice@contoso.com", "identityProvider": "x"},
        "eventTime": "2021-01-22T03:44:16Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRoleWithSAML",
        "requestParameters": {"roleSessionName": "alice@contoso.com",
                              "roleArn": "arn:aws:iam::111111111111:role/r"},
        "responseElements": {"credentials": {"accessKeyId": "ASIANEWKEY"},
                             "subject": "alice-subject"}
    }))
    .unwrap();
    assert_eq!(
        ev.tokens.issued_access_key_id.as_deref(),
        Some("ASIANEWKEY")
    );
    assert_eq!(
        ev.actor.role_session_name.as_deref(),
        Some("alice@contoso.com")
    );
    assert_eq!(ev.actor.aws_user_name.as_deref(), Some("alice@contoso.com"));
    assert_eq!(ev.actor.aws_identity_type.as_deref(), Some("SAMLUser"));

    // Without a userName the SAML subject names the user; web identity likewise.
    let ev = record(json!({
        "eventTime": "2021-01-22T03:44:16Z", "eventName": "AssumeRoleWithWebIdentity",
        "userIdentity": {"type": "WebIdentityUser"},
        "requestParameters": {"roleSessionName": "web-session"},
        "responseElements": {"credentials": {"accessKeyId": "ASIAWEB"},
                             "subjectFromWebIdentityToken": "oidc-sub"}
    }))
    .unwrap();
    assert_eq!(ev.tokens.issued_access_key_id.as_deref(), Some("ASIAWEB"));
    assert_eq!(ev.actor.role_session_name.as_deref(), Some("web-session"));
    assert_eq!(ev.actor.aws_user_name.as_deref(), Some("oidc-sub"));
}

#[test]
fn other_issuers_set_only_the_issued_key() {
    for name in ["AssumeRole", "GetSessionToken", "GetFederationToken"] {
        let ev = record(json!({
            "eventTime": "2024-01-01T00:00:00Z", "eventName": name,
            "requestParameters": {"roleSessionName": "s"},
            "responseElements": {"credentials": {"accessKeyId": "ASIAISSUED"}}
        }))
        .unwrap();
        assert_eq!(
            ev.tokens.issued_access_key_id.as_deref(),
            Some("ASIAISSUED"),
            "{name}"
        );
        assert_eq!(ev.actor.role_session_name, None, "{name}");
    }
    let ev = record(json!({
        "eventTime": "2024-01-01T00:00:00Z", "eventName": "ListUsers",
        "responseElements": {"credentials": {"accessKeyId": "ASIANOTISSUED"}}
    }))
    .unwrap();
    assert_eq!(ev.tokens.issued_access_key_id, None);
}

#[test]
fn pipeline_timestamps_and_missing_ids() {
    let ev = record(json!({"@timestamp": "2020-09-14T00:44:23.000Z", "eventName": "X"})).unwrap();
    assert_eq!(ev.time.to_rfc3339(), "2020-09-14T00:44:23+00:00");
    assert!(ev.id.starts_with("sha:"), "{}", ev.id);
    let again =
        record(json!({"@timestamp": "2020-09-14T00:44:23.000Z", "eventName": "X"})).unwrap();
    assert_eq!(ev.id, again.id);
    let ev = record(json!({"p_event_time": "2022-01-01 10:00:00.000", "eventname": "x"})).unwrap();
    assert_eq!(ev.time.to_rfc3339(), "2022-01-01T10:00:00+00:00");
    // Lower-case keys (some pipelines) are read too.
    let ev = record(
        json!({"eventtime": "2022-01-01T10:00:00Z", "eventname": "GetObject", "eventid": "lc"}),
    )
    .unwrap();
    assert_eq!(
        (ev.id.as_str(), ev.target.action.as_deref()),
        ("lc", Some("GetObject"))
    );
}

#[test]
fn wrong_types_and_missing_time_are_rejected_naming_the_field() {
    assert_eq!(
        problem(record(json!({"eventName": "X"}))),
        "no eventTime or @timestamp"
    );
    assert!(problem(record(json!({"eventTime": -5, "eventName": "X"})))
        .starts_with("eventTime is not a time"));
    assert!(
        problem(record(json!({"eventTime": "yesterday"}))).starts_with("eventTime is not a time")
    );
    assert!(problem(record(json!({"eventTime": {"a": 1}}))).starts_with("eventTime is not a time"));
    assert!(problem(record(json!({"@timestamp": [1]}))).starts_with("@timestamp is not a time"));
    assert!(problem(record(
        json!({"eventTime": "2024-01-01T00:00:00Z", "userIdentity": "root"})
    ))
    .starts_with("userIdentity is not an object"));
    // Odd but harmless types are tolerated.
    let ev = record(json!({
        "eventTime": "2024-01-01T00:00:00Z", "eventName": {"x": 1}, "sourceIPAddress": 5,
        "responseElements": "not json", "userIdentity": null, "errorCode": 403
    }))
    .unwrap();
    assert_eq!(ev.target.action, None);
    assert_eq!(ev.outcome.error_code.as_deref(), Some("403"));
}

#[test]
fn arn_helpers() {
    assert_eq!(
        assumed_role_session("arn:aws-us-gov:sts::123456789012:assumed-role/R/s-1").as_deref(),
        Some("s-1")
    );
    assert_eq!(
        assumed_role_session("arn:aws:iam::123456789012:user/bob"),
        None
    );
    assert_eq!(assumed_role_session("arn:aws:sts::1:assumed-role/R/"), None);
    assert_eq!(
        arn_account("arn:aws:iam::123456789012:root").as_deref(),
        Some("123456789012")
    );
    assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
    assert_eq!(arn_account("not an arn"), None);
}

/// The response shape of `LookupEvents` (AWS CloudTrail API reference): `Events[]` with
/// `EventId`, `EventName`, `ReadOnly`, `AccessKeyId`, `EventTime` (epoch seconds in the raw
/// API), `EventSource`, `Username`, `Resources`, and the record as the string
/// `CloudTrailEvent`.
fn lookup_response() -> Value {
    let inner = json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                         "arn": "arn:aws:iam::123456789012:user/alice", "accountId": "123456789012",
                         "accessKeyId": "AKIAEXAMPLE", "userName": "alice"},
        "eventTime": "2024-03-01T12:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"userName": "alice"},
        "responseElements": {"accessKey": {"accessKeyId": "AKIANEW", "status": "Active"}},
        "eventID": "inner-id",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012"
    });
    json!({
        "Events": [{
            "EventId": "inner-id",
            "EventName": "CreateAccessKey",
            "ReadOnly": "false",
            "AccessKeyId": "AKIAEXAMPLE",
            "EventTime": 1709294400.0,
            "EventSource": "iam.amazonaws.com",
            "Username": "alice",
            "Resources": [{"ResourceType": "AWS::IAM::AccessKey", "ResourceName": "AKIANEW"}],
            "CloudTrailEvent": inner.to_string()
        }],
        "NextToken": "token"
    })
}

#[test]
fn lookup_events_element() {
    let resp = lookup_response();
    let el = obj(resp["Events"][0].clone());
    let ev = from_lookup(&el).unwrap();
    assert_eq!(ev.shape, WireShape::CloudtrailLookup);
    assert_eq!(ev.id, "inner-id");
    assert_eq!(ev.raw, el["CloudTrailEvent"].as_str().unwrap());
    assert_eq!(ev.actor.aws_user_name.as_deref(), Some("alice"));
    assert_eq!(ev.target.action.as_deref(), Some("CreateAccessKey"));
    assert_eq!(ev.src_ip, Some("198.51.100.7".parse().unwrap()));
}

#[test]
fn lookup_falls_back_to_the_outer_fields() {
    let el = obj(json!({
        "EventId": "outer-id",
        "EventTime": 1709294400.0,
        "Username": "alice@contoso.com",
        "AccessKeyId": "ASIAOUTER",
        "CloudTrailEvent": json!({
            "eventName": "ListBuckets",
            "userIdentity": {"type": "AssumedRole",
                             "arn": "arn:aws:sts::1:assumed-role/R/alice@contoso.com"}
        }).to_string()
    }));
    let ev = from_lookup(&el).unwrap();
    assert_eq!(ev.id, "outer-id");
    assert_eq!(ev.time.timestamp(), 1709294400);
    assert_eq!(ev.actor.access_key_id.as_deref(), Some("ASIAOUTER"));
    // `Username` is the role session here, not a user name.
    assert_eq!(
        ev.actor.role_session_name.as_deref(),
        Some("alice@contoso.com")
    );
    assert_eq!(ev.actor.aws_user_name, None);

    let el = obj(
        json!({"EventTime": "2024-01-01T00:00:00Z", "Username": "bob",
                        "CloudTrailEvent": "{\"eventName\":\"X\"}"}),
    );
    let ev = from_lookup(&el).unwrap();
    assert_eq!(ev.actor.aws_user_name.as_deref(), Some("bob"));
    assert!(ev.id.starts_with("sha:"));

    let bad = |v: Value| problem(from_lookup(&obj(v)));
    assert!(bad(json!({"CloudTrailEvent": "{not json"}))
        .starts_with("CloudTrailEvent is not valid JSON"));
    assert_eq!(
        bad(json!({"CloudTrailEvent": "[1]"})),
        "CloudTrailEvent is not a JSON object"
    );
    assert_eq!(
        bad(json!({"CloudTrailEvent": 5})),
        "CloudTrailEvent is missing or not a string"
    );
    assert_eq!(
        bad(json!({"EventTime": "never", "CloudTrailEvent": "{}"})),
        "no eventTime in CloudTrailEvent and no usable EventTime"
    );
}

/// An EventBridge event for a CloudTrail API call ("AWS API Call via CloudTrail", as in the
/// Amazon EventBridge user guide's example events).
fn eventbridge_envelope() -> Value {
    json!({
        "version": "0",
        "id": "36eb8523-97d0-4518-b33d-ee3579ff19f0",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2016-02-20T01:09:13Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.03",
            "userIdentity": {"type": "Root", "principalId": "123456789012",
                             "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012",
                             "sessionContext": {"attributes": {"mfaAuthenticated": "false",
                                                               "creationDate": "2016-02-20T01:05:59Z"}}},
            "eventTime": "2016-02-20T01:09:13Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "CreateBucket",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "100.100.100.100",
            "userAgent": "[S3Console/0.4]",
            "requestParameters": {"bucketName": "bucket-test-iad"},
            "responseElements": null,
            "requestID": "9D767BCC3B4E7487",
            "eventID": "24ba271e-d595-4e66-a7fd-9c16cbf8abae",
            "eventType": "AwsApiCall"
        }
    })
}

#[test]
fn eventbridge_envelope_keeps_the_detail_as_raw() {
    let env = eventbridge_envelope();
    let ev = from_eventbridge(&obj(env.clone())).unwrap();
    assert_eq!(ev.shape, WireShape::EventBridge);
    assert_eq!(ev.id, "24ba271e-d595-4e66-a7fd-9c16cbf8abae");
    let raw: Value = serde_json::from_str(&ev.raw).unwrap();
    assert_eq!(raw, env["detail"]);
    assert!(!ev.raw.contains('\n'));
    assert_eq!(ev.actor.aws_identity_type.as_deref(), Some("Root"));
    assert_eq!(ev.actor.aws_account_id.as_deref(), Some("123456789012"));
    assert_eq!(ev.target.action.as_deref(), Some("CreateBucket"));
    assert_eq!(ev.target.account_id.as_deref(), Some("123456789012"));

    // Envelope time and region fill in for a detail that lacks them.
    let mut env = env;
    let detail = env["detail"].as_object_mut().unwrap();
    detail.remove("eventTime");
    detail.remove("awsRegion");
    env["time"] = json!("2016-02-20T01:09:14Z");
    let ev = from_eventbridge(&obj(env)).unwrap();
    assert_eq!(ev.time.to_rfc3339(), "2016-02-20T01:09:14+00:00");
    assert_eq!(ev.target.region.as_deref(), Some("us-east-1"));

    assert_eq!(
        problem(from_eventbridge(&obj(json!({"detail": "x"})))),
        "detail is missing or not an object"
    );
}

#[test]
fn log_analytics_aws_cloudtrail_row() {
    let row = json!({
        "TimeGenerated": "2025-04-21T09:45:54Z",
        "AwsEventId": "190150da-f77d-428f-b699-78e570f2dae3",
        "EventSource": "signin.amazonaws.com",
        "EventName": "ConsoleLogin",
        "UserIdentityType": "IAMUser",
        "UserIdentityArn": "arn:aws:iam::072643944673:user/CATTeamIDC",
        "UserIdentityAccountId": "072643944673",
        "UserIdentityUserName": "CATTeamIDC",
        "UserIdentityAccessKeyId": "",
        "SessionIssuerArn": "arn:aws:iam::072643944673:role/Issuer",
        "AWSRegion": "us-east-1",
        "SourceIpAddress": "20.160.68.231",
        "UserAgent": "Mozilla/5.0",
        "ErrorMessage": "Failed authentication",
        "ResponseElements": "{\"ConsoleLogin\":\"Failure\"}",
        "RecipientAccountId": "072643944673",
        "Type": "AWSCloudTrail"
    });
    let raw = row.to_string();
    let ev = from_la_row(&obj(row), &raw).unwrap();
    assert_eq!(ev.shape, WireShape::LogAnalytics);
    assert_eq!(ev.id, "190150da-f77d-428f-b699-78e570f2dae3");
    assert_eq!(ev.raw, raw);
    assert!(!ev.outcome.success);
    assert_eq!(ev.outcome.reason.as_deref(), Some("Failed authentication"));
    assert_eq!(ev.actor.aws_user_name.as_deref(), Some("CATTeamIDC"));
    assert_eq!(ev.actor.access_key_id, None);
    assert_eq!(
        ev.tokens.aws_session_issuer.as_deref(),
        Some("arn:aws:iam::072643944673:role/Issuer")
    );
    assert_eq!(ev.src_ip, Some("20.160.68.231".parse().unwrap()));
    assert_eq!(ev.target.service.as_deref(), Some("signin.amazonaws.com"));

    let issuing = json!({
        "TimeGenerated": "2025-04-21T09:45:54Z", "EventName": "AssumeRoleWithSAML",
        "RequestParameters": {"roleSessionName": "alice@contoso.com"},
        "ResponseElements": "{\"credentials\":{\"accessKeyId\":\"ASIALA\"}}"
    });
    let ev = from_la_row(&obj(issuing), "{}").unwrap();
    assert_eq!(ev.tokens.issued_access_key_id.as_deref(), Some("ASIALA"));
    assert_eq!(
        ev.actor.role_session_name.as_deref(),
        Some("alice@contoso.com")
    );

    assert_eq!(
        problem(from_la_row(&obj(json!({"EventName": "X"})), "{}")),
        "no TimeGenerated"
    );
    assert!(
        problem(from_la_row(&obj(json!({"TimeGenerated": true})), "{}"))
            .starts_with("TimeGenerated is not a time")
    );
}

#[test]
fn console_session_credentials_are_recognised() {
    let with = |ctx: Value| {
        record(json!({
            "eventTime": "2024-01-01T00:00:00Z", "eventName": "DescribeInstances",
            "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIAEXAMPLE", "sessionContext": ctx}
        }))
        .unwrap()
        .actor
        .console_session
    };
    assert_eq!(
        with(json!({"sessionCredentialFromConsole": "true"})),
        Some(true)
    );
    assert_eq!(
        with(json!({"sessionCredentialFromConsole": true})),
        Some(true)
    );
    assert_eq!(
        with(json!({"sessionCredentialFromConsole": "false"})),
        Some(false)
    );
    assert_eq!(with(json!({"sessionCredentialFromConsole": "maybe"})), None);
    assert_eq!(
        with(json!({"attributes": {"mfaAuthenticated": "true"}})),
        None
    );
}

#[test]
fn console_session_credentials_are_flagged() {
    // Where CloudTrail writes it: a top-level field, present (as "true") on console traffic.
    let call = |flag: Option<Value>| {
        let mut rec = json!({
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice@contoso.com",
                "accessKeyId": "ASIAEXAMPLE",
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Admin"},
                    "attributes": {"mfaAuthenticated": "true"}
                }
            },
            "eventTime": "2024-07-30T21:31:21Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": "ListUsers",
            "sourceIPAddress": "203.0.113.5",
            "eventID": "e1",
            "eventCategory": "Management"
        });
        if let Some(flag) = flag {
            rec["sessionCredentialFromConsole"] = flag;
        }
        record(rec).unwrap().actor.console_session
    };
    assert_eq!(call(Some(json!("true"))), Some(true));
    // Without it: a programmatic call, or a record that does not say.
    assert_eq!(call(None), None);
    assert_eq!(call(Some(json!("false"))), Some(false));
    // Re-typed by a pipeline, or odd case and blanks.
    assert_eq!(call(Some(json!(true))), Some(true));
    assert_eq!(call(Some(json!(false))), Some(false));
    assert_eq!(call(Some(json!(" TRUE "))), Some(true));
    for odd in [
        json!("yes"),
        json!(""),
        json!(1),
        json!(null),
        json!(["true"]),
    ] {
        assert_eq!(call(Some(odd.clone())), None, "{odd}");
    }
    // Field names are matched without regard to case, like every other CloudTrail field.
    let upper = record(json!({
        "eventTime": "2024-07-30T21:31:21Z", "eventID": "e2", "SessionCredentialFromConsole": "true"
    }))
    .unwrap();
    assert_eq!(upper.actor.console_session, Some(true));
    // Also read under `userIdentity.sessionContext`; the top-level field wins.
    let nested = |ctx: Value, top: Option<&str>| {
        let mut rec = json!({
            "userIdentity": {"type": "AssumedRole", "sessionContext": ctx},
            "eventTime": "2024-07-30T21:31:21Z",
            "eventID": "e3"
        });
        if let Some(top) = top {
            rec["sessionCredentialFromConsole"] = json!(top);
        }
        record(rec).unwrap().actor.console_session
    };
    assert_eq!(
        nested(json!({"sessionCredentialFromConsole": "true"}), None),
        Some(true)
    );
    assert_eq!(
        nested(
            json!({"sessionCredentialFromConsole": "true"}),
            Some("false")
        ),
        Some(false)
    );
    // No userIdentity at all (an anonymous or malformed record).
    let anonymous = record(json!({"eventTime": "2024-07-30T21:31:21Z", "eventID": "e4"})).unwrap();
    assert_eq!(anonymous.actor.console_session, None);
}
