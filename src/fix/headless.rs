//! `dockui fix`: the planner's plan (every fix the level and rules allow that leaves no new error or warning,
//! iterated to a fixed point in memory), then written file by file. A dry run prints the same plan, so it shows
//! exactly the files and diffs a real run writes.

use super::Backups;
use super::plan::{self, Held, PlanOptions, Step};
use super::proposal;
use super::validate::checked_write;
use crate::analyze::{self, AnalyzeError, AnalyzeOptions, Finding, Fix, FixLevel};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize)]
pub struct FileChange {
    pub file: PathBuf,
    pub diff: String,
    pub hunks: Vec<HunkInfo>,
    pub written: bool,
}

#[derive(Debug, Serialize)]
pub struct HunkInfo {
    pub id: String,
    pub sources: Vec<String>,
    pub level: FixLevel,
}

#[derive(Debug, Serialize)]
pub struct FixRun {
    pub dry_run: bool,
    pub level: FixLevel,
    pub changes: Vec<FileChange>,
    /// The fixes in the plan, in the order the planner took them.
    pub steps: Vec<Step>,
    /// Fixes not applied, with the reason (e.g. "it would add DU202 error at requirements.txt:2 (...)").
    pub held: Vec<Held>,
    /// `held` as "label: reason" lines (kept for scripts that read this field).
    pub deferred: Vec<String>,
    /// Findings left after the fixes, by rule id.
    pub remaining: Vec<String>,
    pub errors: Vec<String>,
    /// Findings (of the rules asked for) whose fixes are all above `level`: what `--level suggestion` would
    /// add, by rule id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub above_level: Vec<String>,
}

pub fn run(
    root: &Path,
    opts: &AnalyzeOptions,
    backups: &Backups,
    rules: &[String],
    level: FixLevel,
    dry_run: bool,
) -> Result<FixRun, AnalyzeError> {
    let wanted =
        |rule: &str| rules.is_empty() || rules.iter().any(|r| r.eq_ignore_ascii_case(rule));
    let allow = |f: &Finding, fix: &Fix| fix.level <= level && wanted(&f.rule.to_string());
    if !dry_run {
        // Temp files of a run killed mid-write sit beside the files they were to replace.
        let df = opts
            .dockerfile
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".into());
        super::write::sweep_project_temps(root, &df);
    }
    let plan = plan::plan(
        root,
        opts,
        &PlanOptions {
            allow: &allow,
            choice: &HashMap::new(),
            extra: &[],
        },
    )?;
    if !dry_run {
        // And beside every other file the analysis read (requirements, pyproject, workflows).
        // Workflows are listed only when they have findings; their directory is one dockui writes into.
        let workflows = Path::new(".github/workflows/ci.yml");
        super::write::sweep_temps_beside(
            root,
            plan.before
                .files
                .iter()
                .map(PathBuf::as_path)
                .chain([workflows]),
        );
    }
    let mut out = FixRun {
        dry_run,
        level,
        changes: Vec::new(),
        steps: plan.steps.clone(),
        deferred: plan
            .held
            .iter()
            .map(|h| format!("{}: {}", h.label, h.reason))
            .collect(),
        held: plan.held.clone(),
        remaining: Vec::new(),
        // A Dockerfile that was not read (a link out of the project, a FIFO, too large) leaves nothing to
        // fix: say so, as `check` does, instead of "no fixes".
        errors: plan
            .before
            .findings
            .iter()
            .filter(|f| f.rule == crate::analyze::RuleId::DU003)
            .map(|f| f.message.clone())
            .collect(),
        above_level: plan
            .before
            .findings
            .iter()
            .filter(|f| wanted(&f.rule.to_string()))
            .filter(|f| !f.fixes.is_empty() && f.fixes.iter().all(|fx| fx.level > level))
            .map(|f| f.rule.to_string())
            .collect(),
    };
    if !dry_run && !plan.proposals.is_empty() {
        // From the first write on, a signal waits until the run is reported (`dockui fix` in cli.rs).
        crate::fatal_signals::finishing();
    }
    for p in &plan.proposals {
        let new = p.accepted_text();
        let mut change = FileChange {
            file: p.file.clone(),
            diff: proposal::unified(&p.file, &p.old, &new),
            hunks: p
                .hunks
                .iter()
                .map(|h| HunkInfo {
                    id: format!("{:016x}", h.id.0),
                    sources: h.sources.clone(),
                    level: h.level,
                })
                .collect(),
            written: false,
        };
        if !dry_run {
            match checked_write(root, &p.file, &new, &p.old, backups) {
                Ok(_) => change.written = true,
                Err(e) => out.errors.push(e.to_string()),
            }
        }
        out.changes.push(change);
    }
    // A dry run reports what the planned project leaves; a real run what the written one does (the same,
    // unless a write was refused).
    let after = if dry_run {
        plan.after
    } else {
        analyze::analyze_project(root, opts)?
    };
    out.remaining = after
        .findings
        .iter()
        .map(|f| f.rule.to_string())
        .filter(|r| wanted(r))
        .collect();
    Ok(out)
}

pub fn render_human(run: &FixRun) -> String {
    let mut s = String::new();
    for c in &run.changes {
        // The diff quotes the file: a carriage return inside a line would hide its `-`/`+` on a terminal.
        s.push_str(&crate::terminal_text::escape_lone_cr(&c.diff));
    }
    let verb = if run.dry_run {
        "would change"
    } else {
        "changed"
    };
    let files: Vec<String> = run
        .changes
        .iter()
        .filter(|c| c.written || run.dry_run)
        .map(|c| crate::terminal_text::escape_controls(&c.file.display().to_string(), usize::MAX).0)
        .collect();
    if files.is_empty() && !run.errors.is_empty() {
        let _ = writeln!(s, "nothing written (errors below)");
    } else if files.is_empty() && !run.changes.is_empty() {
        let _ = writeln!(
            s,
            "nothing written: the diffs above were not applied (errors below)"
        );
    } else if files.is_empty() && !run.above_level.is_empty() {
        let mut rules = run.above_level.clone();
        rules.dedup();
        let _ = writeln!(
            s,
            "no fixes at level {} for these findings; {} finding(s) ({}) have fixes at level suggestion: \
             run again with --level suggestion to see them",
            run.level.as_str(),
            run.above_level.len(),
            rules.join(", ")
        );
    } else if files.is_empty() {
        let _ = writeln!(
            s,
            "no fixes at level {} for these findings",
            run.level.as_str()
        );
    } else {
        let _ = writeln!(s, "{verb}: {}", files.join(", "));
    }
    for h in &run.held {
        if h.label.is_empty() {
            let _ = writeln!(s, "note: {}", h.reason);
        } else {
            let _ = writeln!(s, "not applied: {} {}: {}", h.label, h.fix, h.reason);
        }
    }
    for e in &run.errors {
        let _ = writeln!(s, "error: {e}");
    }
    if !run.dry_run && run.changes.iter().any(|c| c.written) {
        let _ = writeln!(s, "backups kept; `dockui undo FILE` restores a file");
    }
    s
}
