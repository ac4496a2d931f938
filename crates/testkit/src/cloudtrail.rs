//! AWS CloudTrail: the logical record and its renderings (plain record, Logstash re-ship with
//! `@timestamp`, `LookupEvents` entry, EventBridge envelope).

use std::borrow::Cow;

use crate::json::J;
use crate::population::Population;
use crate::rng::{mix64, Guid};
use crate::time::{push_offset_form, push_rfc3339, Frac};

/// Who made the call (`userIdentity`).
#[derive(Clone)]
pub enum Identity {
    IamUser {
        account: usize,
        name: String,
        principal_id: String,
        key: Option<String>,
        /// Console session: (creation time, MFA used).
        console: Option<(i64, bool)>,
    },
    AssumedRole {
        account: usize,
        role: String,
        role_id: String,
        session: String,
        key: Option<String>,
        creation: i64,
        mfa: bool,
        /// OIDC provider when the role was assumed with a web identity.
        web_identity: Option<&'static str>,
    },
    SamlUser {
        upn: String,
        provider_hash: String,
    },
    WebIdentityUser {
        account: usize,
        provider: &'static str,
        subject: String,
    },
    Service {
        invoked_by: &'static str,
    },
}

impl Identity {
    pub fn access_key(&self) -> Option<&str> {
        match self {
            Identity::IamUser { key, .. } | Identity::AssumedRole { key, .. } => key.as_deref(),
            _ => None,
        }
    }

    /// `Username` as `LookupEvents` reports it.
    pub fn username(&self) -> &str {
        match self {
            Identity::IamUser { name, .. } => name,
            Identity::AssumedRole { session, .. } => session,
            Identity::SamlUser { upn, .. } => upn,
            Identity::WebIdentityUser { subject, .. } => subject,
            Identity::Service { invoked_by } => invoked_by,
        }
    }
}

pub struct CtRecord {
    pub event_id: Guid,
    pub request_id: Guid,
    pub time: i64,
    pub source: &'static str,
    pub name: &'static str,
    pub region: &'static str,
    /// An IP address, or a service name such as `ec2.amazonaws.com`.
    pub ip: String,
    pub ua: Cow<'static, str>,
    pub identity: Identity,
    pub account: usize,
    pub read_only: bool,
    pub event_type: &'static str,
    pub management: bool,
    pub error: Option<(&'static str, String)>,
    pub request: Option<String>,
    pub response: Option<String>,
    pub additional: Option<String>,
    pub resources: Option<String>,
    pub console: bool,
}

impl CtRecord {
    /// `aws.<service>` for EventBridge.
    pub fn bus_source(&self) -> String {
        let svc = self
            .source
            .strip_suffix(".amazonaws.com")
            .unwrap_or(self.source);
        format!("aws.{svc}")
    }

