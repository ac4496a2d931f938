//! [`EventView`]: a canonical [`Event`] seen through the field names rules use, as an
//! `rsigma_eval::Event` so that the Sigma evaluator can read it.
//!
//! Three namespaces resolve, in this order (see `correlations/README.md` for the tables):
//!
//! 1. **Canonical names** (`outcome.success`, `risk.level_during_signin`, `src_ip`, ...): the
//!    model's fields, written as in `skein_model` with dots between levels. skein's own rules
//!    use these; they mean the same thing for every wire shape.
//! 2. **The Elastic Azure integration's names** (`event.dataset`, `event.outcome`,
//!    `azure.signinlogs.properties.*`), for the faithful Elastic ports. Only the integration's
//!    fields resolve; any other name under that prefix is absent, as it is in Elastic.
//! 3. **The source's own field names**, matched without regard to case and, for diagnostic
//!    records, also under `properties`: `riskLevelDuringSignIn`, `RiskLevelDuringSignIn`,
//!    `eventName`, `userIdentity.type`, ... The sign-in fields the seed ports read are answered
//!    from the model (with the wire facts it keeps: blank vs missing tenants, the risk event
//!    list's text form); any other name parses `raw` once per event, lazily. This is what lets
//!    SigmaHQ's rules load unchanged.

use std::borrow::Cow;
use std::cell::OnceCell;

use rsigma_eval::{Event as SigmaEvent, EventValue};
use serde_json::Value;
use skein_model::{Event, Source, WireShape};

/// An event as rules see it. Cheap to build; `raw` is parsed only if a rule asks for a field
/// the model does not hold.
pub struct EventView<'a> {
    event: &'a Event,
    raw: OnceCell<Option<Value>>,
    ip_text: OnceCell<Option<String>>,
}

fn text(v: &Option<String>) -> Option<EventValue<'_>> {
    v.as_deref().map(|s| EventValue::Str(Cow::Borrowed(s)))
}

fn flag(v: Option<bool>) -> Option<EventValue<'static>> {
    v.map(EventValue::Bool)
}

fn num(v: Option<f64>) -> Option<EventValue<'static>> {
    v.map(EventValue::Float)
}

/// A value as the record had it: `Str("")` when the field was sent blank.
fn blankable<'e>(v: &'e Option<String>, blank: bool) -> Option<EventValue<'e>> {
    match v {
        Some(s) => Some(EventValue::Str(Cow::Borrowed(s))),
        None if blank => Some(EventValue::Str(Cow::Borrowed(""))),
        None => None,
    }
}

impl<'a> EventView<'a> {
    pub fn new(event: &'a Event) -> EventView<'a> {
        EventView {
            event,
            raw: OnceCell::new(),
            ip_text: OnceCell::new(),
        }
    }

    pub fn event(&self) -> &'a Event {
        self.event
    }

