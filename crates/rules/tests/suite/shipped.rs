//! The rules shipped in `correlations/` load without a single diagnostic.

use std::path::Path;

use crate::common::{texts, SHIPPED_IDS};
use skein_rules::load;

#[test]
fn shipped_rules_load_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../correlations");
    let loaded = load(
        &texts(&root.join("rules"), &["yml", "yaml"]),
        &texts(&root.join("lists"), &["txt"]),
    );
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    assert!(loaded.diagnostics.is_empty());
    let ids: Vec<&str> = loaded
        .rules
        .finding_rules()
        .into_iter()
        .map(|(id, ..)| id)
        .collect();
    for id in SHIPPED_IDS {
        assert!(ids.contains(&id), "{id} not loaded: {ids:?}");
    }
    assert!(!loaded.rules.needs_raw(), "shipped rules must not need raw");
}
