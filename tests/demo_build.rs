//! The demo project built for real through the engine API, and its image run.

mod common;

use dockui::config::Config;
use dockui::docker::{DockerPort, RunSpec};
use dockui::engine::smoke::SmokeStatus;
use dockui::engine::{self, AttemptStatus, BuildRequest, EngineEvent};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn demo_builds_and_its_cmd_runs() {
    let Some(docker) = common::engine_or_skip("demo_builds_and_its_cmd_runs").await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let demo = common::demo_dir();
    let (mut config, _) = Config::load(None, &demo).unwrap();
    // A tag of this test's own, so parallel runs and the user's images are never touched.
    let tag = format!("demo-{}", std::process::id());
    config.build.image = "dockui-test/demo".into();
    config.build.tag = tag.clone();
    let req = BuildRequest::from_config(&demo, &config, &common::paths(home.path()));
    assert_eq!(
        req.spec.args.get("BASE_IMAGE").map(String::as_str),
        Some(dockui::docker::standin::DEMO_BASE)
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = engine::build::run_build(&docker, req, &tx, CancellationToken::new()).await;
    drop(tx);
    assert!(
        outcome.success,
        "build failed: {:?}\nlog: {}",
        outcome.error,
        std::fs::read_to_string(&outcome.log_path).unwrap_or_default()
    );
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(outcome.attempts[0].status, AttemptStatus::Succeeded);
    // The inferred smoke checks ran in the image and passed.
    let smoke: Vec<_> = outcome
        .smoke
        .iter()
        .map(|s| (s.name.as_str(), s.status))
        .collect();
    assert_eq!(
        smoke,
        [
            ("scripts/container_smoke.sh", SmokeStatus::Passed),
            (
                "python imports: torch, torchvision, numpy, PIL",
                SmokeStatus::Passed
            )
        ],
        "{:#?}",
        outcome.smoke
    );
    assert!(outcome.smoke[0].output.contains("smoke: ok"));

    // Events: the attempt started, steps were reported, lines arrived in batches.
    let mut started = false;
    let mut steps = 0;
    let mut lines = Vec::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            EngineEvent::BuildStarted {
                attempt: 1,
                max_attempts: 3,
                ..
            } => started = true,
            EngineEvent::BuildStep { .. } => steps += 1,
            EngineEvent::BuildLog(batch) => lines.extend(batch),
            _ => {}
        }
    }
    assert!(started);
    assert!(
        steps >= 7,
        "expected a step event per build step, got {steps}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("RUN apt-get update && apt-get install -y curl")),
        "{lines:#?}"
    );

    // The log file holds every line the UI saw.
    let log = std::fs::read_to_string(&outcome.log_path).unwrap();
    for l in &lines {
        assert!(log.contains(l.as_str()), "log file misses {l:?}");
    }

    // The image exists under our tag and its CMD prints what the Dockerfile says.
    let image = format!("dockui-test/demo:{tag}");
    let info = docker
        .inspect_image(&image)
        .await
        .unwrap()
        .expect("image exists");
    assert_eq!(Some(&info.id), outcome.image_id.as_ref());
    // Never pushed under this name, so no manifest digest for it. (The engine is shared: another test may
    // have pushed an image with the same content, and an image id carries every repository's digest.)
    assert!(
        !info
            .repo_digests
            .iter()
            .any(|d| d.starts_with("dockui-test/demo@")),
        "never pushed, so no manifest digest: {:?}",
        info.repo_digests
    );
    let run = docker
        .run_once(RunSpec {
            image: image.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(run.exit_code, 0);
    assert_eq!(run.output.trim(), "dockui demo: model server ready");

    // The demo's own smoke script passes in the image (the stand-in pip recorded the requirements).
    let smoke = docker
        .run_once(RunSpec {
            image: image.clone(),
            cmd: Some(vec!["/app/scripts/container_smoke.sh".into()]),
            gpus: false,
        })
        .await
        .unwrap();
    assert_eq!(smoke.exit_code, 0, "{}", smoke.output);
    assert!(smoke.output.contains("smoke: ok"));

    // No container of ours is left behind.
    let left = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("ancestor={image}")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert!(left.is_empty(), "containers left: {left}");
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &image])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_failing_step_is_reported_with_its_log() {
    let Some(docker) = common::engine_or_skip("a_failing_step_is_reported_with_its_log").await
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo about to fail && exit 3\n",
            dockui::docker::standin::DEMO_BASE
        ),
    )
    .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    dockui::docker::standin::ensure(
        &docker,
        dockui::docker::standin::DEMO_BASE,
        tokio::sync::mpsc::unbounded_channel().0,
    )
    .await
    .unwrap();
    let mut config = Config::default();
    config.build.image = "dockui-test/failing".into();
    let req = BuildRequest::from_config(&dir, &config, &common::paths(home.path()));
    let outcome = engine::build::run_build(&docker, req, &tx, CancellationToken::new()).await;
    assert!(!outcome.success);
    assert_eq!(outcome.attempts[0].status, AttemptStatus::Failed);
    let err = outcome.error.unwrap();
    assert!(
        (err.contains("returned a non-zero code: 3") || err.contains("exit code: 3")),
        "{err}"
    );
    let log = std::fs::read_to_string(&outcome.log_path).unwrap();
    assert!(log.contains("about to fail"), "{log}");
}