    fn ip(&self) -> Option<EventValue<'_>> {
        self.ip_text
            .get_or_init(|| self.event.src_ip.map(|ip| ip.to_string()))
            .as_deref()
            .map(|s| EventValue::Str(Cow::Borrowed(s)))
    }

    fn raw_value(&self) -> Option<&Value> {
        self.raw
            .get_or_init(|| {
                let mut v: Value = serde_json::from_str(&self.event.raw).ok()?;
                if self.event.shape == WireShape::LogAnalytics {
                    expand_dynamic_columns(&mut v);
                }
                Some(v)
            })
            .as_ref()
    }

    /// A canonical field (namespace 1), `None` when the name is not canonical or the value is
    /// absent; `Err(())` means "not a canonical name".
    fn canonical(&self, path: &str) -> Result<Option<EventValue<'_>>, ()> {
        let e = self.event;
        let (head, rest) = path.split_once('.').unwrap_or((path, ""));
        let v = match (head, rest) {
            ("id", "") => Some(EventValue::Str(Cow::Borrowed(e.id.as_str()))),
            ("source", "") => Some(EventValue::Str(Cow::Borrowed(e.source.as_str()))),
            ("shape", "") => Some(EventValue::Str(Cow::Owned(format!("{:?}", e.shape)))),
            ("time", "") => Some(EventValue::Str(Cow::Owned(e.time.to_rfc3339()))),
            ("src_ip", "") => self.ip(),
            ("src_host", "") => text(&e.src_host),
            ("user_agent", "") => text(&e.user_agent),
            ("outcome", f) => match f {
                "success" => Some(EventValue::Bool(e.outcome.success)),
                "error_code" => text(&e.outcome.error_code),
                "reason" => text(&e.outcome.reason),
                _ => return Err(()),
            },
            ("actor", f) => {
                let a = &e.actor;
                text(match f {
                    "user_id" => &a.user_id,
                    "upn" => &a.upn,
                    "display_name" => &a.display_name,
                    "app_id" => &a.app_id,
                    "app_name" => &a.app_name,
                    "service_principal_id" => &a.service_principal_id,
                    "aws_arn" => &a.aws_arn,
                    "aws_identity_type" => &a.aws_identity_type,
                    "access_key_id" => &a.access_key_id,
                    "aws_account_id" => &a.aws_account_id,
                    "role_session_name" => &a.role_session_name,
                    "aws_user_name" => &a.aws_user_name,
                    "auth_type" => &a.auth_type,
                    _ => return Err(()),
                })
            }
            ("geo", f) => match f {
                "country" => text(&e.geo.country),
                "state" => text(&e.geo.state),
                "city" => text(&e.geo.city),
                "latitude" => num(e.geo.latitude),
                "longitude" => num(e.geo.longitude),
                _ => return Err(()),
            },
            ("tenants", f) => match f {
                "home" => text(&e.tenants.home),
                "resource" => text(&e.tenants.resource),
                "home_blank" => Some(EventValue::Bool(e.tenants.home_blank)),
                "resource_blank" => Some(EventValue::Bool(e.tenants.resource_blank)),
                _ => return Err(()),
            },
            ("tokens", f) => {
                let t = &e.tokens;
                text(match f {
                    "unique_token_id" => &t.unique_token_id,
                    "session_id" => &t.session_id,
                    "correlation_id" => &t.correlation_id,
                    "token_hash" => &t.token_hash,
                    "aws_session_issuer" => &t.aws_session_issuer,
                    "issued_access_key_id" => &t.issued_access_key_id,
                    _ => return Err(()),
                })
            }
            ("target", f) => {
                let t = &e.target;
                text(match f {
                    "resource_id" => &t.resource_id,
                    "resource_name" => &t.resource_name,
                    "storage_account" => &t.storage_account,
                    "object" => &t.object,
                    "service" => &t.service,
                    "action" => &t.action,
                    "region" => &t.region,
                    "account_id" => &t.account_id,
                    _ => return Err(()),
                })
            }
            ("risk", f) => {
                let r = &e.risk;
                match f {
                    "level_during_signin" => text(&r.level_during_signin),
                    "level_aggregated" => text(&r.level_aggregated),
                    "state" => text(&r.state),
                    "detail" => text(&r.detail),
                    "event_types" => list(&r.event_types),
                    "event_types_text" => text(&r.event_types_text),
                    _ => return Err(()),
                }
            }
            ("signin", f) => {
                let s = &e.signin;
                match f {
                    "category" => text(&s.category),
                    "client_app_used" => text(&s.client_app_used),
                    "authentication_requirement" => text(&s.authentication_requirement),
                    "conditional_access_status" => text(&s.conditional_access_status),
                    "cross_tenant_access_type" => text(&s.cross_tenant_access_type),
                    "authentication_protocol" => text(&s.authentication_protocol),
                    "is_interactive" => flag(s.is_interactive),
                    "user_type" => text(&s.user_type),
                    _ => return Err(()),
                }
            }
            _ => return Err(()),
        };
        Ok(v)
    }

    /// A sign-in field as the record sent it: the verbatim text where normalisation changed
    /// it (whitespace, blank, case), else the canonical value.
    fn as_sent<'s>(&'s self, name: &str, canonical: &'s Option<String>) -> Option<EventValue<'s>> {
        match self.event.sent(name) {
            Some(t) => Some(EventValue::Str(Cow::Borrowed(t))),
            None => text(canonical),
        }
    }

    fn home_tenant_field(&self) -> Option<EventValue<'_>> {
        let t = &self.event.tenants;
        match self.event.sent("tenants.home") {
            Some(v) => Some(EventValue::Str(Cow::Borrowed(v))),
            None => blankable(&t.home, t.home_blank),
        }
    }

    /// `riskEventTypes_v2` as the record sent it: its text when it came as one string, the
    /// list when it came as an array, absent when missing or only the v1 field was present.
    fn risk_event_types_v2(&self) -> Option<EventValue<'_>> {
        let r = &self.event.risk;
        if r.event_types_from_v1 {
            return None;
        }
        match &r.event_types_text {
            Some(t) => Some(EventValue::Str(Cow::Borrowed(t))),
            None => list(&r.event_types),
        }
    }

    /// `resourceTenantId` as the record sent it (not the model's fallback to `tenantId`).
    fn resource_tenant_field(&self) -> Option<EventValue<'_>> {
        if let Some(v) = self.event.sent("tenants.resource") {
            return Some(EventValue::Str(Cow::Borrowed(v)));
        }
        let t = &self.event.tenants;
        if t.resource_inferred {
            t.resource_blank
                .then_some(EventValue::Str(Cow::Borrowed("")))
        } else {
            blankable(&t.resource, t.resource_blank)
        }
    }

    fn error_code_number(&self) -> Option<EventValue<'_>> {
        let o = &self.event.outcome;
        if o.success {
            return Some(EventValue::Int(0));
        }
        let code = o.error_code.as_deref()?;
        Some(match code.parse::<i64>() {
            Ok(n) => EventValue::Int(n),
            Err(_) => EventValue::Str(Cow::Borrowed(code)),
        })
    }

    fn result_type(&self) -> Option<EventValue<'_>> {
        let o = &self.event.outcome;
        if o.success {
            Some(EventValue::Str(Cow::Borrowed("0")))
        } else {
            text(&o.error_code)
        }
    }

    /// The sign-in fields the seed ports read, by the source's name (namespace 3), answered
    /// from the model. `Err(())`: not one of them.
    fn signin_field(&self, lower: &str) -> Result<Option<EventValue<'_>>, ()> {
        let e = self.event;
        let (r, s, a) = (&e.risk, &e.signin, &e.actor);
        Ok(match lower {
            "risklevelduringsignin" => {
                self.as_sent("risk.level_during_signin", &r.level_during_signin)
            }
            "risklevelaggregated" => text(&r.level_aggregated),
            "riskstate" => self.as_sent("risk.state", &r.state),
            "riskdetail" => text(&r.detail),
            "riskeventtypes_v2" => self.risk_event_types_v2(),
            "authenticationrequirement" => self.as_sent(
                "signin.authentication_requirement",
                &s.authentication_requirement,
            ),
            "conditionalaccessstatus" => self.as_sent(
                "signin.conditional_access_status",
                &s.conditional_access_status,
            ),
            "clientappused" => self.as_sent("signin.client_app_used", &s.client_app_used),
            "crosstenantaccesstype" => text(&s.cross_tenant_access_type),
            "hometenantid" => self.home_tenant_field(),
            "resourcetenantid" => self.resource_tenant_field(),
            "resulttype" => self.result_type(),
            "status.errorcode" => self.error_code_number(),
            "ipaddress" => self.ip(),
            "userprincipalname" => text(&a.upn),
            "userid" => text(&a.user_id),
            "appid" => text(&a.app_id),
            "appdisplayname" => text(&a.app_name),
            "location.countryorregion" => self.as_sent("geo.country", &e.geo.country),
            "location.city" => text(&e.geo.city),
            _ => return Err(()),
        })
    }

    /// The Elastic Azure integration's view (namespace 2); `Err(())`: not in that namespace.
    fn elastic(&self, path: &str) -> Result<Option<EventValue<'_>>, ()> {
        let e = self.event;
        if path == "event.dataset" {
            return Ok((e.source == Source::EntraSignin)
                .then_some(EventValue::Str(Cow::Borrowed("azure.signinlogs"))));
        }
        if path == "event.outcome" {
            let word = if e.outcome.success {
                "success"
            } else {
                "failure"
            };
            return Ok(Some(EventValue::Str(Cow::Borrowed(word))));
        }
        let Some(field) = path.strip_prefix("azure.signinlogs.properties.") else {
            return Err(());
        };
        if e.source != Source::EntraSignin {
            return Ok(None);
        }
        let (r, s, a) = (&e.risk, &e.signin, &e.actor);
        // Only the integration's own field names exist; anything else is absent, as in
        // Elastic (e.g. seed 003's `risk_level_during_sign_in`).
        Ok(match field {
            "risk_level_during_signin" => {
                self.as_sent("risk.level_during_signin", &r.level_during_signin)
            }
            "risk_level_aggregated" => text(&r.level_aggregated),
            "risk_state" => self.as_sent("risk.state", &r.state),
            "risk_detail" => text(&r.detail),
            "risk_event_types_v2" => self.risk_event_types_v2(),
            "authentication_requirement" => self.as_sent(
                "signin.authentication_requirement",
                &s.authentication_requirement,
            ),
            "conditional_access_status" => self.as_sent(
                "signin.conditional_access_status",
                &s.conditional_access_status,
            ),
            "client_app_used" => self.as_sent("signin.client_app_used", &s.client_app_used),
            "cross_tenant_access_type" => text(&s.cross_tenant_access_type),
            "is_interactive" => flag(s.is_interactive),
            "home_tenant_id" => self.home_tenant_field(),
            "resource_tenant_id" => self.resource_tenant_field(),
            "status.error_code" => self.error_code_number(),
            "location.country_or_region" => self.as_sent("geo.country", &e.geo.country),
            "location.city" => text(&e.geo.city),
            "user_principal_name" => text(&a.upn),
            "user_id" => text(&a.user_id),
            "app_id" => text(&a.app_id),
            "app_display_name" => text(&a.app_name),
            "ip_address" => self.ip(),
            _ => None,
        })
    }

    /// A field of the original record, by path, ignoring case; diagnostic records are also
    /// searched under `properties`.
    fn raw_field(&self, path: &str) -> Option<EventValue<'_>> {
        let root = self.raw_value()?;
        if let Some(v) = lookup(root, path) {
            return Some(v);
        }
        if self.event.shape == WireShape::Diagnostic {
            return root.get("properties").and_then(|p| lookup(p, path));
        }
        None
    }
}

