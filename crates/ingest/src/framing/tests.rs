//! Unit tests of the framer: every layout, the error paths, and buffer boundaries (every
//! input is also framed through a reader that returns 1–7 bytes per read).

use super::*;
use std::io::{BufReader, Cursor, Read, Write};

/// A reader that returns at most a few bytes per read (cycling through 1..=7).
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = self.step % 7 + 1;
        let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A frame or an error, simplified for comparison.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    F(u64, Container, String),
    E(u64, String),
}

fn collect<R: BufRead>(framer: Framer<R>) -> Vec<Got> {
    framer
        .map(|r| match r {
            Ok(f) => Got::F(f.line, f.container, f.text),
            Err(e) => Got::E(e.line(), kind(&e).to_string()),
        })
        .collect()
}

fn kind(e: &FrameError) -> &'static str {
    match e {
        FrameError::Utf8 { .. } => "utf8",
        FrameError::TooLarge { .. } => "too large",
        FrameError::Syntax { .. } => "syntax",
        FrameError::Io { .. } => "io",
    }
}

/// Frames `input` with a normal reader and with a trickling one; both must agree.
fn frame_with(input: &[u8], max: usize) -> Vec<Got> {
    let whole = collect(Framer::new(Cursor::new(input), max));
    let trickle = Trickle {
        data: input.to_vec(),
        pos: 0,
        step: 0,
    };
    let small = collect(Framer::new(BufReader::with_capacity(3, trickle), max));
    assert_eq!(whole, small, "chunking changed the frames");
    whole
}

fn frame(input: &str) -> Vec<Got> {
    frame_with(input.as_bytes(), DEFAULT_MAX_RECORD_BYTES)
}

fn f(line: u64, container: Container, text: &str) -> Got {
    Got::F(line, container, text.to_string())
}

use Container::{ArrayElement, TopLevel};

#[test]
fn ndjson_with_crlf_and_blank_lines() {
    let got = frame("{\"a\":1}\r\n\r\n{\"b\":[2,3]}\r\n  {\"c\":\"d\"}");
    assert_eq!(
        got,
        [
            f(1, TopLevel, "{\"a\":1}"),
            f(3, TopLevel, "{\"b\":[2,3]}"),
            f(4, TopLevel, "{\"c\":\"d\"}"),
        ]
    );
}

#[test]
fn empty_and_blank_inputs_have_no_frames() {
    assert_eq!(frame(""), []);
    assert_eq!(frame(" \n\r\n\t"), []);
    assert_eq!(frame("\u{feff}"), []);
    assert_eq!(frame("// only a comment\n"), []);
}

#[test]
fn byte_order_mark_is_skipped() {
    assert_eq!(
        frame("\u{feff}{\"a\":1}\n{\"b\":2}"),
        [f(1, TopLevel, "{\"a\":1}"), f(2, TopLevel, "{\"b\":2}")]
    );
    assert_eq!(frame("\u{feff}[1]"), [f(1, ArrayElement, "1")]);
}

#[test]
fn every_container_key_streams_its_elements() {
    for key in ContainerKey::ALL {
        let doc = format!(
            "{{\"@odata.context\":\"x\",\"{}\":[{{\"n\":1}},{{\"n\":[2]}}],\"NextToken\":\"t\"}}",
            key.key()
        );
        assert_eq!(
            frame(&doc),
            [
                f(1, Container::Key(key), "{\"n\":1}"),
                f(1, Container::Key(key), "{\"n\":[2]}"),
            ],
            "{doc}"
        );
    }
}

#[test]
fn pretty_graph_page_with_keys_before_and_after() {
    let doc = r#"{
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns",
    "@odata.nextLink": "https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=[{x}]",
    "value": [
        {
            "id": "1",
            "status": {"errorCode": 0}
        },
        {
            "id": "2"
        }
    ],
    "@odata.count": {"nested": [1, 2, {"deep": "]"}]}
}
{"Records": []}
{"Events": [{"EventId": "e"}], "NextToken": "abc"}
"#;
    let v = Container::Key(ContainerKey::Value);
    let e = Container::Key(ContainerKey::Events);
    assert_eq!(
        frame(doc),
        [
            f(
                5,
                v,
                "{\n            \"id\": \"1\",\n            \"status\": {\"errorCode\": 0}\n        }"
            ),
            f(9, v, "{\n            \"id\": \"2\"\n        }"),
            f(16, e, "{\"EventId\": \"e\"}"),
        ]
    );
}

