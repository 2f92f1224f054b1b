//! The Docker engine's platform list (issue 13, point 5/8): asked from its embedded BuildKit (ListWorkers over
//! the engine's `/grpc`), which lists what builds can target (`linux/386` beside `linux/amd64`, and
//! `linux/arm64` once QEMU binfmt is on). When `/grpc` does not answer, dockui falls back to this machine's
//! binfmt_misc handlers and says so in `platforms_from`.

mod common;

use dockui::docker::{BollardEngine, DockerPort};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn qemu_aarch64_enabled() -> bool {
    std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64")
        .is_ok_and(|s| s.lines().next() == Some("enabled"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    any(not(dockui_engine), not(dockui_qemu)),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it) and qemu-user-static with binfmt for aarch64 on"
)]
async fn the_engines_platforms_come_from_buildkit_list_workers() {
    let engine = common::engine_or_skip("platforms_list_workers")
        .await
        .unwrap();
    assert!(
        qemu_aarch64_enabled(),
        "qemu-user-static is installed but binfmt for aarch64 is off: update-binfmts --enable qemu-aarch64"
    );
    let caps = engine.capabilities().await.unwrap();
    assert_eq!(caps.platforms[0], "linux/amd64", "{caps:?}");
    assert!(
        caps.platforms.contains(&"linux/arm64".to_string()),
        "{caps:?}"
    );
    // Only BuildKit lists 386 on an amd64 engine: binfmt_misc has no handler for it.
    assert!(
        caps.platforms.contains(&"linux/386".to_string()),
        "{caps:?}"
    );
    assert_eq!(
        caps.platforms_from, "BuildKit ListWorkers (the engine's /grpc)",
        "{caps:?}"
    );
}

/// A unix socket in front of the engine that answers `POST /grpc` with 404 (an engine or proxy without
/// BuildKit's endpoint) and forwards everything else.
async fn engine_without_grpc(path: &std::path::Path) {
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut b = [0u8; 1];
                    if client.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                if head.starts_with(b"POST /grpc") {
                    let _ = client
                        .write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                    return;
                }
                let Ok(mut engine) =
                    tokio::net::UnixStream::connect(common::proxy::ENGINE_SOCKET).await
                else {
                    return;
                };
                if engine.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn without_grpc_the_platforms_fall_back_to_binfmt_and_say_so() {
    common::engine_or_skip("platforms_fallback").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    engine_without_grpc(&sock).await;
    let engine = BollardEngine::connect(&format!("unix://{}", sock.display()), 60);
    engine.ping().await.unwrap();
    let caps = engine.capabilities().await.unwrap();
    assert!(caps.buildkit, "{caps:?}");
    assert!(
        caps.platforms_from.contains("binfmt_misc of this machine")
            && caps.platforms_from.contains("did not answer"),
        "{caps:?}"
    );
    assert_eq!(caps.platforms[0], "linux/amd64", "{caps:?}");
    assert!(
        !caps.platforms.contains(&"linux/386".to_string()),
        "binfmt has no 386 handler: {caps:?}"
    );
    assert_eq!(
        caps.platforms.contains(&"linux/arm64".to_string()),
        qemu_aarch64_enabled(),
        "{caps:?}"
    );
}

/// `--platform windows/amd64` on a Linux engine, through the engine backend and through the BuildKit-daemon
/// code path (the engine's `/grpc` behind BUILDKIT_HOST), alone and in a list: refused before anything is
/// built (BuildKit accepts it and fails at the first RUN with `exec: "cmd": executable file not found`), naming
/// what the builder builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_platform_of_another_os_is_refused_before_the_build() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\nRUN echo windows-platform-test > /x\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nimage = \"dockui-test/foreign-os\"\nmax_attempts = 1\nnetwork = \"none\"\n[smoke]\ninfer = false\n",
    )
    .unwrap();
    let port = common::h2c::proxy().await;
    for backend in ["docker", "buildkit"] {
        for platform in ["windows/amd64", "linux/amd64,windows/amd64"] {
            let mut cmd = common::dockui(home.path());
            cmd.args([
                "build",
                "--format",
                "json",
                "--no-smoke",
                "--backend",
                backend,
            ])
            .args(["--platform", platform])
            .arg(&dir)
            .env("BUILDKIT_HOST", format!("tcp://127.0.0.1:{port}"));
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{backend} {platform}: {stderr}");
            assert!(
                stderr.contains("builds linux images only") && stderr.contains("`windows/amd64`"),
                "{backend} {platform}: {stderr}"
            );
            assert!(
                !stderr.contains("#1 "),
                "{backend} {platform}: built: {stderr}"
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert_eq!(v["success"], false, "{v:#}");
        }
    }
}

