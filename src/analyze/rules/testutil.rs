//! Helpers for rule unit tests: analyse a Dockerfile (plus extra files) from strings.

use crate::analyze::{Analysis, AnalyzeOptions, analyze_files};
use std::path::PathBuf;

pub fn check(dockerfile: &str) -> Analysis {
    check_with(dockerfile, &[])
}

pub fn check_with(dockerfile: &str, files: &[(&str, &str)]) -> Analysis {
    let mut all: Vec<(PathBuf, String)> =
        vec![(PathBuf::from("Dockerfile"), dockerfile.to_string())];
    all.extend(files.iter().map(|(p, t)| (PathBuf::from(p), t.to_string())));
    analyze_files(&all, &AnalyzeOptions::default())
}

#[allow(dead_code)]
pub fn ids(a: &Analysis) -> Vec<String> {
    a.findings.iter().map(|f| f.rule.to_string()).collect()
}

#[allow(dead_code)]
pub fn count(a: &Analysis, rule: &str) -> usize {
    a.findings.iter().filter(|f| f.rule == rule).count()
}
