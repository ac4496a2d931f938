//! Record framing: splits a byte stream into [`Frame`]s, one JSON record each, holding at most
//! one record in memory. It owns finding record *boundaries* only; [`crate::detect`] parses
//! each frame and reports JSON that is wrong in detail (e.g. a trailing comma).
//!
//! Accepted layouts, in any mix: NDJSON / JSON Lines, concatenated JSON values, a
//! pretty-printed single document, a top-level array (each element is a frame), and a
//! container object whose array under one of the [`ContainerKey`]s is streamed element by
//! element (a table object of `tables` is one frame). Other keys of a container object
//! (`@odata.context`, `@odata.nextLink`, `NextToken`, ...) may come before or after the array
//! and are skipped without buffering. A UTF-8 byte-order mark at the start and `//` line
//! comments between top-level values (JSONC documentation samples) are tolerated.
//!
//! Errors never end the stream, except a read error (reported once, after every frame before
//! it) and an unexpected end of input. A syntax error resynchronises at the next line whose
//! first non-blank byte is `{` or `[` in column 0 (or at the broken element's own
//! indentation inside a pretty-printed array), so a broken pretty-printed object yields one
//! rejection and a broken NDJSON line only that line. A record larger than the limit is
//! skipped without being buffered.

mod scan;
#[cfg(test)]
mod tests;

use std::io::{self, BufRead};

use scan::{describe, Acc, Reader, Stop};

/// Default bound on one record's size.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 4 << 20;

/// Bound on one Log Analytics query-API table (a `tables` element is one frame holding many
/// rows); the query API caps a response at 64 MiB.
pub const MAX_TABLE_BYTES: usize = 64 << 20;

/// A key of a top-level container object whose array value holds the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKey {
    /// `Records`: a CloudTrail trail file.
    Records,
    /// `records`: an Azure diagnostic-settings archive blob or Event Hub message.
    AzureRecords,
    /// `value`: a Microsoft Graph page.
    Value,
    /// `Events`: a CloudTrail `LookupEvents` response.
    Events,
    /// `tables`: a Log Analytics query-API response; each table object is one frame.
    Tables,
}

impl ContainerKey {
    /// Every container key.
    pub const ALL: [ContainerKey; 5] = [
        ContainerKey::Records,
        ContainerKey::AzureRecords,
        ContainerKey::Value,
        ContainerKey::Events,
        ContainerKey::Tables,
    ];

    /// The key as it appears in the JSON.
    pub fn key(self) -> &'static str {
        match self {
            ContainerKey::Records => "Records",
            ContainerKey::AzureRecords => "records",
            ContainerKey::Value => "value",
            ContainerKey::Events => "Events",
            ContainerKey::Tables => "tables",
        }
    }

    /// The container key for a key as scanned, including its quotes (`"Records"`).
    fn from_quoted(quoted: &[u8]) -> Option<ContainerKey> {
        let inner = quoted.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        ContainerKey::ALL
            .into_iter()
            .find(|k| k.key().as_bytes() == inner)
    }
}

/// Where a record was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// A top-level value: an NDJSON line or a whole single document.
    TopLevel,
    /// An element of a top-level JSON array.
    ArrayElement,
    /// An element of the array under a container key of a top-level object.
    Key(ContainerKey),
}

/// One record's text and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// 1-based line where the record starts.
    pub line: u64,
    /// Where the record was.
    pub container: Container,
    /// The record's JSON text, exactly as in the input (no surrounding blanks).
    pub text: String,
}

/// A record that could not be framed. Every variant but [`FrameError::Io`] lets the stream
/// go on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The record is not valid UTF-8; it is skipped.
    #[error("line {line}: record is not valid UTF-8 (at byte {offset} of the record)")]
    Utf8 { line: u64, offset: usize },
    /// The record is larger than the limit; it was skipped without being buffered.
    #[error("line {line}: record of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge { line: u64, size: u64, limit: usize },
    /// The bytes are not JSON; framing resumes at the next plausible record start.
    #[error("line {line}: syntax error: {message}")]
    Syntax { line: u64, message: String },
    /// The reader failed (e.g. a truncated gzip stream); the stream ends here.
    #[error("line {line}: read error: {source}")]
    Io {
        line: u64,
        #[source]
        source: io::Error,
    },
}

