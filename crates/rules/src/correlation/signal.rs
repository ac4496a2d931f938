//! Making a [`Signal`] from an event a per-event rule matched: the keys it is grouped by, the
//! counted value, the place, and the hashes of its key combinations.
//!
//! A full run makes millions of signals, most of them absence partners (every successful
//! sign-in, looked up by its key hashes only). The key texts are gathered in per-thread
//! buffers that are reused from one signal to the next; a signal allocates only what it keeps.

use std::cell::RefCell;
use std::fmt::Write as _;

use rsigma_eval::EventValue;
use skein_model::Event;

use super::packed::Packer;
use super::texts::SignalTexts;
use super::{Place, Role, Signal, Slot, Tuples};
use crate::fields;
use crate::view::EventView;

/// A key's value as text: strings as they are, numbers and booleans printed, lists joined.
fn value_text(v: &EventValue<'_>) -> Option<String> {
    match v {
        EventValue::Str(s) if s.is_empty() => None,
        EventValue::Str(s) => Some(s.to_string()),
        EventValue::Int(n) => Some(n.to_string()),
        EventValue::Float(f) => Some(f.to_string()),
        EventValue::Bool(b) => Some(b.to_string()),
        EventValue::Array(items) => {
            let mut parts: Vec<String> = items.iter().filter_map(value_text).collect();
            parts.sort();
            (!parts.is_empty()).then(|| parts.join(","))
        }
        _ => None,
    }
}

/// A key's or counted value's field as read for a signal.
enum Value<'e> {
    /// A text field's text.
    Text(&'e str),
    Other(EventValue<'e>),
}

/// The text of the field `token` names when it is a text field: `Some(None)` when absent;
/// `None` for a token of another field, or not a field's.
fn text_of<'e>(view: &'e EventView<'_>, token: &str) -> Option<Option<&'e str>> {
    fields::from_token(token).and_then(|f| view.text_value(f))
}

/// Appends [`value_text`] of `v` to `out` (a string without a copy); false when it has none.
fn push_value_text(v: &EventValue<'_>, out: &mut String) -> bool {
    match v {
        EventValue::Str(s) if s.is_empty() => false,
        EventValue::Str(s) => {
            out.push_str(s);
            true
        }
        other => match value_text(other) {
            Some(text) => {
                out.push_str(&text);
                true
            }
            None => false,
        },
    }
}

/// Sets `out` to `text` lower-cased exactly as `str::to_lowercase` does (ASCII in place; any
/// other text through `to_lowercase` itself, whose final sigma depends on the whole text).
fn set_lowercase(out: &mut String, text: &str) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        out.make_ascii_lowercase();
    } else {
        out.push_str(&text.to_lowercase());
    }
}

/// The key texts of the signal being made, in buffers kept from one signal to the next.
#[derive(Default)]
struct Scratch {
    /// `texts[..used]`: each present alternative as `i\u{1e}value`, key after key.
    texts: Vec<String>,
    /// The same, lower-cased (filled only when hashes are needed).
    lowered: Vec<String>,
    used: usize,
    /// Per key, its alternatives' range in `texts`.
    bounds: Vec<std::ops::Range<usize>>,
    /// The tuple being hashed.
    joined: String,
    /// The signal's entities.
    entities: Packer,
}

impl Scratch {
    /// Reads `slot`'s keys off the event: false when a key has no alternative present.
    fn read_keys(&mut self, slot: &Slot, view: &EventView<'_>) -> bool {
        self.used = 0;
        self.bounds.clear();
        for alternatives in &slot.keys {
            let start = self.used;
            for (i, token) in alternatives.iter().enumerate() {
                // A text field's text straight from the event (see `EventView::text_value`);
                // any other field's value as `EventView::field` gives it.
                let value = match text_of(view, token) {
                    Some(None) => continue,
                    Some(Some(text)) => Value::Text(text),
                    None => match view.field(token) {
                        Some(value) => Value::Other(value),
                        None => continue,
                    },
                };
                if self.texts.len() == self.used {
                    self.texts.push(String::new());
                }
                let text = &mut self.texts[self.used];
                text.clear();
                // The index as `write!` prints it, without the formatting machinery for
                // the usual one digit. (Writing to a String cannot fail.)
                match u8::try_from(i) {
                    Ok(digit @ 0..=9) => text.push(char::from(b'0' + digit)),
                    _ => {
                        let _ = write!(text, "{i}");
                    }
                }
                text.push('\u{1e}');
                let pushed = match &value {
                    Value::Text("") => false,
                    Value::Text(t) => {
                        text.push_str(t);
                        true
                    }
                    Value::Other(v) => push_value_text(v, text),
                };
                if pushed {
                    self.used += 1;
                }
            }
            if self.used == start {
                return false;
            }
            self.bounds.push(start..self.used);
        }
        true
    }

