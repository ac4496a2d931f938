//! The simulated organisation: an Entra tenant of users with home cities and devices, office NAT
//! and VPN egress addresses, partner tenants and their guests, service principals, printers,
//! AWS accounts / roles / IAM users, and storage accounts. Built once from the seed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::catalog::{self, distance_km, CITIES};
use crate::rng::{aws_key, mix64, Guid, Rng, ALNUM_UPPER};
use crate::time::{HOUR, MIN};

/// Office cities (home cities of members) and the share of staff in each.
pub const OFFICES: &[(usize, u32)] = &[
    (catalog::LONDON, 56),
    (catalog::MANCHESTER, 8),
    (catalog::DUBLIN, 7),
    (catalog::NEW_YORK, 19),
    (catalog::SEATTLE, 10),
];

pub struct User {
    pub upn: String,
    pub id: Guid,
    pub display: String,
    pub home: usize,
    pub office: usize,
    pub home_ip: IpAddr,
    pub device: usize,
    pub device_id: Guid,
    pub managed: bool,
    pub weight: u32,
    /// Index into `Population::saml_roles` for staff who federate into AWS.
    pub aws_role: Option<usize>,
    pub trips: Vec<Trip>,
    /// Windows in which benign traffic for this user is suppressed (scenario users).
    pub blackout: Vec<(i64, i64)>,
}

/// A business trip: no activity between `depart`/`arrive` and `leave`/`back` (flights).
pub struct Trip {
    pub depart: i64,
    pub arrive: i64,
    pub leave: i64,
    pub back: i64,
    pub city: usize,
    pub hotel_ip: IpAddr,
}

/// A shared egress address (office NAT or VPN concentrator).
pub struct Egress {
    pub ip: IpAddr,
    pub city: usize,
}

pub struct Partner {
    pub name: &'static str,
    pub domain: &'static str,
    pub tenant: Guid,
    pub nat: IpAddr,
    pub city: usize,
}

pub struct Guest {
    pub upn: String,
    pub id: Guid,
    pub display: String,
    pub partner: usize,
    pub device: usize,
}

pub struct ServicePrincipal {
    pub name: &'static str,
    pub app_id: Guid,
    pub sp_id: Guid,
    pub city: usize,
    pub resource: catalog::App,
}

pub struct Printer {
    pub upn: String,
    pub id: Guid,
    pub display: String,
    pub office: usize,
}

pub struct AwsAccount {
    pub id: String,
    pub name: &'static str,
    /// Organization id when this account's trail is delivered under an organization trail.
    pub org: Option<String>,
}

pub struct SamlRole {
    pub account: usize,
    pub name: &'static str,
    pub role_id: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum IamKind {
    /// Console user with MFA (Describe* bursts through the console, like `pedro`).
    Console,
    /// Developer with a long-term key used from the CLI.
    Cli,
}

pub struct IamUser {
    pub account: usize,
    pub name: String,
    pub principal_id: String,
    pub key: String,
    pub kind: IamKind,
    pub ip: IpAddr,
}

pub struct StorageAccount {
    pub name: &'static str,
    pub location: &'static str,
    pub containers: &'static [&'static str],
}

pub struct Population {
    pub seed: u64,
    pub tenant: Guid,
    pub domain: &'static str,
    pub users: Vec<User>,
    /// Member indexes per office (same order as `OFFICES`).
    pub by_office: Vec<Vec<u32>>,
    pub nats: Vec<Egress>,
    pub vpns: Vec<Egress>,
    pub partners: Vec<Partner>,
    pub guests: Vec<Guest>,
    pub sps: Vec<ServicePrincipal>,
    pub printers: Vec<Printer>,
    pub aws_accounts: Vec<AwsAccount>,
    pub aws_regions: &'static [&'static str],
    pub saml_provider: &'static str,
    pub saml_roles: Vec<SamlRole>,
    pub iam_users: Vec<IamUser>,
    pub aws_app_id: Guid,
    pub storage: Vec<StorageAccount>,
    pub subscription: Guid,
    pub workspace: Guid,
    pub ci_repos: &'static [&'static str],
    pub ci_role_ids: Vec<String>,
    pub app_role_ids: Vec<String>,
}

/// How a user reaches the internet at some moment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    Office,
    Home,
    Mobile,
    Vpn,
    Hotel,
}

/// Where a user is and which address they use.
#[derive(Clone, Copy, Debug)]
pub struct Whereabouts {
    pub ip: IpAddr,
    pub city: usize,
    pub via: Via,
}

