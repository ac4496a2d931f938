//! The logical Entra sign-in, independent of wire shape, and constructors for the common kinds
//! (member, guest, service principal, printer). Rendering lives in `render_entra`.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::catalog::{self, App};
use crate::population::{Population, Via};
use crate::rng::{Guid, Rng};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SignInKind {
    Interactive,
    NonInteractive,
    ServicePrincipal,
}

/// A tenant id field that can be absent or present-but-empty (seed quirks depend on it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TenantField {
    Missing,
    Empty,
    Id(Guid),
}

/// How Log Analytics text columns carry the risk event list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RiskEnc {
    /// `["a","b"]` as text
    JsonText,
    /// `a,b`
    Comma,
}

pub struct SignIn {
    pub id: Guid,
    pub time: i64,
    pub kind: SignInKind,
    pub interactive: bool,
    pub upn: String,
    pub user_id: Guid,
    pub display: String,
    pub user_type: &'static str,
    pub app_id: Cow<'static, str>,
    pub app_name: Cow<'static, str>,
    pub resource: &'static str,
    pub resource_id: &'static str,
    pub ip: IpAddr,
    pub city: usize,
    pub error: u32,
    pub client_app: &'static str,
    pub ua: &'static str,
    pub os: &'static str,
    pub browser: &'static str,
    pub device_id: Option<Guid>,
    pub compliant: bool,
    pub managed: bool,
    pub trust: &'static str,
    pub ca_status: &'static str,
    pub auth_req: &'static str,
    /// Second factor performed in this sign-in, if any.
    pub mfa: Option<&'static str>,
    pub home_tenant: TenantField,
    pub resource_tenant: TenantField,
    pub cross_tenant: &'static str,
    pub risk_level: &'static str,
    pub risk_agg: &'static str,
    pub risk_state: &'static str,
    pub risk_detail: &'static str,
    pub risk_events: &'static [&'static str],
    /// Log Analytics encoding of `risk_events`.
    pub risk_enc: RiskEnc,
    /// Log Analytics dynamic columns rendered as JSON text (else nested JSON).
    pub dyn_text: bool,
    pub correlation: Guid,
    pub token: [u8; 16],
    pub session: Guid,
    pub original_request: Guid,
    pub incoming: &'static str,
    pub protocol: &'static str,
    pub network: Option<&'static str>,
    pub processing_ms: u32,
    pub credential_type: &'static str,
}

impl SignIn {
    pub fn success(&self) -> bool {
        self.error == 0
    }

    /// Graph `signInEventTypes` value.
    pub fn event_type(&self) -> &'static str {
        match self.kind {
            SignInKind::Interactive => "interactiveUser",
            SignInKind::NonInteractive => "nonInteractiveUser",
            SignInKind::ServicePrincipal => "servicePrincipal",
        }
    }

    /// Diagnostic-settings category.
    pub fn category(&self) -> &'static str {
        match self.kind {
            SignInKind::Interactive => "SignInLogs",
            SignInKind::NonInteractive => "NonInteractiveUserSignInLogs",
            SignInKind::ServicePrincipal => "ServicePrincipalSignInLogs",
        }
    }
}

/// A blank successful member sign-in with fresh ids; callers fill in the rest.
pub fn base(rng: &mut Rng, pop: &Population, time: i64, kind: SignInKind) -> SignIn {
    SignIn {
        id: rng.guid(),
        time: time - time.rem_euclid(crate::time::SEC),
        kind,
        interactive: kind == SignInKind::Interactive,
        upn: String::new(),
        user_id: Guid(0),
        display: String::new(),
        user_type: "member",
        app_id: Cow::Borrowed(catalog::APP_OFFICE_HOME.id),
        app_name: Cow::Borrowed(catalog::APP_OFFICE_HOME.name),
        resource: catalog::APP_OFFICE_HOME.resource,
        resource_id: catalog::APP_OFFICE_HOME.resource_id,
        ip: pop.nats[0].ip,
        city: catalog::LONDON,
        error: 0,
        client_app: "Browser",
        ua: catalog::DEVICES[0].ua,
        os: catalog::DEVICES[0].os,
        browser: catalog::DEVICES[0].browser,
        device_id: None,
        compliant: false,
        managed: false,
        trust: "",
        ca_status: "success",
        auth_req: "multiFactorAuthentication",
        mfa: None,
        home_tenant: TenantField::Id(pop.tenant),
        resource_tenant: TenantField::Id(pop.tenant),
        cross_tenant: "none",
        risk_level: "none",
        risk_agg: "none",
        risk_state: "none",
        risk_detail: "none",
        risk_events: &[],
        risk_enc: if rng.chance(0.5) {
            RiskEnc::JsonText
        } else {
            RiskEnc::Comma
        },
        dyn_text: rng.chance(0.5),
        correlation: rng.guid(),
        token: rng.bytes16(),
        session: Guid(0),
        original_request: rng.guid(),
        incoming: "none",
        protocol: "none",
        network: None,
        processing_ms: 40 + rng.below(400) as u32,
        credential_type: "none",
    }
}