/// `--platform linux/arm64` on a base this engine has only for amd64 (built here, in no registry): the engine
/// asks the registry for the arm64 image and fails. That was diagnosed "network or DNS failure" and retried
/// after 5 s; now dockui says the base is here for linux/amd64 only, the diagnosis says so, and nothing is
/// retried.
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_base_here_only_for_another_platform_is_named_not_retried() {
    let home = tempfile::tempdir().unwrap();
    let base_dir = home.path().join("base");
    std::fs::create_dir_all(&base_dir).unwrap();
    std::fs::copy("/bin/busybox", base_dir.join("busybox")).unwrap();
    std::fs::write(
        base_dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\n",
    )
    .unwrap();
    let base = format!("dockui-test/amd64-only-base:{}", std::process::id());
    let built = std::process::Command::new("docker")
        .args(["build", "-q", "-t", &base])
        .arg(&base_dir)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {base}\nRUN [\"/bin/busybox\", \"true\"]\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nimage = \"dockui-test/other-platform\"\nmax_attempts = 3\nauto_fix = \"safe\"\n[smoke]\ninfer = false\n",
    )
    .unwrap();
    let out = common::dockui(home.path())
        .args(["build", "--format", "json", "--platform", "linux/arm64"])
        .arg(&dir)
        .output()
        .unwrap();
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &base])
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the base image {base} is in this engine for linux/amd64 only, not for linux/arm64"
        )),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "not retried: {v:#}");
    let d = &attempts[0]["diagnosis"];
    assert_eq!(d["signature"], "base-not-for-platform", "{d:#}");
    assert_eq!(d["detail"], base.as_str(), "{d:#}");
}

/// A cache import that finds nothing does not fail the build: BuildKit goes on without it, and dockui says
/// so. Through the engine's `/grpc` (the session path) and through `/build` on an engine without `/grpc`,
/// where the failing import vertex was taken for the build's own error: a build that succeeded was reported
/// failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_cache_import_that_finds_nothing_is_said_and_the_build_succeeds() {
    use dockui::docker::{BuildEvent, BuildSpec};
    common::engine_or_skip("cache_import_nothing")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"true\"]\n",
    )
    .unwrap();
    let sock = dir.path().join("engine.sock");
    engine_without_grpc(&sock).await;
    let missing = format!(
        "127.0.0.1:5999/dockui-test/no-such-cache:{}",
        std::process::id()
    );
    for (name, endpoint) in [
        ("session", "unix:///var/run/docker.sock".to_string()),
        ("/build", format!("unix://{}", sock.display())),
    ] {
        let engine = BollardEngine::connect(&endpoint, 60);
        let tag = format!(
            "dockui-test/cache-nothing-{}:{}",
            name.trim_start_matches('/'),
            std::process::id()
        );
        let spec = BuildSpec {
            context_dir: dir.path().to_path_buf(),
            dockerfile: "Dockerfile".into(),
            tag: tag.clone(),
            network: "none".into(),
            cache_from: vec![format!("type=registry,ref={missing}")],
            ..Default::default()
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let built = engine.build(spec, tx).await;
        let mut lines = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            if let BuildEvent::Line(l) = ev {
                lines.push(l);
            }
        }
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &tag])
            .output();
        built.unwrap_or_else(|e| panic!("{name}: {e}\n{}", lines.join("\n")));
        assert!(
            lines.iter().any(|l| l.starts_with(&format!(
                "dockui: note: nothing was imported from the cache {missing}"
            ))),
            "{name}: {lines:#?}"
        );
    }
}

/// A platform that does not exist (a typo) is refused before anything is built, with the near one. Before,
/// `--platform linux/amd46` built and tagged an image labelled with that platform (exit 0), and in a list
/// asked for a QEMU handler `qemu-amd46`.
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_platform_that_does_not_exist_is_refused_naming_the_near_one() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nimage = \"dockui-test/typo-platform\"\nmax_attempts = 1\n[smoke]\ninfer = false\n",
    )
    .unwrap();
    for platform in ["linux/amd46", "linux/arm64,linux/amd46"] {
        let out = common::dockui(home.path())
            .args(["build", "--platform", platform])
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{platform}: {stderr}");
        assert!(
            stderr.contains("did you mean linux/amd64?"),
            "{platform}: {stderr}"
        );
        assert!(
            !stderr.contains("#1 ") && !stderr.contains("qemu"),
            "{platform}: {stderr}"
        );
    }
}
