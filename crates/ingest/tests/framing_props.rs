//! Property tests of framing and dispatch: arbitrary bytes never panic; generated records
//! round-trip through every container layout with correct lines; and chunk boundaries never
//! change the frames.

use std::io::{BufReader, Cursor, Read};

use proptest::prelude::*;
use serde_json::{Map, Value};
use skein_ingest::framing::{Container, ContainerKey, Framer, DEFAULT_MAX_RECORD_BYTES};
use skein_ingest::{parse_frame, Item};

/// A reader that returns its data in the given chunk sizes (cycling).
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()].max(1);
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Frames as comparable values: (line, container, text) or (line, error text).
type Got = Result<(u64, Container, String), (u64, String)>;

fn frames<R: std::io::BufRead>(framer: Framer<R>) -> Vec<Got> {
    framer
        .map(|r| {
            r.map(|f| (f.line, f.container, f.text))
                .map_err(|e| (e.line(), e.to_string()))
        })
        .collect()
}

fn frames_chunked(data: &[u8], sizes: Vec<usize>, max: usize) -> Vec<Got> {
    let reader = Chunked {
        data: data.to_vec(),
        pos: 0,
        sizes,
        next: 0,
    };
    frames(Framer::new(BufReader::with_capacity(5, reader), max))
}

/// Frames and parses everything, as the CLI does; must never panic.
fn frame_and_parse(data: &[u8], max: usize) -> usize {
    let mut out: Vec<Item> = Vec::new();
    let mut n = 0;
    for frame in Framer::new(Cursor::new(data), max).flatten() {
        parse_frame(&frame, None, &mut out);
        n += 1;
    }
    n
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9{}\\[\\]\",:\\\\/ \n\té😀]{0,12}".prop_map(Value::String),
    ]
}

/// Keys start with `k`, so no generated record has a container key of its own.
fn key() -> impl Strategy<Value = String> {
    "k[a-z{}\\[\\]\" ]{0,6}"
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn record() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

/// The layouts a file may have.
#[derive(Debug, Clone, Copy)]
enum Layout {
    Ndjson,
    Concatenated,
    Array,
    ContainerObject(ContainerKey),
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Ndjson),
        Just(Layout::Concatenated),
        Just(Layout::Array),
        prop::sample::select(ContainerKey::ALL.to_vec()).prop_map(Layout::ContainerObject),
    ]
}

/// Writes `records` in `layout`; returns the text and each record's expected frame.
fn render(
    records: &[Value],
    layout: Layout,
    pretty: bool,
    crlf: bool,
) -> (String, Vec<(u64, Container, Value)>) {
    let nl = if crlf { "\r\n" } else { "\n" };
    let show = |v: &Value| {
        let s = if pretty {
            serde_json::to_string_pretty(v).unwrap()
        } else {
            serde_json::to_string(v).unwrap()
        };
        s.replace('\n', nl)
    };
    let mut text = String::new();
    let mut want = Vec::new();
    let line_of = |t: &str| t.matches('\n').count() as u64 + 1;
    match layout {
        Layout::Ndjson => {
            for r in records {
                want.push((line_of(&text), Container::TopLevel, r.clone()));
                text.push_str(&serde_json::to_string(r).unwrap());
                text.push_str(nl);
            }
        }
        Layout::Concatenated => {
            text.push_str("// a comment line");
            text.push_str(nl);
            for r in records {
                want.push((line_of(&text), Container::TopLevel, r.clone()));
                text.push_str(&show(r));
                text.push_str(nl);
            }
        }
        Layout::Array | Layout::ContainerObject(_) => {
            let container = match layout {
                Layout::ContainerObject(key) => {
                    text.push_str(&format!(
                        "{{\"@odata.context\": \"x[{{\",{nl} \"skip\": {{\"a\": [1, {{}}]}},{nl} \"{}\": [",
                        key.key()
                    ));
                    Container::Key(key)
                }
                _ => {
                    text.push('[');
                    Container::ArrayElement
                }
            };
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(nl);
                text.push_str("  ");
                want.push((line_of(&text), container, r.clone()));
                text.push_str(&show(r));
            }
            text.push_str(nl);
            text.push(']');
            if matches!(layout, Layout::ContainerObject(_)) {
                text.push_str(&format!(",{nl} \"NextToken\": \"]}}\"{nl}}}"));
            }
            text.push_str(nl);
        }
    }
    (text, want)
}

proptest! {
    // 256 cases each by default; set PROPTEST_CASES for a longer run.

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048), max in 1usize..512) {
        frame_and_parse(&data, max);
        frame_and_parse(&data, 1 << 20);
    }

    #[test]
    fn json_like_bytes_never_panic(
        data in prop::collection::vec(prop::sample::select(b"{}[]\",:\\/\n\r \tak0\xff".to_vec()), 0..1024),
        sizes in prop::collection::vec(1usize..9, 1..6),
    ) {
        frame_and_parse(&data, 64);
        frame_and_parse(&data, 1 << 20);
        // Chunking never changes the outcome, even for garbage.
        prop_assert_eq!(
            frames_chunked(&data, sizes, 64),
            frames(Framer::new(Cursor::new(&data), 64))
        );
    }

    #[test]
    fn records_round_trip_in_every_layout(
        records in prop::collection::vec(record(), 0..8),
        layout in layout(),
        pretty in any::<bool>(),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let (mut text, want) = render(&records, layout, pretty, crlf);
        if bom {
            text.insert(0, '\u{feff}');
        }
        let got = frames(Framer::new(Cursor::new(text.as_bytes()), DEFAULT_MAX_RECORD_BYTES));
        prop_assert_eq!(got.len(), want.len(), "{}", text);
        for (g, (line, container, value)) in got.iter().zip(&want) {
            let (gl, gc, gt) = g.as_ref().map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
            prop_assert_eq!(gl, line, "{}", text);
            prop_assert_eq!(gc, container);
            let parsed: Value = serde_json::from_str(gt).unwrap();
            prop_assert_eq!(&parsed, value);
        }
    }

    #[test]
    fn chunk_sizes_do_not_change_frames(
        records in prop::collection::vec(record(), 0..6),
        layout in layout(),
        pretty in any::<bool>(),
        sizes in prop::collection::vec(1usize..64, 1..8),
    ) {
        let (text, _) = render(&records, layout, pretty, false);
        prop_assert_eq!(
            frames_chunked(text.as_bytes(), sizes, 1 << 20),
            frames(Framer::new(Cursor::new(text.as_bytes()), DEFAULT_MAX_RECORD_BYTES))
        );
    }
}
