//! The generation driver: walks the corpus period in ten-minute slices, fills each with benign
//! activity proportional to the organisation's diurnal volume, merges the scenario events, and
//! writes everything in time order through the sinks; then writes the manifest.

use std::collections::{BTreeMap, BinaryHeap};
use std::fs;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;

use crate::benign::{self, Benign};
use crate::event::{Ev, Payload};
use crate::json::ip_text;
use crate::json::J;
use crate::manifest::{
    AwsAccountInfo, EventCounts, EventRef, FileInfo, Manifest, NamedId, ReferenceLists, Scenario,
    TenantInfo, FORMAT_VERSION, FP_EVENT_LIST_CAP,
};
use crate::population::Population;
use crate::signin::{SignInKind, TenantField};
use crate::time::{rfc3339, Frac, DAY, MIN, SEC};
use crate::writers::{Shape, Sinks, ALL_SHAPES};
use crate::{blob, cloudtrail, oracle, render_entra, render_la, scenarios, CorpusConfig, GenError};

const SLICE: i64 = 10 * MIN;
/// Top-level entries the generator owns inside the output directory.
const OWNED: [&str; 4] = ["entra", "storage", "cloudtrail", "manifest.json"];

pub fn run(
    cfg: &CorpusConfig,
    out_dir: &Path,
    mut progress: impl FnMut(u64),
) -> Result<Manifest, GenError> {
    if !(2..=366).contains(&cfg.days) {
        return Err(GenError::Invalid(format!(
            "--days must be between 2 and 366, got {}",
            cfg.days
        )));
    }
    if !(0.0..=1.0).contains(&cfg.gzip_share) {
        return Err(GenError::Invalid(format!(
            "--gzip-share must be within [0, 1], got {}",
            cfg.gzip_share
        )));
    }
    prepare_dir(out_dir)?;
    let start = cfg.start.timestamp() * SEC;
    let end = start + i64::from(cfg.days) * DAY;
    let mut pop = Population::build(cfg.seed, cfg.events, start, end);
    let set = scenarios::build(&pop, cfg.seed, start, end);
    for &(u, a, b) in &set.blackouts {
        pop.users[u].blackout.push((a, b));
    }
    let scenario_events = set.events.len() as u64;
    if cfg.events < scenario_events + 500 {
        return Err(GenError::Invalid(format!(
            "--events must be at least {} (the scenarios alone need {scenario_events})",
            scenario_events + 500
        )));
    }
    let benign_total = cfg.events - scenario_events;
    let pop = &pop;
    let mut sinks = Sinks::new(
        out_dir,
        pop,
        cfg.seed,
        cfg.gzip_share,
        trail_window(cfg.events, cfg.days),
    );
    let mut out = Output {
        j: J::with_capacity(8192),
        tmp: J::with_capacity(4096),
        scenarios: set.scenarios,
        ..Output::default()
    };
    let mut heap: BinaryHeap<Ev> = set.events.into_iter().collect();
    let mut gen = Benign::new(pop, cfg.seed, set.fp, scenario_events + 1, end);

    let slices = (end - start) / SLICE;
    let weights: Vec<f64> = (0..slices)
        .map(|k| benign::volume(start + k * SLICE + SLICE / 2))
        .collect();
    let total_w: f64 = weights.iter().sum();
    let mut cum = 0.0;
    for (k, w) in weights.iter().enumerate() {
        let s0 = start + k as i64 * SLICE;
        cum += w / total_w * benign_total as f64;
        let target = if k as i64 == slices - 1 {
            benign_total
        } else {
            (cum.floor() as u64).min(benign_total)
        };
        gen.begin_slice(s0);
        let first = gen.total();
        let step = SLICE as f64 / target.saturating_sub(first).max(1) as f64;
        while gen.total() < target {
            let t = s0 + ((gen.total() - first) as f64 * step) as i64 + gen.jitter(step as i64);
            gen.activity(t, benign_total - gen.total());
        }
        heap.extend(gen.out.drain(..));
        while heap.peek().is_some_and(|e| e.time() < s0 + SLICE) {
            if let Some(ev) = heap.pop() {
                out.write(ev, &mut sinks, pop, &mut progress)?;
            }
        }
    }
    while let Some(ev) = heap.pop() {
        out.write(ev, &mut sinks, pop, &mut progress)?;
    }
    sinks.finish()?;
    progress(out.written);
    let manifest = out.manifest(cfg, pop, &sinks, start, end);
    let path = out_dir.join("manifest.json");
    let file = fs::File::create(&path).map_err(|e| GenError::io("manifest.json", e))?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, &manifest)?;
    w.write_all(b"\n")
        .and_then(|_| w.flush())
        .map_err(|e| GenError::io("manifest.json", e))?;
    Ok(manifest)
}

