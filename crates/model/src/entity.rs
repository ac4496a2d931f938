//! Typed entity references, written `type:id` on the command line (SPEC §3).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kinds of entity the graph knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityType {
    /// Entra user: object id, or the lower-cased UPN as an alias.
    User,
    /// Application or service principal id.
    App,
    /// An IP address (port stripped).
    Ip,
    /// A token or session identifier.
    Token,
    /// An Entra tenant id.
    Tenant,
    /// An Azure storage account.
    Storage,
    /// An AWS principal ARN.
    #[serde(rename = "awsprincipal")]
    AwsPrincipal,
    /// An AWS access key id.
    #[serde(rename = "awskey")]
    AwsKey,
    /// An AWS role session (assumed-role ARN including the session name).
    #[serde(rename = "awssession")]
    AwsSession,
}

impl EntityType {
    /// Every entity type.
    pub const ALL: [EntityType; 9] = [
        EntityType::User,
        EntityType::App,
        EntityType::Ip,
        EntityType::Token,
        EntityType::Tenant,
        EntityType::Storage,
        EntityType::AwsPrincipal,
        EntityType::AwsKey,
        EntityType::AwsSession,
    ];

    /// The name written before the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::User => "user",
            EntityType::App => "app",
            EntityType::Ip => "ip",
            EntityType::Token => "token",
            EntityType::Tenant => "tenant",
            EntityType::Storage => "storage",
            EntityType::AwsPrincipal => "awsprincipal",
            EntityType::AwsKey => "awskey",
            EntityType::AwsSession => "awssession",
        }
    }

    /// A one-byte tag for store keys. Never renumber.
    pub fn tag(self) -> u8 {
        match self {
            EntityType::User => 1,
            EntityType::App => 2,
            EntityType::Ip => 3,
            EntityType::Token => 4,
            EntityType::Tenant => 5,
            EntityType::Storage => 6,
            EntityType::AwsPrincipal => 7,
            EntityType::AwsKey => 8,
            EntityType::AwsSession => 9,
        }
    }

    /// Inverse of [`EntityType::tag`].
    pub fn from_tag(tag: u8) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|t| t.tag() == tag)
    }

    /// Canonical form of an id of this type: user names, tenant and app GUIDs and storage
    /// accounts are case-insensitive and lower-cased; AWS key ids are upper-cased; IP addresses
    /// are re-printed in their canonical text form; everything else is kept as given.
    pub fn canonical_id(self, id: &str) -> Option<String> {
        let id = id.trim();
        if id.is_empty() {
            return None;
        }
        Some(match self {
            EntityType::User | EntityType::App | EntityType::Tenant | EntityType::Storage => {
                id.to_lowercase()
            }
            EntityType::AwsKey => id.to_ascii_uppercase(),
            EntityType::Ip => match id.parse::<IpAddr>() {
                // An IPv4 address that parses is written the one way it displays (the
                // parser refuses leading zeros): kept as it is, not formatted again.
                Ok(IpAddr::V4(_)) => id.to_string(),
                Ok(ip) => ip.to_string(),
                Err(_) => return None,
            },
            EntityType::Token | EntityType::AwsPrincipal | EntityType::AwsSession => id.to_string(),
        })
    }

    /// True when `id` is already in canonical form ([`EntityType::canonical_id`] would give
    /// it back unchanged), answered without making the copy: entities are named for every
    /// finding and signal, and their ids (object ids, names in lower case, key ids in upper
    /// case) nearly always are. `false` means only "not known to be": addresses are always
    /// parsed.
    pub fn is_canonical(self, id: &str) -> bool {
        let bytes = id.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return false;
        };
        // `trim` removes Unicode white space: only ASCII graphic ends are known to stay.
        if !first.is_ascii_graphic() || !last.is_ascii_graphic() {
            return false;
        }
        match self {
            EntityType::User | EntityType::App | EntityType::Tenant | EntityType::Storage => {
                id.is_ascii() && !bytes.iter().any(u8::is_ascii_uppercase)
            }
            EntityType::AwsKey => !bytes.iter().any(u8::is_ascii_lowercase),
            EntityType::Ip => false,
            EntityType::Token | EntityType::AwsPrincipal | EntityType::AwsSession => true,
        }
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `type:id` string was not an entity reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityParseError {
    /// No colon between type and id.
    #[error("'{0}' is not TYPE:ID (for example user:alice@contoso.com or ip:203.0.113.5)")]
    MissingColon(String),
    /// The type before the colon is not one skein knows.
    #[error("unknown entity type '{0}' (expected one of user, app, ip, token, tenant, storage, awsprincipal, awskey, awssession)")]
    UnknownType(String),
    /// The id is empty or not valid for its type (an IP that does not parse).
    #[error("'{id}' is not a valid {ty} id")]
    InvalidId { ty: EntityType, id: String },
}

