//! Smoke checks on Podman through its Docker-compatible socket, for real: the exit code as the container gave
//! it (Podman's compat wait would say 0 for a removed container; dockui reads the die event), the output, and
//! no container left. A `podman system service` of this file's own (tests/common/podman.rs) on a temp socket
//! with isolated configuration and storage, its containers' rlimits pinned; stopped and unmounted on drop.

#[path = "common/podman.rs"]
mod podman;
#[path = "common/smoke.rs"]
mod smoke;

use podman::{PodmanService, Setup};
use std::time::{Duration, Instant};

/// A `FROM scratch` image with the host's static busybox as /bin/sh, built by the service's podman.
fn busybox_image(service: &PodmanService, tag: &str) {
    let ctx = service.dir.path().join("image");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .unwrap();
    let out = service
        .podman()
        .args(["build", "-q", "--network", "host", "-t", tag])
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "podman build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn containers_of_this_run(service: &PodmanService) -> String {
    smoke::containers_of_this_run(service.podman())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_smoke_check_on_podman_gives_the_exit_code_and_output_and_leaves_no_container() {
    let service = PodmanService::start_with(Setup {
        ulimits: true,
        ..Setup::default()
    });
    let image = "localhost/dockui-test/podman-smoke:v1";
    busybox_image(&service, image);
    let engine = dockui::docker::BollardEngine::connect(&service.host(), 60);
    let probe = engine.probe().await.unwrap();
    assert!(probe.podman, "{probe:?}");
    smoke::failing_check_gives_its_code_and_output(&engine, image).await;
    smoke::passing_check_gives_its_output(&engine, image).await;
    // AutoRemove: Podman's cleanup removes the container shortly after it stopped.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !containers_of_this_run(&service).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        containers_of_this_run(&service),
        "",
        "smoke containers left"
    );
    let _ = service.podman().args(["rmi", "-af"]).output();
}
