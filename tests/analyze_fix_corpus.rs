//! Issue 16 point 6 over the whole precision corpus (`tests/precision/*`): for every project,
//! - the TUI's way: plan every fix (all levels, as the Proposed diff pane does), accept every hunk, write;
//! - `dockui fix --level unsafe --dry-run` and the real run on separate copies of the project;
//!
//! and then: the dry run and the real run name the same files with the same diffs, the dry run writes nothing,
//! the written project equals the accepted plan, it has no error or warning the project did not have before
//! (rule, file, severity), planning again proposes nothing (a fixed point), and no error left could have been
//! removed by one of its own fixes without adding an error or warning (the plan missed nothing it offers).

use dockui::analyze::{self, Analysis, AnalyzeOptions, Finding, FixLevel, Severity};
use dockui::fix::plan::{self, PlanOptions};
use dockui::fix::{Backups, headless, proposal};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/precision");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/precision")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
            // The shared material is read-only; a user's project is not (dockui refuses read-only files).
            let mut perm = std::fs::metadata(&dest).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dest, perm).unwrap();
        }
    }
}

/// Every file's text under `dir`, by relative path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.push((rel, std::fs::read_to_string(&p).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn is_ew(f: &Finding) -> bool {
    matches!(f.severity, Severity::Error | Severity::Warning)
}

/// Errors and warnings of `after` that `before` does not have (by rule, file and severity; lines move).
fn new_problems(before: &Analysis, after: &Analysis) -> Vec<String> {
    let mut known: HashMap<(String, PathBuf, Severity), usize> = HashMap::new();
    for f in before.findings.iter().filter(|f| is_ew(f)) {
        *known
            .entry((f.rule.to_string(), f.file.clone(), f.severity))
            .or_default() += 1;
    }
    let mut out = Vec::new();
    for f in after.findings.iter().filter(|f| is_ew(f)) {
        match known.get_mut(&(f.rule.to_string(), f.file.clone(), f.severity)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(format!(
                "{} {} {}:{} {}",
                f.rule,
                f.severity.as_str(),
                f.file.display(),
                f.span.line,
                f.message
            )),
        }
    }
    out
}

fn errors(a: &Analysis) -> usize {
    a.count(Severity::Error)
}

