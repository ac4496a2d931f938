//! Lists in `correlations/lists/` (allow-lists and match lists) and how a value is looked up
//! in one.
//!
//! A list file is plain text: one entry per line, blank lines are ignored, and `#` starts a
//! comment at the start of a line or as ` # ` after an entry (a `#` inside a value, as in
//! `Policy #3`, is kept). What an entry means depends on how a rule uses the list (its `kind`):
//!
//! - `ip`: an address or a CIDR network (`203.0.113.7`, `198.51.100.0/24`, `2001:db8::/32`);
//! - `text`: a value compared without regard to case and surrounding space;
//! - `window`: `START END [VALUE...]`, RFC 3339 times (end exclusive), optionally restricted
//!   to events whose field has one of the values (a red-team window for some accounts).
//!
//! Parsing is pure (the caller reads the files); every bad entry is reported with its line.

use std::collections::HashSet;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use rsigma_eval::matcher::ascii_lowercase_cow;
use serde::Deserialize;

/// How a rule reads a list's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    Ip,
    Text,
    Window,
}

/// A list file's entries with their line numbers (comments and blanks removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFile {
    pub name: String,
    pub path: String,
    pub entries: Vec<(usize, String)>,
}

impl ListFile {
    /// Splits `text` into entries. `name` is the file name without `.txt`.
    pub fn parse(name: &str, path: &str, text: &str) -> ListFile {
        let entries = text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| {
                let entry = strip_comment(line).trim();
                (!entry.is_empty()).then(|| (i + 1, entry.to_string()))
            })
            .collect();
        ListFile {
            name: name.to_string(),
            path: path.to_string(),
            entries,
        }
    }
}

/// `line` without its comment: a `#` at the start of the line, or after whitespace and
/// followed by whitespace or the end (so `Policy #3` keeps its `#`).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b != b'#' {
            continue;
        }
        let starts = line[..i].trim().is_empty();
        let spaced = i > 0
            && bytes[i - 1].is_ascii_whitespace()
            && bytes.get(i + 1).is_none_or(|c| c.is_ascii_whitespace());
        if starts || spaced {
            return &line[..i];
        }
    }
    line
}

/// A time window, optionally limited to some values of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub only: Vec<String>,
}

/// A list compiled for one kind of lookup.
#[derive(Debug, Clone)]
pub enum ListMatcher {
    Ip(Vec<IpNet>),
    /// Entries lower-cased. (foldhash: every event of a rule with a list looks one up.)
    Text(HashSet<String, foldhash::fast::RandomState>),
    Window(Vec<Window>),
}

/// A bad list entry: file, line, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntryError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

fn parse_ip_entry(entry: &str) -> Result<IpNet, String> {
    if let Ok(net) = IpNet::from_str(entry) {
        return Ok(net.trunc());
    }
    IpAddr::from_str(entry)
        .map(IpNet::from)
        .map_err(|_| format!("{entry:?} is not an IP address or CIDR network"))
}

fn parse_window(entry: &str) -> Result<Window, String> {
    let mut parts = entry.split_whitespace();
    let mut time = |what: &str| -> Result<DateTime<Utc>, String> {
        let t = parts
            .next()
            .ok_or_else(|| format!("window needs START END, {what} is missing"))?;
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("{what} {t:?} is not an RFC 3339 time: {e}"))
    };
    let start = time("START")?;
    let end = time("END")?;
    if end <= start {
        return Err(format!("window ends ({end}) before it starts ({start})"));
    }
    let only = parts.map(|p| p.trim().to_lowercase()).collect();
    Ok(Window { start, end, only })
}

impl ListMatcher {
    /// Compiles `file` for `kind`, reporting every bad entry.
    pub fn compile(file: &ListFile, kind: ListKind) -> Result<ListMatcher, Vec<ListEntryError>> {
        let mut errors = Vec::new();
        let mut err = |line: usize, message: String| {
            errors.push(ListEntryError {
                path: file.path.clone(),
                line,
                message,
            })
        };
        let matcher = match kind {
            ListKind::Ip => ListMatcher::Ip(
                file.entries
                    .iter()
                    .filter_map(|(line, e)| parse_ip_entry(e).map_err(|m| err(*line, m)).ok())
                    .collect(),
            ),
            ListKind::Text => {
                ListMatcher::Text(file.entries.iter().map(|(_, e)| e.to_lowercase()).collect())
            }
            ListKind::Window => ListMatcher::Window(
                file.entries
                    .iter()
                    .filter_map(|(line, e)| parse_window(e).map_err(|m| err(*line, m)).ok())
                    .collect(),
            ),
        };
        if errors.is_empty() {
            Ok(matcher)
        } else {
            Err(errors)
        }
    }