#[test]
fn top_level_array_pretty_printed_with_scalars() {
    let doc = "[\n  {\"a\": 1},\n  2,\n  \"s,]\",\n  [3, {\"b\": null}],\n  true\n]\n";
    assert_eq!(
        frame(doc),
        [
            f(2, ArrayElement, "{\"a\": 1}"),
            f(3, ArrayElement, "2"),
            f(4, ArrayElement, "\"s,]\""),
            f(5, ArrayElement, "[3, {\"b\": null}]"),
            f(6, ArrayElement, "true"),
        ]
    );
}

#[test]
fn single_pretty_document_without_container_is_one_frame() {
    let doc = "{\n  \"value\": \"not an array\",\n  \"records\": {\"x\": [1]},\n  \"k\": [\"Records\"]\n}\n";
    assert_eq!(frame(doc), [f(1, TopLevel, doc.trim_end())]);
}

#[test]
fn strings_with_brackets_escapes_and_unicode() {
    let rec = r#"{"a":"x]}\"{[","b":[[1,{"c":"\\"}]],"d":"\\\"}","e":"héllo 😀 \u0041"}"#;
    let doc = format!("{rec}\n{rec}\n");
    assert_eq!(frame(&doc), [f(1, TopLevel, rec), f(2, TopLevel, rec)]);
}

#[test]
fn concatenated_values_on_one_line() {
    assert_eq!(
        frame("{\"a\":1}{\"b\":2} [{\"c\":3}]"),
        [
            f(1, TopLevel, "{\"a\":1}"),
            f(1, TopLevel, "{\"b\":2}"),
            f(1, ArrayElement, "{\"c\":3}"),
        ]
    );
}

#[test]
fn ndjson_of_container_objects() {
    let doc = "{\"records\":[{\"a\":1},{\"a\":2}]}\n{\"records\":[{\"a\":3}]}\n";
    let r = Container::Key(ContainerKey::AzureRecords);
    assert_eq!(
        frame(doc),
        [
            f(1, r, "{\"a\":1}"),
            f(1, r, "{\"a\":2}"),
            f(2, r, "{\"a\":3}"),
        ]
    );
}

#[test]
fn comments_between_values_but_not_in_strings() {
    let doc = "// header\n// more\n{\n  \"uri\": \"http://x//y\"\n}\n// between\n[{\"a\":1}, // after an element\n {\"b\":2}]\n";
    assert_eq!(
        frame(doc),
        [
            f(3, TopLevel, "{\n  \"uri\": \"http://x//y\"\n}"),
            f(7, ArrayElement, "{\"a\":1}"),
            f(8, ArrayElement, "{\"b\":2}"),
        ]
    );
}

#[test]
fn broken_pretty_object_is_one_rejection() {
    let doc = "{\n  \"a\": \"unterminated,\n  \"b\": 1\n}\n{\n  \"ok\": 1\n}\n";
    assert_eq!(
        frame(doc),
        [
            Got::E(1, "syntax".into()),
            f(5, TopLevel, "{\n  \"ok\": 1\n}"),
        ]
    );
    let doc = "{\n  \"a\" 1,\n  \"b\": {\"x\": [1, 2]},\n  \"c\": \"}\"\n}\n{\"ok\": 2}\n";
    assert_eq!(
        frame(doc),
        [Got::E(1, "syntax".into()), f(6, TopLevel, "{\"ok\": 2}")]
    );
}