    pub fn is_console_sign_in(&self) -> bool {
        self.event_type == "AwsConsoleSignIn"
    }
}

fn t(j: &mut J, us: i64, frac: Frac) {
    let mut v = Vec::with_capacity(30);
    v.push(b'"');
    push_rfc3339(&mut v, us, frac);
    v.push(b'"');
    j.raw(&v);
}

fn identity(j: &mut J, id: &Identity, pop: &Population) {
    let acct = |a: usize| pop.aws_accounts[a].id.as_str();
    j.begin_obj();
    match id {
        Identity::IamUser {
            account,
            name,
            principal_id,
            key,
            console,
        } => {
            j.ks("type", "IAMUser");
            j.ks("principalId", principal_id);
            j.ks(
                "arn",
                &format!("arn:aws:iam::{}:user/{name}", acct(*account)),
            );
            j.ks("accountId", acct(*account));
            if let Some(k) = key {
                j.ks("accessKeyId", k);
            }
            j.ks("userName", name);
            if let Some((created, mfa)) = console {
                j.key("sessionContext");
                j.begin_obj();
                j.key("sessionIssuer");
                j.begin_obj();
                j.end_obj();
                j.key("webIdFederationData");
                j.begin_obj();
                j.end_obj();
                j.key("attributes");
                j.begin_obj();
                j.key("creationDate");
                t(j, *created, Frac::None);
                j.ks("mfaAuthenticated", if *mfa { "true" } else { "false" });
                j.end_obj();
                j.end_obj();
            }
        }
        Identity::AssumedRole {
            account,
            role,
            role_id,
            session,
            key,
            creation,
            mfa,
            web_identity,
        } => {
            j.ks("type", "AssumedRole");
            j.ks("principalId", &format!("{role_id}:{session}"));
            j.ks(
                "arn",
                &format!(
                    "arn:aws:sts::{}:assumed-role/{role}/{session}",
                    acct(*account)
                ),
            );
            j.ks("accountId", acct(*account));
            if let Some(k) = key {
                j.ks("accessKeyId", k);
            }
            j.key("sessionContext");
            j.begin_obj();
            j.key("sessionIssuer");
            j.begin_obj();
            j.ks("type", "Role");
            j.ks("principalId", role_id);
            j.ks(
                "arn",
                &format!("arn:aws:iam::{}:role/{role}", acct(*account)),
            );
            j.ks("accountId", acct(*account));
            j.ks("userName", role);
            j.end_obj();
            j.key("webIdFederationData");
            j.begin_obj();
            if let Some(p) = web_identity {
                j.ks(
                    "federatedProvider",
                    &format!("arn:aws:iam::{}:oidc-provider/{p}", acct(*account)),
                );
                j.key("attributes");
                j.begin_obj();
                j.end_obj();
            }
            j.end_obj();
            j.key("attributes");
            j.begin_obj();
            j.key("creationDate");
            t(j, *creation, Frac::None);
            j.ks("mfaAuthenticated", if *mfa { "true" } else { "false" });
            j.end_obj();
            j.end_obj();
        }
        Identity::SamlUser { upn, provider_hash } => {
            j.ks("type", "SAMLUser");
            j.ks("principalId", &format!("{provider_hash}:{upn}"));
            j.ks("userName", upn);
            j.ks("identityProvider", provider_hash);
        }
        Identity::WebIdentityUser {
            account,
            provider,
            subject,
        } => {
            let arn = format!("arn:aws:iam::{}:oidc-provider/{provider}", acct(*account));
            j.ks("type", "WebIdentityUser");
            j.ks("principalId", &format!("{arn}:sts.amazonaws.com:{subject}"));
            j.ks("userName", subject);
            j.ks("identityProvider", &arn);
        }
        Identity::Service { invoked_by } => {
            j.ks("type", "AWSService");
            j.ks("invokedBy", invoked_by);
        }
    }
    j.end_obj();
}

/// A CloudTrail record. `logstash` replaces `eventTime` by `@timestamp` / `@version`, as records
/// re-shipped through Logstash carry them.
pub fn record(j: &mut J, r: &CtRecord, pop: &Population, logstash: bool) {
    j.begin_obj();
    j.ks(
        "eventVersion",
        if r.is_console_sign_in() {
            "1.09"
        } else {
            "1.10"
        },
    );
    j.key("userIdentity");
    identity(j, &r.identity, pop);
    if logstash {
        j.key("@timestamp");
        t(j, r.time, Frac::Millis);
        j.ks("@version", "1");
    } else {
        j.key("eventTime");
        t(j, r.time, Frac::None);
    }
    j.ks("eventSource", r.source);
    j.ks("eventName", r.name);
    j.ks("awsRegion", r.region);
    j.ks("sourceIPAddress", &r.ip);
    j.ks("userAgent", &r.ua);
    if let Some((code, msg)) = &r.error {
        j.ks("errorCode", code);
        j.ks("errorMessage", msg);
    }
    j.kraw(
        "requestParameters",
        r.request.as_deref().unwrap_or("null").as_bytes(),
    );
    j.kraw(
        "responseElements",
        r.response.as_deref().unwrap_or("null").as_bytes(),
    );
    if let Some(a) = &r.additional {
        j.kraw("additionalEventData", a.as_bytes());
    }
    j.kg("requestID", r.request_id);
    j.kg("eventID", r.event_id);
    j.kb("readOnly", r.read_only);
    if let Some(res) = &r.resources {
        j.kraw("resources", res.as_bytes());
    }
    j.ks("eventType", r.event_type);
    j.kb("managementEvent", r.management);
    j.ks("recipientAccountId", &pop.aws_accounts[r.account].id);
    j.ks(
        "eventCategory",
        if r.management { "Management" } else { "Data" },
    );
    if r.console {
        j.ks("sessionCredentialFromConsole", "true");
    }
    if !matches!(r.identity, Identity::Service { .. }) {
        j.key("tlsDetails");
        j.begin_obj();
        j.ks("tlsVersion", "TLSv1.3");
        j.ks("cipherSuite", "TLS_AES_128_GCM_SHA256");
        let svc = r.source.strip_suffix(".amazonaws.com").unwrap_or(r.source);
        let host = match svc {
            "iam" | "signin" => format!("{svc}.amazonaws.com"),
            "s3" => format!("s3.{}.amazonaws.com", r.region),
            _ => format!("{svc}.{}.amazonaws.com", r.region),
        };
        j.ks("clientProvidedHostHeader", &host);
        j.end_obj();
    }
    j.end_obj();
}

/// One entry of a `LookupEvents` response (`CloudTrailEvent` is the record as a JSON string).
pub fn lookup_entry(j: &mut J, tmp: &mut J, r: &CtRecord, pop: &Population) {
    tmp.clear();
    record(tmp, r, pop, false);
    j.begin_obj();
    j.kg("EventId", r.event_id);
    j.ks("EventName", r.name);
    j.ks("ReadOnly", if r.read_only { "true" } else { "false" });
    if let Some(k) = r.identity.access_key() {
        j.ks("AccessKeyId", k);
    }
    j.key("EventTime");
    let mut v = vec![b'"'];
    push_offset_form(&mut v, r.time);
    v.push(b'"');
    j.raw(&v);
    j.ks("EventSource", r.source);
    j.ks("Username", r.identity.username());
    j.key("Resources");
    j.begin_arr();
    j.end_arr();
    j.key("CloudTrailEvent");
    j.str_of_json(&tmp.buf);
    j.end_obj();
}

/// An EventBridge event carrying the record in `detail`.
pub fn eventbridge(j: &mut J, r: &CtRecord, pop: &Population) {
    j.begin_obj();
    j.ks("version", "0");
    let h = mix64(r.event_id.0 as u64 ^ 0xe7e7);
    j.kg("id", Guid(u128::from(h) << 64 | u128::from(mix64(h))));
    j.ks(
        "detail-type",
        if r.is_console_sign_in() {
            "AWS Console Sign In via CloudTrail"
        } else {
            "AWS API Call via CloudTrail"
        },
    );
    j.ks("source", &r.bus_source());
    j.ks("account", &pop.aws_accounts[r.account].id);
    j.key("time");
    t(j, r.time, Frac::None);
    j.ks("region", r.region);
    j.key("resources");
    j.begin_arr();
    j.end_arr();
    j.key("detail");
    record(j, r, pop, false);
    j.end_obj();
}
