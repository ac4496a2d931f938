//! CloudTrail through the AWS SDK: the streams of a `[[sources.cloudtrail]]` table and the
//! `LookupEvents` stream (one per region, cursor `cloudtrail/{name}/{region}`).
//!
//! It owns the SDK side shared with [`crate::s3`]: the `SdkConfig` of a source (region,
//! profile, endpoint override, the standard credential chain, `[http]` retries and timeouts
//! mapped onto the SDK's standard retry mode and attempt timeout) and the HTTPS client with
//! the extra roots of `ca_file` (added to the platform's roots; verification is never off).
//!
//! It does not parse records: each `LookupEvents` element is rebuilt as the object the
//! `aws cloudtrail lookup-events` CLI prints ([`lookup_element`]) and handed to
//! `skein-ingest`, so an event collected here and the same event read from an exported
//! lookup-events file get the same id.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudtrail::error::DisplayErrorContext;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use skein_ingest::Item;
use skein_model::Source;
use tokio_util::sync::CancellationToken;

use crate::config::{CloudTrailSource, HttpConfig, RateLimit, Span};
use crate::cursor::Window;
use crate::driver::{Page, Stream};
use crate::http::RateLimiter;
use crate::CollectError;

/// Events per `LookupEvents` page (the API's maximum).
const PAGE_SIZE: i32 = 50;

/// CloudTrail's documented `LookupEvents` limit: 2 requests per second per region.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    requests: 2,
    per: Span(Duration::from_secs(1)),
};

/// The streams of one CloudTrail source: one `LookupEvents` stream per region, or, when
/// `s3_bucket` is set, one stream over the trail files in the bucket (client region: the
/// first region).
pub async fn streams(
    source: &CloudTrailSource,
    http: &HttpConfig,
    stop: CancellationToken,
) -> Result<Vec<Box<dyn Stream>>, CollectError> {
    let Some(first_region) = source.regions.first() else {
        return Err(setup(&source.name, "list at least one region in `regions`"));
    };
    if let Some(bucket) = &source.s3_bucket {
        let endpoint = source
            .s3_endpoint_url
            .as_deref()
            .or(source.endpoint_url.as_deref());
        let region = source.s3_region.as_deref().unwrap_or(first_region);
        let sdk = sdk_config(source, http, region, endpoint).await?;
        let stream =
            crate::s3::TrailStream::new(source, bucket, &sdk, endpoint.is_some(), http, stop);
        return Ok(vec![Box::new(stream)]);
    }
    let sdk = sdk_config(source, http, first_region, source.endpoint_url.as_deref()).await?;
    let mut out: Vec<Box<dyn Stream>> = Vec::with_capacity(source.regions.len());
    for region in &source.regions {
        let conf = aws_sdk_cloudtrail::config::Builder::from(&sdk)
            .region(Region::new(region.clone()))
            .build();
        out.push(Box::new(LookupStream {
            source_name: source.name.clone(),
            region: region.clone(),
            client: aws_sdk_cloudtrail::Client::from_conf(conf),
            limiter: RateLimiter::new(source.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT)),
            stop: stop.clone(),
        }));
    }
    Ok(out)
}

/// The SDK configuration of a source: `region`, the optional profile and endpoint override,
/// the standard credential chain, `[http]` as the standard retry mode (exponential backoff
/// with jitter; `ThrottlingException` is throttling) and the attempt timeout, and the extra
/// roots of `ca_file`.
pub async fn sdk_config(
    source: &CloudTrailSource,
    http: &HttpConfig,
    region: &str,
    endpoint_url: Option<&str>,
) -> Result<SdkConfig, CollectError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .retry_config(retry_config(http))
        .timeout_config(timeout_config(http));
    if let Some(profile) = &source.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(path) = &source.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            setup(
                &source.name,
                format!("cannot read CA file {}: {e}", path.display()),
            )
        })?;
        let pem = check_pem(&pem).map_err(|problem| {
            setup(
                &source.name,
                format!("CA file {}: {problem}", path.display()),
            )
        })?;
        loader = loader.http_client(https_client(pem));
    }
    Ok(loader.load().await)
}

/// `[http]` as the SDK's standard retry mode: `retries` retries after the first attempt.
pub(crate) fn retry_config(http: &HttpConfig) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(http.retries.saturating_add(1))
        .with_initial_backoff(http.backoff.0)
        .with_max_backoff(http.max_backoff.0)
}

/// `[http] timeout` bounds each attempt (a retry gets a fresh one) and the connect.
pub(crate) fn timeout_config(http: &HttpConfig) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_attempt_timeout(http.timeout.0)
        .connect_timeout(http.timeout.0.min(Duration::from_secs(30)))
        .build()
}

/// Checks a PEM bundle the way the SDK's rustls client will read it (it panics on what it
/// cannot parse), and returns it.
pub(crate) fn check_pem(pem: &[u8]) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM bundle of certificates: {e}"))?;
    if certs.is_empty() {
        return Err("holds no certificate".into());
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("a certificate cannot be used as a root: {e}"))?;
    }
    Ok(pem.to_vec())
}

