//! Property tests for what the collectors parse from the network or from their own stored
//! state: arbitrary bytes never panic, valid values round-trip.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;
use skein_collect::cursor::{Cursor, OpenWindow, Window};
use skein_collect::graph::parse_page;
use skein_collect::http::parse_retry_after;
use skein_collect::loganalytics::{read_answer, Answer, SubRange};
use skein_collect::s3::parse_object_bytes;
use skein_ingest::Item;

fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
    // 2000-01-01 .. 2100-01-01, millisecond precision (what the stored forms keep).
    (946_684_800_000i64..4_102_444_800_000i64)
        .prop_map(|ms| Utc.timestamp_millis_opt(ms).single().unwrap_or_default())
}

fn any_window() -> impl Strategy<Value = Window> {
    (any_time(), 0i64..86_400_000).prop_map(|(from, len)| Window {
        from,
        to: from + Duration::milliseconds(len),
    })
}

fn any_cursor() -> impl Strategy<Value = Cursor> {
    (
        proptest::option::of(any_time()),
        proptest::option::of((any_window(), proptest::option::of(".{0,80}"))),
    )
        .prop_map(|(done_until, open)| Cursor {
            done_until,
            open: open.map(|(window, resume)| OpenWindow { window, resume }),
        })
}

/// Bytes that are sometimes JSON-ish, so that the parsers get past their first check.
fn jsonish_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "[\\[\\]{}\":,0-9a-zA-Z@. ]{0,200}".prop_map(String::into_bytes),
        (".{0,40}", ".{0,40}").prop_map(|(a, b)| {
            format!("{{\"value\":[{a}],\"@odata.nextLink\":\"{b}\"}}").into_bytes()
        }),
        (".{0,40}", 0u64..5).prop_map(|(a, n)| {
            format!(
                "{{\"tables\":[{{\"rows\":[{}]}}],\"error\":{a}}}",
                "[1],".repeat(n as usize)
            )
            .into_bytes()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn graph_pages_never_panic(body in jsonish_bytes()) {
        let _ = parse_page(&body);
    }

    #[test]
    fn log_analytics_answers_never_panic(body in jsonish_bytes(), max_rows in 0u64..10) {
        let _ = read_answer(&body, max_rows);
    }

    #[test]
    fn stored_positions_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), text in ".{0,80}") {
        let _ = Cursor::decode(&bytes);
        let _ = SubRange::decode(&text);
        let _ = SubRange::decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn retry_after_never_panics(text in ".{0,40}", secs in any::<f64>()) {
        let _ = parse_retry_after(&text);
        let _ = parse_retry_after(&secs.to_string());
    }

    #[test]
    fn trail_objects_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut gzipped = vec![0x1f, 0x8b];
        gzipped.extend_from_slice(&bytes);
        let _ = parse_object_bytes(bytes, 4096);
        let _ = parse_object_bytes(gzipped, 4096);
    }

    #[test]
    fn cursors_round_trip(cursor in any_cursor()) {
        prop_assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }

    #[test]
    fn sub_ranges_round_trip(start in any_time(), span_ms in 1i64..1_000_000_000_000) {
        let sub = SubRange { start, span: Duration::milliseconds(span_ms) };
        prop_assert_eq!(SubRange::decode(&sub.encode()), Some(sub));
    }

    /// A page of valid sign-ins gives one event per record, with its id, time and address,
    /// and the page's next link as sent.
    #[test]
    fn graph_pages_round_trip(
        records in proptest::collection::vec(("[a-f0-9]{8}", any_time(), any::<[u8; 4]>(), prop_oneof![Just(0i64), Just(50126)]), 0..8),
        next in proptest::option::of("https://graph\\.microsoft\\.com/v1\\.0/auditLogs/signIns\\?\\$skiptoken=[A-Za-z0-9]{1,30}"),
    ) {
        let value: Vec<_> = records.iter().map(|(id, time, ip, code)| {
            let ip = std::net::Ipv4Addr::from(*ip).to_string();
            skein_fakes::azure::signin(id, *time, "user@example.com", &ip, *code)
        }).collect();
        let mut page = json!({ "value": value });
        if let Some(link) = &next {
            page["@odata.nextLink"] = json!(link);
        }
        let body = serde_json::to_vec(&page).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (items, link) = parse_page(&body).map_err(TestCaseError::fail)?;
        prop_assert_eq!(link, next);
        prop_assert_eq!(items.len(), records.len());
        for (item, (id, time, ip, _)) in items.iter().zip(&records) {
            let Item::Event(event) = item else {
                return Err(TestCaseError::fail(format!("not an event: {item:?}")));
            };
            prop_assert_eq!(&event.id, id);
            prop_assert_eq!(event.time.timestamp(), time.timestamp());
            prop_assert_eq!(event.src_ip, Some(std::net::IpAddr::from(*ip)));
        }
    }

    /// An answer under the row limit is complete, at or over it is too large, and an
    /// error reported by the service is either a limit or a failure, never a success.
    #[test]
    fn log_analytics_answers_classify(rows in 0u64..20, max_rows in 1u64..20, partial in any::<bool>()) {
        let rows_json: Vec<_> = (0..rows).map(|i| json!([i])).collect();
        let answer = json!({"tables": [{"name": "PrimaryResult", "columns": [{"name": "n", "type": "long"}], "rows": rows_json}]});
        let body = serde_json::to_vec(&answer).map_err(|e| TestCaseError::fail(e.to_string()))?;
        match read_answer(&body, max_rows) {
            Ok(Answer::Complete(_)) => prop_assert!(rows < max_rows),
            Ok(Answer::TooLarge(_)) => prop_assert!(rows >= max_rows),
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
        let code = if partial { "PartialError" } else { "BadArgumentError" };
        let failed = json!({"error": {"code": code, "message": "m"}, "tables": []});
        let body = serde_json::to_vec(&failed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        match read_answer(&body, max_rows) {
            Ok(Answer::TooLarge(_)) => prop_assert!(partial),
            Ok(Answer::Failed(_)) => prop_assert!(!partial),
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
    }
}
