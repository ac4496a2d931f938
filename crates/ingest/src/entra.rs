//! Entra ID sign-ins in their three wire shapes, into canonical [`Event`]s
//! (source [`Source::EntraSignin`]):
//!
//! - [`from_graph`]: a Microsoft Graph `signIn` object (v1.0 and beta, camelCase);
//! - [`from_la_row`]: a Log Analytics row of `SigninLogs`, `AADNonInteractiveUserSignInLogs`,
//!   `AADServicePrincipalSignInLogs` or `AADManagedIdentitySignInLogs` (PascalCase);
//! - [`from_diagnostic`]: an Azure Monitor diagnostic record (`time`, `category`,
//!   `resultType`, `callerIpAddress`, ... around a Graph-like `properties{}`).
//!
//! This module owns the field mapping of SPEC §3 for sign-ins. It must not decide which shape
//! a record is (that is `detect`), do IO, or drop information: `raw` is kept unchanged so that
//! rules can read any field this mapping does not lift. It never panics on any JSON input.
//!
//! # Decisions
//! - **The same sign-in in every shape gets the same id and time**: id is `id` / `Id` /
//!   `properties.id` (else a digest of `raw`); time is `createdDateTime` /
//!   `CreatedDateTime` / `properties.createdDateTime`, falling back to `TimeGenerated` (LA) or
//!   the envelope `time` (diagnostic) only when absent. A present but unparseable time rejects.
//! - **Outcome**: Graph `status.errorCode`; LA `ResultType`, then `Status.errorCode`;
//!   diagnostic `properties.status.errorCode`, then `resultType`. Code 0 (or the word
//!   `Success`) is success with error code `"0"`; another number is a failure with that code;
//!   another word (`Failure`, only seen in `resultType`) is a failure with the word as code.
//!   `status.errorCode` must be an integer (or integer text) wherever it appears: `"abc"`, an
//!   object or a boolean there is a wrong type and rejects the record, naming the field. A
//!   record with no code at all is kept as a failure with no error code (no rule that keys on
//!   a code or on success can fire on it).
//! - **Dynamic columns** (`LocationDetails`, `Status`, ...) are read as nested JSON, as JSON
//!   text, or as Python-repr text (the pandas export
//!   `azure-sentinel-notebooks/aad_logons.converted.jsonl`, parsed by [`crate::pyrepr`]), so
//!   geo and status come through from that file. A cell that is none of those is left out and
//!   the event still parses (in LA rows; in Graph and diagnostic shapes a `status` that is not
//!   an object is a wrong type and rejects).
//! - **Category** is normalised to the diagnostic category names (`SignInLogs`,
//!   `NonInteractiveUserSignInLogs`, `ServicePrincipalSignInLogs`,
//!   `ManagedIdentitySignInLogs`) from Graph `signInEventTypes[0]` (`interactiveUser`, ...),
//!   LA `Category` (else the table name in `Type`) or the diagnostic `category`; an unknown
//!   value is kept as sent.
//! - **Tenants**: `homeTenantId` / `resourceTenantId`; the resource tenant falls back to LA
//!   `AADTenantId` or Graph-like `tenantId` (never LA `TenantId`, which is the workspace).
//!   Empty strings are `None` (with `home_blank` / `resource_blank` set, so that a rule can
//!   tell a blank field from a missing one); the resource tenant falls back only when the
//!   field is missing or blank. Duplicate JSON keys (the beta Graph sample repeats
//!   `homeTenantId` with two values) are resolved by `serde_json` before we see them: the last
//!   one wins; `raw` still holds both.

use std::borrow::Cow;

use serde_json::{Map, Value};
use skein_model::{Event, Source, WireShape};

use crate::fields::{self, Caller};
use crate::{invalid, RecordError};

const GRAPH: &str = "Graph signIn";
const LA: &str = "Log Analytics sign-in row";
const DIAG: &str = "sign-in diagnostic record";

/// The diagnostic categories that hold sign-ins (`SignInLogs`, `NonInteractiveUserSignInLogs`,
/// `ServicePrincipalSignInLogs`, `ManagedIdentitySignInLogs`), ignoring case.
pub fn is_signin_category(category: &str) -> bool {
    let c = category.trim();
    [
        "SignInLogs",
        "NonInteractiveUserSignInLogs",
        "ServicePrincipalSignInLogs",
        "ManagedIdentitySignInLogs",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(c))
}

