//! The build engine against the real engine: classify a real failure, fix it by policy, succeed on attempt 2;
//! cancel mid-build; no container left behind.

mod common;

use dockui::config::Config;
use dockui::docker::standin::DEMO_BASE;
use dockui::engine::{self, AttemptStatus, BuildRequest, EngineEvent};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn project(home: &Path, dockerfile: &str, config: &str) -> std::path::PathBuf {
    let dir = home.join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join(".dockui.toml"), config).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn tzdata_prompt_is_classified_fixed_by_policy_and_attempt_2_succeeds() {
    let Some(docker) = common::engine_or_skip(
        "tzdata_prompt_is_classified_fixed_by_policy_and_attempt_2_succeeds",
    )
    .await
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let original = format!(
        "FROM {DEMO_BASE}\nRUN apt-get update && apt-get install -y tzdata\nCMD [\"date\"]\n"
    );
    let tag = format!("retry-{}", std::process::id());
    let dir = project(
        home.path(),
        &original,
        &format!(
            "[build]\nimage = \"dockui-test/retry\"\ntag = \"{tag}\"\nauto_fix = \"safe\"\nmax_attempts = 3\n"
        ),
    );
    let (config, _) = Config::load(None, &dir).unwrap();
    let paths = common::paths(home.path());
    let req = BuildRequest::from_config(&dir, &config, &paths);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = engine::build::run_build(&docker, req, &tx, CancellationToken::new()).await;
    drop(tx);

    assert!(outcome.success, "{outcome:#?}");
    assert_eq!(outcome.attempts.len(), 2, "{outcome:#?}");
    let first = &outcome.attempts[0];
    assert_eq!(first.status, AttemptStatus::Failed);
    let diagnosis = first
        .diagnosis
        .as_ref()
        .expect("the failure matched a signature");
    assert_eq!(diagnosis.signature, "dpkg-prompt-eof");
    assert!(
        diagnosis
            .failing_step
            .as_deref()
            .unwrap_or("")
            .contains("apt-get install -y tzdata"),
        "{diagnosis:?}"
    );
    assert_eq!(first.fixes_applied.len(), 1, "{first:?}");
    assert!(
        first.fixes_applied[0].starts_with("DU101 Dockerfile:2"),
        "{first:?}"
    );
    assert_eq!(outcome.attempts[1].status, AttemptStatus::Succeeded);
    assert_eq!(outcome.fixes_applied, first.fixes_applied);
    // Each attempt has its own complete log file.
    let log1 = std::fs::read_to_string(&first.log_path).unwrap();
    assert!(log1.contains("Geographic area:"), "{log1}");
    assert!(
        std::fs::read_to_string(&outcome.attempts[1].log_path)
            .unwrap()
            .contains("Successfully tagged")
    );

    // The Dockerfile now sets DEBIAN_FRONTEND for that step; the original is kept as a backup.
    let fixed = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(fixed.contains("DEBIAN_FRONTEND=noninteractive"), "{fixed}");
    let backups = dockui::fix::Backups::new(paths.backups_dir());
    let records = backups.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        std::fs::read_to_string(&records[0].backup).unwrap(),
        original
    );

    // The UI heard about the diagnosis and the re-analysis.
    let mut saw_diagnosis = false;
    let mut attempts_started = 0;
    while let Some(ev) = rx.recv().await {
        match ev {
            EngineEvent::Diagnosis(d) => saw_diagnosis = d.signature == "dpkg-prompt-eof",
            EngineEvent::BuildStarted { .. } => attempts_started += 1,
            _ => {}
        }
    }
    assert!(saw_diagnosis);
    assert_eq!(attempts_started, 2);
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &format!("dockui-test/retry:{tag}")])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn with_auto_fix_off_the_failure_is_diagnosed_and_nothing_is_written() {
    let Some(docker) =
        common::engine_or_skip("with_auto_fix_off_the_failure_is_diagnosed_and_nothing_is_written")
            .await
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let original = "FROM dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN apt-get install -y tzdata\n";
    let dir = project(
        home.path(),
        original,
        "[build]\nimage = \"dockui-test/off\"\n",
    );
    let (config, _) = Config::load(None, &dir).unwrap();
    let req = BuildRequest::from_config(&dir, &config, &common::paths(home.path()));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = engine::build::run_build(&docker, req, &tx, CancellationToken::new()).await;
    assert!(!outcome.success);
    assert_eq!(outcome.attempts.len(), 1, "no retry without a fix");
    assert_eq!(
        outcome.attempts[0]
            .diagnosis
            .as_ref()
            .map(|d| d.signature.as_str()),
        Some("dpkg-prompt-eof")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        original
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn cancel_mid_build_stops_it_and_records_the_attempt() {
    cancel_with("buildkit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn cancel_mid_build_with_the_legacy_builder() {
    cancel_with("legacy").await;
}

async fn cancel_with(builder: &str) {
    let Some(docker) = common::engine_or_skip(&format!("cancel_with({builder})")).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let marker = format!("dockui-cancel-{builder}-{}", std::process::id());
    let dir = project(
        home.path(),
        &format!("FROM {DEMO_BASE}\nRUN echo {marker} && sleep 60\n"),
        &format!(
            "[build]\nimage = \"dockui-test/cancel\"\nno_cache = true\nbuilder = \"{builder}\"\n"
        ),
    );
    let (config, _) = Config::load(None, &dir).unwrap();
    let req = BuildRequest::from_config(&dir, &config, &common::paths(home.path()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let started = Instant::now();
    let seen = marker.clone();
    let watcher = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if let EngineEvent::BuildLog(lines) = ev
                // Legacy prints the echo as is, BuildKit as "#5 <output>"; the step header ends in "sleep 60".
                && lines.iter().any(|l| l.trim().ends_with(&seen))
            {
                c.cancel();
            }
        }
    });
    let outcome = engine::build::run_build(&docker, req, &tx, cancel).await;
    drop(tx);
    let _ = watcher.await;
    assert!(outcome.cancelled, "{outcome:#?}");
    assert!(!outcome.success);
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(outcome.attempts[0].status, AttemptStatus::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "cancel did not stop the build"
    );
    assert!(
        std::fs::read_to_string(&outcome.log_path)
            .unwrap()
            .contains("dockui: build cancelled")
    );

    // The engine stops the step when the client goes away: nothing keeps running `sleep 60`. The step's
    // shell is a host process under either builder, so look for it in the host's process table.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = std::process::Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        let running = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if running.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "build step still running after cancel: pids {running}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn containers_of(image: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("ancestor={image}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_missing_module_fails_the_smoke_test_with_its_name() {
    let Some(docker) =
        common::engine_or_skip("a_missing_module_fails_the_smoke_test_with_its_name").await
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let tag = format!("smoke-{}", std::process::id());
    // requirements.txt names flash-attn, but the Dockerfile never installs it.
    let dir = project(
        home.path(),
        &format!("FROM {DEMO_BASE}\nWORKDIR /app\nCOPY requirements.txt .\nCMD [\"true\"]\n"),
        &format!(
            "[build]\nimage = \"dockui-test/smoke\"\ntag = \"{tag}\"\nauto_fix = \"suggestion\"\n"
        ),
    );
    std::fs::write(
        dir.join("requirements.txt"),
        "torch==2.5.1\nflash-attn==2.7.4\n",
    )
    .unwrap();
    let (config, _) = Config::load(None, &dir).unwrap();
    let req = BuildRequest::from_config(&dir, &config, &common::paths(home.path()));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = engine::build::run_build(&docker, req, &tx, CancellationToken::new()).await;
    assert!(!outcome.success, "{outcome:#?}");
    assert_eq!(
        outcome.attempts.len(),
        1,
        "no fix for a missing module, so no retry"
    );
    let smoke = &outcome.smoke[0];
    assert_eq!(smoke.name, "python imports: torch, flash_attn");
    assert_eq!(smoke.status, dockui::engine::smoke::SmokeStatus::Failed);
    let d = smoke.diagnosis.as_ref().expect("classified");
    assert_eq!(d.signature, "module-not-found");
    assert_eq!(d.detail.as_deref(), Some("flash_attn"));
    assert_eq!(
        outcome.attempts[0]
            .diagnosis
            .as_ref()
            .map(|d| d.signature.as_str()),
        Some("module-not-found")
    );
    let image = format!("dockui-test/smoke:{tag}");
    assert!(
        containers_of(&image).is_empty(),
        "smoke containers left behind"
    );
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &image])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_smoke_check_that_hangs_times_out_and_its_container_is_removed() {
    let Some(docker) =
        common::engine_or_skip("a_smoke_check_that_hangs_times_out_and_its_container_is_removed")
            .await
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let tag = format!("hang-{}", std::process::id());
    let dir = project(
        home.path(),
        &format!("FROM {DEMO_BASE}\nCMD [\"true\"]\n"),
        &format!(
            "[build]\nimage = \"dockui-test/hang\"\ntag = \"{tag}\"\n[smoke]\ncommands = [\"echo fine\", \"sleep 60\"]\ntimeout_s = 2\ninfer = false\n"
        ),
    );
    let (config, _) = Config::load(None, &dir).unwrap();
    let req = BuildRequest::from_config(&dir, &config, &common::paths(home.path()));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let outcome = engine::build::run_build(&docker, req, &tx, CancellationToken::new()).await;
    assert!(started.elapsed() < Duration::from_secs(40));
    assert!(!outcome.success);
    use dockui::engine::smoke::SmokeStatus::*;
    let statuses: Vec<_> = outcome.smoke.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [Passed, TimedOut], "{:#?}", outcome.smoke);
    assert_eq!(outcome.smoke[0].output.trim(), "fine");
    // Removal after a timeout happens in the background: give the engine a moment.
    let image = format!("dockui-test/hang:{tag}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !containers_of(&image).is_empty() {
        assert!(
            Instant::now() < deadline,
            "timed-out smoke container left behind"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &image])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_gpu_smoke_check_without_the_nvidia_runtime_is_classified() {
    let Some(docker) =
        common::engine_or_skip("a_gpu_smoke_check_without_the_nvidia_runtime_is_classified").await
    else {
        return;
    };
    if std::process::Command::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("nvidia"))
    {
        eprintln!(
            "SKIPPED: this engine has the NVIDIA runtime, so the failure cannot be reproduced here"
        );
        return;
    }
    dockui::docker::standin::ensure(&docker, DEMO_BASE, tokio::sync::mpsc::unbounded_channel().0)
        .await
        .unwrap();
    let check = dockui::engine::smoke::SmokeCheck {
        name: "torch.cuda.is_available() on the GPUs".into(),
        cmd: vec!["/bin/sh".into(), "-c".into(), "echo gpu".into()],
        gpus: true,
    };
    let r =
        dockui::engine::smoke::run_check(&docker, DEMO_BASE, &check, Duration::from_secs(60)).await;
    assert_eq!(
        r.status,
        dockui::engine::smoke::SmokeStatus::Error,
        "{r:#?}"
    );
    let d = r.diagnosis.expect("classified");
    assert_eq!(d.signature, "no-nvidia-runtime");
    assert!(d.explanation.contains("nvidia-container-toolkit"));
}