#[test]
fn broken_ndjson_lines_are_rejected_alone() {
    let doc = "{\"a\":1}\n{\"b\":\"cut\n{\"c\":{\"d\":\n{\"e\":3}\nnot json at all\n{\"g\":7} trailing\n{\"h\":8}\n{\"f\":[1,\n]}\n";
    assert_eq!(
        frame(doc),
        [
            f(1, TopLevel, "{\"a\":1}"),
            Got::E(2, "syntax".into()),
            Got::E(3, "syntax".into()),
            f(4, TopLevel, "{\"e\":3}"),
            Got::E(5, "syntax".into()),
            f(6, TopLevel, "{\"g\":7}"),
            Got::E(6, "syntax".into()),
            f(7, TopLevel, "{\"h\":8}"),
            // Complete as far as framing goes (the trailing comma is detect's to report).
            f(8, TopLevel, "{\"f\":[1,\n]}"),
        ]
    );
}

#[test]
fn truncated_line_before_an_object_value() {
    // A line cut after a key's colon: the next line's object is not swallowed.
    let doc = "{\"a\":1}\n{\"b\":\n{\"c\":2}\n";
    assert_eq!(
        frame(doc),
        [
            f(1, TopLevel, "{\"a\":1}"),
            Got::E(2, "syntax".into()),
            f(3, TopLevel, "{\"c\":2}"),
        ]
    );
}

#[test]
fn broken_element_of_pretty_array_resyncs_at_its_indentation() {
    let doc = "{\"Records\": [\n    {\"a\": \"x\"},\n    {\"a\": \"cut\n    },\n    {\"a\": \"y\"}\n]}\n{\"z\": 1}\n";
    let r = Container::Key(ContainerKey::Records);
    assert_eq!(
        frame(doc),
        [
            f(2, r, "{\"a\": \"x\"}"),
            Got::E(3, "syntax".into()),
            f(5, r, "{\"a\": \"y\"}"),
            f(7, TopLevel, "{\"z\": 1}"),
        ]
    );
}

#[test]
fn ten_megabyte_line_is_skipped_not_loaded() {
    let mut doc = b"{\"a\":1}\n{\"big\":\"".to_vec();
    doc.extend(std::iter::repeat_n(b'x', 10 << 20));
    doc.extend(b"\",\"k\":[1,2]}\n{\"b\":2}\n");
    let mut framer = Framer::new(Cursor::new(&doc), DEFAULT_MAX_RECORD_BYTES);
    assert_eq!(framer.next().unwrap().unwrap().line, 1);
    let err = framer.next().unwrap().unwrap_err();
    assert!(
        matches!(err, FrameError::TooLarge { line: 2, size, limit } if size > 10 << 20 && limit == DEFAULT_MAX_RECORD_BYTES),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("line 2:"), "{err}");
    // The skipped record was never held.
    assert!(framer.acc.buf.capacity() <= 2 * DEFAULT_MAX_RECORD_BYTES);
    let next = framer.next().unwrap().unwrap();
    assert_eq!((next.line, next.text.as_str()), (3, "{\"b\":2}"));
    assert!(framer.next().is_none());
}

#[test]
fn oversized_elements_and_prefixes() {
    let big = "y".repeat(100);
    let doc = format!("[{{\"a\":1}},{{\"b\":\"{big}\"}},{{\"c\":3}}]\n{{\"pad\":\"{big}\",\"Records\":[{{\"d\":4}}]}}\n{{\"pad\":\"{big}\"}}\n");
    let r = Container::Key(ContainerKey::Records);
    assert_eq!(
        frame_with(doc.as_bytes(), 64),
        [
            f(1, ArrayElement, "{\"a\":1}"),
            Got::E(1, "too large".into()),
            f(1, ArrayElement, "{\"c\":3}"),
            f(2, r, "{\"d\":4}"),
            Got::E(3, "too large".into()),
        ]
    );
}

#[test]
fn tables_may_exceed_the_record_limit() {
    let rows = "[1,\"x\"],".repeat(40);
    let table = format!(
        "{{\"name\":\"t\",\"columns\":[],\"rows\":[{}[2,\"y\"]]}}",
        rows
    );
    let doc = format!("{{\"tables\":[{table}]}}");
    assert_eq!(
        frame_with(doc.as_bytes(), 64),
        [f(1, Container::Key(ContainerKey::Tables), &table)]
    );
}

