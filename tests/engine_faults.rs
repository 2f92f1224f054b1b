//! Faults from the outside, against the binary: signals during a headless build, a dropped engine
//! connection mid-upload, smoke containers of a killed run, and every way of failing to reach or use the
//! engine (exit 2, the endpoint, the cause, what to do).

mod common;

use common::proxy::Proxy;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BASE: &str = dockui::docker::standin::DEMO_BASE;

fn project(home: &Path, name: &str, dockerfile: &str, config: &str) -> PathBuf {
    let dir = home.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join(".dockui.toml"), config).unwrap();
    dir
}

/// The engine and the offline stand-in base image.
fn engine(test: &str) -> dockui::docker::BollardEngine {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let e = common::engine_or_skip(test).await.unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        dockui::docker::standin::ensure(&e, BASE, tx)
            .await
            .expect("stand-in base");
        e
    })
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait for the child (bounded) and collect its output.
fn finish(mut child: Child, secs: u64) -> Output {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dockui did not end within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// Every attempt log of every build under `home` (the isolated data dir).
fn attempt_logs(home: &Path) -> String {
    let builds = common::paths(home).builds_dir();
    let mut all = String::new();
    for b in std::fs::read_dir(&builds).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(b.path()).into_iter().flatten().flatten() {
            if f.file_name().to_string_lossy().starts_with("attempt-") {
                all.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
            }
        }
    }
    all
}

/// The one build record (build.json) under `home`.
fn build_record(home: &Path) -> serde_json::Value {
    let builds = common::paths(home).builds_dir();
    let dirs: Vec<_> = std::fs::read_dir(&builds)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "one build: {dirs:?}");
    let bytes = std::fs::read(dirs[0].join("build.json")).expect("build.json written");
    serde_json::from_slice(&bytes).expect("build.json parses")
}

fn containers_of_this_run() -> Vec<(String, serde_json::Value)> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!(
                "label={}={}",
                dockui::docker::bollard_engine::GROUP_LABEL,
                common::run_group()
            ),
            "--format",
            "{{.ID}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|id| {
            let inspect = Command::new("docker")
                .args(["inspect", id])
                .output()
                .unwrap();
            let v: serde_json::Value =
                serde_json::from_slice(&inspect.stdout).unwrap_or(serde_json::Value::Null);
            (id.to_string(), v[0].clone())
        })
        .collect()
}