/// An address in `city`'s blocks derived from the hash `h` (IPv6 when `v6` and available).
pub fn ip_in(city: usize, h: u64, v6: bool) -> IpAddr {
    let c = &CITIES[city];
    if v6 && c.v6[0] != 0 {
        let g = |s: u32| ((h >> s) & 0xffff) as u16;
        return IpAddr::V6(Ipv6Addr::new(
            c.v6[0],
            c.v6[1],
            g(0) & 0x0fff,
            g(12),
            g(24),
            g(36) | 1,
            g(48),
            g(20) | 0x10,
        ));
    }
    let prefix = c.v4[(h % c.v4.len() as u64) as usize];
    let mut o = [0u8; 4];
    o[..prefix.len()].copy_from_slice(prefix);
    for (i, slot) in o.iter_mut().enumerate().skip(prefix.len()) {
        *slot = ((h >> (8 + 8 * i)) & 0xff) as u8;
    }
    o[3] = o[3].clamp(2, 253);
    IpAddr::V4(Ipv4Addr::from(o))
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// Number of staff for a corpus of `events` events.
pub fn user_count(events: u64) -> usize {
    (events / 500).clamp(400, 20_000) as usize
}

impl Population {
    pub fn build(seed: u64, events: u64, start: i64, end: i64) -> Population {
        let mut rng = Rng::new(seed, 1);
        let tenant = rng.guid();
        let nats = vec![
            Egress {
                ip: v4(62, 254, 128, 10),
                city: catalog::LONDON,
            },
            Egress {
                ip: v4(82, 132, 200, 5),
                city: catalog::MANCHESTER,
            },
            Egress {
                ip: v4(89, 100, 42, 7),
                city: catalog::DUBLIN,
            },
            Egress {
                ip: v4(38, 140, 62, 20),
                city: catalog::NEW_YORK,
            },
            Egress {
                ip: v4(50, 35, 76, 12),
                city: catalog::SEATTLE,
            },
        ];
        let vpns = vec![
            Egress {
                ip: v4(62, 254, 129, 40),
                city: catalog::LONDON,
            },
            Egress {
                ip: v4(38, 140, 63, 40),
                city: catalog::NEW_YORK,
            },
            Egress {
                ip: v4(50, 35, 77, 40),
                city: catalog::SEATTLE,
            },
        ];
        let partners = vec![
            Partner {
                name: "Fabrikam",
                domain: "fabrikam.com",
                tenant: rng.guid(),
                nat: v4(90, 3, 44, 10),
                city: catalog::PARIS,
            },
            Partner {
                name: "Northwind Traders",
                domain: "northwindtraders.com",
                tenant: rng.guid(),
                nat: v4(93, 192, 10, 8),
                city: catalog::BERLIN,
            },
        ];

        let n = user_count(events);
        let office_weights: Vec<u32> = OFFICES.iter().map(|o| o.1).collect();
        let mut users = Vec::with_capacity(n);
        let mut by_office = vec![Vec::new(); OFFICES.len()];
        let mut seen = std::collections::BTreeMap::<String, u32>::new();
        let saml_roles_per_account = 3;
        for i in 0..n {
            let first = *rng.pick(catalog::FIRST_NAMES);
            let last = *rng.pick(catalog::LAST_NAMES);
            let base = format!("{first}.{last}");
            let k = seen.entry(base.clone()).or_insert(0);
            *k += 1;
            let local = if *k == 1 { base } else { format!("{base}{k}") };
            let office = rng.weighted(&office_weights);
            let home = OFFICES[office].0;
            let v6 = rng.chance(0.15);
            let home_ip = ip_in(home, rng.u64(), v6);
            let device = rng.index(catalog::DEVICES.len());
            let display = format!("{} {}", capitalise(first), capitalise(last));
            let aws_role = if rng.chance(0.08) {
                Some(rng.index(3 * saml_roles_per_account))
            } else {
                None
            };
            users.push(User {
                upn: format!("{local}@contoso.com"),
                id: rng.guid(),
                display,
                home,
                office,
                home_ip,
                device,
                device_id: rng.guid(),
                managed: rng.chance(0.85),
                weight: 1 + rng.below(4) as u32,
                aws_role,
                trips: Vec::new(),
                blackout: Vec::new(),
            });
            by_office[office].push(i as u32);
        }
        // Travelling staff: ~3% of members, the first few chosen deterministically.
        let travellers = (n / 33).max(4);
        for t in 0..travellers {
            let u = (mix64(seed ^ 0x7472_6176 ^ t as u64) % n as u64) as usize;
            if !users[u].trips.is_empty() {
                continue;
            }
            let dest = if t == 0 {
                catalog::SHANGHAI
            } else {
                *rng.pick(&destinations(users[u].home))
            };
            if let Some(trip) = plan_trip(&mut rng, users[u].home, dest, start, end) {
                users[u].trips.push(trip);
            }
        }

        let mut guests = Vec::new();
        for g in 0..(n / 40).max(10) {
            let p = g % partners.len();
            let first = *rng.pick(catalog::FIRST_NAMES);
            let last = *rng.pick(catalog::LAST_NAMES);
            guests.push(Guest {
                upn: format!("{first}.{last}{g}@{}", partners[p].domain),
                id: rng.guid(),
                display: format!(
                    "{} {} ({})",
                    capitalise(first),
                    capitalise(last),
                    partners[p].name
                ),
                partner: p,
                device: rng.index(5),
            });
        }

        let sps = vec![
            ServicePrincipal {
                name: "github-actions-deploy",
                app_id: rng.guid(),
                sp_id: rng.guid(),
                city: catalog::ASHBURN,
                resource: catalog::APP_PORTAL,
            },
            ServicePrincipal {
                name: "terraform-platform",
                app_id: rng.guid(),
                sp_id: rng.guid(),
                city: catalog::ASHBURN,
                resource: catalog::APP_PORTAL,
            },
            ServicePrincipal {
                name: "contoso-backup-automation",
                app_id: rng.guid(),
                sp_id: rng.guid(),
                city: catalog::DUBLIN,
                resource: catalog::APP_STORAGE_EXPLORER,
            },
            ServicePrincipal {
                name: "hr-sync-connector",
                app_id: rng.guid(),
                sp_id: rng.guid(),
                city: catalog::DUBLIN,
                resource: catalog::APP_AAD_POWERSHELL,
            },
        ];
        let printers = vec![
            Printer {
                upn: "scan-ldn-3f@contoso.com".into(),
                id: rng.guid(),
                display: "Scanner London 3F".into(),
                office: 0,
            },
            Printer {
                upn: "mfp-nyc-12@contoso.com".into(),
                id: rng.guid(),
                display: "MFP New York 12".into(),
                office: 3,
            },
        ];

        let org = format!(
            "o-{}",
            rng.string_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 10)
        );
        let acct = |rng: &mut Rng| format!("{:012}", 100_000_000_000 + rng.below(899_999_999_999));
        let aws_accounts = vec![
            AwsAccount {
                id: acct(&mut rng),
                name: "contoso-prod",
                org: None,
            },
            AwsAccount {
                id: acct(&mut rng),
                name: "contoso-dev",
                org: Some(org),
            },
            AwsAccount {
                id: acct(&mut rng),
                name: "contoso-shared",
                org: None,
            },
        ];
        let mut saml_roles = Vec::new();
        for a in 0..aws_accounts.len() {
            for name in ["EntraSSO-ReadOnly", "EntraSSO-Developer", "EntraSSO-Admin"] {
                saml_roles.push(SamlRole {
                    account: a,
                    name,
                    role_id: format!("AROA{}", rng.string_from(ALNUM_UPPER, 17)),
                });
            }
        }
        let mut iam_users = Vec::new();
        for (i, name) in ["pedro", "ana.ops", "kwame.netops"].iter().enumerate() {
            iam_users.push(IamUser {
                account: i % 2,
                name: (*name).into(),
                principal_id: format!("AIDA{}", rng.string_from(ALNUM_UPPER, 17)),
                key: aws_key(&mut rng, "AKIA"),
                kind: IamKind::Console,
                ip: if i == 0 {
                    nats[0].ip
                } else {
                    ip_in(catalog::LONDON, rng.u64(), false)
                },
            });
        }
        for i in 0..8 {
            let office = if i % 3 == 2 { 3 } else { 0 };
            iam_users.push(IamUser {
                account: i % 3,
                name: format!(
                    "dev-{}",
                    catalog::FIRST_NAMES[(i * 7 + 3) % catalog::FIRST_NAMES.len()]
                ),
                principal_id: format!("AIDA{}", rng.string_from(ALNUM_UPPER, 17)),
                key: aws_key(&mut rng, "AKIA"),
                kind: IamKind::Cli,
                ip: nats[office].ip,
            });
        }
        let ci_role_ids = (0..3)
            .map(|_| format!("AROA{}", rng.string_from(ALNUM_UPPER, 17)))
            .collect();
        let app_role_ids = (0..3)
            .map(|_| format!("AROA{}", rng.string_from(ALNUM_UPPER, 17)))
            .collect();

        Population {
            seed,
            tenant,
            domain: "contoso.com",
            users,
            by_office,
            nats,
            vpns,
            partners,
            guests,
            sps,
            printers,
            aws_accounts,
            aws_regions: &["us-east-1", "eu-west-1", "eu-west-2"],
            saml_provider: "EntraID",
            saml_roles,
            iam_users,
            aws_app_id: rng.guid(),
            storage: vec![
                StorageAccount {
                    name: "contosofinance01",
                    location: "uksouth",
                    containers: &["finance", "payroll", "audit"],
                },
                StorageAccount {
                    name: "contosoprojects",
                    location: "uksouth",
                    containers: &["projects", "designs", "shared"],
                },
                StorageAccount {
                    name: "contosobackup01",
                    location: "eastus",
                    containers: &["backups", "sqldumps"],
                },
            ],
            subscription: rng.guid(),
            workspace: rng.guid(),
            ci_repos: &[
                "contoso/web-frontend",
                "contoso/payments-api",
                "contoso/infra-live",
                "contoso/data-pipelines",
            ],
            ci_role_ids,
            app_role_ids,
        }
    }

    /// The VPN concentrator serving an office.
    pub fn vpn_for(&self, office: usize) -> usize {
        match OFFICES[office].0 {
            catalog::NEW_YORK => 1,
            catalog::SEATTLE => 2,
            _ => 0,
        }
    }

    /// True when benign traffic may be generated for user `u` at `t`.
    pub fn available(&self, u: usize, t: i64) -> bool {
        let user = &self.users[u];
        !user.blackout.iter().any(|&(a, b)| t >= a && t < b)
            && !user
                .trips
                .iter()
                .any(|tr| (t >= tr.depart && t < tr.arrive) || (t >= tr.leave && t < tr.back))
    }

    /// Where user `u` is at `t` and the address they use. Stable within an hour.
    pub fn whereabouts(&self, u: usize, t: i64) -> Whereabouts {
        let user = &self.users[u];
        if let Some(tr) = user.trips.iter().find(|tr| t >= tr.arrive && t < tr.leave) {
            return Whereabouts {
                ip: tr.hotel_ip,
                city: tr.city,
                via: Via::Hotel,
            };
        }
        let hour = t.div_euclid(HOUR);
        let h = mix64(self.seed ^ (u as u64).wrapping_mul(0x9e37_79b9) ^ (hour as u64) << 20);
        let city = user.home;
        let local = t + CITIES[city].utc_offset * HOUR;
        let local_hour = local.rem_euclid(24 * HOUR) / HOUR;
        let workday = crate::time::weekday(local) < 5;
        let roll = h % 100;
        let via = if workday && (8..18).contains(&local_hour) {
            match roll {
                0..=74 => Via::Office,
                75..=82 => Via::Vpn,
                83..=94 => Via::Home,
                _ => Via::Mobile,
            }
        } else {
            match roll {
                0..=74 => Via::Home,
                75..=89 => Via::Mobile,
                _ => Via::Vpn,
            }
        };
        let ip = match via {
            Via::Office => self.nats[user.office].ip,
            Via::Vpn => self.vpns[self.vpn_for(user.office)].ip,
            Via::Home => user.home_ip,
            _ => {
                let day = t.div_euclid(24 * HOUR) as u64;
                ip_in(
                    city,
                    mix64(self.seed ^ 0x6d6f_6269 ^ (u as u64) << 24 ^ day),
                    false,
                )
            }
        };
        let city = match via {
            Via::Office => self.nats[user.office].city,
            Via::Vpn => self.vpns[self.vpn_for(user.office)].city,
            _ => city,
        };
        Whereabouts { ip, city, via }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn destinations(home: usize) -> Vec<usize> {
    use catalog::*;
    match home {
        NEW_YORK => vec![LONDON, TOKYO, PARIS],
        SEATTLE => vec![TOKYO, SYDNEY, LONDON],
        DUBLIN => vec![BERLIN, NEW_YORK],
        _ => vec![NEW_YORK, SINGAPORE, TOKYO, BERLIN],
    }
}

/// A trip whose flights are slower than 800 km/h, so no two sign-ins around it ever imply
/// impossible travel. `None` when the corpus span is too short.
fn plan_trip(rng: &mut Rng, home: usize, dest: usize, start: i64, end: i64) -> Option<Trip> {
    let flight = ((distance_km(home, dest) / 800.0) * HOUR as f64) as i64 + 90 * MIN;
    let stay = rng.range(14 * HOUR, 60 * HOUR);
    let need = 2 * flight + stay;
    let room = end - start - need - 4 * HOUR;
    if room <= 0 {
        return None;
    }
    let depart = start + 2 * HOUR + rng.range(0, room);
    let arrive = depart + flight;
    let leave = arrive + stay;
    Some(Trip {
        depart,
        arrive,
        leave,
        back: leave + flight,
        city: dest,
        hotel_ip: ip_in(dest, rng.u64(), false),
    })
}
