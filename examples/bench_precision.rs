//! Precision and recall of dockui's non-hadolint (DU) error/warning findings on the project's own corpus
//! (tests/precision/<project>/, expected findings in tests/precision/expected.toml). Run through
//! scripts/bench-precision.sh; `--list` also prints every false positive and miss. `--real DIR` also measures
//! precision on the shared real projects (DIR/real-projects) against the reviewer verdicts shipped with them
//! (review-verdicts.tsv, read at run time, never copied): TRUE counts as right, FALSE as wrong, DEBATABLE and
//! unreviewed findings are listed apart.
//!
//! A reported finding matches an expected one when rule and file are equal and its line lies in the expected
//! `lines` range. Optional expectations are defensible either way and count neither way. Hadolint-id rules
//! (DL*) and info/style findings are outside this benchmark.

use dockui::analyze::{self, AnalyzeOptions, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Expected {
    project: Vec<Project>,
}

#[derive(Deserialize)]
struct Project {
    name: String,
    #[serde(default)]
    finding: Vec<Want>,
}

#[derive(Deserialize)]
struct Want {
    rule: String,
    file: PathBuf,
    lines: [usize; 2],
    severity: String,
    #[serde(default)]
    optional: bool,
}

#[derive(Default)]
struct Tally {
    tp: usize,
    fp: usize,
    missed: usize,
    optional_hits: usize,
    severity_differs: usize,
}

fn ratio(a: usize, b: usize) -> String {
    if b == 0 {
        "   -  ".into()
    } else {
        format!("{:5.1}%", 100.0 * a as f64 / b as f64)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = args.iter().any(|a| a == "--list");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
    };
    let corpus = value("--corpus")
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/precision"));
    let text = std::fs::read_to_string(corpus.join("expected.toml")).unwrap_or_else(|e| {
        eprintln!(
            "cannot read {}: {e}",
            corpus.join("expected.toml").display()
        );
        std::process::exit(2)
    });
    let expected: Expected = toml::from_str(&text).unwrap_or_else(|e| {
        eprintln!("expected.toml: {e}");
        std::process::exit(2)
    });
    let mut by_rule: BTreeMap<String, Tally> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut clean_projects = 0;
    let mut clean_and_quiet = 0;
    for p in &expected.project {
        let dir = corpus.join(&p.name);
        let analysis = match analyze::analyze_project(&dir, &AnalyzeOptions::default()) {
            Ok(a) => a,
            Err(e) => {
                notes.push(format!("{}: cannot analyse: {e}", p.name));
                continue;
            }
        };
        let reported: Vec<_> = analysis
            .findings
            .iter()
            .filter(|f| !f.rule.to_string().starts_with("DL"))
            .filter(|f| matches!(f.severity, Severity::Error | Severity::Warning))
            .collect();
        let required = p.finding.iter().filter(|w| !w.optional).count();
        if required == 0 {
            clean_projects += 1;
            if reported.is_empty() {
                clean_and_quiet += 1;
            }
        }
        let mut matched = vec![false; p.finding.len()];
        for f in &reported {
            let rule = f.rule.to_string();
            let hit = p.finding.iter().enumerate().position(|(i, w)| {
                !matched[i]
                    && w.rule == rule
                    && w.file == f.file
                    && (w.lines[0]..=w.lines[1]).contains(&f.span.line)
            });
            let t = by_rule.entry(rule.clone()).or_default();
            match hit {
                Some(i) => {
                    matched[i] = true;
                    let w = &p.finding[i];
                    if w.optional {
                        t.optional_hits += 1;
                    } else {
                        t.tp += 1;
                    }
                    if w.severity != f.severity.as_str() {
                        t.severity_differs += 1;
                        notes.push(format!(
                            "severity {}: {rule} {}:{} reported {}, reviewer says {}",
                            p.name,
                            f.file.display(),
                            f.span.line,
                            f.severity.as_str(),
                            w.severity
                        ));
                    }
                }
                None => {
                    t.fp += 1;
                    notes.push(format!(
                        "false positive {}: {rule} {} {}:{} {}",
                        p.name,
                        f.severity.as_str(),
                        f.file.display(),
                        f.span.line,
                        f.message
                    ));
                }
            }
        }
        for (i, w) in p.finding.iter().enumerate() {
            if !matched[i] && !w.optional {
                by_rule.entry(w.rule.clone()).or_default().missed += 1;
                notes.push(format!(
                    "missed {}: {} {}:{}-{}",
                    p.name,
                    w.rule,
                    w.file.display(),
                    w.lines[0],
                    w.lines[1]
                ));
            }
        }
    }
    println!(
        "precision corpus: {} projects ({} expected clean of DU errors/warnings, {} of them reported clean)",
        expected.project.len(),
        clean_projects,
        clean_and_quiet
    );
    println!(
        "{:<8} {:>4} {:>4} {:>6} {:>9} {:>7} {:>8} {:>9}",
        "rule", "TP", "FP", "missed", "precision", "recall", "optional", "severity"
    );
    let mut all = Tally::default();
    for (rule, t) in &by_rule {
        println!(
            "{:<8} {:>4} {:>4} {:>6} {:>9} {:>7} {:>8} {:>9}",
            rule,
            t.tp,
            t.fp,
            t.missed,
            ratio(t.tp, t.tp + t.fp),
            ratio(t.tp, t.tp + t.missed),
            t.optional_hits,
            t.severity_differs
        );
        all.tp += t.tp;
        all.fp += t.fp;
        all.missed += t.missed;
        all.optional_hits += t.optional_hits;
        all.severity_differs += t.severity_differs;
    }
    println!(
        "{:<8} {:>4} {:>4} {:>6} {:>9} {:>7} {:>8} {:>9}",
        "overall",
        all.tp,
        all.fp,
        all.missed,
        ratio(all.tp, all.tp + all.fp),
        ratio(all.tp, all.tp + all.missed),
        all.optional_hits,
        all.severity_differs
    );
    if list {
        println!();
        for n in &notes {
            println!("{n}");
        }
    }
    if let Some(dir) = value("--real") {
        real(&dir, list);
    }
}

/// Precision on DIR/real-projects against DIR/real-projects/review-verdicts.tsv.
fn real(data: &Path, list: bool) {
    let projects = data.join("real-projects");
    let verdicts =
        std::fs::read_to_string(projects.join("review-verdicts.tsv")).unwrap_or_else(|e| {
            eprintln!(
                "cannot read {}: {e}",
                projects.join("review-verdicts.tsv").display()
            );
            std::process::exit(2)
        });
    // (rule, project, file, line) -> verdict
    let mut verdict: BTreeMap<(String, String, String, usize), String> = BTreeMap::new();
    for l in verdicts.lines().skip(1) {
        let c: Vec<&str> = l.split('\t').collect();
        if c.len() >= 6 {
            verdict.insert(
                (
                    c[0].into(),
                    c[1].into(),
                    c[2].into(),
                    c[3].parse().unwrap_or(0),
                ),
                c[5].to_string(),
            );
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&projects)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("Dockerfile").is_file());
    dirs.sort();
    let mut by_rule: BTreeMap<String, [usize; 4]> = BTreeMap::new(); // right, wrong, debatable, unreviewed
    let mut notes = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(a) = analyze::analyze_project(dir, &AnalyzeOptions::default()) else {
            continue;
        };
        for f in a.findings.iter().filter(|f| {
            !f.rule.to_string().starts_with("DL")
                && matches!(f.severity, Severity::Error | Severity::Warning)
        }) {
            let rule = f.rule.to_string();
            let key = (
                rule.clone(),
                name.clone(),
                f.file.display().to_string(),
                f.span.line,
            );
            let slot = match verdict.get(&key).map(String::as_str) {
                Some("TRUE") => 0,
                Some("FALSE") => 1,
                Some(_) => 2,
                None => 3,
            };
            by_rule.entry(rule.clone()).or_default()[slot] += 1;
            if slot != 0 {
                notes.push(format!(
                    "{} {name}: {rule} {} {}:{} {}",
                    ["", "wrong", "debatable", "unreviewed"][slot],
                    f.severity.as_str(),
                    f.file.display(),
                    f.span.line,
                    f.message
                ));
            }
        }
    }
    println!();
    println!(
        "shared real projects: {} (verdicts from review-verdicts.tsv)",
        dirs.len()
    );
    println!(
        "{:<8} {:>5} {:>5} {:>9} {:>10} {:>9}",
        "rule", "right", "wrong", "debatable", "unreviewed", "precision"
    );
    let mut all = [0usize; 4];
    for (rule, t) in &by_rule {
        println!(
            "{:<8} {:>5} {:>5} {:>9} {:>10} {:>9}",
            rule,
            t[0],
            t[1],
            t[2],
            t[3],
            ratio(t[0], t[0] + t[1])
        );
        for k in 0..4 {
            all[k] += t[k];
        }
    }
    println!(
        "{:<8} {:>5} {:>5} {:>9} {:>10} {:>9}",
        "overall",
        all[0],
        all[1],
        all[2],
        all[3],
        ratio(all[0], all[0] + all[1])
    );
    if list {
        println!();
        for n in &notes {
            println!("{n}");
        }
    }
}
