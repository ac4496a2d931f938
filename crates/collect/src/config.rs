//! `skein.toml`: the sources to collect from, the sweep schedule and the case settings
//! (SPEC §7). Parsed with `toml` + serde; every problem is a [`ConfigError`] naming the file
//! and the field, so the binary can exit with status 2.
//!
//! Secrets are never in this file: it names an environment variable or a file that holds
//! them (`client_secret_env`, `client_secret_file`, ...), resolved by [`crate::secret`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A duration written as `"15m"`, `"24h"`, `"500ms"` (humantime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(Span)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `"15m"`, `"1h 30m"`, `"2s"`: what `--every` and the configuration accept.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration like \"15m\" or \"24h\" ({e})"))
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub sources: Sources,
    #[serde(default)]
    pub sweep: SweepConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub cases: CasesConfig,
    /// The file it was read from (for messages and for relative paths in it).
    #[serde(skip)]
    pub path: PathBuf,
}

/// `[[sources.*]]` tables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    #[serde(default)]
    pub entra: Vec<EntraSource>,
    #[serde(default)]
    pub log_analytics: Vec<LogAnalyticsSource>,
    #[serde(default)]
    pub cloudtrail: Vec<CloudTrailSource>,
}

/// How to authenticate to Microsoft Entra ID: exactly one of a client secret (from the
/// environment or a file), a client certificate (PKCS#12), a client assertion file
/// (a federated token, re-read on every token request), or `credential = "developer_tools"`
/// (Azure CLI / azd login).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureAuth {
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub client_id: String,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub client_certificate_file: Option<PathBuf>,
    pub client_certificate_password_env: Option<String>,
    pub client_certificate_password_file: Option<PathBuf>,
    pub client_assertion_file: Option<PathBuf>,
    /// `"developer_tools"`: the Azure CLI or Azure Developer CLI login.
    pub credential: Option<String>,
    /// The Entra ID authority (sovereign clouds, tests). Must be https.
    pub authority_host: Option<String>,
    /// PEM file of extra trusted roots (TLS interception, tests); added to the system roots.
    pub ca_file: Option<PathBuf>,
}

/// Rate limit of one source: at most `requests` per `per`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Span,
}

/// `[[sources.entra]]`: Microsoft Graph `/auditLogs/signIns` (beta).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraSource {
    pub name: String,
    #[serde(flatten)]
    pub auth: AzureAuth,
    #[serde(default = "default_event_types")]
    pub event_types: Vec<String>,
    #[serde(default = "default_graph_endpoint")]
    pub graph_endpoint: String,
    /// Results per page (`$top`, at most 1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Default: Graph's documented 5 requests per 10 s per tenant for sign-ins.
    pub rate_limit: Option<RateLimit>,
}

/// `[[sources.log_analytics]]`: the Log Analytics query API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogAnalyticsSource {
    pub name: String,
    pub workspace_id: String,
    #[serde(flatten)]
    pub auth: AzureAuth,
    #[serde(default = "default_tables")]
    pub tables: Vec<String>,
    #[serde(default = "default_la_endpoint")]
    pub endpoint: String,
    /// A result with this many rows is taken as cut by the service's limit (500,000 rows)
    /// and its time range is split in two.
    #[serde(default = "default_max_rows")]
    pub max_rows: u64,
    /// The smallest time range a split goes down to.
    #[serde(default = "default_min_split")]
    pub min_split: Span,
    pub rate_limit: Option<RateLimit>,
}