pub fn set_app(s: &mut SignIn, app: &App) {
    s.app_id = Cow::Borrowed(app.id);
    s.app_name = Cow::Borrowed(app.name);
    s.resource = app.resource;
    s.resource_id = app.resource_id;
}

/// A session id stable for one user and day (links interactive and refresh sign-ins).
pub fn session_for(pop: &Population, user: usize, time: i64) -> Guid {
    let day = time.div_euclid(crate::time::DAY) as u64;
    let a = crate::rng::mix64(pop.seed ^ (user as u64) << 32 ^ day);
    let b = crate::rng::mix64(a ^ 0x5e55);
    let v = (u128::from(a) << 64 | u128::from(b)) & !(0xf_u128 << 76) | (0x4_u128 << 76);
    Guid(v & !(0x3_u128 << 62) | (0x2_u128 << 62))
}

/// A member sign-in from `ip` in `city` with the user's device. Success, MFA for interactive
/// sign-ins, single factor with Conditional Access not applied for refreshes (benign traffic
/// never matches a seed query by accident).
#[allow(clippy::too_many_arguments)]
pub fn member(
    rng: &mut Rng,
    pop: &Population,
    user: usize,
    time: i64,
    kind: SignInKind,
    ip: IpAddr,
    city: usize,
    via: Via,
) -> SignIn {
    let u = &pop.users[user];
    let dev = &catalog::DEVICES[u.device];
    let mut s = base(rng, pop, time, kind);
    s.upn.clone_from(&u.upn);
    s.user_id = u.id;
    s.display.clone_from(&u.display);
    s.ip = ip;
    s.city = city;
    s.os = dev.os;
    s.browser = dev.browser;
    s.ua = dev.ua;
    s.session = session_for(pop, user, time);
    if u.managed {
        s.device_id = Some(u.device_id);
        s.compliant = true;
        s.managed = true;
        s.trust = if user.is_multiple_of(3) {
            "Hybrid Azure AD joined"
        } else {
            "Azure AD joined"
        };
    }
    s.network = match via {
        Via::Office => Some("Corporate egress"),
        Via::Vpn => Some("Corporate VPN"),
        _ => None,
    };
    match kind {
        SignInKind::Interactive => {
            set_app(&mut s, rng.pick_w(catalog::INTERACTIVE_APPS));
            s.protocol = "none";
            s.incoming = if u.managed {
                "primaryRefreshToken"
            } else {
                "none"
            };
            s.mfa = Some(if rng.chance(0.55) {
                "Previously satisfied"
            } else if rng.chance(0.8) {
                "Mobile app notification"
            } else {
                "OATH verification code"
            });
            if rng.chance(0.3) {
                s.client_app = "Mobile Apps and Desktop clients";
                s.ua = catalog::NATIVE_UAS[rng.index(catalog::NATIVE_UAS.len())];
            }
        }
        _ => {
            set_app(&mut s, rng.pick_w(catalog::REFRESH_APPS));
            s.client_app = "Mobile Apps and Desktop clients";
            s.ua = catalog::NATIVE_UAS[rng.index(catalog::NATIVE_UAS.len())];
            s.auth_req = "singleFactorAuthentication";
            s.ca_status = "notApplied";
            s.incoming = "refreshToken";
            s.protocol = "none";
        }
    }
    s
}
