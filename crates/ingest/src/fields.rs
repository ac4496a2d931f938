//! Field-level helpers shared by every wire-shape parser: case-insensitive lookup (Graph is
//! camelCase, Log Analytics PascalCase), timestamps in the formats the sources use, addresses
//! with ports, numbers sent as strings and the reverse, and list fields that drift between an
//! array, JSON text of an array and a comma-delimited string.
//!
//! Everything here is pure: it reads `serde_json::Value`s and returns owned results.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

/// Looks a key up in an object, first exactly, then ignoring ASCII case.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(key) {
        return Some(v);
    }
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Follows a path of keys (each matched ignoring case) through nested objects.
pub fn get_path<'a>(obj: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut cur = get_ci(obj, first)?;
    for key in rest {
        cur = get_ci(cur.as_object()?, key)?;
    }
    Some(cur)
}

/// A scalar as text: strings are trimmed and kept when non-empty, numbers and booleans are
/// printed; null, empty strings, arrays and objects give `None`.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// [`scalar_text`] of the first of `keys` present in `obj` (case-insensitive).
pub fn text(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|k| get_ci(obj, k))
        .find_map(scalar_text)
}

/// A boolean that may arrive as `true`, `"true"`, `"True"` or `1`.
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A floating-point number sent as a number or as text.
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// An error or result code: `0`, `"0"`, `50126`, `"50126"`. Returns the code as text; a string
/// that is not an integer is returned as it is (e.g. `"Success"`), so the caller decides.
pub fn code_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
        _ => None,
    }
}

/// A nested value that Log Analytics may deliver either as JSON or as JSON text (a `dynamic`
/// column), or, in pandas exports, as Python-repr text. Returns the value parsed where needed.
pub fn dynamic(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) | Value::Array(_) => Some(v.clone()),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return None;
            }
            if t.starts_with('{') || t.starts_with('[') {
                if let Ok(parsed) = serde_json::from_str::<Value>(t) {
                    return Some(parsed);
                }
                return crate::pyrepr::parse(t).ok();
            }
            None
        }
        _ => None,
    }
}

/// A list field that drifts: a JSON array of strings, JSON text of an array, a comma- (or
/// semicolon-) delimited string, or a single value. Empty entries are dropped.
pub fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with('[') {
                if let Some(Value::Array(items)) = dynamic(v) {
                    return items.iter().filter_map(scalar_text).collect();
                }
            }
            t.trim_matches(|c| c == '[' || c == ']')
                .split([',', ';'])
                .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\''))
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        }
        Value::Null => Vec::new(),
        other => scalar_text(other).into_iter().collect(),
    }
}

/// Parses a timestamp in any of the forms the sources use:
/// RFC 3339 (`2021-06-30T16:34:32Z`, with offset or fraction), the same without a zone
/// (`2021-06-30T00:18:34.456304000`, read as UTC), a space instead of `T`
/// (`2025-01-15 09:30:45.123`), and epoch seconds or milliseconds as a number or numeric text.
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => parse_time_str(s),
        Value::Number(n) => epoch_to_time(n.as_f64()?).filter(|t| t.year() <= 9999),
        _ => None,
    }
}

/// [`parse_time`] for text. Years outside 1970–9999 are not times any source writes; they
/// are refused so that windows of rules and cases (up to a century wide) cannot leave
/// chrono's range.
pub fn parse_time_str(s: &str) -> Option<DateTime<Utc>> {
    parse_time_text(s).filter(|t| (1970..=9999).contains(&t.year()))
}

fn parse_time_text(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // Zone-less or space-separated forms, read as UTC.
    let normalised = s.replacen(' ', "T", 1);
    let trimmed = normalised.trim_end_matches('Z');
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(trimmed, fmt) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    if let Ok(with_offset) = DateTime::parse_from_str(&normalised, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(with_offset.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| Utc.from_utc_datetime(&n));
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return epoch_to_time(s.parse().ok()?);
    }
    None
}

/// Epoch seconds (below 10^11) or milliseconds as a time.
fn epoch_to_time(x: f64) -> Option<DateTime<Utc>> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let millis = if x < 1e11 { x * 1000.0 } else { x };
    if millis > 1e15 {
        return None;
    }
    Utc.timestamp_millis_opt(millis as i64).single()
}

/// What a "source address" field held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An IP address, port stripped.
    Ip(IpAddr),
    /// A name that is not an address (`ec2.amazonaws.com`, `AWS Internal`).
    Host(String),
}

