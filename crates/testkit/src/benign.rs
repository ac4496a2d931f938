//! Benign traffic, the bulk of the corpus: working-hours sign-ins with MFA, typos, token
//! refreshes, guests, printers, service principals; OAuth blob reads after the user's own
//! sign-in, SAS and account-key access; AWS SAML federation, console use, CI runs, developers and
//! AWS services. Invariants that keep the ground truth clean: no benign IP sees five distinct
//! users fail within ten minutes; every benign OAuth blob access follows an interactive sign-in of
//! that user from that IP within 24 hours; no benign AWS key makes four distinct reconnaissance
//! calls within two minutes except the tagged console false positive; nobody moves faster than
//! 800 km/h; benign successes match no seed query except the tagged false-positive classes.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::aws;
use crate::blob::{AuthKind, BlobOp, Requester};
use crate::catalog::{self, CITIES};
use crate::event::{route, Ev, Payload, Tag};
use crate::population::{ip_in, Population, Via, Whereabouts, OFFICES};
use crate::rng::{mix64, Rng};
use crate::signin::{self, SignInKind};
use crate::time::{weekday, HOUR, MIN, SEC};

/// Manifest scenario indexes of the documented false-positive classes.
#[derive(Clone, Copy, Default)]
pub struct FpTags {
    pub vpn_anonymized: usize,
    pub b2b_guest: usize,
    pub legacy_printer: usize,
    pub console_burst: usize,
    pub traveller_unfamiliar: usize,
    pub traveller_high_risk_country: usize,
}

/// Relative activity of an office at `t` (working hours, evenings, nights, weekends).
pub fn diurnal(city: usize, t: i64) -> f64 {
    let local = t + CITIES[city].utc_offset * HOUR;
    let h = local.rem_euclid(24 * HOUR) / HOUR;
    if weekday(local) >= 5 {
        return 0.12;
    }
    match h {
        8..=17 => 1.0,
        7 | 18..=20 => 0.4,
        _ => 0.08,
    }
}

/// Relative event volume of the whole organisation at `t` (includes 24/7 automation).
pub fn volume(t: i64) -> f64 {
    let people: f64 = OFFICES
        .iter()
        .map(|&(c, w)| f64::from(w) / 100.0 * diurnal(c, t))
        .sum();
    people + 0.15
}

const SHARES: [f64; 3] = [0.55, 0.20, 0.25];

pub struct Benign<'p> {
    pub(crate) pop: &'p Population,
    pub(crate) rng: Rng,
    pub(crate) fp: FpTags,
    recent: Vec<[(IpAddr, i64); 3]>,
    shared: Vec<IpAddr>,
    shared_fail: Vec<u8>,
    end: i64,
    pub(crate) cli_recon: Vec<i64>,
    pub(crate) aws_users: Vec<usize>,
    pub emitted: [u64; 3],
    pub seq: u64,
    slice_start: i64,
    pub out: Vec<Ev>,
}

impl<'p> Benign<'p> {
    /// Benign traffic for a corpus ending at `end` (multi-event activities stop 15 minutes
    /// before it, so no event falls outside the period).
    pub fn new(pop: &'p Population, seed: u64, fp: FpTags, first_seq: u64, end: i64) -> Self {
        let mut shared: Vec<IpAddr> = pop
            .nats
            .iter()
            .chain(pop.vpns.iter())
            .map(|e| e.ip)
            .collect();
        shared.extend(pop.partners.iter().map(|p| p.nat));
        let n_shared = shared.len();
        Benign {
            pop,
            rng: Rng::new(seed, 3),
            fp,
            recent: vec![[(IpAddr::from([0, 0, 0, 0]), i64::MIN / 2); 3]; pop.users.len()],
            shared,
            shared_fail: vec![0; n_shared],
            end,
            cli_recon: vec![i64::MIN / 2; pop.iam_users.len()],
            aws_users: (0..pop.users.len())
                .filter(|&u| pop.users[u].aws_role.is_some())
                .collect(),
            emitted: [0; 3],
            seq: first_seq,
            slice_start: 0,
            out: Vec::new(),
        }
    }

