//! Output files: one sink per wire shape, each streaming records into rolling files (by day,
//! by page size, or by the time windows real producers use), with the framing of that shape
//! (Graph pages, query-API tables, `{"records":[...]}`, `{"Records":[...]}`, `LookupEvents`
//! pages, JSON arrays, NDJSON) and optional gzip.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::json::J;
use crate::population::Population;
use crate::rng::{mix64, Rng, ALNUM_UPPER};
use crate::time::{civil, compact_minute, DAY, HOUR};
use crate::GenError;

/// Every wire shape the corpus contains.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Shape {
    GraphPage,
    GraphArrayV1,
    GraphNdjson,
    LaSigninNdjson,
    LaNonInteractiveNdjson,
    LaSigninArray,
    LaQuerySignin,
    LaQueryNonInteractive,
    DiagRecords,
    DiagJsonl,
    BlobLaNdjson,
    BlobLaQuery,
    BlobDiag,
    CtTrail,
    CtOrgTrail,
    CtLookup,
    CtNdjson,
    CtArray,
    CtEventBridge,
    CtLogstash,
}

pub const ALL_SHAPES: [Shape; 20] = [
    Shape::GraphPage,
    Shape::GraphArrayV1,
    Shape::GraphNdjson,
    Shape::LaSigninNdjson,
    Shape::LaNonInteractiveNdjson,
    Shape::LaSigninArray,
    Shape::LaQuerySignin,
    Shape::LaQueryNonInteractive,
    Shape::DiagRecords,
    Shape::DiagJsonl,
    Shape::BlobLaNdjson,
    Shape::BlobLaQuery,
    Shape::BlobDiag,
    Shape::CtTrail,
    Shape::CtOrgTrail,
    Shape::CtLookup,
    Shape::CtNdjson,
    Shape::CtArray,
    Shape::CtEventBridge,
    Shape::CtLogstash,
];

impl Shape {
    /// True for the Log Analytics sign-in shapes (PascalCase rows, `ResultType` as text).
    pub fn is_la_signin(self) -> bool {
        matches!(
            self,
            Shape::LaSigninNdjson
                | Shape::LaNonInteractiveNdjson
                | Shape::LaSigninArray
                | Shape::LaQuerySignin
                | Shape::LaQueryNonInteractive
        )
    }

