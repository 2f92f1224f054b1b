use super::*;
use crate::fix::proposal::Decision;

const TORCH_BASE: &str = "FROM pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nCMD [\"python\", \"serve.py\"]\n";

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// A finding from outside the analyzer (as a push's digest update is), built from an analyzer finding so the
/// test does not depend on how rule ids are typed.
fn outside_finding(file: &str, line: usize, fix: Fix) -> Finding {
    let mut f = analyze::analyze_text(
        Path::new("Dockerfile"),
        "FROM ubuntu:22.04\nRUN pip install flask\n",
        &AnalyzeOptions::default(),
    )
    .findings
    .into_iter()
    .next()
    .expect("some finding");
    f.file = PathBuf::from(file);
    f.span.line = line;
    f.severity = Severity::Info;
    f.fixes = vec![fix];
    f
}

fn all(_: &Finding, _: &Fix) -> bool {
    true
}

fn plan_with(
    dir: &Path,
    allow: &dyn Fn(&Finding, &Fix) -> bool,
    choice: &HashMap<String, usize>,
) -> Plan {
    plan(
        dir,
        &AnalyzeOptions::default(),
        &PlanOptions {
            allow,
            choice,
            extra: &[],
        },
    )
    .unwrap()
}

/// Accept every hunk of every proposal and write the files, as the TUI's `y`... `w` does.
fn accept_all_and_write(dir: &Path, plan: &Plan) {
    for p in &plan.proposals {
        let decisions: HashMap<_, _> = p.hunks.iter().map(|h| (h.id, Decision::Accept)).collect();
        let new = proposal::apply(p, &decisions);
        std::fs::write(dir.join(&p.file), new).unwrap();
    }
}

fn errors_and_warnings(a: &Analysis) -> Vec<String> {
    a.findings
        .iter()
        .filter(|f| is_ew(f))
        .map(|f| {
            format!(
                "{} {}:{} {}",
                f.rule,
                f.file.display(),
                f.span.line,
                f.message
            )
        })
        .collect()
}

#[test]
fn the_reported_torch_pair_accepted_whole_leaves_no_gpu_error_and_nothing_flips() {
    let dir = project(&[
        ("Dockerfile", TORCH_BASE),
        (
            "requirements.txt",
            "torch==2.3.1\ntorchvision==0.19.0\nnumpy<2\n",
        ),
    ]);
    let p = plan_with(dir.path(), &all, &HashMap::new());
    assert!(p.before.has_errors(), "the repro has an error to fix");
    assert!(!p.proposals.is_empty());
    accept_all_and_write(dir.path(), &p);
    let after = analyze::analyze_project(dir.path(), &AnalyzeOptions::default()).unwrap();
    let gpu_errors: Vec<String> = after
        .findings
        .iter()
        .filter(|f| f.rule.to_string().starts_with("DU2") && f.severity == Severity::Error)
        .map(|f| format!("{} {}", f.rule, f.message))
        .collect();
    assert!(gpu_errors.is_empty(), "{gpu_errors:?}");
    // No error or warning that the disk version did not already have, and what the plan predicted.
    assert!(
        new_problems(&p.before, &after).is_empty(),
        "{:?}",
        errors_and_warnings(&after)
    );
    assert_eq!(errors_and_warnings(&after), errors_and_warnings(&p.after));
    // A fixed point: planning again on the written project proposes nothing (the base bump and the torch pin
    // cannot flip each other).
    let again = plan_with(dir.path(), &all, &HashMap::new());
    assert!(again.proposals.is_empty(), "{:?}", again.steps);
}