    /// Starts a new time slice (resets the per-slice failure caps).
    pub fn begin_slice(&mut self, start: i64) {
        self.slice_start = start;
        self.shared_fail.iter_mut().for_each(|c| *c = 0);
    }

    /// Uniform in `0..max` (0 when `max` is 0).
    pub fn jitter(&mut self, max: i64) -> i64 {
        if max <= 0 {
            0
        } else {
            self.rng.below(max as u64) as i64
        }
    }

    pub fn total(&self) -> u64 {
        self.emitted.iter().sum()
    }

    pub(crate) fn emit(&mut self, payload: Payload, tag: Option<Tag>) {
        let shape = route(&mut self.rng, self.pop, &payload, tag.is_some());
        self.emitted[payload.source().index()] += 1;
        self.seq += 1;
        self.out.push(Ev {
            seq: self.seq,
            shape,
            tag,
            payload,
        });
    }

    pub(crate) fn tag(&self, scenario: usize, label: &'static str) -> Option<Tag> {
        Some(Tag {
            scenario,
            label: Cow::Borrowed(label),
        })
    }

    /// Generates one activity starting at `t`. With fewer than 64 events left only
    /// single-event activities run, so the corpus ends on exactly the requested count.
    pub fn activity(&mut self, t: i64, remaining: u64) {
        let t = t.max(self.slice_start);
        let total = self.total() as f64 + 1.0;
        let deficit: [f64; 3] = std::array::from_fn(|i| SHARES[i] * total - self.emitted[i] as f64);
        let src = if self.rng.chance(0.7) {
            (0..3)
                .max_by(|&a, &b| deficit[a].total_cmp(&deficit[b]))
                .unwrap_or(0)
        } else {
            self.rng.weighted(&[55, 20, 25])
        };
        if remaining < 64 || t >= self.end - 15 * MIN {
            match src {
                0 => self.refresh_or_service(t),
                1 => self.sas_blob(t, 1),
                _ => {
                    let a = self.rng.index(self.pop.aws_accounts.len());
                    let r = aws::service_assume_role(&mut self.rng, self.pop, t, a);
                    self.emit(Payload::Ct(Box::new(r)), None);
                }
            }
            return;
        }
        match src {
            0 => match self.rng.weighted(&[40, 52, 5, 1, 1]) {
                0 => {
                    if !self.interactive(t) {
                        self.refresh_or_service(t);
                    }
                }
                1 => self.refresh_or_service(t),
                2 => self.sp_signin(t),
                3 => self.guest(t),
                _ => self.printer(t),
            },
            1 => match self.rng.weighted(&[50, 30, 20]) {
                0 => {
                    if !self.oauth_blob(t) {
                        self.sas_blob(t, 3);
                    }
                }
                1 => self.sas_blob(t, 3),
                _ => self.key_blob(t),
            },
            _ => match self.rng.weighted(&[5, 1, 15, 20, 30, 20]) {
                0 => {
                    if !self.saml_session(t) {
                        self.dev_cli(t);
                    }
                }
                1 => self.iam_console(t),
                2 => self.ci_run(t),
                3 => self.dev_cli(t),
                4 => {
                    let a = self.rng.index(self.pop.aws_accounts.len());
                    let r = aws::service_assume_role(&mut self.rng, self.pop, t, a);
                    self.emit(Payload::Ct(Box::new(r)), None);
                }
                _ => self.app_data(t),
            },
        }
    }

    /// A staff member likely to be active at `t`, honouring blackouts and flights.
    fn pick_user(&mut self, t: i64) -> Option<usize> {
        let pop = self.pop;
        for _ in 0..6 {
            let weights: [u32; 5] = std::array::from_fn(|i| {
                (f64::from(OFFICES[i].1) * diurnal(OFFICES[i].0, t) * 100.0) as u32 + 1
            });
            let office = self.rng.weighted(&weights);
            let list = &pop.by_office[office];
            if list.is_empty() {
                continue;
            }
            let u = list[self.rng.index(list.len())] as usize;
            if self.rng.below(4) >= u64::from(pop.users[u].weight) {
                continue;
            }
            if pop.available(u, t) {
                return Some(u);
            }
        }
        None
    }

