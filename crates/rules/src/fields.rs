//! The field names rules may use, resolved once to a [`Field`].
//!
//! Three namespaces (see `correlations/README.md`): canonical names, the Elastic Azure
//! integration's names (`event.*`, `azure.signinlogs.properties.*`) and, for sign-ins, the
//! source's own names (Graph camelCase, Log Analytics PascalCase, diagnostic `properties.*`,
//! matched without regard to case). A name in none of them is read from the original record
//! ([`Resolution::Raw`]).
//!
//! Loading a rule rewrites every resolvable field name of its detection to a short token
//! ([`token`]), so that evaluation finds the field with one byte test and an index instead of
//! comparing names for every event.

use skein_model::Source;

macro_rules! fields {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// A field rules can read without parsing the original record.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Field { $($(#[$doc])* $name),* }
        impl Field {
            /// Every field, in declaration order (a field's index is its token).
            pub const ALL: &'static [Field] = &[$(Field::$name),*];
        }
    };
}

fields! {
    Id, Source, Shape, Time, SrcIp, SrcHost, UserAgent,
    OutcomeSuccess, OutcomeErrorCode, OutcomeReason,
    ActorUserId, ActorUpn, ActorDisplayName, ActorAppId, ActorAppName, ActorServicePrincipalId,
    ActorAwsArn, ActorAwsIdentityType, ActorAccessKeyId, ActorAwsAccountId,
    ActorRoleSessionName, ActorAwsUserName, ActorAuthType, ActorConsoleSession,
    GeoCountry, GeoState, GeoCity, GeoLatitude, GeoLongitude,
    TenantsHome, TenantsResource, TenantsHomeBlank, TenantsResourceBlank,
    TokensUniqueTokenId, TokensSessionId, TokensCorrelationId, TokensTokenHash,
    TokensAwsSessionIssuer, TokensIssuedAccessKeyId,
    TargetResourceId, TargetResourceName, TargetStorageAccount, TargetObject, TargetService,
    TargetAction, TargetRegion, TargetAccountId,
    RiskLevelDuringSignin, RiskLevelAggregated, RiskState, RiskDetail, RiskEventTypes,
    RiskEventTypesText,
    SigninCategory, SigninClientAppUsed, SigninAuthenticationRequirement,
    SigninConditionalAccessStatus, SigninCrossTenantAccessType, SigninAuthenticationProtocol,
    SigninIsInteractive, SigninUserType,
    /// The risk level as the record sent it.
    SentRiskLevel,
    SentRiskState,
    SentAuthenticationRequirement,
    SentConditionalAccessStatus,
    SentClientAppUsed,
    /// `homeTenantId` as sent: `""` when blank.
    SentHomeTenant,
    /// `resourceTenantId` as sent (not the model's fallback to `tenantId`).
    SentResourceTenant,
    SentCountry,
    /// `riskEventTypes_v2`: its text when sent as one string, else the list; absent when
    /// missing or only the v1 field was sent.
    RiskEventTypesV2,
    /// `"0"` on success, else the error code.
    ResultType,
    /// The error code as a number (0 on success).
    ErrorCodeNumber,
    /// `azure.signinlogs` for sign-ins.
    EventDataset,
    /// `success` / `failure`.
    EventOutcome,
    /// A name in the Elastic namespace that the integration does not have: always absent.
    Absent,
}