impl FrameError {
    /// The 1-based line the error is about (where the record started, where possible).
    pub fn line(&self) -> u64 {
        match self {
            FrameError::Utf8 { line, .. }
            | FrameError::TooLarge { line, .. }
            | FrameError::Syntax { line, .. }
            | FrameError::Io { line, .. } => *line,
        }
    }
}

/// Where the scanner is between records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level values.
    Top,
    /// Inside an array whose elements are frames. `in_object` when the array is the value of
    /// a container key (the object's remaining members follow it).
    Array {
        container: Container,
        opened: u64,
        in_object: bool,
    },
    /// Inside a container object after its array: skipping the remaining members.
    ObjectRest { opened: u64 },
}

/// What a step of the state machine produced.
enum Step {
    Frame(Result<Frame, FrameError>),
    Again,
    End,
}

/// A failed step: what stopped it, the line to report, and where to resume.
struct Fail {
    stop: Stop,
    line: u64,
    resync_col: u64,
    resync_state: State,
}

/// Splits a byte stream into [`Frame`]s; see the module documentation.
pub struct Framer<R> {
    rd: Reader<R>,
    acc: Acc,
    key: Vec<u8>,
    max: usize,
    state: State,
    resync: Option<(u64, State)>,
    /// Whether every record so far fitted on one line (`None` before the first).
    single_line: Option<bool>,
    bom_checked: bool,
    finished: bool,
}

impl<R: BufRead> Framer<R> {
    /// A framer that rejects (and skips without buffering) records larger than
    /// `max_record_bytes` (usually [`DEFAULT_MAX_RECORD_BYTES`]). Tables of a query-API
    /// response may be up to [`MAX_TABLE_BYTES`] (or `max_record_bytes` if larger).
    pub fn new(reader: R, max_record_bytes: usize) -> Self {
        Framer {
            rd: Reader::new(reader),
            acc: Acc::default(),
            key: Vec::with_capacity(scan::KEY_MAX),
            max: max_record_bytes.max(1),
            state: State::Top,
            resync: None,
            single_line: None,
            bom_checked: false,
            finished: false,
        }
    }

    /// The 1-based line of the next unread byte.
    pub fn line(&self) -> u64 {
        self.rd.line
    }

    /// Bytes consumed so far (of the decoded stream).
    pub fn offset(&self) -> u64 {
        self.rd.pos
    }

    /// True when the single-line heuristic applies: every record so far fitted on its line.
    fn guard(&self) -> bool {
        self.single_line == Some(true)
    }

    fn fail(&self, stop: Stop, line: u64, resync_col: u64, resync_state: State) -> Fail {
        Fail {
            stop,
            line,
            resync_col,
            resync_state,
        }
    }

    /// Turns the accumulated bytes into a frame (or the record's error).
    fn finish(&mut self, container: Container, line: u64) -> Step {
        let single = line == self.rd.line;
        self.single_line = Some(self.single_line.unwrap_or(true) && single);
        if self.acc.over {
            return Step::Frame(Err(FrameError::TooLarge {
                line,
                size: self.acc.size,
                limit: self.acc.limit,
            }));
        }
        let bytes = std::mem::take(&mut self.acc.buf);
        Step::Frame(match String::from_utf8(bytes) {
            Ok(text) => Ok(Frame {
                line,
                container,
                text,
            }),
            Err(e) => Err(FrameError::Utf8 {
                line,
                offset: e.utf8_error().valid_up_to(),
            }),
        })
    }

    fn step_top(&mut self) -> Result<Step, Fail> {
        let at = |s: &Self, stop| s.fail(stop, s.rd.line, 0, State::Top);
        if !self.bom_checked {
            self.bom_checked = true;
            self.rd.skip_bom().map_err(|e| at(self, e))?;
        }
        let b = self.rd.skip_blank(None, true).map_err(|e| at(self, e))?;
        match b {
            None => Ok(Step::End),
            Some(b'[') => {
                let opened = self.rd.line;
                self.rd.bump(b'[', None);
                self.state = State::Array {
                    container: Container::ArrayElement,
                    opened,
                    in_object: false,
                };
                Ok(Step::Again)
            }
            Some(b'{') => self.top_object(),
            other => Err(at(
                self,
                Stop::Syntax(format!(
                    "expected '{{' or '[' to start a record but found {}",
                    describe(other)
                )),
            )),
        }
    }

