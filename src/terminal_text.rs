//! Text on its way to the user's terminal in headless mode (stdout and stderr of every command).
//!
//! Much of what dockui prints comes from elsewhere: Dockerfile lines, build and smoke output, engine and
//! registry messages. A control character in it would be executed by the terminal, not shown: a hostile
//! Dockerfile could set the window title, clear the screen, hide text or write the clipboard (OSC 52). So every
//! control character except newline and tab is shown escaped (`\u{1b}[31m`), and a carriage return keeps only
//! what the terminal would have ended up showing (the text after the last one, as the TUI's log pane does).
//! JSON needs nothing: serde_json already escapes control characters inside strings. Log files keep the raw
//! bytes.

use std::borrow::Cow;

/// `text` with its control characters (but `\n` and `\t`) escaped and carriage-return redraws resolved.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = match line.trim_end_matches('\r').rfind('\r') {
            Some(at) => &line[at + 1..],
            None => line,
        };
        for c in line.trim_end_matches('\r').chars() {
            if needs_escape(c) {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
    }
    Cow::Owned(out)
}

/// One value from elsewhere (an address, a build-arg, an engine's answer) shown on one line: every control
/// character escaped, newline and tab included, and at most `max_chars` characters of `text` kept. Returns
/// the shown text and whether `text` was cut (the caller says how: "...", the length).
pub fn escape_controls(text: &str, max_chars: usize) -> (String, bool) {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    for (n, c) in text.chars().enumerate() {
        if n == max_chars {
            return (out, true);
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    (out, false)
}

/// A report's text (a diff, a file's lines quoted) with each carriage return that does not end a line shown as
/// `\r`: `terminal_safe` would keep only the text after it, which for a report line can hide its start (the
/// file, line and severity of a finding, the `-`/`+` of a diff line) behind text from the file.
pub fn escape_lone_cr(text: &str) -> Cow<'_, str> {
    let lone = |t: &str| {
        t.match_indices('\r')
            .any(|(i, _)| t.as_bytes().get(i + 1) != Some(&b'\n'))
    };
    if !lone(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() != Some(&'\n') {
            out.push_str("\\r");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// C0 controls, DEL and the C1 controls (U+0080..U+009F, which some terminals take as ESC sequences).
fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carriage_return_inside_a_report_line_is_shown() {
        assert_eq!(
            escape_lone_cr("-FROM a\rDockerfile:1:1 info\n+x\r\n"),
            "-FROM a\\rDockerfile:1:1 info\n+x\r\n"
        );
        // Must not: CRLF line ends stay, and the result survives terminal_safe whole.
        assert!(matches!(escape_lone_cr("a\r\nb\r\n"), Cow::Borrowed(_)));
        let shown = escape_lone_cr("FROM a\rRUN b\n").into_owned();
        assert_eq!(terminal_safe(&shown), "FROM a\\rRUN b\n");
    }

    #[test]
    fn one_value_is_escaped_whole_and_cut_at_its_limit() {
        assert_eq!(
            escape_controls("a\x1b]0;T\x07\nb\0", usize::MAX),
            ("a\\u{1b}]0;T\\u{7}\\nb\\u{0}".to_string(), false)
        );
        assert_eq!(escape_controls("abcdef", 3), ("abc".to_string(), true));
        // Must not cut or change a plain value that fits.
        assert_eq!(escape_controls("abc", 3), ("abc".to_string(), false));
    }

    #[test]
    fn escape_sequences_are_shown_not_executed() {
        let hostile = "RUN curl \x1b[8mhidden\x1b[0m \x1b]52;c;ZXZpbA==\x07 \x1b]0;PWNED\x07\x1b[2J \u{9b}31m\n";
        let safe = terminal_safe(hostile);
        assert!(
            !safe.chars().any(|c| c.is_control() && c != '\n'),
            "{safe:?}"
        );
        assert_eq!(
            safe,
            "RUN curl \\u{1b}[8mhidden\\u{1b}[0m \\u{1b}]52;c;ZXZpbA==\\u{7} \\u{1b}]0;PWNED\\u{7}\\u{1b}[2J \\u{9b}31m\n"
        );
    }

    #[test]
    fn plain_text_tabs_and_newlines_pass_unchanged_and_unallocated() {
        let plain = "step 1/6 : RUN pip install torch\n\tindented\nünïcödé 日本語\n";
        assert!(matches!(terminal_safe(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn a_carriage_return_keeps_what_the_terminal_would_show() {
        assert_eq!(terminal_safe("10%\r55%\r100%\n"), "100%\n");
        assert_eq!(
            terminal_safe("windows line\r\nnext\r\n"),
            "windows line\nnext\n"
        );
        assert_eq!(terminal_safe("shown\rover\rfinal\n"), "final\n");
    }
}
