//! Content-based dispatch: decides from a record's keys (never from a file name) which wire
//! shape it is and hands it to that shape's parser. The decision is a table of predicates
//! ([`RULES`]) tried in order, then a small routing step per shape (a diagnostic record's
//! category, a Log Analytics row's table). The frame's container is used only in messages.
//!
//! Case matters where it separates shapes: CloudTrail records are camelCase (or all lower
//! case in some fixtures), Log Analytics rows and `LookupEvents` elements are PascalCase.

use serde_json::{Map, Value};
use skein_model::{Event, Source, WireShape};

use crate::fields::get_ci;
use crate::framing::{Container, ContainerKey, Frame};
use crate::{blob, cloudtrail, entra, loganalytics, Item, RecordError};

type Obj = Map<String, Value>;

/// A parser of one record into one event.
type Parser = fn(&Obj, &str) -> Result<Event, RecordError>;

/// A test of whether a record has a shape.
type Predicate = fn(&Obj) -> bool;

/// The wire shapes `detect` recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A Log Analytics query-API table (`columns` + `rows`).
    Table,
    /// A whole query-API response (`tables`), when it was not streamed table by table.
    Tables,
    /// An element of a CloudTrail `LookupEvents` response.
    Lookup,
    /// An EventBridge envelope.
    EventBridge,
    /// A raw CloudTrail record.
    CloudTrail,
    /// A Log Analytics table row.
    LaRow,
    /// An Azure Monitor diagnostic-settings record.
    Diagnostic,
    /// A Microsoft Graph `signIn`.
    Graph,
    /// A CloudTrail digest file (integrity hashes of log files, found in `AWSLogs/` trees).
    Digest,
}

/// The recognition table, tried in order; the first predicate that holds decides.
const RULES: &[(Shape, Predicate)] = &[
    (Shape::Table, is_table),
    (Shape::Tables, is_tables),
    (Shape::Lookup, is_lookup),
    (Shape::EventBridge, is_eventbridge),
    (Shape::CloudTrail, is_cloudtrail),
    (Shape::LaRow, is_la_row),
    (Shape::Diagnostic, is_diagnostic),
    (Shape::Graph, is_graph),
    (Shape::Digest, is_digest),
];

/// What to do with a recognised record.
enum Route {
    Parse(Source, Parser),
    Ignore(String),
    Unrecognised,
}

/// Parses one frame into `out`: one item, or one per row for a query-API table.
pub fn parse_frame(frame: &Frame, forced: Option<Source>, out: &mut Vec<Item>) {
    if frame.container == Container::Key(ContainerKey::Tables) {
        let before = out.len();
        if loganalytics::parse_table_text(&frame.text, forced, out) {
            return;
        }
        out.truncate(before);
    }
    match serde_json::from_str::<Value>(&frame.text) {
        Ok(Value::Object(obj)) => {
            let before = out.len();
            parse_object(&obj, &frame.text, forced, out);
            if let Some(Item::Rejected {
                error: RecordError::Unrecognised(msg),
                ..
            }) = out.get_mut(before)
            {
                if let Some(hint) = container_hint(frame.container) {
                    msg.push_str(&hint);
                }
            }
        }
        Ok(other) => out.push(rejected(RecordError::Unrecognised(format!(
            "a JSON {}, not an object",
            kind_of(&other)
        )))),
        Err(e) => out.push(rejected(RecordError::Json(e.to_string()))),
    }
}

