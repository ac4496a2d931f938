//! A compiled selection's identity as text: two selections with the same fingerprint match
//! the same events (the rule set evaluates identical selections once, see
//! [`crate::fast::DetectionTable`]).
//!
//! Why not the selection's `Debug` text, which it replaced: that prints the compiled
//! automata too (an Aho-Corasick set's whole transition table), and made loading the shipped
//! rules ~50M instructions, a tenth of a sweep. A matcher is identified here by what it was
//! compiled from: its values and flags, a regular expression's pattern (rsigma writes flags
//! into the pattern), an automaton's needles.

use std::fmt::Write as _;

use rsigma_eval::{CompiledDetection, CompiledDetectionItem, CompiledMatcher};

/// Appends the fingerprint of `d` to `out`.
pub(crate) fn detection(d: &CompiledDetection, out: &mut String) {
    match d {
        CompiledDetection::AllOf(items) => list("all", items, item, out),
        CompiledDetection::AnyOf(ds) => list("any", ds, detection, out),
        // Shapes the fast path does not evaluate (their rules fall back to rsigma, and
        // never reach the table): their full description.
        other => {
            let _ = write!(out, "{other:?}");
        }
    }
}

fn item(i: &CompiledDetectionItem, out: &mut String) {
    let CompiledDetectionItem {
        field,
        matcher: m,
        exists,
        bloom_eligible,
    } = i;
    let _ = write!(out, "{field:?}/{exists:?}/{bloom_eligible}:");
    matcher(m, out);
}

/// Appends `tag[` and each of `items`' fingerprints followed by a comma, then `]`.
fn list<T>(tag: &str, items: &[T], one: fn(&T, &mut String), out: &mut String) {
    out.push_str(tag);
    out.push('[');
    for x in items {
        one(x, out);
        out.push(',');
    }
    out.push(']');
}

