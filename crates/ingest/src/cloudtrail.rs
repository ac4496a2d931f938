//! AWS CloudTrail into canonical events: raw records (trail files, Lake exports, NDJSON,
//! records re-shipped by Logstash with `@timestamp`), `LookupEvents` elements (the record is
//! the JSON string `CloudTrailEvent`), EventBridge envelopes (the record is `detail`) and Log
//! Analytics `AWSCloudTrail` rows (PascalCase columns, mapped onto the record's structure).
//! All four share one mapping, [`build`]; they differ only in where the fields are and what
//! an envelope may supply when the record lacks it.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use skein_model::{Event, Source, WireShape};

use crate::fields::{self, get_ci, get_path, scalar_text, text, Caller};
use crate::{invalid, RecordError};

/// Operations whose response carries new temporary credentials.
const ISSUING: [&str; 5] = [
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
];

/// Operations whose caller is an external (SAML / OIDC) identity.
const FEDERATED: [&str; 2] = ["AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"];

/// What a wrapper contributes: the error label and fields the inner record may lack.
#[derive(Default)]
struct Ctx {
    label: &'static str,
    missing_time: &'static str,
    id: Option<String>,
    time: Option<DateTime<Utc>>,
    user_name: Option<String>,
    access_key_id: Option<String>,
    region: Option<String>,
    account: Option<String>,
}

impl Ctx {
    fn new(label: &'static str, missing_time: &'static str) -> Ctx {
        Ctx {
            label,
            missing_time,
            ..Ctx::default()
        }
    }
}

/// A raw CloudTrail record (`raw` is its text, kept as the event's original).
pub fn from_record(
    obj: &Map<String, Value>,
    raw: &str,
    shape: WireShape,
) -> Result<Event, RecordError> {
    build(
        obj,
        raw,
        shape,
        &Ctx::new("cloudtrail", "no eventTime or @timestamp"),
    )
}

/// An element of a `LookupEvents` response's `Events` array. The record is the JSON text in
/// `CloudTrailEvent` (kept as the event's original); the outer `EventId`, `EventTime`,
/// `Username` and `AccessKeyId` fill in what the record lacks.
pub fn from_lookup(obj: &Map<String, Value>) -> Result<Event, RecordError> {
    const LABEL: &str = "cloudtrail lookup";
    let inner_text = match get_ci(obj, "CloudTrailEvent") {
        Some(Value::String(s)) => s.as_str(),
        _ => return Err(invalid(LABEL, "CloudTrailEvent is missing or not a string")),
    };
    let rec = match serde_json::from_str::<Value>(inner_text) {
        Ok(Value::Object(rec)) => rec,
        Ok(_) => return Err(invalid(LABEL, "CloudTrailEvent is not a JSON object")),
        Err(e) => {
            return Err(invalid(
                LABEL,
                format!("CloudTrailEvent is not valid JSON: {e}"),
            ))
        }
    };
    let mut ctx = Ctx::new(
        LABEL,
        "no eventTime in CloudTrailEvent and no usable EventTime",
    );
    ctx.id = text(obj, &["EventId"]);
    ctx.time = get_ci(obj, "EventTime").and_then(fields::parse_time);
    ctx.user_name = text(obj, &["Username"]);
    ctx.access_key_id = text(obj, &["AccessKeyId"]);
    build(&rec, inner_text, WireShape::CloudtrailLookup, &ctx)
}

/// An EventBridge envelope (`detail-type: AWS API Call via CloudTrail`): the record is
/// `detail` (kept as compact JSON text); the envelope's `time`, `region` and `account` fill
/// in what it lacks.
pub fn from_eventbridge(obj: &Map<String, Value>) -> Result<Event, RecordError> {
    const LABEL: &str = "cloudtrail eventbridge";
    let detail = match get_ci(obj, "detail") {
        Some(Value::Object(d)) => d,
        _ => return Err(invalid(LABEL, "detail is missing or not an object")),
    };
    let raw = serde_json::to_string(detail)
        .map_err(|e| invalid(LABEL, format!("detail cannot be serialised: {e}")))?;
    let mut ctx = Ctx::new(LABEL, "no eventTime in detail and no usable time");
    ctx.time = get_ci(obj, "time").and_then(fields::parse_time);
    ctx.region = text(obj, &["region"]);
    ctx.account = text(obj, &["account"]);
    build(detail, &raw, WireShape::EventBridge, &ctx)
}

