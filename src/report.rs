//! Headless output: human text and JSON for the subcommands.

use crate::analyze::Analysis;
use crate::engine::BuildOutcome;
use std::fmt::Write;

pub fn check_human(analysis: &Analysis) -> String {
    let mut out = String::new();
    for f in &analysis.findings {
        let _ = writeln!(
            out,
            "{}:{}:{} {} {} {}",
            f.file.display(),
            f.span.line,
            f.span.col,
            f.severity.as_str(),
            f.rule,
            f.message
        );
        if !f.why.is_empty() {
            let _ = writeln!(out, "    why: {}", f.why);
        }
        for fact in &f.facts {
            let _ = writeln!(out, "    fact: {fact}");
        }
        if let Some(fix) = f.fixes.first() {
            let _ = writeln!(out, "    fix ({:?}): {}", fix.level, fix.description);
        }
    }
    use crate::analyze::Severity::*;
    let _ = writeln!(
        out,
        "{} finding(s): {} error, {} warning, {} info, {} style",
        analysis.findings.len(),
        analysis.count(Error),
        analysis.count(Warning),
        analysis.count(Info),
        analysis.count(Style)
    );
    out
}

pub fn build_human(o: &BuildOutcome) -> String {
    let mut out = String::new();
    let verdict = if o.success {
        "built"
    } else if o.cancelled {
        "cancelled"
    } else {
        "failed"
    };
    let _ = writeln!(
        out,
        "{verdict}: {} ({} attempt(s), {:.1}s)",
        o.image,
        o.attempts.len(),
        o.build_time_s
    );
    if let Some(id) = &o.image_id {
        let _ = writeln!(out, "image id: {id}");
    }
    if let Some(e) = &o.error {
        let _ = writeln!(out, "error: {e}");
    }
    let _ = writeln!(out, "log: {}", o.log_path.display());
    out
}
