//! A detection item's matcher over an event's value: rsigma's `CompiledMatcher` semantics,
//! answered from the value's text without the copies rsigma makes (see [`matches`]).

use rsigma_eval::matcher::GroupMode;
use rsigma_eval::{CompiledMatcher, Event, EventValue};
use rsigma_ir::IrStrOp;
use skein_model::json_text::decimal;

/// Drops `value`, without a call to its drop glue when it owns nothing: nearly every value
/// an item reads is text borrowed from the event, a number or a flag, and the out-of-line
/// `drop_in_place::<EventValue>` was ~1.5% of a full correlate's instructions (four calls
/// per event). Forgetting a value that owns no memory frees nothing it should have.
#[inline(always)]
pub(super) fn discard(value: EventValue<'_>) {
    match value {
        EventValue::Str(std::borrow::Cow::Borrowed(_))
        | EventValue::Int(_)
        | EventValue::Float(_)
        | EventValue::Bool(_)
        | EventValue::Null => std::mem::forget(value),
        owning => drop(owning),
    }
}

/// `CompiledMatcher::matches`, without the lower-cased copy rsigma allocates for every
/// case-insensitive comparison when the event's text is ASCII (nearly all of it: ids,
/// addresses, codes, names), or a number or a flag (rsigma compares their text). A profile
/// of `skein correlate` had those copies at ~3% of the run. The value's text is made once
/// for the whole matcher (a list of values is one `AnyOf`), and checked for ASCII and
/// lower-cased at most once. Any other matcher or value is rsigma's own; a property test
/// checks both agree.
pub(super) fn matches(m: &CompiledMatcher, value: &EventValue<'_>, event: &impl Event) -> bool {
    // rsigma's string matchers compare a number or a flag as its text (`to_string`).
    let mut digits = [0u8; 21];
    let text = match value {
        EventValue::Str(s) => s.as_ref(),
        // A number against a matcher that reads no text (a numeric comparison, most often):
        // rsigma's, without writing the digits.
        EventValue::Int(_) if !reads_text(m) => return m.matches(value, event),
        EventValue::Int(n) => {
            match skein_model::text::utf8(decimal(*n < 0, n.unsigned_abs(), &mut digits)) {
                Ok(t) => t,
                Err(_) => return m.matches(value, event),
            }
        }
        EventValue::Bool(true) => "true",
        EventValue::Bool(false) => "false",
        _ => return m.matches(value, event),
    };
    on_text(m, &mut Text::new(text), value, event)
}

/// False for the matchers that never compare a value's text, whatever it is (they are
/// answered by rsigma over the value itself).
pub(super) fn reads_text(m: &CompiledMatcher) -> bool {
    !matches!(
        m,
        CompiledMatcher::NumericEq(_)
            | CompiledMatcher::NumericGt(_)
            | CompiledMatcher::NumericGte(_)
            | CompiledMatcher::NumericLt(_)
            | CompiledMatcher::NumericLte(_)
            | CompiledMatcher::Exists(_)
            | CompiledMatcher::Null
            | CompiledMatcher::BoolEq(_)
    )
}

/// A value's text as the string matchers compare it, with what is worked out from it once.
pub(super) struct Text<'t> {
    text: &'t str,
    ascii: Option<bool>,
    /// The text lower-cased (ASCII text up to [`LOWERED_ON_STACK`] bytes), once made.
    lowered: Option<([u8; LOWERED_ON_STACK], usize)>,
}

