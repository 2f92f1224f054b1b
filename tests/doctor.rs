//! `dockui doctor` and `build --backend`, from the outside: the binary against the real engine, a dead
//! DOCKER_HOST, and a real Podman service on its own socket.

mod common;

use common::dockui_no_backend as dockui;
use common::stdout_json as json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sources(v: &serde_json::Value) -> Vec<String> {
    v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"].as_str().unwrap().to_string())
        .collect()
}

/// Run `cmd`; its exit code must be `code` (stderr shown otherwise). The output and its stderr.
#[track_caller]
fn exits(cmd: &mut Command, code: i32) -> (Output, String) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    (out, stderr)
}

/// A test home and a project in it that builds `image`.
fn home_and_project(image: &str) -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), image);
    (home, dir)
}

fn project(home: &Path, image: &str) -> PathBuf {
    let dir = home.join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY hello.txt /\n").unwrap();
    std::fs::write(dir.join("hello.txt"), "hi\n").unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!("[build]\nimage = \"{image}\"\nmax_attempts = 1\n[smoke]\ninfer = false\n"),
    )
    .unwrap();
    dir
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn doctor_lists_every_backend_in_auto_order_and_auto_picks_the_local_engine() {
    let home = tempfile::tempdir().unwrap();
    let (out, _) = exits(dockui(home.path()).args(["doctor", "--format", "json"]), 0);
    let v = json(&out);
    assert_eq!(
        sources(&v),
        vec![
            "local socket",
            "Podman socket (rootless)",
            "Podman socket (root)",
            "BUILDKIT_HOST",
            "[codebuild] project"
        ]
    );
    let local = &v["candidates"][0];
    assert_eq!(local["backend"], "docker");
    assert_eq!(local["endpoint"], "unix:///var/run/docker.sock");
    assert_eq!(local["reachable"], true);
    assert!(local["version"].as_str().is_some_and(|s| !s.is_empty()));
    // The engine's embedded BuildKit exports inline cache only, and runs containers.
    let caps = &local["capabilities"];
    assert_eq!(caps["buildkit"], true, "{caps}");
    assert_eq!(
        caps["cache_export"],
        serde_json::json!(["inline"]),
        "{caps}"
    );
    assert_eq!(caps["run"], true, "{caps}");
    assert!(
        caps["platforms"][0]
            .as_str()
            .is_some_and(|p| p.starts_with("linux/")),
        "{caps}"
    );
    // No rootless Podman service in the test's runtime dir: why not, and what to do.
    let podman = &v["candidates"][1];
    assert_eq!(podman["reachable"], false);
    assert!(
        podman["why_not"]
            .as_str()
            .unwrap()
            .contains("no Podman socket at"),
        "{podman}"
    );
    assert!(
        podman["what_to_do"].as_str().unwrap().contains("podman"),
        "{podman}"
    );
    for c in &v["candidates"].as_array().unwrap()[3..] {
        // Not pretended: a backend whose code is not in this binary says so.
        if c["available"] == false {
            assert!(
                c["why_not"]
                    .as_str()
                    .unwrap()
                    .contains("not available in this build"),
                "{c}"
            );
            assert_eq!(c["reachable"], false);
        }
    }
    assert_eq!(v["auto"]["index"], 0);
    assert_eq!(v["auto"]["usable"], true);

    let human = dockui(home.path()).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("1. docker - local socket"), "{text}");
    assert!(text.contains("reachable: yes"), "{text}");
    assert!(
        text.contains("can: BuildKit; cache export inline"),
        "{text}"
    );
    assert!(
        text.contains("auto picks 1: docker unix:///var/run/docker.sock"),
        "{text}"
    );
}

