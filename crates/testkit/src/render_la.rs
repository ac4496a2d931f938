//! Log Analytics rendering of sign-ins (`SigninLogs`, `AADNonInteractiveUserSignInLogs`):
//! PascalCase columns, `ResultType` as a string, dynamic columns nested or as JSON text, and
//! `RiskEventTypes_V2` as JSON text or a comma-delimited string; rows as objects or as
//! query-API arrays.

use crate::catalog::{self, CITIES};
use crate::json::J;
use crate::population::Population;
use crate::render_entra::{
    auth_details, ca_policies, device_obj, legacy_risk, location_obj, methods_used,
    network_details, status_obj, tenant_str,
};
use crate::rng::base64;
use crate::signin::{RiskEnc, SignIn, SignInKind, TenantField};
use crate::time::{push_rfc3339, Frac};

/// Log Analytics column of the sign-in tables.
#[derive(Clone, Copy)]
enum C {
    TenantId,
    SourceSystem,
    TimeGenerated,
    ResourceId,
    OperationName,
    OperationVersion,
    Category,
    ResultType,
    ResultSignature,
    ResultDescription,
    DurationMs,
    CorrelationId,
    Resource,
    ResourceGroup,
    Identity,
    Level,
    Location,
    AlternateSignInName,
    AppDisplayName,
    AppId,
    AuthenticationDetails,
    AuthenticationMethodsUsed,
    AuthenticationProcessingDetails,
    AuthenticationProtocol,
    AuthenticationRequirement,
    AuthenticationRequirementPolicies,
    AutonomousSystemNumber,
    ClientAppUsed,
    ConditionalAccessPolicies,
    ConditionalAccessStatus,
    CreatedDateTime,
    CrossTenantAccessType,
    DeviceDetail,
    HomeTenantId,
    Id,
    IPAddress,
    IncomingTokenType,
    IsInteractive,
    IsRisky,
    LocationDetails,
    NetworkLocationDetails,
    OriginalRequestId,
    ProcessingTimeInMilliseconds,
    ResourceDisplayName,
    ResourceIdentity,
    ResourceTenantId,
    RiskDetail,
    RiskEventTypes,
    RiskEventTypesV2,
    RiskLevelAggregated,
    RiskLevelDuringSignIn,
    RiskState,
    ServicePrincipalId,
    SessionId,
    SignInIdentifier,
    SignInIdentifierType,
    Status,
    TokenIssuerType,
    UniqueTokenIdentifier,
    UserAgent,
    UserDisplayName,
    UserId,
    UserPrincipalName,
    UserType,
    Type,
}

/// (column, name, Log Analytics type), in table order.
const COLUMNS: &[(C, &str, &str)] = &[
    (C::TenantId, "TenantId", "string"),
    (C::SourceSystem, "SourceSystem", "string"),
    (C::TimeGenerated, "TimeGenerated", "datetime"),
    (C::ResourceId, "ResourceId", "string"),
    (C::OperationName, "OperationName", "string"),
    (C::OperationVersion, "OperationVersion", "string"),
    (C::Category, "Category", "string"),
    (C::ResultType, "ResultType", "string"),
    (C::ResultSignature, "ResultSignature", "string"),
    (C::ResultDescription, "ResultDescription", "string"),
    (C::DurationMs, "DurationMs", "long"),
    (C::CorrelationId, "CorrelationId", "string"),
    (C::Resource, "Resource", "string"),
    (C::ResourceGroup, "ResourceGroup", "string"),
    (C::Identity, "Identity", "string"),
    (C::Level, "Level", "string"),
    (C::Location, "Location", "string"),
    (C::AlternateSignInName, "AlternateSignInName", "string"),
    (C::AppDisplayName, "AppDisplayName", "string"),
    (C::AppId, "AppId", "string"),
    (C::AuthenticationDetails, "AuthenticationDetails", "string"),
    (
        C::AuthenticationMethodsUsed,
        "AuthenticationMethodsUsed",
        "string",
    ),
    (
        C::AuthenticationProcessingDetails,
        "AuthenticationProcessingDetails",
        "string",
    ),
    (
        C::AuthenticationProtocol,
        "AuthenticationProtocol",
        "string",
    ),
    (
        C::AuthenticationRequirement,
        "AuthenticationRequirement",
        "string",
    ),
    (
        C::AuthenticationRequirementPolicies,
        "AuthenticationRequirementPolicies",
        "string",
    ),
    (
        C::AutonomousSystemNumber,
        "AutonomousSystemNumber",
        "string",
    ),
    (C::ClientAppUsed, "ClientAppUsed", "string"),
    (
        C::ConditionalAccessPolicies,
        "ConditionalAccessPolicies",
        "dynamic",
    ),
    (
        C::ConditionalAccessStatus,
        "ConditionalAccessStatus",
        "string",
    ),
    (C::CreatedDateTime, "CreatedDateTime", "datetime"),
    (C::CrossTenantAccessType, "CrossTenantAccessType", "string"),
    (C::DeviceDetail, "DeviceDetail", "dynamic"),
    (C::HomeTenantId, "HomeTenantId", "string"),
    (C::Id, "Id", "string"),
    (C::IPAddress, "IPAddress", "string"),
    (C::IncomingTokenType, "IncomingTokenType", "string"),
    (C::IsInteractive, "IsInteractive", "bool"),
    (C::IsRisky, "IsRisky", "bool"),
    (C::LocationDetails, "LocationDetails", "dynamic"),
    (
        C::NetworkLocationDetails,
        "NetworkLocationDetails",
        "string",
    ),
    (C::OriginalRequestId, "OriginalRequestId", "string"),
    (
        C::ProcessingTimeInMilliseconds,
        "ProcessingTimeInMilliseconds",
        "string",
    ),
    (C::ResourceDisplayName, "ResourceDisplayName", "string"),
    (C::ResourceIdentity, "ResourceIdentity", "string"),
    (C::ResourceTenantId, "ResourceTenantId", "string"),
    (C::RiskDetail, "RiskDetail", "string"),
    (C::RiskEventTypes, "RiskEventTypes", "string"),
    (C::RiskEventTypesV2, "RiskEventTypes_V2", "string"),
    (C::RiskLevelAggregated, "RiskLevelAggregated", "string"),
    (C::RiskLevelDuringSignIn, "RiskLevelDuringSignIn", "string"),
    (C::RiskState, "RiskState", "string"),
    (C::ServicePrincipalId, "ServicePrincipalId", "string"),
    (C::SessionId, "SessionId", "string"),
    (C::SignInIdentifier, "SignInIdentifier", "string"),
    (C::SignInIdentifierType, "SignInIdentifierType", "string"),
    (C::Status, "Status", "dynamic"),
    (C::TokenIssuerType, "TokenIssuerType", "string"),
    (C::UniqueTokenIdentifier, "UniqueTokenIdentifier", "string"),
    (C::UserAgent, "UserAgent", "string"),
    (C::UserDisplayName, "UserDisplayName", "string"),
    (C::UserId, "UserId", "string"),
    (C::UserPrincipalName, "UserPrincipalName", "string"),
    (C::UserType, "UserType", "string"),
    (C::Type, "Type", "string"),
];

