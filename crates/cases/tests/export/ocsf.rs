//! The OCSF export against the attributes the schema requires of a Detection Finding.

use serde_json::Value;
use skein_cases::Format;

use crate::exported;

/// Attributes OCSF 1.3.0 marks `required` for Detection Finding (class_uid 2004): those of
/// `base_event` (activity_id, category_uid, class_uid, metadata, severity_id, time, type_uid)
/// and of `finding` (finding_info). Sources: the ocsf/ocsf-schema repository,
/// `events/base_event.json` (with its `traits`/dictionary), `events/findings/finding.json` and
/// `events/findings/detection_finding.json`, and the rendered 1.3.0 class page
/// (docs.tenzir.com/reference/ocsf/1-3-0/classes/detection_finding), found with the `search`
/// tool's "docs" corpus ("OCSF Detection Finding 2004 required attributes").
const REQUIRED: [&str; 8] = [
    "activity_id",
    "category_uid",
    "class_uid",
    "finding_info",
    "metadata",
    "severity_id",
    "time",
    "type_uid",
];
/// Required inside `finding_info` (`objects/finding_info.json`: `uid`; `title` was required
/// up to 1.x and is kept), and inside `metadata` (`objects/metadata.json`: `product`,
/// `version`).
const FINDING_INFO_REQUIRED: [&str; 2] = ["uid", "title"];
const METADATA_REQUIRED: [&str; 2] = ["product", "version"];

fn records() -> Vec<Value> {
    serde_json::from_str(&exported(Format::Ocsf)).expect("the OCSF export is a JSON array")
}

#[test]
fn one_detection_finding_per_finding_with_every_required_attribute() {
    let records = records();
    assert_eq!(records.len(), 5);
    for r in &records {
        for field in REQUIRED {
            assert!(!r[field].is_null(), "missing {field} in {r}");
        }
        for field in FINDING_INFO_REQUIRED {
            assert!(
                r["finding_info"][field].is_string(),
                "missing finding_info.{field}"
            );
        }
        for field in METADATA_REQUIRED {
            assert!(!r["metadata"][field].is_null(), "missing metadata.{field}");
        }
        assert_eq!(r["class_uid"], 2004);
        assert_eq!(r["category_uid"], 2);
        let activity = r["activity_id"].as_u64().expect("activity_id is a number");
        assert_eq!(r["type_uid"].as_u64(), Some(2004 * 100 + activity));
        assert!((1..=6).contains(&r["severity_id"].as_u64().expect("severity_id")));
        assert!(r["time"].is_i64(), "time is epoch milliseconds");
        assert_eq!(r["metadata"]["product"]["name"], "skein");
        assert_eq!(r["metadata"]["product"]["vendor_name"], "skein");
        assert_eq!(r["status_id"], 1);
    }
}

#[test]
fn findings_carry_their_case_and_entities() {
    let records = records();
    let spray = &records[0];
    assert_eq!(spray["finding_info"]["uid"], "F-0a1b2c3d4e5f6071");
    assert_eq!(spray["metadata"]["correlation_uid"], "C-3f9a1c0d5e7b2a41");
    assert_eq!(spray["severity_id"], 4);
    assert_eq!(
        spray["time"], 1_772_439_600_000_i64,
        "last seen, 2026-03-02T08:20:00Z"
    );
    let observables = spray["observables"].as_array().expect("observables");
    assert!(observables
        .iter()
        .any(|o| o["type_id"] == 2 && o["value"] == "203.0.113.7"));
}
