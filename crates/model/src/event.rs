//! The canonical event (SPEC §3).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entity::{EntityRef, EntityType};

/// Which product an event came from. The store keys events per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Microsoft Entra ID sign-ins (interactive, non-interactive, service principal, managed identity).
    EntraSignin,
    /// Azure Storage blob resource logs (StorageBlobLogs / StorageRead|Write|Delete).
    StorageBlob,
    /// AWS CloudTrail management and data events.
    Cloudtrail,
}

impl Source {
    /// Every source, in the order reports list them.
    pub const ALL: [Source; 3] = [Source::EntraSignin, Source::StorageBlob, Source::Cloudtrail];

    /// The stable name used in JSON output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::EntraSignin => "entra_signin",
            Source::StorageBlob => "storage_blob",
            Source::Cloudtrail => "cloudtrail",
        }
    }

    /// A one-byte tag used in store keys. Never renumber.
    pub fn tag(self) -> u8 {
        match self {
            Source::EntraSignin => 1,
            Source::StorageBlob => 2,
            Source::Cloudtrail => 3,
        }
    }

    /// Inverse of [`Source::tag`].
    pub fn from_tag(tag: u8) -> Option<Source> {
        match tag {
            1 => Some(Source::EntraSignin),
            2 => Some(Source::StorageBlob),
            3 => Some(Source::Cloudtrail),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = String;
    /// Accepts the canonical names and the short names of the command line
    /// (`entra`, `blob`, `cloudtrail`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "entra" | "entra_signin" | "signin" => Ok(Source::EntraSignin),
            "blob" | "storage_blob" | "storage" => Ok(Source::StorageBlob),
            "cloudtrail" | "aws" => Ok(Source::Cloudtrail),
            other => Err(format!(
                "unknown source '{other}' (expected entra, blob or cloudtrail)"
            )),
        }
    }
}

/// The wire shape a record arrived in; kept so that rules can map raw field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireShape {
    /// Microsoft Graph `signIn` resource (camelCase).
    GraphSignin,
    /// Log Analytics table row (PascalCase columns).
    LogAnalytics,
    /// Azure Monitor diagnostic-settings record (`time`, `category`, `properties{}`).
    Diagnostic,
    /// A raw CloudTrail record (trail file, Lake export, NDJSON).
    CloudtrailRecord,
    /// A CloudTrail record that came from a `LookupEvents` response.
    CloudtrailLookup,
    /// A CloudTrail record inside an EventBridge envelope (`detail`).
    EventBridge,
}

impl WireShape {
    /// Every wire shape, in declaration order.
    pub const ALL: [WireShape; 6] = [
        WireShape::GraphSignin,
        WireShape::LogAnalytics,
        WireShape::Diagnostic,
        WireShape::CloudtrailRecord,
        WireShape::CloudtrailLookup,
        WireShape::EventBridge,
    ];
}

/// Success or failure, with the source's error code where it has one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// True when the source reports success (sign-in error code 0, HTTP 2xx, no CloudTrail errorCode).
    pub success: bool,
    /// The source's error code as text: `"50126"`, `"AccessDenied"`, `"403"`. `None` on success
    /// when the source has none.
    pub error_code: Option<String>,
    /// Human-readable reason where the source gives one.
    pub reason: Option<String>,
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Actor {
    /// Entra user object id (GUID, lower-case).
    pub user_id: Option<String>,
    /// User principal name, lower-cased.
    pub upn: Option<String>,
    /// Display name as the source reports it.
    pub display_name: Option<String>,
    /// Application (client) id used to sign in or to call storage.
    pub app_id: Option<String>,
    /// Application display name.
    pub app_name: Option<String>,
    /// Service principal id (service principal / managed identity sign-ins).
    pub service_principal_id: Option<String>,
    /// AWS principal ARN (`userIdentity.arn`).
    pub aws_arn: Option<String>,
    /// AWS identity type (`IAMUser`, `AssumedRole`, `Root`, `SAMLUser`, `AWSService`, ...).
    pub aws_identity_type: Option<String>,
    /// AWS access key id used for the call.
    pub access_key_id: Option<String>,
    /// AWS account id of the principal.
    pub aws_account_id: Option<String>,
    /// AWS role session name (the part after the last `/` of an assumed-role ARN).
    pub role_session_name: Option<String>,
    /// AWS IAM user name or SAML user name.
    pub aws_user_name: Option<String>,
    /// How the actor authenticated to storage: `OAuth`, `SAS`, `AccountKey`, `Anonymous`, ...
    pub auth_type: Option<String>,
    /// CloudTrail `sessionCredentialFromConsole` (a top-level field of the record; also read
    /// from `userIdentity.sessionContext.sessionCredentialFromConsole`): true when the call
    /// used the credentials of an AWS console session, i.e. the console made it on the user's
    /// behalf rather than a caller's own tool. CloudTrail writes it only on console traffic, so
    /// `None` (absent, or not `"true"`/`"false"`) is the normal value for programmatic calls.
    pub console_session: Option<bool>,
}

