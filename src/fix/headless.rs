//! `dockui fix`: every fix the level allows, all hunks accepted, written atomically; overlapping fixes are
//! picked up in a further round after the first ones land.

use super::proposal::{self, Decision, Proposal};
use super::{Backups, write_atomic};
use crate::analyze::{self, AnalyzeError, AnalyzeOptions, FixLevel};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

const MAX_ROUNDS: usize = 8;

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
    /// Fixes held back because they overlap another (dry run), or still overlapping after the last round.
    pub deferred: Vec<String>,
    /// Findings left after the fixes, by rule id.
    pub remaining: Vec<String>,
    pub errors: Vec<String>,
}

pub fn run(
    root: &Path,
    opts: &AnalyzeOptions,
    backups: &Backups,
    rules: &[String],
    level: FixLevel,
    dry_run: bool,
) -> Result<FixRun, AnalyzeError> {
    let mut out = FixRun {
        dry_run,
        level,
        changes: Vec::new(),
        deferred: Vec::new(),
        remaining: Vec::new(),
        errors: Vec::new(),
    };
    let wanted =
        |rule: &str| rules.is_empty() || rules.iter().any(|r| r.eq_ignore_ascii_case(rule));
    if !dry_run {
        let df = opts
            .dockerfile
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".into());
        super::write::sweep_project_temps(root, &df);
    }
    for round in 0..MAX_ROUNDS {
        let analysis = analyze::analyze_project(root, opts)?;
        if round == 0 && !dry_run {
            // Temp files sit beside the files they replace: requirement files may live in subdirectories.
            for f in &analysis.files {
                if let Some(d) = root.join(f).parent() {
                    super::write::sweep_stale_temps(d);
                }
            }
        }
        let allow = proposal::coherent_filter(level, wanted);
        let proposals: Vec<Proposal> =
            proposal::proposals_for(root, &analysis.findings, &|_| 0, &allow);
        out.deferred = proposals.iter().flat_map(|p| p.deferred.clone()).collect();
        let mut wrote = false;
        for p in proposals.iter().filter(|p| !p.hunks.is_empty()) {
            let all: HashMap<_, _> = p.hunks.iter().map(|h| (h.id, Decision::Accept)).collect();
            let new = proposal::apply(p, &all);
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
                match write_atomic(root, &p.file, &new, &p.old, backups) {
                    Ok(_) => {
                        change.written = true;
                        wrote = true;
                    }
                    Err(e) => out.errors.push(e.to_string()),
                }
            }
            out.changes.push(change);
        }
        // Another round picks up deferred fixes and the next suggestion, judged on the new text.
        if dry_run || !wrote {
            break;
        }
    }
    let after = analyze::analyze_project(root, opts)?;
    out.remaining = after
        .findings
        .iter()
        .filter(|f| wanted(&f.rule))
        .map(|f| f.rule.clone())
        .collect();
    Ok(out)
}

pub fn render_human(run: &FixRun) -> String {
    let mut s = String::new();
    for c in &run.changes {
        s.push_str(&c.diff);
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
        .map(|c| c.file.display().to_string())
        .collect();
    if files.is_empty() {
        let _ = writeln!(s, "no fixes at level {:?} for these findings", run.level);
    } else {
        let _ = writeln!(s, "{verb}: {}", files.join(", "));
    }
    for d in &run.deferred {
        let _ = writeln!(
            s,
            "deferred (overlaps another fix; run again after this one): {d}"
        );
    }
    for e in &run.errors {
        let _ = writeln!(s, "error: {e}");
    }
    if !run.dry_run && run.changes.iter().any(|c| c.written) {
        let _ = writeln!(s, "backups kept; `dockui undo FILE` restores a file");
    }
    s
}
