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
    if o.standin {
        let _ = writeln!(
            out,
            "stand-in: built on dockui's offline stand-in base (busybox + shims): the smoke results say \
             the Dockerfile's steps ran, not that the real base image works"
        );
    }
    if let Some(b) = &o.backend {
        let _ = writeln!(out, "backend: {}", b.label());
    }
    if let Some(id) = &o.image_id {
        let _ = writeln!(out, "image id: {id}");
    }
    for a in &o.attempts {
        let status = match a.status {
            crate::engine::AttemptStatus::Succeeded => "succeeded",
            crate::engine::AttemptStatus::Failed => "failed",
            crate::engine::AttemptStatus::Cancelled => "cancelled",
        };
        let _ = writeln!(
            out,
            "attempt {}: {status} ({:.1}s)",
            a.attempt, a.duration_s
        );
        if let Some(d) = &a.diagnosis {
            let _ = writeln!(out, "  diagnosis: {} ({})", d.class, d.signature);
            // What the signature picked out of the log (the uid:gid that did not fit, the missing module),
            // as `diagnosis.detail` in JSON.
            if let Some(detail) = &d.detail {
                let _ = writeln!(out, "  detail: {detail}");
            }
            if let Some(step) = &d.failing_step {
                let _ = writeln!(out, "  failing step: {step}");
            }
            if let Some((_, line)) = d.matched.first() {
                let _ = writeln!(out, "  evidence: {}", line.trim());
            }
            let _ = writeln!(out, "  what to do: {}", d.explanation);
        }
        for f in &a.fixes {
            let level = serde_json::to_value(f.level).ok();
            let state = if f.applied { "applied" } else { "proposed" };
            let _ = writeln!(
                out,
                "  fix {state} ({}): {}",
                level.as_ref().and_then(|v| v.as_str()).unwrap_or("?"),
                f.description
            );
            let _ = writeln!(out, "    why: {}", f.why);
        }
        for f in a
            .fixes_applied
            .iter()
            .filter(|f| !a.fixes.iter().any(|x| &x.id == *f))
        {
            let _ = writeln!(out, "  applied: {f}");
        }
    }
    for sm in &o.smoke {
        let mark = if sm.status == crate::engine::smoke::SmokeStatus::Passed {
            "ok  "
        } else {
            "FAIL"
        };
        let _ = writeln!(out, "smoke {mark} {}", sm.name);
    }
    if let Some(why) = &o.smoke_skipped {
        let _ = writeln!(out, "smoke SKIPPED: {why}");
    }
    if let Some(e) = &o.error {
        let _ = writeln!(out, "error: {e}");
    }
    let _ = writeln!(out, "log: {}", o.log_path.display());
    out
}

pub fn rules_human(rules: &[crate::analyze::rules::RuleInfo]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", crate::analyze::rules::SEVERITY_POLICY);
    for r in rules {
        let fix = if r.has_fix() { "fix" } else { "   " };
        let _ = writeln!(
            out,
            "{:<7} {:<7} {fix} {}",
            r.id,
            r.severity.as_str(),
            r.summary
        );
        if !r.fixes.is_empty() {
            let levels: Vec<&str> = r.fixes.iter().map(|l| l.as_str()).collect();
            let _ = writeln!(out, "{:<19} fixes: {}", "", levels.join(", "));
        }
        if !r.note.is_empty() {
            let _ = writeln!(out, "{:<19} {}", "", r.note);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{AttemptRecord, AttemptStatus};

    fn failed_with(log: &str) -> BuildOutcome {
        let lines: Vec<&str> = log.lines().collect();
        BuildOutcome {
            image: "dockui-local/app:latest".into(),
            attempts: vec![AttemptRecord {
                attempt: 1,
                status: AttemptStatus::Failed,
                duration_s: 1.0,
                log_path: "/tmp/attempt-1.log".into(),
                error: Some("build failed".into()),
                diagnosis: crate::classify::classify(&lines),
                smoke: Vec::new(),
                fixes_applied: Vec::new(),
                fixes: Vec::new(),
                platform: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_failed_builds_summary_shows_the_diagnosis_detail_when_there_is_one() {
        // Rootless Podman with too few subordinate ids, GNU tar's words: the ids that did not fit.
        let text = build_human(&failed_with(
            "STEP 3/3: RUN tar -xf layer.tar\ntar: ./x: Cannot change ownership to uid 1500, gid 1500: Invalid argument\ntar: Exiting with failure status due to previous errors",
        ));
        assert!(
            text.contains("  diagnosis: rootless Podman: no subordinate UIDs/GIDs (podman-rootless-subuid)\n  detail: 1500:1500\n"),
            "{text}"
        );
        // busybox chown names no ids: no detail line.
        let text = build_human(&failed_with(
            "STEP 3/3: RUN chown 1500:1500 /data\nchown: /data: Invalid argument",
        ));
        assert!(text.contains("(podman-rootless-subuid)"), "{text}");
        assert!(!text.contains("detail:"), "{text}");
    }
}
