//! A smoke check's exit code and output, run and asserted the same way on every engine (Docker, Podman).

use dockui::docker::DockerPort;
use dockui::engine::smoke::{SmokeCheck, SmokeStatus, run_check};
use std::process::Command;
use std::time::Duration;

fn shell_check(cmd: &str) -> SmokeCheck {
    SmokeCheck {
        name: cmd.into(),
        cmd: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        gpus: false,
    }
}

/// A check that writes to stdout and stderr and exits 7 fails with exit code 7 and both outputs.
pub async fn failing_check_gives_its_code_and_output(engine: &dyn DockerPort, image: &str) {
    let failed = run_check(
        engine,
        image,
        &shell_check("echo out; echo err >&2; exit 7"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(failed.status, SmokeStatus::Failed, "{failed:#?}");
    assert_eq!(failed.exit_code, Some(7), "{failed:#?}");
    assert!(
        failed.output.contains("out") && failed.output.contains("err"),
        "{failed:#?}"
    );
}

/// A check that prints `fine` and exits 0 passes with exactly that output.
pub async fn passing_check_gives_its_output(engine: &dyn DockerPort, image: &str) {
    let passed = run_check(
        engine,
        image,
        &shell_check("echo fine"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(passed.status, SmokeStatus::Passed, "{passed:#?}");
    assert_eq!((passed.exit_code, passed.output.trim()), (Some(0), "fine"));
}

/// The containers of this run (label `dockui=<run id>`) that `cli` (`docker`, or `podman` on a service's
/// storage) still lists, one id a line.
pub fn containers_of_this_run(mut cli: Command) -> String {
    let label = format!("label=dockui={}", dockui::docker::bollard_engine::run_id());
    let out = cli
        .args(["ps", "-aq", "--filter", &label])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
