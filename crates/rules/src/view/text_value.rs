//! [`EventView::text_value`]: a field whose value is a text, read as that text.

use skein_model::Source;

use super::EventView;
use crate::fields::Field;

impl<'a> EventView<'a> {
    /// The value of a field whose value is a text or absent, as that text: `Some(text)`
    /// where [`EventView::value`] gives a borrowed string `text`, `Some(None)` where it
    /// gives nothing; `None` for a field that may have another kind of value (use `value`).
    ///
    /// Why: rules read ~14 fields an event, nearly all texts, and `value`'s `EventValue` is
    /// returned through memory and read back at once (a stall on every field); a text comes
    /// back in registers. A test checks both agree on every field of real events.
    #[inline]
    pub fn text_value(&self, field: Field) -> Option<Option<&str>> {
        use Field as F;
        let e = self.event;
        let (a, g, t, k, x, r, s) = (
            &e.actor, &e.geo, &e.tenants, &e.tokens, &e.target, &e.risk, &e.signin,
        );
        // A sign-in field as the record sent it: the verbatim text where normalisation
        // changed it (whitespace, blank, case), else the canonical value.
        let sent = |name: &str, canonical: &'a Option<String>| match e.sent(name) {
            Some(text) => Some(text),
            None => canonical.as_deref(),
        };
        Some(match field {
            F::Id => Some(e.id.as_str()),
            F::Source => Some(e.source.as_str()),
            F::SrcIp => self.ip_text(),
            F::SrcHost => e.src_host.as_deref(),
            F::UserAgent => e.user_agent.as_deref(),
            F::OutcomeErrorCode => e.outcome.error_code.as_deref(),
            F::OutcomeReason => e.outcome.reason.as_deref(),
            F::ActorUserId => a.user_id.as_deref(),
            F::ActorUpn => a.upn.as_deref(),
            F::ActorDisplayName => a.display_name.as_deref(),
            F::ActorAppId => a.app_id.as_deref(),
            F::ActorAppName => a.app_name.as_deref(),
            F::ActorServicePrincipalId => a.service_principal_id.as_deref(),
            F::ActorAwsArn => a.aws_arn.as_deref(),
            F::ActorAwsIdentityType => a.aws_identity_type.as_deref(),
            F::ActorAccessKeyId => a.access_key_id.as_deref(),
            F::ActorAwsAccountId => a.aws_account_id.as_deref(),
            F::ActorRoleSessionName => a.role_session_name.as_deref(),
            F::ActorAwsUserName => a.aws_user_name.as_deref(),
            F::ActorAuthType => a.auth_type.as_deref(),
            F::GeoCountry => g.country.as_deref(),
            F::GeoState => g.state.as_deref(),
            F::GeoCity => g.city.as_deref(),
            F::TenantsHome => t.home.as_deref(),
            F::TenantsResource => t.resource.as_deref(),
            F::TokensUniqueTokenId => k.unique_token_id.as_deref(),
            F::TokensSessionId => k.session_id.as_deref(),
            F::TokensCorrelationId => k.correlation_id.as_deref(),
            F::TokensTokenHash => k.token_hash.as_deref(),
            F::TokensAwsSessionIssuer => k.aws_session_issuer.as_deref(),
            F::TokensIssuedAccessKeyId => k.issued_access_key_id.as_deref(),
            F::TargetResourceId => x.resource_id.as_deref(),
            F::TargetResourceName => x.resource_name.as_deref(),
            F::TargetStorageAccount => x.storage_account.as_deref(),
            F::TargetObject => x.object.as_deref(),
            F::TargetService => x.service.as_deref(),
            F::TargetAction => x.action.as_deref(),
            F::TargetRegion => x.region.as_deref(),
            F::TargetAccountId => x.account_id.as_deref(),
            F::RiskLevelDuringSignin => r.level_during_signin.as_deref(),
            F::RiskLevelAggregated => r.level_aggregated.as_deref(),
            F::RiskState => r.state.as_deref(),
            F::RiskDetail => r.detail.as_deref(),
            F::RiskEventTypesText => r.event_types_text.as_deref(),
            F::SigninCategory => s.category.as_deref(),
            F::SigninClientAppUsed => s.client_app_used.as_deref(),
            F::SigninAuthenticationRequirement => s.authentication_requirement.as_deref(),
            F::SigninConditionalAccessStatus => s.conditional_access_status.as_deref(),
            F::SigninCrossTenantAccessType => s.cross_tenant_access_type.as_deref(),
            F::SigninAuthenticationProtocol => s.authentication_protocol.as_deref(),
            F::SigninUserType => s.user_type.as_deref(),
            F::SentRiskLevel => sent("risk.level_during_signin", &r.level_during_signin),
            F::SentRiskState => sent("risk.state", &r.state),
            F::SentAuthenticationRequirement => sent(
                "signin.authentication_requirement",
                &s.authentication_requirement,
            ),
            F::SentConditionalAccessStatus => sent(
                "signin.conditional_access_status",
                &s.conditional_access_status,
            ),
            F::SentClientAppUsed => sent("signin.client_app_used", &s.client_app_used),
            F::SentCountry => sent("geo.country", &g.country),
            F::SentHomeTenant => match e.sent("tenants.home") {
                Some(text) => Some(text),
                None => blankable_text(&t.home, t.home_blank),
            },
            // `resourceTenantId` as sent (not the model's fallback to `tenantId`).
            F::SentResourceTenant => match e.sent("tenants.resource") {
                Some(text) => Some(text),
                None if t.resource_inferred => t.resource_blank.then_some(""),
                None => blankable_text(&t.resource, t.resource_blank),
            },
            F::EventDataset => (e.source == Source::EntraSignin).then_some("azure.signinlogs"),
            F::EventOutcome => Some(if e.outcome.success {
                "success"
            } else {
                "failure"
            }),
            F::ResultType if e.outcome.success => Some("0"),
            F::ResultType => e.outcome.error_code.as_deref(),
            F::Absent => None,
            _ => return None,
        })
    }
}

/// A text as the record had it: `""` when the field was sent blank.
fn blankable_text(v: &Option<String>, blank: bool) -> Option<&str> {
    match v {
        Some(s) => Some(s),
        None => blank.then_some(""),
    }
}