/// The Log Analytics tables that hold sign-ins, ignoring case.
pub fn is_signin_table(table: &str) -> bool {
    let t = table.trim();
    [
        "SigninLogs",
        "AADNonInteractiveUserSignInLogs",
        "AADServicePrincipalSignInLogs",
        "AADManagedIdentitySignInLogs",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(t))
}

/// A Graph `signIn` object (camelCase).
pub fn from_graph(obj: &Map<String, Value>, raw: &str) -> Result<Event, RecordError> {
    build(obj, Kind::Graph, raw)
}

/// A Log Analytics sign-in row (PascalCase columns; dynamic columns nested or as text).
pub fn from_la_row(obj: &Map<String, Value>, raw: &str) -> Result<Event, RecordError> {
    build(obj, Kind::La, raw)
}

/// An Azure Monitor diagnostic record of a sign-in category.
pub fn from_diagnostic(obj: &Map<String, Value>, raw: &str) -> Result<Event, RecordError> {
    match fields::get_ci(obj, "properties") {
        None | Some(Value::Null) => build(&Map::new(), Kind::Diag(obj), raw),
        Some(v) => match object_of(v) {
            Some(props) => build(&props, Kind::Diag(obj), raw),
            None => Err(invalid(
                DIAG,
                format!("properties is not an object: {}", short(v)),
            )),
        },
    }
}

/// A nested value as an object: borrowed when it is one, parsed when it is JSON or
/// Python-repr text of one.
pub(crate) fn object_of(v: &Value) -> Option<Cow<'_, Map<String, Value>>> {
    match v {
        Value::Object(m) => Some(Cow::Borrowed(m)),
        Value::String(_) => match fields::dynamic(v) {
            Some(Value::Object(m)) => Some(Cow::Owned(m)),
            _ => None,
        },
        _ => None,
    }
}

/// A short rendering of a value for an error message.
pub(crate) fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 60 {
        let mut cut = 57;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

#[derive(Clone, Copy)]
enum Kind<'a> {
    Graph,
    La,
    /// The envelope around the Graph-like `properties`.
    Diag(&'a Map<String, Value>),
}

/// The Graph-like body of a record, with its key case.
struct Body<'a> {
    obj: &'a Map<String, Value>,
    pascal: bool,
}

impl<'a> Body<'a> {
    /// The field named `camel` (Graph) or `pascal` (LA), matched ignoring case. There is no
    /// fallback between the two names: LA `ResourceId` and `Location` mean other things than
    /// Graph `resourceId` and `location`.
    fn get(&self, camel: &str, pascal: &str) -> Option<&'a Value> {
        fields::get_ci(self.obj, if self.pascal { pascal } else { camel })
    }

    fn text(&self, camel: &str, pascal: &str) -> Option<String> {
        self.get(camel, pascal).and_then(fields::scalar_text)
    }
}

/// The sign-in fields the seed ports compare exactly, as sent, where normalisation changed
/// them (see `Event::verbatim`).
fn verbatim(b: &Body<'_>, ev: &Event) -> Vec<(String, String)> {
    let resource = if ev.tenants.resource_inferred {
        &None
    } else {
        &ev.tenants.resource
    };
    let country_sent = b
        .get("location", "LocationDetails")
        .and_then(object_of)
        .and_then(|loc| fields::get_ci(&loc, "countryOrRegion").cloned());
    let fields: [(&str, Option<Value>, &Option<String>); 8] = [
        (
            "risk.level_during_signin",
            b.get("riskLevelDuringSignIn", "RiskLevelDuringSignIn")
                .cloned(),
            &ev.risk.level_during_signin,
        ),
        (
            "risk.state",
            b.get("riskState", "RiskState").cloned(),
            &ev.risk.state,
        ),
        (
            "signin.authentication_requirement",
            b.get("authenticationRequirement", "AuthenticationRequirement")
                .cloned(),
            &ev.signin.authentication_requirement,
        ),
        (
            "signin.conditional_access_status",
            b.get("conditionalAccessStatus", "ConditionalAccessStatus")
                .cloned(),
            &ev.signin.conditional_access_status,
        ),
        (
            "signin.client_app_used",
            b.get("clientAppUsed", "ClientAppUsed").cloned(),
            &ev.signin.client_app_used,
        ),
        (
            "tenants.home",
            b.get("homeTenantId", "HomeTenantId").cloned(),
            &ev.tenants.home,
        ),
        (
            "tenants.resource",
            b.get("resourceTenantId", "ResourceTenantId").cloned(),
            resource,
        ),
        ("geo.country", country_sent, &ev.geo.country),
    ];
    fields
        .into_iter()
        .filter_map(|(name, sent, canonical)| match sent {
            Some(Value::String(t)) if canonical.as_deref() != Some(t.as_str()) => {
                Some((name.to_string(), t))
            }
            _ => None,
        })
        .collect()
}

