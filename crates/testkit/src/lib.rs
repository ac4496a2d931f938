//! Deterministic corpus generator for skein — **dev/test-only tooling**, not part of the
//! product. This crate owns the generator: the simulated organisation, benign traffic, the attack
//! scenarios from the seed detections' Testing Methodology, every wire shape skein ingests
//! (SPEC §2), and the manifest that records the ground truth. Tests and `make bench` use it;
//! nothing in the `skein` binary's runtime path depends on it.
//!
//! ```no_run
//! use skein_testkit::{generate, CorpusConfig};
//! let cfg = CorpusConfig { events: 2_000, ..CorpusConfig::default() };
//! let manifest = generate(&cfg, std::path::Path::new("corpus"), |_| {}).unwrap();
//! assert_eq!(manifest.events.total, 2_000);
//! ```
//!
//! The same configuration always produces byte-identical files: all randomness comes from
//! `ChaCha8Rng` seeded by [`CorpusConfig::seed`], no hash-map order reaches the output and no
//! wall clock is read. Output is streamed (memory stays flat in the corpus size).

mod attacks;
mod aws;
mod benign;
mod benign_aws;
mod blob;
mod catalog;
mod cloudtrail;
mod coverage;
mod dense;
mod event;
mod generate;
mod json;
pub mod manifest;
mod oracle;
mod population;
mod render_entra;
mod render_la;
mod rng;
mod scenarios;
mod signin;
mod time;
mod writers;

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

pub use dense::dense_corpus;
pub use manifest::{EventRef, FileInfo, Manifest, Scenario};

/// What to generate.
#[derive(Clone, Debug)]
pub struct CorpusConfig {
    /// Number of events (records) to write, scenarios included. At least about 800.
    pub events: u64,
    pub seed: u64,
    /// Start of the corpus period (UTC, truncated to the second).
    pub start: DateTime<Utc>,
    /// Length of the period in days (2..=366); scenarios sit on the middle day.
    pub days: u32,
    /// Share (0..=1) of export files written gzip-compressed (CloudTrail trail files are always
    /// gzipped, storage archive `PT1H.json` files never).
    pub gzip_share: f64,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            events: 10_000,
            seed: 1,
            start: Utc
                .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            days: 7,
            gzip_share: 0.25,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("invalid corpus configuration: {0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing manifest: {0}")]
    Manifest(#[from] serde_json::Error),
}

impl GenError {
    pub(crate) fn io(path: impl AsRef<str>, source: std::io::Error) -> Self {
        GenError::Io {
            path: path.as_ref().to_string(),
            source,
        }
    }
}

/// Writes a corpus of `cfg.events` events into `out_dir` (created if needed; a previous corpus
/// there is replaced, anything else is refused) and returns the manifest, also written to
/// `out_dir/manifest.json`. `progress` receives the number of events written so far.
pub fn generate(
    cfg: &CorpusConfig,
    out_dir: &Path,
    progress: impl FnMut(u64),
) -> Result<Manifest, GenError> {
    generate::run(cfg, out_dir, progress)
}