/// Where the request came from, geographically.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Geo {
    /// ISO 3166 alpha-2 country or region code, upper-case.
    pub country: Option<String>,
    pub state: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl Geo {
    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        self.country.is_none()
            && self.state.is_none()
            && self.city.is_none()
            && self.latitude.is_none()
            && self.longitude.is_none()
    }
}

/// Home and resource tenants of a sign-in (or the tenant of a storage request).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tenants {
    pub home: Option<String>,
    pub resource: Option<String>,
    /// The record carried a home tenant field that was blank (`""`): `home` is `None`, but
    /// rules that mimic a platform where an empty string is not null need to know.
    pub home_blank: bool,
    /// As `home_blank`, for the resource tenant field (`resourceTenantId`).
    pub resource_blank: bool,
    /// `resource` did not come from the resource tenant field but from the record's tenant
    /// (`tenantId`, LA `AADTenantId`, the diagnostic envelope) because that field was missing
    /// or blank.
    pub resource_inferred: bool,
}

/// Token and session identifiers that tie events together.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tokens {
    /// Entra `uniqueTokenIdentifier`.
    pub unique_token_id: Option<String>,
    /// Entra `sessionId`.
    pub session_id: Option<String>,
    /// Entra or storage `correlationId`.
    pub correlation_id: Option<String>,
    /// Storage `identity.tokenHash` (SAS / account key hash).
    pub token_hash: Option<String>,
    /// AWS session token principal / session issuer (`userIdentity.sessionContext.sessionIssuer.arn`).
    pub aws_session_issuer: Option<String>,
    /// A temporary AWS access key issued by this event (`AssumeRole*` responses).
    pub issued_access_key_id: Option<String>,
}

/// What was acted on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Target {
    /// Entra resource (audience) id.
    pub resource_id: Option<String>,
    /// Entra resource display name.
    pub resource_name: Option<String>,
    /// Storage account name.
    pub storage_account: Option<String>,
    /// Storage object (container/blob path or URI).
    pub object: Option<String>,
    /// AWS service (`eventSource`, e.g. `sts.amazonaws.com`).
    pub service: Option<String>,
    /// The operation: CloudTrail `eventName`, storage `operationName`, or `Sign-in activity`.
    pub action: Option<String>,
    /// AWS region of the call.
    pub region: Option<String>,
    /// AWS account the call was made in (`recipientAccountId`).
    pub account_id: Option<String>,
}

/// Identity Protection risk fields of a sign-in, normalised (lists split, values kept as sent).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Risk {
    pub level_during_signin: Option<String>,
    pub level_aggregated: Option<String>,
    pub state: Option<String>,
    pub detail: Option<String>,
    /// `riskEventTypes_v2` (or `riskEventTypes`) as a list, whatever shape it arrived in.
    pub event_types: Vec<String>,
    /// The same field's text exactly as sent when it arrived as one string (JSON text such as
    /// `["unfamiliarFeatures"]` or a delimited list) rather than a JSON array; `None` for an
    /// array or when absent. Platforms that index a JSON array as separate fields never see
    /// the array as one string; the faithful seed ports need to know which form arrived.
    pub event_types_text: Option<String>,
    /// `event_types` came from the older `riskEventTypes` because `riskEventTypes_v2` was
    /// missing or empty; rules that read only the v2 field must not see them.
    pub event_types_from_v1: bool,
}

/// Sign-in attributes the detections read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SigninDetails {
    /// Log category / event type: `SignInLogs`, `NonInteractiveUserSignInLogs`, ...
    pub category: Option<String>,
    pub client_app_used: Option<String>,
    pub authentication_requirement: Option<String>,
    pub conditional_access_status: Option<String>,
    pub cross_tenant_access_type: Option<String>,
    pub authentication_protocol: Option<String>,
    pub is_interactive: Option<bool>,
    pub user_type: Option<String>,
}

/// One canonical event. `raw` keeps the original record losslessly (its JSON text as received,
/// or for tabular inputs the JSON object built from the row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The source's own id: sign-in `id`, CloudTrail `eventID`, or for blob logs a digest of
    /// correlation id + operation + time (see `skein-ingest`).
    pub id: String,
    pub source: Source,
    pub shape: WireShape,
    #[serde(deserialize_with = "crate::time::deserialize")]
    pub time: DateTime<Utc>,
    pub outcome: Outcome,
    pub actor: Actor,
    /// Source address, port stripped. `None` when the source gave none or gave a service name.
    pub src_ip: Option<IpAddr>,
    /// A non-address caller such as `ec2.amazonaws.com` or `AWS Internal`.
    pub src_host: Option<String>,
    pub user_agent: Option<String>,
    pub geo: Geo,
    pub tenants: Tenants,
    pub tokens: Tokens,
    pub target: Target,
    pub risk: Risk,
    pub signin: SigninDetails,
    /// Fields whose canonical value differs from what the record sent (trimmed, blank turned
    /// into `None`, upper-cased), as `(canonical field name, text as sent)`; usually empty.
    /// Rules that must compare exactly as another platform did (the faithful seed ports) read
    /// these instead of the normalised value.
    pub verbatim: Vec<(String, String)>,
    /// The original record as JSON text.
    pub raw: String,
}

