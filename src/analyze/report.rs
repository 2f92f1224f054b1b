//! Human-readable report: `file:line:col severity id message`, then the why, facts and fixes indented.

use super::{Analysis, Severity};
use std::fmt::Write;

/// One line per finding, then its why, facts and fixes, indented. Every field is shown on its own line with its
/// control characters escaped: a file name or a quoted line holding a newline or a carriage return would
/// otherwise print a finding of its own or hide this one's file, line and severity.
pub fn human(analysis: &Analysis) -> String {
    let one = |t: &str| crate::terminal_text::escape_controls(t, usize::MAX).0;
    let mut s = String::new();
    for f in &analysis.findings {
        let _ = writeln!(
            s,
            "{}:{}:{} {} {} {}",
            one(&f.file.display().to_string()),
            f.span.line,
            f.span.col,
            f.severity.as_str(),
            f.rule,
            one(&f.message)
        );
        if !f.why.is_empty() {
            let _ = writeln!(s, "    why: {}", one(&f.why));
        }
        for fact in &f.facts {
            let _ = writeln!(s, "    fact: {}", one(fact));
        }
        for fx in &f.fixes {
            let _ = writeln!(
                s,
                "    fix ({}): {}",
                fx.level.as_str(),
                one(&fx.description)
            );
        }
    }
    let _ = writeln!(
        s,
        "{} error(s), {} warning(s), {} info, {} style in {} file(s)",
        analysis.count(Severity::Error),
        analysis.count(Severity::Warning),
        analysis.count(Severity::Info),
        analysis.count(Severity::Style),
        analysis.files.len()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testutil::check;

    #[test]
    fn one_line_per_finding_then_why() {
        let a = check("FROM ubuntu:22.04\nMAINTAINER someone\n");
        let h = human(&a);
        assert!(
            h.contains("Dockerfile:2:1 error DL4000 MAINTAINER is deprecated"),
            "{h}"
        );
        assert!(h.contains("\n    why: "));
        assert!(h.contains("fix (safe)"));
    }

    #[test]
    fn text_from_the_file_cannot_print_a_finding_or_hide_one() {
        // A bare CR inside FROM: the DU110 line keeps its location and severity in front.
        let a = check("FROM ubuntu:22.04\rDockerfile:1:1 info DU000 cosmetic\nRUN echo hi\n");
        let h = human(&a);
        for line in h.lines().filter(|l| !l.starts_with(' ')) {
            assert!(
                line.starts_with("Dockerfile:") || line.contains("error(s)"),
                "{line:?} in {h}"
            );
        }
        assert!(!h.contains('\r'), "{h}");
        assert!(h.contains("\\r"), "{h}");
        // Must not: an ordinary finding reads as before.
        let h = human(&check("FROM ubuntu:22.04\nMAINTAINER x\n"));
        assert!(h.contains("Dockerfile:2:1 error DL4000 MAINTAINER is deprecated"));
    }
}
