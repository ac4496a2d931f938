//! The Log Analytics query API (`POST /v1/workspaces/{id}/query`), one stream per table
//! (`SigninLogs`, `AADNonInteractiveUserSignInLogs`, `StorageBlobLogs`).
//!
//! The API has no paging: a result is cut at the service's limits (500,000 rows, ~64 MB),
//! reported as a `PartialError` beside the truncated table. So a window is read as a series
//! of time sub-ranges: a sub-range whose answer hits the limit (or reaches `max_rows`) is
//! halved and asked again, down to `min_split`; the next sub-range starts where the last one
//! ended, with a span twice as long again. The resume token is the next sub-range's start
//! and span, so a stopped run goes on from there.
//!
//! Rows go to `skein-ingest`'s table parser, which routes each by its `Type` column.

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::azure::AzureApi;
use crate::config::{HttpConfig, LogAnalyticsSource, RateLimit, Span};
use crate::cursor::Window;
use crate::driver::{Page, Stream};
use crate::CollectError;

/// The query API's documented throttle is per user and generous (200 requests / 30 s); stay
/// well inside it.
pub const DEFAULT_RATE: RateLimit = RateLimit {
    requests: 100,
    per: Span(std::time::Duration::from_secs(30)),
};

/// One table of one `[[sources.log_analytics]]`.
pub struct TableStream {
    source: LogAnalyticsSource,
    table: String,
    api: AzureApi,
    queries: u64,
}

/// Where the next sub-range starts and how long it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubRange {
    pub start: DateTime<Utc>,
    pub span: Duration,
}

impl SubRange {
    pub fn encode(&self) -> String {
        format!(
            "{}|{}",
            self.start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            self.span.num_milliseconds()
        )
    }

    pub fn decode(text: &str) -> Option<SubRange> {
        let (start, span) = text.split_once('|')?;
        Some(SubRange {
            start: start.parse().ok()?,
            span: Duration::try_milliseconds(span.parse().ok()?)?,
        })
    }
}

/// What one query answered.
#[derive(Debug)]
pub enum Answer {
    Complete(Value),
    /// Cut by a limit: ask again over a shorter range.
    TooLarge(String),
    /// An error the service reported (not a limit).
    Failed(String),
}

/// Reads a query answer: complete, cut by a limit (`PartialError`, or `max_rows` rows or
/// more), or failed. `Err`: not the documented JSON. Pure; never panics.
pub fn read_answer(body: &[u8], max_rows: u64) -> Result<Answer, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("a query answer is not JSON: {e}"))?;
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("");
        let text = error.to_string();
        if code == "PartialError" || text.to_ascii_lowercase().contains("limit") {
            return Ok(Answer::TooLarge(
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or(code)
                    .to_string(),
            ));
        }
        return Ok(Answer::Failed(format!(
            "query failed: {}",
            text.chars().take(300).collect::<String>()
        )));
    }
    let rows: u64 = value
        .get("tables")
        .and_then(Value::as_array)
        .map(|tables| {
            tables
                .iter()
                .filter_map(|t| t.get("rows").and_then(Value::as_array))
                .map(|r| r.len() as u64)
                .sum()
        })
        .ok_or_else(|| "a query answer without `tables`".to_string())?;
    if rows >= max_rows {
        return Ok(Answer::TooLarge(format!(
            "{rows} rows (the limit is {max_rows})"
        )));
    }
    Ok(Answer::Complete(value))
}

/// The KQL of one sub-range. Table names come from a fixed list (validated with the
/// configuration), times are formatted here: nothing user-written reaches the query.
pub fn query_text(table: &str, from: &DateTime<Utc>, to: &DateTime<Utc>) -> String {
    let fmt = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    format!(
        "{table} | where TimeGenerated >= datetime({}) and TimeGenerated < datetime({}) \
         | order by TimeGenerated asc",
        fmt(from),
        fmt(to)
    )
}

impl TableStream {
    pub fn new(
        source: &LogAnalyticsSource,
        table: &str,
        http_config: &HttpConfig,
        stop: CancellationToken,
    ) -> Result<TableStream, CollectError> {
        Ok(TableStream {
            api: AzureApi::new(
                &source.name,
                &source.auth,
                http_config,
                source.rate_limit.unwrap_or(DEFAULT_RATE),
                stop,
            )?,
            source: source.clone(),
            table: table.to_string(),
            queries: 0,
        })
    }

