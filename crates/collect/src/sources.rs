//! Builds the [`Stream`]s of a configuration: one per Graph source, one per Log Analytics
//! table, one per CloudTrail region (or one for a source's trail-file bucket).

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::graph::GraphStream;
use crate::loganalytics::TableStream;
use crate::{cloudtrail, CollectError, Stream};

/// The streams of every source, or of the one named `only`.
pub async fn build_streams(
    config: &Config,
    only: Option<&str>,
    stop: &CancellationToken,
) -> Result<Vec<Box<dyn Stream>>, CollectError> {
    let wanted = |name: &str| only.is_none_or(|o| o == name);
    let mut streams: Vec<Box<dyn Stream>> = Vec::new();
    for s in config.sources.entra.iter().filter(|s| wanted(&s.name)) {
        streams.push(Box::new(GraphStream::new(s, &config.http, stop.clone())?));
    }
    for s in config
        .sources
        .log_analytics
        .iter()
        .filter(|s| wanted(&s.name))
    {
        for table in &s.tables {
            streams.push(Box::new(TableStream::new(
                s,
                table,
                &config.http,
                stop.clone(),
            )?));
        }
    }
    for s in config.sources.cloudtrail.iter().filter(|s| wanted(&s.name)) {
        streams.extend(cloudtrail::streams(s, &config.http, stop.clone()).await?);
    }
    Ok(streams)
}