impl Event {
    /// The text the record sent for canonical field `name`, when it differs from the
    /// canonical value (see [`Event::verbatim`]).
    pub fn sent(&self, name: &str) -> Option<&str> {
        self.verbatim
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Event {
    /// A new event with everything but the identity fields empty.
    pub fn new(id: String, source: Source, shape: WireShape, time: DateTime<Utc>) -> Event {
        Event {
            id,
            source,
            shape,
            time,
            outcome: Outcome::default(),
            actor: Actor::default(),
            src_ip: None,
            src_host: None,
            user_agent: None,
            geo: Geo::default(),
            tenants: Tenants::default(),
            tokens: Tokens::default(),
            target: Target::default(),
            risk: Risk::default(),
            signin: SigninDetails::default(),
            verbatim: Vec::new(),
            raw: String::new(),
        }
    }

    /// The account that acted, as the cases count the accounts behind an address: the
    /// Entra user id, else the UPN, else the AWS principal ARN, else the access key id.
    pub fn account(&self) -> Option<&str> {
        let a = &self.actor;
        a.user_id
            .as_deref()
            .or(a.upn.as_deref())
            .or(a.aws_arn.as_deref())
            .or(a.access_key_id.as_deref())
    }

    /// Whether [`Event::entities`] holds `entity`, without building the list (only the
    /// fields of the entity's type are looked at): what a reader filtering many events by
    /// one entity asks.
    pub fn mentions(&self, entity: &EntityRef) -> bool {
        let is = |id: Option<&str>| {
            id.and_then(|id| EntityRef::new(entity.ty, id))
                .is_some_and(|r| &r == entity)
        };
        match entity.ty {
            EntityType::User => is(self.actor.user_id.as_deref()) || is(self.actor.upn.as_deref()),
            EntityType::App => {
                is(self.actor.app_id.as_deref()) || is(self.actor.service_principal_id.as_deref())
            }
            EntityType::AwsPrincipal => is(self.actor.aws_arn.as_deref()),
            EntityType::AwsKey => {
                is(self.actor.access_key_id.as_deref())
                    || is(self.tokens.issued_access_key_id.as_deref())
            }
            EntityType::AwsSession => {
                self.actor.role_session_name.is_some() && is(self.actor.aws_arn.as_deref())
            }
            EntityType::Token => {
                is(self.tokens.unique_token_id.as_deref()) || is(self.tokens.session_id.as_deref())
            }
            EntityType::Tenant => {
                is(self.tenants.home.as_deref()) || is(self.tenants.resource.as_deref())
            }
            EntityType::Storage => is(self.target.storage_account.as_deref()),
            // A canonical address id is its address printed, and printing is one-to-one:
            // comparing addresses spares printing (and re-parsing) every event's.
            EntityType::Ip => self
                .src_ip
                .is_some_and(|ip| entity.id.parse::<IpAddr>().is_ok_and(|want| want == ip)),
        }
    }

    /// The entities this event mentions, de-duplicated, in a stable order. The store indexes
    /// events by these; the graph (a later crate) links them.
    pub fn entities(&self) -> Vec<EntityRef> {
        let mut out: Vec<EntityRef> = Vec::with_capacity(8);
        let mut push = |ty: EntityType, id: &Option<String>| {
            if let Some(id) = id.as_deref() {
                if let Some(e) = EntityRef::new(ty, id) {
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
            }
        };
        push(EntityType::User, &self.actor.user_id);
        push(EntityType::User, &self.actor.upn);
        push(EntityType::App, &self.actor.app_id);
        push(EntityType::App, &self.actor.service_principal_id);
        push(EntityType::AwsPrincipal, &self.actor.aws_arn);
        push(EntityType::AwsKey, &self.actor.access_key_id);
        push(EntityType::AwsKey, &self.tokens.issued_access_key_id);
        if let (Some(arn), Some(_)) = (&self.actor.aws_arn, &self.actor.role_session_name) {
            push(EntityType::AwsSession, &Some(arn.clone()));
        }
        push(EntityType::Token, &self.tokens.unique_token_id);
        push(EntityType::Token, &self.tokens.session_id);
        push(EntityType::Tenant, &self.tenants.home);
        push(EntityType::Tenant, &self.tenants.resource);
        push(EntityType::Storage, &self.target.storage_account);
        if let Some(ip) = self.src_ip {
            push(EntityType::Ip, &Some(ip.to_string()));
        }
        out
    }
}