#[test]
fn the_users_alternative_is_kept_with_the_follow_ups_it_needs() {
    let dir = project(&[
        ("Dockerfile", TORCH_BASE),
        (
            "requirements.txt",
            "torch==2.3.1\ntorchvision==0.19.0\nnumpy<2\n",
        ),
    ]);
    // The user picked "move the base image" for DU201 (alternative 0).
    let choice: HashMap<String, usize> = [("DU201 requirements.txt:1".to_string(), 0)].into();
    let p = plan_with(dir.path(), &all, &choice);
    let first = &p.steps[0];
    assert_eq!(first.fix, "DU201.move-base", "{:?}", p.steps);
    accept_all_and_write(dir.path(), &p);
    let df = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(df.contains("pytorch/pytorch:2.3.1-"), "{df}");
    let after = analyze::analyze_project(dir.path(), &AnalyzeOptions::default()).unwrap();
    assert!(!after.has_errors(), "{:?}", errors_and_warnings(&after));
    assert!(new_problems(&p.before, &after).is_empty());
}

#[test]
fn a_fix_that_adds_an_error_is_held_with_the_reason() {
    // torch pinned to the base's 2.4.0 alone breaks the torchvision 0.18 pair; the pair fix is not allowed.
    let dir = project(&[
        ("Dockerfile", TORCH_BASE),
        ("requirements.txt", "torch==2.3.1\ntorchvision==0.18.1\n"),
    ]);
    let only_du203 = |f: &Finding, _: &Fix| f.rule == "DU203";
    let p = plan_with(dir.path(), &only_du203, &HashMap::new());
    assert!(p.proposals.is_empty(), "{:?}", p.steps);
    let held = p
        .held
        .iter()
        .find(|h| h.fix == "DU203.pin-base")
        .expect("held");
    assert!(held.reason.contains("DU202 error"), "{}", held.reason);
    // With the pair fix allowed, torch and torchvision move together (one hunk), or the base moves.
    let p = plan_with(dir.path(), &all, &HashMap::new());
    accept_all_and_write(dir.path(), &p);
    let after = analyze::analyze_project(dir.path(), &AnalyzeOptions::default()).unwrap();
    assert!(
        new_problems(&p.before, &after).is_empty(),
        "{:?}",
        errors_and_warnings(&after)
    );
    assert!(!after.has_errors());
}

#[test]
fn a_bundle_spanning_hunks_is_linked_and_independent_safe_fixes_are_not() {
    let dir = project(&[
        ("Dockerfile", TORCH_BASE),
        ("requirements.txt", "torch==2.3.1\ntorchvision==0.18.1\n"),
    ]);
    // Only the torch pin and its torchvision follow-up: one group, two steps.
    let gpu = |f: &Finding, _: &Fix| matches!(f.rule.to_string().as_str(), "DU203" | "DU202");
    let p = plan_with(dir.path(), &gpu, &HashMap::new());
    let groups: Vec<usize> = p.steps.iter().map(|s| s.group).collect();
    assert_eq!(groups.len(), 2, "{:?}", p.steps);
    assert_eq!(groups[0], groups[1], "{:?}", p.steps);
    // torch and torchvision are adjacent lines: one hunk carrying both sources.
    assert_eq!(p.proposals.len(), 1);
    assert_eq!(p.proposals[0].hunks.len(), 1);
    assert_eq!(
        p.proposals[0].hunks[0].sources.len(),
        2,
        "{:?}",
        p.proposals[0].hunks
    );
    // Hygiene fixes of a plain Dockerfile land together, each a group of its own.
    let dir = project(&[(
        "Dockerfile",
        "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y curl\nRUN pip install flask\n",
    )]);
    let safe = |_: &Finding, fix: &Fix| fix.level == FixLevel::Safe;
    let p = plan_with(dir.path(), &safe, &HashMap::new());
    assert!(p.steps.len() >= 2, "{:?}", p.steps);
    let mut groups: Vec<usize> = p.steps.iter().map(|s| s.group).collect();
    groups.dedup();
    assert_eq!(groups.len(), p.steps.len(), "{:?}", p.steps);
}

