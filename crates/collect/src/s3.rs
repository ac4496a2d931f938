//! CloudTrail trail files in S3: the stream of a `[[sources.cloudtrail]]` table with
//! `s3_bucket` (cursor `cloudtrail/{name}/s3`).
//!
//! A window `[from, to)` covers the objects under `s3_prefix` whose `LastModified` is in it:
//! a file delivered late gets a late `LastModified` and so lands in a later window (the
//! driver's overlap re-reads a little; the store de-duplicates). The window's trail files
//! (`.json` / `.json.gz`, never `CloudTrail-Digest` files) are listed once per window with
//! `ListObjectsV2`, sorted by key, and each page reads one of them: the resume token is the
//! key to read, and a key that has gone since is passed by continuing at the first key after
//! it. Objects are un-gzipped by their magic bytes, framed and parsed by `skein-ingest`
//! exactly as `skein ingest` reads a file; a record that cannot be framed is quarantined.

use std::io::Cursor;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::error::DisplayErrorContext;
use chrono::{DateTime, Utc};
use skein_ingest::framing::DEFAULT_MAX_RECORD_BYTES;
use skein_ingest::{Framer, Item, RecordError};
use skein_model::Source;
use tokio_util::sync::CancellationToken;

use crate::cloudtrail::{from_smithy, until_stopped};
use crate::config::{CloudTrailSource, HttpConfig};
use crate::cursor::Window;
use crate::driver::{Page, Stream};
use crate::http::{sleep_or_stop, RateLimiter, RetryPolicy};
use crate::CollectError;

/// The stream over one bucket's trail files.
pub struct TrailStream {
    source_name: String,
    bucket: String,
    prefix: String,
    client: aws_sdk_s3::Client,
    /// Only when the source sets `rate_limit` (S3's own limits are far above what a trail
    /// produces).
    limiter: Option<RateLimiter>,
    /// For re-reading an object whose body failed mid-way (the SDK retries the request, not
    /// the body).
    retry: RetryPolicy,
    body_timeout: Duration,
    max_record_bytes: usize,
    /// `MaxKeys` of a listing page (`None`: the service's default, 1000).
    list_page_size: Option<i32>,
    stop: CancellationToken,
    /// The sorted trail-file keys of the window last listed.
    listing: Option<(Window, Vec<String>)>,
}

impl TrailStream {
    /// A stream over `bucket` with the client settings of `sdk`; `path_style` when the
    /// endpoint is overridden (LocalStack, moto, S3-compatible stores).
    pub fn new(
        source: &CloudTrailSource,
        bucket: &str,
        sdk: &SdkConfig,
        path_style: bool,
        http: &HttpConfig,
        stop: CancellationToken,
    ) -> TrailStream {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build();
        TrailStream {
            source_name: source.name.clone(),
            bucket: bucket.to_string(),
            prefix: source.s3_prefix.clone(),
            client: aws_sdk_s3::Client::from_conf(conf),
            limiter: source.rate_limit.map(RateLimiter::new),
            retry: RetryPolicy::from(http),
            body_timeout: http.timeout.0,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            list_page_size: None,
            stop,
            listing: None,
        }
    }

    /// Lists `n` keys per `ListObjectsV2` call instead of the service's 1000 (tests).
    pub fn list_page_size(mut self, n: i32) -> TrailStream {
        self.list_page_size = Some(n);
        self
    }

    async fn acquire(&mut self) -> Result<(), CollectError> {
        match &mut self.limiter {
            Some(l) => l.acquire(&self.stop).await,
            None => Ok(()),
        }
    }

    fn api(&self, what: &str, e: impl std::fmt::Display) -> CollectError {
        CollectError::Api {
            source_name: self.source_name.clone(),
            message: format!("{what}: {e}"),
        }
    }

    /// The window's trail-file keys, sorted (listed once per window).
    async fn keys(&mut self, window: &Window) -> Result<&[String], CollectError> {
        if self.listing.as_ref().map(|(w, _)| w) != Some(window) {
            let keys = self.list(window).await?;
            self.listing = Some((window.clone(), keys));
        }
        Ok(self
            .listing
            .as_ref()
            .map(|(_, k)| k.as_slice())
            .unwrap_or_default())
    }

    async fn list(&mut self, window: &Window) -> Result<Vec<String>, CollectError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.acquire().await?;
            let request = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .set_prefix((!self.prefix.is_empty()).then(|| self.prefix.clone()))
                .set_max_keys(self.list_page_size)
                .set_continuation_token(token.take());
            let out = until_stopped(&self.stop, request.send())
                .await?
                .map_err(|e| {
                    self.api(
                        &format!("ListObjectsV2 s3://{}/{}", self.bucket, self.prefix),
                        DisplayErrorContext(&e),
                    )
                })?;
            found.extend(out.contents().iter().filter_map(|o| {
                let modified = o.last_modified().and_then(from_smithy)?;
                Some((o.key()?.to_string(), modified))
            }));
            match out.next_continuation_token() {
                Some(t) if !t.is_empty() && out.is_truncated() != Some(false) => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
        Ok(select_keys(found, window))
    }