/// Canonical names (namespace 1).
const CANONICAL: &[(&str, Field)] = &[
    ("id", Field::Id),
    ("source", Field::Source),
    ("shape", Field::Shape),
    ("time", Field::Time),
    ("src_ip", Field::SrcIp),
    ("src_host", Field::SrcHost),
    ("user_agent", Field::UserAgent),
    ("outcome.success", Field::OutcomeSuccess),
    ("outcome.error_code", Field::OutcomeErrorCode),
    ("outcome.reason", Field::OutcomeReason),
    ("actor.user_id", Field::ActorUserId),
    ("actor.upn", Field::ActorUpn),
    ("actor.display_name", Field::ActorDisplayName),
    ("actor.app_id", Field::ActorAppId),
    ("actor.app_name", Field::ActorAppName),
    ("actor.service_principal_id", Field::ActorServicePrincipalId),
    ("actor.aws_arn", Field::ActorAwsArn),
    ("actor.aws_identity_type", Field::ActorAwsIdentityType),
    ("actor.access_key_id", Field::ActorAccessKeyId),
    ("actor.aws_account_id", Field::ActorAwsAccountId),
    ("actor.role_session_name", Field::ActorRoleSessionName),
    ("actor.aws_user_name", Field::ActorAwsUserName),
    ("actor.auth_type", Field::ActorAuthType),
    ("actor.console_session", Field::ActorConsoleSession),
    ("geo.country", Field::GeoCountry),
    ("geo.state", Field::GeoState),
    ("geo.city", Field::GeoCity),
    ("geo.latitude", Field::GeoLatitude),
    ("geo.longitude", Field::GeoLongitude),
    ("tenants.home", Field::TenantsHome),
    ("tenants.resource", Field::TenantsResource),
    ("tenants.home_blank", Field::TenantsHomeBlank),
    ("tenants.resource_blank", Field::TenantsResourceBlank),
    ("tokens.unique_token_id", Field::TokensUniqueTokenId),
    ("tokens.session_id", Field::TokensSessionId),
    ("tokens.correlation_id", Field::TokensCorrelationId),
    ("tokens.token_hash", Field::TokensTokenHash),
    ("tokens.aws_session_issuer", Field::TokensAwsSessionIssuer),
    (
        "tokens.issued_access_key_id",
        Field::TokensIssuedAccessKeyId,
    ),
    ("target.resource_id", Field::TargetResourceId),
    ("target.resource_name", Field::TargetResourceName),
    ("target.storage_account", Field::TargetStorageAccount),
    ("target.object", Field::TargetObject),
    ("target.service", Field::TargetService),
    ("target.action", Field::TargetAction),
    ("target.region", Field::TargetRegion),
    ("target.account_id", Field::TargetAccountId),
    ("risk.level_during_signin", Field::RiskLevelDuringSignin),
    ("risk.level_aggregated", Field::RiskLevelAggregated),
    ("risk.state", Field::RiskState),
    ("risk.detail", Field::RiskDetail),
    ("risk.event_types", Field::RiskEventTypes),
    ("risk.event_types_text", Field::RiskEventTypesText),
    ("signin.category", Field::SigninCategory),
    ("signin.client_app_used", Field::SigninClientAppUsed),
    (
        "signin.authentication_requirement",
        Field::SigninAuthenticationRequirement,
    ),
    (
        "signin.conditional_access_status",
        Field::SigninConditionalAccessStatus,
    ),
    (
        "signin.cross_tenant_access_type",
        Field::SigninCrossTenantAccessType,
    ),
    (
        "signin.authentication_protocol",
        Field::SigninAuthenticationProtocol,
    ),
    ("signin.is_interactive", Field::SigninIsInteractive),
    ("signin.user_type", Field::SigninUserType),
];

/// The Elastic Azure integration's sign-in fields, after `azure.signinlogs.properties.`.
const ELASTIC_SIGNIN: &[(&str, Field)] = &[
    ("risk_level_during_signin", Field::SentRiskLevel),
    ("risk_level_aggregated", Field::RiskLevelAggregated),
    ("risk_state", Field::SentRiskState),
    ("risk_detail", Field::RiskDetail),
    ("risk_event_types_v2", Field::RiskEventTypesV2),
    (
        "authentication_requirement",
        Field::SentAuthenticationRequirement,
    ),
    (
        "conditional_access_status",
        Field::SentConditionalAccessStatus,
    ),
    ("client_app_used", Field::SentClientAppUsed),
    (
        "cross_tenant_access_type",
        Field::SigninCrossTenantAccessType,
    ),
    ("is_interactive", Field::SigninIsInteractive),
    ("home_tenant_id", Field::SentHomeTenant),
    ("resource_tenant_id", Field::SentResourceTenant),
    ("status.error_code", Field::ErrorCodeNumber),
    ("location.country_or_region", Field::SentCountry),
    ("location.city", Field::GeoCity),
    ("user_principal_name", Field::ActorUpn),
    ("user_id", Field::ActorUserId),
    ("app_id", Field::ActorAppId),
    ("app_display_name", Field::ActorAppName),
    ("ip_address", Field::SrcIp),
];

/// The sign-in fields the seed ports read by the source's own names (compared ignoring case,
/// after an optional `properties.`), answered from the model.
const SIGNIN_NAMES: &[(&str, Field)] = &[
    ("riskLevelDuringSignIn", Field::SentRiskLevel),
    ("riskLevelAggregated", Field::RiskLevelAggregated),
    ("riskState", Field::SentRiskState),
    ("riskDetail", Field::RiskDetail),
    ("riskEventTypes_v2", Field::RiskEventTypesV2),
    (
        "authenticationRequirement",
        Field::SentAuthenticationRequirement,
    ),
    (
        "conditionalAccessStatus",
        Field::SentConditionalAccessStatus,
    ),
    ("clientAppUsed", Field::SentClientAppUsed),
    ("crossTenantAccessType", Field::SigninCrossTenantAccessType),
    ("homeTenantId", Field::SentHomeTenant),
    ("resourceTenantId", Field::SentResourceTenant),
    ("resultType", Field::ResultType),
    ("status.errorCode", Field::ErrorCodeNumber),
    ("ipAddress", Field::SrcIp),
    ("userPrincipalName", Field::ActorUpn),
    ("userId", Field::ActorUserId),
    ("appId", Field::ActorAppId),
    ("appDisplayName", Field::ActorAppName),
    ("location.countryOrRegion", Field::SentCountry),
    ("location.city", Field::GeoCity),
];

