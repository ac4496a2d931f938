//! Rendering of a [`SignIn`] into the Entra wire shapes: Graph `signIn` (beta and v1.0, camelCase),
//! Azure diagnostic records (`properties`), and Log Analytics rows (PascalCase, as objects or as
//! query-API row arrays).

use crate::catalog::{self, CITIES};
use crate::json::J;
use crate::population::Population;
use crate::rng::base64;
use crate::signin::{SignIn, SignInKind, TenantField};
use crate::time::{push_rfc3339, Frac};

/// Conditional Access policies of the tenant: (id, name, grant control).
const CA_POLICIES: &[(&str, &str, &str)] = &[
    (
        "3f1c2b7e-5a4d-4e8f-9b0a-6c7d8e9f0a1b",
        "Require MFA for all users",
        "Mfa",
    ),
    (
        "8a2d4c6e-1b3f-4a5c-8d7e-9f0a1b2c3d4e",
        "Block legacy authentication",
        "Block",
    ),
];

/// Legacy `riskEventTypes` names; anything else maps to `generic`.
const LEGACY_RISK: &[&str] = &[
    "unlikelyTravel",
    "anonymizedIPAddress",
    "maliciousIPAddress",
    "unfamiliarFeatures",
    "malwareInfectedIPAddress",
    "suspiciousIPAddress",
    "leakedCredentials",
    "investigationsThreatIntelligence",
];

pub(crate) fn legacy_risk(ev: &str) -> &str {
    if LEGACY_RISK.contains(&ev) {
        ev
    } else {
        "generic"
    }
}

pub(crate) fn tenant_str(t: &TenantField, out: &mut [u8; 36]) -> Option<usize> {
    match t {
        TenantField::Missing => None,
        TenantField::Empty => Some(0),
        TenantField::Id(g) => {
            let mut v = Vec::with_capacity(36);
            g.write_to(&mut v);
            out.copy_from_slice(&v);
            Some(36)
        }
    }
}

/// `"k":"<tenant>"` unless the field is missing.
fn tenant_field(j: &mut J, k: &str, t: &TenantField) {
    let mut b = [0u8; 36];
    if let Some(n) = tenant_str(t, &mut b) {
        j.key(k);
        j.str(std::str::from_utf8(&b[..n]).unwrap_or(""));
    }
}

fn time_field(j: &mut J, k: &str, t: i64, frac: Frac) {
    j.key(k);
    let mut v = Vec::with_capacity(30);
    v.push(b'"');
    push_rfc3339(&mut v, t, frac);
    v.push(b'"');
    j.raw(&v);
}

pub(crate) fn status_obj(j: &mut J, s: &SignIn) {
    j.begin_obj();
    j.key("errorCode");
    j.u64(u64::from(s.error));
    j.kopt("failureReason", catalog::failure_reason(s.error));
    j.kopt(
        "additionalDetails",
        match (s.error, s.mfa) {
            (0, Some("Previously satisfied")) => Some("MFA requirement satisfied by claim in the token"),
            (0, Some(_)) => Some("MFA completed in Azure AD"),
            (50126, _) => Some("The user didn't enter the right credentials. It's expected to see some number of these errors in your logs due to users making mistakes."),
            _ => None,
        },
    );
    j.end_obj();
}

pub(crate) fn device_obj(j: &mut J, s: &SignIn) {
    j.begin_obj();
    j.key("deviceId");
    match s.device_id {
        Some(g) => j.guid(g),
        None => j.str(""),
    }
    j.ks(
        "displayName",
        if s.device_id.is_some() {
            "CONTOSO-LT"
        } else {
            ""
        },
    );
    j.ks("operatingSystem", s.os);
    j.ks("browser", s.browser);
    j.kb("isCompliant", s.compliant);
    j.kb("isManaged", s.managed);
    j.ks("trustType", s.trust);
    j.end_obj();
}

pub(crate) fn location_obj(j: &mut J, s: &SignIn) {
    let c = &CITIES[s.city];
    j.begin_obj();
    j.ks("city", c.name);
    j.ks("state", c.state);
    j.ks("countryOrRegion", c.country);
    j.key("geoCoordinates");
    j.begin_obj();
    j.knull("altitude");
    j.key("latitude");
    j.f64(c.lat, 4);
    j.key("longitude");
    j.f64(c.lon, 4);
    j.end_obj();
    j.end_obj();
}

