//! Text a peer or another process chose (an inspector's answer, an exception's description, an
//! executable's name), as it goes into our messages: cut short, and control characters escaped, so
//! that it can neither flood a log nor drive the terminal that shows it.

/// At most `most` characters of `text`, control characters escaped (`\n`, `\u{1b}`), `...` after
/// a cut.
pub fn shown(text: &str, most: usize) -> String {
    let mut out = String::new();
    for c in text.chars().take(most) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if text.chars().nth(most).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn cut_and_escaped() {
        assert_eq!(shown("plain", 64), "plain");
        assert_eq!(shown("abcdef", 3), "abc...");
        assert_eq!(shown("a\u{1b}[31mred\n", 64), "a\\u{1b}[31mred\\n");
        assert_eq!(shown("ééé", 2), "éé...");
    }
}