/// The SDK's HTTPS client (rustls, aws-lc) trusting the platform's roots plus `pem`.
fn https_client(pem: Vec<u8>) -> aws_sdk_cloudtrail::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::default()
        .with_native_roots(true)
        .with_pem_certificate(pem);
    // `build` cannot fail for a trust store (it only collects settings).
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_else(|_| tls::TlsContext::default());
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https()
}

/// Runs `f` unless `stop` fires first, in which case it is dropped (an SDK call in flight is
/// abandoned; nothing was committed for it) and the result is [`CollectError::Stopped`].
pub(crate) async fn until_stopped<F: std::future::Future>(
    stop: &CancellationToken,
    f: F,
) -> Result<F::Output, CollectError> {
    tokio::select! {
        biased;
        _ = stop.cancelled() => Err(CollectError::Stopped),
        out = f => Ok(out),
    }
}

pub(crate) fn setup(source: &str, message: impl Into<String>) -> CollectError {
    CollectError::Setup {
        source_name: source.into(),
        message: message.into(),
    }
}

/// A chrono time as the SDK's.
pub(crate) fn to_smithy(t: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

/// The SDK's time as chrono's (`None` outside chrono's range).
pub(crate) fn from_smithy(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// `LookupEvents` in one region.
pub struct LookupStream {
    source_name: String,
    region: String,
    client: aws_sdk_cloudtrail::Client,
    limiter: RateLimiter,
    stop: CancellationToken,
}

#[async_trait]
impl Stream for LookupStream {
    fn cursor_name(&self) -> String {
        format!("cloudtrail/{}/{}", self.source_name, self.region)
    }

    async fn page(&mut self, window: &Window, resume: Option<&str>) -> Result<Page, CollectError> {
        let mut token = resume.map(str::to_string);
        loop {
            self.limiter.acquire(&self.stop).await?;
            let request = self
                .client
                .lookup_events()
                .start_time(to_smithy(window.from))
                .end_time(to_smithy(window.to))
                .max_results(PAGE_SIZE)
                .set_next_token(token.clone());
            match until_stopped(&self.stop, request.send()).await? {
                Ok(out) => {
                    let mut items = Vec::with_capacity(out.events().len());
                    for ev in out.events() {
                        parse_event(ev, &mut items);
                    }
                    return Ok(Page {
                        items,
                        next: out.next_token().filter(|t| !t.is_empty()).map(String::from),
                        origin: format!(
                            "cloudtrail {} {} LookupEvents",
                            self.source_name, self.region
                        ),
                    });
                }
                Err(e)
                    if token.is_some()
                        && e.as_service_error()
                            .is_some_and(|s| s.is_invalid_next_token_exception()) =>
                {
                    // A token from a stopped run that the service no longer honours: read
                    // the window again from its first page (the store de-duplicates).
                    tracing::warn!(
                        "cloudtrail {} {}: the saved NextToken is no longer valid; reading \
                         the window again from its start",
                        self.source_name,
                        self.region
                    );
                    token = None;
                }
                Err(e) => {
                    return Err(CollectError::Api {
                        source_name: self.source_name.clone(),
                        message: format!(
                            "LookupEvents in {}: {}",
                            self.region,
                            DisplayErrorContext(&e)
                        ),
                    })
                }
            }
        }
    }
}

/// One SDK event through `skein-ingest`'s `LookupEvents` parser.
pub fn parse_event(ev: &aws_sdk_cloudtrail::types::Event, items: &mut Vec<Item>) {
    let obj = lookup_element(ev);
    let raw = serde_json::to_string(&obj).unwrap_or_default();
    skein_ingest::detect::parse_object(&obj, &raw, Some(Source::Cloudtrail), items);
}

/// The element of `Events` that `aws cloudtrail lookup-events` prints for `ev`: PascalCase
/// keys, absent fields left out, `EventTime` in RFC 3339 (the CLI v2's
/// ISO 8601; `skein-ingest` reads that and the raw API's epoch seconds alike), and the
/// record as the JSON string `CloudTrailEvent`.
pub fn lookup_element(ev: &aws_sdk_cloudtrail::types::Event) -> Map<String, Value> {
    let mut obj = Map::new();
    let mut put = |key: &str, value: Option<&String>| {
        if let Some(v) = value {
            obj.insert(key.to_string(), Value::String(v.clone()));
        }
    };
    put("EventId", ev.event_id.as_ref());
    put("EventName", ev.event_name.as_ref());
    put("ReadOnly", ev.read_only.as_ref());
    put("AccessKeyId", ev.access_key_id.as_ref());
    let time = ev
        .event_time
        .as_ref()
        .and_then(from_smithy)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, false));
    put("EventTime", time.as_ref());
    put("EventSource", ev.event_source.as_ref());
    put("Username", ev.username.as_ref());
    if let Some(resources) = &ev.resources {
        let list = resources
            .iter()
            .map(|r| {
                let mut m = Map::new();
                if let Some(t) = &r.resource_type {
                    m.insert("ResourceType".into(), Value::String(t.clone()));
                }
                if let Some(n) = &r.resource_name {
                    m.insert("ResourceName".into(), Value::String(n.clone()));
                }
                Value::Object(m)
            })
            .collect();
        obj.insert("Resources".into(), Value::Array(list));
    }
    if let Some(record) = &ev.cloud_trail_event {
        obj.insert("CloudTrailEvent".into(), Value::String(record.clone()));
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::types::{Event as SdkEvent, Resource};
    use serde_json::json;

    fn sdk_event(record: &Value) -> SdkEvent {
        SdkEvent::builder()
            .event_id("ev-1")
            .event_name("CreateAccessKey")
            .read_only("false")
            .access_key_id("AKIAEXAMPLE")
            .event_time(aws_smithy_types::DateTime::from_secs(1_722_519_208))
            .event_source("iam.amazonaws.com")
            .username("christophe")
            .resources(
                Resource::builder()
                    .resource_type("AWS::IAM::AccessKey")
                    .resource_name("AKIANEW")
                    .build(),
            )
            .cloud_trail_event(record.to_string())
            .build()
    }

    #[test]
    fn the_element_is_what_the_cli_prints() {
        let record = json!({"eventVersion": "1.09", "eventID": "ev-1",
            "eventTime": "2024-08-01T13:33:28Z", "eventName": "CreateAccessKey",
            "eventSource": "iam.amazonaws.com"});
        let obj = lookup_element(&sdk_event(&record));
        assert_eq!(
            Value::Object(obj.clone()),
            json!({
                "EventId": "ev-1", "EventName": "CreateAccessKey", "ReadOnly": "false",
                "AccessKeyId": "AKIAEXAMPLE", "EventTime": "2024-08-01T13:33:28+00:00",
                "EventSource": "iam.amazonaws.com", "Username": "christophe",
                "Resources": [{"ResourceType": "AWS::IAM::AccessKey", "ResourceName": "AKIANEW"}],
                "CloudTrailEvent": record.to_string()
            })
        );
        // Absent fields are left out, as the CLI does.
        let bare = lookup_element(&SdkEvent::builder().build());
        assert!(bare.is_empty());
    }

    #[test]
    fn events_parse_with_the_record_id_and_bad_records_are_rejected() {
        let record = json!({"eventVersion": "1.09", "eventID": "inner-id",
            "eventTime": "2024-08-01T13:33:28Z", "eventName": "CreateAccessKey",
            "eventSource": "iam.amazonaws.com", "awsRegion": "us-east-1",
            "userIdentity": {"type": "IAMUser", "userName": "christophe"}});
        let mut items = Vec::new();
        parse_event(&sdk_event(&record), &mut items);
        let broken = SdkEvent::builder()
            .event_id("x")
            .cloud_trail_event("{not json")
            .build();
        parse_event(&broken, &mut items);
        parse_event(&SdkEvent::builder().event_id("y").build(), &mut items);
        match items.as_slice() {
            [Item::Event(ev), Item::Rejected { .. }, Item::Rejected { .. }] => {
                assert_eq!(ev.id, "inner-id");
                assert_eq!(ev.source, Source::Cloudtrail);
                assert_eq!(ev.raw, record.to_string());
                assert_eq!(ev.time.timestamp(), 1_722_519_208);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn times_convert_both_ways() {
        let t: DateTime<Utc> = "2024-08-01T13:33:28.250Z".parse().unwrap();
        let s = to_smithy(t);
        assert_eq!(s.secs(), 1_722_519_208);
        assert_eq!(from_smithy(&s), Some(t));
    }

    #[test]
    fn http_settings_map_onto_the_sdk() {
        let http = HttpConfig {
            timeout: Span(Duration::from_millis(300)),
            retries: 4,
            backoff: Span(Duration::from_millis(10)),
            max_backoff: Span(Duration::from_millis(80)),
        };
        let r = retry_config(&http);
        assert_eq!(r.max_attempts(), 5);
        assert_eq!(r.initial_backoff(), Duration::from_millis(10));
        assert_eq!(r.max_backoff(), Duration::from_millis(80));
        let t = timeout_config(&http);
        assert_eq!(
            t.operation_attempt_timeout(),
            Some(Duration::from_millis(300))
        );
    }

    #[test]
    fn ca_files_are_checked_before_the_sdk_sees_them() {
        assert!(check_pem(b"").unwrap_err().contains("no certificate"));
        assert!(check_pem(b"hello").unwrap_err().contains("no certificate"));
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(check_pem(garbage).is_err());
        let pem = skein_fakes::TestCa::new().ca_pem;
        assert_eq!(check_pem(pem.as_bytes()).unwrap(), pem.as_bytes());
    }
}
