//! The Graphviz DOT export: one digraph, a `subgraph cluster_<n>` per case (in export order),
//! a node per entity of its graph labelled `type:id` and its name, an edge per link labelled
//! with its kind and with its reason as tooltip.
//!
//! Node ids are the case id and the entity key (`C-…/user:…`), so an entity of two cases is
//! drawn in both clusters. Every id and attribute is a quoted string escaped by [`quoted`].

use std::fmt::Write;

use crate::model::{Case, GraphNode};

pub(super) fn dot(cases: &[Case]) -> String {
    let mut out = String::new();
    out.push_str("digraph skein {\n");
    out.push_str("  graph [rankdir=LR, fontname=\"Helvetica\", compound=true];\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for (n, case) in cases.iter().enumerate() {
        cluster(&mut out, n, case);
    }
    out.push_str("}\n");
    out
}

fn cluster(out: &mut String, n: usize, c: &Case) {
    let _ = writeln!(out, "  subgraph cluster_{n} {{");
    let label = format!(
        "{}\n{} · {} · score {}",
        c.title,
        c.id,
        c.severity.as_str(),
        c.score
    );
    let _ = writeln!(out, "    label={};", quoted(&label));
    let _ = writeln!(out, "    tooltip={};", quoted(&c.id));
    let node_id = |key: &str| quoted(&format!("{}/{}", c.id, key));
    for node in &c.graph.nodes {
        let _ = writeln!(
            out,
            "    {} [label={}, tooltip={}];",
            node_id(&node.key),
            quoted(&node_label(node)),
            quoted(&node.key)
        );
    }
    for e in &c.graph.edges {
        let _ = writeln!(
            out,
            "    {} -> {} [label={}, tooltip={}];",
            node_id(&e.from),
            node_id(&e.to),
            quoted(&e.kind),
            quoted(&e.reason)
        );
    }
    out.push_str("  }\n");
}

/// `type:id`, and the name on a second line when there is one.
fn node_label(n: &GraphNode) -> String {
    let key = format!("{}:{}", n.entity_type, n.id);
    match &n.name {
        Some(name) if !name.is_empty() => format!("{key}\n{name}"),
        _ => key,
    }
}

/// A DOT quoted string: `\` and `"` escaped, line breaks as `\n` (a centred line break in
/// labels and tooltips).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn dot_strings_are_escaped() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted("x\r\ny\n"), r#""x\ny\n""#);
        assert_eq!(quoted("trailing\\"), r#""trailing\\""#);
    }
}
