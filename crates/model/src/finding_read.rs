//! Reading findings back from their stored JSON, fast when it is exactly what
//! [`Finding::write_json`] writes, through serde_json otherwise.
//!
//! A sweep reads the findings of every case it rebuilds (~15k after a dense week, most of
//! them in two long cases), and serde_json spent ~30k instructions on each. Stored JSON has
//! one layout: the fields in order, no spaces, and nearly always strings without escapes.
//! The fast path reads that layout directly and gives up (returns `None`) at the first byte
//! that differs from it, or at any string with an escape or a control character; serde_json
//! then reads the whole value, so an error is always serde_json's and anything the fast
//! path accepts is what serde_json gives for it (the property tests below check both, on
//! written findings and on damaged ones). The free-form `fields` object is read by
//! serde_json in both cases.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::{EntityRole, EntityType, Finding, FindingEntity, Severity};

impl Finding {
    /// A finding from its JSON (as stored): what `serde_json::from_slice` gives, faster
    /// on what [`Finding::write_json`] wrote.
    pub fn from_json(bytes: &[u8]) -> serde_json::Result<Finding> {
        let mut at = Layout { bytes, at: 0 };
        match at.finding() {
            Some(f) if at.at == bytes.len() => Ok(f),
            _ => serde_json::from_slice(bytes),
        }
    }

    /// A JSON array of findings (a case's stored findings): what `serde_json::from_slice`
    /// gives, faster on what [`Finding::write_json`] wrote.
    pub fn list_from_json(bytes: &[u8]) -> serde_json::Result<Vec<Finding>> {
        match (Layout { bytes, at: 0 }).findings() {
            Some(list) => Ok(list),
            None => serde_json::from_slice(bytes),
        }
    }
}