/// Creates `dir`, or clears what a previous run left in it; refuses a directory holding
/// anything the generator did not write.
fn prepare_dir(dir: &Path) -> Result<(), GenError> {
    let shown = dir.display().to_string();
    if dir.exists() {
        let entries = fs::read_dir(dir).map_err(|e| GenError::io(&shown, e))?;
        let mut names = Vec::new();
        for e in entries {
            let e = e.map_err(|e| GenError::io(&shown, e))?;
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        if let Some(foreign) = names.iter().find(|n| !OWNED.contains(&n.as_str())) {
            return Err(GenError::Invalid(format!(
                "output directory {shown} contains {foreign:?}, which the generator did not write; use an empty directory"
            )));
        }
        for n in names {
            let p = dir.join(&n);
            let r = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            r.map_err(|e| GenError::io(p.display().to_string(), e))?;
        }
    }
    fs::create_dir_all(dir).map_err(|e| GenError::io(&shown, e))
}

/// Trail files cover a window sized for about 200 records per (account, region) file.
fn trail_window(events: u64, days: u32) -> i64 {
    let per_day = events as f64 * 0.25 / f64::from(days) / 9.0;
    let want = 200.0 / (per_day / 1440.0).max(1e-9);
    let minutes = [5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440]
        .into_iter()
        .find(|&m| f64::from(m) >= want)
        .unwrap_or(1440);
    i64::from(minutes) * MIN
}

/// Keeps the table of a sign-in consistent with its kind.
fn fix_shape(shape: Shape, p: &Payload) -> Shape {
    use Shape::*;
    match p {
        Payload::SignIn(s) => match (s.kind, shape) {
            (
                SignInKind::ServicePrincipal,
                LaSigninNdjson
                | LaNonInteractiveNdjson
                | LaSigninArray
                | LaQuerySignin
                | LaQueryNonInteractive,
            ) => DiagRecords,
            (SignInKind::NonInteractive, LaSigninNdjson | LaSigninArray) => LaNonInteractiveNdjson,
            (SignInKind::NonInteractive, LaQuerySignin) => LaQueryNonInteractive,
            (SignInKind::Interactive, LaNonInteractiveNdjson) => LaSigninNdjson,
            (SignInKind::Interactive, LaQueryNonInteractive) => LaQuerySignin,
            _ => shape,
        },
        _ => shape,
    }
}

#[derive(Default)]
struct Output {
    j: J,
    tmp: J,
    written: u64,
    by_source: [u64; 3],
    drift: BTreeMap<String, u64>,
    first: Option<i64>,
    last: Option<i64>,
    scenarios: Vec<Scenario>,
}

impl Output {
    fn bump(&mut self, k: &str) {
        *self.drift.entry(k.to_string()).or_insert(0) += 1;
    }

    fn write(
        &mut self,
        ev: Ev,
        sinks: &mut Sinks,
        pop: &Population,
        progress: &mut impl FnMut(u64),
    ) -> Result<(), GenError> {
        let shape = fix_shape(ev.shape, &ev.payload);
        let time = ev.time();
        self.j.clear();
        let part = match &ev.payload {
            Payload::SignIn(s) => {
                match shape {
                    Shape::GraphPage | Shape::GraphNdjson => {
                        render_entra::graph(&mut self.j, s, true)
                    }
                    Shape::GraphArrayV1 => render_entra::graph(&mut self.j, s, false),
                    Shape::DiagRecords | Shape::DiagJsonl => {
                        render_entra::diag(&mut self.j, s, pop)
                    }
                    Shape::LaQuerySignin | Shape::LaQueryNonInteractive => {
                        render_la::la_row_array(&mut self.j, &mut self.tmp, s, pop)
                    }
                    _ => render_la::la_row_object(&mut self.j, &mut self.tmp, s, pop),
                }
                0
            }
            Payload::Blob(b) => {
                match shape {
                    Shape::BlobDiag => blob::diag(&mut self.j, b, pop),
                    Shape::BlobLaQuery => {
                        blob::la(&mut self.j, &mut self.tmp, b, pop, blob::LaMode::Array)
                    }
                    _ => blob::la(&mut self.j, &mut self.tmp, b, pop, blob::LaMode::Object),
                }
                let cat = ["StorageRead", "StorageWrite", "StorageDelete"]
                    .iter()
                    .position(|c| *c == b.category())
                    .unwrap_or(0);
                if shape == Shape::BlobDiag {
                    b.account * 3 + cat
                } else {
                    0
                }
            }
            Payload::Ct(r) => {
                match shape {
                    Shape::CtLookup => cloudtrail::lookup_entry(&mut self.j, &mut self.tmp, r, pop),
                    Shape::CtEventBridge => cloudtrail::eventbridge(&mut self.j, r, pop),
                    Shape::CtLogstash => cloudtrail::record(&mut self.j, r, pop, true),
                    _ => cloudtrail::record(&mut self.j, r, pop, false),
                }
                let region = pop
                    .aws_regions
                    .iter()
                    .position(|x| *x == r.region)
                    .unwrap_or(0);
                if matches!(shape, Shape::CtTrail | Shape::CtOrgTrail) {
                    r.account * pop.aws_regions.len() + region
                } else {
                    0
                }
            }
        };
        let file = sinks.write(shape, part, time, &self.j.buf)?;
        self.written += 1;
        self.by_source[ev.payload.source().index()] += 1;
        self.first = Some(self.first.map_or(time, |f| f.min(time)));
        self.last = Some(self.last.map_or(time, |l| l.max(time)));
        self.count_drift(&ev.payload, shape);
        if let Some(tag) = ev.tag {
            let file = sinks.files[file].path.clone();
            let r = event_ref(&ev.payload, shape, tag.label.into_owned(), file);
            let sc = &mut self.scenarios[tag.scenario];
            sc.event_count += 1;
            let t = r.time.clone();
            if sc.first_event_time.is_none() {
                sc.first_event_time = Some(t.clone());
            }
            sc.last_event_time = Some(t);
            if sc.kind == "false_positive" && sc.events.len() >= FP_EVENT_LIST_CAP {
                sc.events_truncated = true;
            } else {
                sc.events.push(r);
            }
        }
        if self.written.is_multiple_of(65_536) {
            progress(self.written);
        }
        Ok(())
    }

    fn count_drift(&mut self, p: &Payload, shape: Shape) {
        let la = shape.is_la_signin();
        match p {
            Payload::SignIn(s) => {
                if s.ip.is_ipv6() {
                    self.bump("signin_ipv6_address");
                }
                if la || matches!(shape, Shape::DiagRecords | Shape::DiagJsonl) {
                    self.bump("signin_result_type_string");
                }
                if matches!(shape, Shape::LaSigninNdjson | Shape::LaSigninArray)
                    && s.kind == SignInKind::Interactive
                {
                    self.bump(if s.dyn_text {
                        "la_dynamic_columns_as_json_text"
                    } else {
                        "la_dynamic_columns_nested"
                    });
                }
                if !s.risk_events.is_empty() {
                    let k = match (la, s.risk_enc) {
                        (false, _) => "risk_event_types_array",
                        (true, crate::signin::RiskEnc::JsonText) => "risk_event_types_json_text",
                        (true, crate::signin::RiskEnc::Comma) => "risk_event_types_comma_string",
                    };
                    self.bump(k);
                }
                if s.user_type == "guest" && matches!(s.home_tenant, TenantField::Id(_)) {
                    self.bump("signin_guest_home_tenant_differs");
                }
            }
            Payload::Blob(b) => {
                if b.ip.is_ipv6() {
                    self.bump("blob_caller_ipv6_bracketed");
                }
            }
            Payload::Ct(r) => {
                if r.ip.parse::<IpAddr>().is_err() {
                    self.bump("cloudtrail_service_name_source_ip");
                }
                match shape {
                    Shape::CtLogstash => self.bump("cloudtrail_at_timestamp_instead_of_event_time"),
                    Shape::CtLookup => self.bump("cloudtrail_lookup_event_json_string"),
                    Shape::CtEventBridge => self.bump("cloudtrail_eventbridge_detail"),
                    _ => {}
                }
            }
        }
    }

    fn manifest(
        self,
        cfg: &CorpusConfig,
        pop: &Population,
        sinks: &Sinks,
        start: i64,
        end: i64,
    ) -> Manifest {
        let mut counts = EventCounts {
            total: self.written,
            ..EventCounts::default()
        };
        for (i, s) in ["entra_signin", "storage_blob", "cloudtrail"]
            .iter()
            .enumerate()
        {
            counts.by_source.insert(s.to_string(), self.by_source[i]);
        }
        for (i, s) in ALL_SHAPES.iter().enumerate() {
            counts
                .by_shape
                .insert(s.name().to_string(), sinks.shape_counts[i]);
        }
        Manifest {
            generator: format!("skein-testkit {}", env!("CARGO_PKG_VERSION")),
            format_version: FORMAT_VERSION,
            seed: cfg.seed,
            requested_events: cfg.events,
            start: rfc3339(start, Frac::None),
            end: rfc3339(end, Frac::None),
            days: cfg.days,
            gzip_share: cfg.gzip_share,
            first_event_time: rfc3339(self.first.unwrap_or(start), Frac::Micros),
            last_event_time: rfc3339(self.last.unwrap_or(start), Frac::Micros),
            tenant: TenantInfo {
                tenant_id: pop.tenant.to_string(),
                domain: pop.domain.to_string(),
                users: pop.users.len(),
                guests: pop.guests.len(),
                partner_tenants: pop
                    .partners
                    .iter()
                    .map(|p| NamedId {
                        name: p.name.into(),
                        id: p.tenant.to_string(),
                    })
                    .collect(),
                aws_accounts: pop
                    .aws_accounts
                    .iter()
                    .map(|a| AwsAccountInfo {
                        id: a.id.clone(),
                        name: a.name.into(),
                        organization: a.org.clone(),
                    })
                    .collect(),
                storage_accounts: pop.storage.iter().map(|s| s.name.to_string()).collect(),
            },
            reference_lists: ReferenceLists {
                corporate_egress_ips: pop.nats.iter().map(|n| ip_text(&n.ip)).collect(),
                corporate_vpn_ips: pop.vpns.iter().map(|n| ip_text(&n.ip)).collect(),
                partner_tenant_ids: pop.partners.iter().map(|p| p.tenant.to_string()).collect(),
                approved_legacy_accounts: pop.printers.iter().map(|p| p.upn.clone()).collect(),
                tor_exit_ips: scenarios::TOR_EXITS
                    .iter()
                    .map(|o| ip_text(&IpAddr::from(*o)))
                    .collect(),
                high_risk_countries: oracle::HIGH_RISK_COUNTRIES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                recon_apis: crate::catalog::RECON_APIS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                legacy_client_apps: [
                    "IMAP4",
                    "POP3",
                    "Authenticated SMTP",
                    "Exchange ActiveSync",
                    "ExchangeActiveSync",
                    "AutoDiscover",
                    "Exchange Web Services",
                    "Outlook Anywhere (RPC over HTTP)",
                    "Other clients",
                    "MAPI Over HTTP",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            },
            events: counts,
            drift: self.drift,
            files: sinks
                .files
                .iter()
                .map(|f| FileInfo {
                    path: f.path.clone(),
                    source: f.source.into(),
                    shape: f.shape.into(),
                    records: f.records,
                    gzip: f.gzip,
                    bytes: f.bytes,
                })
                .collect(),
            scenarios: self.scenarios,
        }
    }
}

fn event_ref(p: &Payload, shape: Shape, label: String, file: String) -> EventRef {
    let base = |source: &str, time: String| EventRef {
        source: source.into(),
        id: None,
        correlation_id: None,
        operation: None,
        time,
        label,
        shape: shape.name().into(),
        file,
        seeds: None,
    };
    match p {
        Payload::SignIn(s) => EventRef {
            id: Some(s.id.to_string()),
            seeds: Some(oracle::verdicts(s, shape).into()),
            ..base("entra_signin", rfc3339(s.time, Frac::None))
        },
        Payload::Blob(b) => EventRef {
            correlation_id: Some(b.correlation.to_string()),
            operation: Some(b.operation.into()),
            ..base("storage_blob", rfc3339(b.time, Frac::Ticks))
        },
        Payload::Ct(r) => EventRef {
            id: Some(r.event_id.to_string()),
            ..base("cloudtrail", rfc3339(r.time, Frac::None))
        },
    }
}