    /// Stable name used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Shape::GraphPage => "graph_beta_page",
            Shape::GraphArrayV1 => "graph_v1_array",
            Shape::GraphNdjson => "graph_beta_ndjson",
            Shape::LaSigninNdjson => "la_signinlogs_ndjson",
            Shape::LaNonInteractiveNdjson => "la_noninteractive_ndjson",
            Shape::LaSigninArray => "la_signinlogs_array",
            Shape::LaQuerySignin => "la_query_signinlogs",
            Shape::LaQueryNonInteractive => "la_query_noninteractive",
            Shape::DiagRecords => "diag_records",
            Shape::DiagJsonl => "diag_jsonl",
            Shape::BlobLaNdjson => "blob_la_ndjson",
            Shape::BlobLaQuery => "blob_la_query",
            Shape::BlobDiag => "blob_diag_jsonl",
            Shape::CtTrail => "cloudtrail_trail_file",
            Shape::CtOrgTrail => "cloudtrail_org_trail_file",
            Shape::CtLookup => "cloudtrail_lookup_events",
            Shape::CtNdjson => "cloudtrail_ndjson",
            Shape::CtArray => "cloudtrail_json_array",
            Shape::CtEventBridge => "cloudtrail_eventbridge",
            Shape::CtLogstash => "cloudtrail_logstash",
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Shape::BlobLaNdjson | Shape::BlobLaQuery | Shape::BlobDiag => "storage_blob",
            Shape::CtTrail
            | Shape::CtOrgTrail
            | Shape::CtLookup
            | Shape::CtNdjson
            | Shape::CtArray
            | Shape::CtEventBridge
            | Shape::CtLogstash => "cloudtrail",
            _ => "entra_signin",
        }
    }

    fn index(self) -> usize {
        ALL_SHAPES.iter().position(|&s| s == self).unwrap_or(0)
    }

    fn rolling(self, trail_window: i64) -> Roll {
        match self {
            Shape::GraphPage => Roll::Count(500),
            Shape::LaQuerySignin | Shape::LaQueryNonInteractive | Shape::BlobLaQuery => {
                Roll::Count(5_000)
            }
            Shape::DiagRecords => Roll::Count(1_000),
            Shape::CtLookup => Roll::Count(50),
            Shape::BlobDiag => Roll::Window(HOUR),
            Shape::CtTrail | Shape::CtOrgTrail => Roll::Window(trail_window),
            _ => Roll::Window(DAY),
        }
    }

    fn header(self, pop: &Population) -> Vec<u8> {
        let table = |non_interactive: bool, blob: bool| {
            let mut j = J::default();
            j.buf
                .extend_from_slice(br#"{"tables":[{"name":"PrimaryResult","columns":"#);
            if blob {
                let mut tmp = J::default();
                crate::blob::la(
                    &mut j,
                    &mut tmp,
                    &dummy_blob(),
                    pop,
                    crate::blob::LaMode::Columns,
                );
            } else {
                crate::render_la::la_columns(&mut j, non_interactive);
            }
            j.buf.extend_from_slice(b",\"rows\":[\n");
            j.buf
        };
        match self {
            Shape::GraphPage => {
                br#"{"@odata.context":"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns","value":["#.to_vec()
            }
            Shape::LaQuerySignin => table(false, false),
            Shape::LaQueryNonInteractive => table(true, false),
            Shape::BlobLaQuery => table(false, true),
            Shape::DiagRecords => b"{\"records\":[\n".to_vec(),
            Shape::CtTrail | Shape::CtOrgTrail => b"{\"Records\":[".to_vec(),
            Shape::CtLookup => b"{\"Events\":[\n".to_vec(),
            Shape::GraphArrayV1 | Shape::LaSigninArray | Shape::CtArray => b"[\n".to_vec(),
            _ => Vec::new(),
        }
    }

    fn separator(self) -> &'static [u8] {
        match self {
            Shape::CtTrail | Shape::CtOrgTrail | Shape::GraphPage => b",",
            s if s.is_lines() => b"",
            _ => b",\n",
        }
    }

    fn is_lines(self) -> bool {
        matches!(
            self,
            Shape::GraphNdjson
                | Shape::LaSigninNdjson
                | Shape::LaNonInteractiveNdjson
                | Shape::DiagJsonl
                | Shape::BlobLaNdjson
                | Shape::BlobDiag
                | Shape::CtNdjson
                | Shape::CtEventBridge
                | Shape::CtLogstash
        )
    }

    /// Closing text; `more` tells whether another page follows (continuation token).
    fn footer(self, page: u32, more: bool, seed: u64) -> Vec<u8> {
        let token = |n: u32| {
            format!(
                "{:016x}{:016x}",
                mix64(seed ^ u64::from(n)),
                mix64(u64::from(n))
            )
        };
        match self {
            Shape::GraphPage if more => format!(
                "],\"@odata.nextLink\":\"https://graph.microsoft.com/beta/auditLogs/signIns?$top=500&$skiptoken={}_{}\"}}\n",
                token(page),
                page + 1
            )
            .into_bytes(),
            Shape::GraphPage => b"]}\n".to_vec(),
            Shape::CtLookup if more => {
                format!("\n],\"NextToken\":\"{}\"}}\n", crate::rng::base64(token(page).as_bytes())).into_bytes()
            }
            Shape::LaQuerySignin | Shape::LaQueryNonInteractive | Shape::BlobLaQuery => b"\n]}]}\n".to_vec(),
            Shape::CtTrail | Shape::CtOrgTrail => b"]}\n".to_vec(),
            Shape::DiagRecords | Shape::CtLookup => b"\n]}\n".to_vec(),
            Shape::GraphArrayV1 | Shape::LaSigninArray | Shape::CtArray => b"\n]\n".to_vec(),
            _ => Vec::new(),
        }
    }
}

fn dummy_blob() -> crate::blob::BlobOp {
    crate::blob::BlobOp {
        time: 0,
        account: 0,
        operation: "GetBlob",
        auth: crate::blob::AuthKind::Sas,
        requester: None,
        ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        port: 0,
        correlation: crate::rng::Guid(0),
        client_request: crate::rng::Guid(0),
        container: "",
        blob: String::new(),
        ua: "",
        status: 200,
        duration_ms: 0,
        server_ms: 0,
        response_bytes: 0,
        token_hash: None,
    }
}

#[derive(Clone, Copy)]
enum Roll {
    Count(u64),
    Window(i64),
}

enum Out {
    Plain(BufWriter<File>),
    Gz(GzEncoder<BufWriter<File>>),
}

impl Out {
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Out::Plain(w) => w.write_all(b),
            Out::Gz(w) => w.write_all(b),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Out::Plain(mut w) => w.flush(),
            Out::Gz(w) => w.finish()?.flush(),
        }
    }
}

struct OpenFile {
    file: usize,
    out: Out,
    count: u64,
    bucket: i64,
    page: u32,
}

/// One output file, as listed in the manifest.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileEntry {
    pub path: String,
    pub source: &'static str,
    pub shape: &'static str,
    pub records: u64,
    pub gzip: bool,
    pub bytes: u64,
}

const PARTS: usize = 16;

