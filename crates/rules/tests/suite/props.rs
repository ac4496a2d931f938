//! Property tests: no rule text, list text or event makes the rules crate panic.

use proptest::prelude::*;
use skein_model::{Event, Source, WireShape};
use skein_rules::lists::{ListFile, ListKind, ListMatcher};
use skein_rules::view::EventView;
use skein_rules::{load, SourceText};

/// A rule that reads fields of every namespace, including the raw record.
const RULE: &str = "title: p
id: p
logsource: {product: azure, service: signinlogs}
detection:
  a: {riskLevelDuringSignIn: high}
  b: {deviceDetail.browser|contains: x}
  c: {azure.signinlogs.properties.home_tenant_id|fieldref: resourceTenantId}
  d: {risk.event_types|re: '(?i)pass'}
  e: {list.ips: true}
  f: [x, y]
  condition: 1 of them
level: low
skein:
  lists: {ips: {list: ips, field: src_ip}}
";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn loading_arbitrary_text_never_panics(text in "\\PC{0,400}", yamlish in "[a-z:| \\n\\-\\[\\]{}'\"0-9]{0,300}") {
        for t in [text, yamlish] {
            let loaded = load(
                &[SourceText { path: "r.yml".into(), text: t.clone() }],
                &[SourceText { path: "l.txt".into(), text: t }],
            );
            for d in &loaded.diagnostics {
                prop_assert!(d.line >= 1);
            }
        }
    }

    #[test]
    fn list_entries_never_panic(text in "\\PC{0,300}") {
        let f = ListFile::parse("x", "x.txt", &text);
        for kind in [ListKind::Ip, ListKind::Text, ListKind::Window] {
            if let Ok(m) = ListMatcher::compile(&f, kind) {
                let _ = m.contains(&["10.1.2.3", &text], chrono::Utc::now());
            }
        }
    }

    #[test]
    fn evaluating_events_with_arbitrary_raw_text_never_panics(
        raw in prop_oneof!["\\PC{0,200}", "\\{\"deviceDetail\":\\{\"browser\":\"[a-z]{0,8}\"\\}\\}"],
        level in proptest::option::of("[A-Za-z]{0,8}"),
        home in proptest::option::of("[a-f0-9-]{0,12}"),
        blank in any::<bool>(),
        success in any::<bool>(),
    ) {
        let loaded = load(
            &[SourceText { path: "r.yml".into(), text: RULE.into() }],
            &[SourceText { path: "ips.txt".into(), text: "10.0.0.0/8\n".into() }],
        );
        prop_assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let t = chrono::DateTime::UNIX_EPOCH;
        let mut e = Event::new("e".into(), Source::EntraSignin, WireShape::Diagnostic, t);
        e.raw = raw;
        e.risk.level_during_signin = level;
        e.tenants.home = home;
        e.tenants.home_blank = blank;
        e.outcome.success = success;
        e.src_ip = Some("10.1.2.3".parse().unwrap());
        let mut out = Vec::new();
        let mut stats = loaded.rules.new_stats();
        loaded.rules.evaluate(&e, &mut out, &mut stats);
        prop_assert_eq!(stats.events, 1);
        let _ = EventView::new(&e);
    }
}