/// `[[sources.cloudtrail]]`: `LookupEvents` per region, or trail files in S3.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTrailSource {
    pub name: String,
    #[serde(default)]
    pub regions: Vec<String>,
    /// Endpoint override (LocalStack, moto, tests); credentials come from the standard chain.
    pub endpoint_url: Option<String>,
    /// When set, trail files are read from this bucket instead of calling `LookupEvents`.
    pub s3_bucket: Option<String>,
    #[serde(default)]
    pub s3_prefix: String,
    /// Endpoint override for S3 only (defaults to `endpoint_url`).
    pub s3_endpoint_url: Option<String>,
    /// The bucket's region (default: the first of `regions`).
    pub s3_region: Option<String>,
    /// AWS shared-config profile (default: the chain's default).
    pub profile: Option<String>,
    /// PEM file of extra trusted roots.
    pub ca_file: Option<PathBuf>,
    /// Default: CloudTrail's documented 2 `LookupEvents` requests per second per region.
    pub rate_limit: Option<RateLimit>,
}

/// `[sweep]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    #[serde(default = "default_every")]
    pub every: Span,
    /// How far before a source's cursor each run starts again, for late-arriving logs.
    #[serde(default = "default_overlap")]
    pub overlap: Span,
    /// Where a source with no cursor starts (before now), unless `--since` says.
    #[serde(default = "default_lookback")]
    pub lookback: Span,
    #[serde(default = "default_export_dir")]
    pub export_dir: PathBuf,
    #[serde(default = "default_formats")]
    pub export_formats: Vec<String>,
    /// The rules directory correlate uses.
    #[serde(default = "default_rules")]
    pub rules: PathBuf,
}

/// `[http]`: timeouts and retries of every API call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_timeout")]
    pub timeout: Span,
    /// Attempts after the first one for throttling, 5xx, timeouts and connection errors.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First backoff delay; doubled on each retry, with jitter, capped by `max_backoff`.
    #[serde(default = "default_backoff")]
    pub backoff: Span,
    #[serde(default = "default_max_backoff")]
    pub max_backoff: Span,
}

/// `[cases]`: how findings are joined into cases (SPEC §5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesConfig {
    /// Findings join when one starts within this time of another's end.
    #[serde(default = "default_case_window")]
    pub window: Span,
    /// An address from which at least this many accounts succeeded is a hub, never a join.
    #[serde(default = "default_hub_accounts")]
    pub hub_accounts: usize,
}

