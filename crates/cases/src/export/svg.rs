//! A case's graph drawn as inline SVG for the HTML report, with a layout computed here: up to
//! four columns read left to right as an attack goes (addresses, accounts, sessions and keys,
//! principals and resources), the nodes of a column sorted by type and key and stacked, links
//! as lines (curves inside a column) under the nodes. Every text goes through
//! [`esc`]; a node or link shows its full key or reason as a `<title>` tooltip.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::html::esc;
use crate::model::CaseGraph;
use skein_model::EntityType;

const WIDTH: f64 = 1100.0;
const MARGIN_X: f64 = 110.0;
const TOP: f64 = 50.0;
const ROW: f64 = 58.0;
const NODE_W: f64 = 200.0;
const NODE_H: f64 = 40.0;
/// Characters of a label shown in a box (the rest is in the tooltip).
const LABEL_CHARS: usize = 26;

/// The graph as an `<svg>` element, or a short note when it has no nodes.
pub(super) fn svg(graph: &CaseGraph) -> String {
    if graph.nodes.is_empty() {
        return "<p class=\"muted\">No graph.</p>\n".to_string();
    }
    // Columns by band, rows by type and key.
    let mut columns: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, n) in graph.nodes.iter().enumerate() {
        columns.entry(band(n.entity_type)).or_default().push(i);
    }
    let ncols = columns.len();
    let rows = columns.values().map(Vec::len).max().unwrap_or(1);
    let height = TOP + ROW * rows.saturating_sub(1) as f64 + NODE_H + 20.0;
    let mut pos: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (col, (_, members)) in columns.iter_mut().enumerate() {
        members.sort_by(|a, b| {
            let (a, b) = (&graph.nodes[*a], &graph.nodes[*b]);
            (a.entity_type, &a.key).cmp(&(b.entity_type, &b.key))
        });
        let x = if ncols == 1 {
            WIDTH / 2.0
        } else {
            MARGIN_X + (WIDTH - 2.0 * MARGIN_X) * col as f64 / (ncols - 1) as f64
        };
        // Centre a short column vertically.
        let offset = ROW * (rows - members.len()) as f64 / 2.0;
        for (row, &i) in members.iter().enumerate() {
            let y = TOP + NODE_H / 2.0 + offset + ROW * row as f64;
            pos.insert(graph.nodes[i].key.as_str(), (x, y));
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"graph\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"case graph\">"
    );
    // Column headings.
    for (col, band) in columns.keys().enumerate() {
        let x = if ncols == 1 {
            WIDTH / 2.0
        } else {
            MARGIN_X + (WIDTH - 2.0 * MARGIN_X) * col as f64 / (ncols - 1) as f64
        };
        let _ = writeln!(
            out,
            "<text class=\"col\" x=\"{x:.1}\" y=\"20\" text-anchor=\"middle\">{}</text>",
            BANDS.get(*band).copied().unwrap_or("")
        );
    }
    // Links first, so that the nodes cover their ends.
    for e in &graph.edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(e.from.as_str()), pos.get(e.to.as_str()))
        else {
            continue;
        };
        let class = if e.kind == "finding" {
            "edge"
        } else {
            "edge identity"
        };
        let title = format!("{} → {}\n{}: {}", e.from, e.to, e.kind, e.reason);
        if (x1 - x2).abs() < f64::EPSILON {
            let bend = x1 + NODE_W / 2.0 + 40.0;
            let _ = writeln!(
                out,
                "<path class=\"{class}\" d=\"M{x1:.1} {y1:.1} Q{bend:.1} {:.1} {x2:.1} {y2:.1}\"><title>{}</title></path>",
                (y1 + y2) / 2.0,
                esc(&title)
            );
        } else {
            let _ = writeln!(
                out,
                "<line class=\"{class}\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\"><title>{}</title></line>",
                esc(&title)
            );
        }
    }
    for n in &graph.nodes {
        let Some(&(x, y)) = pos.get(n.key.as_str()) else {
            continue;
        };
        let title = match &n.name {
            Some(name) if !name.is_empty() => format!("{}\n{}", n.key, name),
            _ => n.key.clone(),
        };
        let shown = n.name.as_deref().filter(|s| !s.is_empty()).unwrap_or(&n.id);
        let _ = writeln!(
            out,
            "<g class=\"node t-{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"8\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
            n.entity_type.as_str(),
            esc(&title),
            x - NODE_W / 2.0,
            y - NODE_H / 2.0,
            y + 5.0,
            esc(&truncate(shown, LABEL_CHARS))
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Column headings, by band.
const BANDS: [&str; 4] = [
    "addresses",
    "accounts",
    "sessions and keys",
    "principals and resources",
];

/// The column an entity type is drawn in.
fn band(ty: EntityType) -> usize {
    match ty {
        EntityType::Ip => 0,
        EntityType::User | EntityType::App => 1,
        EntityType::Token | EntityType::AwsSession | EntityType::AwsKey => 2,
        EntityType::AwsPrincipal | EntityType::Tenant | EntityType::Storage => 3,
    }
}

/// At most `max` characters, with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
