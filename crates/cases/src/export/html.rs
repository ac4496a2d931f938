//! The HTML export: one self-contained page (inline CSS, inline SVG, no script, nothing
//! fetched, a Content-Security-Policy that forbids both) with, per case, a summary (title,
//! severity, score and its parts, tactics, techniques, clouds), the graph, the timeline, the
//! findings, the entities and the hubs.
//!
//! Every value from the data goes through [`esc`] (`&`, `<`, `>`, `"`, `'`), in text and in
//! attributes alike; anchors are built from the case ids reduced to `[A-Za-z0-9-]`.

use std::fmt::Write;

use super::{entity_key, finding_entities, rfc3339, svg::svg};
use crate::model::Case;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;padding:24px 32px;color:#1d2330;background:#f6f7fb}
h1{margin:0 0 4px;font-size:26px}h2{margin:0 0 8px;font-size:20px}h3{margin:22px 0 8px;font-size:15px;text-transform:uppercase;letter-spacing:.04em;color:#4a5368}
.muted{color:#6b7385}
nav ul{padding-left:18px}
section.case{background:#fff;border:1px solid #dde1ea;border-radius:10px;padding:20px 24px;margin:22px 0;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.sev{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff;text-transform:uppercase;font-size:12px}
.sev-critical{background:#8e1b2b}.sev-high{background:#c8372d}.sev-medium{background:#d98a0b}.sev-low{background:#3a7bd5}.sev-informational{background:#6b7385}
.chip{display:inline-block;padding:1px 8px;margin:2px 4px 2px 0;border-radius:10px;background:#e8ecf5;font-size:12px}
table{border-collapse:collapse;width:100%;margin:4px 0 8px;font-size:13px}
th,td{border:1px solid #dde1ea;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f7}td.num{text-align:right}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
svg.graph{max-width:100%;height:auto;background:#fbfcfe;border:1px solid #dde1ea;border-radius:8px}
svg .edge{stroke:#8a93a6;stroke-width:1.6;fill:none}svg .edge.identity{stroke:#d9822b;stroke-dasharray:6 4;stroke-width:2}
svg .node rect{fill:#e6eefb;stroke:#3a6fc4;stroke-width:1.5}svg .node text{font-size:12px;fill:#1d2330}
svg .t-ip rect{fill:#fde9e4;stroke:#c8372d}svg .t-user rect{fill:#e4f4ea;stroke:#2e8b57}
svg .t-awsprincipal rect,svg .t-awssession rect,svg .t-awskey rect{fill:#fff3dc;stroke:#d98a0b}
svg .col{font-size:12px;font-weight:600;fill:#6b7385;text-transform:uppercase}
";

pub(super) fn html(cases: &[Case]) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>skein cases</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>skein cases</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"muted\">{} case(s), worst first.</p>",
        cases.len()
    );
    if !cases.is_empty() {
        out.push_str("<nav><ul>\n");
        for c in cases {
            let _ = writeln!(
                out,
                "<li><a href=\"#{}\">{}</a> <span class=\"sev sev-{}\">{}</span> score {}</li>",
                anchor(&c.id),
                esc(&c.title),
                c.severity.as_str(),
                c.severity.as_str(),
                c.score
            );
        }
        out.push_str("</ul></nav>\n");
    }
    for c in cases {
        section(&mut out, c);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn section(out: &mut String, c: &Case) {
    let _ = writeln!(out, "<section class=\"case\" id=\"{}\">", anchor(&c.id));
    let _ = writeln!(out, "<h2>{}</h2>", esc(&c.title));
    let _ = writeln!(
        out,
        "<p><span class=\"sev sev-{}\">{}</span> score <strong>{}</strong> · <code>{}</code> · {} to {}</p>",
        c.severity.as_str(),
        c.severity.as_str(),
        c.score,
        esc(&c.id),
        rfc3339(c.first_seen),
        rfc3339(c.last_seen)
    );
    let _ = writeln!(out, "<p>Tactics: {}</p>", chips(&c.tactics));
    let _ = writeln!(out, "<p>Techniques: {}</p>", chips(&c.attack));
    let _ = writeln!(out, "<p>Clouds: {}</p>", chips(&c.clouds));

    out.push_str("<h3>Score</h3>\n<table><tr><th>Points</th><th>Reason</th></tr>\n");
    for p in &c.score_parts {
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td></tr>",
            p.points,
            esc(&p.reason)
        );
    }
    let _ = writeln!(
        out,
        "<tr><th class=\"num\">{}</th><th>total</th></tr></table>",
        c.score
    );

    out.push_str("<h3>Graph</h3>\n");
    out.push_str(&svg(&c.graph));

    out.push_str("<h3>Timeline</h3>\n<table><tr><th>Time</th><th>Kind</th><th>Finding</th><th>Rule</th><th>Source</th><th>Event</th><th>What</th></tr>\n");
    for t in &c.timeline {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            rfc3339(t.time),
            esc(&t.kind),
            esc(&t.finding),
            esc(&t.rule),
            t.source.map(|s| s.as_str()).unwrap_or(""),
            esc(t.event.as_deref().unwrap_or("")),
            esc(&t.text)
        );
    }
    out.push_str("</table>\n");

    out.push_str("<h3>Findings</h3>\n<table><tr><th>First seen</th><th>Last seen</th><th>Id</th><th>Rule</th><th>Severity</th><th>Score</th><th>ATT&amp;CK</th><th>Entities</th><th>Summary</th></tr>\n");
    for f in &c.findings {
        let entities = finding_entities(c, f)
            .into_iter()
            .map(|e| format!("<code>{}</code>", esc(&entity_key(e))))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td><span class=\"sev sev-{}\">{}</span></td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rfc3339(f.first_seen),
            rfc3339(f.last_seen),
            esc(&f.id),
            esc(&f.rule),
            f.severity.as_str(),
            f.severity.as_str(),
            f.score,
            chips(&f.attack),
            entities,
            esc(&f.summary)
        );
    }
    out.push_str("</table>\n");

    out.push_str("<h3>Entities</h3>\n<table><tr><th>Type</th><th>Id</th><th>Name</th><th>Roles</th><th>Findings</th><th>Joins</th></tr>\n");
    for e in &c.entities {
        let roles = e.roles_text();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            e.entity_type.as_str(),
            esc(&e.id),
            esc(e.name.as_deref().unwrap_or("")),
            roles,
            e.findings,
            if e.joins { "yes" } else { "no" }
        );
    }
    out.push_str("</table>\n");

    if !c.hubs.is_empty() {
        out.push_str("<h3>Hubs (not joined through)</h3>\n<table><tr><th>Type</th><th>Id</th><th>Accounts</th></tr>\n");
        for h in &c.hubs {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
                h.entity_type.as_str(),
                esc(&h.id),
                h.accounts
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

/// Values as chips, or a dash for none.
fn chips(items: &[String]) -> String {
    if items.is_empty() {
        return "<span class=\"muted\">—</span>".to_string();
    }
    items
        .iter()
        .map(|s| format!("<span class=\"chip\">{}</span>", esc(s)))
        .collect::<Vec<_>>()
        .join("")
}

/// An element id from a case id: letters, digits and `-` only, prefixed so it starts with a
/// letter.
fn anchor(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("case-{safe}")
}

/// Text safe in HTML content and in quoted attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{anchor, esc};

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(anchor("C-00ff\"><x"), "case-C-00ff---x");
    }
}
