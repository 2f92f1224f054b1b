//! Remote engines over ssh, from the outside: an sshd on 127.0.0.1:<free port> with its own config, host key
//! and authorized keys in a temp dir; the dockui binary builds with `DOCKER_HOST=ssh://USER@127.0.0.1:PORT`
//! through the system ssh and `docker system dial-stdio` on the "remote" (this machine, so the image lands on
//! the main engine). The ssh client reads a test config (key, known_hosts) through a wrapper first in PATH:
//! dockui runs plain `ssh`, as the docker CLI does, and the user's ~/.ssh/config is where such settings live.
//! Each test starts its own sshd and stops it on drop (also when the test panics).

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    user: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path));
}

fn public(path: &Path) -> String {
    let text = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Sshd {
    fn start() -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("dockui-sshd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let user = String::from_utf8(run(Command::new("id").arg("-un")).stdout)
            .unwrap()
            .trim()
            .to_string();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        // A second key whose session finds no docker CLI: the remote without docker.
        keygen(&d.join("nodocker_key"));
        // A third whose docker CLI runs but cannot reach its engine (a socket that is not there).
        keygen(&d.join("noengine_key"));
        std::fs::write(
            d.join("authorized_keys"),
            format!(
                "{}\ncommand=\"PATH=/nonexistent; exec docker system dial-stdio\" {}\n\
                 command=\"DOCKER_HOST=unix:///nonexistent.sock exec docker system dial-stdio\" {}\n",
                public(&d.join("user_key")),
                public(&d.join("nodocker_key")),
                public(&d.join("noengine_key"))
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nStrictModes no\n",
                hk = d.join("host_key").display(),
                pid = d.join("sshd.pid").display(),
                ak = d.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        // sshd's privilege separation directory (absent on a machine where sshd never ran).
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .spawn()
            .expect("start sshd");
        let sshd = Sshd {
            child,
            dir,
            port,
            user,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                std::fs::read_to_string(sshd.dir.path().join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    /// A directory with an `ssh` that uses `key` and the known_hosts line for `host_key`.
    fn client(&self, name: &str, key: &str, host_key: &Path) -> PathBuf {
        let d = self.dir.path();
        let bin = d.join(format!("bin-{name}"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(
            d.join(format!("known_hosts-{name}")),
            format!("[127.0.0.1]:{} {}\n", self.port, public(host_key)),
        )
        .unwrap();
        std::fs::write(
            d.join(format!("ssh_config-{name}")),
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
                d.join(key).display(),
                d.join(format!("known_hosts-{name}")).display()
            ),
        )
        .unwrap();
        let ssh = bin.join("ssh");
        std::fs::write(
            &ssh,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
                d.join(format!("ssh_config-{name}")).display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    fn url(&self) -> String {
        format!("ssh://{}@127.0.0.1:{}", self.user, self.port)
    }
}

/// A project the engine builds without any base image or network (busybox from scratch).
fn project(home: &Path, image: &str) -> PathBuf {
    common::busybox_project(home, image, "over-ssh")
}

/// sshd, and a test home with a project whose build must never get as far as an image.
fn sshd_and_project() -> (Sshd, tempfile::TempDir, PathBuf) {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), "dockui-ssh-test/never");
    (sshd, home, dir)
}

fn build(
    home: &Path,
    dir: &Path,
    docker_host: &str,
    ssh_bin: &Path,
) -> (Output, serde_json::Value) {
    build_env(home, dir, &[("DOCKER_HOST", docker_host)], ssh_bin)
}

fn build_env(
    home: &Path,
    dir: &Path,
    env: &[(&str, &str)],
    ssh_bin: &Path,
) -> (Output, serde_json::Value) {
    let path = format!(
        "{}:{}",
        ssh_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = common::dockui(home)
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env("DOCKER_CONFIG", home.join("docker-config"))
        .env_remove("DOCKER_HOST")
        .envs(env.iter().copied())
        .env("PATH", path)
        .args(["build", "--format", "json"])
        .arg(dir)
        .output()
        .unwrap();
    let v = common::stdout_json(&out);
    (out, v)
}

/// Removes the image from the main engine when the test ends.
struct Image(String);
impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

#[test]
#[cfg_attr(
    not(all(dockui_engine, dockui_sshd)),
    ignore = "needs sshd and a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn builds_over_ssh_with_the_port_through_dial_stdio() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let image = Image(format!("dockui-ssh-test/ok-{}:latest", std::process::id()));
    let dir = project(home.path(), image.0.trim_end_matches(":latest"));
    let bin = sshd.client("ok", "user_key", &sshd.dir.path().join("host_key"));
    let (out, v) = build(home.path(), &dir, &sshd.url(), &bin);
    common::exited(&out, 0);
    assert_eq!(v["success"], true);
    assert_eq!(v["backend"]["endpoint"], sshd.url(), "the port is kept");
    assert_eq!(v["backend"]["source"], "env");
    // The remote (this machine's engine) has the image.
    let inspect = Command::new("docker")
        .args(["image", "inspect", &image.0])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "image on the remote engine");
    // sshd saw the login: the build went through ssh, not the local socket.
    let log = std::fs::read_to_string(sshd.dir.path().join("sshd.log")).unwrap();
    assert!(log.contains("Accepted publickey"), "{log}");
}

#[test]
#[cfg_attr(
    not(all(dockui_engine, dockui_sshd)),
    ignore = "needs sshd and a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn a_wrong_host_key_is_named() {
    let (sshd, home, dir) = sshd_and_project();
    // known_hosts holds another key for this host:port: a changed host key.
    let other = sshd.dir.path().join("other_host_key");
    keygen(&other);
    let bin = sshd.client("badkey", "user_key", &other);
    let (out, v) = build(home.path(), &dir, &sshd.url(), &bin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "engine setup error: {stderr}");
    assert_eq!(v["success"], false);
    assert!(
        stderr.contains("ssh: host key verification failed for"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Host key verification failed."),
        "ssh's own words: {stderr}"
    );
    assert!(stderr.contains("known_hosts"), "what to do: {stderr}");
}

#[test]
#[cfg_attr(
    not(all(dockui_engine, dockui_sshd)),
    ignore = "needs sshd and a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn a_remote_without_the_docker_cli_is_named() {
    let (sshd, home, dir) = sshd_and_project();
    let bin = sshd.client(
        "nodocker",
        "nodocker_key",
        &sshd.dir.path().join("host_key"),
    );
    let (out, _) = build(home.path(), &dir, &sshd.url(), &bin);
    let stderr = common::exited(&out, 2);
    assert!(
        stderr.contains("has no docker CLI for `docker system dial-stdio`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("docker: not found"),
        "the remote's words: {stderr}"
    );
}

#[test]
#[cfg_attr(
    not(all(dockui_engine, dockui_sshd)),
    ignore = "needs sshd and a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn a_remote_docker_cli_that_cannot_reach_its_engine_is_named() {
    let (sshd, home, dir) = sshd_and_project();
    let bin = sshd.client(
        "noengine",
        "noengine_key",
        &sshd.dir.path().join("host_key"),
    );
    let (out, v) = build(home.path(), &dir, &sshd.url(), &bin);
    let stderr = common::exited(&out, 2);
    assert!(
        stderr.contains("ssh worked, but the docker CLI on the remote cannot reach its engine"),
        "{stderr}"
    );
    assert!(
        stderr.contains("dial unix /nonexistent.sock"),
        "the remote's words: {stderr}"
    );
    assert!(stderr.contains("`ssh HOST docker info`"), "{stderr}");
    // Not taken for an engine that dropped the connection.
    assert!(
        !stderr.contains("the engine closed the connection"),
        "{stderr}"
    );
    assert_eq!(v["success"], false);
}

#[test]
#[cfg_attr(
    not(all(dockui_engine, dockui_sshd)),
    ignore = "needs sshd and a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn a_closed_ssh_port_is_named() {
    let (sshd, home, dir) = sshd_and_project();
    let bin = sshd.client("closed", "user_key", &sshd.dir.path().join("host_key"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ssh://{}@127.0.0.1:{closed}", sshd.user);
    let (out, _) = build(home.path(), &dir, &url, &bin);
    let stderr = common::exited(&out, 2);
    assert!(
        stderr.contains(&format!("ssh: cannot reach {url}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("port {closed}: Connection refused")),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    not(all(dockui_engine, dockui_sshd)),
    ignore = "needs sshd and a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn a_docker_context_with_an_ssh_host_builds_over_ssh() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let image = Image(format!("dockui-ssh-test/ctx-{}:latest", std::process::id()));
    let dir = project(home.path(), image.0.trim_end_matches(":latest"));
    let bin = sshd.client("ctx", "user_key", &sshd.dir.path().join("host_key"));
    // The docker CLI writes the context store; dockui reads it.
    let out = Command::new("docker")
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", home.path().join("docker-config"))
        .args([
            "context",
            "create",
            "gpu-box",
            "--docker",
            &format!("host={}", sshd.url()),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (out, v) = build_env(home.path(), &dir, &[("DOCKER_CONTEXT", "gpu-box")], &bin);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["backend"]["endpoint"], sshd.url());
    assert_eq!(v["backend"]["context"], "gpu-box");
    let log = std::fs::read_to_string(sshd.dir.path().join("sshd.log")).unwrap();
    assert!(log.contains("Accepted publickey"), "{log}");
}

#[test]
#[cfg_attr(
    not(all(dockui_engine, dockui_sshd)),
    ignore = "needs sshd and a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn pushes_over_ssh() {
    let test = "pushes_over_ssh";
    let sshd = Sshd::start();
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let repo = format!("{}/team/over-ssh", registry.host);
    let image = Image(format!("{repo}:latest"));
    let dir = project(home.path(), &repo);
    let bin = sshd.client("push", "user_key", &sshd.dir.path().join("host_key"));
    let (out, _) = build(home.path(), &dir, &sshd.url(), &bin);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The push request goes through its own ssh + dial-stdio connection.
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = common::dockui(home.path())
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CONFIG", home.path().join("docker-config"))
        .env("DOCKER_HOST", sshd.url())
        .env("PATH", path)
        .args(["push", &image.0, "--format", "json"])
        .output()
        .unwrap();
    let v = common::output_ok_json(&out);
    assert_eq!(v["backend"]["endpoint"], sshd.url());
    let served = support::http(
        &registry.host,
        "GET",
        "/v2/team/over-ssh/tags/list",
        &[],
        &[],
    )
    .unwrap();
    assert!(
        String::from_utf8_lossy(&served.body).contains("latest"),
        "{}",
        registry.log()
    );
}