impl FromStr for EntityType {
    type Err = EntityParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| EntityParseError::UnknownType(s.to_string()))
    }
}

/// A reference to one entity: its type and canonical id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityRef {
    #[serde(rename = "type")]
    pub ty: EntityType,
    pub id: String,
}

impl EntityRef {
    /// Builds a reference with the id in canonical form; `None` when the id is empty or invalid.
    pub fn new(ty: EntityType, id: &str) -> Option<EntityRef> {
        ty.canonical_id(id).map(|id| EntityRef { ty, id })
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ty, self.id)
    }
}

impl FromStr for EntityRef {
    type Err = EntityParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ty, id) = s
            .split_once(':')
            .ok_or_else(|| EntityParseError::MissingColon(s.to_string()))?;
        let ty: EntityType = ty.parse()?;
        EntityRef::new(ty, id).ok_or_else(|| EntityParseError::InvalidId {
            ty,
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalises() {
        let e: EntityRef = "user:Alice@Contoso.com".parse().unwrap();
        assert_eq!(e.to_string(), "user:alice@contoso.com");
        let e: EntityRef = "ip:2001:DB8::1".parse().unwrap();
        assert_eq!(e.to_string(), "ip:2001:db8::1");
        let e: EntityRef = "awskey:akia123".parse().unwrap();
        assert_eq!(e.id, "AKIA123");
    }

    proptest::proptest! {
        /// An address's id is the parsed address as it displays, whatever the text: IPv4
        /// text that parses is already that (leading zeros do not parse).
        #[test]
        fn an_address_id_is_the_address_as_it_displays(
            text in "[ ]?([0-9]{1,4}[.]){3}[0-9]{1,4}[ ]?|[0-9a-fA-F:.]{0,24}",
            v4 in proptest::prelude::any::<[u8; 4]>(),
        ) {
            let displayed = |t: &str| t.trim().parse::<IpAddr>().ok().map(|ip| ip.to_string());
            proptest::prop_assert_eq!(EntityType::Ip.canonical_id(&text), displayed(&text));
            let v4 = std::net::Ipv4Addr::from(v4).to_string();
            proptest::prop_assert_eq!(EntityType::Ip.canonical_id(&v4), Some(v4.clone()));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// An id said to be canonical is the one `canonical_id` gives, for every type: ids
        /// in either case, with spaces (ASCII or not) at either end, non-ASCII letters whose
        /// lower case differs, and empty ones.
        #[test]
        fn an_id_said_canonical_is_its_canonical_form(
            ty in proptest::sample::select(EntityType::ALL.to_vec()),
            id in "[ \u{a0}\u{3000}]?[a-zA-Z0-9@._:-]{0,12}[ÄäİΣσ]?[ \u{a0}]?",
        ) {
            if ty.is_canonical(&id) {
                proptest::prop_assert_eq!(ty.canonical_id(&id), Some(id.clone()));
            }
        }
    }

    #[test]
    fn common_ids_are_known_canonical() {
        assert!(EntityType::User.is_canonical("1f0c3a5e-2b1d-4c1e-9d7f-00aa11bb22cc"));
        assert!(EntityType::User.is_canonical("alice@contoso.com"));
        assert!(!EntityType::User.is_canonical("Alice@contoso.com"));
        assert!(!EntityType::User.is_canonical(" alice@contoso.com"));
        assert!(!EntityType::User.is_canonical("zoë@contoso.com"));
        assert!(EntityType::AwsKey.is_canonical("AKIA123"));
        assert!(!EntityType::AwsKey.is_canonical("akia123"));
        assert!(!EntityType::Ip.is_canonical("10.0.0.1"));
        assert!(!EntityType::Token.is_canonical(""));
    }

    #[test]
    fn leading_zeros_are_not_an_address() {
        assert_eq!(EntityType::Ip.canonical_id("010.0.0.1"), None);
        assert_eq!(
            EntityType::Ip.canonical_id(" 10.0.0.1 "),
            Some("10.0.0.1".into())
        );
    }

    #[test]
    fn rejects_bad_references() {
        assert!(matches!(
            "alice".parse::<EntityRef>(),
            Err(EntityParseError::MissingColon(_))
        ));
        assert!(matches!(
            "person:alice".parse::<EntityRef>(),
            Err(EntityParseError::UnknownType(_))
        ));
        assert!(matches!(
            "ip:not-an-ip".parse::<EntityRef>(),
            Err(EntityParseError::InvalidId { .. })
        ));
    }

    #[test]
    fn tags_round_trip() {
        for t in EntityType::ALL {
            assert_eq!(EntityType::from_tag(t.tag()), Some(t));
        }
    }
}