/// A string field that is present but holds only whitespace.
fn is_blank(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.trim().is_empty())
}

/// A result code: a number, or a word such as `Success` / `Failure`.
enum Code {
    Num(i64),
    Word(String),
}

fn build(obj: &Map<String, Value>, kind: Kind<'_>, raw: &str) -> Result<Event, RecordError> {
    let (shape, wire) = match kind {
        Kind::Graph => (GRAPH, WireShape::GraphSignin),
        Kind::La => (LA, WireShape::LogAnalytics),
        Kind::Diag(_) => (DIAG, WireShape::Diagnostic),
    };
    let b = Body {
        obj,
        pascal: matches!(kind, Kind::La),
    };
    let env = match kind {
        Kind::Diag(e) => Some(e),
        _ => None,
    };
    let env_get = |k: &str| env.and_then(|e| fields::get_ci(e, k));
    let env_text = |k: &str| env_get(k).and_then(fields::scalar_text);

    let time = signin_time(&b, env, shape)?;
    let id = b
        .text("id", "Id")
        .or_else(|| env_text("id"))
        .unwrap_or_else(|| fields::digest_id("sha:", raw));
    let mut ev = Event::new(id, Source::EntraSignin, wire, time);

    // Outcome.
    let status = match b.get("status", "Status") {
        None | Some(Value::Null) => None,
        Some(v) => match object_of(v) {
            Some(s) => Some(s),
            None if matches!(kind, Kind::La) => None,
            None => {
                return Err(invalid(
                    shape,
                    format!("status is not an object: {}", short(v)),
                ))
            }
        },
    };
    let status_code = || -> Result<Option<Code>, RecordError> {
        match status
            .as_deref()
            .and_then(|s| fields::get_ci(s, "errorCode"))
        {
            Some(v) => code(v, "status.errorCode", true, shape),
            None => Ok(None),
        }
    };
    let result = match kind {
        Kind::Graph => status_code()?,
        Kind::La => match b.get("", "ResultType") {
            Some(v) => match code(v, "ResultType", false, shape)? {
                Some(c) => Some(c),
                None => status_code()?,
            },
            None => status_code()?,
        },
        Kind::Diag(_) => match status_code()? {
            Some(c) => Some(c),
            None => match env_get("resultType") {
                Some(v) => code(v, "resultType", false, shape)?,
                None => None,
            },
        },
    };
    let failure_reason = || {
        status
            .as_deref()
            .and_then(|s| fields::text(s, &["failureReason"]))
    };
    ev.outcome.reason = match kind {
        Kind::Graph => failure_reason(),
        Kind::La => b.text("", "ResultDescription").or_else(failure_reason),
        Kind::Diag(_) => failure_reason().or_else(|| env_text("resultDescription")),
    };
    match result {
        Some(Code::Num(0)) => set_success(&mut ev),
        Some(Code::Word(w)) if w.eq_ignore_ascii_case("success") => set_success(&mut ev),
        Some(Code::Num(n)) => ev.outcome.error_code = Some(n.to_string()),
        Some(Code::Word(w)) => ev.outcome.error_code = Some(w),
        None => {}
    }

    // Actor.
    let a = &mut ev.actor;
    a.user_id = b.text("userId", "UserId").map(|s| s.to_ascii_lowercase());
    a.upn = b
        .text("userPrincipalName", "UserPrincipalName")
        .map(|s| s.to_lowercase());
    a.display_name = b.text("userDisplayName", "UserDisplayName");
    a.app_id = b.text("appId", "AppId");
    a.app_name = b
        .text("appDisplayName", "AppDisplayName")
        .or_else(|| b.text("servicePrincipalName", "ServicePrincipalName"));
    a.service_principal_id = b.text("servicePrincipalId", "ServicePrincipalId");

    // Source address and client.
    let ip = b
        .text("ipAddress", "IPAddress")
        .or_else(|| env_text("callerIpAddress"));
    match ip.as_deref().and_then(fields::parse_caller) {
        Some(Caller::Ip(ip)) => ev.src_ip = Some(ip),
        Some(Caller::Host(h)) => ev.src_host = Some(h),
        None => {}
    }
    ev.user_agent = b.text("userAgent", "UserAgent");

    // Geo.
    if let Some(loc) = b.get("location", "LocationDetails").and_then(object_of) {
        let g = &mut ev.geo;
        g.city = fields::text(&loc, &["city"]);
        g.state = fields::text(&loc, &["state"]);
        g.country = fields::text(&loc, &["countryOrRegion"]);
        g.latitude =
            fields::get_path(&loc, &["geoCoordinates", "latitude"]).and_then(fields::number);
        g.longitude =
            fields::get_path(&loc, &["geoCoordinates", "longitude"]).and_then(fields::number);
    }
    if ev.geo.country.is_none() {
        ev.geo.country = match kind {
            Kind::La => b.text("", "Location"),
            Kind::Diag(_) => env_text("location"),
            Kind::Graph => None,
        };
    }
    if let Some(c) = &mut ev.geo.country {
        c.make_ascii_uppercase();
    }

    // Tenants.
    ev.tenants.home = b.text("homeTenantId", "HomeTenantId");
    ev.tenants.home_blank =
        ev.tenants.home.is_none() && b.get("homeTenantId", "HomeTenantId").is_some_and(is_blank);
    ev.tenants.resource = b.text("resourceTenantId", "ResourceTenantId");
    ev.tenants.resource_blank = ev.tenants.resource.is_none()
        && b.get("resourceTenantId", "ResourceTenantId")
            .is_some_and(is_blank);
    if ev.tenants.resource.is_none() {
        ev.tenants.resource = b
            .text("tenantId", "AADTenantId")
            .or_else(|| env_text("tenantId"));
        ev.tenants.resource_inferred = ev.tenants.resource.is_some();
    }

    // Tokens.
    ev.tokens.unique_token_id = b.text("uniqueTokenIdentifier", "UniqueTokenIdentifier");
    ev.tokens.session_id = b.text("sessionId", "SessionId");
    ev.tokens.correlation_id = b
        .text("correlationId", "CorrelationId")
        .or_else(|| env_text("correlationId"));

    // Target.
    ev.target.resource_id = b.text("resourceId", "ResourceIdentity");
    ev.target.resource_name = b.text("resourceDisplayName", "ResourceDisplayName");
    ev.target.action = Some("Sign-in activity".to_string());

    // Risk.
    let r = &mut ev.risk;
    r.level_during_signin = b.text("riskLevelDuringSignIn", "RiskLevelDuringSignIn");
    r.level_aggregated = b.text("riskLevelAggregated", "RiskLevelAggregated");
    r.state = b.text("riskState", "RiskState");
    r.detail = b.text("riskDetail", "RiskDetail");
    let v2 = b.get("riskEventTypes_v2", "RiskEventTypes_V2");
    r.event_types_text = v2.and_then(Value::as_str).map(str::to_string);
    r.event_types = v2
        .map(fields::string_list)
        .filter(|l| !l.is_empty())
        .unwrap_or_default();
    if r.event_types.is_empty() {
        r.event_types = b
            .get("riskEventTypes", "RiskEventTypes")
            .map(fields::string_list)
            .unwrap_or_default();
        r.event_types_from_v1 = !r.event_types.is_empty();
    }

    // Sign-in details.
    let s = &mut ev.signin;
    s.category = match kind {
        Kind::Graph => b
            .get("signInEventTypes", "SignInEventTypes")
            .and_then(|v| fields::string_list(v).into_iter().next()),
        Kind::La => b.text("", "Category").or_else(|| b.text("", "Type")),
        Kind::Diag(_) => env_text("category"),
    }
    .map(normalise_category);
    s.client_app_used = b.text("clientAppUsed", "ClientAppUsed");
    s.authentication_requirement = b.text("authenticationRequirement", "AuthenticationRequirement");
    s.conditional_access_status = b.text("conditionalAccessStatus", "ConditionalAccessStatus");
    s.cross_tenant_access_type = b.text("crossTenantAccessType", "CrossTenantAccessType");
    s.authentication_protocol = b.text("authenticationProtocol", "AuthenticationProtocol");
    s.is_interactive = b
        .get("isInteractive", "IsInteractive")
        .and_then(fields::boolean);
    s.user_type = b.text("userType", "UserType");

    ev.verbatim = verbatim(&b, &ev);
    ev.raw = raw.to_string();
    Ok(ev)
}

