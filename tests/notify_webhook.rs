//! `[notify] webhook`: a tiny HTTP server on loopback receives the JSON body (and ntfy's headers) from real
//! builds (success and failure), a real push to a real docker-registry (with the digest), and the TUI engine's
//! build job; a webhook that cannot be reached is reported and never changes the result.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A one-thread HTTP/1.1 server on a free loopback port: every request is parsed, answered with `status`,
/// and handed to the test.
fn listener(status: u16) -> (u16, mpsc::Receiver<Received>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if tx
                .send(Received {
                    request_line: request_line.trim_end().to_string(),
                    headers,
                    body,
                })
                .is_err()
            {
                return;
            }
        }
    });
    (port, rx)
}

fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// A project under `home/<name>` building `dockerfile` from the host's busybox, tagged dockui-test/after-notify.
fn project(home: &Path, name: &str, dockerfile: &str, notify: &str) -> Option<PathBuf> {
    let bb = busybox()?;
    let dir = home.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(bb, dir.join("busybox")).unwrap();
    // A label per project: tests running in parallel never share (and remove) one image.
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "{dockerfile}LABEL dev.dockui.test=\"{name}-{}\"\n",
            std::process::id()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"dockui-test/after-notify\"\ntag = \"{name}-{}\"\nmax_attempts = 1\n\n[smoke]\ninfer = false\n\n{notify}",
            std::process::id()
        ),
    )
    .unwrap();
    Some(dir)
}

const OK_DOCKERFILE: &str = "FROM scratch\nCOPY busybox /bin/busybox\n";

fn recv(rx: &mpsc::Receiver<Received>) -> Received {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the webhook was called")
}

