//! A per-event finding's `fields`: the criteria it matched, the score they give and the
//! event fields its rule reports, borrowed from the rule and the event.
//!
//! Every per-event finding has them (all the shipped rules have criteria and report
//! fields), and as a `serde_json::Map` they were ~20 allocations a finding: each key
//! copied, each criterion's name copied, each reported value turned into a `Value`. Here
//! they are borrowed until written: [`FindingFields::write_json`] writes what
//! `json_text::object` writes for [`FindingFields::to_map`] (a test compares a finding both
//! ways on every shipped and SigmaHQ rule), and `to_map` is what a [`skein_model::Finding`]
//! keeps.

use rsigma_eval::EventValue;
use serde_json::{Map, Value};
use skein_model::json_text::{key, string, unsigned, value};

/// One field's value.
pub(crate) enum FieldValue<'a> {
    /// The criteria's weight (the score field, and the `_weight` the score is made from).
    Number(u64),
    /// The names of the criteria that matched.
    Names(smallvec::SmallVec<[&'a str; 8]>),
    /// A reported field of the event.
    Event(EventValue<'a>),
}

impl FieldValue<'_> {
    fn to_value(&self) -> Value {
        match self {
            FieldValue::Number(n) => Value::from(*n),
            FieldValue::Names(names) => {
                Value::Array(names.iter().map(|n| Value::String(n.to_string())).collect())
            }
            FieldValue::Event(v) => v.to_json(),
        }
    }

    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            FieldValue::Number(n) => unsigned(out, *n),
            FieldValue::Names(names) => {
                out.push(b'[');
                for (i, n) in names.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    string(out, n);
                }
                out.push(b']');
            }
            // (What `Value::String` of the text writes.)
            FieldValue::Event(EventValue::Str(s)) => string(out, s),
            FieldValue::Event(v) => value(out, &v.to_json())?,
        }
        Ok(())
    }
}

/// The fields, as a map keeps them: one value per name, the last one set winning.
#[derive(Default)]
pub(crate) struct FindingFields<'a> {
    entries: smallvec::SmallVec<[(&'a str, FieldValue<'a>); 12]>,
}

impl<'a> FindingFields<'a> {
    /// Sets `name` to `v` (replacing what it held, as a map's insert does).
    pub(crate) fn insert(&mut self, name: &'a str, v: FieldValue<'a>) {
        match self.entries.iter_mut().find(|(k, _)| *k == name) {
            Some(entry) => entry.1 = v,
            None => self.entries.push((name, v)),
        }
    }

    /// Removes `name`, giving its value as a `Value::as_u64` would read it.
    pub(crate) fn remove_u64(&mut self, name: &str) -> Option<u64> {
        let at = self.entries.iter().position(|(k, _)| *k == name)?;
        let (_, v) = self.entries.remove(at);
        match v {
            FieldValue::Number(n) => Some(n),
            other => other.to_value().as_u64(),
        }
    }

    /// The text a summary shows for field `name` (see `finding::json_text`).
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.entries
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| crate::finding::json_text(&v.to_value()))
    }

    /// The fields as a map (what a `Finding` holds).
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        self.entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_value()))
            .collect()
    }

    /// Appends the fields' JSON object: keys in a map's order (byte order), as
    /// `json_text::object` writes [`FindingFields::to_map`].
    pub(crate) fn write_json(&mut self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        self.entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out.push(b'{');
        for (i, (k, v)) in self.entries.iter().enumerate() {
            key(out, i == 0, k);
            v.write_json(out)?;
        }
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event_value() -> impl Strategy<Value = EventValue<'static>> {
        let leaf = prop_oneof![
            "[a-zA-Z\"\\\\é]{0,6}".prop_map(|s| EventValue::Str(s.into())),
            any::<i64>().prop_map(EventValue::Int),
            any::<f64>().prop_map(EventValue::Float),
            any::<bool>().prop_map(EventValue::Bool),
            Just(EventValue::Null),
        ];
        prop_oneof![
            4 => leaf.clone(),
            1 => prop::collection::vec(leaf, 0..3).prop_map(EventValue::Array),
        ]
    }

    /// A field value and what a `serde_json::Map` held for it.
    fn field() -> impl Strategy<Value = (u8, u64, Vec<String>, EventValue<'static>)> {
        (
            0u8..3,
            any::<u64>(),
            prop::collection::vec("[a-z_]{0,5}", 0..3),
            event_value(),
        )
    }

    proptest! {
        /// Any sequence of sets and removals (names repeating, `_weight` among them) gives
        /// the map a `serde_json::Map` would hold, and writes the JSON it writes for it.
        #[test]
        fn fields_behave_as_the_map_did(
            ops in prop::collection::vec(
                (prop::sample::select(vec!["matched", "_weight", "b", "a", "Z", "é", "ab"]), field()),
                0..8,
            ),
            remove in any::<bool>(),
        ) {
            let names: Vec<Vec<String>> = ops.iter().map(|(_, (_, _, n, _))| n.clone()).collect();
            let mut fields = FindingFields::default();
            let mut map = Map::new();
            for ((name, (kind, n, _, v)), names) in ops.iter().zip(&names) {
                let (ours, theirs) = match kind {
                    0 => (FieldValue::Number(*n), Value::from(*n)),
                    1 => (
                        FieldValue::Names(names.iter().map(String::as_str).collect()),
                        Value::Array(names.iter().map(|s| Value::String(s.clone())).collect()),
                    ),
                    _ => (FieldValue::Event(v.clone()), v.to_json()),
                };
                fields.insert(name, ours);
                map.insert(name.to_string(), theirs);
            }
            if remove {
                let theirs = map.remove("_weight").and_then(|v| v.as_u64());
                prop_assert_eq!(fields.remove_u64("_weight"), theirs);
            }
            prop_assert_eq!(&fields.to_map(), &map);
            for name in ["matched", "b", "x"] {
                prop_assert_eq!(
                    fields.text(name),
                    map.get(name).map(crate::finding::json_text)
                );
            }
            let mut ours = Vec::new();
            fields.write_json(&mut ours).unwrap();
            let mut theirs = Vec::new();
            skein_model::json_text::object(&mut theirs, &map).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
    }
}
