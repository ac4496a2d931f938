//! Malformed input is rejected with file, line and reason; the good records around it go in.

use std::io::Write;
use std::path::Path;

use crate::util::{count, Skein};

fn trail_record(n: u32) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2024-05-01T10:{:02}:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.{n}","userAgent":"aws-cli/2.15.0","eventID":"00000000-0000-0000-0000-{n:012}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accessKeyId":"AKIAEXAMPLE0001"}}}}"#,
        n % 60
    )
}

fn graph_signin(id: &str, error_code: &str) -> String {
    format!(
        r#"{{"id":"{id}","createdDateTime":"2024-05-01T09:00:00Z","userPrincipalName":"alice@contoso.com","userId":"0b0c0d0e-1111-2222-3333-444455556666","ipAddress":"203.0.113.9","appId":"c44b4083-3bb0-49c1-b47d-974e53cbdf3c","status":{{"errorCode":{error_code}}}}}"#
    )
}

fn quarantined_for<'a>(
    q: &'a [serde_json::Value],
    file: &Path,
    line: u64,
) -> Option<&'a serde_json::Value> {
    let name = file.display().to_string();
    q.iter()
        .find(|r| r["file"].as_str() == Some(name.as_str()) && r["line"].as_u64() == Some(line))
}

#[test]
fn each_kind_of_bad_record_is_quarantined_and_the_rest_is_stored() {
    let skein = Skein::new();
    let dir = tempfile::tempdir().expect("tmp");
    let mixed = dir.path().join("mixed.jsonl");
    let mut f = std::fs::File::create(&mixed).expect("create");
    // line 1: good
    writeln!(f, "{}", trail_record(1)).expect("write");
    // line 2: invalid UTF-8 inside a string
    f.write_all(b"{\"eventVersion\":\"1.08\",\"eventName\":\"Bad\xff\xfe\"}\n")
        .expect("write");
    // line 3: good
    writeln!(f, "{}", trail_record(3)).expect("write");
    // line 4: a 10 MB line
    writeln!(f, "{{\"padding\":\"{}\"}}", "a".repeat(10 * 1024 * 1024)).expect("write");
    // line 5: good
    writeln!(f, "{}", trail_record(5)).expect("write");
    // line 6: a wrong type: errorCode "abc"
    writeln!(
        f,
        "{}",
        graph_signin("5f0e0000-0000-0000-0000-000000000006", "\"abc\"")
    )
    .expect("write");
    // line 7: a JSON array of numbers
    writeln!(f, "[1, 2, 3]").expect("write");
    // line 8: a good sign-in
    writeln!(
        f,
        "{}",
        graph_signin("5f0e0000-0000-0000-0000-000000000008", "0")
    )
    .expect("write");
    drop(f);

    // A gzip file truncated in the middle: the records before the cut still go in.
    let gz = dir.path().join("trail.json.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for n in 10..40 {
        writeln!(enc, "{}", trail_record(n)).expect("gzip");
    }
    let full = enc.finish().expect("gzip finish");
    std::fs::write(&gz, &full[..full.len() * 2 / 3]).expect("write gz");

    let report = skein.ingest_json(&[&mixed, &gz]);
    let q = skein.quarantine();

    // Good records: 3 trail records and 1 sign-in from the mixed file, and some of the gzip.
    assert_eq!(count(&report, "entra_signin", "accepted"), 1);
    let trail_accepted = count(&report, "cloudtrail", "accepted");
    assert!(
        (3 + 1..3 + 30).contains(&trail_accepted),
        "the records before the gzip cut are stored: {trail_accepted}"
    );

    let reason = |line| {
        quarantined_for(&q, &mixed, line)
            .unwrap_or_else(|| panic!("line {line} of mixed.jsonl not quarantined: {q:#?}"))
            ["reason"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
    };
    assert!(reason(2).contains("utf-8"), "{}", reason(2));
    assert!(
        reason(4).contains("larger") || reason(4).contains("exceeds"),
        "{}",
        reason(4)
    );
    assert!(reason(6).contains("errorcode"), "{}", reason(6));
    assert!(!reason(7).is_empty());
    let gz_name = gz.display().to_string();
    assert!(
        q.iter()
            .any(|r| r["file"].as_str() == Some(gz_name.as_str())
                && r["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("gzip stream truncated")),
        "the truncated gzip is reported: {q:#?}"
    );
    // The quarantined excerpt never holds the 10 MB line.
    assert!(q
        .iter()
        .all(|r| r["excerpt"].as_str().unwrap_or_default().len() <= 4096));
    let stats = skein.stats();
    assert_eq!(stats["quarantined"].as_u64(), Some(q.len() as u64));
}

#[test]
fn forcing_a_source_rejects_records_of_other_sources() {
    let skein = Skein::new();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("both.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            trail_record(1),
            graph_signin("5f0e0000-0000-0000-0000-0000000000aa", "0")
        ),
    )
    .expect("write");
    let out = skein.ok(&[
        "ingest",
        "--format",
        "json",
        "--source",
        "entra",
        &file.display().to_string(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(count(&report, "entra_signin", "accepted"), 1);
    assert_eq!(count(&report, "cloudtrail", "accepted"), 0);
    assert_eq!(count(&report, "cloudtrail", "rejected"), 1);
}
