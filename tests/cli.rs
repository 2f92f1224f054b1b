//! The headless front end: exit codes, JSON, config errors, an unreachable engine.

mod common;

#[test]
fn check_on_the_demo_reports_errors_and_exits_1() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .args(["check"])
        .arg(common::demo_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Dockerfile:12:5 warning DL3042"),
        "{stdout}"
    );
    assert!(stdout.contains("requirements.txt:2:"), "{stdout}");
}

#[test]
fn check_json_is_one_parseable_object_with_spans() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .args(["check", "--format", "json"])
        .arg(common::demo_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.len() >= 3, "{v:#}");
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "DL3042" && f["span"]["line"] == 12)
    );
    assert!(findings.iter().any(|f| f["severity"] == "error"));
}

#[test]
fn check_exits_0_on_a_clean_project() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("clean");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:1.36\nCMD [\"true\"]\n",
    )
    .unwrap();
    let out = common::dockui(home.path())
        .arg("check")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn check_without_a_dockerfile_is_an_io_error() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .arg("check")
        .arg(home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Dockerfile"));
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .args(["check", "--format", "yaml", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn malformed_project_config_names_file_line_column_and_never_touches_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    common::copy_dir(&common::demo_dir(), &dir);
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nmax_attempts = \"three\"\n",
    )
    .unwrap();
    for args in [vec![], vec!["check"]] {
        let out = common::dockui(home.path())
            .args(&args)
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(".dockui.toml:2:16"), "{stderr}");
        // No escape sequences: the TUI was never started.
        assert!(
            out.stdout.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn malformed_user_config_is_reported_too() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("config/dockui/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, "[ui]\ntheme = \"dark\"\n[ui\n").unwrap();
    let out = common::dockui(home.path())
        .arg("check")
        .arg(common::demo_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("config.toml:3:"), "{stderr}");
}

#[test]
fn build_with_an_unreachable_engine_exits_2_and_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["build", "--format", "json"])
        .arg(common::demo_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Docker engine not reachable at unix:///nonexistent/docker.sock"),
        "{stderr}"
    );
    assert!(stderr.contains("DOCKER_HOST"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("still one JSON object");
    assert_eq!(v["success"], false);
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn headless_build_json_has_the_result_fields() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    if rt
        .block_on(common::engine_or_skip(
            "headless_build_json_has_the_result_fields",
        ))
        .is_none()
    {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let tag = format!("cli-{}", std::process::id());
    std::fs::write(
        dir.join(".dockui.toml"),
        format!("[build]\nimage = \"dockui-test/cli\"\ntag = \"{tag}\"\n[build.args]\nBASE_IMAGE = \"{}\"\n", dockui::docker::standin::DEMO_BASE),
    )
    .unwrap();
    let v = common::json_ok(
        common::dockui(home.path())
            .args(["build", "--format", "json"])
            .arg(&dir),
    );
    for key in [
        "success",
        "image",
        "image_id",
        "build_time_s",
        "attempts",
        "fixes_applied",
        "log_path",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v:#}");
    }
    assert_eq!(v["image"], format!("dockui-test/cli:{tag}"));
    assert!(v["image_id"].as_str().unwrap().starts_with("sha256:"));
    let log = v["log_path"].as_str().unwrap();
    assert!(
        log.starts_with(home.path().to_str().unwrap()),
        "log under the isolated data dir: {log}"
    );
    assert!(
        std::fs::read_to_string(log)
            .unwrap()
            .contains("Successfully tagged")
    );
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &format!("dockui-test/cli:{tag}")])
        .output();
}

#[test]
fn rules_lists_every_rule_with_severity_and_fix_flag() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = v.as_array().unwrap();
    for id in ["DL3008", "DL3042", "DL4006", "DU101", "DU201"] {
        let r = rules
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing"));
        assert!(r["severity"].is_string() && r["summary"].is_string() && r["has_fix"].is_boolean());
    }
}

#[test]
fn check_sarif_is_valid_2_1_0_with_results() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .args(["check", "--format", "sarif"])
        .arg(common::demo_dir())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "DL3042"));
}

#[test]
fn undo_without_backups_says_so_and_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path()).arg("undo").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no backup to restore"));
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn logs_lists_history_and_prints_attempt_logs() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    if rt
        .block_on(common::engine_or_skip(
            "logs_lists_history_and_prints_attempt_logs",
        ))
        .is_none()
    {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path()).arg("logs").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no builds yet"));
    let dir = home.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo history-line-42\n",
            dockui::docker::standin::DEMO_BASE
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nimage = \"dockui-test/logs\"\n[smoke]\ninfer = false\n",
    )
    .unwrap();
    let build = common::json_ok(
        common::dockui(home.path())
            .args(["build", "--format", "json"])
            .arg(&dir),
    );
    let id = build["build_id"].as_str().unwrap();
    let out = common::dockui(home.path()).arg("logs").output().unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains(id) && listing.contains("succeeded"),
        "{listing}"
    );
    let out = common::dockui(home.path())
        .args(["logs", id])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("attempt-1.log") && log.contains("history-line-42"),
        "{log}"
    );
}

