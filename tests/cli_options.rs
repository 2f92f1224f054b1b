//! Issue 12, points 4, 6, 8 and 10 from the outside: `build`, `check` and `fix` take docker build's options
//! with docker's meanings, the analysis sees the same build args as the build, `--format json` keeps stdout to
//! one object while progress streams to stderr, `logs last`, and the README / config.example.toml document it.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

const BUILD_OPTIONS: &[&str] = &[
    "-f, --file",
    "--context",
    "-t, --tag",
    "--max-attempts",
    "--auto-fix",
    "--no-smoke",
    "--base-image",
    "--no-cache",
    "--pull",
    "--target",
    "--network",
    "--platform",
    "--build-arg",
    "-q, --quiet",
    "--format",
];

fn help(args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_build_option_is_in_help_readme_and_config_example() {
    let build = help(&["build"]);
    for o in BUILD_OPTIONS {
        assert!(build.contains(o), "build --help lacks {o}:\n{build}");
    }
    for cmd in ["check", "fix"] {
        let h = help(&[cmd]);
        for o in ["-f, --file", "--build-arg", "--base-image"] {
            assert!(h.contains(o), "{cmd} --help lacks {o}:\n{h}");
        }
    }
    assert!(help(&["fix"]).contains("--auto-fix"));
    assert!(help(&["push"]).contains("--force"));
    assert!(help(&["logs"]).contains("last"));
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    for o in BUILD_OPTIONS.iter().map(|o| o.rsplit(' ').next().unwrap()) {
        assert!(readme.contains(o), "README does not document {o}");
    }
    for o in ["--force", "logs last"] {
        assert!(readme.contains(o), "README does not document {o}");
    }
    let example = std::fs::read_to_string(common::repo_root().join("config.example.toml")).unwrap();
    assert!(
        example.contains("\nnetwork = \"\""),
        "config.example.toml documents [build] network"
    );
}

#[test]
fn readme_first_command_runs_the_demo_and_says_how_long_the_first_build_takes() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let commands: Vec<&str> = readme
        .split("```")
        .skip(1)
        .step_by(2)
        .flat_map(|block| block.lines().skip(1))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        commands.first().copied(),
        Some("cargo run --release -- demo"),
        "the first command opens a copy of the demo, never the tracked assets/demo"
    );
    assert_eq!(commands.get(1).copied(), Some("cargo test"));
    let intro = &readme[..readme.find("## Install").unwrap()];
    assert!(
        intro.contains("The first `cargo run --release`") && intro.contains("minutes"),
        "the README says how long the first build takes"
    );
}

fn project(home: &Path, dockerfile: &str, config: &str) -> PathBuf {
    let dir = home.join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join(".dockui.toml"), config).unwrap();
    dir
}