#[test]
fn doctor_with_a_dead_docker_host_says_why_and_auto_does_not_replace_it() {
    let home = tempfile::tempdir().unwrap();
    let dead = format!("unix://{}/dead.sock", home.path().display());
    // 1: auto has nothing usable.
    let (out, _) = exits(
        dockui(home.path())
            .env("DOCKER_HOST", &dead)
            .args(["doctor", "--format", "json"]),
        1,
    );
    let v = json(&out);
    assert_eq!(sources(&v)[0], "DOCKER_HOST");
    assert_eq!(sources(&v)[1], "local socket");
    let first = &v["candidates"][0];
    assert_eq!(first["endpoint"], dead.as_str());
    assert_eq!(first["explicit"], true);
    assert_eq!(first["reachable"], false);
    assert!(
        first["why_not"]
            .as_str()
            .unwrap()
            .contains("no Docker socket at"),
        "{first}"
    );
    assert!(
        first["what_to_do"]
            .as_str()
            .unwrap()
            .contains("DOCKER_HOST"),
        "{first}"
    );
    // The search ends at the endpoint the user set.
    assert_eq!(v["auto"]["index"], 0);
    assert_eq!(v["auto"]["usable"], false);
    assert!(
        v["auto_reason"].as_str().unwrap().contains("DOCKER_HOST"),
        "{v}"
    );

    let human = dockui(home.path())
        .env("DOCKER_HOST", &dead)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("1. docker - DOCKER_HOST"), "{text}");
    assert!(text.contains("builds fail until it answers"), "{text}");
}

#[test]
fn build_backend_docker_with_a_dead_docker_host_exits_2_with_what_to_do() {
    let (home, dir) = home_and_project("dockui-test/doctor-dead");
    let dead = format!("unix://{}/dead.sock", home.path().display());
    let (out, stderr) = exits(
        dockui(home.path())
            .env("DOCKER_HOST", &dead)
            .args(["build", "--backend", "docker", "--format", "json"])
            .arg(&dir),
        2,
    );
    assert!(stderr.contains("backend docker"), "{stderr}");
    assert!(stderr.contains(&dead), "{stderr}");
    assert!(stderr.contains("what to do"), "{stderr}");
    let v = json(&out);
    assert_eq!(v["success"], false);
    assert_eq!(v["backend"]["endpoint"], dead.as_str());
    assert_eq!(v["backend"]["kind"], "docker");
    // Nothing was built: no build record.
    assert_eq!(builds(home.path()), 0);
}

/// The fields of every result's `backend` object.
const BACKEND_FIELDS: [&str; 7] = [
    "context", "endpoint", "kind", "rootless", "source", "tls", "version",
];