/// The checks of this file over `dirs`; returns the failures and (projects with fixes, fixes, files written).
fn check_projects(dirs: &[PathBuf]) -> (Vec<String>, usize, usize, usize) {
    let opts = AnalyzeOptions::default();
    let all = |_: &Finding, _: &analyze::Fix| true;
    let choice = HashMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut fixed_projects = 0;
    let (mut steps, mut written) = (0, 0);
    for src in dirs {
        let name = src.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        let (tui, dry, real) = (
            tmp.path().join("tui"),
            tmp.path().join("dry"),
            tmp.path().join("real"),
        );
        for d in [&tui, &dry, &real] {
            copy_tree(src, d);
        }
        let backups = Backups::new(tmp.path().join("backups"));
        let before = analyze::analyze_project(&tui, &opts).unwrap();

        // The TUI: every hunk of the plan accepted, then written.
        let p = plan::plan(
            &tui,
            &opts,
            &PlanOptions {
                allow: &all,
                choice: &choice,
                extra: &[],
            },
        )
        .unwrap();
        for prop in &p.proposals {
            let decisions: HashMap<_, _> = prop
                .hunks
                .iter()
                .map(|h| (h.id, proposal::Decision::Accept))
                .collect();
            std::fs::write(tui.join(&prop.file), proposal::apply(prop, &decisions)).unwrap();
        }
        if !p.proposals.is_empty() {
            fixed_projects += 1;
        }
        steps += p.steps.len();
        let after = analyze::analyze_project(&tui, &opts).unwrap();
        for n in new_problems(&before, &after) {
            failures.push(format!("{name}: accepting every hunk adds {n}"));
        }

        // Headless: dry run and real run.
        let pristine = snapshot(&dry);
        let d = headless::run(&dry, &opts, &backups, &[], FixLevel::Unsafe, true).unwrap();
        let r = headless::run(&real, &opts, &backups, &[], FixLevel::Unsafe, false).unwrap();
        if snapshot(&dry) != pristine {
            failures.push(format!("{name}: the dry run changed files"));
        }
        let changes = |run: &headless::FixRun| -> Vec<(PathBuf, String)> {
            run.changes
                .iter()
                .map(|c| (c.file.clone(), c.diff.clone()))
                .collect()
        };
        if changes(&d) != changes(&r) {
            failures.push(format!(
                "{name}: dry run {:?} != real run {:?}",
                changes(&d),
                changes(&r)
            ));
        }
        written += r.changes.iter().filter(|c| c.written).count();
        if r.changes.iter().any(|c| !c.written) || !r.errors.is_empty() {
            failures.push(format!("{name}: real run did not write: {:?}", r.errors));
        }
        // The real run writes what the TUI writes when every hunk is accepted.
        let (mut t, mut w) = (snapshot(&tui), snapshot(&real));
        t.retain(|(p, _)| !p.to_string_lossy().contains(".dockui"));
        w.retain(|(p, _)| !p.to_string_lossy().contains(".dockui"));
        if t != w {
            failures.push(format!(
                "{name}: the TUI's accepted plan and `fix` wrote different files"
            ));
        }

        // A fixed point: nothing more to propose.
        let again = plan::plan(
            &real,
            &opts,
            &PlanOptions {
                allow: &all,
                choice: &choice,
                extra: &[],
            },
        )
        .unwrap();
        if !again.proposals.is_empty() {
            failures.push(format!(
                "{name}: planning again proposes {:?}",
                again.steps.iter().map(|s| &s.label).collect::<Vec<_>>()
            ));
        }

        // No error left that one of its own fixes removes without adding an error or warning.
        let after = analyze::analyze_project(&real, &opts).unwrap();
        for f in after
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
        {
            for fix in &f.fixes {
                let Ok(text) = std::fs::read_to_string(real.join(&fix.file)) else {
                    continue;
                };
                let new = analyze::apply_edits(&text, &fix.edits);
                if new == text {
                    continue;
                }
                let overlay = HashMap::from([(fix.file.clone(), new)]);
                let Ok(tried) = analyze::analyze_project_with(&real, &opts, &overlay) else {
                    continue;
                };
                if errors(&tried) < errors(&after) && new_problems(&after, &tried).is_empty() {
                    failures.push(format!(
                        "{name}: {} at {}:{} is left although its fix {} removes it cleanly",
                        f.rule,
                        f.file.display(),
                        f.span.line,
                        fix.id
                    ));
                }
            }
        }
    }
    (failures, fixed_projects, steps, written)
}

#[test]
fn accepting_every_fix_on_the_corpus_leaves_nothing_a_fix_could_avoid_and_dry_run_equals_real_run()
{
    let dirs = corpus();
    assert!(dirs.len() >= 40, "the corpus has {} projects", dirs.len());
    let (failures, fixed_projects, steps, written) = check_projects(&dirs);
    eprintln!(
        "{} projects, {fixed_projects} with fixes, {steps} fixes applied, {written} files written",
        dirs.len()
    );
    assert!(
        fixed_projects >= 10,
        "only {fixed_projects} projects got fixes: the test would prove little"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same on the shared real projects (`../shared/testdata/real-projects`, peer material read in place,
/// never copied into the repository), when present.
#[test]
#[cfg_attr(not(dockui_hadolint_cases), ignore = "needs ../shared/testdata")]
fn the_same_holds_on_the_shared_real_projects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = std::env::var_os("DOCKUI_TESTDATA")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            root.join("../shared/testdata"),
            root.join("../../shared/testdata"),
        ])
        .map(|d| d.join("real-projects"))
        .find(|d| d.is_dir())
        .expect("../shared/testdata/real-projects");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    let (failures, fixed_projects, steps, written) = check_projects(&dirs);
    eprintln!(
        "{} real projects, {fixed_projects} with fixes, {steps} fixes applied, {written} files written",
        dirs.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