/// Appends the fingerprint of `m` (every variant named: a new one does not compile until it
/// is given one).
fn matcher(m: &CompiledMatcher, out: &mut String) {
    // (Writing to a String cannot fail.)
    let _ = match m {
        CompiledMatcher::Exact {
            value,
            case_insensitive,
        } => write!(out, "eq{case_insensitive}{value:?}"),
        CompiledMatcher::Contains {
            value,
            case_insensitive,
        } => write!(out, "in{case_insensitive}{value:?}"),
        CompiledMatcher::StartsWith {
            value,
            case_insensitive,
        } => write!(out, "sw{case_insensitive}{value:?}"),
        CompiledMatcher::EndsWith {
            value,
            case_insensitive,
        } => write!(out, "ew{case_insensitive}{value:?}"),
        CompiledMatcher::Regex(r) => write!(out, "re{:?}", r.as_str()),
        CompiledMatcher::AhoCorasickSet {
            needles,
            case_insensitive,
            // Built from the needles (see the module doc).
            automaton: _,
        } => write!(out, "ac{case_insensitive}{needles:?}"),
        CompiledMatcher::RegexSetMatch { set, mode } => {
            write!(out, "rs{mode:?}{:?}", set.patterns())
        }
        CompiledMatcher::Cidr(net) => write!(out, "cidr{net:?}"),
        CompiledMatcher::NumericEq(n) => write!(out, "n={}", n.to_bits()),
        CompiledMatcher::NumericGt(n) => write!(out, "n>{}", n.to_bits()),
        CompiledMatcher::NumericGte(n) => write!(out, "n>={}", n.to_bits()),
        CompiledMatcher::NumericLt(n) => write!(out, "n<{}", n.to_bits()),
        CompiledMatcher::NumericLte(n) => write!(out, "n<={}", n.to_bits()),
        CompiledMatcher::Exists(b) => write!(out, "exists{b}"),
        CompiledMatcher::FieldRef {
            field,
            op,
            case_insensitive,
        } => write!(out, "ref{case_insensitive}{op:?}{field:?}"),
        CompiledMatcher::Null => write!(out, "null"),
        CompiledMatcher::BoolEq(b) => write!(out, "bool{b}"),
        CompiledMatcher::Expand {
            template,
            case_insensitive,
        } => write!(out, "expand{case_insensitive}{template:?}"),
        CompiledMatcher::TimestampPart { part, inner } => {
            let _ = write!(out, "time{part:?}(");
            matcher(inner, out);
            write!(out, ")")
        }
        CompiledMatcher::Not(inner) => {
            out.push_str("not(");
            matcher(inner, out);
            write!(out, ")")
        }
        CompiledMatcher::AnyOf(ms) => {
            list("anyof", ms, matcher, out);
            Ok(())
        }
        CompiledMatcher::AllOf(ms) => {
            list("allof", ms, matcher, out);
            Ok(())
        }
        CompiledMatcher::CaseInsensitiveGroup { children, mode } => {
            list(&format!("group{mode:?}"), children, matcher, out);
            Ok(())
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsigma_eval::compile_rule;
    use rsigma_parser::parse_sigma_yaml;

    /// The compiled selections of a rule with `detection` (YAML), by name.
    fn selections(yaml_detection: &str) -> std::collections::HashMap<String, String> {
        let yaml = format!(
            "title: t\nlogsource:\n  product: azure\ndetection:\n{yaml_detection}\n  condition: all of them\n"
        );
        let parsed = parse_sigma_yaml(&yaml).expect("parses");
        let rule = compile_rule(&parsed.rules[0]).expect("compiles");
        rule.detections
            .iter()
            .map(|(name, d)| {
                let mut out = String::new();
                detection(d, &mut out);
                (name.clone(), out)
            })
            .collect()
    }

    /// The files under `dir` (recursively) with a YAML extension, read.
    fn yaml_under(dir: &std::path::Path, out: &mut Vec<crate::SourceText>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                yaml_under(&p, out);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.push(crate::SourceText {
                        text,
                        path: p.display().to_string(),
                    });
                }
            }
        }
    }

    /// Over every selection of the shipped rules and of SigmaHQ's cloud rules (their
    /// criteria too), two selections share a fingerprint only when their full `Debug` texts
    /// (the key the table used before, automata included) are equal: the fingerprint never
    /// merges selections that were kept apart.
    #[test]
    fn real_rules_share_fingerprints_only_where_they_are_identical() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        yaml_under(&root.join("correlations/rules"), &mut files);
        yaml_under(&root.join("../shared/data/sigma/rules/cloud"), &mut files);
        let rules = crate::load(&files, &[]).rules;
        assert!(rules.rules().len() >= 80, "{} rules", rules.rules().len());
        let mut by_fingerprint: std::collections::HashMap<String, String> = Default::default();
        let mut selections = 0;
        for r in rules.rules() {
            let matchers = std::iter::once(&r.matcher).chain(r.criteria.iter().map(|c| &c.matcher));
            for m in matchers {
                for d in m.compiled().detections.values() {
                    let mut fp = String::new();
                    detection(d, &mut fp);
                    let debug = format!("{d:?}");
                    let seen = by_fingerprint.entry(fp).or_insert_with(|| debug.clone());
                    assert_eq!(
                        *seen, debug,
                        "two selections share a fingerprint in {}",
                        r.id
                    );
                    selections += 1;
                }
            }
        }
        assert!(selections > 250, "only {selections} selections");
        // Selections repeat across rules (the seed ports' risk fields): some share one.
        assert!(by_fingerprint.len() < selections);
    }

    #[test]
    fn selections_compiled_alike_share_a_fingerprint_and_others_do_not() {
        let s = selections(
            "  a:\n    f|contains: [x, y, z, w, v, u, t, s]\n\
             \x20 b:\n    f|contains: [x, y, z, w, v, u, t, s]\n\
             \x20 c:\n    f|contains: [x, y, z, w, v, u, t, q]\n\
             \x20 d:\n    f|contains|cased: [x, y, z, w, v, u, t, s]\n\
             \x20 e:\n    f|re: '^a.*b$'\n\
             \x20 g:\n    f|re|i: '^a.*b$'\n\
             \x20 j:\n    g|contains: [x, y, z, w, v, u, t, s]\n\
             \x20 k:\n    f: x\n\
             \x20 l:\n    f|cased: x\n",
        );
        assert_eq!(s["a"], s["b"]);
        for (x, y) in [("a", "c"), ("a", "d"), ("e", "g"), ("a", "j"), ("k", "l")] {
            assert_ne!(s[x], s[y], "{x} and {y}");
        }
        // The automaton itself is not printed.
        assert!(s["a"].len() < 200, "{}", s["a"]);
    }
}
