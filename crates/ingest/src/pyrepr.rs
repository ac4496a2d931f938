//! A parser for Python-repr literals, the text pandas writes for nested columns when a
//! DataFrame of Log Analytics rows is exported (`"{'errorCode': 0, 'ok': True}"`), into
//! `serde_json::Value`s.
//!
//! It owns the literal grammar only: dicts, lists, tuples and set displays, strings in single
//! or double quotes (with `u`/`b`/`r` prefixes and Python's escapes), integers, floats,
//! `True`/`False`/`None`, and for leniency JSON's `true`/`false`/`null` too (exports mix
//! them). It must not evaluate anything: calls such as `Timestamp('...')`, `set()` or
//! `datetime(...)` are errors, never guessed at.
//!
//! Mapping to JSON: tuples and sets become arrays; dict keys that are not strings become their
//! Python `str()` text (`1` → `"1"`, `True` → `"True"`, `None` → `"None"`); integers that do
//! not fit 64 bits become floats; `nan` and `inf` (which JSON cannot hold) become `null`.
//! Nesting is limited to [`MAX_DEPTH`] levels so that hostile input cannot exhaust the stack.

use serde_json::{Map, Number, Value};

/// The deepest nesting of containers accepted.
pub const MAX_DEPTH: usize = 128;

/// Why a text is not a Python literal. Positions are byte offsets into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PyReprError {
    /// The text ended inside a value.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A character that cannot start or continue a value here.
    #[error("unexpected {found:?} at byte {pos}")]
    Unexpected { pos: usize, found: char },
    /// A malformed `\x`, `\u`, `\U` or `\N` escape.
    #[error("invalid escape sequence at byte {pos}")]
    BadEscape { pos: usize },
    /// Something that looks like a number but is not one.
    #[error("invalid number {text:?} at byte {pos}")]
    BadNumber { pos: usize, text: String },
    /// A bare name other than the literal constants (e.g. a call like `Timestamp(...)`).
    #[error("unsupported name {name:?} at byte {pos}")]
    UnknownName { pos: usize, name: String },
    /// A dict key that is a container.
    #[error("unsupported dict key at byte {pos}")]
    BadKey { pos: usize },
    /// Containers nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Text left over after a complete value.
    #[error("trailing characters at byte {pos}")]
    Trailing { pos: usize },
}

