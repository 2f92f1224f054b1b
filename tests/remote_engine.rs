//! Remote engines over TCP with TLS, from the outside: a second dockerd (its own data, exec root, pidfile,
//! socket and bridge, `--iptables=false`, so it never touches the main engine's docker0) listens on
//! 127.0.0.1:PORT with `--tlsverify` and certificates made by openssl here. The dockui binary builds on it
//! through DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, through a docker context (made by the docker
//! CLI's own `docker context create`) named by DOCKER_CONTEXT or by `currentContext`, and reports wrong
//! certificates with their cause.
//!
//! The daemon starts once per test binary and is stopped at exit (atexit, which also runs after a failed
//! test); its directories are unmounted and removed.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

struct TlsEngine {
    port: u16,
    /// The daemon's unix socket (plain HTTP), to look at what it holds.
    socket: PathBuf,
    /// ca.pem, cert.pem, key.pem of a client the daemon accepts.
    client: PathBuf,
    /// The CA alone.
    ca: PathBuf,
}

static ENGINE: OnceLock<TlsEngine> = OnceLock::new();
static DAEMON: std::sync::Mutex<Option<std::process::Child>> = std::sync::Mutex::new(None);
static DAEMON_DIR: OnceLock<PathBuf> = OnceLock::new();
static BRIDGE: OnceLock<String> = OnceLock::new();

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as `dockerd --tlsverify` wants them.
fn make_certs(dir: &Path, ca_name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let ossl = |args: &[&str]| {
        run(Command::new("openssl").current_dir(dir).args(args));
    };
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        &format!("/CN={ca_name}"),
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, cn, ext) in [
        ("server", "127.0.0.1", "server.ext"),
        ("client", "client", "client.ext"),
    ] {
        ossl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ]);
        ossl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            ext,
        ]);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path` on a unix socket: (status, body).
fn unix_get(socket: &Path, path: &str) -> Option<(u16, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

extern "C" fn stop_daemon() {
    let child = DAEMON.lock().ok().and_then(|mut d| d.take());
    if let Some(mut child) = child {
        // SIGTERM first: dockerd then stops its containerd and unmounts what it can.
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.wait();
    }
    if let Some(bridge) = BRIDGE.get() {
        let _ = Command::new("ip").args(["link", "del", bridge]).output();
    }
    if let Some(dir) = DAEMON_DIR.get() {
        // Mounts the daemon left (overlay, netns, shm) would keep the directory from being removed.
        let prefix = dir.to_string_lossy().to_string();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            if let Ok(c) = std::ffi::CString::new(p) {
                // SAFETY: unmounting a path under our own temp dir.
                unsafe {
                    libc::umount2(c.as_ptr(), libc::MNT_DETACH);
                }
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The second dockerd, started on first use.
fn engine() -> &'static TlsEngine {
    ENGINE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("dockui-tls-engine-")
            .tempdir()
            .unwrap()
            .keep();
        DAEMON_DIR.set(dir.clone()).unwrap();
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(stop_daemon);
        }
        let certs = dir.join("certs");
        make_certs(&certs, "dockui-test-ca");
        let client = dir.join("client");
        std::fs::create_dir_all(&client).unwrap();
        for (from, to) in [
            ("ca.pem", "ca.pem"),
            ("client.pem", "cert.pem"),
            ("client-key.pem", "key.pem"),
        ] {
            std::fs::copy(certs.join(from), client.join(to)).unwrap();
        }
        // Its own bridge. Not `--bridge=none`: a dockerd started with that deletes the host's `docker0`
        // (moby's removeDefaultBridgeInterface), which is the main engine's, and every RUN there then fails
        // with "could not find bridge docker0". A bridge named with -b must exist beforehand.
        let bridge = format!("dkuitls{}", std::process::id() % 100_000);
        let subnet = 20 + std::process::id() % 200;
        let _ = Command::new("ip").args(["link", "del", &bridge]).output();
        run(Command::new("ip").args(["link", "add", &bridge, "type", "bridge"]));
        BRIDGE.set(bridge.clone()).unwrap();
        run(Command::new("ip").args([
            "addr",
            "add",
            &format!("10.254.{subnet}.1/24"),
            "dev",
            &bridge,
        ]));
        run(Command::new("ip").args(["link", "set", &bridge, "up"]));
        let port = free_port();
        let socket = dir.join("docker.sock");
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("-H")
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg("--tlsverify")
            .arg("--tlscacert")
            .arg(certs.join("ca.pem"))
            .arg("--tlscert")
            .arg(certs.join("server.pem"))
            .arg("--tlskey")
            .arg(certs.join("server-key.pem"))
            // Never touch the main engine's docker0, iptables or sysctls: builds use network none.
            .arg(format!("--bridge={bridge}"))
            .args(["--iptables=false", "--ip-masq=false", "--ip-forward=false"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        *DAEMON.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while unix_get(&socket, "/_ping").map(|(s, _)| s) != Some(200) {
            if Instant::now() > deadline {
                panic!(
                    "the second dockerd did not answer in 60 s:\n{}",
                    std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        TlsEngine {
            ca: certs.join("ca.pem"),
            port,
            socket,
            client,
        }
    })
}

/// A project the engine builds without any base image or network (busybox from scratch).
fn project(home: &Path, image: &str) -> PathBuf {
    common::busybox_project(home, image, "built-remotely")
}

/// The dockui binary with nothing of the developer's docker setup: env as given, DOCKER_CONFIG in `home`.
fn dockui(home: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = common::dockui(home);
    for k in [
        "DOCKER_HOST",
        "DOCKER_TLS_VERIFY",
        "DOCKER_TLS",
        "DOCKER_CERT_PATH",
        "DOCKER_CONTEXT",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("DOCKER_CONFIG", home.join("docker-config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn build_json(home: &Path, dir: &Path, env: &[(&str, String)]) -> (Output, serde_json::Value) {
    let out = dockui(home, env)
        .args(["build", "--format", "json"])
        .arg(dir)
        .output()
        .unwrap();
    let v = common::stdout_json(&out);
    (out, v)
}

fn tls_env(e: &TlsEngine, cert_path: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("DOCKER_HOST", format!("tcp://127.0.0.1:{}", e.port)),
        ("DOCKER_TLS_VERIFY", "1".into()),
        ("DOCKER_CERT_PATH", cert_path.display().to_string()),
    ]
}

fn has_image(e: &TlsEngine, image: &str) -> bool {
    unix_get(&e.socket, &format!("/images/{image}/json")).map(|(s, _)| s) == Some(200)
}

/// A test home and, in it, a project whose image is `unique(name)`.
fn home_and_project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), &unique(name));
    (home, dir)
}

/// A DOCKER_CERT_PATH dir `home/name` holding copies of `files` (ca.pem, cert.pem, key.pem: each keeps its
/// file name).
fn cert_dir(home: &Path, name: &str, files: &[PathBuf]) -> PathBuf {
    let certs = home.join(name);
    std::fs::create_dir_all(&certs).unwrap();
    for f in files {
        std::fs::copy(f, certs.join(f.file_name().unwrap())).unwrap();
    }
    certs
}

fn unique(name: &str) -> String {
    format!("dockui-remote-test/{name}-{}", std::process::id())
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (dockerd) and openssl (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn builds_over_tls_and_json_names_the_endpoint() {
    let e = engine();
    let home = tempfile::tempdir().unwrap();
    let image = unique("tls");
    let dir = project(home.path(), &image);
    let (out, v) = build_json(home.path(), &dir, &tls_env(e, &e.client));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["success"], true);
    assert_eq!(
        v["backend"]["endpoint"],
        format!("tcp://127.0.0.1:{}", e.port)
    );
    assert_eq!(v["backend"]["context"], serde_json::Value::Null);
    assert_eq!(v["backend"]["source"], "env");
    assert_eq!(v["backend"]["tls"], true);
    // Built on the second engine (its own data root), not on the main one.
    assert!(
        has_image(e, &format!("{image}:latest")),
        "the TLS engine has the image"
    );
    // Inspecting streams the image out over the same TLS transport; its JSON names the engine too.
    let out = dockui(home.path(), &tls_env(e, &e.client))
        .args(["inspect", &format!("{image}:latest"), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["backend"]["endpoint"],
        format!("tcp://127.0.0.1:{}", e.port)
    );
    assert_eq!(v["backend"]["kind"], "docker");
    assert_eq!(v["backend"]["source"], "env");
    assert_eq!(v["backend"]["tls"], true);
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (dockerd) and openssl (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn an_engine_certificate_from_an_unknown_ca_is_named() {
    let e = engine();
    let (home, dir) = home_and_project("wrong-ca");
    // A client set whose CA did not sign the engine's certificate.
    let other = home.path().join("other-ca");
    make_certs(&other, "some-other-ca");
    let certs = cert_dir(
        home.path(),
        "wrong",
        &[
            other.join("ca.pem"),
            e.client.join("cert.pem"),
            e.client.join("key.pem"),
        ],
    );
    let (out, v) = build_json(home.path(), &dir, &tls_env(e, &certs));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "engine setup error: {stderr}");
    assert_eq!(v["success"], false);
    assert!(stderr.contains("signed by an unknown CA"), "{stderr}");
    assert!(
        stderr.contains("UnknownIssuer"),
        "the innermost cause: {stderr}"
    );
    assert!(
        stderr.contains("what to do: use the CA that signed"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("tcp://127.0.0.1:{}", e.port)),
        "{stderr}"
    );
    // inspect says it the same way, and adds no generic "start the Docker engine" after it (the engine runs).
    let out = dockui(home.path(), &tls_env(e, &certs))
        .args(["inspect", "dockui-remote-test/any:1", "--format", "json"])
        .output()
        .unwrap();
    let stderr = common::exited(&out, 2);
    assert!(
        stderr.contains("signed by an unknown CA")
            && stderr.contains("what to do: use the CA that signed"),
        "{stderr}"
    );
    assert!(!stderr.contains("start the Docker engine"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["backend"]["endpoint"],
        format!("tcp://127.0.0.1:{}", e.port)
    );
    assert_eq!(v["backend"]["tls"], true, "{v:#}");
    assert_eq!(v["backend"]["kind"], "docker", "{v:#}");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (dockerd) and openssl (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_missing_client_certificate_is_named() {
    let e = engine();
    let (home, dir) = home_and_project("no-cert");
    let certs = cert_dir(home.path(), "ca-only", std::slice::from_ref(&e.ca));
    let (out, _) = build_json(home.path(), &dir, &tls_env(e, &certs));
    let stderr = common::exited(&out, 2);
    assert!(
        stderr.contains("rejected the client certificate"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cert.pem and key.pem"),
        "what to do: {stderr}"
    );
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (dockerd) and openssl (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_missing_ca_file_is_named_before_connecting() {
    let e = engine();
    let (home, dir) = home_and_project("no-ca");
    let certs = cert_dir(
        home.path(),
        "no-ca",
        &[e.client.join("cert.pem"), e.client.join("key.pem")],
    );
    let (out, _) = build_json(home.path(), &dir, &tls_env(e, &certs));
    let stderr = common::exited(&out, 2);
    assert!(
        stderr.contains(&format!(
            "cannot read the CA certificate {}",
            certs.join("ca.pem").display()
        )),
        "{stderr}"
    );
}

/// `docker context create` (the real CLI) writes the context store under DOCKER_CONFIG.
fn docker_cli(home: &Path, args: &[&str]) {
    run(Command::new("docker")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CONFIG", home.join("docker-config"))
        .args(args));
}

fn create_context(home: &Path, e: &TlsEngine, name: &str) {
    let c = &e.client;
    docker_cli(
        home,
        &[
            "context",
            "create",
            name,
            "--docker",
            &format!(
                "host=tcp://127.0.0.1:{},ca={},cert={},key={}",
                e.port,
                c.join("ca.pem").display(),
                c.join("cert.pem").display(),
                c.join("key.pem").display()
            ),
        ],
    );
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (dockerd) and openssl (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_docker_context_is_used_from_docker_context_and_from_current_context() {
    let e = engine();
    let home = tempfile::tempdir().unwrap();
    let image = unique("context");
    let dir = project(home.path(), &image);
    create_context(home.path(), e, "dockui-remote");
    // The TLS files now live in the store (the CLI copied them); the originals are not needed.
    let store = home.path().join("docker-config/contexts/tls");
    assert!(store.is_dir(), "docker context create wrote the TLS store");

    let (out, v) = build_json(
        home.path(),
        &dir,
        &[("DOCKER_CONTEXT", "dockui-remote".into())],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["backend"]["context"], "dockui-remote");
    assert_eq!(v["backend"]["source"], "env_context");
    assert_eq!(
        v["backend"]["endpoint"],
        format!("tcp://127.0.0.1:{}", e.port)
    );
    assert_eq!(v["backend"]["tls"], true);
    assert!(has_image(e, &format!("{image}:latest")));

    // `dockui doctor` probes the context's endpoint over TLS and lists it first.
    let out = dockui(home.path(), &[("DOCKER_CONTEXT", "dockui-remote".into())])
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let first = &d["candidates"][0];
    assert_eq!(first["context"], "dockui-remote", "{d:#}");
    assert_eq!(first["endpoint"], format!("tcp://127.0.0.1:{}", e.port));
    assert_eq!(first["reachable"], true, "{d:#}");

    // `docker context use` sets currentContext in config.json: dockui follows it with nothing in the env.
    docker_cli(home.path(), &["context", "use", "dockui-remote"]);
    let (out, v) = build_json(home.path(), &dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["backend"]["context"], "dockui-remote");
    assert_eq!(v["backend"]["source"], "current_context");

    // A context that does not exist: exit 2, named, with what to do.
    let (out, _) = build_json(home.path(), &dir, &[("DOCKER_CONTEXT", "nope".into())]);
    let stderr = common::exited(&out, 2);
    assert!(
        stderr.contains("docker context \"nope\" (from DOCKER_CONTEXT) does not exist"),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (dockerd) and openssl (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn docker_host_beats_docker_context() {
    let e = engine();
    let (home, dir) = home_and_project("precedence");
    create_context(home.path(), e, "dockui-remote");
    // Both name the second engine; DOCKER_HOST (its unix socket) must win over the context (its TLS port).
    let socket = format!("unix://{}", e.socket.display());
    let (out, v) = build_json(
        home.path(),
        &dir,
        &[
            ("DOCKER_CONTEXT", "dockui-remote".into()),
            ("DOCKER_HOST", socket.clone()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["backend"]["endpoint"], socket);
    assert_eq!(v["backend"]["context"], serde_json::Value::Null);
    assert_eq!(v["backend"]["source"], "env");
    // And [engine] docker_host in the project's config beats both.
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[engine]\ndocker_host = \"{socket}\"\n\n[build]\nimage = \"{}\"\nnetwork = \"none\"\n\n[smoke]\ninfer = false\n",
            unique("precedence")
        ),
    )
    .unwrap();
    let (out, v) = build_json(
        home.path(),
        &dir,
        &[
            ("DOCKER_HOST", "tcp://127.0.0.1:1".into()),
            ("DOCKER_CONTEXT", "dockui-remote".into()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["backend"]["source"], "config");
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (dockerd) and openssl (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn pushes_over_tls_and_json_names_the_endpoint() {
    let test = "pushes_over_tls_and_json_names_the_endpoint";
    let e = engine();
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let repo = format!("{}/team/remote", registry.host);
    let dir = project(home.path(), &repo);
    let env = tls_env(e, &e.client);
    let (out, _) = build_json(home.path(), &dir, &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The engine behind TLS pushes (dockui streams /images/.../push over its own TLS connection).
    let out = dockui(home.path(), &env)
        .args(["push", &format!("{repo}:latest"), "--format", "json"])
        .output()
        .unwrap();
    let v = common::output_ok_json(&out);
    assert_eq!(
        v["backend"]["endpoint"],
        format!("tcp://127.0.0.1:{}", e.port)
    );
    assert_eq!(v["backend"]["tls"], true);
    let served =
        support::http(&registry.host, "GET", "/v2/team/remote/tags/list", &[], &[]).unwrap();
    assert_eq!(served.status, 200);
    assert!(
        String::from_utf8_lossy(&served.body).contains("latest"),
        "{}",
        registry.log()
    );
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (dockerd) and openssl (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_certificate_for_another_name_is_named_and_docker_tls_skips_verification() {
    let e = engine();
    let (home, dir) = home_and_project("name");
    // The engine's certificate names 127.0.0.1 only.
    let mut env = tls_env(e, &e.client);
    env[0].1 = format!("tcp://localhost:{}", e.port);
    let (out, _) = build_json(home.path(), &dir, &env);
    let stderr = common::exited(&out, 2);
    assert!(stderr.contains("does not name the host"), "{stderr}");
    assert!(
        stderr.contains("certificate not valid for name \"localhost\""),
        "{stderr}"
    );

    // DOCKER_TLS without DOCKER_TLS_VERIFY: TLS, the engine's certificate unchecked (a wrong CA is fine),
    // the client certificate still sent. The engine answers (here: no such image), so TLS worked.
    // (With DOCKER_TLS_VERIFY the same files fail: an_engine_certificate_from_an_unknown_ca_is_named.)
    let wrong = home.path().join("other-ca");
    make_certs(&wrong, "unrelated-ca");
    let certs = cert_dir(
        home.path(),
        "tls-no-verify",
        &[
            wrong.join("ca.pem"),
            e.client.join("cert.pem"),
            e.client.join("key.pem"),
        ],
    );
    let out = dockui(
        home.path(),
        &[
            ("DOCKER_HOST", format!("tcp://127.0.0.1:{}", e.port)),
            ("DOCKER_TLS", "1".into()),
            ("DOCKER_CERT_PATH", certs.display().to_string()),
        ],
    )
    .args([
        "inspect",
        "dockui-remote-test/absent:none",
        "--format",
        "json",
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not in the engine"),
        "the engine answered over TLS: {stderr}"
    );
}
