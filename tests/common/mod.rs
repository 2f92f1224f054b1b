//! Helpers shared by the integration tests: the real engine (or a clear skip), isolated dirs, the binary.
#![allow(dead_code)]

pub mod cache;
pub mod h2c;
pub mod podman;
pub mod proxy;
pub mod smoke;
pub mod tmux;

use dockui::docker::{BollardEngine, DockerPort};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const REQUIRE_ENV: &str = "DOCKUI_REQUIRE_DOCKER";

/// Tests that need the engine carry
/// `#[cfg_attr(not(dockui_engine), ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)")]`:
/// build.rs sets `dockui_engine` when the engine answered at build time (or is required), so without one
/// they show up as ignored in cargo test's summary. A test that runs must find the engine: no silent pass.
pub async fn engine_or_skip(test: &str) -> Option<BollardEngine> {
    let engine = BollardEngine::connect("", 600);
    match engine.ping().await {
        Ok(_) => {
            dockui::docker::bollard_engine::set_run_group(&run_group());
            Some(engine)
        }
        Err(e) => panic!(
            "{test}: the Docker engine is not reachable: {e}\n(it answered when the tests were built, or \
             {REQUIRE_ENV}=1 requires it; without an engine, rebuild the tests and they are reported as ignored)"
        ),
    }
}

/// This `cargo test` run: every test binary is a child of the same cargo process. Containers the tests make
/// carry it as the `dockui.group` label, so the leftover check looks only at this run's containers (other
/// runs may share the engine).
pub fn run_group() -> String {
    let ppid = std::os::unix::process::parent_id();
    let start = std::fs::read_to_string(format!("/proc/{ppid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s[s.rfind(')')? + 2..].to_string();
            rest.split_whitespace().nth(19).map(str::to_string)
        })
        .unwrap_or_default();
    format!("test-{ppid}-{start}")
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

/// `dockui` with no backend of the developer's: no DOCKER_HOST / context / BUILDKIT_HOST, an empty docker
/// config dir and a runtime dir of the test's (`home/run`, where a rootless Podman socket is searched), no
/// EC2 metadata lookups. A backend comes from the test (env, `--backend`, `[engine]`) or is found in `home`.
pub fn dockui_no_backend(home: &Path) -> Command {
    let mut cmd = dockui(home);
    for k in [
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "BUILDKIT_HOST",
        "DOCKER_TLS_VERIFY",
    ] {
        cmd.env_remove(k);
    }
    std::fs::create_dir_all(home.join("docker-config")).unwrap();
    std::fs::create_dir_all(home.join("run")).unwrap();
    cmd.env("DOCKER_CONFIG", home.join("docker-config"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

pub fn isolated_env(home: &Path) -> Vec<(&'static str, String)> {
    vec![
        (dockui::docker::bollard_engine::GROUP_ENV, run_group()),
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

/// Run `cmd`, require exit 0 (showing its output otherwise) and parse its stdout as JSON.
#[track_caller]
pub fn json_ok(cmd: &mut Command) -> serde_json::Value {
    output_ok_json(&cmd.output().unwrap())
}

/// `out` exited 0 (its stderr and stdout shown otherwise); its stdout as JSON.
#[track_caller]
pub fn output_ok_json(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// `out`'s exit code must be `code` (its stderr shown otherwise); its stderr.
#[track_caller]
pub fn exited(out: &std::process::Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

/// `out`'s stdout as JSON; the test fails with both outputs when it is not.
pub fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A project any engine builds without a base image or network (busybox from scratch) under `home/proj`:
/// its RUN step writes `marker` to /where; `.dockui.toml` names `image`, no network, no smoke inference.
pub fn busybox_project(home: &Path, image: &str, marker: &str) -> PathBuf {
    let dir = home.join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static installed");
    std::fs::copy(busybox, dir.join("busybox")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {marker} > /where\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!("[build]\nimage = \"{image}\"\nnetwork = \"none\"\n\n[smoke]\ninfer = false\n"),
    )
    .unwrap();
    dir
}

/// moto's server binary, found as build.rs finds it (`DOCKUI_MOTO_SERVER`, `~/.cache/dockui-moto`, PATH).
pub fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("DOCKUI_MOTO_SERVER") {
        return p.into();
    }
    let venv = PathBuf::from(std::env::var("HOME").unwrap_or_default())
        .join(".cache/dockui-moto/bin/moto_server");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("moto_server")
    }
}

/// A loopback port nothing listens on (bound, then released): connections to it are refused.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A loopback HTTP service that reads each request and answers every one with `answer` (raw bytes, status
/// line included), for endpoints that answer but are not what dockui expects. Returns its port.
pub fn http_answering(answer: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(answer);
        }
    });
    port
}

/// Run `cmd` (stdout and stderr captured) and fail the test if it has not ended within `secs`: a hang is a
/// failure with what it printed, not a stuck suite.
pub fn output_within(cmd: &mut Command, secs: u64) -> std::process::Output {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "dockui did not finish within {secs}s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for a spawned `child` (stdout and stderr piped) at most `limit`; kill it and fail when it is still
/// running; its output.
pub fn exit_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::Output {
    use std::io::Read;
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running {limit:?} after the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    if let Some(mut o) = child.stdout.take() {
        o.read_to_end(&mut stdout).unwrap();
    }
    if let Some(mut e) = child.stderr.take() {
        e.read_to_end(&mut stderr).unwrap();
    }
    std::process::Output {
        status: child.wait().unwrap(),
        stdout,
        stderr,
    }
}