    fn fail_ok(&mut self, ip: &IpAddr) -> bool {
        match self.shared.iter().position(|s| s == ip) {
            Some(i) if self.shared_fail[i] >= 2 => false,
            Some(i) => {
                self.shared_fail[i] += 1;
                true
            }
            None => true,
        }
    }

    pub(crate) fn remember(&mut self, u: usize, ip: IpAddr, t: i64) {
        let r = &mut self.recent[u];
        if let Some(slot) = r.iter_mut().find(|e| e.0 == ip) {
            slot.1 = slot.1.max(t);
            return;
        }
        let oldest = (0..3).min_by_key(|&i| r[i].1).unwrap_or(0);
        r[oldest] = (ip, t);
    }

    fn has_recent(&self, u: usize, ip: &IpAddr, t: i64) -> bool {
        self.recent[u]
            .iter()
            .any(|e| e.0 == *ip && e.1 <= t && t - e.1 < 23 * HOUR)
    }

    /// Interactive sign-in, sometimes preceded by a typo; returns false if nobody was free.
    fn interactive(&mut self, t: i64) -> bool {
        let Some(u) = self.pick_user(t) else {
            return false;
        };
        self.interactive_for(u, t);
        true
    }

    fn interactive_for(&mut self, u: usize, t: i64) -> (IpAddr, i64) {
        let pop = self.pop;
        let w = pop.whereabouts(u, t);
        if self.rng.chance(0.03) && self.fail_ok(&w.ip) {
            let ft = (t - self.rng.range(20, 90) * SEC).max(self.slice_start);
            let mut f = signin::member(
                &mut self.rng,
                pop,
                u,
                ft,
                SignInKind::Interactive,
                w.ip,
                w.city,
                w.via,
            );
            f.error = 50126;
            f.mfa = None;
            f.auth_req = "singleFactorAuthentication";
            f.ca_status = "notApplied";
            self.emit(Payload::SignIn(Box::new(f)), None);
        }
        let mut s = signin::member(
            &mut self.rng,
            pop,
            u,
            t,
            SignInKind::Interactive,
            w.ip,
            w.city,
            w.via,
        );
        if self.rng.chance(0.004) && self.fail_ok(&w.ip) {
            s.error = 500121;
            s.ca_status = "failure";
            self.emit(Payload::SignIn(Box::new(s)), None);
            return (w.ip, t);
        }
        let mut tag = None;
        if w.via == Via::Vpn && self.rng.chance(0.05) {
            s.risk_events = &["anonymizedIPAddress"];
            s.risk_level = "low";
            s.risk_agg = "low";
            s.risk_state = "atRisk";
            tag = self.tag(self.fp.vpn_anonymized, "corporate_vpn_anonymized");
        } else if w.via == Via::Hotel {
            if let Some(t) = self.listed_country_tag(&w) {
                tag = Some(t);
            } else if self.rng.chance(0.25) {
                s.risk_events = &["unfamiliarFeatures"];
                s.risk_level = "low";
                s.risk_agg = "low";
                s.risk_state = "atRisk";
                tag = self.tag(
                    self.fp.traveller_unfamiliar,
                    "traveller_unfamiliar_features",
                );
            }
        }
        let time = s.time;
        self.remember(u, w.ip, time);
        self.emit(Payload::SignIn(Box::new(s)), tag);
        (w.ip, time)
    }

    /// Sign-ins of travellers from a listed country are the documented country false positive.
    pub(crate) fn listed_country_tag(&self, w: &Whereabouts) -> Option<Tag> {
        if w.via == Via::Hotel
            && crate::oracle::HIGH_RISK_COUNTRIES.contains(&CITIES[w.city].country)
        {
            self.tag(
                self.fp.traveller_high_risk_country,
                "traveller_in_listed_country",
            )
        } else {
            None
        }
    }

