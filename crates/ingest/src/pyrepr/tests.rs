//! Unit and property tests of the Python-repr parser.

use super::*;
use proptest::prelude::*;
use serde_json::json;

#[test]
fn pandas_cells() {
    assert_eq!(
        parse("{'countryOrRegion': 'US', 'geoCoordinates': {'longitude': -87.84, 'latitude': 41.99}, 'state': 'Illinois', 'city': 'Park Ridge'}").unwrap(),
        json!({"countryOrRegion": "US", "geoCoordinates": {"longitude": -87.84, "latitude": 41.99}, "state": "Illinois", "city": "Park Ridge"})
    );
    assert_eq!(
        parse("{'errorCode': 90072, 'failureReason': 'Other'}").unwrap(),
        json!({"errorCode": 90072, "failureReason": "Other"})
    );
    assert_eq!(
        parse("[{'enforcedSessionControls': ['CloudAppSecurity'], 'ok': True, 'x': None}]")
            .unwrap(),
        json!([{"enforcedSessionControls": ["CloudAppSecurity"], "ok": true, "x": null}])
    );
    assert_eq!(parse("{}").unwrap(), json!({}));
    assert_eq!(parse(" [] ").unwrap(), json!([]));
}

#[test]
fn json_is_accepted_too() {
    let text = r#"[{"a": true, "b": null, "c": [1, 2.5, -3e2], "d": "x\"y\u00e9"}]"#;
    assert_eq!(
        parse(text).unwrap(),
        serde_json::from_str::<Value>(text).unwrap()
    );
}

#[test]
fn strings_and_escapes() {
    assert_eq!(parse(r#""it's""#).unwrap(), json!("it's"));
    assert_eq!(parse(r"'it\'s'").unwrap(), json!("it's"));
    assert_eq!(
        parse(r"'a\nb\tc\\d\x41\u00e9\U0001F600\101'").unwrap(),
        json!("a\nb\tc\\dAé😀A")
    );
    assert_eq!(parse(r"'\d'").unwrap(), json!("\\d"));
    assert_eq!(parse(r"u'x'").unwrap(), json!("x"));
    assert_eq!(parse(r"r'a\nb'").unwrap(), json!("a\\nb"));
    assert_eq!(parse(r"b'abc'").unwrap(), json!("abc"));
    assert_eq!(parse("'Liège'").unwrap(), json!("Liège"));
}

#[test]
fn numbers_tuples_sets_and_keys() {
    assert_eq!(parse("(1, 2)").unwrap(), json!([1, 2]));
    assert_eq!(parse("(1,)").unwrap(), json!([1]));
    assert_eq!(parse("(1)").unwrap(), json!(1));
    assert_eq!(parse("()").unwrap(), json!([]));
    assert_eq!(parse("{1, 'a'}").unwrap(), json!([1, "a"]));
    assert_eq!(
        parse("{1: 'a', True: 2, None: 3}").unwrap(),
        json!({"1": "a", "True": 2, "None": 3})
    );
    assert_eq!(parse("1.0").unwrap(), json!(1.0));
    assert_eq!(parse("-7").unwrap(), json!(-7));
    assert_eq!(parse("1e+20").unwrap(), json!(1e20));
    assert_eq!(
        parse("[nan, -inf, inf]").unwrap(),
        json!([null, null, null])
    );
    assert_eq!(
        parse("18446744073709551615").unwrap(),
        json!(18446744073709551615u64)
    );
    assert!(parse("123456789012345678901234567890")
        .unwrap()
        .as_f64()
        .is_some());
}

#[test]
fn errors() {
    assert_eq!(parse(""), Err(PyReprError::UnexpectedEnd));
    assert_eq!(parse("{'a': 1"), Err(PyReprError::UnexpectedEnd));
    assert!(matches!(
        parse("Timestamp('2021-06-29')"),
        Err(PyReprError::UnknownName { .. })
    ));
    assert!(matches!(parse("[1] x"), Err(PyReprError::Trailing { .. })));
    assert!(matches!(parse("{[1]: 2}"), Err(PyReprError::BadKey { .. })));
    assert!(matches!(
        parse("'\\x4'"),
        Err(PyReprError::BadEscape { .. })
    ));
    assert!(matches!(parse("-"), Err(PyReprError::BadNumber { .. })));
    assert!(matches!(
        parse("{'a' 1}"),
        Err(PyReprError::Unexpected { .. })
    ));
    assert_eq!(parse(&"[".repeat(1000)), Err(PyReprError::TooDeep));
    assert_eq!(parse(&"(".repeat(1000)), Err(PyReprError::TooDeep));
}

/// Renders a JSON value the way Python's `repr` would print the equivalent object.
fn to_repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&format!("{f:?}")),
            _ => out.push_str("None"),
        },
        Value::String(s) => repr_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                to_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str(k, out);
                out.push_str(": ");
                to_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`.
fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() && (c as u32) <= 0xffff => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[a-z'\"\\\\ ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_reprish_text(s in "[\\[\\]{}():,'\"\\\\ 0-9a-zA-Z.eE+_-]{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn round_trips_python_literals(v in json_value()) {
        let mut text = String::new();
        to_repr(&v, &mut text);
        prop_assert_eq!(parse(&text), Ok(v), "{}", text);
    }
}