fn check_json(home: &Path, dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = common::dockui(home)
        .current_dir(dir)
        .args(["check", "--no-host-gpu", "--format", "json"])
        .args(extra)
        .arg(dir)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn rules_of(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn check_judges_the_base_the_config_and_the_command_line_name() {
    let home = tempfile::tempdir().unwrap();
    // The default is fine; the override in .dockui.toml is what gets built, and it is not a valid reference.
    let dir = project(
        home.path(),
        "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nCMD [\"python\"]\n",
        "[build.args]\nBASE_IMAGE = \"Team/Base:1\"\n",
    );
    let (code, v) = check_json(home.path(), &dir, &[]);
    assert!(
        rules_of(&v).iter().any(|r| r.starts_with("DU110")),
        "judged on the override: {v:#}"
    );
    assert_eq!(code, 1);
    // --build-arg on the command line overrides the config, for the analysis as for the build.
    let (_, v) = check_json(
        home.path(),
        &dir,
        &["--build-arg", "BASE_IMAGE=python:3.12-slim"],
    );
    assert!(
        !rules_of(&v).iter().any(|r| r.starts_with("DU110")),
        "{v:#}"
    );
    let (_, v) = check_json(home.path(), &dir, &["--base-image", "python:3.12-slim"]);
    assert!(
        !rules_of(&v).iter().any(|r| r.starts_with("DU110")),
        "{v:#}"
    );
    // fix sees the same arguments.
    let out = common::dockui(home.path())
        .args(["fix", "--dry-run", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DU110"),
        "fix judges the override too: {text}"
    );

    // An ARG without a default: an error for a plain build, none when the config supplies it.
    std::fs::write(
        dir.join("Dockerfile"),
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCMD [\"python\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join(".dockui.toml"), "").unwrap();
    let (_, v) = check_json(home.path(), &dir, &[]);
    assert!(rules_of(&v).contains(&"DU111".to_string()), "{v:#}");
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build.args]\nBASE_IMAGE = \"python:3.11-slim\"\n",
    )
    .unwrap();
    let (_, v) = check_json(home.path(), &dir, &[]);
    assert!(!rules_of(&v).contains(&"DU111".to_string()), "{v:#}");
}

#[test]
fn check_f_reads_the_named_dockerfile_and_refuses_a_missing_one() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), "FROM busybox:1.36\nCMD [\"true\"]\n", "");
    std::fs::write(
        dir.join("Dockerfile.gpu"),
        "FROM busybox:latest\nCMD [\"true\"]\n",
    )
    .unwrap();
    let (_, v) = check_json(home.path(), &dir, &["-f", "Dockerfile.gpu"]);
    assert!(rules_of(&v).contains(&"DL3007".to_string()), "{v:#}");
    assert_eq!(v["files"][0], "Dockerfile.gpu");
    let (code, v) = check_json(home.path(), &dir, &[]);
    assert_eq!(code, 0, "{v:#}");
    let out = common::dockui(home.path())
        .args(["check", "-f", "Nope.dockerfile"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Nope.dockerfile") && err.contains("no such file"),
        "{err}"
    );
    // --base-image needs a FROM that names an ARG, and says so.
    let out = common::dockui(home.path())
        .args(["check", "--base-image", "python:3.12"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ARG BASE_IMAGE"), "{err}");
}

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_options_reach_the_engine_with_dockers_meanings() {
    let test = "build_options_reach_the_engine_with_dockers_meanings";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let pid = std::process::id();
    let base = format!("dockui-test/optbase:{pid}");
    if support::build_busybox(&engine, &base).await.is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    // The context is the parent of the project (a monorepo): the Dockerfile copies a file from outside it.
    let repo = home.path().join("repo");
    std::fs::create_dir_all(repo.join("shared")).unwrap();
    std::fs::write(repo.join("shared/version"), "v-shared\n").unwrap();
    let dir = repo.join("svc");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("build.Dockerfile"),
        "ARG BASE_IMAGE=dockui-test/none:0\nFROM ${BASE_IMAGE} AS base\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCOPY shared/version /version\nRUN cat /proc/net/dev > /netdev && echo base > /stage\nFROM base AS final\nRUN echo final > /stage\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nimage = \"dockui-test/opts\"\n",
    )
    .unwrap();
    let one = format!("dockui-test/opts:one-{pid}");
    let two = format!("dockui-test/opts:two-{pid}");
    let out = common::dockui(home.path())
        .current_dir(&dir)
        .args(["build", "--format", "json", "-f", "build.Dockerfile"])
        .args(["--context", ".."])
        .args([
            "--base-image",
            &base,
            "--target",
            "base",
            "--network",
            "none",
        ])
        .args([
            "-t",
            &one,
            "--tag",
            &two,
            "--no-smoke",
            "--no-cache",
            "--max-attempts",
            "1",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON object");
    assert!(
        stderr.contains("RUN cat /proc/net/dev"),
        "--format json streams progress to stderr: {stderr}"
    );
    assert_eq!(v["image"].as_str(), Some(one.as_str()));
    assert_eq!(v["references"], serde_json::json!([one, two]));
    assert_eq!(v["smoke"], serde_json::json!([]), "--no-smoke");
    assert_eq!(v["standin"], false);
    for r in [&one, &two] {
        let (ok, id) = docker(&["image", "inspect", "-f", "{{.Id}}", r]);
        assert!(ok, "{r} exists");
        assert_eq!(Some(id.as_str()), v["image_id"].as_str());
    }
    // --target stopped at `base`, --context took the file from outside the project, --network none had no eth0.
    let (_, stage) = docker(&["run", "--rm", &one, "cat", "/stage", "/version", "/netdev"]);
    assert!(stage.starts_with("base\nv-shared"), "{stage}");
    assert!(
        !stage.contains("eth0"),
        "built with --network none: {stage}"
    );

    // --quiet: nothing on stderr but errors; the human result is the image id alone.
    let out = common::dockui(home.path())
        .current_dir(&dir)
        .args(["build", "-q", "-f", "build.Dockerfile", "--context", ".."])
        .args(["--base-image", &base, "-t", &one, "--no-smoke"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "--quiet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.trim().starts_with("sha256:") && stdout.lines().count() == 1,
        "{stdout}"
    );

    // The network default (the bridge) does give eth0: the check above can fail.
    let out = common::dockui(home.path())
        .current_dir(&dir)
        .args(["build", "-q", "-f", "build.Dockerfile", "--context", ".."])
        .args([
            "--base-image",
            &base,
            "-t",
            &two,
            "--no-smoke",
            "--no-cache",
            "--target",
            "base",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, netdev) = docker(&["run", "--rm", &two, "cat", "/netdev"]);
    assert!(netdev.contains("eth0"), "{netdev}");

    // --no-cache: the same build again uses the cache without it and none with it.
    for (no_cache, cached) in [(false, true), (true, false)] {
        let mut cmd = common::dockui(home.path());
        cmd.current_dir(&dir)
            .args([
                "build",
                "--format",
                "json",
                "-f",
                "build.Dockerfile",
                "--context",
                "..",
            ])
            .args([
                "--base-image",
                &base,
                "-t",
                &two,
                "--no-smoke",
                "--target",
                "base",
            ]);
        if no_cache {
            cmd.arg("--no-cache");
        }
        let out = cmd.arg(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let progress = String::from_utf8_lossy(&out.stderr);
        // The RUN step's own record: BuildKit's "#N CACHED" for its vertex, or the legacy "Using cache".
        let run = progress
            .lines()
            .find(|l| l.contains("RUN cat /proc/net/dev"))
            .unwrap_or_else(|| panic!("{progress}"));
        let vertex = run.split(' ').next().unwrap();
        let used_cache = progress.lines().any(|l| l == format!("{vertex} CACHED"))
            || progress.contains("Using cache");
        assert_eq!(used_cache, cached, "--no-cache={no_cache}:\n{progress}");
    }

    // `logs last` shows the newest build's attempt logs.
    let out = common::dockui(home.path())
        .args(["logs", "last"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        logs.contains("==> ") && logs.contains("attempt-1.log"),
        "{logs}"
    );
    assert!(logs.contains("cat /proc/net/dev"), "{logs}");
    let history = common::dockui(home.path())
        .args(["logs", "--format", "json"])
        .output()
        .unwrap();
    let newest: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let out = common::dockui(home.path())
        .args(["logs", "last", "--format", "json"])
        .output()
        .unwrap();
    let last: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        last[0]["log_path"]
            .as_str()
            .unwrap()
            .contains(newest[0]["build_id"].as_str().unwrap()),
        "{last:#}"
    );
    support::remove_images(&engine, &[one, two, base]).await;
}

#[test]
fn logs_last_without_builds_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let out = common::dockui(home.path())
        .args(["logs", "last"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no builds yet") && err.contains("dockui build"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_network_the_engine_lacks_is_refused_by_buildkit_and_classified_on_legacy() {
    let test = "a_build_network_the_engine_lacks_is_refused_by_buildkit_and_classified_on_legacy";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let base = format!("dockui-test/netbase:{}", std::process::id());
    if support::build_busybox(&engine, &base).await.is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    for builder in ["auto", "legacy"] {
        let dir = project(
            home.path(),
            &format!("FROM {base}\nRUN [\"/bin/busybox\", \"true\"]\n"),
            &format!(
                "[build]\nimage = \"dockui-test/netfail\"\nbuilder = \"{builder}\"\nmax_attempts = 1\n[smoke]\ninfer = false\n"
            ),
        );
        let out = common::dockui(home.path())
            .args([
                "build",
                "--network",
                "dockui-no-such-net",
                "--format",
                "json",
            ])
            .arg(&dir)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if builder == "auto" {
            // BuildKit (the engine's /grpc session) runs RUN steps only on the default network, host or
            // none: a named network is refused before anything is sent, as a set-up error naming the way out.
            assert_eq!(out.status.code(), Some(2), "{builder}: {v:#}");
            let error = v["attempts"][0]["error"].as_str().unwrap();
            assert!(error.contains("dockui-no-such-net"), "{error}");
            assert!(error.contains("legacy builder"), "{error}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{builder}");
        let d = &v["attempts"][0]["diagnosis"];
        assert_eq!(
            d["signature"], "engine-network-not-found",
            "{builder}: {v:#}"
        );
        assert!(d["explanation"].as_str().unwrap().contains("host or none"));
    }
    support::remove_images(&engine, &[base]).await;
}

#[test]
fn the_tui_analysis_uses_build_arg_too() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN pip install flask==3.0.3\nCMD [\"true\"]\n",
        "",
    );
    for (n, (args, du111)) in [
        ("", true),
        ("--build-arg BASE_IMAGE=python:3.11-slim ", false),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(t) =
            common::tmux::Tmux::start(&format!("tui-build-arg-{n}"), 160, 48, home.path())
        else {
            return;
        };
        t.wait_for("shell prompt", |s| s.contains("READY$"));
        let line = format!("{} {args}{}", env!("CARGO_BIN_EXE_dockui"), dir.display());
        t.send(&[&line, "Enter"]);
        // DL3042 (pip cache) is there either way: the analysis has run when it shows.
        let screen = t.wait_for("the findings", |s| s.contains("DL3042"));
        assert_eq!(screen.contains("DU111"), du111, "{args:?}:\n{screen}");
        t.send(&["q"]);
    }
}
