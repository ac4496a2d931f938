//! The byte-level scanner under [`super::Framer`]: a position-tracking wrapper around a
//! `BufRead` that skips blanks and comments, finds the end of one JSON value (tracking strings,
//! escapes and bracket depth, with `memchr` over string bodies) and resynchronises after an
//! error. It copies bytes only into the caller's bounded [`Acc`]; it never validates JSON.

use std::io::{self, BufRead};

use memchr::{memchr, memchr3};

/// The longest object key the framer remembers; longer keys are never container keys.
pub(super) const KEY_MAX: usize = 32;

/// Why scanning stopped early.
#[derive(Debug)]
pub(super) enum Stop {
    /// The reader failed; the stream ends.
    Io(io::Error),
    /// The input ended inside a value.
    Eof,
    /// The bytes cannot be JSON here; the message says what was found.
    Syntax(String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

/// The bytes of the record being framed, bounded: once `limit` is passed the bytes are
/// dropped (only counted) so that an oversized record is skipped, not loaded.
#[derive(Debug, Default)]
pub(super) struct Acc {
    pub buf: Vec<u8>,
    pub size: u64,
    pub over: bool,
    pub limit: usize,
}

impl Acc {
    /// Starts a new record with the given limit.
    pub fn start(&mut self, limit: usize) {
        self.buf.clear();
        self.size = 0;
        self.over = false;
        self.limit = limit;
    }

    /// Appends bytes, or only counts them once the record is over the limit.
    pub fn push(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        if self.over {
            return;
        }
        if self.size > self.limit as u64 {
            self.over = true;
            self.buf = Vec::new();
            return;
        }
        self.buf.extend_from_slice(bytes);
    }
}

/// Appends to a key buffer, keeping at most [`KEY_MAX`] bytes.
fn push_key(key: &mut Vec<u8>, bytes: &[u8]) {
    let room = KEY_MAX.saturating_sub(key.len());
    let take = room.min(bytes.len());
    key.extend_from_slice(bytes.get(..take).unwrap_or_default());
}

/// A `BufRead` with its position: byte offset, 1-based line, and where that line starts.
pub(super) struct Reader<R> {
    rd: R,
    /// Offset of the next unread byte.
    pub pos: u64,
    /// Line of the next unread byte (1-based).
    pub line: u64,
    /// Offset of the first byte of that line.
    pub line_start: u64,
}

impl<R: BufRead> Reader<R> {
    pub fn new(rd: R) -> Self {
        Reader {
            rd,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Column (0-based, in bytes) of the next unread byte.
    pub fn col(&self) -> u64 {
        self.pos - self.line_start
    }

    /// True when the next unread byte is the first of its line.
    pub fn at_line_start(&self) -> bool {
        self.pos == self.line_start
    }

    /// The reader's buffer, refilled if empty; empty at EOF.
    fn fill(&mut self) -> io::Result<&[u8]> {
        fill_buf(&mut self.rd)
    }

    /// The next byte without consuming it; `None` at EOF.
    pub fn peek(&mut self) -> Result<Option<u8>, Stop> {
        Ok(self.fill()?.first().copied())
    }

    /// Consumes one byte (which the caller has peeked), copying it into `acc`.
    pub fn bump(&mut self, b: u8, acc: Option<&mut Acc>) {
        self.rd.consume(1);
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        if let Some(acc) = acc {
            acc.push(&[b]);
        }
    }

    /// Skips a UTF-8 byte-order mark at the very start of the stream.
    pub fn skip_bom(&mut self) -> Result<(), Stop> {
        for want in [0xEF, 0xBB, 0xBF] {
            match self.peek()? {
                Some(b) if b == want => self.bump(b, None),
                _ => return Ok(()),
            }
        }
        // The mark is not part of the text: columns count from after it.
        self.line_start = self.pos;
        Ok(())
    }

    /// Skips whitespace (copying it into `acc`) and, when `comments` is set, `//` line
    /// comments. Returns the next byte, not consumed; `None` at EOF.
    pub fn skip_blank(
        &mut self,
        mut acc: Option<&mut Acc>,
        comments: bool,
    ) -> Result<Option<u8>, Stop> {
        loop {
            match self.peek()? {
                Some(b @ (b' ' | b'\t' | b'\r' | b'\n')) => self.bump(b, acc.as_deref_mut()),
                Some(b'/') if comments => {
                    self.bump(b'/', None);
                    match self.peek()? {
                        Some(b'/') => {
                            self.skip_line(false)?;
                        }
                        other => {
                            return Err(Stop::Syntax(format!(
                                "expected a comment ('//') but found {}",
                                describe(other)
                            )))
                        }
                    }
                }
                other => return Ok(other),
            }
        }
    }

    /// Skips to the end of the current line; with `past` also consumes the newline.
    /// Returns false when the input ended first.
    pub fn skip_line(&mut self, past: bool) -> Result<bool, Stop> {
        loop {
            let chunk = self.fill()?;
            if chunk.is_empty() {
                return Ok(false);
            }
            match memchr(b'\n', chunk) {
                Some(i) => {
                    let n = if past { i + 1 } else { i };
                    self.rd.consume(n);
                    self.pos += n as u64;
                    if past {
                        self.line += 1;
                        self.line_start = self.pos;
                    }
                    return Ok(true);
                }
                None => {
                    let n = chunk.len();
                    self.rd.consume(n);
                    self.pos += n as u64;
                }
            }
        }
    }

    /// Skips to the next line whose first non-blank byte is `{` or `[` at column `target` or
    /// at column 0, and returns that column; `None` at EOF. Checks the current line first
    /// when positioned at its start.
    pub fn resync(&mut self, target: u64) -> Result<Option<u64>, Stop> {
        loop {
            if self.at_line_start() {
                while let Some(b @ (b' ' | b'\t')) = self.peek()? {
                    self.bump(b, None);
                }
                match self.peek()? {
                    None => return Ok(None),
                    Some(b'{' | b'[') if self.col() == target || self.col() == 0 => {
                        return Ok(Some(self.col()));
                    }
                    _ => {}
                }
            }
            if !self.skip_line(true)? {
                return Ok(None);
            }
        }
    }

    /// Scans one complete JSON value starting at the next byte (which must not be blank):
    /// an object or array (to its matching close), a string, or a bare scalar (to the next
    /// delimiter, not consumed). Bytes go to `acc` and, for a string key, to `key`.
    ///
    /// `guard` enables the single-line heuristic: a `{` or `[` in column 0 inside the value
    /// means the value was cut off at the end of its line and a new record starts there.
    /// A raw newline inside a string is always an error (JSON forbids it), which is what
    /// stops a truncated NDJSON line from swallowing the lines after it.
    pub fn scan_value(
        &mut self,
        mut acc: Option<&mut Acc>,
        mut key: Option<&mut Vec<u8>>,
        guard: bool,
    ) -> Result<(), Stop> {
        let first = self.peek()?.ok_or(Stop::Eof)?;
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let mut depth: u64 = 0;
        let mut in_str = false;
        let mut esc = false;
        let mut started = false;
        loop {
            let chunk = fill_buf(&mut self.rd)?;
            if chunk.is_empty() {
                return if scalar && started {
                    Ok(())
                } else {
                    Err(Stop::Eof)
                };
            }
            let n = chunk.len();
            let mut i = 0;
            let mut outcome: Option<Result<(), Stop>> = None;
            while i < n {
                if in_str {
                    if esc {
                        esc = false;
                        if chunk.get(i) == Some(&b'\n') {
                            outcome = Some(Err(newline_in_string()));
                            break;
                        }
                        i += 1;
                        continue;
                    }
                    let rest = chunk.get(i..).unwrap_or_default();
                    match memchr3(b'"', b'\\', b'\n', rest) {
                        None => i = n,
                        Some(j) => {
                            i += j;
                            match chunk.get(i) {
                                Some(b'"') => {
                                    in_str = false;
                                    i += 1;
                                    if depth == 0 {
                                        outcome = Some(Ok(()));
                                        break;
                                    }
                                }
                                Some(b'\\') => {
                                    esc = true;
                                    i += 1;
                                }
                                _ => {
                                    outcome = Some(Err(newline_in_string()));
                                    break;
                                }
                            }
                        }
                    }
                    continue;
                }
                let b = chunk.get(i).copied().unwrap_or(b' ');
                if scalar {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        outcome = Some(Ok(()));
                        break;
                    }
                    started = true;
                    i += 1;
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => {
                        if guard && depth > 0 && self.pos + i as u64 == self.line_start {
                            outcome = Some(Err(Stop::Syntax(
                                "record is incomplete: a new record starts in column 0 of the next line"
                                    .into(),
                            )));
                            break;
                        }
                        depth += 1;
                    }
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            i += 1;
                            outcome = Some(Ok(()));
                            break;
                        }
                    }
                    b'\n' => {
                        self.line += 1;
                        self.line_start = self.pos + i as u64 + 1;
                    }
                    _ => {}
                }
                i += 1;
            }
            let used = chunk.get(..i).unwrap_or_default();
            if let Some(acc) = acc.as_deref_mut() {
                acc.push(used);
            }
            if let Some(key) = key.as_deref_mut() {
                push_key(key, used);
            }
            self.rd.consume(i);
            self.pos += i as u64;
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }
}

/// `fill_buf`, retrying interrupted reads. At EOF it returns an empty slice without asking
/// the reader again (a terminal would wait for a second end-of-file).
fn fill_buf<R: BufRead>(rd: &mut R) -> io::Result<&[u8]> {
    loop {
        match rd.fill_buf() {
            Ok([]) => return Ok(&[]),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    rd.fill_buf()
}

fn newline_in_string() -> Stop {
    Stop::Syntax("line break inside a string (the record is cut off or not JSON)".into())
}

/// A byte for an error message: `'x'` when printable ASCII, else its hex value.
pub(super) fn describe(b: Option<u8>) -> String {
    match b {
        None => "the end of the input".to_string(),
        Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
        Some(b) => format!("byte 0x{b:02x}"),
    }
}