#[test]
fn readonly_never_builds_pushes_or_writes() {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let before = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    for args in [
        vec!["--readonly", "build"],
        vec!["--readonly", "push"],
        vec!["--readonly", "undo"],
    ] {
        let mut cmd = common::dockui(home.path());
        cmd.args(&args);
        if args[1] != "undo" {
            cmd.arg(&dir);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("read-only"),
            "{args:?}"
        );
    }
    let out = common::dockui(home.path())
        .args(["--readonly", "fix"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("would change: Dockerfile"));
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        before
    );
}

#[test]
fn the_tui_without_a_terminal_says_so_and_exits_2_without_drawing() {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let out = common::dockui(home.path())
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the TUI needs a terminal, and stdin and stdout are not terminals")
            && stderr.contains("--format json"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Nothing drawn or reset on a stdout that is no terminal.
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn format_json_errors_before_a_result_are_one_json_object_on_stdout() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nmax_attempts = \"three\"\n",
    )
    .unwrap();
    let missing = home.path().join("nonexistent");
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![
                "build".as_ref(),
                "--format".as_ref(),
                "json".as_ref(),
                dir.as_os_str(),
            ],
            "invalid configuration",
        ),
        (
            vec![
                "check".as_ref(),
                "--format".as_ref(),
                "json".as_ref(),
                dir.as_os_str(),
            ],
            "invalid configuration",
        ),
        (
            vec![
                "doctor".as_ref(),
                "--format".as_ref(),
                "json".as_ref(),
                dir.as_os_str(),
            ],
            "invalid configuration",
        ),
        (
            vec![
                "push".as_ref(),
                "--format".as_ref(),
                "json".as_ref(),
                dir.as_os_str(),
            ],
            "invalid configuration",
        ),
        (
            vec![
                "build".as_ref(),
                "--format".as_ref(),
                "json".as_ref(),
                missing.as_os_str(),
            ],
            "nonexistent",
        ),
    ];
    for (args, says) in cases {
        let out = common::dockui(home.path()).args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("{args:?}: stdout is not one JSON object ({e}): {stdout:?}")
        });
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{args:?}: {v}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "stderr still says it"
        );
    }
    // No Dockerfile: said before any builder is asked (the engine only names its own tmp dir).
    let empty = home.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = common::dockui(home.path())
        .args(["build", "--format", "json"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("no Dockerfile at")
            && v["error"].as_str().unwrap().contains("-f FILE"),
        "{v}"
    );
    // Human output stays on stderr only.
    let out = common::dockui(home.path())
        .arg("build")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// A bad flag value with `--format json` is an error object on stdout (exit 2), as the README says, not only
/// clap's usage text on stderr; `--help` stays what it is.
#[test]
fn a_bad_flag_value_with_format_json_is_a_json_error() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["fix", ".", "--format", "json", "--level", "bogus"],
        vec!["check", ".", "--format", "json", "--build-arg", "NOEQ"],
        vec!["build", ".", "--format=json", "--max-attempts", "abc"],
    ] {
        let out = common::dockui(home.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {out:?}"));
        assert_eq!(v["exit_code"], 2, "{args:?}");
        assert!(
            v["error"].as_str().unwrap().contains("invalid value"),
            "{v}"
        );
    }
    // Must not: human format keeps stdout empty; --help is no error.
    let out = common::dockui(home.path())
        .args(["fix", ".", "--level", "bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let out = common::dockui(home.path())
        .args(["check", "--help", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err());
}

/// `check --format json` stopped by a signal while it waits on a registry that never answers (resolving base
/// digests): exit 128 + N with one JSON error object naming the signal; before, stdout was empty.
#[test]
fn a_signal_during_check_gives_a_json_error_and_its_exit_code() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM 127.0.0.1:{port}/stalls/base:1\nRUN true\n"),
    )
    .unwrap();
    for (signo, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let mut child = common::dockui(home.path())
            .args([
                "check",
                "--no-host-gpu",
                "--resolve-digests",
                "--format",
                "json",
            ])
            .arg(&dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(
            child.try_wait().unwrap().is_none(),
            "check still waits on the registry"
        );
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signo) };
        let out = common::exit_within(&mut child, std::time::Duration::from_secs(10), "check");
        assert_eq!(out.status.code(), Some(128 + signo), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {out:?}"));
        assert_eq!(v["exit_code"], 128 + signo);
        assert!(v["error"].as_str().unwrap().contains(name), "{v}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(name));
    }
}