/// Remove images by reference or id, with every tag they carry (force).
async fn remove(engine: &dockui::docker::BollardEngine, refs: &[String]) {
    let docker = engine.client().unwrap();
    for r in refs {
        let opts = bollard::query_parameters::RemoveImageOptionsBuilder::new()
            .force(true)
            .build();
        let _ = docker.remove_image(r, Some(opts), None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_success_and_failure_post_json_with_ntfy_headers() {
    let test = "build_success_and_failure_post_json_with_ntfy_headers";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (port, rx) = listener(200);
    let ntfy = format!(
        "[notify]\nwebhook = \"http://127.0.0.1:{port}/builds/secret-token-123\"\nstyle = \"ntfy\"\n"
    );
    let Some(dir) = project(home.path(), "okproj", OK_DOCKERFILE, &ntfy) else {
        return support::skip(test, "no static busybox on the host");
    };
    let out = common::dockui(home.path())
        .args(["build", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = recv(&rx);
    assert_eq!(got.request_line, "POST /builds/secret-token-123 HTTP/1.1");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        got.header("title"),
        Some("dockui: build of okproj succeeded")
    );
    assert_eq!(got.header("priority"), Some("default"));
    let b = &got.body;
    assert_eq!(b["event"], "build");
    assert_eq!(b["project"], "okproj");
    assert_eq!(b["success"], true);
    assert_eq!(b["image"], outcome["image"]);
    assert_eq!(b["tags"], outcome["tags"]);
    assert_eq!(b["digest"], outcome["image_id"]);
    assert!(b["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(b["diagnosis"].is_null());
    // Said on stderr, without the token in the URL's path.
    assert!(
        stderr.contains(&format!("notification sent to http://127.0.0.1:{port}/...")),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-token-123"), "{stderr}");
    // `--quiet`: the notification is sent, and nothing is said of it on stderr (an auditor saw the line).
    let out = common::dockui(home.path())
        .args(["build", dir.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(recv(&rx).body["success"], true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("notification sent"), "{stderr}");

    // A failing build: success false, the error as diagnosis, priority high; the exit code stays the build's.
    let Some(bad) = project(
        home.path(),
        "badproj",
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo boom; exit 3\"]\n",
        &ntfy,
    ) else {
        return;
    };
    let out = common::dockui(home.path())
        .args(["build", bad.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = recv(&rx);
    assert_eq!(got.header("title"), Some("dockui: build of badproj failed"));
    assert_eq!(got.header("priority"), Some("high"));
    assert_eq!(got.body["success"], false);
    assert_eq!(got.body["project"], "badproj");
    let diagnosis = got.body["diagnosis"].as_str().expect("a diagnosis");
    assert!(
        diagnosis.contains("exit code: 3") || diagnosis.contains("returned a non-zero code: 3"),
        "{diagnosis}"
    );

    remove(
        &engine,
        &[outcome["image_id"].as_str().unwrap().to_string()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_failing_webhook_is_reported_and_never_fatal() {
    let test = "unreachable_or_failing_webhook_is_reported_and_never_fatal";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let closed = support::free_port();
    let Some(dir) = project(
        home.path(),
        "lonely",
        OK_DOCKERFILE,
        &format!(
            "[notify]\nwebhook = \"http://127.0.0.1:{closed}/hook/token-xyz\"\ntimeout_s = 5\n"
        ),
    ) else {
        return support::skip(test, "no static busybox on the host");
    };
    let out = common::dockui(home.path())
        .args(["build", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "notify: webhook http://127.0.0.1:{closed}/... cannot connect"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("token-xyz"));
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["success"], true);

    // A webhook that answers 500: named, still exit 0.
    let (port, rx) = listener(500);
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"dockui-test/after-notify\"\ntag = \"lonely-{}\"\nmax_attempts = 1\n[smoke]\ninfer = false\n[notify]\nwebhook = \"http://127.0.0.1:{port}/x\"\n",
            std::process::id()
        ),
    )
    .unwrap();
    let out = common::dockui(home.path())
        .args(["build", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("answered 500"), "{stderr}");
    let got = recv(&rx);
    assert_eq!(got.body["success"], true);
    assert!(
        got.header("title").is_none(),
        "json style sends no ntfy headers"
    );

    // A bad style is a config error up front (exit 2), naming the key.
    std::fs::write(
        dir.join(".dockui.toml"),
        "[notify]\nwebhook = \"http://127.0.0.1:9/x\"\nstyle = \"slack\"\n",
    )
    .unwrap();
    let out = common::dockui(home.path())
        .args(["build", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("notify.style"));

    remove(
        &engine,
        &[outcome["image_id"].as_str().unwrap().to_string()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_posts_the_registry_digest() {
    let test = "push_posts_the_registry_digest";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    // `push IMAGE:TAG` pushes that tag.
    let tag = format!("t{}", std::process::id());
    let local = format!("dockui-test/after-notify-push:{tag}");
    let Some(local_id) = support::build_busybox(&engine, &local).await else {
        return;
    };
    let (port, rx) = listener(200);
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[push]\nregistry = \"{}\"\nrepository = \"after/notify\"\n[push.retry]\nattempts = 2\ninitial_delay_ms = 50\n\n[notify]\nwebhook = \"http://127.0.0.1:{port}/push\"\n",
            registry.host
        ),
    )
    .unwrap();
    let out = common::dockui(home.path())
        .args([
            "--config",
            config.to_str().unwrap(),
            "push",
            &local,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = report["digest"].as_str().unwrap().to_string();
    let got = recv(&rx);
    assert_eq!(got.body["event"], "push");
    assert_eq!(got.body["success"], true);
    assert_eq!(got.body["digest"], digest.as_str());
    assert_eq!(
        got.body["tags"],
        serde_json::json!([format!("{}/after/notify:{tag}", registry.host)])
    );
    // The digest in the webhook is the one the registry serves for the tag.
    let r = support::http(
        &registry.host,
        "HEAD",
        &format!("/v2/after/notify/manifests/{tag}"),
        &[("Accept", &dockui::registry::client::accept_header())],
        &[],
    )
    .unwrap();
    assert_eq!(r.header("Docker-Content-Digest"), Some(digest.as_str()));
    remove(&engine, &[local_id]).await;
}

/// The TUI's engine: a build job ends, the webhook is called; with a dead webhook a notice says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_build_job_notifies_and_reports_failures_as_notice() {
    use dockui::engine::{Command, EngineContext, EngineEvent};
    let test = "engine_build_job_notifies_and_reports_failures_as_notice";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (port, rx) = listener(200);
    let Some(dir) = project(
        home.path(),
        "tuiproj",
        OK_DOCKERFILE,
        &format!("[notify]\nwebhook = \"http://127.0.0.1:{port}/tui\"\n"),
    ) else {
        return support::skip(test, "no static busybox on the host");
    };
    let run = |config: dockui::config::Config| {
        let ctx = EngineContext {
            docker: std::sync::Arc::new(engine.clone()),
            project_dir: dir.clone(),
            config,
            paths: common::paths(home.path()),
            host: None,
            config_file: None,
        };
        dockui::engine::spawn(ctx)
    };
    let (config, _) = dockui::config::Config::load(None, &dir).unwrap();
    let mut handle = run(config.clone());
    handle.commands.send(Command::Build).unwrap();
    let mut image = String::new();
    let mut image_id = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while image.is_empty() {
        let ev = tokio::time::timeout_at(deadline, handle.events.recv())
            .await
            .expect("build finishes")
            .expect("engine alive");
        if let EngineEvent::BuildFinished(o) = ev {
            assert!(o.success, "{o:?}");
            image = o.image.clone();
            image_id = o.image_id.clone().unwrap_or_default();
        }
    }
    let got = tokio::task::spawn_blocking(move || recv(&rx))
        .await
        .unwrap();
    assert_eq!(got.body["event"], "build");
    assert_eq!(got.body["image"], image.as_str());
    handle.shutdown().await;

    // Dead webhook: the build still succeeds, and a notice says the notification failed.
    let mut dead = config;
    dead.notify.webhook = format!("http://127.0.0.1:{}/tui", support::free_port());
    let mut handle = run(dead);
    handle.commands.send(Command::Build).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut finished = false;
    loop {
        let ev = tokio::time::timeout_at(deadline, handle.events.recv())
            .await
            .expect("build finishes and the notice arrives")
            .expect("engine alive");
        match ev {
            EngineEvent::BuildFinished(o) => {
                assert!(o.success);
                finished = true;
            }
            EngineEvent::Notice(n) if n.contains("notify") => {
                assert!(finished, "the notice comes after the result");
                assert!(n.contains("cannot connect"), "{n}");
                break;
            }
            _ => {}
        }
    }
    handle.shutdown().await;
    remove(&engine, &[image_id]).await;
}

/// A webhook that accepts every connection and never answers; each accepted connection is announced.
fn stalled_listener() -> (u16, mpsc::Receiver<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in l.incoming() {
            let Ok(stream) = stream else { return };
            held.push(stream);
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

use common::exit_within;

/// The build is decided when the notification is posted: a fatal signal then abandons the notification at
/// once, the result is still written, and the exit code reports the signal. An unbounded timeout_s is refused
/// when the config loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_abandons_a_stalled_notification() {
    let test = "a_signal_abandons_a_stalled_notification";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (port, accepted) = stalled_listener();
    let Some(dir) = project(
        home.path(),
        "stalled",
        OK_DOCKERFILE,
        &format!(
            "[notify]\nwebhook = \"http://127.0.0.1:{port}/hook\"\ntimeout_s = 999999999999\n"
        ),
    ) else {
        return support::skip(test, "no static busybox on the host");
    };
    let out = common::dockui(home.path())
        .args(["build", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(".dockui.toml:11:13: notify.timeout_s = 999999999999: use 1 to 300"),
        "{stderr}"
    );
    let config = std::fs::read_to_string(dir.join(".dockui.toml")).unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        config.replace("999999999999", "300"),
    )
    .unwrap();

    let mut image_id = None;
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGHUP, "SIGHUP")] {
        let mut child = common::dockui(home.path())
            .args([
                "build",
                dir.to_str().unwrap(),
                "--no-smoke",
                "--format",
                "json",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        accepted
            .recv_timeout(Duration::from_secs(180))
            .expect("the build posts its notification");
        unsafe { libc::kill(child.id() as i32, signal) };
        let out = exit_within(&mut child, Duration::from_secs(5), name);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(128 + signal), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "notify: interrupted; the notification to http://127.0.0.1:{port}/... was not sent"
            )),
            "{name}: {stderr}"
        );
        let outcome: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: one JSON result on stdout ({e}): {stderr}"));
        assert_eq!(outcome["success"], true, "{name}");
        image_id = outcome["image_id"].as_str().map(String::from);
    }
    if let Some(id) = image_id {
        remove(&engine, &[id]).await;
    }
}

/// `dockui push`'s notification is abandoned on a signal too, with the report on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_abandons_a_stalled_push_notification() {
    let test = "a_signal_abandons_a_stalled_push_notification";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let tag = format!("s{}", std::process::id());
    let local = format!("dockui-test/after-notify-stall:{tag}");
    let Some(local_id) = support::build_busybox(&engine, &local).await else {
        return;
    };
    let (port, accepted) = stalled_listener();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[push]\nregistry = \"{}\"\nrepository = \"after/stall\"\n[push.retry]\nattempts = 2\ninitial_delay_ms = 50\n\n[notify]\nwebhook = \"http://127.0.0.1:{port}/push\"\ntimeout_s = 300\n",
            registry.host
        ),
    )
    .unwrap();
    let mut child = common::dockui(home.path())
        .args([
            "--config",
            config.to_str().unwrap(),
            "push",
            &local,
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    accepted
        .recv_timeout(Duration::from_secs(120))
        .expect("the push posts its notification");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = exit_within(&mut child, Duration::from_secs(5), "SIGTERM");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM), "{stderr}");
    assert!(stderr.contains("was not sent"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["digest"].as_str().is_some(), "{report}");
    assert!(report["error"].is_null(), "{report}");
    remove(&engine, &[local_id]).await;
}