/// The Log Analytics table a sign-in belongs to.
pub fn la_table(s: &SignIn) -> &'static str {
    match s.kind {
        SignInKind::Interactive => "SigninLogs",
        SignInKind::NonInteractive => "AADNonInteractiveUserSignInLogs",
        SignInKind::ServicePrincipal => "AADServicePrincipalSignInLogs",
    }
}

/// The query API's `columns` array for the sign-in tables. `AADNonInteractiveUserSignInLogs`
/// declares the JSON-bearing columns as `string` rather than `dynamic`.
pub fn la_columns(j: &mut J, non_interactive: bool) {
    j.begin_arr();
    for (_, name, ty) in COLUMNS {
        j.begin_obj();
        j.ks("name", name);
        j.ks(
            "type",
            if non_interactive && *ty == "dynamic" {
                "string"
            } else {
                ty
            },
        );
        j.end_obj();
    }
    j.end_arr();
}

/// Renders the value of text columns that hold JSON (always text) and dynamic columns
/// (nested unless `text`).
fn nested(j: &mut J, tmp: &mut J, text: bool, f: impl FnOnce(&mut J)) {
    if text {
        tmp.clear();
        f(tmp);
        j.str_of_json(&tmp.buf);
    } else {
        f(j);
    }
}

fn risk_list(j: &mut J, s: &SignIn, legacy: bool) {
    let names = s
        .risk_events
        .iter()
        .map(|e| if legacy { legacy_risk(e) } else { e });
    match s.risk_enc {
        RiskEnc::JsonText => {
            let mut t = J::default();
            t.begin_arr();
            for n in names {
                t.str(n);
            }
            t.end_arr();
            j.str_of_json(&t.buf);
        }
        RiskEnc::Comma => j.str(&names.collect::<Vec<_>>().join(",")),
    }
}