impl<'t> Text<'t> {
    pub(super) fn new(text: &'t str) -> Text<'t> {
        Text {
            text,
            ascii: None,
            lowered: None,
        }
    }

    fn is_ascii(&mut self) -> bool {
        *self.ascii.get_or_insert_with(|| self.text.is_ascii())
    }

    /// The text lower-cased, for ASCII text short enough to lower-case on the stack.
    fn lowered(&mut self) -> Option<&str> {
        if self.text.len() > LOWERED_ON_STACK || !self.is_ascii() {
            return None;
        }
        let text = self.text.as_bytes();
        let (buf, len) = self.lowered.get_or_insert_with(|| {
            let mut buf = [0u8; LOWERED_ON_STACK];
            buf[..text.len()].copy_from_slice(text);
            buf[..text.len()].make_ascii_lowercase();
            (buf, text.len())
        });
        // (ASCII is UTF-8.)
        skein_model::text::utf8(&buf[..*len]).ok()
    }
}

/// [`matches`] over a value's text: combinators walked here, string matchers answered
/// from the text, the rest by rsigma over the value.
pub(super) fn on_text(
    m: &CompiledMatcher,
    t: &mut Text<'_>,
    value: &EventValue<'_>,
    event: &impl Event,
) -> bool {
    // `lowered` (rsigma lower-cased the rule's value when it compiled the rule) against
    // ASCII `text` lower-cased.
    fn same(text: &[u8], lowered: &[u8]) -> bool {
        text.len() == lowered.len()
            && text
                .iter()
                .zip(lowered)
                .all(|(t, l)| t.to_ascii_lowercase() == *l)
    }
    let text = t.text;
    match m {
        CompiledMatcher::AnyOf(ms) => ms.iter().any(|m| on_text(m, t, value, event)),
        CompiledMatcher::AllOf(ms) => ms.iter().all(|m| on_text(m, t, value, event)),
        CompiledMatcher::Not(inner) => !on_text(inner, t, value, event),
        CompiledMatcher::Exact {
            value: expected,
            case_insensitive: false,
        } => text == expected,
        CompiledMatcher::Contains {
            value: needle,
            case_insensitive: false,
        } => text.contains(needle.as_str()),
        CompiledMatcher::StartsWith {
            value: prefix,
            case_insensitive: false,
        } => text.starts_with(prefix.as_str()),
        CompiledMatcher::EndsWith {
            value: suffix,
            case_insensitive: false,
        } => text.ends_with(suffix.as_str()),
        CompiledMatcher::Exact {
            value: expected,
            case_insensitive: true,
        } if t.is_ascii() => same(text.as_bytes(), expected.as_bytes()),
        CompiledMatcher::StartsWith {
            value: prefix,
            case_insensitive: true,
        } if t.is_ascii() => text
            .as_bytes()
            .get(..prefix.len())
            .is_some_and(|head| same(head, prefix.as_bytes())),
        CompiledMatcher::EndsWith {
            value: suffix,
            case_insensitive: true,
        } if t.is_ascii() => text
            .len()
            .checked_sub(suffix.len())
            .is_some_and(|at| same(&text.as_bytes()[at..], suffix.as_bytes())),
        // The matchers rsigma runs over a lower-cased copy: lower-cased on the stack.
        CompiledMatcher::Contains {
            case_insensitive: true,
            ..
        }
        | CompiledMatcher::AhoCorasickSet {
            case_insensitive: true,
            ..
        }
        | CompiledMatcher::CaseInsensitiveGroup { .. } => t
            .lowered()
            .and_then(|lowered| pre_lowered(m, lowered))
            .unwrap_or_else(|| m.matches(value, event)),
        // A string equal to another field's string (`tenants.home|fieldref`: ~every
        // sign-in), where rsigma lower-cases both into new strings (two allocations) when
        // the comparison ignores case.
        CompiledMatcher::FieldRef {
            field,
            op: IrStrOp::Exact,
            case_insensitive,
        } if matches!(value, EventValue::Str(_)) => match event.get_field(field) {
            None => false,
            Some(EventValue::Str(other)) if !case_insensitive => text == other.as_ref(),
            Some(EventValue::Str(other)) if t.is_ascii() && other.is_ascii() => {
                text.eq_ignore_ascii_case(&other)
            }
            Some(_) => m.matches(value, event),
        },
        _ => m.matches(value, event),
    }
}

/// A case-insensitive string matcher's answer for text already lower-cased (as rsigma's
/// `matches_pre_lowered` gives it); `None` for matchers it leaves to rsigma.
fn pre_lowered(m: &CompiledMatcher, lowered: &str) -> Option<bool> {
    let all = |ms: &[CompiledMatcher], any: bool| -> Option<bool> {
        let mut answer = !any;
        for m in ms {
            if pre_lowered(m, lowered)? == any {
                answer = any;
            }
        }
        Some(answer)
    };
    match m {
        CompiledMatcher::Exact {
            value,
            case_insensitive: true,
        } => Some(lowered == value),
        CompiledMatcher::Contains {
            value,
            case_insensitive: true,
        } => Some(lowered.contains(value.as_str())),
        CompiledMatcher::StartsWith {
            value,
            case_insensitive: true,
        } => Some(lowered.starts_with(value.as_str())),
        CompiledMatcher::EndsWith {
            value,
            case_insensitive: true,
        } => Some(lowered.ends_with(value.as_str())),
        CompiledMatcher::AhoCorasickSet {
            automaton,
            case_insensitive: true,
            ..
        } => Some(automaton.is_match(lowered)),
        CompiledMatcher::Not(inner) => pre_lowered(inner, lowered).map(|b| !b),
        CompiledMatcher::AnyOf(ms) => all(ms, true),
        CompiledMatcher::AllOf(ms) => all(ms, false),
        CompiledMatcher::CaseInsensitiveGroup { children, mode } => {
            all(children, matches!(mode, GroupMode::Any))
        }
        _ => None,
    }
}

/// Longest ASCII text [`Text::lowered`] lower-cases on the stack for a substring
/// search (longer text goes to rsigma).
const LOWERED_ON_STACK: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// An event with one field, `ref`, or none (what `fieldref` matchers read).
    struct RefField(Option<EventValue<'static>>);

    impl Event for RefField {
        fn get_field(&self, name: &str) -> Option<EventValue<'_>> {
            (name == "ref").then(|| self.0.clone()).flatten()
        }
        fn any_string_value(&self, _: &dyn Fn(&str) -> bool) -> bool {
            false
        }
        fn all_string_values(&self) -> Vec<std::borrow::Cow<'_, str>> {
            Vec::new()
        }
        fn to_json(&self) -> serde_json::Value {
            serde_json::Value::Null
        }
    }

    fn leaf(kind: u8, value: String, case_insensitive: bool) -> CompiledMatcher {
        // rsigma lower-cases a case-insensitive value when it compiles a rule.
        let value = if case_insensitive {
            value.to_lowercase()
        } else {
            value
        };
        match kind % 4 {
            0 => CompiledMatcher::Exact {
                value,
                case_insensitive,
            },
            1 => CompiledMatcher::Contains {
                value,
                case_insensitive,
            },
            2 => CompiledMatcher::StartsWith {
                value,
                case_insensitive,
            },
            _ => CompiledMatcher::EndsWith {
                value,
                case_insensitive,
            },
        }
    }

    /// A rule value: text (lower-cased by rsigma when case-insensitive), digits or a flag.
    fn rule_value() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[aAbB\\.\\-]{0,3}",
            1 => "[aAé]{0,2}",
            1 => "-?[0-9]{1,2}",
            1 => "(true|false|TRUE)",
        ]
    }

    fn matcher() -> impl Strategy<Value = CompiledMatcher> {
        let single =
            (any::<u8>(), rule_value(), any::<bool>()).prop_map(|(k, v, ci)| leaf(k, v, ci));
        // rsigma's multi-value forms: several `contains` as one automaton (needles
        // lower-cased when case-insensitive), and case-insensitive string matchers compared
        // over one lower-cased copy.
        let automaton = (prop::collection::vec(rule_value(), 1..4), any::<bool>()).prop_map(
            |(needles, case_insensitive)| {
                let needles: Vec<String> = needles
                    .into_iter()
                    .map(|n| {
                        if case_insensitive {
                            n.to_lowercase()
                        } else {
                            n
                        }
                    })
                    .collect();
                CompiledMatcher::AhoCorasickSet {
                    automaton: aho_corasick::AhoCorasick::new(&needles).unwrap(),
                    case_insensitive,
                    needles,
                }
            },
        );
        let group = (
            prop::collection::vec((any::<u8>(), rule_value()), 0..3),
            any::<bool>(),
        )
            .prop_map(|(children, any)| CompiledMatcher::CaseInsensitiveGroup {
                children: children
                    .into_iter()
                    .map(|(k, v)| leaf(k, v, true))
                    .collect(),
                mode: if any { GroupMode::Any } else { GroupMode::All },
            });
        // The value equal to (or containing, ...) field `ref`, or a field the event lacks.
        let field_ref = (0u8..4, any::<bool>(), any::<bool>()).prop_map(|(op, ci, known)| {
            CompiledMatcher::FieldRef {
                field: if known { "ref" } else { "other" }.to_string(),
                op: [
                    IrStrOp::Exact,
                    IrStrOp::Contains,
                    IrStrOp::StartsWith,
                    IrStrOp::EndsWith,
                ][usize::from(op)],
                case_insensitive: ci,
            }
        });
        // Matchers that read no text: numbers compared as numbers, flags, null, presence.
        let other = (0u8..8, -3i64..130).prop_map(|(kind, n)| {
            let x = n as f64;
            match kind {
                0 => CompiledMatcher::NumericEq(x),
                1 => CompiledMatcher::NumericGt(x),
                2 => CompiledMatcher::NumericGte(x),
                3 => CompiledMatcher::NumericLt(x),
                4 => CompiledMatcher::NumericLte(x),
                5 => CompiledMatcher::BoolEq(n % 2 == 0),
                6 => CompiledMatcher::Null,
                _ => CompiledMatcher::Exists(n % 2 == 0),
            }
        });
        prop_oneof![4 => single, 1 => automaton, 1 => group, 2 => field_ref, 2 => other]
            .prop_recursive(2, 8, 3, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..3).prop_map(CompiledMatcher::AnyOf),
                    prop::collection::vec(inner.clone(), 0..3).prop_map(CompiledMatcher::AllOf),
                    inner.prop_map(|m| CompiledMatcher::Not(Box::new(m))),
                ]
            })
    }

    fn value() -> impl Strategy<Value = EventValue<'static>> {
        // Short text (most matches), text past what is lower-cased on the stack, and text
        // that is not ASCII (rsigma's own path, with letters whose lower case is longer).
        let text = prop_oneof![
            6 => "[aAbB\\.\\-]{0,6}",
            1 => "[aAbB\\.\\-]{250,300}",
            2 => "[aAbBéÉ\\.\\-\u{130}]{0,8}",
        ];
        prop_oneof![
            text.clone().prop_map(|t| EventValue::Str(t.into())),
            any::<i64>().prop_map(EventValue::Int),
            (-120i64..120).prop_map(EventValue::Int),
            Just(EventValue::Int(i64::MIN)),
            any::<bool>().prop_map(EventValue::Bool),
            prop::collection::vec(text.prop_map(|t| EventValue::Str(t.into())), 0..3)
                .prop_map(EventValue::Array),
        ]
    }

    #[test]
    fn field_references_compare_with_the_other_field() {
        let equal = |ci: bool, a: &str, b: &str| {
            let m = CompiledMatcher::FieldRef {
                field: "ref".into(),
                op: IrStrOp::Exact,
                case_insensitive: ci,
            };
            let v = EventValue::Str(a.to_string().into());
            let event = RefField(Some(EventValue::Str(b.to_string().into())));
            let ours = matches(&m, &v, &event);
            assert_eq!(ours, m.matches(&v, &event), "{ci} {a:?} {b:?}");
            ours
        };
        assert!(equal(false, "aB", "aB"));
        assert!(!equal(false, "aB", "ab"));
        assert!(equal(true, "aB", "Ab"));
        assert!(!equal(true, "aB", "a"));
        assert!(equal(true, "É", "é"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The allocation-free comparisons answer as rsigma's matcher does, for any text,
        /// ASCII or not, and any nesting.
        #[test]
        fn matching_agrees_with_rsigma(
            m in matcher(),
            v in value(),
            other in prop::option::of(value()),
        ) {
            let event = RefField(other);
            prop_assert_eq!(matches(&m, &v, &event), m.matches(&v, &event));
        }

        /// `fieldref` equality on text against the other field's text: the same text, the
        /// same in another case, or any value.
        #[test]
        fn field_references_agree_with_rsigma(
            ci in any::<bool>(),
            text in "[aAbBéÉ\u{130}]{0,4}",
            flips in any::<u8>(),
            other in prop_oneof![2 => Just(None), 1 => value().prop_map(Some)],
        ) {
            let m = CompiledMatcher::FieldRef {
                field: "ref".into(),
                op: IrStrOp::Exact,
                case_insensitive: ci,
            };
            let flipped: String = text
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if flips & (1 << (i % 8)) != 0 {
                        c.to_uppercase().next().unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect();
            let other = other.unwrap_or(EventValue::Str(flipped.into()));
            let event = RefField(Some(other));
            let v = EventValue::Str(text.into());
            prop_assert_eq!(matches(&m, &v, &event), m.matches(&v, &event));
        }
    }
}