/// Parses a caller address as the sources write it: bare `203.0.113.5`, `203.0.113.5:443`,
/// `[2001:db8::1]:443`, bare IPv6, and IPv4 with leading-zero octets (`035.249.253.232`, which
/// anonymised CloudTrail samples contain; each octet is read as decimal). Anything else that
/// is non-empty is a host name.
pub fn parse_caller(s: &str) -> Option<Caller> {
    let s = s.trim();
    if s.is_empty() || s == "-" {
        return None;
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(Caller::Ip(ip));
    }
    // [v6]:port or [v6]
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((inner, _)) = rest.split_once(']') {
            if let Ok(ip) = inner.parse::<IpAddr>() {
                return Some(Caller::Ip(ip));
            }
        }
    }
    // v4:port (exactly one colon)
    if let Some((host, port)) = s.rsplit_once(':') {
        if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
            if let Some(ip) = lenient_ipv4(host) {
                return Some(Caller::Ip(IpAddr::V4(ip)));
            }
        }
    }
    if let Some(ip) = lenient_ipv4(s) {
        return Some(Caller::Ip(IpAddr::V4(ip)));
    }
    Some(Caller::Host(s.to_string()))
}

/// Dotted-quad IPv4 whose octets may carry leading zeros; each octet is decimal.
fn lenient_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = p.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// A stable id for a record that has none of its own: a 128-bit xxh3 digest of its text.
pub fn digest_id(prefix: &str, text: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(text.as_bytes());
    format!("{prefix}{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_in_every_source_format() {
        let want = Utc.with_ymd_and_hms(2025, 1, 15, 9, 30, 45).unwrap();
        for s in [
            "2025-01-15T09:30:45Z",
            "2025-01-15T09:30:45+00:00",
            "2025-01-15 09:30:45",
            "2025-01-15T09:30:45.000000000",
            "2025-01-15T10:30:45+01:00",
        ] {
            assert_eq!(parse_time(&json!(s)), Some(want), "{s}");
        }
        assert_eq!(parse_time(&json!(1736933445)), Some(want));
        assert_eq!(parse_time(&json!(1736933445000i64)), Some(want));
        assert_eq!(parse_time(&json!("1736933445")), Some(want));
        assert_eq!(
            parse_time(&json!("2025-01-15 09:30:45.123")).map(|t| t.timestamp_subsec_millis()),
            Some(123)
        );
        assert_eq!(parse_time(&json!("yesterday")), None);
        assert_eq!(parse_time(&json!(null)), None);
    }

    #[test]
    fn callers_with_ports_brackets_and_names() {
        let v4: IpAddr = "203.0.113.5".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(parse_caller("203.0.113.5"), Some(Caller::Ip(v4)));
        assert_eq!(parse_caller("203.0.113.5:44321"), Some(Caller::Ip(v4)));
        assert_eq!(parse_caller("[2001:db8::1]:443"), Some(Caller::Ip(v6)));
        assert_eq!(parse_caller("2001:db8::1"), Some(Caller::Ip(v6)));
        assert_eq!(
            parse_caller("035.249.253.232"),
            Some(Caller::Ip("35.249.253.232".parse().unwrap()))
        );
        assert_eq!(
            parse_caller("ec2.amazonaws.com"),
            Some(Caller::Host("ec2.amazonaws.com".into()))
        );
        assert_eq!(parse_caller("  "), None);
    }

    #[test]
    fn list_fields_in_every_shape() {
        let want = vec![
            "unfamiliarFeatures".to_string(),
            "passwordSpray".to_string(),
        ];
        assert_eq!(
            string_list(&json!(["unfamiliarFeatures", "passwordSpray"])),
            want
        );
        assert_eq!(
            string_list(&json!("[\"unfamiliarFeatures\",\"passwordSpray\"]")),
            want
        );
        assert_eq!(
            string_list(&json!("unfamiliarFeatures,passwordSpray")),
            want
        );
        assert_eq!(
            string_list(&json!("unfamiliarFeatures, passwordSpray")),
            want
        );
        assert_eq!(
            string_list(&json!("['unfamiliarFeatures', 'passwordSpray']")),
            want
        );
        assert!(string_list(&json!("[]")).is_empty());
        assert!(string_list(&json!("")).is_empty());
    }

    #[test]
    fn case_insensitive_lookup() {
        let v = json!({"IPAddress": "1.2.3.4", "status": {"ErrorCode": 50126}});
        let o = v.as_object().unwrap();
        assert_eq!(text(o, &["ipAddress"]).as_deref(), Some("1.2.3.4"));
        assert_eq!(
            get_path(o, &["Status", "errorCode"])
                .and_then(code_text)
                .as_deref(),
            Some("50126")
        );
    }

    #[test]
    fn dynamic_columns_as_json_text_or_nested() {
        assert_eq!(
            dynamic(&json!("{\"errorCode\": 0}")),
            Some(json!({"errorCode": 0}))
        );
        assert_eq!(dynamic(&json!({"a": 1})), Some(json!({"a": 1})));
        assert_eq!(
            dynamic(&json!("{'errorCode': 0, 'ok': True}")),
            Some(json!({"errorCode": 0, "ok": true}))
        );
        assert_eq!(dynamic(&json!("plain")), None);
    }
}

#[cfg(test)]
mod implausible_times {
    #[test]
    fn years_no_source_writes_are_not_times() {
        for text in [
            "-262143-01-01T00:00:00",
            "0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(super::parse_time_str(text), None, "{text}");
        }
        assert!(super::parse_time_str("2026-03-09T08:00:00Z").is_some());
    }
}