pub struct Sinks<'p> {
    out_dir: PathBuf,
    pop: &'p Population,
    seed: u64,
    gzip_share: f64,
    trail_window: i64,
    open: Vec<Option<OpenFile>>,
    pages: Vec<u32>,
    pub files: Vec<FileEntry>,
    pub shape_counts: Vec<u64>,
    names: Rng,
    paths: std::collections::BTreeSet<String>,
}

impl<'p> Sinks<'p> {
    pub fn new(
        out_dir: &Path,
        pop: &'p Population,
        seed: u64,
        gzip_share: f64,
        trail_window: i64,
    ) -> Self {
        Sinks {
            out_dir: out_dir.to_path_buf(),
            pop,
            seed,
            gzip_share,
            trail_window,
            open: (0..ALL_SHAPES.len() * PARTS).map(|_| None).collect(),
            pages: vec![0; ALL_SHAPES.len()],
            files: Vec::new(),
            shape_counts: vec![0; ALL_SHAPES.len()],
            names: Rng::new(seed, 9),
            paths: std::collections::BTreeSet::new(),
        }
    }

    /// Appends one rendered record to `shape` (partition `part`, e.g. account/region of a trail)
    /// and returns the index of the file it went to.
    pub fn write(
        &mut self,
        shape: Shape,
        part: usize,
        time: i64,
        rec: &[u8],
    ) -> Result<usize, GenError> {
        let slot = shape.index() * PARTS + part.min(PARTS - 1);
        let roll = shape.rolling(self.trail_window);
        let bucket = match roll {
            Roll::Count(_) => 0,
            Roll::Window(w) => time.div_euclid(w),
        };
        let must_roll = match (&self.open[slot], roll) {
            (None, _) => true,
            (Some(f), Roll::Count(n)) => f.count >= n,
            (Some(f), Roll::Window(_)) => f.bucket != bucket,
        };
        if must_roll {
            if let Some(f) = self.open[slot].take() {
                self.close(shape, f, true)?;
            }
            let f = self.open_file(shape, part, bucket, time)?;
            self.open[slot] = Some(f);
        }
        let f = self.open[slot]
            .as_mut()
            .ok_or_else(|| GenError::Invalid("sink not open".into()))?;
        let path = &self.files[f.file].path;
        let io = |e| GenError::io(path, e);
        if f.count > 0 {
            f.out.write_all(shape.separator()).map_err(io)?;
        }
        f.out.write_all(rec).map_err(io)?;
        if shape.is_lines() {
            f.out.write_all(b"\n").map_err(io)?;
        }
        f.count += 1;
        self.files[f.file].records += 1;
        self.shape_counts[shape.index()] += 1;
        Ok(f.file)
    }