    /// The keys as the signal keeps them: each one's first alternative.
    fn firsts(&self) -> impl Iterator<Item = &str> + '_ {
        self.bounds.iter().map(|r| self.texts[r.start].as_str())
    }

    /// The signal's parts: `event_id`, the keys, their group, `value`, `place` and the
    /// entities packed.
    fn texts(&self, event_id: &str, value: Option<&str>, place: Option<&Place<'_>>) -> SignalTexts {
        let keys_len =
            self.firsts().map(str::len).sum::<usize>() + self.bounds.len().saturating_sub(1);
        SignalTexts::grouped(
            event_id,
            self.firsts(),
            keys_len,
            value,
            place,
            self.entities.bytes(),
        )
    }

    /// Every combination of the keys' alternatives, lower-cased, as a stable 128-bit hash.
    fn tuple_hashes(&mut self) -> Tuples {
        while self.lowered.len() < self.used {
            self.lowered.push(String::new());
        }
        for (low, text) in self.lowered.iter_mut().zip(&self.texts[..self.used]) {
            set_lowercase(low, text);
        }
        let mut out = Tuples::with_capacity(self.bounds.iter().map(|r| r.len()).product());
        self.joined.clear();
        walk(&self.lowered, &self.bounds, &mut self.joined, &mut out);
        out
    }
}

