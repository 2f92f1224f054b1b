//! Podman through its Docker-compatible socket, for real: `podman system service` on a socket of its own with
//! isolated configuration and storage, and the dockui binary pointed at it with DOCKER_HOST. The build is
//! detected as Podman's, its `STEP n/N` drives the step counter, a failing RUN is classified, and a push to a
//! local registry reports a pullable digest; without the registry's insecure entry the push failure is
//! classified with what to do.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use common::podman::PodmanService;
use dockui::docker::{BollardEngine, BuildSpec, DockerPort};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A project whose image is `FROM scratch` + the host's static busybox (no base image to pull). RUN steps use
/// the host's network: Podman sets up no CNI bridge or iptables rules that could disturb the shared engine.
fn project(home: &Path, name: &str, image: &str, run: &str) -> PathBuf {
    let dir = home.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"{run}\"]\n\
             CMD [\"/bin/busybox\", \"true\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"{image}\"\ntag = \"v1\"\nmax_attempts = 1\nnetwork = \"host\"\n\n[smoke]\ninfer = false\n"
        ),
    )
    .unwrap();
    dir
}

fn dockui_at(home: &Path, service: &PodmanService) -> Command {
    let mut cmd = common::dockui(home);
    cmd.env("DOCKER_HOST", service.host());
    cmd.env_remove("DOCKER_TLS_VERIFY");
    cmd.env_remove("DOCKER_CONTEXT");
    cmd
}

/// `dockui build --format json` of `dir` on the service.
fn build_at(home: &Path, service: &PodmanService, dir: &Path) -> std::process::Output {
    dockui_at(home, service)
        .args(["build", "--format", "json"])
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn podman_socket_is_detected_counts_steps_and_pushes_a_pullable_digest() {
    let test = "podman_socket_is_detected_counts_steps_and_pushes_a_pullable_digest";
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let service = PodmanService::start(Some(&registry.host));
    let home = tempfile::tempdir().unwrap();
    let nonce = format!("pm-{}-{}", std::process::id(), registry.port);
    let image = format!("{}/test/{nonce}", registry.host);
    let dir = project(
        home.path(),
        "ok",
        &image,
        &format!("/bin/busybox echo {nonce} built"),
    );

    // The port itself: capabilities and ping say Podman; the step events follow STEP n/N.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = BollardEngine::connect(&service.host(), 120);
    let caps = rt.block_on(engine.capabilities()).unwrap();
    assert_eq!(caps.kind, dockui::docker::BackendKind::Podman);
    assert!(!caps.buildkit, "Podman builds the legacy way");
    let info = rt.block_on(engine.ping()).unwrap();
    assert!(info.version.starts_with("Podman "), "{info:?}");
    let spec = BuildSpec {
        context_dir: dir.clone(),
        dockerfile: "Dockerfile".into(),
        tag: format!("{image}:steps"),
        network: "host".into(),
        // BuildKit asked for explicitly: Podman cannot, and dockui says so and builds the legacy way.
        builder: dockui::docker::Builder::BuildKit,
        ..Default::default()
    };
    let (built, steps, lines) = common::podman::build_events(&rt, &engine, spec);
    built.expect("podman builds");
    assert_eq!(steps, [(1, 4), (2, 4), (3, 4), (4, 4)], "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("STEP 3/4: RUN")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Podman's, which has no BuildKit")),
        "{lines:#?}"
    );

    // The binary: the JSON names the backend.
    let out = build_at(home.path(), &service, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{}", service.log());
    let build: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(build["success"], true);
    assert_eq!(build["backend"]["kind"], "podman");
    assert!(stderr.contains(&format!("{nonce} built")), "{stderr}");
    assert!(
        stderr.contains("with Podman (the legacy builder)"),
        "{stderr}"
    );

    let t0 = Instant::now();
    let out = dockui_at(home.path(), &service)
        .args(["push", "--format", "json"])
        .arg(format!("{image}:v1"))
        .output()
        .unwrap();
    let push_s = t0.elapsed().as_secs_f64();
    let report = common::output_ok_json(&out);
    assert_eq!(report["verdict"], "pullable");
    let digest = report["digest"].as_str().unwrap();
    assert_ne!(Some(digest), build["image_id"].as_str());
    // The registry serves that digest under the tag (asked without dockui's client).
    let head = support::http(
        &registry.host,
        "HEAD",
        &format!("/v2/test/{nonce}/manifests/v1"),
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )],
        &[],
    )
    .unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Docker-Content-Digest"), Some(digest));
    assert_eq!(
        report["reference"],
        format!("{image}@{digest}").as_str(),
        "the pushed digest is pinned even though Podman's RepoDigests list another"
    );
    eprintln!("measured: push through Podman + checks {push_s:.1} s");
}

