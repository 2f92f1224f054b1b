//! Human-readable report: `file:line:col severity id message`, then the why, facts and fixes indented.

use super::{Analysis, FixLevel, Severity};
use std::fmt::Write;

pub fn human(analysis: &Analysis) -> String {
    let mut s = String::new();
    for f in &analysis.findings {
        let _ = writeln!(
            s,
            "{}:{}:{} {} {} {}",
            f.file.display(),
            f.span.line,
            f.span.col,
            f.severity.as_str(),
            f.rule,
            f.message
        );
        if !f.why.is_empty() {
            let _ = writeln!(s, "    why: {}", f.why);
        }
        for fact in &f.facts {
            let _ = writeln!(s, "    fact: {fact}");
        }
        for fx in &f.fixes {
            let level = match fx.level {
                FixLevel::Safe => "safe",
                FixLevel::Suggestion => "suggestion",
                FixLevel::Unsafe => "unsafe",
            };
            let _ = writeln!(s, "    fix ({level}): {}", fx.description);
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
}