    fn refresh_or_service(&mut self, t: i64) {
        let Some(u) = self.pick_user(t) else {
            self.sp_signin(t);
            return;
        };
        let pop = self.pop;
        let w = pop.whereabouts(u, t);
        let mut s = signin::member(
            &mut self.rng,
            pop,
            u,
            t,
            SignInKind::NonInteractive,
            w.ip,
            w.city,
            w.via,
        );
        if self.rng.chance(0.03) {
            s.error = if self.rng.chance(0.5) { 50173 } else { 70044 };
        }
        let tag = self.listed_country_tag(&w);
        self.emit(Payload::SignIn(Box::new(s)), tag);
    }

    fn sp_signin(&mut self, t: i64) {
        let pop = self.pop;
        let i = self.rng.index(pop.sps.len());
        let sp = &pop.sps[i];
        let hour = (t / HOUR) as u64;
        let ip = ip_in(sp.city, mix64(pop.seed ^ (i as u64) << 40 ^ hour), false);
        let mut s = signin::base(&mut self.rng, pop, t, SignInKind::ServicePrincipal);
        s.interactive = false;
        s.user_id = sp.sp_id;
        s.display = sp.name.to_string();
        s.user_type = "";
        s.app_id = Cow::Owned(sp.app_id.to_string());
        s.app_name = Cow::Borrowed(sp.name);
        s.resource = sp.resource.resource;
        s.resource_id = sp.resource.resource_id;
        s.ip = ip;
        s.city = sp.city;
        s.client_app = "";
        s.ua = "";
        s.os = "";
        s.browser = "";
        s.auth_req = "singleFactorAuthentication";
        s.ca_status = "notApplied";
        s.home_tenant = signin::TenantField::Missing;
        s.credential_type = if i == 0 {
            "federatedIdentityCredential"
        } else {
            "clientSecret"
        };
        s.protocol = "none";
        if self.rng.chance(0.01) {
            s.error = 7_000_215;
        }
        self.emit(Payload::SignIn(Box::new(s)), None);
    }

    fn guest(&mut self, t: i64) {
        let pop = self.pop;
        let g = &pop.guests[self.rng.index(pop.guests.len())];
        let p = &pop.partners[g.partner];
        let dev = &catalog::DEVICES[g.device];
        let mut s = signin::base(&mut self.rng, pop, t, SignInKind::Interactive);
        s.upn.clone_from(&g.upn);
        s.user_id = g.id;
        s.display.clone_from(&g.display);
        s.user_type = "guest";
        signin::set_app(
            &mut s,
            if self.rng.chance(0.6) {
                &catalog::APP_TEAMS
            } else {
                &catalog::APP_SHAREPOINT
            },
        );
        s.ip = p.nat;
        s.city = p.city;
        s.os = dev.os;
        s.browser = dev.browser;
        s.ua = dev.ua;
        s.auth_req = "singleFactorAuthentication";
        s.ca_status = if self.rng.chance(0.7) {
            "notApplied"
        } else {
            "success"
        };
        s.home_tenant = signin::TenantField::Id(p.tenant);
        s.cross_tenant = "b2bCollaboration";
        let tag = self.tag(self.fp.b2b_guest, "partner_b2b_single_factor");
        self.emit(Payload::SignIn(Box::new(s)), tag);
    }

    fn printer(&mut self, t: i64) {
        let pop = self.pop;
        let p = &pop.printers[self.rng.index(pop.printers.len())];
        let mut s = signin::base(&mut self.rng, pop, t, SignInKind::Interactive);
        s.interactive = false;
        s.upn.clone_from(&p.upn);
        s.user_id = p.id;
        s.display.clone_from(&p.display);
        signin::set_app(&mut s, &catalog::APP_EXCHANGE);
        s.ip = pop.nats[p.office].ip;
        s.city = pop.nats[p.office].city;
        s.client_app = "Authenticated SMTP";
        s.ua = "";
        s.os = "";
        s.browser = "";
        s.auth_req = "singleFactorAuthentication";
        s.ca_status = "notApplied";
        s.network = Some("Corporate egress");
        let tag = self.tag(self.fp.legacy_printer, "approved_legacy_smtp_device");
        self.emit(Payload::SignIn(Box::new(s)), tag);
    }

