//! Headless output: human text and JSON for the subcommands.

use crate::engine::BuildOutcome;
use std::fmt::Write;

pub fn build_human(o: &BuildOutcome) -> String {
    let mut out = String::new();
    let verdict = o.verdict();
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

pub fn rules_human(rules: &[crate::analyze::rules::RuleInfo]) -> String {
    let mut out = String::new();
    for r in rules {
        let fix = if r.has_fix() { "fix" } else { "   " };
        let _ = writeln!(
            out,
            "{:<7} {:<7} {fix} {}",
            r.id,
            r.severity.as_str(),
            r.summary
        );
    }
    out
}

pub fn history_human(builds: &[crate::engine::history::BuildSummary]) -> String {
    let mut out = String::new();
    if builds.is_empty() {
        let _ = writeln!(
            out,
            "no builds yet - run `dockui build DIR` or press b in the TUI"
        );
    }
    for b in builds {
        let _ = writeln!(
            out,
            "{}  {:<9} {} attempt(s) {:>7.1}s  {}",
            b.build_id, b.status, b.attempts, b.build_time_s, b.image
        );
    }
    out
}