#[test]
fn safe_fixes_reach_a_fixed_point_in_one_plan() {
    let dir = project(&[(
        "Dockerfile",
        "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y curl git\nRUN pip install flask\nCMD [\"python\", \"app.py\"]\n",
    )]);
    let safe = |_: &Finding, fix: &Fix| fix.level == FixLevel::Safe;
    let p = plan_with(dir.path(), &safe, &HashMap::new());
    assert!(!p.proposals.is_empty());
    accept_all_and_write(dir.path(), &p);
    let again = plan_with(dir.path(), &safe, &HashMap::new());
    assert!(again.proposals.is_empty(), "{:?}", again.steps);
}

#[test]
fn crlf_files_keep_their_line_ends_and_a_bare_cr_does_not_panic() {
    let text = "FROM ubuntu:22.04\r\nRUN apt-get update && apt-get install -y curl\r\nRUN pip install flask\r\n";
    let dir = project(&[("Dockerfile", text)]);
    let p = plan_with(dir.path(), &all, &HashMap::new());
    let new = &p.planned()[0].1;
    assert!(new.len() > text.len());
    assert_eq!(
        new.matches('\n').count(),
        new.matches("\r\n").count(),
        "{new:?}"
    );
    let text = "# comment\rFROM ubuntu:22.04\nRUN apt-get update && apt-get install curl\n";
    let dir = project(&[("Dockerfile", text)]);
    let p = plan_with(dir.path(), &all, &HashMap::new());
    for (_, new) in p.planned() {
        assert!(new.starts_with("# comment\rFROM ubuntu:22.04\n"), "{new:?}");
    }
}

#[test]
fn hunk_ids_are_stable_across_plans() {
    let files = [
        ("Dockerfile", TORCH_BASE),
        ("requirements.txt", "torch==2.3.1\ntorchvision==0.19.0\n"),
    ];
    let a = plan_with(project(&files).path(), &all, &HashMap::new());
    let b = plan_with(project(&files).path(), &all, &HashMap::new());
    let ids = |p: &Plan| -> Vec<_> {
        p.proposals
            .iter()
            .flat_map(|p| p.hunks.iter().map(|h| h.id))
            .collect()
    };
    assert_eq!(ids(&a), ids(&b));
    assert!(!ids(&a).is_empty());
}

#[test]
fn map_line_follows_inserted_and_removed_lines() {
    let old = "a\nb\nc\n";
    let cur = "a\nx\ny\nb\nc\n";
    assert_eq!(map_line(old, cur, 0), 0);
    assert_eq!(map_line(old, cur, 1), 1);
    assert_eq!(map_line(old, cur, 3), 1);
    assert_eq!(map_line(old, cur, 4), 2);
    assert_eq!(map_lines(old, cur), vec![0, 1, 1, 1, 2, 3]);
}

#[test]
fn line_ends_follow_the_file() {
    assert_eq!(match_line_ends("a\r\nb\r\n", "x\ny"), "x\r\ny");
    assert_eq!(match_line_ends("a\nb\r\n", "x\ny"), "x\ny");
    assert_eq!(match_line_ends("a\r\n", "x\r\ny"), "x\r\ny");
}

