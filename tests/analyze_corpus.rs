//! Corpus tests: our own realistic GPU/ML Dockerfiles under tests/fixtures/analyze/corpus/<name>/ (each with
//! an EXPECT file: `+RULE` must fire, `-RULE` must not), the demo project, and (ignored by default) a
//! comparison with hadolint over ../shared/testdata/real-dockerfiles when present.

use dockui::analyze::dockerfile::{Dockerfile, ItemKind};
use dockui::analyze::{AnalyzeOptions, analyze_project, analyze_text};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/analyze")
}

#[test]
fn corpus_parses_and_fires_the_expected_rules() {
    let dir = fixtures().join("corpus");
    let mut n = 0;
    let mut failures = Vec::new();
    let mut no_why: Vec<String> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for p in entries {
        n += 1;
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let a = analyze_project(&p, &AnalyzeOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = std::fs::read_to_string(p.join("Dockerfile")).expect("Dockerfile");
        let df = Dockerfile::parse(&text);
        assert_eq!(df.render(), text, "{name}: round trip");
        let got: BTreeSet<&str> = a.findings.iter().map(|f| f.rule.as_str()).collect();
        // The Conflicts pane shows the why of the selected finding: every finding has one.
        no_why.extend(
            a.findings
                .iter()
                .filter(|f| f.why.is_empty())
                .map(|f| format!("{name}: {}", f.rule)),
        );
        if got.contains("DU001") {
            failures.push(format!("{name}: parse failure {:?}", df.problems));
        }
        let expect = std::fs::read_to_string(p.join("EXPECT")).unwrap_or_default();
        for line in expect
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(r) = line.strip_prefix('+') {
                if !got.contains(r) {
                    failures.push(format!("{name}: expected {r}, got {got:?}"));
                }
            } else if let Some(r) = line.strip_prefix('-') {
                if got.contains(r) {
                    let f: Vec<_> = a
                        .findings
                        .iter()
                        .filter(|f| f.rule == r)
                        .map(|f| format!("{}:{} {}", f.file.display(), f.span.line, f.message))
                        .collect();
                    failures.push(format!("{name}: did not expect {r}: {f:?}"));
                }
            }
        }
    }
    assert!(n >= 15, "corpus has {n} projects, want >= 15");
    assert!(no_why.is_empty(), "findings without a why: {no_why:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn demo_project_conflicts() {
    let a = analyze_project(&fixtures().join("demo"), &AnalyzeOptions::default()).expect("demo");
    let ids: BTreeSet<&str> = a.findings.iter().map(|f| f.rule.as_str()).collect();
    for want in ["DU101", "DL3042", "DU203", "DU201", "DU202"] {
        assert!(ids.contains(want), "demo: missing {want} in {ids:?}");
    }
    assert!(a.has_errors());
    assert_eq!(
        a.files,
        [
            PathBuf::from("Dockerfile"),
            PathBuf::from("requirements.txt")
        ]
    );
    // The JSON form is stable: spot-check its shape.
    let v = serde_json::to_value(&a).expect("json");
    let f = &v["findings"][0];
    for key in [
        "rule", "severity", "file", "span", "message", "why", "facts", "fixes",
    ] {
        assert!(f.get(key).is_some(), "json finding lacks {key}");
    }
}

/// Line of the instruction (item) holding byte `at`: hadolint reports instruction lines.
fn instruction_line(df: &Dockerfile, at: usize) -> usize {
    df.items
        .iter()
        .find(|i| {
            i.range.contains(&at)
                && matches!(i.kind, ItemKind::Instruction(_) | ItemKind::Error { .. })
        })
        .map(|i| i.line)
        .unwrap_or(0)
}

#[test]
#[ignore = "needs ../shared/testdata; prints agreement with hadolint on real Dockerfiles"]
fn real_dockerfiles_vs_hadolint() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    let Ok(json) = std::fs::read_to_string(base.join("real_hadolint.json")) else {
        eprintln!("no ../shared/testdata: skipped");
        return;
    };
    let theirs: BTreeMap<String, Vec<serde_json::Value>> =
        serde_json::from_str(&json).expect("json");
    let ours_ids: BTreeSet<&str> = dockui::analyze::rules::catalog()
        .iter()
        .map(|r| r.id.as_str())
        .filter(|r| r.starts_with("DL"))
        .collect();
    let mut per: BTreeMap<String, [usize; 3]> = BTreeMap::new(); // agree, miss, extra
    let mut own: BTreeMap<String, usize> = BTreeMap::new();
    let mut parse_failures = 0;
    for (file, items) in &theirs {
        let Ok(bytes) = std::fs::read(base.join("real-dockerfiles").join(file)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let df = Dockerfile::parse(&text);
        parse_failures += df.problems.len();
        let a = analyze_text(Path::new("Dockerfile"), &text, &AnalyzeOptions::default());
        let ours: BTreeSet<(String, usize)> = a
            .findings
            .iter()
            .filter(|f| ours_ids.contains(f.rule.as_str()))
            .map(|f| (f.rule.to_string(), instruction_line(&df, f.span.start)))
            .collect();
        for f in a.findings.iter().filter(|f| !f.rule.starts_with("DL")) {
            *own.entry(f.rule.to_string()).or_default() += 1;
        }
        let t: BTreeSet<(String, usize)> = items
            .iter()
            .filter_map(|x| {
                Some((
                    x["code"].as_str()?.to_string(),
                    x["line"].as_u64()? as usize,
                ))
            })
            .filter(|(c, _)| ours_ids.contains(c.as_str()))
            .collect();
        for x in t.intersection(&ours) {
            per.entry(x.0.clone()).or_default()[0] += 1;
        }
        for x in t.difference(&ours) {
            per.entry(x.0.clone()).or_default()[1] += 1;
            println!("MISS  {file}:{} {}", x.1, x.0);
        }
        for x in ours.difference(&t) {
            per.entry(x.0.clone()).or_default()[2] += 1;
            println!("EXTRA {file}:{} {}", x.1, x.0);
        }
    }
    let (mut ag, mut mi, mut ex) = (0, 0, 0);
    for (r, [a, m, e]) in &per {
        println!("{r}: agree {a}, missed {m}, extra {e}");
        ag += a;
        mi += m;
        ex += e;
    }
    println!("TOTAL agree {ag}, missed {mi}, extra {ex}; dockui parse problems: {parse_failures}");
    println!("dockui-only rules fired: {own:?}");
}

/// Deterministic mutations of real-looking files: delete, duplicate and inject shell/Dockerfile syntax.
fn mutations(text: &str, seed: u64, n: usize) -> Vec<String> {
    const INJECT: &[&str] = &[
        "\\\n", "<<EOF\n", "EOF\n", "\"", "'", "$(", "${", "}", "[", "]", "&&", "|", "#", "\n",
        "\t", "é", "ONBUILD ", "--mount=", "`", "<<-X ", "\r\n",
    ];
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = |m: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % m.max(1)
    };
    let chars: Vec<char> = text.chars().collect();
    (0..n)
        .map(|_| {
            let mut c = chars.clone();
            for _ in 0..1 + next(6) {
                let at = next(c.len() + 1);
                match next(3) {
                    0 if !c.is_empty() => {
                        let len = 1 + next(20);
                        let end = (at + len).min(c.len());
                        c.drain(at.min(end)..end);
                    }
                    1 => {
                        let ins: Vec<char> = INJECT[next(INJECT.len())].chars().collect();
                        c.splice(at..at, ins);
                    }
                    _ => {
                        let from = next(c.len().max(1));
                        let piece: Vec<char> =
                            c.iter().skip(from).take(1 + next(40)).copied().collect();
                        c.splice(at.min(c.len())..at.min(c.len()), piece);
                    }
                }
            }
            c.into_iter().collect()
        })
        .collect()
}