/// Parses one JSON object (a frame's, or a row built by [`loganalytics`]) into `out`.
/// `raw` is the record's text, kept losslessly in the event.
pub fn parse_object(obj: &Obj, raw: &str, forced: Option<Source>, out: &mut Vec<Item>) {
    let shape = RULES
        .iter()
        .find(|(_, applies)| applies(obj))
        .map(|(shape, _)| *shape);
    let route = match shape {
        Some(Shape::Table) => return loganalytics::parse_table(obj, forced, out),
        Some(Shape::Tables) => return parse_tables(obj, forced, out),
        Some(Shape::Lookup) => Route::Parse(Source::Cloudtrail, ct_lookup),
        Some(Shape::EventBridge) => eventbridge_route(obj),
        Some(Shape::CloudTrail) => Route::Parse(Source::Cloudtrail, ct_record),
        Some(Shape::LaRow) => la_route(obj),
        Some(Shape::Diagnostic) => diagnostic_route(obj),
        Some(Shape::Graph) => Route::Parse(Source::EntraSignin, entra::from_graph),
        Some(Shape::Digest) => Route::Ignore("CloudTrail digest".to_string()),
        None => Route::Unrecognised,
    };
    out.push(match route {
        Route::Parse(found, parse) => match forced {
            Some(expected) if expected != found => {
                rejected(RecordError::WrongSource { expected, found })
            }
            _ => match parse(obj, raw) {
                Ok(ev) => Item::Event(Box::new(ev)),
                Err(error) => rejected(error),
            },
        },
        Route::Ignore(kind) => Item::Ignored { kind },
        Route::Unrecognised => rejected(RecordError::Unrecognised(format!(
            "no known record shape (keys: {})",
            key_list(obj)
        ))),
    });
}

fn rejected(error: RecordError) -> Item {
    Item::Rejected { row: None, error }
}

fn ct_record(obj: &Obj, raw: &str) -> Result<Event, RecordError> {
    cloudtrail::from_record(obj, raw, WireShape::CloudtrailRecord)
}

fn ct_lookup(obj: &Obj, _raw: &str) -> Result<Event, RecordError> {
    cloudtrail::from_lookup(obj)
}

fn ct_eventbridge(obj: &Obj, _raw: &str) -> Result<Event, RecordError> {
    cloudtrail::from_eventbridge(obj)
}

// --- predicates -------------------------------------------------------------------------

fn has_array(obj: &Obj, key: &str) -> bool {
    matches!(get_ci(obj, key), Some(Value::Array(_)))
}

fn has_any(obj: &Obj, keys: &[&str]) -> bool {
    keys.iter().any(|k| obj.contains_key(*k))
}

fn str_field<'a>(obj: &'a Obj, key: &str) -> Option<&'a str> {
    get_ci(obj, key).and_then(Value::as_str).map(str::trim)
}

fn is_table(obj: &Obj) -> bool {
    has_array(obj, "columns") && has_array(obj, "rows")
}

fn is_tables(obj: &Obj) -> bool {
    has_array(obj, "tables")
}

fn is_lookup(obj: &Obj) -> bool {
    matches!(get_ci(obj, "CloudTrailEvent"), Some(Value::String(_)))
}

fn is_eventbridge(obj: &Obj) -> bool {
    matches!(obj.get("detail"), Some(Value::Object(_)))
        && (obj.get("detail-type").is_some_and(Value::is_string)
            || str_field(obj, "source").is_some_and(|s| s.starts_with("aws.")))
}

/// CloudTrail record keys: camelCase as AWS writes them, or all lower case as some
/// pipelines (and Panther's fixtures) rewrite them. PascalCase belongs to Log Analytics.
const CLOUDTRAIL_KEYS: [&str; 6] = [
    "eventName",
    "eventSource",
    "eventVersion",
    "eventname",
    "eventsource",
    "eventversion",
];

fn is_cloudtrail(obj: &Obj) -> bool {
    has_any(obj, &CLOUDTRAIL_KEYS)
}

fn is_la_row(obj: &Obj) -> bool {
    obj.contains_key("TimeGenerated")
        || str_field(obj, "Type").is_some_and(|t| table_route(t).is_some())
        || column_route(obj).is_some()
}

fn is_diagnostic(obj: &Obj) -> bool {
    str_field(obj, "category").is_some()
        && (get_ci(obj, "time").is_some() || get_ci(obj, "operationName").is_some())
}

fn is_graph(obj: &Obj) -> bool {
    get_ci(obj, "createdDateTime").is_some()
        && ["userPrincipalName", "ipAddress", "status", "appId"]
            .iter()
            .any(|k| get_ci(obj, k).is_some())
}

fn is_digest(obj: &Obj) -> bool {
    obj.contains_key("digestStartTime") && has_array(obj, "logFiles")
}

// --- routing ----------------------------------------------------------------------------

