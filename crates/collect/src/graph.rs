//! Entra ID sign-ins from Microsoft Graph: `GET /beta/auditLogs/signIns` with a
//! `createdDateTime` range and every configured `signInEventTypes` (beta, because v1.0 has
//! neither the non-interactive / service-principal / managed-identity sign-ins nor several
//! fields the seeds use), paged by `@odata.nextLink`.
//!
//! The records go to `skein-ingest`'s Graph parser unchanged (the `value` elements' own text),
//! so a sign-in collected here and the same sign-in in an exported Graph file get one id.
//! A `nextLink` must stay on the configured endpoint's origin: the bearer token is never sent
//! anywhere else.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::value::RawValue;
use skein_model::Source;
use tokio_util::sync::CancellationToken;

use crate::azure::AzureApi;
use crate::config::{EntraSource, HttpConfig, RateLimit, Span};
use crate::cursor::Window;
use crate::driver::{Page, Stream};
use crate::http;
use crate::CollectError;

/// Graph's documented limit for sign-in logs: 5 requests per 10 seconds per tenant.
pub const DEFAULT_RATE: RateLimit = RateLimit {
    requests: 5,
    per: Span(std::time::Duration::from_secs(10)),
};

/// The Graph sign-ins stream of one `[[sources.entra]]`.
pub struct GraphStream {
    source: EntraSource,
    api: AzureApi,
    pages: u64,
}

/// One page of `/auditLogs/signIns`.
#[derive(Deserialize)]
struct SignInPage<'a> {
    #[serde(borrow, default)]
    value: Vec<&'a RawValue>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

impl GraphStream {
    pub fn new(
        source: &EntraSource,
        http_config: &HttpConfig,
        stop: CancellationToken,
    ) -> Result<GraphStream, CollectError> {
        Ok(GraphStream {
            api: AzureApi::new(
                &source.name,
                &source.auth,
                http_config,
                source.rate_limit.unwrap_or(DEFAULT_RATE),
                stop,
            )?,
            source: source.clone(),
            pages: 0,
        })
    }

    fn base(&self) -> String {
        self.source.graph_endpoint.trim_end_matches('/').to_string()
    }

    /// The first page's URL of a window.
    pub fn first_url(&self, window: &Window) -> Result<String, CollectError> {
        first_url(
            &self.base(),
            &self.source.event_types,
            self.source.page_size,
            window,
        )
        .map_err(|e| self.setup(e))
    }

