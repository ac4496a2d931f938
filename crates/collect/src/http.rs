//! HTTP for the REST collectors (Graph, Log Analytics): one `reqwest` client per source with
//! the configured timeout and extra CA roots (TLS verification always on), a client-side
//! rate limit ([`RateLimiter`]), and [`send`], which retries throttling (429 / 503 with
//! `Retry-After`), 5xx, timeouts and connection errors with exponential backoff and
//! (equal) jitter, waiting in a way a stop interrupts.
//!
//! Errors name the method, the URL *without its query* and the status, plus the start of the
//! service's error body; never request headers (the bearer token).

use std::path::Path;
use std::time::Duration;

use rand::Rng;
use reqwest::{Method, Response, StatusCode};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{HttpConfig, RateLimit};
use crate::CollectError;

/// Retry settings, from `[http]`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub retries: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured as given; longer ones are capped to this.
    pub max_retry_after: Duration,
}

impl From<&HttpConfig> for RetryPolicy {
    fn from(c: &HttpConfig) -> Self {
        RetryPolicy {
            retries: c.retries,
            backoff: c.backoff.0,
            max_backoff: c.max_backoff.0,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based): a random time between half and all
    /// of `min(max_backoff, backoff * 2^attempt)` ("equal jitter": spread, never near zero).
    pub fn backoff_for(&self, attempt: u32) -> Duration {
        let ceiling = self
            .backoff
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let millis = ceiling.as_millis().min(u64::MAX as u128) as u64;
        if millis == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
    }
}

/// A client-side limit of `requests` per `per`: a sliding log of the last request times.
#[derive(Debug)]
pub struct RateLimiter {
    requests: usize,
    per: Duration,
    sent: std::collections::VecDeque<Instant>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            requests: limit.requests.max(1) as usize,
            per: limit.per.0,
            sent: Default::default(),
        }
    }

    /// Waits until one more request fits in the limit, then counts it.
    pub async fn acquire(&mut self, stop: &CancellationToken) -> Result<(), CollectError> {
        loop {
            let now = Instant::now();
            while self
                .sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.per)
            {
                self.sent.pop_front();
            }
            if self.sent.len() < self.requests {
                self.sent.push_back(now);
                return Ok(());
            }
            let oldest = self.sent.front().copied().unwrap_or(now);
            sleep_or_stop(self.per.saturating_sub(now.duration_since(oldest)), stop).await?;
        }
    }
}

/// Sleeps for `d`, or returns [`CollectError::Stopped`] as soon as `stop` fires.
pub async fn sleep_or_stop(d: Duration, stop: &CancellationToken) -> Result<(), CollectError> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = stop.cancelled() => Err(CollectError::Stopped),
    }
}