fn eventbridge_route(obj: &Obj) -> Route {
    match obj.get("detail") {
        Some(Value::Object(detail)) if is_cloudtrail(detail) => {
            Route::Parse(Source::Cloudtrail, ct_eventbridge)
        }
        _ => Route::Ignore(format!(
            "EventBridge {}",
            str_field(obj, "detail-type").unwrap_or("event")
        )),
    }
}

fn diagnostic_route(obj: &Obj) -> Route {
    let category = str_field(obj, "category").unwrap_or_default();
    if entra::is_signin_category(category) {
        Route::Parse(Source::EntraSignin, entra::from_diagnostic)
    } else if blob::is_storage_category(category) {
        Route::Parse(Source::StorageBlob, blob::from_diagnostic)
    } else {
        Route::Ignore(format!("category {category}"))
    }
}

/// A Log Analytics row: by its `Type` column when it has one, else by its columns.
fn la_route(obj: &Obj) -> Route {
    if let Some(table) = str_field(obj, "Type").filter(|t| !t.is_empty()) {
        return table_route(table).unwrap_or_else(|| Route::Ignore(format!("table {table}")));
    }
    column_route(obj).unwrap_or(Route::Unrecognised)
}

fn table_route(table: &str) -> Option<Route> {
    if entra::is_signin_table(table) {
        Some(Route::Parse(Source::EntraSignin, entra::from_la_row))
    } else if table.eq_ignore_ascii_case("StorageBlobLogs") {
        Some(Route::Parse(Source::StorageBlob, blob::from_la_row))
    } else if table.eq_ignore_ascii_case("AWSCloudTrail") {
        Some(Route::Parse(Source::Cloudtrail, cloudtrail::from_la_row))
    } else {
        None
    }
}

/// A row without `Type`, recognised by columns only its table has.
fn column_route(obj: &Obj) -> Option<Route> {
    let signin = [
        "UserPrincipalName",
        "ServicePrincipalId",
        "ServicePrincipalName",
    ];
    let aws = [
        "AwsEventId",
        "UserIdentityType",
        "UserIdentityArn",
        "SourceIpAddress",
    ];
    if obj.contains_key("ResultType") && has_any(obj, &signin) {
        Some(Route::Parse(Source::EntraSignin, entra::from_la_row))
    } else if obj.contains_key("AuthenticationType") && has_any(obj, &["ObjectKey", "AccountName"])
    {
        Some(Route::Parse(Source::StorageBlob, blob::from_la_row))
    } else if obj.contains_key("EventName") && has_any(obj, &aws) {
        Some(Route::Parse(Source::Cloudtrail, cloudtrail::from_la_row))
    } else {
        None
    }
}

/// A whole query-API response that arrived as one record: each table in turn.
fn parse_tables(obj: &Obj, forced: Option<Source>, out: &mut Vec<Item>) {
    let Some(Value::Array(tables)) = get_ci(obj, "tables") else {
        return;
    };
    for (i, table) in tables.iter().enumerate() {
        match table {
            Value::Object(t) => loganalytics::parse_table(t, forced, out),
            other => out.push(Item::Rejected {
                row: Some(i),
                error: RecordError::Unrecognised(format!(
                    "a JSON {} in \"tables\", not a table object",
                    kind_of(other)
                )),
            }),
        }
    }
}

// --- messages ---------------------------------------------------------------------------

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The first few keys of an object, each cut short, for an "unrecognised" message.
fn key_list(obj: &Obj) -> String {
    const SHOWN: usize = 6;
    if obj.is_empty() {
        return "none".to_string();
    }
    let mut keys: Vec<String> = obj
        .keys()
        .take(SHOWN)
        .map(|k| match k.char_indices().nth(40) {
            Some((i, _)) => format!("{}...", k.get(..i).unwrap_or_default()),
            None => k.clone(),
        })
        .collect();
    if obj.len() > SHOWN {
        keys.push(format!("and {} more", obj.len() - SHOWN));
    }
    keys.join(", ")
}

fn container_hint(container: Container) -> Option<String> {
    match container {
        Container::Key(key) => Some(format!(" in the \"{}\" array", key.key())),
        Container::ArrayElement | Container::TopLevel => None,
    }
}

#[cfg(test)]
mod tests;