    fn setup(&self, message: String) -> CollectError {
        CollectError::Setup {
            source_name: self.source.name.clone(),
            message,
        }
    }
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `…/beta/auditLogs/signIns?$filter=createdDateTime ge … and createdDateTime lt … and
/// (signInEventTypes/any(t: t eq '…' or …))&$top=…`.
pub fn first_url(
    base: &str,
    event_types: &[String],
    page_size: u32,
    window: &Window,
) -> Result<String, String> {
    let mut url = url::Url::parse(&format!("{base}/beta/auditLogs/signIns"))
        .map_err(|e| format!("graph_endpoint `{base}`: {e}"))?;
    let types = event_types
        .iter()
        .map(|t| format!("t eq '{t}'"))
        .collect::<Vec<_>>()
        .join(" or ");
    let mut filter = format!(
        "createdDateTime ge {} and createdDateTime lt {}",
        time(&window.from),
        time(&window.to)
    );
    if !types.is_empty() {
        filter.push_str(&format!(" and (signInEventTypes/any(t: {types}))"));
    }
    url.query_pairs_mut()
        .append_pair("$filter", &filter)
        .append_pair("$top", &page_size.to_string());
    Ok(url.to_string())
}

/// Whether `link` is on the same scheme, host and port as `base`.
pub fn same_origin(base: &str, link: &str) -> bool {
    match (url::Url::parse(base), url::Url::parse(link)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// A sign-ins page: what its records parse into (by `skein-ingest`'s Graph parser, each
/// record's own text kept as its raw record) and its `@odata.nextLink`. Pure; any bytes give
/// a page or an error, never a panic.
pub fn parse_page(body: &[u8]) -> Result<(Vec<skein_ingest::Item>, Option<String>), String> {
    let page: SignInPage = serde_json::from_slice(body)
        .map_err(|e| format!("a sign-ins page is not the documented JSON: {e}"))?;
    let mut items = Vec::with_capacity(page.value.len());
    for raw in &page.value {
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw.get()) {
            Ok(obj) => skein_ingest::detect::parse_object(
                &obj,
                raw.get(),
                Some(Source::EntraSignin),
                &mut items,
            ),
            Err(e) => items.push(skein_ingest::Item::Rejected {
                row: None,
                error: skein_ingest::RecordError::Unrecognised(format!(
                    "a sign-in that is not a JSON object: {e}"
                )),
            }),
        }
    }
    Ok((items, page.next_link))
}

#[async_trait]
impl Stream for GraphStream {
    fn cursor_name(&self) -> String {
        format!("entra/{}", self.source.name)
    }

    async fn page(&mut self, window: &Window, resume: Option<&str>) -> Result<Page, CollectError> {
        let first = self.first_url(window)?;
        let base = self.base();
        let body = match resume {
            // A saved link on the endpoint: continue there; if Graph refuses it (an expired
            // skiptoken, a changed filter), read the window again from its first page (the
            // store drops what it already has) rather than failing on it forever.
            Some(link) if same_origin(&base, link) => {
                match self
                    .api
                    .call(&base, Method::GET, link.to_string(), None)
                    .await
                {
                    Err(CollectError::Api { message, .. }) => {
                        tracing::warn!(
                            "{}: the saved next page failed ({message}); reading the window \
                             again from its first page",
                            self.source.name
                        );
                        self.api.call(&base, Method::GET, first, None).await?
                    }
                    other => other?,
                }
            }
            // A saved link elsewhere (the endpoint was changed): start the window again.
            Some(_) | None => self.api.call(&base, Method::GET, first, None).await?,
        };
        self.pages += 1;
        let (items, next_link) = parse_page(&body).map_err(|message| CollectError::Response {
            source_name: self.source.name.clone(),
            message,
        })?;
        if let Some(link) = &next_link {
            if !same_origin(&base, link) {
                return Err(CollectError::Response {
                    source_name: self.source.name.clone(),
                    message: format!(
                        "@odata.nextLink {} is not on {} (the token is not sent elsewhere)",
                        http::redact_url(link),
                        base
                    ),
                });
            }
        }
        Ok(Page {
            items,
            next: next_link,
            origin: format!("graph {} page {}", self.source.name, self.pages),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_url_filters_time_and_event_types() {
        let w = Window {
            from: "2026-01-01T00:00:00Z".parse().unwrap(),
            to: "2026-01-01T01:00:00.5Z".parse().unwrap(),
        };
        let url = first_url(
            "https://graph.example",
            &["interactiveUser".into(), "servicePrincipal".into()],
            500,
            &w,
        )
        .unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.path(), "/beta/auditLogs/signIns");
        let q: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [
                (
                    "$filter".to_string(),
                    "createdDateTime ge 2026-01-01T00:00:00Z and createdDateTime lt \
                     2026-01-01T01:00:00.500Z and (signInEventTypes/any(t: t eq \
                     'interactiveUser' or t eq 'servicePrincipal'))"
                        .to_string()
                ),
                ("$top".to_string(), "500".to_string())
            ]
        );
    }

    #[test]
    fn next_links_must_stay_on_the_endpoint() {
        assert!(same_origin(
            "https://graph.example",
            "https://graph.example/beta/auditLogs/signIns?$skiptoken=x"
        ));
        assert!(!same_origin(
            "https://graph.example",
            "https://evil.example/beta/auditLogs/signIns"
        ));
        assert!(!same_origin(
            "https://graph.example",
            "http://graph.example/x"
        ));
    }
}
