//! `dockui fix` and `dockui undo` on a copy of the demo, through the binary.

mod common;

#[test]
fn dry_run_prints_diffs_and_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let before = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let out = common::dockui(home.path())
        .args(["fix", "--dry-run"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("+RUN pip install --no-cache-dir -r requirements.txt"),
        "{stdout}"
    );
    assert!(stdout.contains("would change: Dockerfile"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        before
    );
}

#[test]
fn safe_level_fixes_only_safe_rules_and_undo_restores() {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let df_before = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let req_before = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
    let out = common::dockui(home.path())
        .args(["fix", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["changes"][0]["written"], true);
    let df = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(df.contains("pip install --no-cache-dir"));
    assert!(df.contains("DEBIAN_FRONTEND=noninteractive"));
    // Suggestions (base tag, torch pins) are not applied at the safe level.
    assert!(df.contains("ARG BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"));
    assert_eq!(
        std::fs::read_to_string(dir.join("requirements.txt")).unwrap(),
        req_before
    );
    // The fixed file no longer triggers the fixed rules, and still parses.
    let out = common::dockui(home.path())
        .args(["check", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for f in check["findings"].as_array().unwrap() {
        assert!(
            !["DL3042", "DU101", "DL3015", "DL3009", "DU001"]
                .contains(&f["rule"].as_str().unwrap()),
            "{f}"
        );
    }
    let out = common::dockui(home.path())
        .arg("undo")
        .arg(dir.join("Dockerfile"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        df_before
    );
}

#[test]
fn suggestion_level_converges_on_one_coherent_torch_stack() {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let out = common::dockui(home.path())
        .args(["fix", "--level", "suggestion"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = common::dockui(home.path())
        .args(["check", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let left: Vec<&str> = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for gpu_rule in ["DU201", "DU202", "DU203"] {
        assert!(
            !left.contains(&gpu_rule),
            "{gpu_rule} still reported: {left:?}"
        );
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "no error-level findings left: {left:?}"
    );
}

#[test]
fn only_the_named_rule_is_fixed() {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let out = common::dockui(home.path())
        .args(["fix", "--rule", "DL3042"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let df = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(df.contains("pip install --no-cache-dir"));
    assert!(
        !df.contains("DEBIAN_FRONTEND"),
        "only DL3042 was asked for:\n{df}"
    );
}

/// The project from issue 16: the base image has torch 2.4.0, requirements pin torch 2.3.1 with the
/// torchvision of 2.4 (0.19.0).
fn torch_pair_repro(home: &std::path::Path) -> std::path::PathBuf {
    let dir = home.join("repro");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nCMD [\"python\", \"serve.py\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("requirements.txt"),
        "torch==2.3.1\ntorchvision==0.19.0\nnumpy<2\n",
    )
    .unwrap();
    dir
}

fn check_json(home: &std::path::Path, dir: &std::path::Path) -> serde_json::Value {
    let out = common::dockui(home)
        .args(["check", "--format", "json"])
        .arg(dir)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn gpu_errors(check: &serde_json::Value) -> Vec<String> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("DU2") && f["severity"] == "error")
        .map(|f| f.to_string())
        .collect()
}

fn fix_json(home: &std::path::Path, dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let out = common::dockui(home)
        .args(["fix", "--format", "json", "--level", "suggestion"])
        .args(extra)
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (file, diff) of every change a fix run reports.
fn changes(run: &serde_json::Value) -> Vec<(String, String)> {
    run["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["file"].as_str().unwrap().to_string(),
                c["diff"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn dry_run_and_real_run_report_the_same_files_and_diffs() {
    for (name, make) in [
        (
            "repro",
            torch_pair_repro as fn(&std::path::Path) -> std::path::PathBuf,
        ),
        ("demo", common::demo_copy),
    ] {
        let home = tempfile::tempdir().unwrap();
        let dir = make(home.path());
        let dry = fix_json(home.path(), &dir, &["--dry-run"]);
        let real = fix_json(home.path(), &dir, &[]);
        assert!(!changes(&dry).is_empty(), "{name}: {dry}");
        assert_eq!(changes(&dry), changes(&real), "{name}");
        assert_eq!(dry["remaining"], real["remaining"], "{name}");
        // What the real run wrote is what the dry run showed: nothing is left to propose.
        let again = fix_json(home.path(), &dir, &["--dry-run"]);
        assert!(changes(&again).is_empty(), "{name}: {again}");
    }
}

#[test]
fn the_reported_torch_pair_is_fixed_without_any_gpu_error() {
    let home = tempfile::tempdir().unwrap();
    let dir = torch_pair_repro(home.path());
    assert!(!gpu_errors(&check_json(home.path(), &dir)).is_empty());
    fix_json(home.path(), &dir, &[]);
    let check = check_json(home.path(), &dir);
    assert!(gpu_errors(&check).is_empty(), "{check}");
}

#[test]
fn accepting_every_hunk_in_the_tui_then_writing_leaves_no_gpu_error() {
    let home = tempfile::tempdir().unwrap();
    let dir = torch_pair_repro(home.path());
    let Some(t) = common::tmux::Tmux::dockui("planner-accept-all", 160, 48, home.path(), &dir)
    else {
        return;
    };
    t.wait_for("the review", |s| s.contains("requirements.txt (1 hunk(s))"));
    t.send(&["Tab"]);
    t.wait_for("diff pane focused", |s| s.contains("[ Proposed diff ]"));
    // Accept until no hunk is undecided (`y` moves on to the next one).
    for _ in 0..10 {
        if !t.screen().contains("[ ] @@") {
            break;
        }
        t.send(&["y"]);
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    t.wait_for("all accepted", |s| {
        !s.contains("[ ] @@") && s.contains("[y] @@")
    });
    t.send(&["w"]);
    t.wait_for("written", |s| s.contains("wrote "));
    // After the re-analysis nothing is left to propose: the accepted fixes do not flip each other.
    t.wait_for("nothing left", |s| {
        !s.contains("[ ] @@") && !s.contains("[y] @@")
    });
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    let check = check_json(home.path(), &dir);
    assert!(gpu_errors(&check).is_empty(), "{check}");
    assert_eq!(check["findings"].as_array().unwrap().len(), 0, "{check}");
}

#[test]
fn a_bare_carriage_return_does_not_crash_fix_and_line_ends_are_kept() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("cr");
    std::fs::create_dir_all(&dir).unwrap();
    // Old editors write a bare \r as a line end.
    let text = "# comment\rFROM ubuntu:22.04\nRUN apt-get update && apt-get install curl\n";
    std::fs::write(dir.join("Dockerfile"), text).unwrap();
    for args in [&["--dry-run"][..], &[][..]] {
        let out = common::dockui(home.path())
            .arg("fix")
            .args(args)
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    }
    let now = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(now.starts_with("# comment\rFROM ubuntu:22.04\n"), "{now:?}");
    assert_ne!(now, text, "the safe fixes were written");

    // \r\n files keep \r\n exactly: untouched lines byte for byte, new lines with \r\n too.
    let dir = home.path().join("crlf");
    std::fs::create_dir_all(&dir).unwrap();
    let text = "FROM ubuntu:22.04\r\nRUN apt-get update && apt-get install -y curl\r\nRUN pip install flask\r\nCMD [\"flask\", \"run\"]\r\n";
    std::fs::write(dir.join("Dockerfile"), text).unwrap();
    let out = common::dockui(home.path())
        .arg("fix")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let now = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert_ne!(now, text);
    assert_eq!(
        now.matches('\n').count(),
        now.matches("\r\n").count(),
        "{now:?}"
    );
    assert!(now.starts_with("FROM ubuntu:22.04\r\n"), "{now:?}");
    assert!(now.ends_with("CMD [\"flask\", \"run\"]\r\n"), "{now:?}");
}

#[test]
fn the_tui_opens_a_project_with_a_bare_carriage_return() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("cr");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "# comment\rFROM ubuntu:22.04\nRUN apt-get update && apt-get install curl\n",
    )
    .unwrap();
    let Some(t) = common::tmux::Tmux::dockui("planner-cr", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("the review", |s| s.contains("Dockerfile (1 hunk(s))"));
    t.send(&["q"]);
    let screen = t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    assert!(!screen.contains("panicked"), "{screen}");
}

#[test]
fn an_edited_hunk_that_breaks_the_dockerfile_is_not_written() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    let text = "FROM python:3.11-slim\nRUN pip install flask\nCMD [\"flask\", \"run\"]\n";
    std::fs::write(dir.join("Dockerfile"), text).unwrap();
    let Some(t) = common::tmux::Tmux::dockui("planner-broken", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("the review", |s| s.contains("Dockerfile (1 hunk(s))"));
    t.send(&["Tab"]);
    t.wait_for("diff pane focused", |s| s.contains("[ Proposed diff ]"));
    t.send(&["e"]);
    t.wait_for("editor open", |s| s.contains("Edit hunk"));
    t.send(&["C-a"]);
    t.send(&["C-k"]);
    // A typo that makes the line an unknown instruction.
    t.send(&["-l", "RUNN pip install --no-cache-dir flask"]);
    t.send(&["C-s"]);
    t.wait_for("edited", |s| s.contains("(edited)"));
    t.send(&["w"]);
    let screen = t.wait_for("refusal", |s| s.contains("no longer parse"));
    assert!(screen.contains("Dockerfile not written"), "{screen}");
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        text
    );
}

#[test]
fn a_backtick_escape_dockerfile_gets_its_safe_fixes_and_still_parses() {
    // The auditor's repro: with `# escape=` set to a backtick, DL3009's cleanup used to be refused ("would no
    // longer parse after it (line 4: unknown instruction "&&")") because it continued the line with a backslash.
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("es1");
    std::fs::create_dir_all(&dir).unwrap();
    let text = "# escape=`\nFROM ubuntu:22.04\nRUN apt-get update && apt-get install -y curl\nRUN pip install flask\n";
    std::fs::write(dir.join("Dockerfile"), text).unwrap();
    let out = common::dockui(home.path())
        .args(["fix", "--level", "safe"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("not applied"), "{stdout}");
    let now = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        now.contains(
            "install --no-install-recommends -y curl `\n    && rm -rf /var/lib/apt/lists/*\n"
        ),
        "{now}"
    );
    assert!(now.contains("pip install --no-cache-dir flask"), "{now}");
    assert!(!now.contains('\\'), "{now}");
    let check = check_json(home.path(), &dir);
    for f in check["findings"].as_array().unwrap() {
        assert!(
            !["DL3009", "DL3042", "DL3015", "DU101", "DU001"]
                .contains(&f["rule"].as_str().unwrap()),
            "{f}"
        );
    }
}

/// Fixes only at `suggestion` and `fix` run at the default `safe`: it says which findings have them and how to
/// see them, instead of a bare "no fixes"; with nothing above the level it stays quiet about it.
#[test]
fn fixes_above_the_level_are_named_with_the_flag_that_shows_them() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM python:3.11\nRUN pip install --no-cache-dir torch==2.5.1 torchvision==0.21.0\n",
    )
    .unwrap();
    let out = common::dockui(home.path())
        .args(["fix", "--dry-run"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("(DU202) have fixes at level suggestion: run again with --level suggestion"),
        "{stdout}"
    );
    let out = common::dockui(home.path())
        .args(["fix", "--dry-run", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["above_level"], serde_json::json!(["DU202"]));
    // Must not: at --level suggestion the fix is planned, and nothing is above the level.
    let out = common::dockui(home.path())
        .args([
            "fix",
            "--dry-run",
            "--level",
            "suggestion",
            "--format",
            "json",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("above_level").is_none(), "{v}");
    assert!(!v["changes"].as_array().unwrap().is_empty(), "{v}");
}