    /// True when one of `values` (the field's values; empty when absent) is on the list at
    /// `time`. A window without values matches every event in it.
    pub fn contains(&self, values: &[&str], time: DateTime<Utc>) -> bool {
        match self {
            ListMatcher::Ip(nets) => values.iter().any(|v| {
                IpAddr::from_str(v.trim()).is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip)))
            }),
            ListMatcher::Text(set) => values
                .iter()
                .any(|v| with_lowered(v.trim(), |v| set.contains(v))),
            ListMatcher::Window(windows) => windows.iter().any(|w| {
                w.start <= time
                    && time < w.end
                    && (w.only.is_empty()
                        || values
                            .iter()
                            .any(|v| with_lowered(v.trim(), |v| w.only.iter().any(|o| o == v))))
            }),
        }
    }
}

/// Longest text [`with_lowered`] lower-cases on the stack.
const LOWERED_ON_STACK: usize = 64;

/// `f` of `text` lower-cased as `ascii_lowercase_cow` lower-cases it, short ASCII text on
/// the stack rather than in a new string (countries and names are looked up for every
/// sign-in of a rule with a list, and most have capitals).
fn with_lowered<R>(text: &str, f: impl FnOnce(&str) -> R) -> R {
    if text.len() <= LOWERED_ON_STACK && text.is_ascii() {
        let mut buf = [0u8; LOWERED_ON_STACK];
        let lowered = &mut buf[..text.len()];
        lowered.copy_from_slice(text.as_bytes());
        lowered.make_ascii_lowercase();
        // (ASCII is UTF-8.)
        if let Ok(lowered) = skein_model::text::utf8(lowered) {
            return f(lowered);
        }
    }
    f(ascii_lowercase_cow(text).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    proptest! {
        /// Text is lower-cased as rsigma's `ascii_lowercase_cow` does, on the stack or not.
        #[test]
        fn lowered_as_rsigma_lowers(text in "[a-zA-Z0-9 .@İÉé]{0,70}") {
            let ours = with_lowered(&text, str::to_string);
            prop_assert_eq!(ours, ascii_lowercase_cow(&text).into_owned());
        }
    }

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
    }

    #[test]
    fn comments_blanks_and_line_numbers() {
        let f = ListFile::parse(
            "x",
            "lists/x.txt",
            "# head\n\n10.0.0.0/8  # vpn\n 1.2.3.4\n",
        );
        assert_eq!(
            f.entries,
            vec![(3, "10.0.0.0/8".to_string()), (4, "1.2.3.4".to_string())]
        );
    }

    #[test]
    fn hashes_inside_values_are_kept() {
        let f = ListFile::parse("x", "x", "Policy #3\nA # note\n# all comment\nB #\n");
        let entries: Vec<&str> = f.entries.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(entries, ["Policy #3", "A", "B"]);
    }

    #[test]
    fn ip_lists_take_addresses_and_networks() {
        let f = ListFile::parse("x", "x", "10.0.0.0/8\n2001:db8::/32\n192.0.2.7\n");
        let m = ListMatcher::compile(&f, ListKind::Ip).unwrap();
        for (ip, want) in [
            ("10.9.8.7", true),
            ("2001:db8::1", true),
            ("192.0.2.7", true),
            ("192.0.2.8", false),
            ("not-an-ip", false),
        ] {
            assert_eq!(m.contains(&[ip], t(0)), want, "{ip}");
        }
        assert!(!m.contains(&[], t(0)));
    }

    #[test]
    fn bad_entries_are_reported_with_lines() {
        let f = ListFile::parse("x", "lists/x.txt", "10.0.0.0/8\nvpn.example\n");
        let errs = ListMatcher::compile(&f, ListKind::Ip).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 2);
        let f = ListFile::parse("w", "w", "2026-03-02T09:00:00Z\n");
        assert!(ListMatcher::compile(&f, ListKind::Window).is_err());
    }

    #[test]
    fn windows_limit_by_time_and_value() {
        let f = ListFile::parse(
            "w",
            "w",
            "2026-03-02T09:00:00Z 2026-03-02T17:00:00Z redteam@contoso.com\n",
        );
        let m = ListMatcher::compile(&f, ListKind::Window).unwrap();
        assert!(m.contains(&["RedTeam@contoso.com"], t(10)));
        assert!(!m.contains(&["alice@contoso.com"], t(10)));
        assert!(!m.contains(&["redteam@contoso.com"], t(17)));
        assert!(!m.contains(&["redteam@contoso.com"], t(8)));
    }

    #[test]
    fn text_lists_ignore_case() {
        let f = ListFile::parse("t", "t", "Partner-Tenant-A\n");
        let m = ListMatcher::compile(&f, ListKind::Text).unwrap();
        assert!(m.contains(&["partner-tenant-a "], t(0)));
    }
}