/// The first segments of canonical names; a name starting with one of these must be canonical.
const CANONICAL_HEADS: &[&str] = &[
    "outcome", "actor", "geo", "tenants", "tokens", "target", "risk", "signin",
];

/// True when `name` is a canonical field name (namespace 1).
pub fn is_canonical_name(name: &str) -> bool {
    static PROBE: std::sync::LazyLock<Event> = std::sync::LazyLock::new(|| {
        Event::new(
            String::new(),
            Source::EntraSignin,
            WireShape::GraphSignin,
            chrono::DateTime::UNIX_EPOCH,
        )
    });
    EventView::new(&PROBE).canonical(name).is_ok()
}

/// False when `name` starts like a canonical name (`risk.`, `actor.`, ...) but is not one: a
/// typo that would otherwise fall through to the raw record and silently never match.
pub fn is_valid_canonical(name: &str) -> bool {
    let head = name.split('.').next().unwrap_or(name);
    !CANONICAL_HEADS.contains(&head) || is_canonical_name(name)
}

/// True when rules can read `name` without parsing the original record (for events of
/// `sources`): canonical names, the Elastic names, and the sign-in fields the model holds.
pub fn served_without_raw(name: &str, sources: &[Source]) -> bool {
    if is_canonical_name(name)
        || name.starts_with("list.")
        || name.starts_with("azure.signinlogs.properties.")
        || name == "event.dataset"
        || name == "event.outcome"
    {
        return true;
    }
    if sources != [Source::EntraSignin] {
        return false;
    }
    static PROBE: std::sync::LazyLock<Event> = std::sync::LazyLock::new(|| {
        Event::new(
            String::new(),
            Source::EntraSignin,
            WireShape::GraphSignin,
            chrono::DateTime::UNIX_EPOCH,
        )
    });
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_prefix("properties.").unwrap_or(&lower);
    EventView::new(&PROBE).signin_field(lower).is_ok()
}