    /// OAuth blob reads by a user, always after that user's own sign-in from the same IP.
    fn oauth_blob(&mut self, t: i64) -> bool {
        let Some(u) = self.pick_user(t) else {
            return false;
        };
        let pop = self.pop;
        let w = pop.whereabouts(u, t);
        let mut t0 = t;
        if !self.has_recent(u, &w.ip, t) {
            let st = (t - self.rng.range(30, 300) * SEC).max(self.slice_start);
            let (_, signed) = self.interactive_for(u, st);
            if !self.has_recent(u, &w.ip, signed) {
                return true;
            }
            t0 = t.max(signed + 20 * SEC);
        }
        let user = &pop.users[u];
        let (app, ua) = match self.rng.below(3) {
            0 => ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", catalog::DEVICES[user.device].ua),
            1 => ("579a7132-0e58-4d80-b1e1-7a1e2d337859", "AzCopy/10.26.0 azsdk-go-azblob/v1.4.0 (go1.22.5; Windows_NT)"),
            _ => ("04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Microsoft Azure Storage Explorer, 1.35.0, win32, azcopy-node, 2.0.0, win32, AzCopy/10.25.0, Windows_NT 10.0.22631"),
        };
        let account = self.rng.index(2);
        let container = *self.rng.pick(pop.storage[account].containers);
        let n = 1 + self.rng.below(4);
        let mut at = t0;
        for i in 0..n {
            let op = if i == 0 && self.rng.chance(0.4) {
                "ListBlobs"
            } else {
                *self
                    .rng
                    .pick(&["GetBlob", "GetBlob", "GetBlobProperties", "PutBlob"])
            };
            let b = self.blob_op(at, account, op, AuthKind::OAuth, w.ip, container, ua);
            let b = BlobOp {
                requester: Some(Requester {
                    object_id: user.id,
                    upn: user.upn.clone(),
                    app_id: app,
                    tenant: pop.tenant,
                }),
                ..b
            };
            self.emit(Payload::Blob(Box::new(b)), None);
            at += self.rng.range(1, 15) * SEC + self.rng.range(0, 999_999);
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    pub fn blob_op(
        &mut self,
        t: i64,
        account: usize,
        op: &'static str,
        auth: AuthKind,
        ip: IpAddr,
        container: &'static str,
        ua: &'static str,
    ) -> BlobOp {
        crate::blob::make(&mut self.rng, t, account, op, auth, ip, container, ua)
    }

    fn sas_blob(&mut self, t: i64, max: u64) {
        let ip = ip_in(
            if self.rng.chance(0.6) {
                catalog::ASHBURN
            } else {
                catalog::DUBLIN
            },
            mix64(self.rng.below(64)),
            false,
        );
        let account = self.rng.index(2);
        let container = *self.rng.pick(self.pop.storage[account].containers);
        let hash = self.rng.hex(64).to_uppercase();
        let n = 1 + self.rng.below(max);
        for i in 0..n {
            let op = if self.rng.chance(0.7) {
                "GetBlob"
            } else {
                "PutBlob"
            };
            let mut b = self.blob_op(
                t + i as i64 * 700_000,
                account,
                op,
                AuthKind::Sas,
                ip,
                container,
                "azsdk-net-Storage.Blobs/12.22.2 (.NET 8.0.10; Microsoft Windows 10.0.20348)",
            );
            b.token_hash = Some(hash.clone());
            self.emit(Payload::Blob(Box::new(b)), None);
        }
    }

    fn key_blob(&mut self, t: i64) {
        let ip = ip_in(catalog::DUBLIN, mix64(7 + self.rng.below(3)), false);
        let container = *self.rng.pick(self.pop.storage[2].containers);
        let n = 1 + self.rng.below(3);
        for i in 0..n {
            let op = *self
                .rng
                .pick(&["PutBlob", "PutBlockList", "GetBlob", "DeleteBlob"]);
            let mut b = self.blob_op(
                t + i as i64 * 1_300_000,
                2,
                op,
                AuthKind::AccountKey,
                ip,
                container,
                "AzCopy/10.26.0 azsdk-go-azblob/v1.4.0 (go1.22.5; linux)",
            );
            b.token_hash = Some(
                "key1(0F3A9C2B7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A)"
                    .to_string(),
            );
            self.emit(Payload::Blob(Box::new(b)), None);
        }
    }
}
