//! Precision and recall of dockui's non-hadolint (DU) error/warning findings on the project's own corpus
//! (tests/precision/<project>/, expected findings in tests/precision/expected.toml). Run through
//! scripts/bench-precision.sh; `--list` also prints every false positive and miss.
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
    let corpus = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
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
}
