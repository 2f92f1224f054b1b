//! The BuildKit daemon backend (issue 13, points 4 and 8). No standalone buildkitd exists on these machines;
//! the Docker engine serves BuildKit's Control API on `POST /grpc` (an h2c upgrade). A small proxy exposes it
//! on 127.0.0.1:PORT, so the daemon code path (tcp address, session with file sync, Solve, Status) builds for
//! real. What only a standalone daemon adds (the image exporter with push, registry/gha cache export,
//! multi-platform) is checked on request shape against a fake Control server that records the SolveRequest.

mod common;

use dockui::builder::{BuildEvent, BuildSpec, BuilderPort, CacheType, DockerError};
use dockui::buildkit::{BuildkitBuilder, Settings, TlsFiles};
use std::path::Path;
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Expose the engine's `/grpc` on a loopback port: each connection is upgraded to h2c on the engine's
/// socket, then bytes are copied both ways. Stops with the runtime.
async fn h2c_proxy() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut engine = tokio::net::UnixStream::connect(common::proxy::ENGINE_SOCKET)
                    .await
                    .unwrap();
                engine
                    .write_all(b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n")
                    .await
                    .unwrap();
                // Read the 101 answer up to its blank line, byte by byte (h2 frames follow right after it).
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut b = [0u8; 1];
                    if engine.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                assert!(
                    head.starts_with(b"HTTP/1.1 101"),
                    "{}",
                    String::from_utf8_lossy(&head)
                );
                let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
            });
        }
    });
    port
}

fn settings(address: &str) -> Settings {
    Settings {
        address: address.to_string(),
        source: "BUILDKIT_HOST",
        tls: TlsFiles::default(),
    }
}

fn busybox() -> &'static Path {
    Path::new("/bin/busybox")
}

/// A FROM scratch context with busybox, a RUN step and a .dockerignore.
fn context(root: &Path, marker: &str) {
    std::fs::copy(busybox(), root.join("busybox")).unwrap();
    std::fs::write(
        root.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY . /ctx/\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {marker} > /ran.txt\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join(".dockerignore"), "secret.txt\n").unwrap();
    std::fs::write(root.join("app.py"), "print(1)\n").unwrap();
    std::fs::write(root.join("secret.txt"), "not for the image\n").unwrap();
}

fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<BuildEvent>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let BuildEvent::Line(l) = e {
            lines.push(l);
        }
    }
    lines
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_build_through_the_daemon_code_path_lands_in_the_engine_with_progress() {
    common::engine_or_skip("daemon_build").await.unwrap();
    let port = h2c_proxy().await;
    let builder = BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    let caps = builder.capabilities().await.unwrap();
    assert!(!caps.run, "a daemon runs no smoke tests");
    assert!(
        caps.platforms.contains(&"linux/amd64".to_string()),
        "{caps:?}"
    );
    // The engine behind the proxy is recognised: only inline cache export, no multi-platform store.
    assert_eq!(caps.cache_export, [CacheType::Inline]);

    let dir = tempfile::tempdir().unwrap();
    let marker = format!("ran-{}", std::process::id());
    context(dir.path(), &marker);
    let tag = format!("dockui-test/bk-daemon:{}", std::process::id());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: tag.clone(),
        no_cache: true,
        network: "none".into(),
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    let id = builder.build(spec, tx).await;
    let lines = drain(&mut rx);
    let id = id.unwrap_or_else(|e| panic!("build failed: {e}\n{}", lines.join("\n")));
    eprintln!(
        "daemon-path build: {:.1}s, {} log lines",
        t0.elapsed().as_secs_f64(),
        lines.len()
    );
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[3/3] RUN") || l.contains("RUN [\"/bin/busybox\"")),
        "progress lines from Control.Status: {lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("DONE")), "{lines:#?}");
    // The image is in the engine, the RUN step ran, .dockerignore was honoured through the session.
    let inspect = docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    assert!(inspect.status.success(), "{inspect:?}");
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), id);
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "/bin/busybox",
        "sh",
        "-c",
        "cat /ran.txt; ls -a /ctx",
    ]);
    let _ = docker(&["rmi", "-f", &tag]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&marker), "{out:?}");
    assert!(text.contains("app.py"), "{text}");
    assert!(!text.contains("secret.txt"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_failing_step_is_a_build_failure_with_the_engines_message() {
    common::engine_or_skip("daemon_fail").await.unwrap();
    let port = h2c_proxy().await;
    let builder = BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(busybox(), dir.path().join("busybox")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"exit 7\"]\n",
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: format!("dockui-test/bk-fail:{}", std::process::id()),
        network: "none".into(),
        ..Default::default()
    };
    let err = builder.build(spec, tx).await.unwrap_err();
    let lines = drain(&mut rx);
    match &err {
        DockerError::BuildFailed { message } => {
            assert!(
                message.contains("exit code: 7") || message.contains("exit 7"),
                "{message}"
            )
        }
        other => panic!("expected a build failure, got {other:?}\n{lines:#?}"),
    }
    assert!(lines.iter().any(|l| l.starts_with("ERROR:")), "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_unreachable_naming_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let address = format!("tcp://127.0.0.1:{port}");
    let builder = BuildkitBuilder::connect(&settings(&address)).unwrap();
    match builder.ping().await.unwrap_err() {
        DockerError::Unreachable { endpoint, reason } => {
            assert_eq!(endpoint, address);
            assert!(reason.contains("buildkitd"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