#[test]
fn a_push_digest_update_joins_the_plan_first() {
    let dir = project(&[
        ("Dockerfile", "FROM python:3.11-slim\nCOPY . /app\n"),
        (
            "deploy/compose.yaml",
            "services:\n  app:\n    image: registry.local/app:1.0\n",
        ),
    ]);
    let old = "registry.local/app:1.0";
    let start = "services:\n  app:\n    image: ".len();
    let f = outside_finding(
        "deploy/compose.yaml",
        3,
        Fix {
            id: "PUSH.pin".into(),
            level: FixLevel::Suggestion,
            description: "pin".into(),
            file: PathBuf::from("deploy/compose.yaml"),
            edits: vec![TextEdit {
                start,
                end: start + old.len(),
                replacement: format!("{old}@sha256:{}", "a".repeat(64)),
            }],
        },
    );
    let p = plan(
        dir.path(),
        &AnalyzeOptions::default(),
        &PlanOptions {
            allow: &all,
            choice: &HashMap::new(),
            extra: std::slice::from_ref(&f),
        },
    )
    .unwrap();
    assert_eq!(p.steps[0].fix, "PUSH.pin", "{:?}", p.steps);
    let compose = p
        .planned()
        .into_iter()
        .find(|(f, _)| f == Path::new("deploy/compose.yaml"))
        .unwrap()
        .1;
    assert!(compose.contains("app:1.0@sha256:aaaa"), "{compose}");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        // Any Dockerfile text (bare \r, \r\n, NUL, odd bytes, broken instructions): planning never panics,
        // the plan never adds a parse problem, accepting it all gives the planned text, and it is a fixed point.
        #[test]
        fn planning_any_text_is_safe(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("FROM ubuntu:22.04".to_string()),
                    Just("FROM pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime".to_string()),
                    Just("RUN apt-get update && apt-get install curl".to_string()),
                    Just("RUN pip install torch==2.3.1 torchvision==0.19.0".to_string()),
                    Just("RUN pip install -r requirements.txt \\".to_string()),
                    Just("# comment\rFROM busybox".to_string()),
                    Just("ENV A=1\0B".to_string()),
                    "[ -~\r\t\u{e9}\u{0}]{0,30}",
                ],
                1..10,
            ),
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let text: String = lines.iter().map(|l| format!("{l}{eol}")).collect();
            let dir = project(&[("Dockerfile", &text), ("requirements.txt", "torch==2.3.1\ntorchvision==0.19.0\n")]);
            let p = plan_with(dir.path(), &all, &HashMap::new());
            for (file, new) in p.planned() {
                let old = std::fs::read_to_string(dir.path().join(&file)).unwrap();
                prop_assert_eq!(validate::breakage(&file, &old, &new), None);
            }
            accept_all_and_write(dir.path(), &p);
            let again = plan_with(dir.path(), &all, &HashMap::new());
            prop_assert!(again.proposals.is_empty(), "{:?}", again.steps);
        }
    }
}

/// A finding from outside the analyzer whose one fix replaces `old` in `file` by `new`.
fn replacing(file: &str, text: &str, old: &str, new: &str) -> Finding {
    let start = text.find(old).unwrap();
    outside_finding(
        file,
        proposal::line_of(text, start) + 1,
        Fix {
            id: "T.edit".into(),
            level: FixLevel::Suggestion,
            description: "edit".into(),
            file: PathBuf::from(file),
            edits: vec![TextEdit {
                start,
                end: start + old.len(),
                replacement: new.into(),
            }],
        },
    )
}

#[test]
fn an_edit_that_breaks_its_file_is_held_with_the_parse_problem() {
    let pyproject = "[project]\nname = \"x\"\ndependencies = [\"torch==2.4.0\"]\n\n[project.optional-dependencies]\ncu = [\"torchvision==0.19.0\"]\n";
    let dockerfile = "FROM python:3.11-slim\nCOPY . /app\nRUN pip install --no-cache-dir /app\n";
    let dir = project(&[("Dockerfile", dockerfile), ("pyproject.toml", pyproject)]);
    let extra = [
        // The reported bug's shape: a fix that replaces the first line of pyproject.toml.
        replacing(
            "pyproject.toml",
            pyproject,
            "[project]",
            "torchvision = \"0.19.0\"",
        ),
        replacing("Dockerfile", dockerfile, "COPY . /app", "COPPY . /app"),
        replacing(
            "pyproject.toml",
            pyproject,
            "torchvision==0.19.0",
            "torchvision==0.19.1",
        ),
    ];
    let p = plan(
        dir.path(),
        &AnalyzeOptions::default(),
        &PlanOptions {
            allow: &all,
            choice: &HashMap::new(),
            extra: &extra,
        },
    )
    .unwrap();
    let reasons: Vec<&str> = p.held.iter().map(|h| h.reason.as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("pyproject.toml would no longer parse")
                && r.contains("remove the key `project.")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("Dockerfile would no longer parse") && r.contains("line 2")),
        "{reasons:?}"
    );
    // The edit that keeps the file whole is planned; the broken ones are not in any text.
    let planned = p.planned();
    let py = &planned
        .iter()
        .find(|(f, _)| f == Path::new("pyproject.toml"))
        .unwrap()
        .1;
    assert!(
        py.starts_with("[project]\n") && py.contains("torchvision==0.19.1"),
        "{py}"
    );
    assert!(planned.iter().all(|(_, t)| !t.contains("COPPY")));
}