fn default_event_types() -> Vec<String> {
    [
        "interactiveUser",
        "nonInteractiveUser",
        "servicePrincipal",
        "managedIdentity",
    ]
    .map(String::from)
    .to_vec()
}
fn default_graph_endpoint() -> String {
    "https://graph.microsoft.com".into()
}
fn default_page_size() -> u32 {
    1000
}
fn default_tables() -> Vec<String> {
    [
        "SigninLogs",
        "AADNonInteractiveUserSignInLogs",
        "StorageBlobLogs",
    ]
    .map(String::from)
    .to_vec()
}
fn default_la_endpoint() -> String {
    "https://api.loganalytics.io".into()
}
fn default_max_rows() -> u64 {
    500_000
}
fn default_min_split() -> Span {
    Span(Duration::from_secs(60))
}
fn default_every() -> Span {
    Span(Duration::from_secs(15 * 60))
}
fn default_overlap() -> Span {
    Span(Duration::from_secs(15 * 60))
}
fn default_lookback() -> Span {
    Span(Duration::from_secs(24 * 3600))
}
fn default_export_dir() -> PathBuf {
    PathBuf::from("cases")
}
fn default_formats() -> Vec<String> {
    vec!["json".into(), "md".into()]
}
fn default_rules() -> PathBuf {
    PathBuf::from("correlations")
}
fn default_timeout() -> Span {
    Span(Duration::from_secs(60))
}
fn default_retries() -> u32 {
    6
}
fn default_backoff() -> Span {
    Span(Duration::from_secs(1))
}
fn default_max_backoff() -> Span {
    Span(Duration::from_secs(60))
}
fn default_case_window() -> Span {
    Span(Duration::from_secs(24 * 3600))
}
fn default_hub_accounts() -> usize {
    50
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            every: default_every(),
            overlap: default_overlap(),
            lookback: default_lookback(),
            export_dir: default_export_dir(),
            export_formats: default_formats(),
            rules: default_rules(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: default_timeout(),
            retries: default_retries(),
            backoff: default_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

impl Default for CasesConfig {
    fn default() -> Self {
        CasesConfig {
            window: default_case_window(),
            hub_accounts: default_hub_accounts(),
        }
    }
}

/// The export formats a sweep can write.
pub const EXPORT_FORMATS: &[&str] = &["json", "ndjson", "csv", "md", "stix", "ocsf", "dot", "html"];

/// Graph `signInEventTypes` values.
pub const EVENT_TYPES: &[&str] = &[
    "interactiveUser",
    "nonInteractiveUser",
    "servicePrincipal",
    "managedIdentity",
];

impl Config {
    /// Reads and checks `path`. Relative paths in it (CA bundles, secret files, the export
    /// directory) are taken relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks a configuration's text; `path` is used in messages and to resolve
    /// relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.path = path.to_path_buf();
        config.resolve_paths();
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self) {
        let base = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let fix_auth = |a: &mut AzureAuth| {
            for p in [
                &mut a.client_secret_file,
                &mut a.client_certificate_file,
                &mut a.client_certificate_password_file,
                &mut a.client_assertion_file,
                &mut a.ca_file,
            ]
            .into_iter()
            .flatten()
            {
                fix(p);
            }
        };
        for s in &mut self.sources.entra {
            fix_auth(&mut s.auth);
        }
        for s in &mut self.sources.log_analytics {
            fix_auth(&mut s.auth);
        }
        for s in &mut self.sources.cloudtrail {
            if let Some(p) = &mut s.ca_file {
                fix(p);
            }
        }
        fix(&mut self.sweep.export_dir);
    }

    fn invalid(&self, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            message,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut names = BTreeSet::new();
        for name in self.source_names() {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(self.invalid(format!(
                    "source name `{name}`: use letters, digits, '-', '_' or '.'"
                )));
            }
            if !names.insert(name) {
                return Err(self.invalid(format!("two sources are named `{name}`")));
            }
        }
        for s in &self.sources.entra {
            self.check_auth(&s.name, &s.auth)?;
            for t in &s.event_types {
                if !EVENT_TYPES.contains(&t.as_str()) {
                    return Err(self.invalid(format!(
                        "source `{}`: unknown event type `{t}` (known: {})",
                        s.name,
                        EVENT_TYPES.join(", ")
                    )));
                }
            }
            if !(1..=1000).contains(&s.page_size) {
                return Err(
                    self.invalid(format!("source `{}`: page_size must be 1 to 1000", s.name))
                );
            }
            self.check_bearer_url(&s.name, "graph_endpoint", &s.graph_endpoint)?;
            self.check_rate(&s.name, s.rate_limit)?;
        }
        for s in &self.sources.log_analytics {
            self.check_auth(&s.name, &s.auth)?;
            if s.workspace_id.trim().is_empty() {
                return Err(self.invalid(format!("source `{}`: workspace_id is empty", s.name)));
            }
            for t in &s.tables {
                if ![
                    "SigninLogs",
                    "AADNonInteractiveUserSignInLogs",
                    "StorageBlobLogs",
                ]
                .contains(&t.as_str())
                {
                    return Err(self.invalid(format!(
                        "source `{}`: table `{t}` is not one skein reads (SigninLogs, \
                         AADNonInteractiveUserSignInLogs, StorageBlobLogs)",
                        s.name
                    )));
                }
            }
            if s.max_rows == 0 {
                return Err(self.invalid(format!("source `{}`: max_rows is 0", s.name)));
            }
            self.check_bearer_url(&s.name, "endpoint", &s.endpoint)?;
            self.check_rate(&s.name, s.rate_limit)?;
        }
        for s in &self.sources.cloudtrail {
            if s.regions.is_empty() {
                return Err(self.invalid(format!(
                    "source `{}`: list at least one region in `regions`",
                    s.name
                )));
            }
            for (field, url) in [
                ("endpoint_url", &s.endpoint_url),
                ("s3_endpoint_url", &s.s3_endpoint_url),
            ] {
                if let Some(url) = url {
                    self.check_url(&s.name, field, url)?;
                }
            }
            self.check_rate(&s.name, s.rate_limit)?;
        }
        for f in &self.sweep.export_formats {
            if !EXPORT_FORMATS.contains(&f.as_str()) {
                return Err(self.invalid(format!(
                    "[sweep] export_formats: unknown format `{f}` (known: {})",
                    EXPORT_FORMATS.join(", ")
                )));
            }
        }
        if self.sweep.every.0 < Duration::from_secs(1) {
            return Err(self.invalid("[sweep] every must be at least 1s".into()));
        }
        if self.cases.hub_accounts < 2 {
            return Err(self.invalid("[cases] hub_accounts must be at least 2".into()));
        }
        Ok(())
    }

    fn check_url(&self, source: &str, field: &str, url: &str) -> Result<(), ConfigError> {
        match url::Url::parse(url) {
            Ok(u) if ["http", "https"].contains(&u.scheme()) => Ok(()),
            _ => Err(self.invalid(format!(
                "source `{source}`: {field} `{url}` is not an http(s) URL"
            ))),
        }
    }

    /// An endpoint that is sent a bearer token: https, or http only to this machine.
    fn check_bearer_url(&self, source: &str, field: &str, url: &str) -> Result<(), ConfigError> {
        self.check_url(source, field, url)?;
        let u = url::Url::parse(url).map_err(|e| self.invalid(e.to_string()))?;
        let loopback = match u.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if u.scheme() == "https" || loopback {
            Ok(())
        } else {
            Err(self.invalid(format!(
                "source `{source}`: {field} `{url}` must be https (the access token would \
                 travel in clear)"
            )))
        }
    }

    fn check_rate(&self, source: &str, rate: Option<RateLimit>) -> Result<(), ConfigError> {
        match rate {
            Some(r) if r.requests == 0 || r.per.0.is_zero() => Err(self.invalid(format!(
                "source `{source}`: rate_limit needs requests > 0 and a non-zero `per`"
            ))),
            _ => Ok(()),
        }
    }

    fn check_auth(&self, source: &str, a: &AzureAuth) -> Result<(), ConfigError> {
        let kinds = [
            a.client_secret_env.is_some(),
            a.client_secret_file.is_some(),
            a.client_certificate_file.is_some(),
            a.client_assertion_file.is_some(),
            a.credential.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count();
        if kinds != 1 {
            return Err(self.invalid(format!(
                "source `{source}`: give exactly one of client_secret_env, client_secret_file, \
                 client_certificate_file, client_assertion_file or credential = \
                 \"developer_tools\" (found {kinds})"
            )));
        }
        if let Some(c) = &a.credential {
            if c != "developer_tools" {
                return Err(self.invalid(format!(
                    "source `{source}`: credential `{c}` is not known (use \"developer_tools\")"
                )));
            }
        } else if a.tenant_id.trim().is_empty() || a.client_id.trim().is_empty() {
            return Err(self.invalid(format!(
                "source `{source}`: tenant_id and client_id are required"
            )));
        }
        if let Some(host) = &a.authority_host {
            match url::Url::parse(host) {
                Ok(u) if u.scheme() == "https" => {}
                _ => {
                    return Err(self.invalid(format!(
                        "source `{source}`: authority_host `{host}` must be an https URL"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Every source's name, in file order (entra, log_analytics, cloudtrail).
    pub fn source_names(&self) -> Vec<&str> {
        self.sources
            .entra
            .iter()
            .map(|s| s.name.as_str())
            .chain(self.sources.log_analytics.iter().map(|s| s.name.as_str()))
            .chain(self.sources.cloudtrail.iter().map(|s| s.name.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests;
