//! Text from events (UPNs, user agents, summaries) made safe for one terminal line: control
//! characters (escape sequences, line breaks) would otherwise let a hostile value rewrite
//! what an analyst sees.

/// `s` with line breaks and tabs as spaces and other control characters as `\u{..}`.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_do_not_reach_the_terminal() {
        assert_eq!(super::one_line("a\nb\x1b[31mc"), "a b\\u{1b}[31mc");
    }
}