#[test]
fn a_fix_that_cures_one_of_two_commands_is_completed_by_the_same_findings_next_fix() {
    // One RUN, two pip installs: each fix adds --no-cache-dir to one of them, the finding stays until both.
    let text = "FROM python:3.11-slim\nRUN pip install torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu && \\\n    pip install flask==3.0.3\n";
    let dir = project(&[("Dockerfile", text)]);
    let p = plan_with(dir.path(), &all, &HashMap::new());
    let new = &p.planned()[0].1;
    assert_eq!(new.matches("--no-cache-dir").count(), 2, "{new}");
    assert!(
        p.after.findings.iter().all(|f| f.rule != "DL3042"),
        "{:?}",
        p.after.findings
    );
    assert!(
        p.held.iter().all(|h| h.fix != "DL3042.no-cache-dir"),
        "{:?}",
        p.held
    );
}

#[test]
fn map_line_keeps_lines_edited_in_place() {
    let old = "a\nb\nc\nd\n";
    let cur = "a\nB\nC\nC2\nd\n";
    assert_eq!(map_lines(old, cur), vec![0, 1, 2, 2, 3, 4]);
}

#[test]
fn many_same_rule_fixes_cost_a_few_analyses_and_share_one_text() {
    let n = 300;
    let mut df = String::from("FROM ubuntu:22.04\n");
    for i in 0..n {
        df.push_str(&format!("RUN pip install x{i}\n"));
    }
    let dir = project(&[("Dockerfile", &df)]);
    let p = plan_with(dir.path(), &all, &HashMap::new());
    let cache_fixes = p
        .steps
        .iter()
        .filter(|s| s.label.starts_with("DL3042"))
        .count();
    assert_eq!(cache_fixes, n, "every pip install gets --no-cache-dir");
    assert!(
        p.analyses <= 6,
        "{} analyses for {n} same-rule fixes",
        p.analyses
    );
    // Each hunk names its sources once, and the sources are the steps on its lines.
    let sources: usize = p.proposals[0].hunks.iter().map(|h| h.sources.len()).sum();
    assert!(sources >= n, "{sources}");

    // The batch's fixes were applied to one shared text, not one copy each (N copies of an N-line file).
    let (opts, choice) = (AnalyzeOptions::default(), HashMap::new());
    let po = PlanOptions {
        allow: &all,
        choice: &choice,
        extra: &[],
    };
    let mut pl = Planner::new(dir.path(), &opts, &po);
    let before = pl.analyse(&HashMap::new()).unwrap();
    let st = State {
        texts: HashMap::new(),
        analysis: before,
    };
    let cands = pl.candidates(&st, false).unwrap();
    let good = pl
        .safe_batch(&st, &cands)
        .unwrap()
        .expect("the batch helps");
    assert_eq!(good.applied_to.len(), n);
    assert!(
        good.applied_to
            .iter()
            .all(|t| Arc::ptr_eq(t, &good.applied_to[0]))
    );
    // Must not: a single fix's state shares the files it did not change and copies the one it did.
    let one = pl.evaluate(&good.state, &cands[0], false).unwrap();
    if let Ok(g) = one {
        assert!(!Arc::ptr_eq(
            &g.state.texts[Path::new("Dockerfile")],
            &good.state.texts[Path::new("Dockerfile")]
        ));
    }
}