/// Hashes, into `out`, `joined` followed by every combination of the alternatives of the keys
/// `bounds` gives (ranges of `lowered`), the keys joined by `\u{1f}`.
fn walk(
    lowered: &[String],
    bounds: &[std::ops::Range<usize>],
    joined: &mut String,
    out: &mut Tuples,
) {
    let Some((first, rest)) = bounds.split_first() else {
        out.push(xxhash_rust::xxh3::xxh3_128(joined.as_bytes()));
        return;
    };
    let len = joined.len();
    for alternative in &lowered[first.clone()] {
        // (The first key starts the text: every key has at least one alternative.)
        if first.start > 0 {
            joined.push('\u{1f}');
        }
        joined.push_str(alternative);
        walk(lowered, rest, joined, out);
        joined.truncate(len);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The signal `event` gives `slot`, or `None` when it lacks a key or the counted value (such
/// an event cannot be grouped, so it is not counted).
pub fn signal(slot_index: u32, slot: &Slot, view: &EventView<'_>) -> Option<Signal> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => signal_with(&mut scratch, slot_index, slot, view),
        // Not reached (making a signal does not nest), but fresh buffers are always correct.
        Err(_) => signal_with(&mut Scratch::default(), slot_index, slot, view),
    })
}

fn signal_with(
    scratch: &mut Scratch,
    slot_index: u32,
    slot: &Slot,
    view: &EventView<'_>,
) -> Option<Signal> {
    let event: &Event = view.event();
    if !scratch.read_keys(slot, view) {
        return None;
    }
    let value = match &slot.value {
        Some(token) => Some(match text_of(view, token) {
            Some(text) => text.filter(|t| !t.is_empty())?.to_string(),
            None => view.field(token).as_ref().and_then(value_text)?,
        }),
        None => None,
    };
    let place = if slot.geo {
        let g = &event.geo;
        match (g.latitude, g.longitude) {
            (Some(lat), Some(lon))
                if (-90.0..=90.0).contains(&lat)
                    && (-180.0..=180.0).contains(&lon)
                    && !(lat == 0.0 && lon == 0.0) =>
            {
                Some(Place::new(
                    lat,
                    lon,
                    view.ip_text(),
                    g.city.as_deref(),
                    g.country.as_deref(),
                ))
            }
            _ => return None,
        }
    } else {
        None
    };
    if slot.role == Role::Absent {
        // A partner of an absence is only looked up by its key combinations and time.
        return Some(Signal {
            time: event.time,
            source: event.source,
            slot: slot_index,
            texts: SignalTexts::new("", [], "", value.as_deref(), place.as_ref(), &[]),
            tuples: scratch.tuple_hashes(),
        });
    }
    let tuples = if slot.tuples {
        scratch.tuple_hashes()
    } else {
        Tuples::new()
    };
    scratch.entities.clear();
    crate::finding::entities_in(view, false, &mut scratch.entities);
    Some(Signal {
        time: event.time,
        source: event.source,
        slot: slot_index,
        texts: scratch.texts(&event.id, value.as_deref(), place.as_ref()),
        tuples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// Fills `scratch` with `keys` (as signals keep them) the way [`Scratch::read_keys`]
    /// does: reusing the strings it has.
    fn fill(scratch: &mut Scratch, keys: &[Vec<String>]) {
        scratch.used = 0;
        scratch.bounds.clear();
        for alternatives in keys {
            let start = scratch.used;
            for a in alternatives {
                if scratch.texts.len() == scratch.used {
                    scratch.texts.push(String::new());
                }
                scratch.texts[scratch.used].clear();
                scratch.texts[scratch.used].push_str(a);
                scratch.used += 1;
            }
            scratch.bounds.push(start..scratch.used);
        }
    }

    fn scratch_of(keys: &[Vec<String>]) -> Scratch {
        let mut scratch = Scratch::default();
        fill(&mut scratch, keys);
        scratch
    }

    fn tuple_hashes(keys: &[Vec<String>]) -> Vec<u128> {
        scratch_of(keys).tuple_hashes().to_vec()
    }

    /// The hashes as first written: every combination lower-cased whole, then hashed.
    fn reference_hashes(keys: &[Vec<String>]) -> Vec<u128> {
        let mut combos = vec![Vec::<String>::new()];
        for alternatives in keys {
            combos = combos
                .iter()
                .flat_map(|c| {
                    alternatives.iter().map(move |a| {
                        let mut c = c.clone();
                        c.push(a.to_lowercase());
                        c
                    })
                })
                .collect();
        }
        combos
            .iter()
            .map(|c| xxhash_rust::xxh3::xxh3_128(c.join("\u{1f}").as_bytes()))
            .collect()
    }

    proptest! {
        /// Reused buffers (filled by one key set, then another) give the hashes and group
        /// of lowering each text on its own.
        #[test]
        fn reused_buffers_hash_and_group_as_lowering_each_text(
            keys in prop::collection::vec(
                prop::collection::vec("[a-zA-Z0-9ΣσςΟΔİ. @-]{0,12}", 1..4), 1..4),
            earlier in prop::collection::vec(
                prop::collection::vec("[a-zA-ZΣ]{0,20}", 1..4), 1..4),
        ) {
            let mut scratch = scratch_of(&earlier);
            let _ = scratch.tuple_hashes();
            fill(&mut scratch, &keys);
            prop_assert_eq!(scratch.tuple_hashes().to_vec(), reference_hashes(&keys));
            let firsts: Vec<&str> = keys.iter().map(|k| k[0].as_str()).collect();
            let texts = scratch.texts("e", None, None);
            prop_assert_eq!(texts.group(), firsts.join("\u{1f}").to_lowercase());
            prop_assert_eq!(texts.keys().firsts().collect::<Vec<_>>(), firsts);
        }
    }

    /// Saved states hold these hashes: the text hashed (each alternative lower-cased as
    /// `str::to_lowercase` does, keys joined by `\u{1f}`) must not change between releases.
    #[test]
    fn tuple_hashes_hash_every_combination_of_the_lowered_alternatives() {
        let keys = vec![
            vec![
                "0\u{1e}B98C473A-8284".to_string(),
                "1\u{1e}Julia@Fabrikam.COM".to_string(),
            ],
            vec!["0\u{1e}90.3.44.10".to_string()],
            vec!["2\u{1e}ΟΔΟΣ Σ".to_string()],
        ];
        let hash = |s: &str| xxhash_rust::xxh3::xxh3_128(s.as_bytes());
        // Final sigma: "ΟΔΟΣ" ends in ς, a lone "Σ" is σ.
        assert_eq!(
            tuple_hashes(&keys),
            vec![
                hash("0\u{1e}b98c473a-8284\u{1f}0\u{1e}90.3.44.10\u{1f}2\u{1e}οδος σ"),
                hash("1\u{1e}julia@fabrikam.com\u{1f}0\u{1e}90.3.44.10\u{1f}2\u{1e}οδος σ"),
            ]
        );
    }
}