fn list(items: &[String]) -> Option<EventValue<'_>> {
    (!items.is_empty()).then(|| {
        EventValue::Array(
            items
                .iter()
                .map(|s| EventValue::Str(Cow::Borrowed(s.as_str())))
                .collect(),
        )
    })
}

/// Log Analytics sends dynamic columns (`DeviceDetail`, `LocationDetails`, ...) as JSON text
/// (query API) or Python-repr text (pandas exports): parse them in place, as ingest does, so
/// that `DeviceDetail.isCompliant` reads the same whatever the export.
fn expand_dynamic_columns(v: &mut Value) {
    let Value::Object(map) = v else {
        return;
    };
    for cell in map.values_mut() {
        if let Value::String(t) = cell {
            let t = t.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                if let Some(parsed) = skein_ingest::fields::dynamic(cell) {
                    *cell = parsed;
                }
            }
        }
    }
}

/// The member of object `obj` named `seg`, exactly first and then ignoring case.
fn member<'v>(obj: &'v serde_json::Map<String, Value>, seg: &str) -> Option<&'v Value> {
    obj.get(seg).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(seg))
            .map(|(_, x)| x)
    })
}

/// Resolves a dotted path in `v`; a path that meets an array continues in each of its
/// members (as Sigma's JSON events do), giving every value found.
fn lookup_all<'v>(v: &'v Value, segs: &[&str], out: &mut Vec<&'v Value>) {
    match (v, segs.split_first()) {
        (_, None) => out.push(v),
        (Value::Array(items), Some(_)) => {
            for item in items {
                lookup_all(item, segs, out);
            }
        }
        (Value::Object(obj), Some((seg, rest))) => {
            if let Some(x) = member(obj, seg) {
                lookup_all(x, rest, out);
            }
        }
        _ => {}
    }
}