fn set_success(ev: &mut Event) {
    ev.outcome.success = true;
    ev.outcome.error_code = Some("0".to_string());
}

/// `createdDateTime`, else `TimeGenerated` / `time` (of the envelope for diagnostic records).
fn signin_time(
    b: &Body<'_>,
    env: Option<&Map<String, Value>>,
    shape: &'static str,
) -> Result<chrono::DateTime<chrono::Utc>, RecordError> {
    let present =
        |v: &&Value| !matches!(v, Value::Null) && v.as_str().is_none_or(|s| !s.trim().is_empty());
    let (field, v) = match b.get("createdDateTime", "CreatedDateTime").filter(present) {
        Some(v) => ("createdDateTime", v),
        None => {
            let fallback = env.unwrap_or(b.obj);
            match ["TimeGenerated", "time"]
                .iter()
                .find_map(|k| fields::get_ci(fallback, k).filter(present).map(|v| (*k, v)))
            {
                Some(found) => found,
                None => return Err(invalid(shape, "no createdDateTime, TimeGenerated or time")),
            }
        }
    };
    fields::parse_time(v)
        .ok_or_else(|| invalid(shape, format!("{field} is not a time: {}", short(v))))
}

/// Reads a result code. `numeric` codes (`status.errorCode`) must be integers or integer
/// text; others may also be words (`Success`, `Failure`).
fn code(
    v: &Value,
    field: &str,
    numeric: bool,
    shape: &'static str,
) -> Result<Option<Code>, RecordError> {
    let wrong = || invalid(shape, format!("{field} is not an error code: {}", short(v)));
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(Code::Num(i))),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Ok(Some(Code::Num(f as i64)))
            }
            _ => Err(wrong()),
        },
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                Ok(None)
            } else if let Ok(i) = t.parse::<i64>() {
                Ok(Some(Code::Num(i)))
            } else if numeric {
                Err(wrong())
            } else {
                Ok(Some(Code::Word(t.to_string())))
            }
        }
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err(wrong()),
    }
}

