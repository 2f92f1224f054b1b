//! Helpers shared by the integration tests: the real engine (or a clear skip), isolated dirs, the binary.
#![allow(dead_code)]

pub mod tmux;

use dockui::docker::{BollardEngine, DockerPort};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const REQUIRE_ENV: &str = "DOCKUI_REQUIRE_DOCKER";

/// The real engine, or None after printing why the test is skipped. With DOCKUI_REQUIRE_DOCKER=1 a missing
/// engine fails the test instead, so CI cannot pass by skipping.
pub async fn engine_or_skip(test: &str) -> Option<BollardEngine> {
    let engine = BollardEngine::connect("", 600);
    match engine.ping().await {
        Ok(_) => Some(engine),
        Err(e) => {
            if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") {
                panic!(
                    "{test}: the Docker engine is required ({REQUIRE_ENV}=1) but not reachable: {e}"
                );
            }
            eprintln!(
                "SKIPPED {test}: Docker engine not reachable ({e}); set {REQUIRE_ENV}=1 to fail instead"
            );
            None
        }
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo_dir() -> PathBuf {
    repo_root().join("assets/demo")
}

/// The dockui binary with config, state and data dirs under `home` (never the developer's own).
pub fn dockui(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockui"));
    for (k, v) in isolated_env(home) {
        cmd.env(k, v);
    }
    cmd
}

pub fn isolated_env(home: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("XDG_CONFIG_HOME", home.join("config").display().to_string()),
        ("XDG_STATE_HOME", home.join("state").display().to_string()),
        ("XDG_DATA_HOME", home.join("data").display().to_string()),
        ("NO_COLOR", String::new()),
    ]
}

/// Copy a directory tree (small fixtures only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// dockui's dirs under `home`, as the binary sees them with `isolated_env`.
pub fn paths(home: &Path) -> dockui::paths::Paths {
    dockui::paths::Paths {
        config_dir: home.join("config/dockui"),
        state_dir: home.join("state/dockui"),
        data_dir: home.join("data/dockui"),
    }
}

/// A copy of the demo project under `home/demo`, for tests that change files.
pub fn demo_copy(home: &Path) -> PathBuf {
    let dir = home.join("demo");
    copy_dir(&demo_dir(), &dir);
    dir
}

/// Run `cmd`, require exit 0 (showing stderr otherwise) and parse its stdout as JSON.
pub fn json_ok(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}