#[test]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn podman_failing_run_is_classified_with_its_step() {
    let service = PodmanService::start(None);
    let home = tempfile::tempdir().unwrap();
    let image = format!("localhost/dockui-test/pm-fail-{}", std::process::id());
    let dir = project(home.path(), "fail", &image, "nosuchcommand --version");
    let out = build_at(home.path(), &service, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let build: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(build["backend"]["kind"], "podman");
    let d = &build["attempts"][0]["diagnosis"];
    assert_eq!(d["signature"], "command-not-found", "{build:#}");
    assert!(
        d["failing_step"]
            .as_str()
            .is_some_and(|s| s.starts_with("STEP 3/4: RUN")),
        "{d:#}"
    );
    assert!(
        d["matched"][0][1]
            .as_str()
            .is_some_and(|l| l.contains("while running runtime: exit status 127")),
        "{d:#}"
    );
}

#[test]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn podman_push_to_a_plain_http_registry_says_how_to_mark_it_insecure() {
    let test = "podman_push_to_a_plain_http_registry_says_how_to_mark_it_insecure";
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    // No insecure entry: Podman (unlike Docker) does not exempt 127.0.0.1 and speaks HTTPS to it.
    let service = PodmanService::start(None);
    let home = tempfile::tempdir().unwrap();
    let image = format!("{}/test/pm-http-{}", registry.host, std::process::id());
    let dir = project(home.path(), "http", &image, "/bin/busybox true");
    let out = build_at(home.path(), &service, &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = dockui_at(home.path(), &service)
        .args(["push", "--format", "json"])
        .arg(format!("{image}:v1"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a push that could not be done");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("server gave HTTP response to HTTPS client")),
        "{report:#}"
    );
    assert_eq!(report["diagnosis"]["signature"], "registry-plain-http");
    let todo = report["what_to_do"].as_str().unwrap();
    assert!(todo.contains("insecure = true"), "{todo}");
    assert!(todo.contains("registries.conf"), "{todo}");
}

#[test]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn tui_on_podman_shows_podman_and_counts_its_steps() {
    let service = PodmanService::start(None);
    let home = tempfile::tempdir().unwrap();
    let image = format!("localhost/dockui-test/pm-tui-{}", std::process::id());
    // Step 3/4 takes a few seconds, so the status bar is seen on it while it runs.
    let dir = project(home.path(), "tui", &image, "/bin/busybox sleep 4");
    let Some(t) = common::tmux::Tmux::start("podman-tui", 160, 40, home.path()) else {
        return;
    };
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    t.send(&[
        &format!(
            "DOCKER_HOST={} {} {}",
            service.host(),
            env!("CARGO_BIN_EXE_dockui"),
            dir.display()
        ),
        "Enter",
    ]);
    t.wait_for("the engine named as Podman", |s| {
        s.contains("(podman, Podman 4")
    });
    t.send(&["b"]);
    t.wait_for("Podman's STEP 3/4 in the status bar", |s| {
        s.contains("step 3/4")
    });
    t.wait_for("the build to finish", |s| {
        s.contains("built after 1 attempt")
    });
    t.send(&["q"]);
}

/// Ctrl-C during a Podman build: dockui stops at once (exit 130) and says the truth about Podman, which has
/// no way to stop a build through its API: the running step goes on until its command ends, then Podman stops
/// without the next steps or a tag. Checked: the step's process outlives dockui, the next step never starts,
/// no image is tagged and no working container is left.
#[test]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn podman_build_cancelled_says_the_running_step_finishes_and_nothing_is_tagged() {
    let service = PodmanService::start(None);
    let home = tempfile::tempdir().unwrap();
    let nonce = format!("pmcancel{}", std::process::id());
    let image = format!("localhost/dockui-test/pm-cancel-{}", std::process::id());
    let dir = project(
        home.path(),
        "cancel",
        &image,
        // (`&& echo` keeps the shell, whose command line names the nonce, as the step's process)
        &format!("echo {nonce}-first && /bin/busybox sleep 5 && echo {nonce}-done"),
    );
    // A second step that must never run.
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap().replace(
        "CMD",
        &format!("RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {nonce}-second && /bin/busybox sleep 6 && echo {nonce}-done\"]\nCMD"),
    );
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let stderr_path = home.path().join("stderr.txt");
    let child = dockui_at(home.path(), &service)
        .args(["build", "--format", "json"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(&stderr_path)
        .unwrap()
        .lines()
        .any(|l| l == format!("{nonce}-first"))
    {
        assert!(Instant::now() < deadline, "the step did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("Podman cannot stop a build through its API"),
        "{stderr}"
    );
    let build: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(build["cancelled"], true, "{build:#}");
    let log = std::fs::read_to_string(build["attempts"][0]["log_path"].as_str().unwrap()).unwrap();
    let note = log
        .find("Podman cannot stop a build")
        .expect("the note is in the log");
    assert!(note < log.find("dockui: build cancelled").unwrap(), "{log}");
    // What the note says: the step's process is still there, then Podman stops on its own.
    let running = |what: &str| {
        std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
            std::fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(what))
        })
    };
    let ps = Command::new("ps")
        .args(["axww", "-o", "pid,args"])
        .output()
        .unwrap();
    assert!(
        running(&format!("{nonce}-first")),
        "the running step goes on: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while running(&format!("{nonce}-first")) {
        assert!(Instant::now() < deadline, "the step never ended");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!running(&format!("{nonce}-second")), "the next step ran");
    let images = service
        .podman()
        .args(["images", "--format", "{{.Repository}}"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&images.stdout).contains(&image),
        "{}",
        String::from_utf8_lossy(&images.stdout)
    );
    let containers = service
        .podman()
        .args(["ps", "-a", "--external", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&containers.stdout).trim(),
        "",
        "working containers left"
    );
}