/// Maps Graph event types and LA table names onto the diagnostic category names.
fn normalise_category(c: String) -> String {
    const MAP: [(&str, &str); 12] = [
        ("SignInLogs", "SignInLogs"),
        ("SigninLogs", "SignInLogs"),
        ("interactiveUser", "SignInLogs"),
        (
            "NonInteractiveUserSignInLogs",
            "NonInteractiveUserSignInLogs",
        ),
        (
            "AADNonInteractiveUserSignInLogs",
            "NonInteractiveUserSignInLogs",
        ),
        ("nonInteractiveUser", "NonInteractiveUserSignInLogs"),
        ("ServicePrincipalSignInLogs", "ServicePrincipalSignInLogs"),
        (
            "AADServicePrincipalSignInLogs",
            "ServicePrincipalSignInLogs",
        ),
        ("servicePrincipal", "ServicePrincipalSignInLogs"),
        ("ManagedIdentitySignInLogs", "ManagedIdentitySignInLogs"),
        ("AADManagedIdentitySignInLogs", "ManagedIdentitySignInLogs"),
        ("managedIdentity", "ManagedIdentitySignInLogs"),
    ];
    MAP.iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(&c))
        .map_or(c, |(_, to)| (*to).to_string())
}

#[cfg(test)]
mod tests;
