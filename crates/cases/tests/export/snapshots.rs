//! One insta snapshot per format (under `tests/snapshots/`). The output has nothing volatile
//! to redact: it depends only on the cases.

use skein_cases::{export, Format};

use crate::{exported, fixtures};

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

macro_rules! snapshot_test {
    ($name:ident, $format:expr) => {
        #[test]
        fn $name() {
            let out = exported($format);
            settings().bind(|| insta::assert_snapshot!(concat!("export_", stringify!($name)), out));
        }
    };
}

snapshot_test!(json, Format::Json);
snapshot_test!(ndjson, Format::Ndjson);
snapshot_test!(csv, Format::Csv);
snapshot_test!(md, Format::Md);
snapshot_test!(stix, Format::Stix);
snapshot_test!(ocsf, Format::Ocsf);
snapshot_test!(dot, Format::Dot);
snapshot_test!(html, Format::Html);

#[test]
fn output_does_not_depend_on_case_order() {
    let mut reversed = fixtures::cases();
    reversed.reverse();
    for format in Format::ALL {
        let a = exported(format);
        let b = export(&reversed, format).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(a, b, "{format} depends on the order of the cases");
    }
}

#[test]
fn no_cases_export_cleanly() {
    for format in Format::ALL {
        let out = export(&[], format).unwrap_or_else(|e| panic!("{format}: {e}"));
        match format {
            Format::Json | Format::Ocsf => assert_eq!(out.trim(), "[]"),
            Format::Ndjson => assert!(out.is_empty()),
            Format::Csv => assert_eq!(out.lines().count(), 1, "header only"),
            _ => assert!(!out.is_empty()),
        }
    }
}

#[test]
fn json_round_trips_to_the_cases() {
    let back: Vec<skein_cases::Case> =
        serde_json::from_str(&exported(Format::Json)).expect("the JSON export parses as cases");
    assert_eq!(back.len(), 2);
    for line in exported(Format::Ndjson).lines() {
        let _: skein_cases::Case = serde_json::from_str(line).expect("each NDJSON line is a case");
    }
}