    /// A top-level object: buffered member by member until either it ends (one frame) or a
    /// container key with an array value turns up (the prefix is dropped and the array's
    /// elements are streamed).
    fn top_object(&mut self) -> Result<Step, Fail> {
        let start = self.rd.line;
        let at = |s: &Self, stop| s.fail(stop, start, 0, State::Top);
        self.acc.start(self.max);
        self.rd.bump(b'{', Some(&mut self.acc));
        loop {
            let b = self
                .rd
                .skip_blank(Some(&mut self.acc), false)
                .map_err(|e| at(self, e))?;
            match b {
                None => return Err(at(self, Stop::Eof)),
                Some(b'}') => {
                    self.rd.bump(b'}', Some(&mut self.acc));
                    return Ok(self.finish(Container::TopLevel, start));
                }
                Some(b',') => self.rd.bump(b',', Some(&mut self.acc)),
                Some(b'"') => {
                    self.key.clear();
                    let guard = self.guard();
                    self.rd
                        .scan_value(Some(&mut self.acc), Some(&mut self.key), guard)
                        .map_err(|e| at(self, e))?;
                    self.colon(true).map_err(|e| at(self, e))?;
                    let b = self
                        .rd
                        .skip_blank(Some(&mut self.acc), false)
                        .map_err(|e| at(self, e))?;
                    if b == Some(b'[') {
                        if let Some(key) = ContainerKey::from_quoted(&self.key) {
                            self.acc.start(self.max);
                            let opened = self.rd.line;
                            self.rd.bump(b'[', None);
                            self.state = State::Array {
                                container: Container::Key(key),
                                opened,
                                in_object: true,
                            };
                            return Ok(Step::Again);
                        }
                    }
                    if b.is_none() {
                        return Err(at(self, Stop::Eof));
                    }
                    if self.guard() && self.rd.at_line_start() && matches!(b, Some(b'{' | b'[')) {
                        return Err(at(self, cut_off()));
                    }
                    self.rd
                        .scan_value(Some(&mut self.acc), None, guard)
                        .map_err(|e| at(self, e))?;
                }
                other => {
                    return Err(at(
                        self,
                        Stop::Syntax(format!(
                            "expected a key or '}}' in the object but found {}",
                            describe(other)
                        )),
                    ))
                }
            }
        }
    }

    /// Expects `:` after a key (copied, with the blanks before it, to the record when `keep`).
    fn colon(&mut self, keep: bool) -> Result<(), Stop> {
        let b = if keep {
            self.rd.skip_blank(Some(&mut self.acc), false)?
        } else {
            self.rd.skip_blank(None, false)?
        };
        match b {
            Some(b':') if keep => {
                self.rd.bump(b':', Some(&mut self.acc));
                Ok(())
            }
            Some(b':') => {
                self.rd.bump(b':', None);
                Ok(())
            }
            None => Err(Stop::Eof),
            other => Err(Stop::Syntax(format!(
                "expected ':' after a key but found {}",
                describe(other)
            ))),
        }
    }

    fn step_array(
        &mut self,
        container: Container,
        opened: u64,
        in_object: bool,
    ) -> Result<Step, Fail> {
        let here = self.state;
        let b = self
            .rd
            .skip_blank(None, true)
            .map_err(|e| self.fail(e, self.rd.line, self.rd.col(), here))?;
        match b {
            None => {
                self.finished = true;
                Err(self.fail(
                    Stop::Syntax(format!(
                        "unexpected end of input: the array opened at line {opened} is not closed"
                    )),
                    self.rd.line,
                    0,
                    State::Top,
                ))
            }
            Some(b']') => {
                self.rd.bump(b']', None);
                self.state = if in_object {
                    State::ObjectRest { opened }
                } else {
                    State::Top
                };
                Ok(Step::Again)
            }
            Some(b',') => {
                self.rd.bump(b',', None);
                Ok(Step::Again)
            }
            Some(b'}') => Err(self.fail(
                Stop::Syntax("unexpected '}' in an array".into()),
                self.rd.line,
                self.rd.col(),
                here,
            )),
            Some(_) => {
                let line = self.rd.line;
                let col = self.rd.col();
                let limit = match container {
                    Container::Key(ContainerKey::Tables) => self.max.max(MAX_TABLE_BYTES),
                    _ => self.max,
                };
                self.acc.start(limit);
                let guard = self.guard();
                self.rd
                    .scan_value(Some(&mut self.acc), None, guard)
                    .map_err(|e| self.fail(e, line, col, here))?;
                Ok(self.finish(container, line))
            }
        }
    }

