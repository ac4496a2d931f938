//! Text from events (UPNs, user agents, summaries) made safe for one terminal line: control
//! characters (escape sequences, line breaks) and invisible formatting characters
//! (bidirectional overrides, zero-width ones) would otherwise let a hostile value rewrite or
//! disguise what an analyst sees.

/// `s` with line breaks and tabs as spaces and other control characters as `\u{..}`.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() || invisible(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Unicode format characters that change how text around them is shown: the bidirectional
/// marks, embeddings, overrides and isolates, zero-width characters and the BOM.
fn invisible(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_do_not_reach_the_terminal() {
        assert_eq!(super::one_line("a\nb\x1b[31mc"), "a b\\u{1b}[31mc");
        assert_eq!(
            super::one_line("evil\u{202e}gpj.exe"),
            "evil\\u{202e}gpj.exe"
        );
    }
}