#[test]
fn invalid_utf8_rejects_only_that_record() {
    let doc = b"{\"a\":\"\xff\xfe\"}\n{\"b\":\"ok\"}\n[{\"c\":\"\xc3\"}, {\"d\":1}]";
    assert_eq!(
        frame_with(doc, DEFAULT_MAX_RECORD_BYTES),
        [
            Got::E(1, "utf8".into()),
            f(2, TopLevel, "{\"b\":\"ok\"}"),
            Got::E(3, "utf8".into()),
            f(3, ArrayElement, "{\"d\":1}"),
        ]
    );
}

#[test]
fn end_of_input_inside_records_and_arrays() {
    assert_eq!(
        frame("{\"a\":1}\n{\"b\":[1,2"),
        [f(1, TopLevel, "{\"a\":1}"), Got::E(2, "syntax".into())]
    );
    assert_eq!(
        frame("{\"Records\":[{\"a\":1},\n{\"b\":2}"),
        [
            f(1, Container::Key(ContainerKey::Records), "{\"a\":1}"),
            f(2, Container::Key(ContainerKey::Records), "{\"b\":2}"),
            Got::E(2, "syntax".into()),
        ]
    );
    assert_eq!(
        frame("[1, 2"),
        [
            f(1, ArrayElement, "1"),
            f(1, ArrayElement, "2"),
            Got::E(1, "syntax".into())
        ]
    );
}

#[test]
fn stray_characters_at_top_level() {
    assert_eq!(
        frame("}\n]\n\"s\"\n42\n/x\n{\"a\":1}"),
        [Got::E(1, "syntax".into()), f(6, TopLevel, "{\"a\":1}")]
    );
}

/// A reader that yields its data, then fails.
struct FailAfter(Cursor<Vec<u8>>);

impl Read for FailAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(std::io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[test]
fn read_error_ends_the_stream_after_every_complete_frame() {
    let data = b"{\"a\":1}\n{\"b\":2}\n{\"c\":".to_vec();
    let framer = Framer::new(
        BufReader::with_capacity(4, FailAfter(Cursor::new(data))),
        DEFAULT_MAX_RECORD_BYTES,
    );
    let got: Vec<_> = framer.collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].as_ref().unwrap().text, "{\"a\":1}");
    assert_eq!(got[1].as_ref().unwrap().text, "{\"b\":2}");
    let err = got[2].as_ref().unwrap_err();
    assert!(matches!(err, FrameError::Io { line: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("line 3") && err.to_string().contains("disk on fire"));
}

#[test]
fn truncated_gzip_file_reports_unexpected_eof_once() {
    let mut body = String::new();
    for i in 0..5000 {
        body.push_str(&format!(
            "{{\"eventID\":\"{i}\",\"eventTime\":\"2024-01-01T00:00:00Z\",\"n\":{}}}\n",
            i * 7919 % 10007
        ));
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trail.log"); // the name says nothing about gzip
    std::fs::write(&path, &gz[..gz.len() * 2 / 3]).unwrap();
    let spec = crate::input::InputSpec::file(&path);
    let items: Vec<_> = Framer::new(
        crate::input::open(&spec, Default::default()).unwrap(),
        DEFAULT_MAX_RECORD_BYTES,
    )
    .collect();
    let (last, frames) = items.split_last().unwrap();
    assert!(frames.len() > 100, "only {} frames", frames.len());
    for (i, fr) in frames.iter().enumerate() {
        let fr = fr.as_ref().unwrap();
        assert_eq!(fr.line, i as u64 + 1);
        assert!(fr.text.starts_with(&format!("{{\"eventID\":\"{i}\"")));
    }
    match last {
        Err(FrameError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::UnexpectedEof)
        }
        other => panic!("expected an IO error, got {other:?}"),
    }
}

#[test]
fn errors_name_their_line() {
    let errs: Vec<String> = Framer::new(
        Cursor::new("{\"a\":1}\n\n{\"b\" 2}\n"),
        DEFAULT_MAX_RECORD_BYTES,
    )
    .filter_map(Result::err)
    .map(|e| e.to_string())
    .collect();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("line 3: syntax error"), "{}", errs[0]);
}