pub(crate) fn ca_policies(j: &mut J, s: &SignIn) {
    j.begin_arr();
    for (i, (id, name, grant)) in CA_POLICIES.iter().enumerate() {
        let result = match (s.ca_status, i) {
            ("success", 0) => "success",
            ("failure", 1) => "failure",
            _ => "notApplied",
        };
        j.begin_obj();
        j.ks("id", id);
        j.ks("displayName", name);
        j.key("enforcedGrantControls");
        j.str_arr(&[grant]);
        j.key("enforcedSessionControls");
        j.str_arr(&[]);
        j.ks("result", result);
        j.end_obj();
    }
    j.end_arr();
}

pub(crate) fn auth_details(j: &mut J, s: &SignIn) {
    j.begin_arr();
    if s.kind == SignInKind::ServicePrincipal {
        j.end_arr();
        return;
    }
    let step = |j: &mut J, method: &str, detail: &str, ok: bool, result: &str, req: &str| {
        j.begin_obj();
        time_field(j, "authenticationStepDateTime", s.time, Frac::None);
        j.ks("authenticationMethod", method);
        j.ks("authenticationMethodDetail", detail);
        j.kb("succeeded", ok);
        j.ks("authenticationStepResultDetail", result);
        j.ks("authenticationStepRequirement", req);
        j.end_obj();
    };
    match (s.error, s.mfa) {
        (50126, _) => step(
            j,
            "Password",
            "Password Hash Sync",
            false,
            "Invalid username or password or Invalid on-premise username or password.",
            "Primary authentication",
        ),
        (0, Some("Previously satisfied")) | (0, None) if s.kind == SignInKind::NonInteractive => {
            step(
                j,
                "Previously satisfied",
                "",
                true,
                "First factor requirement satisfied by claim in the token",
                "Primary authentication",
            )
        }
        (0, Some(m)) => {
            step(
                j,
                "Password",
                "Password Hash Sync",
                true,
                "Correct password",
                "Primary authentication",
            );
            step(
                j,
                m,
                "",
                true,
                "MFA successfully completed",
                "Multi-factor authentication",
            );
        }
        (0, None) => step(
            j,
            "Password",
            "Password Hash Sync",
            true,
            "Correct password",
            "Primary authentication",
        ),
        _ => step(
            j,
            "Password",
            "Password Hash Sync",
            true,
            "Correct password",
            "Primary authentication",
        ),
    }
    j.end_arr();
}

pub(crate) fn network_details(j: &mut J, s: &SignIn) {
    j.begin_arr();
    if let Some(n) = s.network {
        j.begin_obj();
        j.ks("networkType", "namedNetwork");
        j.key("networkNames");
        j.str_arr(&[n]);
        j.end_obj();
    }
    j.end_arr();
}

pub(crate) fn methods_used(s: &SignIn) -> &'static [&'static str] {
    match (s.error, s.mfa, s.kind) {
        (_, _, SignInKind::ServicePrincipal) => &[],
        (0, Some("Mobile app notification"), _) => &["Password", "Mobile app notification"],
        (0, Some("OATH verification code"), _) => &["Password", "OATH verification code"],
        (0, _, SignInKind::Interactive) => &["Password"],
        _ => &[],
    }
}

