//! Text helpers for the panes: ANSI stripping at ingest, and cheap width caps for very long lines.

/// Remove ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ESC \`, and two-byte escapes) and
/// carriage-return progress redraws (keep what follows the last `\r`). Build tools colour their output; the
/// pane applies its own styles and must not forward raw escapes to the user's terminal.
pub fn clean_line(line: &str) -> String {
    let line = match line.rfind('\r') {
        Some(i) if i + 1 < line.len() => &line[i + 1..],
        Some(_) => line.trim_end_matches('\r'),
        None => line,
    };
    if !line.contains(|c: char| c.is_control()) {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            match chars.next() {
                Some('[') => {
                    // CSI: parameters and intermediates until a final byte in @..~
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    // OSC: until BEL or ESC \
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            }
        } else if c == '\t' {
            out.push_str("    ");
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// True when `clean_line` would return the line unchanged.
pub fn is_clean(line: &str) -> bool {
    !line.contains(|c: char| c.is_control())
}

/// At most `max` chars of `s`, with a note of how many were left out.
pub fn cap(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(s),
        Some((i, _)) => std::borrow::Cow::Owned(format!(
            "{}… ({} more chars)",
            &s[..i],
            s[i..].chars().count()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours_osc_and_carriage_returns() {
        assert_eq!(clean_line("\x1b[31mERROR\x1b[0m: failed"), "ERROR: failed");
        assert_eq!(clean_line("\x1b]0;title\x07text"), "text");
        assert_eq!(
            clean_line("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
            "link"
        );
        assert_eq!(clean_line(" 10%\r 50%\r100% done"), "100% done");
        assert_eq!(clean_line("a\tb"), "a    b");
        assert_eq!(clean_line("plain"), "plain");
        assert_eq!(clean_line("bell\x07"), "bell");
    }

    #[test]
    fn cap_notes_what_it_left_out() {
        assert_eq!(cap("short", 10), "short");
        let long = "x".repeat(100_000);
        let c = cap(&long, 1000);
        assert!(c.starts_with(&"x".repeat(1000)) && c.ends_with("(99000 more chars)"));
    }
}