/// A Log Analytics `AWSCloudTrail` row (PascalCase columns; `RequestParameters` and
/// `ResponseElements` as JSON text or nested JSON).
pub fn from_la_row(obj: &Map<String, Value>, raw: &str) -> Result<Event, RecordError> {
    const LABEL: &str = "AWSCloudTrail row";
    let time = match get_ci(obj, "TimeGenerated") {
        None | Some(Value::Null) => return Err(invalid(LABEL, "no TimeGenerated")),
        Some(v) => fields::parse_time(v)
            .ok_or_else(|| invalid(LABEL, format!("TimeGenerated is not a time: {}", short(v))))?,
    };
    let copy = |m: &mut Map<String, Value>, to: &str, from: &str| {
        if let Some(v) = get_ci(obj, from).filter(|v| !v.is_null()) {
            m.insert(to.to_string(), v.clone());
        }
    };
    let mut issuer = Map::new();
    copy(&mut issuer, "arn", "SessionIssuerArn");
    let mut identity = Map::new();
    copy(&mut identity, "type", "UserIdentityType");
    copy(&mut identity, "arn", "UserIdentityArn");
    copy(&mut identity, "accessKeyId", "UserIdentityAccessKeyId");
    copy(&mut identity, "accountId", "UserIdentityAccountId");
    copy(&mut identity, "userName", "UserIdentityUserName");
    if !issuer.is_empty() {
        let mut session = Map::new();
        session.insert("sessionIssuer".into(), Value::Object(issuer));
        identity.insert("sessionContext".into(), Value::Object(session));
    }
    let mut rec = Map::new();
    for (to, from) in [
        ("eventName", "EventName"),
        ("eventSource", "EventSource"),
        ("awsRegion", "AWSRegion"),
        ("sourceIPAddress", "SourceIpAddress"),
        ("userAgent", "UserAgent"),
        ("errorCode", "ErrorCode"),
        ("errorMessage", "ErrorMessage"),
        ("recipientAccountId", "RecipientAccountId"),
        ("requestParameters", "RequestParameters"),
        ("responseElements", "ResponseElements"),
    ] {
        copy(&mut rec, to, from);
    }
    if !identity.is_empty() {
        rec.insert("userIdentity".into(), Value::Object(identity));
    }
    let mut ctx = Ctx::new(LABEL, "no TimeGenerated");
    ctx.id = text(obj, &["AwsEventId"]);
    ctx.time = Some(time);
    build(&rec, raw, WireShape::LogAnalytics, &ctx)
}