/// Parses one Python literal (surrounding whitespace allowed) into JSON.
pub fn parse(text: &str) -> Result<Value, PyReprError> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.pos < p.b.len() {
        return Err(PyReprError::Trailing { pos: p.pos });
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&mut self) -> Result<u8, PyReprError> {
        self.ws();
        self.b
            .get(self.pos)
            .copied()
            .ok_or(PyReprError::UnexpectedEnd)
    }

    fn unexpected(&self) -> PyReprError {
        match self.s.get(self.pos..).and_then(|r| r.chars().next()) {
            Some(found) => PyReprError::Unexpected {
                pos: self.pos,
                found,
            },
            None => PyReprError::UnexpectedEnd,
        }
    }

    fn value(&mut self) -> Result<Value, PyReprError> {
        match self.peek()? {
            b'{' => self.nest(Self::brace),
            b'[' => self.nest(|p| p.sequence(b']').map(Value::Array)),
            b'(' => self.nest(Self::paren),
            b'\'' | b'"' => self.string().map(Value::String),
            b'-' | b'+' | b'.' | b'0'..=b'9' => self.number(),
            c if c.is_ascii_alphabetic() || c == b'_' => self.name(),
            _ => Err(self.unexpected()),
        }
    }

    fn nest(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Value, PyReprError>,
    ) -> Result<Value, PyReprError> {
        if self.depth >= MAX_DEPTH {
            return Err(PyReprError::TooDeep);
        }
        self.depth += 1;
        self.pos += 1; // the opening bracket
        let v = f(self);
        self.depth -= 1;
        v
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed.
    fn sequence(&mut self, close: u8) -> Result<Vec<Value>, PyReprError> {
        let mut items = Vec::new();
        loop {
            if self.peek()? == close {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value()?);
            match self.peek()? {
                b',' => self.pos += 1,
                c if c == close => {}
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// `(...)`: a tuple (array), or a parenthesised single value `(x)`.
    fn paren(&mut self) -> Result<Value, PyReprError> {
        if self.peek()? == b')' {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        let first = self.value()?;
        match self.peek()? {
            b')' => {
                self.pos += 1;
                Ok(first)
            }
            b',' => {
                self.pos += 1;
                let mut items = vec![first];
                items.extend(self.sequence(b')')?);
                Ok(Value::Array(items))
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `{...}`: a dict, or a set display (array).
    fn brace(&mut self) -> Result<Value, PyReprError> {
        if self.peek()? == b'}' {
            self.pos += 1;
            return Ok(Value::Object(Map::new()));
        }
        let key_pos = self.pos;
        let first = self.value()?;
        if self.peek()? != b':' {
            let mut items = vec![first];
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    items.extend(self.sequence(b'}')?);
                }
                b'}' => self.pos += 1,
                _ => return Err(self.unexpected()),
            }
            return Ok(Value::Array(items));
        }
        let mut map = Map::new();
        let mut key = key_text(first, key_pos)?;
        loop {
            // at ':'
            self.pos += 1;
            let v = self.value()?;
            map.insert(key, v);
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.unexpected()),
            }
            if self.peek()? == b'}' {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            let key_pos = self.pos;
            key = key_text(self.value()?, key_pos)?;
            if self.peek()? != b':' {
                return Err(self.unexpected());
            }
        }
    }

    fn name(&mut self) -> Result<Value, PyReprError> {
        let start = self.pos;
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.pos += 1;
        }
        let name = &self.s[start..self.pos];
        // A string prefix: u'..', b"..", r'..', rb'..', ...
        if name.len() <= 2
            && name.bytes().all(|c| b"uUbBrR".contains(&c))
            && matches!(self.b.get(self.pos), Some(b'\'' | b'"'))
        {
            self.pos = start;
            return self.string().map(Value::String);
        }
        match name {
            "True" | "true" => Ok(Value::Bool(true)),
            "False" | "false" => Ok(Value::Bool(false)),
            "None" | "null" | "nan" | "NaN" | "inf" | "Infinity" => Ok(Value::Null),
            _ => Err(PyReprError::UnknownName {
                pos: start,
                name: name.to_string(),
            }),
        }
    }

    fn number(&mut self) -> Result<Value, PyReprError> {
        let start = self.pos;
        if matches!(self.b[self.pos], b'-' | b'+') {
            self.pos += 1;
        }
        // -inf, -nan
        if self.b.get(self.pos).is_some_and(u8::is_ascii_alphabetic) {
            while self.b.get(self.pos).is_some_and(u8::is_ascii_alphabetic) {
                self.pos += 1;
            }
            return match &self.s[start..self.pos].trim_start_matches(['-', '+']) {
                &("inf" | "nan" | "Infinity" | "NaN") => Ok(Value::Null),
                _ => Err(self.bad_number(start)),
            };
        }
        let mut float = false;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'0'..=b'9' | b'_' => {}
                b'.' => float = true,
                b'e' | b'E' => {
                    float = true;
                    if matches!(self.b.get(self.pos + 1), Some(b'-' | b'+')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
            self.pos += 1;
        }
        let text = &self.s[start..self.pos];
        let owned;
        let digits = if text.contains('_') {
            owned = text.replace('_', "");
            owned.as_str()
        } else {
            text
        };
        let digits = digits.strip_prefix('+').unwrap_or(digits);
        if !float {
            if let Ok(i) = digits.parse::<i64>() {
                return Ok(Value::Number(i.into()));
            }
            if let Ok(u) = digits.parse::<u64>() {
                return Ok(Value::Number(u.into()));
            }
        }
        let has_digit = digits.bytes().any(|c| c.is_ascii_digit());
        match digits.parse::<f64>() {
            Ok(f) if has_digit => Ok(Number::from_f64(f).map_or(Value::Null, Value::Number)),
            _ => Err(self.bad_number(start)),
        }
    }

    fn bad_number(&self, start: usize) -> PyReprError {
        PyReprError::BadNumber {
            pos: start,
            text: self.s[start..self.pos].to_string(),
        }
    }

    /// A quoted string with an optional prefix; the cursor is at the prefix or the quote.
    fn string(&mut self) -> Result<String, PyReprError> {
        let mut raw = false;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'r' | b'R' => raw = true,
                b'u' | b'U' | b'b' | b'B' => {}
                _ => break,
            }
            self.pos += 1;
        }
        let quote = self.b[self.pos];
        self.pos += 1;
        let mut out = String::new();
        let mut chunk = self.pos;
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(PyReprError::UnexpectedEnd);
            };
            if c == quote {
                out.push_str(&self.s[chunk..self.pos]);
                self.pos += 1;
                return Ok(out);
            }
            if c != b'\\' {
                self.pos += 1;
                continue;
            }
            out.push_str(&self.s[chunk..self.pos]);
            let esc = self.pos;
            self.pos += 1;
            let Some(&e) = self.b.get(self.pos) else {
                return Err(PyReprError::UnexpectedEnd);
            };
            if raw {
                // A raw string keeps the backslash; an escaped quote does not end it.
                out.push('\\');
                chunk = self.pos;
                if e.is_ascii() {
                    out.push(e as char);
                    self.pos += 1;
                    chunk = self.pos;
                }
                continue;
            }
            self.pos += 1;
            match e {
                b'\\' => out.push('\\'),
                b'\'' => out.push('\''),
                b'"' => out.push('"'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'a' => out.push('\u{07}'),
                b'b' => out.push('\u{08}'),
                b'f' => out.push('\u{0c}'),
                b'v' => out.push('\u{0b}'),
                b'\n' => {}
                b'0'..=b'7' => {
                    let mut n = u32::from(e - b'0');
                    for _ in 0..2 {
                        match self.b.get(self.pos) {
                            Some(&d @ b'0'..=b'7') => {
                                n = n * 8 + u32::from(d - b'0');
                                self.pos += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push(char::from_u32(n).unwrap_or('\u{fffd}'));
                }
                b'x' => out.push(self.hex_escape(2, esc)?),
                b'u' => out.push(self.hex_escape(4, esc)?),
                b'U' => out.push(self.hex_escape(8, esc)?),
                b'N' => return Err(PyReprError::BadEscape { pos: esc }),
                _ => {
                    // Python keeps unknown escapes as written.
                    self.pos -= 1;
                    out.push('\\');
                }
            }
            chunk = self.pos;
        }
    }

    fn hex_escape(&mut self, len: usize, esc: usize) -> Result<char, PyReprError> {
        let digits = self
            .s
            .get(self.pos..self.pos + len)
            .filter(|d| d.bytes().all(|c| c.is_ascii_hexdigit()))
            .ok_or(PyReprError::BadEscape { pos: esc })?;
        let n = u32::from_str_radix(digits, 16).map_err(|_| PyReprError::BadEscape { pos: esc })?;
        self.pos += len;
        if n > 0x10FFFF {
            return Err(PyReprError::BadEscape { pos: esc });
        }
        // Lone surrogates cannot live in a Rust string.
        Ok(char::from_u32(n).unwrap_or('\u{fffd}'))
    }
}

/// A dict key as text, the way Python's `str()` prints it.
fn key_text(key: Value, pos: usize) -> Result<String, PyReprError> {
    match key {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(true) => Ok("True".into()),
        Value::Bool(false) => Ok("False".into()),
        Value::Null => Ok("None".into()),
        Value::Array(_) | Value::Object(_) => Err(PyReprError::BadKey { pos }),
    }
}

#[cfg(test)]
mod tests;
