//! dockui's non-hadolint findings on the shared real GPU/ML Dockerfiles and projects (`../shared/testdata`,
//! when present), pinned in tests/real_testdata.pin as rule, file, line and severity only (the material
//! itself is never copied here). Any finding that appears or disappears fails the test: a new false
//! positive cannot slip in unnoticed. After reviewing a change, re-pin with
//! `DOCKUI_BLESS=1 cargo test --test real_testdata`.

use dockui::analyze::{self, AnalyzeOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const PIN: &str = "tests/real_testdata.pin";

/// The shared material: $DOCKUI_TESTDATA, else ../shared/testdata from the repository (or from a worktree
/// one level further down).
fn testdata() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("DOCKUI_TESTDATA")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            root.join("../shared/testdata"),
            root.join("../../shared/testdata"),
        ])
        .find(|d| d.join("real-dockerfiles").is_dir() && d.join("real-projects").is_dir())
}

/// One line per finding: set, Dockerfile or project, file, line, rule, severity (tab-separated, sorted).
fn findings(data: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut push = |set: &str, name: &str, a: &analyze::Analysis| {
        for f in &a.findings {
            let rule = f.rule.to_string();
            // DU112 (COPY source not in the context) judges the material, not the Dockerfile: the shared
            // projects carry only the companion files (requirements, pyproject, environment.yml), never the
            // sources, and the flat Dockerfiles carry nothing. Its own tests are in rules/context.rs.
            if rule.starts_with("DL") || rule == "DU112" {
                continue;
            }
            out.insert(format!(
                "{set}\t{name}\t{}\t{}\t{rule}\t{}",
                f.file.display(),
                f.span.line,
                f.severity.as_str()
            ));
        }
    };
    // Flat folder: each Dockerfile analysed on its own (companion files carry prefixed names).
    let flat = data.join("real-dockerfiles");
    let index = std::fs::read_to_string(flat.join("INDEX.tsv")).unwrap();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.get(4) != Some(&"dockerfile") {
            continue;
        }
        let opts = AnalyzeOptions {
            dockerfile: Some(PathBuf::from(cols[0])),
            ..Default::default()
        };
        match analyze::analyze_project(&flat, &opts) {
            Ok(a) => push("real-dockerfiles", cols[0], &a),
            Err(e) => panic!("real-dockerfiles/{}: {e}", cols[0]),
        }
    }
    // One folder per project, companions at the paths the Dockerfile expects.
    let projects = data.join("real-projects");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&projects)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        match analyze::analyze_project(&dir, &AnalyzeOptions::default()) {
            Ok(a) => push("real-projects", &name, &a),
            Err(e) => panic!("real-projects/{name}: {e}"),
        }
    }
    out
}

#[test]
#[cfg_attr(not(dockui_hadolint_cases), ignore = "needs ../shared/testdata")]
fn non_hadolint_findings_on_the_shared_real_files_are_pinned() {
    let Some(data) = testdata() else {
        panic!(
            "../shared/testdata was there when the tests were built and is gone now (or set DOCKUI_TESTDATA)"
        );
    };
    let now = findings(&data);
    let pin_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PIN);
    if std::env::var("DOCKUI_BLESS").as_deref() == Ok("1") {
        let mut text = String::from(
            "# set\tdockerfile-or-project\tfile\tline\trule\tseverity: dockui's non-hadolint findings on\n\
             # ../shared/testdata, re-pinned with DOCKUI_BLESS=1 cargo test --test real_testdata\n",
        );
        for l in &now {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&pin_path, text).unwrap();
        eprintln!("pinned {} findings in {PIN}", now.len());
        return;
    }
    let pinned: BTreeSet<String> = std::fs::read_to_string(&pin_path)
        .unwrap_or_else(|e| panic!("{PIN}: {e}; create it with DOCKUI_BLESS=1"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let new: Vec<&String> = now.difference(&pinned).collect();
    let gone: Vec<&String> = pinned.difference(&now).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "non-hadolint findings on the real files changed.\nnew ({}):\n{}\ngone ({}):\n{}\n\
         Review them; if right, re-pin with DOCKUI_BLESS=1 cargo test --test real_testdata",
        new.len(),
        new.iter()
            .map(|s| format!("  {s}"))
            .collect::<Vec<_>>()
            .join("\n"),
        gone.len(),
        gone.iter()
            .map(|s| format!("  {s}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

/// The project's own precision corpus (tests/precision, read by scripts/bench-precision.sh) stays usable: every
/// project has a Dockerfile that dockui analyses, and every expected finding points at lines of a file that
/// exists in that project.
#[test]
fn the_precision_corpus_expectations_point_at_real_lines() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/precision");
    let text = std::fs::read_to_string(corpus.join("expected.toml")).unwrap();
    let expected: toml::Table = toml::from_str(&text).unwrap();
    let projects = expected["project"].as_array().unwrap();
    assert!(projects.len() >= 40, "{} projects", projects.len());
    let mut names = BTreeSet::new();
    let mut clean = 0;
    for p in projects {
        let name = p["name"].as_str().unwrap();
        assert!(names.insert(name.to_string()), "{name} listed twice");
        let dir = corpus.join(name);
        assert!(dir.join("Dockerfile").is_file(), "{name}: no Dockerfile");
        analyze::analyze_project(&dir, &AnalyzeOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let findings = p
            .get("finding")
            .and_then(|f| f.as_array())
            .cloned()
            .unwrap_or_default();
        if findings
            .iter()
            .all(|f| f.get("optional").and_then(|o| o.as_bool()) == Some(true))
        {
            clean += 1;
        }
        for f in findings {
            let file = f["file"].as_str().unwrap();
            let lines = f["lines"].as_array().unwrap();
            let (a, b) = (
                lines[0].as_integer().unwrap(),
                lines[1].as_integer().unwrap(),
            );
            let n = std::fs::read_to_string(dir.join(file))
                .unwrap_or_else(|e| panic!("{name}/{file}: {e}"))
                .lines()
                .count() as i64;
            assert!(
                1 <= a && a <= b && b <= n,
                "{name}/{file}: lines {a}-{b} of {n}"
            );
            assert!(
                matches!(f["severity"].as_str(), Some("error" | "warning")),
                "{name}: {f}"
            );
            assert!(f["rule"].as_str().unwrap().starts_with("DU"), "{name}: {f}");
        }
    }
    // Every folder is in the expectations, and about half the projects are clean.
    for e in std::fs::read_dir(&corpus).unwrap().flatten() {
        if e.path().is_dir() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(names.contains(&n), "{n} has no entry in expected.toml");
        }
    }
    assert!(
        clean * 3 >= projects.len() && clean * 3 <= projects.len() * 2,
        "{clean} clean"
    );
}