/// A multi-stage build on Podman: buildah prefixes each step with its stage (`[2/2] STEP 4/4: RUN ...`). The
/// step counter follows the steps within each stage (as BuildKit's `[stage 2/4]` does), and a failure names
/// its step; before, neither saw those lines.
#[test]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn podman_multi_stage_steps_count_and_a_failure_names_its_step() {
    let service = PodmanService::start(None);
    let home = tempfile::tempdir().unwrap();
    let image = format!("localhost/dockui-test/pm-stages-{}", std::process::id());
    let dir = project(home.path(), "stages", &image, "true");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch AS builder\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo built > /out\"]\n\n\
         FROM scratch\nCOPY --from=builder /bin/busybox /bin/busybox\nCOPY --from=builder /out /out\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"nosuchcommand --version\"]\n",
    )
    .unwrap();
    // Through the port: the step events.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = BollardEngine::connect(&service.host(), 120);
    let spec = BuildSpec {
        context_dir: dir.clone(),
        dockerfile: "Dockerfile".into(),
        tag: format!("{image}:v1"),
        network: "host".into(),
        ..Default::default()
    };
    let (built, steps, lines) = common::podman::build_events(&rt, &engine, spec);
    assert!(built.is_err(), "{lines:#?}");
    assert_eq!(
        steps,
        [(1, 3), (2, 3), (3, 3), (1, 4), (2, 4), (3, 4), (4, 4)],
        "{lines:#?}"
    );
    // From the CLI: the diagnosis names the failing step with its stage.
    let out = build_at(home.path(), &service, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let build: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &build["attempts"][0]["diagnosis"];
    assert_eq!(d["signature"], "command-not-found", "{build:#}");
    assert!(
        d["failing_step"]
            .as_str()
            .is_some_and(|s| s.starts_with("[2/2] STEP 4/4: RUN")),
        "{d:#}"
    );
}

/// A Dockerfile with a heredoc on Podman 4.3 (this machine's): its builder reads the heredoc's lines as
/// instructions and fails with `copier: stat: "/<<EOT"` (undiagnosed before). dockui now refuses before
/// building, naming the line and what builds it; the Podman text itself is classified too.
#[test]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn podman_before_4_8_and_a_heredoc_is_refused_naming_the_line() {
    let service = PodmanService::start(None);
    let version = service
        .podman()
        .args(["version", "--format", "{{.Client.Version}}"])
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let (major, minor) = {
        let mut p = version.split('.').map(|x| x.parse::<u32>().unwrap_or(0));
        (p.next().unwrap_or(0), p.next().unwrap_or(0))
    };
    assert!(
        (major, minor) < (4, 8),
        "this test is about Podman before 4.8; this machine has {version}"
    );
    let home = tempfile::tempdir().unwrap();
    let image = format!("localhost/dockui-test/pm-heredoc-{}", std::process::id());
    let dir = project(home.path(), "heredoc", &image, "true");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY <<EOT /greeting\nhello\nEOT\n",
    )
    .unwrap();
    let out = build_at(home.path(), &service, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Dockerfile:3: COPY uses a heredoc (<<EOT), which Podman"),
        "{stderr}"
    );
    assert!(!stderr.contains("STEP 1/"), "nothing was built: {stderr}");
    // What Podman itself says when it is asked anyway (the podman CLI on the same storage).
    let raw = service
        .podman()
        .args(["build", "--network", "host", "-t", &format!("{image}:raw")])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!raw.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&raw.stdout),
        String::from_utf8_lossy(&raw.stderr)
    );
    let d = dockui::classify::classify(&text.lines().collect::<Vec<_>>()).expect(&text);
    assert_eq!(d.signature, "heredoc-unsupported", "{text}");
}