    /// The object's bytes. A body that fails part-way is fetched again (with backoff, up to
    /// `[http] retries` times); a key deleted since the listing is `None`.
    async fn fetch(&mut self, key: &str) -> Result<Option<Vec<u8>>, CollectError> {
        let shown = format!("GetObject s3://{}/{key}", self.bucket);
        let mut attempt = 0u32;
        loop {
            self.acquire().await?;
            let request = self.client.get_object().bucket(&self.bucket).key(key);
            let out = match until_stopped(&self.stop, request.send()).await? {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                    tracing::warn!("{}: {shown}: gone since it was listed", self.source_name);
                    return Ok(None);
                }
                Err(e) => return Err(self.api(&shown, DisplayErrorContext(&e))),
            };
            let body = tokio::time::timeout(self.body_timeout, out.body.collect());
            let problem = match until_stopped(&self.stop, body).await? {
                Ok(Ok(bytes)) => return Ok(Some(bytes.into_bytes().to_vec())),
                Ok(Err(e)) => format!("reading the body failed: {}", DisplayErrorContext(&e)),
                Err(_) => format!("reading the body took longer than {:?}", self.body_timeout),
            };
            if attempt >= self.retry.retries {
                return Err(self.api(
                    &shown,
                    format!("{problem} (gave up after {} attempts)", attempt + 1),
                ));
            }
            tracing::info!("{}: {shown}: {problem}; retrying", self.source_name);
            sleep_or_stop(self.retry.backoff_for(attempt), &self.stop).await?;
            attempt += 1;
        }
    }
}

#[async_trait]
impl Stream for TrailStream {
    fn cursor_name(&self) -> String {
        format!("cloudtrail/{}/s3", self.source_name)
    }

    async fn page(&mut self, window: &Window, resume: Option<&str>) -> Result<Page, CollectError> {
        let keys = self.keys(window).await?;
        let at = start_index(keys, resume);
        let (Some(key), next) = (keys.get(at).cloned(), keys.get(at + 1).cloned()) else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
                origin: format!("s3://{}/{}", self.bucket, self.prefix),
            });
        };
        let origin = format!("s3://{}/{key}", self.bucket);
        let items = match self.fetch(&key).await? {
            None => Vec::new(),
            Some(bytes) => {
                let max = self.max_record_bytes;
                tokio::task::spawn_blocking(move || parse_object_bytes(bytes, max))
                    .await
                    .map_err(|e| CollectError::Response {
                        source_name: self.source_name.clone(),
                        message: format!("{origin}: parsing failed: {e}"),
                    })?
            }
        };
        Ok(Page {
            items,
            next,
            origin,
        })
    }
}

/// Whether a key names a trail file: `.json` or `.json.gz` (any case), not a digest file
/// (`AWSLogs/.../CloudTrail-Digest/...`) and not a folder marker.
pub fn is_trail_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    !lower.ends_with('/')
        && !lower.contains("cloudtrail-digest")
        && (lower.ends_with(".json") || lower.ends_with(".json.gz"))
}