fn backend_fields(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v["backend"]
        .as_object()
        .unwrap_or_else(|| panic!("no backend object: {v:#}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

#[test]
fn a_bad_docker_cert_path_keeps_docker_hosts_endpoint_and_names_the_path_as_the_why() {
    let (home, dir) = home_and_project("dockui-test/doctor-certpath");
    let host = format!("tcp://127.0.0.1:{}", common::closed_port());
    let missing = home.path().join("no-such-certs");
    let env = |cmd: &mut Command| {
        cmd.env("DOCKER_HOST", &host)
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", &missing);
    };
    let mut build = dockui(home.path());
    env(&mut build);
    let (out, stderr) = exits(build.args(["build", "--format", "json"]).arg(&dir), 2);
    let v = json(&out);
    assert_eq!(v["backend"]["endpoint"], host.as_str(), "{v:#}");
    assert_eq!(v["backend"]["source"], "env", "{v:#}");
    assert_eq!(v["backend"]["kind"], "docker", "{v:#}");
    assert_eq!(v["backend"]["tls"], true, "{v:#}");
    assert_eq!(backend_fields(&v), BACKEND_FIELDS);
    let why = format!("DOCKER_CERT_PATH={} cannot be read", missing.display());
    assert!(v["error"].as_str().unwrap().contains(&why), "{v:#}");
    assert!(
        stderr.contains(&format!("at {host} (DOCKER_HOST)")),
        "{stderr}"
    );
    // doctor: listed under DOCKER_HOST with its address; the path only in why not.
    let mut doctor = dockui(home.path());
    env(&mut doctor);
    let out = doctor
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    let first = &json(&out)["candidates"][0];
    assert_eq!(first["endpoint"], host.as_str(), "{first:#}");
    assert_eq!(first["source"], "DOCKER_HOST", "{first:#}");
    assert_eq!(first["origin"], "env", "{first:#}");
    assert!(
        first["why_not"].as_str().unwrap().contains(&why),
        "{first:#}"
    );
    let mut doctor = dockui(home.path());
    env(&mut doctor);
    let out = doctor.arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("1. docker - DOCKER_HOST - {host}\n")),
        "{text}"
    );
}

#[test]
fn inspect_on_an_engine_that_cannot_be_used_says_why_once_and_names_the_backend() {
    let home = tempfile::tempdir().unwrap();
    let host = format!("tcp://127.0.0.1:{}", common::closed_port());
    let (out, stderr) = exits(
        dockui(home.path()).env("DOCKER_HOST", &host).args([
            "inspect",
            "dockui-test/absent:1",
            "--format",
            "json",
        ]),
        2,
    );
    // The cause and what to do, as build and push say it; no generic line after it.
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(
        stderr.contains("what to do: start the Docker engine there, or fix DOCKER_HOST"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("\nstart the Docker engine or set"),
        "{stderr}"
    );
    let v = json(&out);
    assert_eq!(v["exit_code"], 2, "{v:#}");
    assert!(
        v["error"].as_str().unwrap().contains("connection refused"),
        "{v:#}"
    );
    assert_eq!(v["backend"]["kind"], "docker", "{v:#}");
    assert_eq!(v["backend"]["endpoint"], host.as_str(), "{v:#}");
    assert_eq!(v["backend"]["source"], "env", "{v:#}");
    assert_eq!(backend_fields(&v), BACKEND_FIELDS);
    // From a docker context: what to do names the context, not DOCKER_HOST.
    let config = home.path().join("docker-config");
    let meta = config
        .join("contexts/meta")
        .join(dockui::docker::endpoint::context_id("far"));
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("meta.json"),
        serde_json::json!({"Name": "far", "Endpoints": {"docker": {"Host": host}}}).to_string(),
    )
    .unwrap();
    let (out, stderr) = exits(
        dockui(home.path())
            .env("DOCKER_CONTEXT", "far")
            .args(["inspect", "dockui-test/absent:1"]),
        2,
    );
    assert!(stderr.contains("the docker context far"), "{stderr}");
    assert!(!stderr.contains("DOCKER_HOST"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn build_backend_buildkit_that_is_not_usable_exits_2_and_never_pretends() {
    let (home, dir) = home_and_project("dockui-test/doctor-bk");
    let port = common::closed_port();
    let (_, stderr) = exits(
        dockui(home.path())
            .env("BUILDKIT_HOST", format!("tcp://127.0.0.1:{port}"))
            .args(["build", "--backend", "buildkit"])
            .arg(&dir),
        2,
    );
    assert!(stderr.contains("backend buildkit"), "{stderr}");
    assert!(stderr.contains("what to do"), "{stderr}");
    // Nothing listens there; whether or not the BuildKit code is in this binary, it is not usable.
    assert!(
        stderr.contains("not available in this build") || stderr.contains("127.0.0.1"),
        "{stderr}"
    );
    assert_eq!(builds(home.path()), 0);
}

#[test]
fn an_unknown_backend_in_the_config_is_exit_2_naming_the_key() {
    let (home, dir) = home_and_project("dockui-test/doctor-bad");
    std::fs::write(
        dir.join(".dockui.toml"),
        "[engine]\nbackend = \"kaniko\"\n[build]\nmax_attempts = 1\n",
    )
    .unwrap();
    let (_, stderr) = exits(dockui(home.path()).args(["build"]).arg(&dir), 2);
    assert!(
        stderr.contains("engine.backend") && stderr.contains("kaniko"),
        "{stderr}"
    );
    assert!(stderr.contains(".dockui.toml"), "names the file: {stderr}");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn the_build_json_names_the_backend_it_ran_on() {
    let (home, dir) = home_and_project("dockui-test/doctor-json");
    let (out, _) = exits(
        dockui(home.path())
            .args(["build", "--backend", "docker", "--format", "json"])
            .arg(&dir),
        0,
    );
    let v = json(&out);
    assert_eq!(v["backend"]["kind"], "docker", "{v:#}");
    assert_eq!(v["backend"]["endpoint"], "unix:///var/run/docker.sock");
    assert_eq!(v["backend"]["context"], serde_json::Value::Null);
    remove_image(&v);
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn build_push_on_a_docker_engine_is_refused_before_building_and_names_dockui_push() {
    let (home, dir) = home_and_project("dockui-test/doctor-push");
    let (_, stderr) = exits(
        dockui(home.path())
            .args(["build", "--backend", "docker", "--push"])
            .arg(&dir),
        2,
    );
    assert!(stderr.contains("only a BuildKit daemon"), "{stderr}");
    assert!(stderr.contains("dockui push"), "{stderr}");
    assert_eq!(builds(home.path()), 0, "nothing was built: {stderr}");
}

/// How many builds the history holds.
fn builds(home: &Path) -> usize {
    std::fs::read_dir(common::paths(home).builds_dir())
        .map(|d| d.count())
        .unwrap_or(0)
}

fn remove_image(v: &serde_json::Value) {
    if let Some(id) = v["image_id"].as_str() {
        let _ = Command::new("docker")
            .args(["rmi", "-f", v["image"].as_str().unwrap_or(id)])
            .output();
    }
}

#[test]
#[cfg_attr(not(dockui_podman), ignore = "needs podman")]
fn doctor_finds_a_podman_service_and_build_backend_podman_builds_on_it() {
    let home = tempfile::tempdir().unwrap();
    // A root service on the rootless socket path of the test's runtime dir (see `dockui`).
    let _podman = common::podman::PodmanService::start_with(common::podman::Setup {
        socket: Some(home.path().join("run/podman/podman.sock")),
        ..Default::default()
    });
    let out = dockui(home.path())
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    let v = json(&out);
    let podman = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "Podman socket (rootless)")
        .expect("listed")
        .clone();
    assert_eq!(podman["reachable"], true, "{podman}");
    assert_eq!(podman["backend"], "podman", "detected as Podman: {podman}");
    // Podman builds the legacy way: no BuildKit, no cache exporters.
    assert_eq!(podman["capabilities"]["buildkit"], false, "{podman}");
    assert_eq!(
        podman["capabilities"]["cache_export"],
        serde_json::json!([]),
        "{podman}"
    );

    let dir = project(home.path(), "dockui-test/doctor-podman");
    let (out, stderr) = exits(
        dockui(home.path())
            .args(["build", "--backend", "podman", "--format", "json"])
            .arg(&dir),
        0,
    );
    let v = json(&out);
    assert_eq!(v["success"], true);
    assert_eq!(v["backend"]["kind"], "podman", "{v:#}");
    assert_eq!(
        v["backend"]["endpoint"].as_str().unwrap(),
        format!("unix://{}/run/podman/podman.sock", home.path().display())
    );
    assert!(stderr.contains("the legacy builder"), "{stderr}");

    // The same service named by DOCKER_HOST, with `--backend docker`: the endpoint the user set is used
    // (it speaks the Docker API; the result says it is Podman), never passed over for the local engine.
    let socket = format!("unix://{}/run/podman/podman.sock", home.path().display());
    let (out, _) = exits(
        dockui(home.path())
            .env("DOCKER_HOST", &socket)
            .args(["build", "--backend", "docker", "--format", "json"])
            .arg(&dir),
        0,
    );
    let v = json(&out);
    assert_eq!(v["backend"]["kind"], "podman", "{v:#}");
    assert_eq!(v["backend"]["endpoint"].as_str().unwrap(), socket, "{v:#}");
}

#[test]
fn the_tui_with_an_unusable_configured_backend_exits_2_before_touching_the_terminal() {
    let (home, dir) = home_and_project("dockui-test/doctor-tui");
    std::fs::write(dir.join(".dockui.toml"), "[engine]\nbackend = \"podman\"\n").unwrap();
    // On a terminal (a pty from `script`): without one the TUI stops earlier, saying it needs one.
    let plain = dockui(home.path());
    let mut cmd = Command::new("script");
    for (k, v) in plain.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.args(["-qec"])
        .arg(format!(
            "{} {}",
            plain.get_program().to_string_lossy(),
            dir.display()
        ))
        .arg("/dev/null");
    let (out, _) = exits(&mut cmd, 2);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("backend podman"), "{text}");
    assert!(text.contains("what to do"), "{text}");
    // The alternate screen was never entered.
    assert!(!text.contains("\x1b[?1049h"), "{text:?}");
}

/// Everything a run left for a person to see: stdout, stderr and dockui's own log (at trace level).
fn everything(home: &Path, out: &Output) -> String {
    let log = std::fs::read_to_string(common::paths(home).log_file()).unwrap_or_default();
    format!(
        "{}\n{}\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_password_in_docker_host_never_reaches_output_json_or_the_log() {
    let (home, dir) = home_and_project("dockui-test/doctor-secret");
    let closed = common::closed_port();
    for host in [
        format!("tcp://user:s3cretPW@127.0.0.1:{closed}"),
        format!("ssh://me:s3cretPW@127.0.0.1:{closed}"),
    ] {
        for args in [
            &["doctor"][..],
            &["doctor", "--format", "json"],
            &["build", "--format", "json"],
        ] {
            let mut cmd = dockui(home.path());
            cmd.env("DOCKER_HOST", &host)
                .env("DOCKUI_LOG", "trace")
                .args(args);
            if args[0] == "build" {
                cmd.arg(&dir);
            }
            let out = cmd.output().unwrap();
            let all = everything(home.path(), &out);
            assert!(!all.contains("s3cretPW"), "{host} {args:?}: {all}");
            // Still says where it tried (tcp: the host the CLI would use; ssh: the password refused).
            if host.starts_with("tcp") {
                assert!(all.contains(&format!("tcp://127.0.0.1:{closed}")), "{all}");
            } else {
                assert!(
                    all.contains("password in an ssh address is not supported"),
                    "{all}"
                );
                assert!(all.contains("me:***@"), "{all}");
            }
        }
    }
    assert_eq!(builds(home.path()), 0);
}

#[test]
fn a_socket_that_accepts_and_never_answers_ends_the_build_in_seconds_without_an_attempt() {
    let (home, dir) = home_and_project("dockui-test/doctor-silent");
    let path = home.path().join("silent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let host = format!("unix://{}", path.display());
    let started = std::time::Instant::now();
    let (out, stderr) = exits(
        dockui(home.path())
            .env("DOCKER_HOST", &host)
            .args(["build", "--format", "json"])
            .arg(&dir),
        2,
    );
    // The probe's 3 s, not the engine timeout (10 min by default) it used to wait out.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr.contains("no answer from"), "{stderr}");
    assert!(
        stderr.contains("auto builds nowhere else while DOCKER_HOST is set"),
        "{stderr}"
    );
    let v = json(&out);
    assert_eq!(v["backend"]["endpoint"], host.as_str(), "{v:#}");
    assert_eq!(builds(home.path()), 0, "no attempt, no record");
}

#[test]
fn an_http_service_that_is_not_docker_is_named_as_such() {
    let port = common::http_answering(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\nConnection: close\r\n\r\n404 page not found\n",
    );
    let home = tempfile::tempdir().unwrap();
    let (out, _) = exits(
        dockui(home.path())
            .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
            .args(["doctor", "--format", "json"]),
        1,
    );
    let v = json(&out);
    let why = v["candidates"][0]["why_not"].as_str().unwrap();
    assert!(why.contains("is not a Docker engine API"), "{why}");
    assert!(!why.contains('\n'), "{why:?}");
    assert!(
        v["candidates"][0]["what_to_do"]
            .as_str()
            .unwrap()
            .contains("DOCKER_HOST"),
        "{v:#}"
    );
}

#[test]
fn a_docker_config_that_never_ends_is_named_not_read() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::os::unix::fs::symlink("/dev/zero", cfg.join("config.json")).unwrap();
    let started = std::time::Instant::now();
    let (out, _) = exits(dockui(home.path()).args(["doctor"]), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("config.json: it is not a regular file"),
        "{text}"
    );
    assert!(text.contains("docker CLI config"), "{text}");
}

#[test]
fn a_context_that_does_not_exist_is_listed_by_name_as_set() {
    let home = tempfile::tempdir().unwrap();
    let (out, _) = exits(
        dockui(home.path())
            .env("DOCKER_CONTEXT", "nope")
            .args(["doctor"]),
        1,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1. docker - docker context nope - (no address) (context nope)"),
        "{text}"
    );
    assert!(text.contains("docker context ls"), "{text}");
    let (out, _) = exits(
        dockui(home.path())
            .env("DOCKER_CONTEXT", "nope")
            .args(["doctor", "--format", "json"]),
        1,
    );
    let v = json(&out);
    assert_eq!(v["auto"]["context"], "nope", "{v:#}");
    assert_eq!(v["auto"]["origin"], "env_context", "{v:#}");
    assert_eq!(v["candidates"][0]["endpoint"], "", "{v:#}");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn build_backend_podman_refuses_a_docker_host_that_answers_as_docker() {
    let (home, dir) = home_and_project("dockui-test/doctor-not-podman");
    let (out, stderr) = exits(
        dockui(home.path())
            .env("DOCKER_HOST", "unix:///var/run/docker.sock")
            .args(["build", "--backend", "podman", "--format", "json"])
            .arg(&dir),
        2,
    );
    assert!(
        stderr.contains(
            "podman was asked for, but unix:///var/run/docker.sock (DOCKER_HOST) answers as Docker"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--backend docker"), "{stderr}");
    assert_eq!(json(&out)["success"], false);
    assert_eq!(builds(home.path()), 0);
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_context_build_names_its_context_once() {
    let (home, dir) = home_and_project("dockui-test/doctor-ctx-once");
    let cfg = home.path().join("docker-config");
    let out = Command::new("docker")
        .env("DOCKER_CONFIG", &cfg)
        .args([
            "context",
            "create",
            "loc",
            "--docker",
            "host=unix:///var/run/docker.sock",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (out, _) = exits(
        dockui(home.path())
            .env("DOCKER_CONTEXT", "loc")
            .arg("build")
            .arg(&dir),
        0,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("backend: docker unix:///var/run/docker.sock (context loc)\n"),
        "{text}"
    );
    assert!(!text.contains("(context loc) (context loc)"), "{text}");
    let _ = Command::new("docker")
        .args(["rmi", "-f", "dockui-test/doctor-ctx-once:latest"])
        .output();
}

#[test]
fn an_ssh_endpoint_without_an_ssh_client_says_to_install_one() {
    let home = tempfile::tempdir().unwrap();
    let empty = home.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let (out, _) = exits(
        dockui(home.path())
            .env("DOCKER_HOST", "ssh://me@127.0.0.1:1")
            .env("PATH", &empty)
            .args(["doctor", "--format", "json"]),
        1,
    );
    let v = json(&out);
    let first = &v["candidates"][0];
    assert!(
        first["why_not"]
            .as_str()
            .unwrap()
            .contains("cannot run the ssh client"),
        "{first}"
    );
    let todo = first["what_to_do"].as_str().unwrap();
    assert!(todo.contains("openssh-client"), "{todo}");
    assert!(!todo.contains("docker info"), "{todo}");
}

#[test]
fn a_user_part_in_buildkit_host_is_dropped_before_it_is_dialled_or_shown() {
    let (home, dir) = home_and_project("dockui-test/doctor-bk-secret");
    let closed = common::closed_port();
    let host = format!("tcp://u:s3cretBK@127.0.0.1:{closed}");
    for args in [
        &["doctor", "--format", "json"][..],
        &["build", "--backend", "buildkit"],
    ] {
        let mut cmd = dockui(home.path());
        cmd.env("BUILDKIT_HOST", &host)
            .env("DOCKUI_LOG", "trace")
            .args(args);
        if args[0] == "build" {
            cmd.arg(&dir);
        }
        let out = cmd.output().unwrap();
        let all = everything(home.path(), &out);
        assert!(!all.contains("s3cretBK"), "{args:?}: {all}");
        // Dialled as buildctl would: the address without the user part (refused, not "no such host").
        assert!(all.contains(&format!("127.0.0.1:{closed}")), "{all}");
        assert!(!all.contains("failed to lookup address"), "{all}");
    }
}