/// Reads a PEM bundle of extra trusted roots.
pub fn load_ca(source: &str, path: &Path) -> Result<Vec<reqwest::Certificate>, CollectError> {
    let pem = std::fs::read(path).map_err(|e| CollectError::Setup {
        source_name: source.into(),
        message: format!("cannot read CA file {}: {e}", path.display()),
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| CollectError::Setup {
        source_name: source.into(),
        message: format!("CA file {} is not a PEM bundle: {e}", path.display()),
    })?;
    if certs.is_empty() {
        return Err(CollectError::Setup {
            source_name: source.into(),
            message: format!("CA file {} holds no certificate", path.display()),
        });
    }
    Ok(certs)
}

/// A client with the timeout of `[http]` and the extra roots of `ca_file` (added to the
/// system's; certificate checks are never turned off).
pub fn client(
    source: &str,
    http: &HttpConfig,
    ca_file: Option<&Path>,
) -> Result<reqwest::Client, CollectError> {
    let mut builder = reqwest::Client::builder()
        .timeout(http.timeout.0)
        .connect_timeout(http.timeout.0.min(Duration::from_secs(30)))
        .user_agent(concat!("skein/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        builder = builder.tls_certs_merge(load_ca(source, path)?);
    }
    builder.build().map_err(|e| CollectError::Setup {
        source_name: source.into(),
        message: format!("cannot build the HTTP client: {e}"),
    })
}

/// A request to send (rebuilt for every attempt). Its `Debug` hides the token.
#[derive(Clone)]
pub struct RequestSpec {
    pub method: Method,
    pub url: String,
    pub bearer: Option<String>,
    pub json_body: Option<serde_json::Value>,
}

impl std::fmt::Debug for RequestSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSpec")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("bearer", &self.bearer.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// The URL without its query and fragment, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "<unparseable URL>".into(),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(resp: &Response) -> Option<Duration> {
    parse_retry_after(
        resp.headers()
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?,
    )
}

/// A `Retry-After` value: seconds (any number a server sends, `1e20`, `-1` or `NaN`
/// included, without panicking) or an HTTP date (a past one means now).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let when = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    Some(
        (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Sends `spec`, retrying what retrying can fix; returns the first successful response's
/// body. `limiter` is acquired before every attempt.
pub async fn send(
    source: &str,
    client: &reqwest::Client,
    spec: &RequestSpec,
    policy: &RetryPolicy,
    limiter: &mut RateLimiter,
    stop: &CancellationToken,
) -> Result<Vec<u8>, CollectError> {
    let shown = format!("{} {}", spec.method, redact_url(&spec.url));
    let mut attempt = 0u32;
    loop {
        limiter.acquire(stop).await?;
        let mut req = client.request(spec.method.clone(), &spec.url);
        if let Some(token) = &spec.bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = &spec.json_body {
            req = req.json(body);
        }
        let outcome: Result<std::convert::Infallible, (Option<Duration>, String)> = match req
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    match resp.bytes().await {
                        Ok(b) => return Ok(b.to_vec()),
                        Err(e) => Err((None, format!("reading the body failed: {}", plain(&e)))),
                    }
                } else {
                    let wait = retry_after(&resp);
                    let body = resp.text().await.unwrap_or_default();
                    let excerpt: String = body.chars().take(300).collect();
                    let msg = format!("HTTP {status}: {}", excerpt.trim());
                    if retryable(status) {
                        Err((wait, msg))
                    } else {
                        return Err(CollectError::Api {
                            source_name: source.into(),
                            message: format!("{shown}: {msg}"),
                        });
                    }
                }
            }
            Err(e) => Err((None, plain(&e))),
        };
        let Err((wait, msg)) = outcome;
        if attempt >= policy.retries {
            return Err(CollectError::Api {
                source_name: source.into(),
                message: format!("{shown}: {msg} (gave up after {} attempts)", attempt + 1),
            });
        }
        let delay = match wait {
            Some(w) => w.min(policy.max_retry_after),
            None => policy.backoff_for(attempt),
        };
        tracing::info!(
            "{source}: {shown}: {msg}; retry {} of {} in {:.1}s",
            attempt + 1,
            policy.retries,
            delay.as_secs_f64()
        );
        sleep_or_stop(delay, stop).await?;
        attempt += 1;
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// A transport error without the URL's query (reqwest's Display includes the URL).
fn plain(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "body could not be read"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        detail = c.to_string();
        cause = c.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let p = RetryPolicy {
            retries: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(1),
        };
        for attempt in 0..40 {
            let d = p.backoff_for(attempt);
            let ceiling = Duration::from_millis((100u64 << attempt.min(20)).min(1000));
            assert!(d <= ceiling && d >= ceiling / 2, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_never_panics() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        for hostile in ["1e20", "1e400", "-1", "NaN", "inf", "soon", ""] {
            let d = parse_retry_after(hostile);
            assert!(
                d.is_none_or(|d| d < Duration::from_secs(u64::MAX)),
                "{hostile}"
            );
        }
        assert_eq!(parse_retry_after("1e20"), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_request_never_shows_its_token() {
        let spec = RequestSpec {
            method: Method::GET,
            url: "https://graph.example/x?$skiptoken=abc".into(),
            bearer: Some("eyJ0eXAi.secret.token".into()),
            json_body: None,
        };
        let shown = format!("{spec:?}");
        assert!(
            !shown.contains("eyJ0eXAi") && shown.contains("[redacted]"),
            "{shown}"
        );
    }

    #[test]
    fn urls_lose_their_query_in_messages() {
        assert_eq!(
            redact_url("https://u:p@graph.example/beta/auditLogs/signIns?$skiptoken=abc"),
            "https://graph.example/beta/auditLogs/signIns"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_spaces_requests() {
        let mut l = RateLimiter::new(RateLimit {
            requests: 2,
            per: crate::config::Span(Duration::from_secs(1)),
        });
        let stop = CancellationToken::new();
        let start = Instant::now();
        for _ in 0..5 {
            l.acquire(&stop).await.unwrap();
        }
        // 2 at once, 2 after 1 s, the fifth after 2 s.
        assert_eq!(start.elapsed().as_secs(), 2);
        // One more fits in the current second; the next would wait, and a stop ends it.
        l.acquire(&stop).await.unwrap();
        stop.cancel();
        assert!(matches!(l.acquire(&stop).await, Err(CollectError::Stopped)));
    }
}