    fn open_file(
        &mut self,
        shape: Shape,
        part: usize,
        bucket: i64,
        time: i64,
    ) -> Result<OpenFile, GenError> {
        let page = {
            let p = &mut self.pages[shape.index()];
            *p += 1;
            *p
        };
        let (rel, gz_allowed, always_gz) = self.path_for(shape, part, bucket, page, time);
        let roll = (mix64(self.seed ^ mix64(fnv(&rel))) >> 11) as f64 / (1u64 << 53) as f64;
        let gzip = always_gz || (gz_allowed && roll < self.gzip_share);
        let rel = if gzip && !always_gz {
            format!("{rel}.gz")
        } else {
            rel
        };
        if !self.paths.insert(rel.clone()) {
            return Err(GenError::Invalid(format!(
                "internal error: {rel} would be written twice"
            )));
        }
        let path = self.out_dir.join(&rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| GenError::io(dir.display().to_string(), e))?;
        }
        let file = File::create(&path).map_err(|e| GenError::io(&rel, e))?;
        let buf = BufWriter::with_capacity(256 * 1024, file);
        let mut out = if gzip {
            Out::Gz(GzEncoder::new(buf, Compression::fast()))
        } else {
            Out::Plain(buf)
        };
        out.write_all(&shape.header(self.pop))
            .map_err(|e| GenError::io(&rel, e))?;
        self.files.push(FileEntry {
            path: rel,
            source: shape.source(),
            shape: shape.name(),
            records: 0,
            gzip,
            bytes: 0,
        });
        Ok(OpenFile {
            file: self.files.len() - 1,
            out,
            count: 0,
            bucket,
            page,
        })
    }

    fn close(&mut self, shape: Shape, mut f: OpenFile, more: bool) -> Result<(), GenError> {
        let rel = self.files[f.file].path.clone();
        let more = more && matches!(shape.rolling(self.trail_window), Roll::Count(_));
        f.out
            .write_all(&shape.footer(f.page, more, self.seed))
            .map_err(|e| GenError::io(&rel, e))?;
        f.out.finish().map_err(|e| GenError::io(&rel, e))?;
        let len = fs::metadata(self.out_dir.join(&rel))
            .map_err(|e| GenError::io(&rel, e))?
            .len();
        self.files[f.file].bytes = len;
        Ok(())
    }

    /// Closes every open file (last pages get no continuation token).
    pub fn finish(&mut self) -> Result<(), GenError> {
        for slot in 0..self.open.len() {
            if let Some(f) = self.open[slot].take() {
                self.close(ALL_SHAPES[slot / PARTS], f, false)?;
            }
        }
        Ok(())
    }

    /// (relative path, gzip allowed by share, always gzip)
    fn path_for(
        &mut self,
        shape: Shape,
        part: usize,
        bucket: i64,
        page: u32,
        time: i64,
    ) -> (String, bool, bool) {
        let c = civil(time);
        let day = format!("{:04}-{:02}-{:02}", c.year, c.month, c.day);
        let pop = self.pop;
        let p = match shape {
            Shape::GraphPage => format!("entra/graph/beta-pages/signins-page-{page:05}.json"),
            Shape::GraphArrayV1 => format!("entra/graph/v1-array/signins-{day}.json"),
            Shape::GraphNdjson => format!("entra/graph/beta-ndjson/signins-{day}.ndjson"),
            Shape::LaSigninNdjson => format!("entra/log-analytics/SigninLogs-{day}.ndjson"),
            Shape::LaNonInteractiveNdjson => {
                format!("entra/log-analytics/AADNonInteractiveUserSignInLogs-{day}.ndjson")
            }
            Shape::LaSigninArray => format!("entra/log-analytics/az-cli/SigninLogs-{day}.json"),
            Shape::LaQuerySignin => {
                format!("entra/log-analytics/query-api/SigninLogs-{page:05}.json")
            }
            Shape::LaQueryNonInteractive => {
                format!(
                    "entra/log-analytics/query-api/AADNonInteractiveUserSignInLogs-{page:05}.json"
                )
            }
            Shape::DiagRecords => format!("entra/diagnostic/eventhub/signins-{page:05}.json"),
            Shape::DiagJsonl => format!("entra/diagnostic/jsonl/signins-{day}.jsonl"),
            Shape::BlobLaNdjson => format!("storage/log-analytics/StorageBlobLogs-{day}.ndjson"),
            Shape::BlobLaQuery => {
                format!("storage/log-analytics/query-api/StorageBlobLogs-{page:05}.json")
            }
            Shape::BlobDiag => {
                let acct = pop.storage[part / 3].name.to_uppercase();
                let cat = ["storageread", "storagewrite", "storagedelete"][part % 3];
                let h = civil(bucket * HOUR);
                let p = format!(
                    "storage/insights-logs-{cat}/resourceId=/SUBSCRIPTIONS/{}/RESOURCEGROUPS/RG-DATA-PROD/PROVIDERS/MICROSOFT.STORAGE/STORAGEACCOUNTS/{acct}/BLOBSERVICES/DEFAULT/y={:04}/m={:02}/d={:02}/h={:02}/m=00/PT1H.json",
                    pop.subscription.to_string().to_uppercase(),
                    h.year,
                    h.month,
                    h.day,
                    h.hour
                );
                return (p, false, false);
            }
            Shape::CtTrail | Shape::CtOrgTrail => {
                let nreg = pop.aws_regions.len();
                let a = &pop.aws_accounts[part / nreg];
                let region = pop.aws_regions[part % nreg];
                let w = civil(bucket * self.trail_window);
                let stamp = compact_minute(bucket * self.trail_window);
                let rand = self.names.string_from(ALNUM_UPPER, 16);
                let prefix = match &a.org {
                    Some(org) => format!("cloudtrail/AWSLogs/{org}/{}", a.id),
                    None => format!("cloudtrail/AWSLogs/{}", a.id),
                };
                let p = format!(
                    "{prefix}/CloudTrail/{region}/{:04}/{:02}/{:02}/{}_CloudTrail_{region}_{stamp}_{rand}.json.gz",
                    w.year, w.month, w.day, a.id
                );
                return (p, false, true);
            }
            Shape::CtLookup => format!("cloudtrail/lookup-events/lookup-events-{page:05}.json"),
            Shape::CtNdjson => format!("cloudtrail/lake-export/cloudtrail-{day}.ndjson"),
            Shape::CtArray => format!("cloudtrail/json-array/cloudtrail-{day}.json"),
            Shape::CtEventBridge => format!("cloudtrail/eventbridge/events-{day}.ndjson"),
            Shape::CtLogstash => format!("cloudtrail/logstash/cloudtrail-{day}.ndjson"),
        };
        (p, true, false)
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
