//! A root `podman system service` of a test's own (tests/podman.rs, podman_smoke.rs, doctor.rs), and the
//! configuration pieces the rootless service (tests/podman_rootless.rs) shares with it. Everything Podman
//! keeps (storage, run root, events, tmp) lives under one temp dir; the service is stopped and its overlay
//! unmounted on drop.
//!
//! Included by `mod common;` and on its own by `#[path]` (podman_smoke.rs): not every test uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a root service differs between the tests that start one.
#[derive(Default)]
pub struct Setup<'a> {
    /// A registry the service may speak plain HTTP to (registries.conf `insecure = true`).
    pub insecure_registry: Option<&'a str>,
    /// Pin containers' rlimits (`default_ulimits`): the sandboxes these tests run in refuse a container's
    /// rlimits near the hard limits ("error setting rlimit type 7/6").
    pub ulimits: bool,
    /// Where the socket goes (e.g. a rootless socket path dockui searches); default: in the service's dir.
    pub socket: Option<PathBuf>,
}

/// containers.conf: host network namespace for RUN steps (Podman sets up no CNI bridge or iptables rules that
/// could disturb the shared engine), cgroupfs, file events, tmp under `dir`. `containers_lines` go into the
/// [containers] table.
pub fn containers_conf(dir: &Path, containers_lines: &str) -> String {
    format!(
        "[containers]\nnetns = \"host\"\ncgroupns = \"host\"\n{1}\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
         events_logger = \"file\"\nevents_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n",
        dir.display(),
        containers_lines
    )
}

/// A `default_ulimits` line (with its newline) the sandboxes accept: nofile at the hard limit (at most 2^20).
pub fn default_ulimits() -> String {
    let mut nofile = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid pointer to a rlimit for getrlimit to fill.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut nofile) };
    let hard = nofile.rlim_max.min(1 << 20);
    format!("default_ulimits = [\"nofile={hard}:{hard}\", \"nproc=4096:4096\"]\n")
}

/// registries.conf: no unqualified search, and `insecure_registry` (if any) spoken to over plain HTTP.
pub fn registries_conf(insecure_registry: Option<&str>) -> String {
    let mut registries = "unqualified-search-registries = []\n".to_string();
    if let Some(host) = insecure_registry {
        registries.push_str(&format!(
            "\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ));
    }
    registries
}

/// Point a podman command at the configuration files in `dir`.
pub fn conf_env<'c>(cmd: &'c mut Command, dir: &Path) -> &'c mut Command {
    cmd.env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"))
        .env("CONTAINERS_REGISTRIES_CONF", dir.join("registries.conf"))
}

/// One GET on a unix socket (HTTP/1.0: the answer ends with the connection): status and body.
pub fn get(socket: &Path, path: &str, timeout: Duration) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: d\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// Unmount what is mounted under `root` (Podman leaves its overlay mounted on <graphroot>/overlay, and
/// layers under it): ours only, deepest first, or the temp dir cannot be removed.
pub fn unmount_under(root: &Path) {
    let root = root.display().to_string();
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .filter(|m| m.starts_with(&root))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = Command::new("umount").arg("-l").arg(&m).output();
    }
}

/// A build's result, its `(current, total)` step events and its log lines.
pub type BuildEvents = (
    Result<String, dockui::docker::DockerError>,
    Vec<(u32, u32)>,
    Vec<String>,
);

/// A build through the port on a Podman socket, its events sorted.
pub fn build_events(
    rt: &tokio::runtime::Runtime,
    engine: &dockui::docker::BollardEngine,
    spec: dockui::docker::BuildSpec,
) -> BuildEvents {
    use dockui::docker::{BuildEvent, DockerPort};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let built = rt.block_on(engine.build(spec, tx));
    let mut steps = Vec::new();
    let mut lines = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        match ev {
            BuildEvent::Step { current, total } => steps.push((current, total)),
            BuildEvent::Line(l) => lines.push(l),
        }
    }
    (built, steps, lines)
}

/// A root `podman system service` with its own containers.conf, storage (overlay under a temp dir) and
/// registries.conf.
pub struct PodmanService {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl PodmanService {
    pub fn start(insecure_registry: Option<&str>) -> PodmanService {
        PodmanService::start_with(Setup {
            insecure_registry,
            ..Setup::default()
        })
    }

    pub fn start_with(setup: Setup) -> PodmanService {
        let dir = tempfile::Builder::new()
            .prefix("dockui-podman-")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let ulimits = if setup.ulimits {
            default_ulimits()
        } else {
            String::new()
        };
        let files = [
            ("containers.conf", containers_conf(d, &ulimits)),
            (
                "storage.conf",
                format!(
                    "[storage]\ndriver = \"overlay\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
                    d.display()
                ),
            ),
            ("registries.conf", registries_conf(setup.insecure_registry)),
        ];
        for (name, text) in files {
            std::fs::write(d.join(name), text).unwrap();
        }
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        let socket = setup.socket.unwrap_or_else(|| d.join("podman.sock"));
        if let Some(parent) = socket.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let log = std::fs::File::create(d.join("service.log")).unwrap();
        let mut service = PodmanService {
            child: None,
            dir,
            socket,
        };
        let child = service
            .podman()
            .args(["system", "service", "--time=0", &service.host()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("podman runs");
        service.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if service.ping() {
                return service;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "podman system service did not answer on {} within 30 s: {}",
            service.socket.display(),
            service.log()
        );
    }

    fn ping(&self) -> bool {
        get(&self.socket, "/_ping", Duration::from_secs(5)).is_some_and(|(status, _)| status == 200)
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default()
    }

    /// The podman CLI on this service's storage.
    pub fn podman(&self) -> Command {
        let mut cmd = Command::new("podman");
        conf_env(&mut cmd, self.dir.path());
        cmd
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM lets the service shut down cleanly; kill only if it does not.
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        unmount_under(self.dir.path());
    }
}
