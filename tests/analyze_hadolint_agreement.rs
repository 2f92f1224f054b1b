//! Agreement with hadolint's own rule cases, read from ../shared/testdata/hadolint_cases.jsonl when present
//! (the cases are GPL test data and are never copied into this project).
//!
//! Run: `cargo test --test analyze_hadolint_agreement -- --nocapture` (prints per-rule agreement)

use dockui::analyze::{AnalyzeOptions, analyze_text, rules::catalog};
use std::collections::BTreeMap;
use std::path::Path;

fn cases_path() -> Option<std::path::PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/hadolint_cases.jsonl");
    p.exists().then_some(p)
}

/// Runs in every `cargo test` (CI included) where ../shared/testdata is present; build.rs sets
/// `dockui_hadolint_cases` then. Without the cases it is reported as ignored, not passed.
#[test]
#[cfg_attr(
    not(dockui_hadolint_cases),
    ignore = "needs ../shared/testdata/hadolint_cases.jsonl"
)]
fn hadolint_cases_agreement() {
    let path = cases_path()
        .expect("../shared/testdata/hadolint_cases.jsonl (present when the tests were built)");
    let text = std::fs::read_to_string(path).expect("read cases");
    let ours: Vec<&str> = catalog()
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| id.starts_with("DL"))
        .collect();
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for line in text.lines() {
        let Ok(c) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let rule = c["rule"].as_str().unwrap_or("").to_string();
        if !ours.contains(&rule.as_str()) || !c["config"].is_null() {
            continue;
        }
        let df = c["dockerfile"].as_str().unwrap_or("");
        let a = analyze_text(Path::new("Dockerfile"), df, &AnalyzeOptions::default());
        let n = a.findings.iter().filter(|f| f.rule == rule).count();
        let ok = match (c["expect"].as_str(), c["count"].as_u64()) {
            (Some("not"), _) => n == 0,
            (_, Some(k)) => n == k as usize,
            _ => n >= 1,
        };
        let e = per.entry(rule.clone()).or_default();
        e.1 += 1;
        if ok {
            e.0 += 1;
        } else {
            misses.push(format!(
                "{rule} expect={} count={} got={n}: {:?}",
                c["expect"], c["count"], df
            ));
        }
    }
    let (mut a, mut t) = (0, 0);
    for (r, (ok, total)) in &per {
        println!(
            "{r}: {ok}/{total} ({:.0}%)",
            100.0 * *ok as f64 / *total as f64
        );
        a += ok;
        t += total;
    }
    println!(
        "TOTAL: {a}/{t} ({:.1}%)",
        100.0 * a as f64 / t.max(1) as f64
    );
    for m in &misses {
        println!("MISS {m}");
    }
    assert!(a * 100 >= t * 90, "agreement below 90%: {a}/{t}");
}