/// The fields of a Graph `signIn` (without the surrounding braces). `beta` adds the beta-only
/// fields the seeds need (tenants, authentication requirement, cross-tenant access type, ...).
pub fn graph_fields(j: &mut J, s: &SignIn, beta: bool) {
    j.kg("id", s.id);
    time_field(j, "createdDateTime", s.time, Frac::None);
    let sp = s.kind == SignInKind::ServicePrincipal;
    j.ks("userDisplayName", if sp { "" } else { &s.display });
    j.ks("userPrincipalName", &s.upn);
    j.key("userId");
    if sp {
        j.str("");
    } else {
        j.guid(s.user_id);
    }
    j.ks("appId", &s.app_id);
    j.ks("appDisplayName", &s.app_name);
    j.key("ipAddress");
    j.ip(&s.ip);
    j.ks("clientAppUsed", s.client_app);
    if beta {
        j.ks("userAgent", s.ua);
    }
    j.kg("correlationId", s.correlation);
    j.ks("conditionalAccessStatus", s.ca_status);
    if beta {
        j.kg("originalRequestId", s.original_request);
        j.ks("authenticationProtocol", s.protocol);
        j.ks("incomingTokenType", s.incoming);
    }
    j.kb("isInteractive", s.interactive);
    if beta {
        tenant_field(j, "homeTenantId", &s.home_tenant);
        j.ks("homeTenantName", "");
        j.kb("isTenantRestricted", false);
        j.ks("tokenIssuerName", "");
        j.ks("tokenIssuerType", "AzureAD");
        j.ku("processingTimeInMilliseconds", u64::from(s.processing_ms));
    }
    j.ks("riskDetail", s.risk_detail);
    j.ks("riskLevelAggregated", s.risk_agg);
    j.ks("riskLevelDuringSignIn", s.risk_level);
    j.ks("riskState", s.risk_state);
    j.key("riskEventTypes");
    j.begin_arr();
    for ev in s.risk_events {
        j.str(legacy_risk(ev));
    }
    j.end_arr();
    j.key("riskEventTypes_v2");
    j.str_arr(s.risk_events);
    j.ks("resourceDisplayName", s.resource);
    j.ks("resourceId", s.resource_id);
    if beta {
        tenant_field(j, "resourceTenantId", &s.resource_tenant);
        j.key("authenticationMethodsUsed");
        j.str_arr(methods_used(s));
        j.ks("authenticationRequirement", s.auth_req);
        j.ks("uniqueTokenIdentifier", &base64(&s.token));
        j.ks("signInIdentifier", &s.upn);
        j.key("signInEventTypes");
        j.str_arr(&[s.event_type()]);
        j.key("servicePrincipalId");
        if sp {
            j.guid(s.user_id);
        } else {
            j.str("");
        }
        if sp {
            j.ks("servicePrincipalName", &s.display);
            j.ks("clientCredentialType", s.credential_type);
        }
        j.ks("userType", s.user_type);
        j.kb("flaggedForReview", false);
        j.ku("autonomousSystemNumber", u64::from(CITIES[s.city].asn));
        j.ks("crossTenantAccessType", s.cross_tenant);
        j.kg("sessionId", s.session);
    }
    j.key("status");
    status_obj(j, s);
    j.key("deviceDetail");
    device_obj(j, s);
    j.key("location");
    location_obj(j, s);
    j.key("appliedConditionalAccessPolicies");
    ca_policies(j, s);
    if beta {
        j.key("authenticationProcessingDetails");
        j.begin_arr();
        j.begin_obj();
        j.ks("key", "Login Hint Present");
        j.ks("value", "True");
        j.end_obj();
        j.end_arr();
        j.key("networkLocationDetails");
        network_details(j, s);
        j.key("authenticationDetails");
        auth_details(j, s);
        j.key("authenticationRequirementPolicies");
        j.str_arr(&[]);
        j.key("sessionLifetimePolicies");
        j.str_arr(&[]);
    }
}

/// A Graph `signIn` object.
pub fn graph(j: &mut J, s: &SignIn, beta: bool) {
    j.begin_obj();
    graph_fields(j, s, beta);
    j.end_obj();
}

/// An Azure Monitor diagnostic record (Event Hub / storage archive shape).
pub fn diag(j: &mut J, s: &SignIn, pop: &Population) {
    j.begin_obj();
    time_field(j, "time", s.time, Frac::Ticks);
    let mut rid = b"/tenants/".to_vec();
    pop.tenant.write_to(&mut rid);
    rid.extend_from_slice(b"/providers/Microsoft.aadiam");
    j.ks("resourceId", std::str::from_utf8(&rid).unwrap_or(""));
    j.ks("operationName", "Sign-in activity");
    j.ks("operationVersion", "1.0");
    j.ks("category", s.category());
    j.kg("tenantId", pop.tenant);
    j.key("resultType");
    j.str(&s.error.to_string());
    j.ks("resultSignature", "None");
    if let Some(r) = catalog::failure_reason(s.error) {
        j.ks("resultDescription", r);
    }
    j.ku("durationMs", 0);
    j.key("callerIpAddress");
    j.ip(&s.ip);
    j.kg("correlationId", s.correlation);
    j.ks("identity", &s.display);
    j.ku("Level", 4);
    j.ks("location", CITIES[s.city].country);
    j.key("properties");
    j.begin_obj();
    graph_fields(j, s, true);
    j.end_obj();
    j.end_obj();
}
