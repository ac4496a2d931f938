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
use skein_model::{Event, WireShape};

use crate::fields::{self, Field, Resolution};
use raw::{expand_dynamic_columns, lookup, walk_strings};

mod raw;
mod text_value;

/// An event as rules see it. Cheap to build; `raw` is parsed only if a rule asks for a field
/// the model does not hold.
pub struct EventView<'a> {
    event: &'a Event,
    raw: OnceCell<Option<Value>>,
    ip_text: OnceCell<Option<IpText>>,
}

/// An address as `IpAddr`'s `Display` writes it, in place: every event a rule reads is
/// formatted once, and `to_string` was an allocation and the formatting machinery for each
/// (IPv4 addresses are written digit by digit).
#[derive(Clone, Copy)]
struct IpText {
    /// The longest text is 45 bytes (eight groups, the last two as an IPv4 address).
    buf: [u8; 48],
    len: u8,
}

impl IpText {
    fn new(ip: std::net::IpAddr) -> IpText {
        let mut text = IpText {
            buf: [0; 48],
            len: 0,
        };
        match ip {
            std::net::IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + octet / 10 % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            // (The buffer holds any IPv6 text: writing cannot fail.)
            std::net::IpAddr::V6(v6) => {
                let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{v6}"));
            }
        }
        text
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(usize::from(self.len)) {
            *slot = b;
            self.len += 1;
        }
    }

    fn as_str(&self) -> &str {
        skein_model::text::utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let start = usize::from(self.len);
        let end = start + s.len();
        let slot = self.buf.get_mut(start..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end as u8;
        Ok(())
    }
}

fn flag(v: Option<bool>) -> Option<EventValue<'static>> {
    v.map(EventValue::Bool)
}

fn num(v: Option<f64>) -> Option<EventValue<'static>> {
    v.map(EventValue::Float)
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

    /// The source address as text, formatted once per event.
    pub fn ip_text(&self) -> Option<&str> {
        self.ip_text
            .get_or_init(|| self.event.src_ip.map(IpText::new))
            .as_ref()
            .map(IpText::as_str)
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

    /// The value of a resolved field (a text field's through [`EventView::text_value`]).
    pub fn value(&self, field: Field) -> Option<EventValue<'_>> {
        use Field as F;
        if let Some(text) = self.text_value(field) {
            return text.map(|t| EventValue::Str(Cow::Borrowed(t)));
        }
        let e = self.event;
        match field {
            F::Shape => Some(EventValue::Str(Cow::Owned(format!("{:?}", e.shape)))),
            F::Time => Some(EventValue::Str(Cow::Owned(e.time.to_rfc3339()))),
            F::OutcomeSuccess => Some(EventValue::Bool(e.outcome.success)),
            F::ActorConsoleSession => flag(e.actor.console_session),
            F::GeoLatitude => num(e.geo.latitude),
            F::GeoLongitude => num(e.geo.longitude),
            F::TenantsHomeBlank => Some(EventValue::Bool(e.tenants.home_blank)),
            F::TenantsResourceBlank => Some(EventValue::Bool(e.tenants.resource_blank)),
            F::RiskEventTypes => list(&e.risk.event_types),
            F::SigninIsInteractive => flag(e.signin.is_interactive),
            F::RiskEventTypesV2 => self.risk_event_types_v2(),
            F::ErrorCodeNumber => self.error_code_number(),
            // Answered by `text_value` above.
            F::Id
            | F::Source
            | F::SrcIp
            | F::SrcHost
            | F::UserAgent
            | F::OutcomeErrorCode
            | F::OutcomeReason
            | F::ActorUserId
            | F::ActorUpn
            | F::ActorDisplayName
            | F::ActorAppId
            | F::ActorAppName
            | F::ActorServicePrincipalId
            | F::ActorAwsArn
            | F::ActorAwsIdentityType
            | F::ActorAccessKeyId
            | F::ActorAwsAccountId
            | F::ActorRoleSessionName
            | F::ActorAwsUserName
            | F::ActorAuthType
            | F::GeoCountry
            | F::GeoState
            | F::GeoCity
            | F::TenantsHome
            | F::TenantsResource
            | F::TokensUniqueTokenId
            | F::TokensSessionId
            | F::TokensCorrelationId
            | F::TokensTokenHash
            | F::TokensAwsSessionIssuer
            | F::TokensIssuedAccessKeyId
            | F::TargetResourceId
            | F::TargetResourceName
            | F::TargetStorageAccount
            | F::TargetObject
            | F::TargetService
            | F::TargetAction
            | F::TargetRegion
            | F::TargetAccountId
            | F::RiskLevelDuringSignin
            | F::RiskLevelAggregated
            | F::RiskState
            | F::RiskDetail
            | F::RiskEventTypesText
            | F::SigninCategory
            | F::SigninClientAppUsed
            | F::SigninAuthenticationRequirement
            | F::SigninConditionalAccessStatus
            | F::SigninCrossTenantAccessType
            | F::SigninAuthenticationProtocol
            | F::SigninUserType
            | F::SentRiskLevel
            | F::SentRiskState
            | F::SentAuthenticationRequirement
            | F::SentConditionalAccessStatus
            | F::SentClientAppUsed
            | F::SentCountry
            | F::SentHomeTenant
            | F::SentResourceTenant
            | F::EventDataset
            | F::EventOutcome
            | F::ResultType
            | F::Absent => None,
        }
    }

    /// A field by any name rules may use (slower than a loaded rule's tokens).
    pub fn field(&self, name: &str) -> Option<EventValue<'_>> {
        if let Some(f) = fields::from_token(name) {
            return self.value(f);
        }
        if let Some(raw) = fields::from_raw_token(name) {
            return self.raw_field(raw);
        }
        match fields::resolve(name, &[self.event.source]) {
            Resolution::Field(f) => self.value(f),
            Resolution::Raw => self.raw_field(name),
        }
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

impl crate::fast::ByField for EventView<'_> {
    fn by_field(&self, field: Field) -> Option<EventValue<'_>> {
        self.value(field)
    }

    fn text_field(&self, field: Field) -> Option<Option<&str>> {
        self.text_value(field)
    }
}

impl SigmaEvent for EventView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        self.field(path)
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
    use skein_model::Source;

    use proptest::prelude::*;

    proptest! {
        /// An address reads as `to_string` writes it.
        #[test]
        fn addresses_read_as_displayed(v4 in any::<[u8; 4]>(), v6 in any::<[u16; 8]>(), zeros in 0usize..8) {
            let v4 = std::net::IpAddr::from(v4);
            let text = IpText::new(v4);
            prop_assert_eq!(text.as_str(), v4.to_string());
            // Runs of zero groups, and mapped and compatible IPv4 forms.
            let mut groups = v6;
            for g in groups.iter_mut().skip(zeros).take(3) {
                *g = 0;
            }
            for v6 in [v6, groups, [0, 0, 0, 0, 0, 0xffff, v6[6], v6[7]], [0, 0, 0, 0, 0, 0, v6[6], v6[7]]] {
                let ip = std::net::IpAddr::from(v6);
                let text = IpText::new(ip);
                prop_assert_eq!(text.as_str(), ip.to_string());
            }
        }
    }
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
