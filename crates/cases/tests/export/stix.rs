//! The STIX 2.1 bundle, parsed by the OASIS `stix2` library with `allow_custom=False`.

use std::process::Command;

use serde_json::Value;
use skein_cases::Format;

use crate::exported;

/// Parses the bundle strictly, then checks that every SCO id is the deterministic one the
/// library itself computes (STIX 2.1 §2.9), and prints the number of objects.
const PARSE: &str = r#"
import json, sys
import stix2
text = open(sys.argv[1], encoding="utf-8").read()
bundle = stix2.parse(text, allow_custom=False)
classes = {"user-account": stix2.UserAccount, "ipv4-addr": stix2.IPv4Address,
           "ipv6-addr": stix2.IPv6Address}
for obj in json.loads(text)["objects"]:
    cls = classes.get(obj["type"])
    if cls is not None:
        fresh = cls(**{k: v for k, v in obj.items() if k != "id"})
        if fresh.id != obj["id"]:
            sys.exit("%s should have id %s" % (obj["id"], fresh.id))
print(len(bundle.objects))
"#;

#[test]
fn stix_bundle_is_valid_for_the_stix2_library() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let probe = Command::new(&python)
        .args(["-c", "import stix2"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; run scripts/test-deps.sh"));
    assert!(
        probe.status.success(),
        "the Python stix2 library is not importable ({}); run scripts/test-deps.sh",
        String::from_utf8_lossy(&probe.stderr).trim()
    );

    let bundle = exported(Format::Stix);
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, &bundle).expect("write the bundle");
    let out = Command::new(&python)
        .args(["-c", PARSE])
        .arg(&path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "stix2 rejected the bundle:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_str(&bundle).expect("JSON");
    let n = parsed["objects"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), n.to_string());
}

#[test]
fn stix_bundle_has_a_grouping_per_case_and_a_note_per_finding() {
    let bundle: Value = serde_json::from_str(&exported(Format::Stix)).expect("JSON");
    assert_eq!(bundle["type"], "bundle");
    assert!(bundle["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("bundle--")));
    let objects = bundle["objects"].as_array().expect("objects");
    let count = |ty: &str| objects.iter().filter(|o| o["type"] == ty).count();
    assert_eq!(count("grouping"), 2);
    assert_eq!(count("note"), 5);
    assert_eq!(count("observed-data"), 5);
    assert!(count("relationship") >= 8);
    // The formula UPN is a user account's login, as data.
    assert!(
        objects
            .iter()
            .any(|o| o["type"] == "user-account"
                && o["account_login"] == crate::fixtures::FORMULA_UPN)
    );
    for g in objects.iter().filter(|o| o["type"] == "grouping") {
        assert_eq!(g["context"], "suspicious-activity");
        assert!(g["object_refs"].as_array().is_some_and(|r| !r.is_empty()));
    }
    // Every reference resolves inside the bundle.
    let ids: std::collections::BTreeSet<&str> =
        objects.iter().filter_map(|o| o["id"].as_str()).collect();
    for o in objects {
        for key in ["object_refs"] {
            for r in o[key].as_array().into_iter().flatten() {
                assert!(ids.contains(r.as_str().unwrap_or("")), "dangling {r}");
            }
        }
        for key in ["source_ref", "target_ref", "created_by_ref"] {
            if let Some(r) = o[key].as_str() {
                assert!(ids.contains(r), "dangling {key} {r}");
            }
        }
    }
}
