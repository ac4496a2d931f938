//! What each format must escape (SPEC §10): CSV formula injection, HTML, Markdown cells, DOT
//! strings.

use skein_cases::Format;

use crate::exported;
use crate::fixtures::{FORMULA_UPN, SCRIPT};

fn csv_rows() -> Vec<csv::StringRecord> {
    let out = exported(Format::Csv);
    let mut r = csv::Reader::from_reader(out.as_bytes());
    r.records()
        .map(|r| r.expect("a well-formed CSV row"))
        .collect()
}

#[test]
fn csv_has_one_row_per_finding_with_its_entities() {
    let rows = csv_rows();
    assert_eq!(
        rows.len(),
        5,
        "4 findings of the first case, 1 of the second"
    );
    // Worst case first, its findings in time order.
    assert_eq!(&rows[0][0], "C-3f9a1c0d5e7b2a41");
    assert_eq!(&rows[0][4], "F-0a1b2c3d4e5f6071");
    assert_eq!(&rows[4][0], "C-0b1e2d3c4a5f6789");
    // The spray names the address, both users it tried and the tenant.
    let spray: Vec<&str> = rows[0][10].split(';').collect();
    assert!(spray.contains(&"ip:203.0.113.7"), "{spray:?}");
    assert!(
        spray.contains(&"user:9d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6"),
        "{spray:?}"
    );
    assert!(
        spray.contains(&"tenant:72f988bf-86f1-41af-91ab-2d7cd011db47"),
        "{spray:?}"
    );
    assert!(
        !spray.iter().any(|e| e.starts_with("awssession:")),
        "{spray:?}"
    );
}

#[test]
fn csv_cells_cannot_start_a_formula() {
    for row in csv_rows() {
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula-like cell {cell:?}"
            );
        }
    }
}

#[test]
fn csv_defuses_a_formula_upn() {
    // A case titled by the formula UPN (as the builder would title a case about that user).
    let mut case = crate::fixtures::travel();
    case.title = FORMULA_UPN.to_string();
    case.findings[0].summary = format!("+{FORMULA_UPN}");
    let out = skein_cases::export(&[case], Format::Csv).expect("csv export");
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let row = r
        .records()
        .next()
        .expect("one row")
        .expect("a well-formed row");
    assert_eq!(&row[1], format!("'{FORMULA_UPN}"));
    assert_eq!(&row[11], format!("'+{FORMULA_UPN}"));
    assert!(!out.contains(&format!(",{FORMULA_UPN}")), "{out}");
}

#[test]
fn html_escapes_everything_from_the_data() {
    let html = exported(Format::Html);
    assert!(!html.contains(SCRIPT), "raw <script> in the HTML");
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "a <script tag in the HTML"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("=HYPERLINK(&quot;http://evil&quot;,&quot;x&quot;)@contoso.com"));
    assert!(html.contains("Impossible travel for &quot;bob&quot; (CONTOSO\\bob)"));
}

#[test]
fn html_refers_to_nothing_outside_itself() {
    let html = exported(Format::Html);
    let lower = html.to_ascii_lowercase();
    // The only `http://` is inside the (escaped) hostile UPN, shown as text.
    let without_data = lower.replace("=hyperlink(&quot;http://evil&quot;", "");
    assert!(!without_data.contains("http://"), "an http:// reference");
    assert!(!without_data.contains("https://"), "an https:// reference");
    assert!(!lower.contains("<script"), "a script tag");
    assert!(!lower.contains(" src="), "a src attribute");
    assert!(!lower.contains("url("), "a CSS url()");
    assert!(!lower.contains("@import"), "a CSS import");
    for href in lower.split("href=\"").skip(1) {
        assert!(href.starts_with('#'), "a link out of the page: {href:.40}");
    }
}

#[test]
fn markdown_cells_cannot_break_tables_or_run_markup() {
    let md = exported(Format::Md);
    assert!(!md.contains(SCRIPT));
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(md.contains("\\| pipe \\`tick\\`"));
    // Every table row has the column count of its header.
    let mut columns = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let n = line.replace("\\|", "").matches('|').count();
        match columns {
            None => columns = Some(n),
            Some(c) => assert_eq!(n, c, "row with a different column count: {line}"),
        }
    }
    // The two-line summary stays on its row.
    assert!(md.contains("(31,000 km/h)<br>second line |"));
}

#[test]
fn dot_quotes_ids_and_escapes_quotes_and_backslashes() {
    let dot = exported(Format::Dot);
    assert!(dot.contains("subgraph cluster_0 {"));
    assert!(dot.contains("subgraph cluster_1 {"));
    assert!(
        dot.contains(r#"label="Impossible travel for \"bob\" (CONTOSO\\bob)\nC-0b1e2d3c4a5f6789"#)
    );
    assert!(dot.contains(r#""C-3f9a1c0d5e7b2a41/token:sess-\"quoted\"\\back""#));
    assert!(dot.contains(r#"[label="session_name", tooltip="AWS role session \"alice@contoso.com\" equals the Entra user's UPN"]"#));
    // No unescaped quote inside a quoted string: every line has an even number of bare quotes.
    for line in dot.lines() {
        let bare = line.replace("\\\\", "").replace("\\\"", "");
        assert_eq!(
            bare.matches('"').count() % 2,
            0,
            "unbalanced quotes: {line}"
        );
    }
}