/// A position in JSON expected to be laid out as [`Finding::write_json`] writes it.
struct Layout<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Layout<'a> {
    /// Consumes `expected` if it comes next.
    fn lit(&mut self, expected: &[u8]) -> Option<()> {
        let end = self.at.checked_add(expected.len())?;
        (self.bytes.get(self.at..end)? == expected).then(|| self.at = end)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// A string without escapes or control characters (anything else gives up).
    fn str(&mut self) -> Option<&'a str> {
        self.lit(b"\"")?;
        let rest = self.bytes.get(self.at..)?;
        // The closing quote found with memchr's vectorised search, then the text before it
        // checked for control characters in one pass that also vectorises (a byte-by-byte
        // search for all three was ~240 instructions a string, most of reading a finding's
        // fields).
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[len] != b'"' || rest[..len].iter().copied().min().is_some_and(|b| b < 0x20) {
            return None;
        }
        let text = crate::text::utf8(&rest[..len]).ok()?;
        self.at += len + 1;
        Some(text)
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_string)
    }

    /// `[]` or `[item,item]`, each read by `item`.
    fn list<T>(&mut self, item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.sequence(b'[', b']', item)
    }

    /// `open`, then items read by `item` and separated by commas, then `close`.
    fn sequence<T>(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        self.lit(&[open])?;
        let mut out = Vec::new();
        if self.lit(&[close]).is_some() {
            return Some(out);
        }
        loop {
            out.push(item(self)?);
            match self.peek()? {
                b',' => self.at += 1,
                b if b == close => {
                    self.at += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }

    /// A `u32` as serde_json reads one: digits, no leading zero.
    fn u32(&mut self) -> Option<u32> {
        let rest = self.bytes.get(self.at..)?;
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || (len > 1 && rest[0] == b'0') {
            return None;
        }
        let mut n = 0u32;
        for &d in &rest[..len] {
            n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
        }
        self.at += len;
        Some(n)
    }

    fn time(&mut self) -> Option<DateTime<Utc>> {
        crate::time::parse(self.str()?).ok()
    }

    fn entity(&mut self) -> Option<FindingEntity> {
        self.lit(b"{\"type\":")?;
        let ty = self.str()?;
        let entity_type = EntityType::ALL.into_iter().find(|t| t.as_str() == ty)?;
        self.lit(b",\"id\":")?;
        let id = self.string()?;
        self.lit(b",\"role\":")?;
        let role = self.str()?;
        let role = EntityRole::ALL.into_iter().find(|r| r.as_str() == role)?;
        let name = match self.lit(b",\"name\":") {
            Some(()) => Some(self.string()?),
            None => None,
        };
        self.lit(b"}")?;
        Some(FindingEntity {
            entity_type,
            id,
            role,
            name,
        })
    }

    /// The free-form `fields` object, read by serde_json (only as far as it goes).
    fn fields(&mut self) -> Option<Map<String, Value>> {
        let start = self.at;
        if let Some(map) = self.flat_fields() {
            return Some(map);
        }
        self.at = start;
        let rest = self.bytes.get(self.at..)?;
        if rest.first() != Some(&b'{') {
            return None;
        }
        let mut values =
            serde_json::Deserializer::from_slice(rest).into_iter::<Map<String, Value>>();
        let map = values.next()?.ok()?;
        let used = values.byte_offset();
        // serde_json refuses values nested deeper than 128, counting the finding (and its
        // array) around them: a deep one is left to it.
        let opened = rest[..used]
            .iter()
            .filter(|&&b| b == b'{' || b == b'[')
            .count();
        if opened > 64 {
            return None;
        }
        self.at += used;
        Some(map)
    }

    /// `fields` when every value is a plain string, a list of plain strings, a boolean or
    /// `null` (what the per-event rules write: ~half of reading a finding went through
    /// serde_json's map of `Value`s); `None` at anything else (numbers, objects, escapes),
    /// which [`Layout::fields`] then gives to serde_json from the same place. A key given
    /// twice keeps its last value, as serde_json's map does.
    fn flat_fields(&mut self) -> Option<Map<String, Value>> {
        let members = self.sequence(b'{', b'}', |l| {
            let key = l.string()?;
            l.lit(b":")?;
            let value = match l.peek()? {
                b'"' => Value::String(l.string()?),
                b'[' => Value::Array(l.list(|l| l.string().map(Value::String))?),
                b't' => l.lit(b"true").map(|()| Value::Bool(true))?,
                b'f' => l.lit(b"false").map(|()| Value::Bool(false))?,
                b'n' => l.lit(b"null").map(|()| Value::Null)?,
                _ => return None,
            };
            Some((key, value))
        })?;
        // (Inserted in order: a repeated key keeps its last value.)
        Some(members.into_iter().collect())
    }

    fn finding(&mut self) -> Option<Finding> {
        self.lit(b"{\"id\":")?;
        let id = self.string()?;
        self.lit(b",\"rule\":")?;
        let rule = self.string()?;
        self.lit(b",\"title\":")?;
        let title = self.string()?;
        self.lit(b",\"severity\":")?;
        let severity = self.str()?;
        let severity = Severity::ALL.into_iter().find(|s| s.as_str() == severity)?;
        self.lit(b",\"score\":")?;
        let score = self.u32()?;
        self.lit(b",\"first_seen\":")?;
        let first_seen = self.time()?;
        self.lit(b",\"last_seen\":")?;
        let last_seen = self.time()?;
        self.lit(b",\"entities\":")?;
        let entities = self.list(Self::entity)?;
        self.lit(b",\"events\":")?;
        let events = self.list(Self::string)?;
        self.lit(b",\"attack\":")?;
        let attack = self.list(Self::string)?;
        self.lit(b",\"summary\":")?;
        let summary = self.string()?;
        self.lit(b",\"fields\":")?;
        let fields = self.fields()?;
        self.lit(b"}")?;
        Some(Finding {
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
        })
    }

    /// `[]` or `[finding,finding]`, every byte.
    fn findings(&mut self) -> Option<Vec<Finding>> {
        let out = self.list(Self::finding)?;
        (self.at == self.bytes.len()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding_json::tests::finding;
    use proptest::prelude::*;

    fn written(f: &Finding) -> Vec<u8> {
        let mut out = Vec::new();
        f.write_json(&mut out).unwrap();
        out
    }

    /// The same findings (compared through their JSON: a field may hold a float).
    fn same(a: &[Finding], b: &[Finding]) -> bool {
        serde_json::to_vec(a).unwrap() == serde_json::to_vec(b).unwrap()
    }

    /// A finding as stored, with `score` and `id` written as given.
    fn stored(score: &str, id: &str) -> Vec<u8> {
        format!(
            "{{\"id\":{id},\"rule\":\"r\",\"title\":\"t\",\"severity\":\"low\",\"score\":{score},\
             \"first_seen\":\"2026-01-01T00:00:00Z\",\"last_seen\":\"2026-01-01T00:00:01.5Z\",\
             \"entities\":[{{\"type\":\"ip\",\"id\":\"1.2.3.4\",\"role\":\"source\"}}],\
             \"events\":[\"e\"],\"attack\":[],\"summary\":\"s\",\"fields\":{{\"n\":[1,2.5,null]}}}}"
        )
        .into_bytes()
    }

    #[test]
    fn what_serde_json_refuses_is_refused_and_escapes_are_read() {
        let read = |b: &[u8]| {
            (
                Finding::from_json(b).ok(),
                serde_json::from_slice::<Finding>(b).ok(),
            )
        };
        // Read by the fast path.
        let (ours, serde) = read(&stored("70", "\"a\""));
        assert_eq!(ours.as_ref().map(|f| f.score), Some(70));
        assert_eq!(ours, serde);
        // Refused by both: a leading zero, a control character, a number too large.
        for bad in [
            stored("070", "\"a\""),
            stored("4294967296", "\"a\""),
            stored("7", "\"a\u{1}\""),
        ] {
            assert_eq!(
                read(&bad),
                (None, None),
                "{}",
                String::from_utf8_lossy(&bad)
            );
        }
        // Left to serde_json, and read as it reads them: escapes, spaces, unknown fields.
        let escaped = stored("7", "\"a\\\"b\\u00e9\"");
        let spaced = String::from_utf8(stored("7", "\"a\""))
            .unwrap()
            .replace(",", ", ");
        let unknown =
            String::from_utf8(stored("7", "\"a\""))
                .unwrap()
                .replacen("{", "{\"x\":1,", 1);
        for odd in [escaped, spaced.into_bytes(), unknown.into_bytes()] {
            let (ours, serde) = read(&odd);
            assert!(
                ours.is_some() && ours == serde,
                "{}",
                String::from_utf8_lossy(&odd)
            );
        }
    }

    #[test]
    fn fields_read_as_serde_json_reads_them() {
        let with_fields = |fields: &str| {
            String::from_utf8(stored("7", "\"a\""))
                .unwrap()
                .replace("{\"n\":[1,2.5,null]}", fields)
                .into_bytes()
        };
        for fields in [
            // Read without serde_json (a key given twice keeps its last value).
            r#"{}"#,
            r#"{"a":"x","b":["y","z"],"c":true,"d":false,"e":null,"f":[]}"#,
            r#"{"a":"x","a":["y"],"b":"1","b":null}"#,
            // Given to serde_json: numbers, objects, lists of anything but strings, escapes.
            r#"{"a":"x","n":1}"#,
            r#"{"a":{"b":"c"}}"#,
            r#"{"a":["x",1]}"#,
            r#"{"a\"":"x"}"#,
            r#"{"a":"x\u00e9"}"#,
            // Refused by both.
            r#"{"a":"x",}"#,
            r#"{"a":tru}"#,
            r#"{"a" :"x"}x"#,
        ] {
            let bytes = with_fields(fields);
            assert!(String::from_utf8_lossy(&bytes).contains(fields));
            assert_eq!(
                Finding::from_json(&bytes).ok().map(|f| f.fields),
                serde_json::from_slice::<Finding>(&bytes)
                    .ok()
                    .map(|f| f.fields),
                "{fields}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// What `write_json` writes is read back, by either path, as serde_json reads it.
        #[test]
        fn written_findings_read_back(list in prop::collection::vec(finding(), 0..4)) {
            for f in &list {
                let back = Finding::from_json(&written(f)).unwrap();
                prop_assert!(same(&[back], std::slice::from_ref(f)));
            }
            let array = serde_json::to_vec(&list).unwrap();
            let back = Finding::list_from_json(&array).unwrap();
            prop_assert!(same(&back, &list));
        }

        /// Damaged JSON (bytes changed, cut or inserted) reads as serde_json reads it: the
        /// same findings, or an error where serde_json has one.
        #[test]
        fn damaged_json_reads_as_with_serde(
            list in prop::collection::vec(finding(), 1..3),
            damage in prop::collection::vec(
                (any::<prop::sample::Index>(), prop_oneof![Just(b'"'), Just(b','), Just(b'\\'), Just(b'0'), Just(0x01), any::<u8>()], 0u8..3),
                1..3,
            ),
        ) {
            let mut bytes = serde_json::to_vec(&list).unwrap();
            for (at, byte, how) in damage {
                if bytes.is_empty() {
                    // (Cut to nothing by an earlier damage.)
                    break;
                }
                let i = at.index(bytes.len());
                match how {
                    0 => bytes[i] = byte,
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i, byte),
                }
            }
            match (Finding::list_from_json(&bytes), serde_json::from_slice::<Vec<Finding>>(&bytes)) {
                (Ok(a), Ok(b)) => prop_assert!(same(&a, &b)),
                (Err(_), Err(_)) => {}
                (a, b) => prop_assert!(false, "ours {:?}, serde {:?}", a.map(|l| l.len()), b.map(|l| l.len())),
            }
            if let Some(first) = bytes.get(1..) {
                // One finding alone (whatever follows the first one is trailing).
                let one = first.strip_suffix(b"]").unwrap_or(first);
                match (Finding::from_json(one), serde_json::from_slice::<Finding>(one)) {
                    (Ok(a), Ok(b)) => prop_assert!(same(&[a], &[b])),
                    (Err(_), Err(_)) => {}
                    (a, b) => prop_assert!(false, "ours {:?}, serde {:?}", a.is_ok(), b.is_ok()),
                }
            }
        }
    }
}