/// The trail-file keys whose `LastModified` is in `window`, sorted and without repeats.
pub fn select_keys(objects: Vec<(String, DateTime<Utc>)>, window: &Window) -> Vec<String> {
    let mut keys: Vec<String> = objects
        .into_iter()
        .filter(|(key, modified)| {
            window.from <= *modified && *modified < window.to && is_trail_key(key)
        })
        .map(|(key, _)| key)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Where to read in sorted `keys`: the first key at or after `resume` (the first key when
/// `None`), so that a resume key that has gone since continues at the one after it.
pub fn start_index(keys: &[String], resume: Option<&str>) -> usize {
    match resume {
        None => 0,
        Some(r) => keys.partition_point(|k| k.as_str() < r),
    }
}

/// An object's bytes (gzip or not, by magic bytes) through `skein-ingest`'s framer and
/// parsers; a record that cannot be framed becomes a rejection naming its line.
pub fn parse_object_bytes(bytes: Vec<u8>, max_record_bytes: usize) -> Vec<Item> {
    let mut items = Vec::new();
    let reader = match skein_ingest::input::decode(Cursor::new(bytes)) {
        Ok(r) => r,
        Err(e) => {
            items.push(frame_rejection(e.to_string()));
            return items;
        }
    };
    for frame in Framer::new(reader, max_record_bytes) {
        match frame {
            Ok(frame) => skein_ingest::parse_frame(&frame, Some(Source::Cloudtrail), &mut items),
            Err(e) => items.push(frame_rejection(e.to_string())),
        }
    }
    items
}

fn frame_rejection(problem: String) -> Item {
    Item::Rejected {
        row: None,
        error: RecordError::Invalid {
            shape: "cloudtrail trail file",
            problem,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn only_trail_files_are_read() {
        for key in [
            "AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/01/123456789012_CloudTrail_us-east-1_20240801T1335Z_a.json.gz",
            "AWSLogs/o-abc/123456789012/CloudTrail/eu-west-1/2024/08/01/x.json",
            "export/TRAIL.JSON.GZ",
        ] {
            assert!(is_trail_key(key), "{key}");
        }
        for key in [
            "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2024/08/01/123456789012_CloudTrail-Digest_us-east-1_t_20240801T1335Z.json.gz",
            "AWSLogs/123456789012/CloudTrail/us-east-1/",
            "AWSLogs/123456789012/CloudTrail/us-east-1/readme.txt",
            "AWSLogs/123456789012/CloudTrail/us-east-1/x.json.gz.tmp",
        ] {
            assert!(!is_trail_key(key), "{key}");
        }
    }

    #[test]
    fn keys_are_chosen_by_last_modified_and_sorted() {
        let w = Window {
            from: t("2024-08-01T10:00:00Z"),
            to: t("2024-08-01T11:00:00Z"),
        };
        let objects = vec![
            ("b.json.gz".to_string(), t("2024-08-01T10:30:00Z")),
            ("a.json.gz".to_string(), t("2024-08-01T10:00:00Z")),
            ("c.json.gz".to_string(), t("2024-08-01T11:00:00Z")),
            ("early.json.gz".to_string(), t("2024-08-01T09:59:59Z")),
            (
                "x/CloudTrail-Digest/d.json.gz".to_string(),
                t("2024-08-01T10:10:00Z"),
            ),
            ("a.json.gz".to_string(), t("2024-08-01T10:00:00Z")),
        ];
        assert_eq!(select_keys(objects, &w), ["a.json.gz", "b.json.gz"]);
    }

    #[test]
    fn resuming_continues_at_or_after_the_key() {
        let keys: Vec<String> = ["a", "c", "e"].map(String::from).to_vec();
        assert_eq!(start_index(&keys, None), 0);
        assert_eq!(start_index(&keys, Some("c")), 1);
        assert_eq!(start_index(&keys, Some("b")), 1);
        assert_eq!(start_index(&keys, Some("f")), 3);
        assert_eq!(start_index(&[], Some("a")), 0);
    }

    #[test]
    fn objects_are_framed_and_parsed_gzip_or_not() {
        let records = serde_json::json!({"Records": [
            {"eventVersion": "1.09", "eventID": "e1", "eventTime": "2024-08-01T13:33:28Z",
             "eventName": "CreateUser", "eventSource": "iam.amazonaws.com",
             "userIdentity": {"type": "IAMUser", "userName": "christophe"}},
            {"eventVersion": "1.09", "eventID": "e2", "eventTime": "not a time",
             "eventName": "CreateUser", "eventSource": "iam.amazonaws.com"},
            {"digestStartTime": "2024-08-01T13:00:00Z", "logFiles": []}
        ]})
        .to_string();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(records.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        for bytes in [records.clone().into_bytes(), gz] {
            let items = parse_object_bytes(bytes, DEFAULT_MAX_RECORD_BYTES);
            match items.as_slice() {
                [Item::Event(ev), Item::Rejected { .. }, Item::Ignored { .. }] => {
                    assert_eq!(ev.id, "e1")
                }
                other => panic!("{other:?}"),
            }
        }
        // Bad JSON and records too large to frame are rejections; what follows still parses.
        let big = format!("{{\"eventID\":\"{}\"}}", "x".repeat(300));
        let broken = format!("{{\"eventVersion\":\"1.09\",\n\"eventID\":\n}}\n{big}\n{{\"eventID\":\"e3\",\"eventTime\":\"2024-08-01T13:33:28Z\",\"eventName\":\"X\",\"eventSource\":\"s\"}}\n");
        let items = parse_object_bytes(broken.into_bytes(), 200);
        match items.as_slice() {
            [Item::Rejected { .. }, Item::Rejected { error, .. }, Item::Event(ev)] => {
                assert!(error.to_string().contains("line 4"), "{error}");
                assert_eq!(error.source_hint(), Some(Source::Cloudtrail));
                assert_eq!(ev.id, "e3");
            }
            other => panic!("{other:?}"),
        }
        // A truncated gzip stream is a rejection, not a panic.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(records.as_bytes()).unwrap();
        let mut cut = gz.finish().unwrap();
        cut.truncate(cut.len() / 2);
        let items = parse_object_bytes(cut, DEFAULT_MAX_RECORD_BYTES);
        assert!(
            matches!(items.last(), Some(Item::Rejected { .. })),
            "{items:?}"
        );
    }
}
