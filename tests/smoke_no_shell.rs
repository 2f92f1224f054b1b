//! Smoke tests on an image without a shell (FROM scratch with busybox at /bin/busybox only), on the Docker
//! engine and on Podman: a shell command cannot start (`exec: "/bin/sh": stat /bin/sh: no such file or
//! directory`) and is diagnosed as such, naming /bin/sh and the exec form; a command written as a JSON array
//! runs without a shell and passes. Before, the first was "Docker engine error" (detail " task", "Not your
//! Dockerfile: the engine failed") on Docker and undiagnosed on Podman.

mod common;

use std::path::Path;

fn project(dir: &Path, engine_lines: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"true\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "{engine_lines}[build]\nimage = \"localhost/dockui-test/no-shell\"\ntag = \"t{}\"\nmax_attempts = 1\nnetwork = \"host\"\n\
             [smoke]\ninfer = false\ncommands = [\"/bin/busybox uname -m\", '[\"/bin/busybox\", \"uname\", \"-m\"]']\n",
            std::process::id()
        ),
    )
    .unwrap();
}

fn check(out: std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    let smoke = v["smoke"].as_array().unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(smoke.len(), 2, "{v:#}");
    let shell = &smoke[0];
    assert_eq!(shell["status"], "error", "{stderr}\n{v:#}");
    let d = &shell["diagnosis"];
    assert_eq!(d["signature"], "program-not-in-image", "{d:#}");
    assert_eq!(d["detail"], "/bin/sh", "{d:#}");
    assert!(
        d["explanation"].as_str().unwrap().contains("exec form"),
        "{d:#}"
    );
    let exec = &smoke[1];
    assert_eq!(exec["status"], "passed", "{v:#}");
    assert!(
        exec["output"].as_str().unwrap().contains("x86_64"),
        "{exec:#}"
    );
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn smoke_on_an_image_without_a_shell_on_docker() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    project(&dir, "");
    let out = common::dockui(home.path())
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let tag = format!("localhost/dockui-test/no-shell:t{}", std::process::id());
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &tag])
        .output();
    check(out);
}

#[test]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn smoke_on_an_image_without_a_shell_on_podman() {
    let service = common::podman::PodmanService::start_with(common::podman::Setup {
        ulimits: true,
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    project(
        &dir,
        &format!("[engine]\ndocker_host = \"{}\"\n", service.host()),
    );
    let out = common::dockui(home.path())
        .env_remove("DOCKER_HOST")
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    check(out);
}