/// The value at a dotted path: one value, or an array of the values found through arrays.
fn lookup<'v>(v: &'v Value, path: &str) -> Option<EventValue<'v>> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut found = Vec::new();
    lookup_all(v, &segs, &mut found);
    match found.len() {
        0 => None,
        1 => Some(EventValue::from(found[0])),
        _ => Some(EventValue::Array(
            found.into_iter().map(EventValue::from).collect(),
        )),
    }
}

fn walk_strings(v: &Value, visit: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => visit(s),
        Value::Array(items) => items.iter().for_each(|i| walk_strings(i, visit)),
        Value::Object(map) => map.values().for_each(|i| walk_strings(i, visit)),
        _ => {}
    }
}

impl SigmaEvent for EventView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        if let Ok(v) = self.canonical(path) {
            return v;
        }
        if let Ok(v) = self.elastic(path) {
            return v;
        }
        if self.event.source == Source::EntraSignin {
            // Lower-case on the stack: this runs for every field lookup of every sign-in.
            let mut buf = [0u8; 64];
            if let Some(bytes) = buf.get_mut(..path.len()) {
                bytes.copy_from_slice(path.as_bytes());
                bytes.make_ascii_lowercase();
                if let Ok(lower) = std::str::from_utf8(bytes) {
                    let lower = lower.strip_prefix("properties.").unwrap_or(lower);
                    if let Ok(v) = self.signin_field(lower) {
                        return v;
                    }
                }
            }
        }
        self.raw_field(path)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        let mut found = false;
        self.visit_string_values(&mut |s| found = found || pred(s));
        found
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        if let Some(v) = self.raw_value() {
            walk_strings(v, &mut |s| out.push(Cow::Owned(s.to_string())));
        }
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        if let Some(v) = self.raw_value() {
            walk_strings(v, visit);
        }
    }

    fn to_json(&self) -> Value {
        self.raw_value().cloned().unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn signin(raw: &str) -> Event {
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut e = Event::new("s1".into(), Source::EntraSignin, WireShape::GraphSignin, t);
        e.raw = raw.to_string();
        e
    }

    fn s<'a>(v: Option<EventValue<'a>>) -> Option<String> {
        v.and_then(|v| v.as_str().map(|c| c.into_owned()))
    }

    #[test]
    fn canonical_elastic_and_source_names_resolve() {
        let mut e = signin(r#"{"deviceDetail":{"operatingSystem":"Windows"}}"#);
        e.risk.level_during_signin = Some("high".into());
        e.tenants.home_blank = true;
        e.tenants.resource = Some("t2".into());
        e.tenants.resource_inferred = true;
        e.outcome.success = true;
        let v = EventView::new(&e);
        assert_eq!(
            s(v.get_field("risk.level_during_signin")),
            Some("high".into())
        );
        assert_eq!(s(v.get_field("RiskLevelDuringSignIn")), Some("high".into()));
        assert_eq!(
            s(v.get_field("azure.signinlogs.properties.risk_level_during_signin")),
            Some("high".into())
        );
        assert!(v
            .get_field("azure.signinlogs.properties.risk_level_during_sign_in")
            .is_none());
        assert_eq!(s(v.get_field("homeTenantId")), Some(String::new()));
        assert!(v.get_field("tenants.home").is_none());
        assert!(v.get_field("resourceTenantId").is_none());
        assert_eq!(s(v.get_field("tenants.resource")), Some("t2".into()));
        assert_eq!(s(v.get_field("resultType")), Some("0".into()));
        assert_eq!(s(v.get_field("event.outcome")), Some("success".into()));
        assert_eq!(
            s(v.get_field("deviceDetail.OperatingSystem")),
            Some("Windows".into())
        );
        assert!(v.get_field("nope").is_none());
    }

    #[test]
    fn risk_event_types_keep_their_wire_form() {
        let mut e = signin("{}");
        e.risk.event_types = vec!["a".into(), "b".into()];
        let v = EventView::new(&e);
        assert!(matches!(
            v.get_field("riskEventTypes_v2"),
            Some(EventValue::Array(_))
        ));
        assert!(v.get_field("risk.event_types_text").is_none());
        e.risk.event_types_text = Some("a,b".into());
        let v = EventView::new(&e);
        assert_eq!(s(v.get_field("riskEventTypes_v2")), Some("a,b".into()));
        e.risk.event_types_from_v1 = true;
        let v = EventView::new(&e);
        assert!(v.get_field("riskEventTypes_v2").is_none());
        assert!(v.get_field("risk.event_types").is_some());
    }

    #[test]
    fn broken_raw_is_just_absent_fields() {
        let e = signin("{not json");
        let v = EventView::new(&e);
        assert!(v.get_field("anything.at.all").is_none());
        assert!(!v.any_string_value(&|_| true));
    }
}
