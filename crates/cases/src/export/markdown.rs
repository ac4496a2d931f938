//! The Markdown export: a report with one section per case (title, id, severity and score
//! with its parts, tactics, clouds, then tables of findings, entities, hubs and the timeline).
//!
//! Every value that comes from the data goes through [`cell`]: `|` and backticks are
//! backslash-escaped, `&`, `<` and `>` become entities (so `<script>` is shown, not run, by
//! renderers that pass HTML through) and line breaks become `<br>`, so a value can neither
//! end a table row nor open code, a tag or a new block.

use std::fmt::Write;

use super::{entity_key, finding_entities, rfc3339};
use crate::model::Case;

pub(super) fn markdown(cases: &[Case]) -> String {
    let mut out = String::new();
    out.push_str("# skein cases\n\n");
    if cases.is_empty() {
        out.push_str("No cases.\n");
        return out;
    }
    let _ = writeln!(out, "{} case(s).\n", cases.len());
    for case in cases {
        section(&mut out, case);
    }
    out
}

fn section(out: &mut String, c: &Case) {
    let _ = writeln!(out, "## {}\n", cell(&c.title));
    let _ = writeln!(out, "- **Id:** {}", cell(&c.id));
    let _ = writeln!(
        out,
        "- **Severity:** {} (score {})",
        c.severity.as_str(),
        c.score
    );
    let _ = writeln!(
        out,
        "- **Seen:** {} to {}",
        rfc3339(c.first_seen),
        rfc3339(c.last_seen)
    );
    let _ = writeln!(out, "- **Tactics:** {}", list(&c.tactics, " → "));
    let _ = writeln!(out, "- **Techniques:** {}", list(&c.attack, ", "));
    let _ = writeln!(out, "- **Clouds:** {}\n", list(&c.clouds, ", "));

    out.push_str("### Score\n\n| Points | Reason |\n| ---: | --- |\n");
    for p in &c.score_parts {
        let _ = writeln!(out, "| {} | {} |", p.points, cell(&p.reason));
    }
    let _ = writeln!(out, "| **{}** | total |\n", c.score);

    out.push_str("### Findings\n\n");
    out.push_str(
        "| First seen | Last seen | Id | Rule | Severity | Score | ATT&CK | Entities | Summary |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | ---: | --- | --- | --- |\n");
    for f in &c.findings {
        let entities = finding_entities(c, f)
            .into_iter()
            .map(|e| cell(&entity_key(e)))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            rfc3339(f.first_seen),
            rfc3339(f.last_seen),
            cell(&f.id),
            cell(&f.rule),
            f.severity.as_str(),
            f.score,
            list(&f.attack, ", "),
            entities,
            cell(&f.summary),
        );
    }
    out.push('\n');

    out.push_str("### Entities\n\n| Type | Id | Name | Roles | Findings | Joins |\n");
    out.push_str("| --- | --- | --- | --- | ---: | --- |\n");
    for e in &c.entities {
        let roles = e.roles_text();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            e.entity_type,
            cell(&e.id),
            cell(e.name.as_deref().unwrap_or("")),
            roles,
            e.findings,
            if e.joins { "yes" } else { "no" },
        );
    }
    out.push('\n');

    if !c.hubs.is_empty() {
        out.push_str("### Hubs (not joined through)\n\n| Type | Id | Accounts |\n");
        out.push_str("| --- | --- | ---: |\n");
        for h in &c.hubs {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                h.entity_type,
                cell(&h.id),
                h.accounts
            );
        }
        out.push('\n');
    }

    out.push_str("### Timeline\n\n| Time | Kind | Finding | Rule | Source | Event | What |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
    for t in &c.timeline {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            rfc3339(t.time),
            cell(&t.kind),
            cell(&t.finding),
            cell(&t.rule),
            t.source.map(|s| s.as_str()).unwrap_or(""),
            cell(t.event.as_deref().unwrap_or("")),
            cell(&t.text),
        );
    }
    out.push('\n');
}

/// Escaped values joined by `sep`, or `—` for none.
fn list(items: &[String], sep: &str) -> String {
    if items.is_empty() {
        return "—".to_string();
    }
    items.iter().map(|s| cell(s)).collect::<Vec<_>>().join(sep)
}

/// A value safe in a table cell, a list item or a heading.
pub(super) fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            // No links or images from data (`[x](http://…)`, `![x](…)` fetches on render).
            '[' | ']' | '!' | '*' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_cannot_make_links_or_images() {
        assert_eq!(cell("![x](http://e/t.png)"), "\\!\\[x\\](http://e/t.png)");
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(
            cell("a|b`c`<script>\r\nx\\"),
            "a\\|b\\`c\\`&lt;script&gt;<br>x\\\\"
        );
    }
}