/// A CloudTrail flag such as `sessionCredentialFromConsole`: the string `"true"` / `"false"`
/// in real logs (any case, surrounding blanks ignored), or a JSON boolean after a pipeline
/// re-typed it; anything else says nothing.
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The mapping shared by every CloudTrail shape.
fn build(
    rec: &Map<String, Value>,
    raw: &str,
    shape: WireShape,
    ctx: &Ctx,
) -> Result<Event, RecordError> {
    let time = match record_time(rec, ctx.label)? {
        Some(t) => t,
        None => ctx
            .time
            .ok_or_else(|| invalid(ctx.label, ctx.missing_time))?,
    };
    let identity = match get_ci(rec, "userIdentity") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(other) => {
            return Err(invalid(
                ctx.label,
                format!("userIdentity is not an object: {}", short(other)),
            ))
        }
    };
    let id = text(rec, &["eventID"])
        .or_else(|| ctx.id.clone())
        .unwrap_or_else(|| fields::digest_id("sha:", raw));
    let mut ev = Event::new(id, Source::Cloudtrail, shape, time);
    ev.raw = raw.to_string();

    if let Some(ui) = identity {
        let a = &mut ev.actor;
        a.aws_arn = text(ui, &["arn"]);
        a.aws_identity_type = text(ui, &["type"]);
        a.access_key_id = text(ui, &["accessKeyId"]);
        a.aws_user_name = text(ui, &["userName"]);
        a.aws_account_id =
            text(ui, &["accountId"]).or_else(|| a.aws_arn.as_deref().and_then(arn_account));
        a.role_session_name = a.aws_arn.as_deref().and_then(assumed_role_session);
        ev.tokens.aws_session_issuer =
            get_path(ui, &["sessionContext", "sessionIssuer", "arn"]).and_then(scalar_text);
    }
    // A top-level field of the record (event version 1.08 on), present on console traffic.
    // Also accepted under `userIdentity.sessionContext`, where some documentation places it.
    ev.actor.console_session = get_ci(rec, "sessionCredentialFromConsole")
        .or_else(|| {
            identity
                .and_then(|ui| get_path(ui, &["sessionContext", "sessionCredentialFromConsole"]))
        })
        .and_then(flag);
    if ev.actor.access_key_id.is_none() {
        ev.actor.access_key_id = ctx.access_key_id.clone();
    }
    if ev.actor.aws_user_name.is_none() && ctx.user_name != ev.actor.role_session_name {
        // LookupEvents' `Username` is the session name for an assumed role: not a user name.
        ev.actor.aws_user_name = ctx.user_name.clone();
    }

    match text(rec, &["sourceIPAddress"])
        .as_deref()
        .and_then(fields::parse_caller)
    {
        Some(Caller::Ip(ip)) => ev.src_ip = Some(ip),
        Some(Caller::Host(host)) => ev.src_host = Some(host),
        None => {}
    }
    ev.user_agent = text(rec, &["userAgent"]);

    let t = &mut ev.target;
    t.service = text(rec, &["eventSource"]);
    t.action = text(rec, &["eventName"]);
    t.region = text(rec, &["awsRegion"]).or_else(|| ctx.region.clone());
    t.account_id = text(rec, &["recipientAccountId"]).or_else(|| ctx.account.clone());

    let action = ev.target.action.clone().unwrap_or_default();
    let response = nested(rec, "responseElements");
    let error_code = get_ci(rec, "errorCode").and_then(fields::code_text);
    let reason = text(rec, &["errorMessage"]);
    let console_failure = action == "ConsoleLogin"
        && response
            .as_deref()
            .and_then(|r| text(r, &["ConsoleLogin"]))
            .is_some_and(|s| s.eq_ignore_ascii_case("Failure"));
    ev.outcome.success = error_code.is_none() && !console_failure;
    if !ev.outcome.success {
        ev.outcome.error_code = error_code;
        ev.outcome.reason = reason;
    }

    if ISSUING.contains(&action.as_str()) {
        let response = response.as_deref();
        ev.tokens.issued_access_key_id = response
            .and_then(|r| get_path(r, &["credentials", "accessKeyId"]))
            .and_then(scalar_text);
        if FEDERATED.contains(&action.as_str()) {
            if ev.actor.role_session_name.is_none() {
                ev.actor.role_session_name =
                    nested(rec, "requestParameters").and_then(|p| text(&p, &["roleSessionName"]));
            }
            if ev.actor.aws_user_name.is_none() {
                ev.actor.aws_user_name =
                    response.and_then(|r| text(r, &["subject", "subjectFromWebIdentityToken"]));
            }
        }
    }
    Ok(ev)
}

/// The record's own time: `eventTime`, else `@timestamp` (Logstash), else `p_event_time`
/// (Panther). A present field that is not a time is an error naming it.
fn record_time(
    rec: &Map<String, Value>,
    label: &'static str,
) -> Result<Option<DateTime<Utc>>, RecordError> {
    for key in ["eventTime", "@timestamp", "p_event_time"] {
        match get_ci(rec, key) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                return fields::parse_time(v)
                    .map(Some)
                    .ok_or_else(|| invalid(label, format!("{key} is not a time: {}", short(v))))
            }
        }
    }
    Ok(None)
}

/// An object field that may also arrive as JSON text (Log Analytics `dynamic` columns).
fn nested<'a>(rec: &'a Map<String, Value>, key: &str) -> Option<Cow<'a, Map<String, Value>>> {
    match get_ci(rec, key)? {
        Value::Object(m) => Some(Cow::Borrowed(m)),
        v @ Value::String(_) => match fields::dynamic(v)? {
            Value::Object(m) => Some(Cow::Owned(m)),
            _ => None,
        },
        _ => None,
    }
}

/// The session name of an assumed-role ARN
/// (`arn:aws:sts::123456789012:assumed-role/ROLE/SESSION` → `SESSION`).
fn assumed_role_session(arn: &str) -> Option<String> {
    let resource = arn.split_once(":assumed-role/")?.1;
    let (_role, session) = resource.split_once('/')?;
    (!session.is_empty()).then(|| session.to_string())
}

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`), when present.
fn arn_account(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let account = parts.nth(3)?;
    (!account.is_empty() && account.bytes().all(|b| b.is_ascii_digit()))
        .then(|| account.to_string())
}

/// A value for an error message, cut to a readable length.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or_default()),
        None => s,
    }
}

#[cfg(test)]
mod tests;
