//! Writing JSON by hand, byte for byte as serde_json writes it (compact): the pieces
//! [`crate::Finding::write_json`] and the case model's writer are made of. Strings are
//! scanned for escapes eight bytes at a time and copied in one piece when they have none
//! (serde_json looks at every byte through a table); times and numbers are written digit by
//! digit (chrono formats a time through `fmt`). The property tests of the writers built on
//! these compare their output with serde_json's.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;

/// Each byte of a word, repeated.
const fn every_byte(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}
const LOW_BITS: u64 = every_byte(0x01);
const HIGH_BITS: u64 = every_byte(0x80);

/// Whether any byte of `word` is below 0x20, `"` or `\` (exact for "any").
fn needs_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(every_byte(0x20)) & !word;
    let zero_in = |v: u64| v.wrapping_sub(LOW_BITS) & !v;
    (below_space | zero_in(word ^ every_byte(b'"')) | zero_in(word ^ every_byte(b'\\'))) & HIGH_BITS
        != 0
}

/// Whether JSON escapes `b`: a control character, `"` or `\`.
fn escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// `text` as a JSON string, escaped as serde_json escapes it.
pub fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let (words, tail) = bytes.as_chunks::<8>();
    let plain = !words.iter().any(|w| needs_escape(u64::from_ne_bytes(*w)))
        && !tail.iter().any(|&b| escaped(b));
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if plain {
        // Nearly every string: copied in one piece.
        out.extend_from_slice(bytes);
    } else {
        escape_into(out, bytes);
    }
    out.push(b'"');
}

/// `bytes` with what JSON escapes escaped, as serde_json escapes it.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut run = 0;
    for (at, &b) in bytes.iter().enumerate() {
        if !escaped(b) {
            continue;
        }
        out.extend_from_slice(&bytes[run..at]);
        run = at + 1;
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
        };
        out.extend_from_slice(escape);
    }
    out.extend_from_slice(&bytes[run..]);
}

/// A number in decimal as `to_string` writes it (`-` when `negative`, then `magnitude`),
/// at the end of `buf`.
pub fn decimal(negative: bool, magnitude: u64, buf: &mut [u8; 21]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = magnitude;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// `n` in decimal.
pub fn unsigned(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(false, n, &mut [0; 21]));
}

/// A time as chrono serialises it (RFC 3339, `Z`, the fraction in 0, 3, 6 or 9 digits as
/// needed), written here for years 0 to 9999 without a leap second, by chrono otherwise.
pub fn time(out: &mut Vec<u8>, t: &DateTime<Utc>) -> serde_json::Result<()> {
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

/// `"name":`, after a comma unless it is the object's first member.
pub fn key(out: &mut Vec<u8>, first: bool, name: &str) {
    if !first {
        out.push(b',');
    }
    string(out, name);
    out.push(b':');
}

/// `"name":"value"`, after a comma unless it is the object's first member.
pub fn str_member(out: &mut Vec<u8>, first: bool, name: &str, value: &str) {
    key(out, first, name);
    string(out, value);
}

/// `[item,item]`, each written by `one`.
pub fn list<T>(
    out: &mut Vec<u8>,
    items: &[T],
    mut one: impl FnMut(&mut Vec<u8>, &T) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        one(out, item)?;
    }
    out.push(b']');
    Ok(())
}

/// A list of strings.
pub fn strings(out: &mut Vec<u8>, items: &[String]) -> serde_json::Result<()> {
    list(out, items, |out, s| {
        string(out, s);
        Ok(())
    })
}

/// A JSON value, as serde_json writes it (numbers by serde_json itself).
pub fn value(out: &mut Vec<u8>, v: &Value) -> serde_json::Result<()> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => serde_json::to_writer(&mut *out, n)?,
        Value::String(s) => string(out, s),
        Value::Array(items) => list(out, items, value)?,
        Value::Object(map) => object(out, map)?,
    }
    Ok(())
}

/// A JSON object.
pub fn object(out: &mut Vec<u8>, map: &serde_json::Map<String, Value>) -> serde_json::Result<()> {
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        key(out, i == 0, k);
        value(out, v)?;
    }
    out.push(b'}');
    Ok(())
}