    fn base(&self) -> String {
        self.source.endpoint.trim_end_matches('/').to_string()
    }

    fn err(&self, message: String) -> CollectError {
        CollectError::Response {
            source_name: self.source.name.clone(),
            message,
        }
    }

    async fn query(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Answer, CollectError> {
        let fmt = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let url = format!(
            "{}/v1/workspaces/{}/query",
            self.base(),
            url::form_urlencoded::byte_serialize(self.source.workspace_id.trim().as_bytes())
                .collect::<String>()
        );
        let body = json!({
            "query": query_text(&self.table, &from, &to),
            "timespan": format!("{}/{}", fmt(&from), fmt(&to)),
        });
        let base = self.base();
        let body = self.api.call(&base, Method::POST, url, Some(body)).await?;
        self.queries += 1;
        read_answer(&body, self.source.max_rows).map_err(|message| self.err(message))
    }
}

#[async_trait]
impl Stream for TableStream {
    fn cursor_name(&self) -> String {
        format!("log_analytics/{}/{}", self.source.name, self.table)
    }

    async fn page(&mut self, window: &Window, resume: Option<&str>) -> Result<Page, CollectError> {
        let mut sub = resume.and_then(SubRange::decode).unwrap_or(SubRange {
            start: window.from,
            span: window.to - window.from,
        });
        let min = Duration::from_std(self.source.min_split.0).unwrap_or(Duration::minutes(1));
        // Never ask past the window (a span doubled after a split may reach beyond it; halving
        // it then would repeat the same query).
        sub.span = sub.span.min(window.to - sub.start).max(min);
        let (end, answer) = loop {
            let end = sub
                .start
                .checked_add_signed(sub.span)
                .unwrap_or(window.to)
                .min(window.to);
            match self.query(sub.start, end).await? {
                Answer::Complete(v) => break (end, v),
                Answer::Failed(message) => {
                    return Err(CollectError::Api {
                        source_name: self.source.name.clone(),
                        message,
                    })
                }
                Answer::TooLarge(why) => {
                    if sub.span <= min {
                        return Err(CollectError::Api {
                            source_name: self.source.name.clone(),
                            message: format!(
                                "{} from {} to {end} is still too large to return ({why}) at \
                                 the smallest split (min_split); lower min_split",
                                self.table, sub.start
                            ),
                        });
                    }
                    tracing::info!(
                        "{}: {} {} .. {end} hit the result limit ({why}); splitting",
                        self.source.name,
                        self.table,
                        sub.start
                    );
                    sub.span = (sub.span / 2).max(min);
                }
            }
        };
        let mut items = Vec::new();
        if let Some(Value::Array(tables)) = answer.get("tables") {
            for table in tables {
                if let Value::Object(t) = table {
                    skein_ingest::loganalytics::parse_table(t, None, &mut items);
                }
            }
        }
        let next = (end < window.to).then(|| {
            SubRange {
                start: end,
                span: sub.span * 2,
            }
            .encode()
        });
        Ok(Page {
            items,
            next,
            origin: format!(
                "log analytics {} {} query {}",
                self.source.name, self.table, self.queries
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_ranges_round_trip() {
        let s = SubRange {
            start: "2026-01-01T00:00:00.25Z".parse().unwrap(),
            span: Duration::minutes(90),
        };
        assert_eq!(SubRange::decode(&s.encode()), Some(s));
        assert_eq!(SubRange::decode("nonsense"), None);
    }

    #[test]
    fn queries_bound_time_on_both_sides() {
        let q = query_text(
            "SigninLogs",
            &"2026-01-01T00:00:00Z".parse().unwrap(),
            &"2026-01-01T01:00:00Z".parse().unwrap(),
        );
        assert_eq!(
            q,
            "SigninLogs | where TimeGenerated >= datetime(2026-01-01T00:00:00Z) and \
             TimeGenerated < datetime(2026-01-01T01:00:00Z) | order by TimeGenerated asc"
        );
    }
}