    /// The members of a container object after its array: skipped unbuffered, except that
    /// another container key with an array value is streamed too.
    fn step_rest(&mut self, opened: u64) -> Result<Step, Fail> {
        let at = |s: &Self, stop| s.fail(stop, s.rd.line, 0, State::Top);
        let b = self.rd.skip_blank(None, true).map_err(|e| at(self, e))?;
        match b {
            None => {
                self.finished = true;
                Err(at(
                    self,
                    Stop::Syntax(format!(
                        "unexpected end of input: the object opened at line {opened} is not closed"
                    )),
                ))
            }
            Some(b'}') => {
                self.rd.bump(b'}', None);
                self.state = State::Top;
                Ok(Step::Again)
            }
            Some(b',') => {
                self.rd.bump(b',', None);
                Ok(Step::Again)
            }
            Some(b'"') => {
                self.key.clear();
                self.rd
                    .scan_value(None, Some(&mut self.key), false)
                    .map_err(|e| at(self, e))?;
                self.colon(false).map_err(|e| at(self, e))?;
                let b = self.rd.skip_blank(None, false).map_err(|e| at(self, e))?;
                if b == Some(b'[') {
                    if let Some(key) = ContainerKey::from_quoted(&self.key) {
                        let opened = self.rd.line;
                        self.rd.bump(b'[', None);
                        self.state = State::Array {
                            container: Container::Key(key),
                            opened,
                            in_object: true,
                        };
                        return Ok(Step::Again);
                    }
                }
                self.rd
                    .scan_value(None, None, false)
                    .map_err(|e| at(self, e))?;
                Ok(Step::Again)
            }
            other => Err(at(
                self,
                Stop::Syntax(format!(
                    "expected a key or '}}' in the object but found {}",
                    describe(other)
                )),
            )),
        }
    }

    /// Reports a failed step; schedules resynchronisation after a syntax error.
    fn report(&mut self, fail: Fail) -> FrameError {
        match fail.stop {
            Stop::Io(source) => {
                self.finished = true;
                FrameError::Io {
                    line: self.rd.line,
                    source,
                }
            }
            Stop::Eof => {
                self.finished = true;
                FrameError::Syntax {
                    line: fail.line,
                    message: "unexpected end of input inside the record that starts here".into(),
                }
            }
            Stop::Syntax(message) => {
                if !self.finished {
                    self.resync = Some((fail.resync_col, fail.resync_state));
                }
                let message = if self.rd.line != fail.line {
                    format!("{message} (detected at line {})", self.rd.line)
                } else {
                    message
                };
                FrameError::Syntax {
                    line: fail.line,
                    message,
                }
            }
        }
    }
}

fn cut_off() -> Stop {
    Stop::Syntax("record is incomplete: a new record starts in column 0 of the next line".into())
}

impl<R: BufRead> Iterator for Framer<R> {
    type Item = Result<Frame, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        if let Some((col, state)) = self.resync.take() {
            match self.rd.resync(col) {
                Ok(Some(found)) => {
                    self.state = if found == col { state } else { State::Top };
                }
                Ok(None) => {
                    self.finished = true;
                    return None;
                }
                Err(stop) => {
                    let fail = self.fail(stop, self.rd.line, 0, State::Top);
                    self.finished = true;
                    return Some(Err(self.report(fail)));
                }
            }
        }
        loop {
            let step = match self.state {
                State::Top => self.step_top(),
                State::Array {
                    container,
                    opened,
                    in_object,
                } => self.step_array(container, opened, in_object),
                State::ObjectRest { opened } => self.step_rest(opened),
            };
            match step {
                Ok(Step::Frame(item)) => return Some(item),
                Ok(Step::Again) => continue,
                Ok(Step::End) => {
                    self.finished = true;
                    return None;
                }
                Err(fail) => return Some(Err(self.report(fail))),
            }
        }
    }
}