fn signal_cancels_the_build(sig: i32, name: &str) {
    engine(name);
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "proj",
        &format!("FROM {BASE}\nRUN echo started-{name} && sleep 300\n"),
        &format!(
            "[build]\nimage = \"dockui-test/faults\"\ntag = \"{name}-{}\"\nno_cache = true\nmax_attempts = 1\n[smoke]\ninfer = false\n",
            std::process::id()
        ),
    );
    let child = spawn(
        common::dockui(home.path())
            .args(["build", "--format", "json"])
            .arg(&dir),
    );
    wait_until("the RUN step to start", 180, || {
        attempt_logs(home.path()).contains(&format!("started-{name}"))
    });
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, sig) };
    let t0 = Instant::now();
    let out = finish(child, 60);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        None,
        "not killed by the signal: {stderr}"
    );
    assert_eq!(out.status.code(), Some(128 + sig), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON result");
    assert_eq!(v["cancelled"], true, "{v:#}");
    assert_eq!(v["attempts"][0]["status"], "cancelled");
    let record = build_record(home.path());
    assert_eq!(record["cancelled"], true);
    assert!(
        attempt_logs(home.path()).contains("dockui: build cancelled"),
        "the attempt log ends with the cancel"
    );
    eprintln!(
        "{name}: dockui ended {:.1}s after the signal",
        t0.elapsed().as_secs_f64()
    );
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn sigterm_cancels_a_headless_build_like_sigint() {
    signal_cancels_the_build(libc::SIGTERM, "sigterm");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn sighup_cancels_a_headless_build_like_sigint() {
    signal_cancels_the_build(libc::SIGHUP, "sighup");
}

/// The signals whose default action would end dockui at once, leaving the build running on the engine and no
/// result: each cancels like SIGINT.
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn sigquit_and_sigusr1_cancel_a_headless_build_like_sigint() {
    signal_cancels_the_build(libc::SIGQUIT, "sigquit");
    signal_cancels_the_build(libc::SIGUSR1, "sigusr1");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn sigint_cancels_a_headless_build() {
    signal_cancels_the_build(libc::SIGINT, "sigint");
}

fn smoke_project(home: &Path, name: &str) -> PathBuf {
    project(
        home,
        name,
        &format!("FROM {BASE}\nCMD [\"true\"]\n"),
        &format!(
            "[build]\nimage = \"dockui-test/faults\"\ntag = \"{name}-{}\"\nmax_attempts = 1\n[smoke]\ninfer = false\ntimeout_s = 600\ncommands = [\"echo smoke-started; sleep 300\"]\n",
            std::process::id()
        ),
    )
}

fn remove_image(name: &str) {
    let _ = Command::new("docker")
        .args([
            "rmi",
            "-f",
            &format!("dockui-test/faults:{name}-{}", std::process::id()),
        ])
        .output();
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn sigterm_during_a_smoke_test_removes_its_container() {
    engine("sigterm_during_a_smoke_test_removes_its_container");
    let home = tempfile::tempdir().unwrap();
    let dir = smoke_project(home.path(), "smoke-term");
    let child = spawn(
        common::dockui(home.path())
            .args(["build", "--format", "json"])
            .arg(&dir),
    );
    let pid = child.id();
    wait_until("the smoke container", 180, || {
        containers_of_this_run().iter().any(|(_, c)| {
            c["Config"]["Labels"]["dockui"]
                .as_str()
                .is_some_and(|l| l.contains(&format!(":{pid}:")))
        })
    });
    // SAFETY: our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let out = finish(child, 60);
    remove_image("smoke-term");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON result");
    assert_eq!(v["cancelled"], true);
    assert_eq!(build_record(home.path())["cancelled"], true);
    let left: Vec<_> = containers_of_this_run()
        .into_iter()
        .filter(|(_, c)| {
            c["Config"]["Labels"]["dockui"]
                .as_str()
                .is_some_and(|l| l.contains(&format!(":{pid}:")))
        })
        .collect();
    assert!(left.is_empty(), "containers left after SIGTERM: {left:?}");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_smoke_container_of_a_killed_run_is_auto_removed_and_reaped_at_the_next_start() {
    engine("a_smoke_container_of_a_killed_run_is_auto_removed_and_reaped_at_the_next_start");
    let home = tempfile::tempdir().unwrap();
    let dir = smoke_project(home.path(), "smoke-kill");
    let mut child = spawn(
        common::dockui(home.path())
            .args(["build", "--format", "json"])
            .arg(&dir),
    );
    let pid = child.id();
    let mine = |c: &serde_json::Value| {
        c["Config"]["Labels"]["dockui"]
            .as_str()
            .is_some_and(|l| l.contains(&format!(":{pid}:")))
    };
    wait_until("the smoke container", 180, || {
        containers_of_this_run().iter().any(|(_, c)| mine(c))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let orphans: Vec<_> = containers_of_this_run()
        .into_iter()
        .filter(|(_, c)| mine(c))
        .collect();
    assert_eq!(
        orphans.len(),
        1,
        "the killed run's container is still there"
    );
    let (id, c) = &orphans[0];
    assert_eq!(
        c["HostConfig"]["AutoRemove"], true,
        "the engine removes it when it stops"
    );
    // The next dockui start (any build) removes it: its run is dead.
    let broken = project(
        home.path(),
        "next",
        "FROM scratch\nRUN [\"/nonexistent\"]\n",
        "[build]\nimage = \"dockui-test/faults\"\ntag = \"next\"\nmax_attempts = 1\n[smoke]\ninfer = false\n",
    );
    let out = common::dockui(home.path())
        .args(["build", "--format", "json"])
        .arg(&broken)
        .output()
        .unwrap();
    remove_image("smoke-kill");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = containers_of_this_run()
        .into_iter()
        .filter(|(i, _)| i == id || id.starts_with(i.as_str()))
        .collect();
    assert!(left.is_empty(), "orphan {id} still there: {left:?}");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_connection_dropped_mid_upload_is_an_engine_error_not_sigpipe() {
    engine("a_connection_dropped_mid_upload_is_an_engine_error_not_sigpipe");
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "proj",
        "FROM scratch\nCOPY big.bin /\n",
        "[build]\nimage = \"dockui-test/faults\"\ntag = \"dropped\"\nmax_attempts = 1\n[smoke]\ninfer = false\n",
    );
    std::fs::write(dir.join("big.bin"), vec![7u8; 48 * 1024 * 1024]).unwrap();
    let proxy = Proxy::start(&home.path().join("engine.sock"), Some(4 * 1024 * 1024));
    let out = common::dockui(home.path())
        .env("DOCKER_HOST", proxy.docker_host())
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "killed by a signal: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        proxy.dropped.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the proxy cut the upload"
    );
    assert!(
        stderr.contains(&proxy.docker_host()) && stderr.contains("closed the connection"),
        "{stderr}"
    );
    assert!(stderr.contains("what to do"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON result");
    assert_eq!(v["success"], false);
    assert_eq!(build_record(home.path())["success"], false);
}

/// The link stalls in the middle of the context (BuildKit's file sync through the session): the engine
/// cancels the job; that is the connection's failure, not the Dockerfile's.
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_context_upload_that_stalls_is_an_engine_error_not_a_build_failure() {
    engine("a_context_upload_that_stalls_is_an_engine_error_not_a_build_failure");
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "proj",
        "FROM scratch\nCOPY big.bin /\n",
        "[build]\nimage = \"dockui-test/faults\"\ntag = \"stalled\"\nmax_attempts = 1\n[smoke]\ninfer = false\n[engine]\ntimeout_s = 60\n",
    );
    std::fs::write(dir.join("big.bin"), vec![9u8; 48 * 1024 * 1024]).unwrap();
    let proxy = Proxy::start_stalling(&home.path().join("engine.sock"), 4 * 1024 * 1024);
    let out = common::output_within(
        common::dockui(home.path())
            .env("DOCKER_HOST", proxy.docker_host())
            .args(["build", "--format", "json"])
            .arg(&dir),
        120,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        proxy.dropped.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the proxy stalled the upload: {stderr}"
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&proxy.docker_host()), "{stderr}");
    assert!(!stderr.contains("matches no known signature"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON result");
    assert_eq!(v["success"], false);
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn an_engine_connection_cut_mid_build_is_an_engine_error_with_the_record() {
    engine("an_engine_connection_cut_mid_build_is_an_engine_error_with_the_record");
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "proj",
        &format!(
            "FROM {BASE}\nRUN for i in $(seq 1 400); do echo progress-line-$i-padding-padding-padding; sleep 0.02; done\n"
        ),
        "[build]\nimage = \"dockui-test/faults\"\ntag = \"cut\"\nno_cache = true\nmax_attempts = 1\n[smoke]\ninfer = false\n",
    );
    // The engine's answers before the build (ping, version) are far below this.
    let proxy = Proxy::start_faults(&home.path().join("engine.sock"), None, Some(24 * 1024));
    let out = common::dockui(home.path())
        .env("DOCKER_HOST", proxy.docker_host())
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "{stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        proxy.dropped.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the proxy cut the build's output"
    );
    assert!(stderr.contains("closed the connection"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON result");
    assert_eq!(v["success"], false);
    assert_eq!(build_record(home.path())["success"], false);
    // What arrived before the cut is in the attempt log.
    let logs = attempt_logs(home.path());
    assert!(logs.contains("progress-line-1-"), "{logs}");
}

/// dockui run as `nobody` (no access to the engine's socket or to root-only files).
fn as_nobody(home: &Path) -> Command {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        env!("CARGO_BIN_EXE_dockui"),
    ]);
    for (k, v) in common::isolated_env(home) {
        cmd.env(k, v);
    }
    cmd
}

fn world_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let mode = if e.path().is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn simple_project(home: &Path) -> PathBuf {
    project(
        home,
        "proj",
        "FROM scratch\nCOPY app.py /\n",
        "[build]\nimage = \"dockui-test/faults\"\ntag = \"errors\"\nmax_attempts = 1\n[smoke]\ninfer = false\n",
    )
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_socket_without_permission_is_exit_2_with_the_signature_and_advice() {
    engine("a_socket_without_permission_is_exit_2_with_the_signature_and_advice");
    let home = tempfile::tempdir().unwrap();
    let dir = simple_project(home.path());
    std::fs::write(dir.join("app.py"), "print(1)\n").unwrap();
    world_readable(&dir);
    let out = as_nobody(home.path())
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"),
        "{stderr}"
    );
    assert!(stderr.contains("docker group"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON result");
    // DOCKER_HOST names the socket and it refuses us: auto builds nowhere else, and no attempt is started
    // (the result's error is the probe's, in the words the `docker-socket-permission` signature knows).
    let error = v["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("permission denied while trying to connect to the Docker daemon socket"),
        "{v:#}"
    );
    assert!(error.contains("docker group"), "{v:#}");
    assert_eq!(
        dockui::classify::classify(&[error]).map(|d| d.signature),
        Some("docker-socket-permission".into()),
        "{v:#}"
    );
    assert_eq!(v["attempts"], serde_json::json!([]), "{v:#}");
}

#[test]
fn a_refused_tcp_endpoint_is_exit_2_and_named() {
    let port = common::closed_port();
    let home = tempfile::tempdir().unwrap();
    let dir = simple_project(home.path());
    std::fs::write(dir.join("app.py"), "").unwrap();
    let host = format!("tcp://127.0.0.1:{port}");
    let out = common::dockui(home.path())
        .env("DOCKER_HOST", &host)
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&host) && stderr.contains("connection refused"),
        "{stderr}"
    );
    assert!(stderr.contains("what to do"), "{stderr}");
    assert!(!stderr.contains("client error (Connect)\n"), "{stderr}");
}

#[test]
fn a_bad_docker_host_url_is_exit_2_and_says_what_is_wrong() {
    let home = tempfile::tempdir().unwrap();
    let dir = simple_project(home.path());
    std::fs::write(dir.join("app.py"), "").unwrap();
    let out = common::dockui(home.path())
        .env("DOCKER_HOST", "ftp://engine.example")
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid engine address \"ftp://engine.example\""),
        "{stderr}"
    );
    assert!(stderr.contains("unix:///var/run/docker.sock"), "{stderr}");
}

/// What a TLS-only engine port answers to plain HTTP (Go's TLS server says exactly this).
#[test]
fn a_tls_endpoint_spoken_to_in_plain_http_is_exit_2_and_says_tls() {
    let port = common::http_answering(
        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
    );
    let home = tempfile::tempdir().unwrap();
    let dir = simple_project(home.path());
    std::fs::write(dir.join("app.py"), "").unwrap();
    let out = common::dockui(home.path())
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("TLS problem"), "{stderr}");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn an_invalid_dockerignore_pattern_names_the_line() {
    engine("an_invalid_dockerignore_pattern_names_the_line");
    let home = tempfile::tempdir().unwrap();
    let dir = simple_project(home.path());
    std::fs::write(dir.join("app.py"), "").unwrap();
    std::fs::write(dir.join(".dockerignore"), "*.log\n[oops\n").unwrap();
    let out = common::dockui(home.path())
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(".dockerignore line 2"), "{stderr}");
    assert!(!stderr.contains("client error"), "{stderr}");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn an_unreadable_context_file_is_named() {
    use std::os::unix::fs::PermissionsExt;
    engine("an_unreadable_context_file_is_named");
    let home = tempfile::tempdir().unwrap();
    let dir = simple_project(home.path());
    std::fs::write(dir.join("app.py"), "").unwrap();
    std::fs::write(dir.join("secret.bin"), "root only").unwrap();
    // `COPY .` needs every file: through BuildKit's file sync only what the Dockerfile copies is read.
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
    world_readable(&dir);
    std::fs::set_permissions(
        dir.join("secret.bin"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // nobody may not open the engine's socket: a proxy (as root) lets it reach the engine.
    let proxy = Proxy::start(&home.path().join("engine.sock"), None);
    let out = as_nobody(home.path())
        .env("DOCKER_HOST", proxy.docker_host())
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot read secret.bin"), "{stderr}");
    assert!(stderr.contains("ermission denied"), "{stderr}");
}
