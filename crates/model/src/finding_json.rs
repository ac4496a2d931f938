//! A finding's JSON, written by hand: byte for byte what `serde_json::to_writer` writes for
//! it (the property tests below compare the two on any finding), about three times faster.
//!
//! Why not serde_json: a full correlate stores ~116k findings (~130 MB of JSON), and
//! serde_json's escaping looks at every byte of every string through a table and a split
//! (`format_escaped_str_contents` was ~3% of the run, the whole serialisation ~7%). Here a
//! string is scanned eight bytes at a time for the three things JSON escapes (control
//! characters, `"` and `\`) and copied in one piece when it has none, which is nearly
//! always. Times and the score are written digit by digit (chrono formatted each time
//! through `fmt`); the free-form `fields` values are walked here for their strings, and
//! their numbers written by serde_json itself.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;

use crate::{Finding, FindingEntity};

/// Each byte of a word, repeated.
const fn every_byte(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}
const LOW_BITS: u64 = every_byte(0x01);
const HIGH_BITS: u64 = every_byte(0x80);

/// Whether any byte of `word` is below 0x20, `"` or `\` (exact for "any"; which byte is
/// then found one by one).
fn needs_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(every_byte(0x20)) & !word;
    let zero_in = |v: u64| v.wrapping_sub(LOW_BITS) & !v;
    (below_space | zero_in(word ^ every_byte(b'"')) | zero_in(word ^ every_byte(b'\\'))) & HIGH_BITS
        != 0
}

/// `text` as a JSON string, escaped as serde_json escapes it.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let (mut run, mut at) = (0, 0);
    while at < bytes.len() {
        // The last word padded with spaces (which need no escape).
        let word = match bytes[at..].first_chunk::<8>() {
            Some(word) => *word,
            None => {
                let mut padded = [b' '; 8];
                padded[..bytes.len() - at].copy_from_slice(&bytes[at..]);
                padded
            }
        };
        if !needs_escape(u64::from_ne_bytes(word)) {
            at += 8;
            continue;
        }
        for _ in 0..8.min(bytes.len() - at) {
            let b = bytes[at];
            at += 1;
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => &[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ],
                _ => continue,
            };
            out.extend_from_slice(&bytes[run..at - 1]);
            out.extend_from_slice(escape);
            run = at;
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// `n` in decimal.
fn write_u32(out: &mut Vec<u8>, n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A time as chrono serialises it (RFC 3339, `Z`, the fraction in 0, 3, 6 or 9 digits as
/// needed), written here for years 0 to 9999 without a leap second, by chrono otherwise.
fn write_time(out: &mut Vec<u8>, t: &DateTime<Utc>) -> serde_json::Result<()> {
    let (date, time) = (t.date_naive(), t.time());
    let nanos = time.nanosecond();
    if !(0..=9999).contains(&date.year()) || nanos >= 1_000_000_000 {
        return serde_json::to_writer(&mut *out, t);
    }
    /// Two digits, then `after`.
    fn two(out: &mut Vec<u8>, n: u32, after: u8) {
        out.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8, after]);
    }
    let year = date.year() as u32;
    out.extend_from_slice(&[
        b'"',
        b'0' + (year / 1000) as u8,
        b'0' + (year / 100 % 10) as u8,
    ]);
    two(out, year % 100, b'-');
    two(out, date.month(), b'-');
    two(out, date.day(), b'T');
    two(out, time.hour(), b':');
    two(out, time.minute(), b':');
    let (fraction, digits) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    let seconds = time.second();
    if digits == 0 {
        two(out, seconds, b'Z');
    } else {
        two(out, seconds, b'.');
        let mut text = [0u8; 9];
        let mut rest = fraction;
        for d in text[..digits].iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&text[..digits]);
        out.push(b'Z');
    }
    out.push(b'"');
    Ok(())
}

/// `"key":`
fn key(out: &mut Vec<u8>, first: bool, name: &str) {
    if !first {
        out.push(b',');
    }
    write_str(out, name);
    out.push(b':');
}

fn strings(out: &mut Vec<u8>, list: &[String]) {
    out.push(b'[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, s);
    }
    out.push(b']');
}

fn entity(out: &mut Vec<u8>, e: &FindingEntity) {
    out.push(b'{');
    key(out, true, "type");
    write_str(out, e.entity_type.as_str());
    key(out, false, "id");
    write_str(out, &e.id);
    key(out, false, "role");
    write_str(out, e.role.as_str());
    if let Some(name) = &e.name {
        key(out, false, "name");
        write_str(out, name);
    }
    out.push(b'}');
}

/// A JSON value, as serde_json writes it (numbers by serde_json itself).
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) -> serde_json::Result<()> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => serde_json::to_writer(&mut *out, n)?,
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_map(out, map)?,
    }
    Ok(())
}

