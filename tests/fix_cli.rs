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