#[test]
fn a_line_after_deleted_lines_keeps_its_own_disk_line() {
    // Fires: "d" is disk line 3 (0-based), not the deleted "b" the diff's delete op starts at.
    assert_eq!(map_lines("a\nb\nc\nd\n", "a\nd\n"), vec![0, 3, 4]);
    assert_eq!(map_line("a\nb\nc\nd\n", "a\nd\n", 1), 3);
    // Trailing deletion: only one past the end maps to where the deleted lines started.
    assert_eq!(map_lines("a\nb\nc\n", "a\n"), vec![0, 1]);
    // Must not move: an untouched text maps every line to itself.
    assert_eq!(map_lines("a\nb\n", "a\nb\n"), vec![0, 1, 2]);
}

#[test]
fn map_lines_agrees_with_map_line() {
    for (old, cur) in [
        ("a\nb\nc\n", "a\nx\ny\nb\nc\n"),
        ("a\nb\nc\nd\n", "a\nd\n"),
        ("a\nb\nc\n", "z\nb\nq\nr\n"),
        ("", "x\n"),
        ("a\nb", "a\nc"),
        ("a\nb\nc\n", "a\n"),
        ("a\nb\nc\nd\ne\n", "a\nc\ne\n"),
    ] {
        let m = map_lines(old, cur);
        assert_eq!(m.len(), proposal::lines(cur).len() + 1);
        for (line, &disk) in m.iter().enumerate() {
            assert_eq!(
                disk,
                map_line(old, cur, line),
                "{old:?} -> {cur:?} line {line}"
            );
        }
    }
}

/// The demo: torch 2.7.1 over a 2.5.1 base (DU201, DU203) and torchvision 0.20.1 that does not match 2.7.1
/// (DU202). Moving torch to 2.5.1 ends the mismatch, so DU202's own fix is never taken: the step says it
/// resolves DU202 (and DU203), for the TUI to show that hunk on Enter on DU202 (auditor: "has no fix to
/// review" on a finding marked [fix]). Claims are findings on disk, gone from the plan, one group each.
#[test]
fn a_step_names_the_findings_on_disk_it_resolves_besides_its_own() {
    let dir = tempfile::tempdir().unwrap();
    crate::demo::materialize(dir.path()).unwrap();
    let p = plan_with(dir.path(), &all, &HashMap::new());
    let torch = p
        .steps
        .iter()
        .find(|s| s.label == "DU201 requirements.txt:2")
        .unwrap_or_else(|| panic!("{:?}", p.steps));
    assert!(
        torch
            .resolves
            .contains(&"DU202 requirements.txt:3".to_string()),
        "{torch:?}"
    );
    assert!(p.steps.iter().all(|s| !s.label.starts_with("DU202 ")));
    let on_disk: Vec<String> = p
        .before
        .findings
        .iter()
        .map(|f| label(f, f.span.line))
        .collect();
    let left: Vec<String> = p
        .after
        .findings
        .iter()
        .map(|f| label(f, f.span.line))
        .collect();
    let mut claimed: HashMap<&str, usize> = HashMap::new();
    for s in &p.steps {
        for r in &s.resolves {
            assert!(on_disk.contains(r), "{r} is not a finding on disk");
            assert!(!left.contains(r), "{r} is still in the plan");
            assert!(
                p.steps.iter().all(|o| &o.label != r),
                "{r} has its own step"
            );
            assert_eq!(*claimed.entry(r).or_insert(s.group), s.group, "{r}");
        }
    }
    // In the JSON of `dockui fix` only where there is something to say.
    let json = serde_json::to_value(&p.steps).unwrap();
    for (s, j) in p.steps.iter().zip(json.as_array().unwrap()) {
        assert_eq!(j.get("resolves").is_some(), !s.resolves.is_empty(), "{j}");
    }
}