fn write_map(out: &mut Vec<u8>, map: &serde_json::Map<String, Value>) -> serde_json::Result<()> {
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        key(out, i == 0, k);
        write_value(out, v)?;
    }
    out.push(b'}');
    Ok(())
}

impl Finding {
    /// Appends this finding's JSON to `out`: exactly what `serde_json::to_writer` writes
    /// (the field order of the struct, no spaces), faster.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        // Every field named, none left out (no `..`): a field added to `Finding` and not
        // written here does not compile.
        let Finding {
            id,
            rule,
            title,
            severity,
            score,
            first_seen,
            last_seen,
            entities,
            events,
            attack,
            summary,
            fields,
        } = self;
        out.push(b'{');
        key(out, true, "id");
        write_str(out, id);
        key(out, false, "rule");
        write_str(out, rule);
        key(out, false, "title");
        write_str(out, title);
        key(out, false, "severity");
        write_str(out, severity.as_str());
        key(out, false, "score");
        write_u32(out, *score);
        key(out, false, "first_seen");
        write_time(out, first_seen)?;
        key(out, false, "last_seen");
        write_time(out, last_seen)?;
        key(out, false, "entities");
        out.push(b'[');
        for (i, e) in entities.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            entity(out, e);
        }
        out.push(b']');
        key(out, false, "events");
        strings(out, events);
        key(out, false, "attack");
        strings(out, attack);
        key(out, false, "summary");
        write_str(out, summary);
        key(out, false, "fields");
        write_map(out, fields)?;
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{EntityRole, EntityType, Severity};
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// Text with everything JSON escapes, non-ASCII, and long runs without either.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-zA-Z0-9 .@:/-]{0,40}",
            2 => "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é€😀]{0,12}",
            1 => "[ -~]{0,80}",
            1 => any::<String>(),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    prop_compose! {
        pub(crate) fn finding()(
            texts in prop::collection::vec(text(), 6),
            severity in prop::sample::select(Severity::ALL.to_vec()),
            score in any::<u32>(),
            secs in prop_oneof![4 => 0i64..4_000_000_000, 1 => -70_000_000_000i64..300_000_000_000],
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|m| m * 1_000_000),
                (0u32..1_000_000).prop_map(|u| u * 1000),
                0u32..2_000_000_000,
            ],
            span in 0i64..100_000,
            entities in prop::collection::vec(
                (0usize..9, text(), 0usize..4, prop::option::of(text())),
                0..4,
            ),
            events in prop::collection::vec(text(), 0..3),
            attack in prop::collection::vec(text(), 0..3),
            fields in prop::collection::btree_map(text(), value(), 0..5),
        ) -> Finding {
            let types = [
                EntityType::User, EntityType::App, EntityType::Ip, EntityType::Token,
                EntityType::Tenant, EntityType::Storage, EntityType::AwsPrincipal,
                EntityType::AwsKey, EntityType::AwsSession,
            ];
            let roles = [EntityRole::Actor, EntityRole::Source, EntityRole::Target, EntityRole::Resource];
            let first = chrono::Utc.timestamp_opt(secs, nanos).single().unwrap_or_default();
            let mut t = texts.into_iter();
            Finding {
                id: t.next().unwrap_or_default(),
                rule: t.next().unwrap_or_default(),
                title: t.next().unwrap_or_default(),
                severity,
                score,
                first_seen: first,
                last_seen: first + chrono::TimeDelta::seconds(span),
                entities: entities
                    .into_iter()
                    .map(|(ty, id, role, name)| FindingEntity {
                        entity_type: types[ty],
                        id,
                        role: roles[role],
                        name,
                    })
                    .collect(),
                events,
                attack,
                summary: t.next().unwrap_or_default(),
                fields: fields.into_iter().collect(),
            }
        }
    }

    #[test]
    fn every_escape_is_serde_jsons() {
        let all: String = (0u8..0x80).map(char::from).collect();
        for text in [all.as_str(), "", "\"", "\\", "abcdefgh\u{1}", "é\"€\n😀"] {
            let mut out = Vec::new();
            write_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any finding is written exactly as serde_json writes it.
        #[test]
        fn findings_are_written_as_serde_json_writes_them(f in finding()) {
            let mut ours = Vec::new();
            f.write_json(&mut ours).unwrap();
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&f).unwrap()
            );
        }

        /// Any text, escaped at any position of an 8-byte word.
        #[test]
        fn any_text_is_escaped_as_serde_json_escapes_it(prefix in 0usize..8, text in text()) {
            let text = format!("{}{text}", "x".repeat(prefix));
            let mut ours = Vec::new();
            write_str(&mut ours, &text);
            prop_assert_eq!(ours, serde_json::to_vec(&text).unwrap());
        }
    }
}