const ELASTIC_PREFIX: &str = "azure.signinlogs.properties.";

/// The first segments of canonical names; a name starting with one of these must be canonical.
const CANONICAL_HEADS: &[&str] = &[
    "outcome", "actor", "geo", "tenants", "tokens", "target", "risk", "signin",
];

/// Where a field name's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Field(Field),
    /// Only the original record holds it.
    Raw,
}

/// The canonical field `name` names, if any.
pub fn canonical(name: &str) -> Option<Field> {
    CANONICAL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Resolves `name` for events of `sources` (source names of sign-in fields resolve only for
/// rules that read sign-ins alone).
pub fn resolve(name: &str, sources: &[Source]) -> Resolution {
    if let Some(f) = canonical(name) {
        return Resolution::Field(f);
    }
    match name {
        "event.dataset" => return Resolution::Field(Field::EventDataset),
        "event.outcome" => return Resolution::Field(Field::EventOutcome),
        _ => {}
    }
    if let Some(rest) = name.strip_prefix(ELASTIC_PREFIX) {
        let f = ELASTIC_SIGNIN
            .iter()
            .find(|(n, _)| *n == rest)
            .map_or(Field::Absent, |(_, f)| *f);
        return Resolution::Field(f);
    }
    if sources == [Source::EntraSignin] {
        let bare = match name.get(..11) {
            Some(p) if p.eq_ignore_ascii_case("properties.") => &name[11..],
            _ => name,
        };
        if let Some((_, f)) = SIGNIN_NAMES
            .iter()
            .find(|(n, _)| n.len() == bare.len() && n.eq_ignore_ascii_case(bare))
        {
            return Resolution::Field(*f);
        }
    }
    Resolution::Raw
}

/// True when `name` is a canonical field name.
pub fn is_canonical_name(name: &str) -> bool {
    canonical(name).is_some()
}

/// False when `name` starts like a canonical name (`risk.`, `actor.`, ...) but is not one: a
/// typo that would otherwise fall through to the raw record and silently never match.
pub fn is_valid_canonical(name: &str) -> bool {
    let head = name.split('.').next().unwrap_or(name);
    !CANONICAL_HEADS.contains(&head) || is_canonical_name(name)
}

/// The first character of a [`token`]: a control character no real field name has.
const TOKEN_MARK: char = '\u{1f}';

/// The short name a loaded rule uses for `field`.
pub fn token(field: Field) -> String {
    let index = Field::ALL.iter().position(|f| *f == field).unwrap_or(0);
    format!("{TOKEN_MARK}{index}")
}

/// The first character of a [`raw_token`].
const RAW_MARK: char = '\u{1e}';

/// The short name a loaded rule uses for a field only the original record holds: `name`
/// marked as already resolved, so evaluation goes straight to the record.
pub fn raw_token(name: &str) -> String {
    format!("{RAW_MARK}{name}")
}

/// The record field a [`raw_token`] stands for.
pub fn from_raw_token(name: &str) -> Option<&str> {
    name.strip_prefix(RAW_MARK)
}

/// The field a [`token`] stands for; `None` for any other name.
pub fn from_token(name: &str) -> Option<Field> {
    let digits = name.strip_prefix(TOKEN_MARK)?;
    Field::ALL.get(digits.parse::<usize>().ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for f in Field::ALL {
            assert_eq!(from_token(&token(*f)), Some(*f));
        }
        assert_eq!(from_token("riskState"), None);
        assert_eq!(from_token("\u{1f}99999"), None);
        assert_eq!(from_raw_token(&raw_token("eventName")), Some("eventName"));
        assert_eq!(from_raw_token("eventName"), None);
    }

    #[test]
    fn names_resolve_per_namespace() {
        let signin = [Source::EntraSignin];
        assert_eq!(
            resolve("RiskLevelDuringSignIn", &signin),
            Resolution::Field(Field::SentRiskLevel)
        );
        assert_eq!(
            resolve("properties.homeTenantId", &signin),
            Resolution::Field(Field::SentHomeTenant)
        );
        assert_eq!(
            resolve(
                "azure.signinlogs.properties.risk_level_during_sign_in",
                &signin
            ),
            Resolution::Field(Field::Absent)
        );
        assert_eq!(resolve("riskState", &[Source::Cloudtrail]), Resolution::Raw);
        assert_eq!(resolve("eventName", &signin), Resolution::Raw);
        assert!(!is_valid_canonical("risk.levl"));
        assert!(is_valid_canonical("riskLevel"));
    }
}