fn fuzz_dir(dir: &Path, per_file: usize) -> usize {
    let mut n = 0;
    let mut files: Vec<PathBuf> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                files.push(p.join("Dockerfile"));
            } else if !p.to_string_lossy().ends_with(".txt")
                && !p.to_string_lossy().ends_with(".tsv")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    for (k, f) in files.iter().enumerate() {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for m in mutations(&text, k as u64, per_file) {
            let df = Dockerfile::parse(&m);
            assert_eq!(df.render(), m, "round trip after mutating {}", f.display());
            let a = analyze_text(Path::new("Dockerfile"), &m, &AnalyzeOptions::default());
            for x in &a.findings {
                assert!(
                    x.span.end <= m.len() && x.span.start <= x.span.end,
                    "span out of range in {}",
                    f.display()
                );
                for fix in &x.fixes {
                    for e in &fix.edits {
                        assert!(
                            e.start <= e.end
                                && e.end <= m.len()
                                && m.is_char_boundary(e.start)
                                && m.is_char_boundary(e.end)
                        );
                    }
                }
            }
            n += 1;
        }
    }
    n
}

#[test]
fn mutated_corpus_never_panics() {
    let n = fuzz_dir(&fixtures().join("corpus"), 40);
    assert!(n >= 600);
}

#[test]
#[ignore = "needs ../shared/testdata; longer fuzz over real Dockerfiles"]
fn mutated_real_dockerfiles_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/real-dockerfiles");
    let n = fuzz_dir(&dir, 60);
    println!("{n} mutated files analysed");
}