fn la_value(j: &mut J, tmp: &mut J, c: C, s: &SignIn, pop: &Population, dyn_text: bool) {
    let tenant = |j: &mut J, t: &TenantField| {
        let mut b = [0u8; 36];
        let n = tenant_str(t, &mut b).unwrap_or(0);
        j.str(std::str::from_utf8(&b[..n]).unwrap_or(""));
    };
    match c {
        C::TenantId => j.guid(pop.workspace),
        C::SourceSystem => j.str("Azure AD"),
        C::TimeGenerated => {
            let mut v = vec![b'"'];
            push_rfc3339(&mut v, s.time + 1_500_000, Frac::Ticks);
            v.push(b'"');
            j.raw(&v);
        }
        C::ResourceId => {
            let mut rid = b"/tenants/".to_vec();
            pop.tenant.write_to(&mut rid);
            rid.extend_from_slice(b"/providers/Microsoft.aadiam");
            j.str(std::str::from_utf8(&rid).unwrap_or(""));
        }
        C::OperationName => j.str("Sign-in activity"),
        C::OperationVersion => j.str("1.0"),
        C::Category => j.str(s.category()),
        C::ResultType => j.str(&s.error.to_string()),
        C::ResultSignature => j.str(if s.success() { "SUCCESS" } else { "FAILURE" }),
        C::ResultDescription => j.str(catalog::failure_reason(s.error).unwrap_or("")),
        C::DurationMs => j.u64(0),
        C::CorrelationId => j.guid(s.correlation),
        C::Resource | C::ResourceGroup => j.str("Microsoft.aadiam"),
        C::Identity => j.str(&s.display),
        C::Level => j.str("4"),
        C::Location => j.str(CITIES[s.city].country),
        C::AlternateSignInName | C::SignInIdentifier => j.str(&s.upn),
        C::AppDisplayName => j.str(&s.app_name),
        C::AppId => j.str(&s.app_id),
        C::AuthenticationDetails => nested(j, tmp, true, |t| auth_details(t, s)),
        C::AuthenticationMethodsUsed => j.str(&methods_used(s).join(", ")),
        C::AuthenticationProcessingDetails => {
            j.str(r#"[{"key":"Login Hint Present","value":"True"}]"#)
        }
        C::AuthenticationProtocol => j.str(s.protocol),
        C::AuthenticationRequirement => j.str(s.auth_req),
        C::AuthenticationRequirementPolicies => j.str("[]"),
        C::AutonomousSystemNumber => j.str(&CITIES[s.city].asn.to_string()),
        C::ClientAppUsed => j.str(s.client_app),
        C::ConditionalAccessPolicies => nested(j, tmp, dyn_text, |t| ca_policies(t, s)),
        C::ConditionalAccessStatus => j.str(s.ca_status),
        C::CreatedDateTime => {
            let mut v = vec![b'"'];
            push_rfc3339(&mut v, s.time, Frac::Ticks);
            v.push(b'"');
            j.raw(&v);
        }
        C::CrossTenantAccessType => j.str(s.cross_tenant),
        C::DeviceDetail => nested(j, tmp, dyn_text, |t| device_obj(t, s)),
        C::HomeTenantId => tenant(j, &s.home_tenant),
        C::Id => j.guid(s.id),
        C::IPAddress => j.ip(&s.ip),
        C::IncomingTokenType => j.str(s.incoming),
        C::IsInteractive => j.bool(s.interactive),
        C::IsRisky => j.bool(!s.risk_events.is_empty() || s.risk_state == "atRisk"),
        C::LocationDetails => nested(j, tmp, dyn_text, |t| location_obj(t, s)),
        C::NetworkLocationDetails => nested(j, tmp, true, |t| network_details(t, s)),
        C::OriginalRequestId => j.guid(s.original_request),
        C::ProcessingTimeInMilliseconds => j.str(&s.processing_ms.to_string()),
        C::ResourceDisplayName => j.str(s.resource),
        C::ResourceIdentity => j.str(s.resource_id),
        C::ResourceTenantId => tenant(j, &s.resource_tenant),
        C::RiskDetail => j.str(s.risk_detail),
        C::RiskEventTypes => risk_list(j, s, true),
        C::RiskEventTypesV2 => risk_list(j, s, false),
        C::RiskLevelAggregated => j.str(s.risk_agg),
        C::RiskLevelDuringSignIn => j.str(s.risk_level),
        C::RiskState => j.str(s.risk_state),
        C::ServicePrincipalId => j.str(""),
        C::SessionId => j.guid(s.session),
        C::SignInIdentifierType => j.str("userPrincipalName"),
        C::Status => nested(j, tmp, dyn_text, |t| status_obj(t, s)),
        C::TokenIssuerType => j.str("AzureAD"),
        C::UniqueTokenIdentifier => j.str(&base64(&s.token)),
        C::UserAgent => j.str(s.ua),
        C::UserDisplayName => j.str(&s.display),
        C::UserId => j.guid(s.user_id),
        C::UserPrincipalName => j.str(&s.upn),
        C::UserType => j.str(s.user_type),
        C::Type => j.str(la_table(s)),
    }
}

/// A Log Analytics row as a JSON object (NDJSON exports, `az monitor` output). `SigninLogs`
/// dynamic columns are nested or JSON text per record; the non-interactive table's are text.
pub fn la_row_object(j: &mut J, tmp: &mut J, s: &SignIn, pop: &Population) {
    let text = s.dyn_text || s.kind != SignInKind::Interactive;
    j.begin_obj();
    for &(c, name, _) in COLUMNS {
        j.key(name);
        la_value(j, tmp, c, s, pop, text);
    }
    j.end_obj();
}

/// A Log Analytics query-API row: values in `la_columns` order, dynamic values as JSON text.
pub fn la_row_array(j: &mut J, tmp: &mut J, s: &SignIn, pop: &Population) {
    j.begin_arr();
    for &(c, _, _) in COLUMNS {
        la_value(j, tmp, c, s, pop, true);
    }
    j.end_arr();
}
