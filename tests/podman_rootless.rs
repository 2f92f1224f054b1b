//! Rootless Podman for real: dedicated unprivileged users (`dockui-rl` with a full 65536-id range in
//! /etc/subuid and /etc/subgid, `dockui-rl-small` with only 1000, `dockui-rl-none` with none),
//! `podman system service` started as that user (its own XDG_RUNTIME_DIR, vfs storage and configuration under
//! a temp dir) on a socket the test reaches, and dockui pointed at it with `[engine] docker_host`. With the
//! full range a build from a base whose files belong to nobody (65534) is detected as rootless Podman, counts
//! Podman's `STEP n/N`, passes its smoke test inside the user namespace and pushes; with a small range or
//! none the same kinds of build fail with Podman's real user-namespace errors, which dockui classifies with
//! the subuid/subgid steps (in the JSON and in the TUI); `dockui doctor` names the socket as rootless Podman.
//! The machine-setup failures of rootless containers (a root-only /dev/net/tun, no slirp4netns, runc with
//! cgroups disabled) are made for real too and classified. The signature test at the end runs everywhere, on
//! texts these tests produced.
//!
//! The users are made here (idempotent; root is needed, see build.rs `dockui_rootless`), the rest of the
//! machine by `.ci/run` (uidmap, slirp4netns, `/dev/net/tun` usable by users as on any distribution).

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use common::dockui_no_backend as dockui;
use common::podman;
use dockui::docker::{BollardEngine, BuildSpec, DockerPort};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An unprivileged user made for these tests (see `ensure_user`).
#[derive(Clone, Copy)]
struct TestUser {
    uid: u32,
    gid: u32,
}

/// Ranges far above what `useradd` hands out (SUB_UID_MIN 100000, 65536 per user), so they collide with no
/// real user's.
const FULL: (&str, u64, u64) = ("dockui-rl", 700_000_000, 65_536);
const SMALL: (&str, u64, u64) = ("dockui-rl-small", 700_100_000, 1_000);
/// No range at all: Podman maps only the user itself (container root).
const NONE: (&str, u64, u64) = ("dockui-rl-none", 0, 0);

static USERS: Mutex<()> = Mutex::new(());

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} did not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Make the user (a system user without home or shell) if it is missing, and give it exactly one range
/// `first..first+count` in /etc/subuid and /etc/subgid (another range it had is replaced; count 0: none).
fn ensure_user((name, first, count): (&str, u64, u64)) -> TestUser {
    let _guard = USERS.lock().unwrap_or_else(|e| e.into_inner());
    let exists = Command::new("id")
        .args(["-u", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        run_ok(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ]));
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        set_range(Path::new(file), name, first, count);
    }
    TestUser {
        uid: run_ok(Command::new("id").args(["-u", name]))
            .parse()
            .unwrap(),
        gid: run_ok(Command::new("id").args(["-g", name]))
            .parse()
            .unwrap(),
    }
}

fn set_range(file: &Path, name: &str, first: u64, count: u64) {
    let old = std::fs::read_to_string(file).unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for line in old.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.first() == Some(&name) {
            continue;
        }
        if let [other, start, n] = fields[..]
            && let (Ok(start), Ok(n)) = (start.parse::<u64>(), n.parse::<u64>())
        {
            assert!(
                count == 0 || start + n <= first || first + count <= start,
                "{}: {other}'s range {start}+{n} overlaps the test range {first}+{count} of {name}",
                file.display()
            );
        }
        lines.push(line.to_string());
    }
    if count > 0 {
        lines.push(format!("{name}:{first}:{count}"));
    }
    let new: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if new != old {
        let tmp = file.with_extension("dockui-tmp");
        std::fs::write(&tmp, &new).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::rename(&tmp, file).unwrap();
    }
}

/// How a service differs from the working setup: the real misconfigurations the failure signatures are for.
#[derive(Default)]
struct Setup<'a> {
    insecure_registry: Option<&'a str>,
    /// More lines for containers.conf's [containers] table.
    containers_extra: &'a str,
    /// /dev/net/tun as some VMs have it: root-only.
    root_only_tun: bool,
    /// A PATH with the id mappers only (no slirp4netns, as when it is not installed).
    no_helpers_on_path: bool,
}

/// `podman system service` run as `user` (setpriv, no groups, a clean environment): everything Podman keeps
/// (runtime dir, storage, events, its pause process's pid) lives under one temp dir owned by the user. On drop
/// the service and the pause process (it holds the user namespace) are stopped by pid and the dir removed (as
/// root: the files owned by subordinate ids need no `podman unshare`; vfs leaves no mounts).
struct RootlessService {
    child: Option<Child>,
    dir: tempfile::TempDir,
    socket: PathBuf,
    user: TestUser,
    /// The service's PATH, and whether it runs with the root-only /dev/net/tun (`tun` in the dir).
    path: String,
    root_only_tun: bool,
}

impl RootlessService {
    fn start(user: TestUser, insecure_registry: Option<&str>) -> RootlessService {
        RootlessService::start_with(
            user,
            Setup {
                insecure_registry,
                ..Setup::default()
            },
        )
    }

    fn start_with(user: TestUser, setup: Setup) -> RootlessService {
        let dir = tempfile::Builder::new()
            .prefix("dockui-rl-")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let own = |p: &Path, mode: u32| {
            std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid)).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        own(d, 0o755);
        for (sub, mode) in [("run", 0o700), ("tmp", 0o755), ("home", 0o755)] {
            std::fs::create_dir(d.join(sub)).unwrap();
            own(&d.join(sub), mode);
        }
        // tests/common/podman.rs's containers.conf (host network for RUN, cgroupfs, file events) with
        // default_ulimits: without them every container fails here with "error setting rlimit type 7" (see
        // scripts/bench-backends.sh). Rootless on cgroup v1 runs containers without cgroups by itself;
        // `cgroups = "disabled"` would refuse runc ("not compatible with NoCgroups").
        std::fs::write(
            d.join("containers.conf"),
            podman::containers_conf(
                d,
                &format!("{}{}", podman::default_ulimits(), setup.containers_extra),
            ),
        )
        .unwrap();
        // vfs: no fuse-overlayfs or kernel overlay in a user namespace needed, nothing left mounted; the
        // images here are a few MB. Rootless Podman reads rootless_storage_path, not graphroot.
        std::fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\nrootless_storage_path = \"{}/graph\"\n",
                d.display()
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("registries.conf"),
            podman::registries_conf(setup.insecure_registry),
        )
        .unwrap();
        // Where rootless Podman's own socket lives (`podman info`: remoteSocket), so dockui's search for a
        // rootless socket ($XDG_RUNTIME_DIR/podman/podman.sock) finds it too.
        let socket = d.join("run/podman/podman.sock");
        std::fs::create_dir(d.join("run/podman")).unwrap();
        std::os::unix::fs::chown(d.join("run/podman"), Some(user.uid), Some(user.gid)).unwrap();
        // PATH: the service finds newuidmap/newgidmap, conmon, runc and slirp4netns there (a setup may hide
        // some: a dir with links to the id mappers only).
        let path = if setup.no_helpers_on_path {
            let bin = d.join("bin");
            std::fs::create_dir(&bin).unwrap();
            for tool in ["newuidmap", "newgidmap"] {
                std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bin.join(tool)).unwrap();
            }
            bin.display().to_string()
        } else {
            "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_string()
        };
        if setup.root_only_tun {
            let tun = d.join("tun");
            let made = unsafe {
                let c = std::ffi::CString::new(tun.display().to_string()).unwrap();
                libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(10, 200))
            };
            assert_eq!(made, 0, "mknod {}", tun.display());
        }
        let mut service = RootlessService {
            child: None,
            dir,
            socket,
            user,
            path,
            root_only_tun: setup.root_only_tun,
        };
        service.spawn();
        service
    }

    /// podman as the user, with the service's environment (and mount namespace, for the root-only tun).
    fn podman(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut cmd = if self.root_only_tun {
            // A root-only /dev/net/tun in a mount namespace of the service's own (the host's stays as it is).
            let mut c = Command::new(bin("unshare"));
            c.args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg("mount --bind \"$0\" /dev/net/tun && exec \"$@\"")
                .arg(d.join("tun"))
                .arg(bin("setpriv"));
            c
        } else {
            Command::new(bin("setpriv"))
        };
        cmd.arg(format!("--reuid={}", self.user.uid))
            .arg(format!("--regid={}", self.user.gid))
            .arg("--clear-groups")
            .arg(bin("podman"))
            .args(args)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", d.join("home"))
            .env("XDG_RUNTIME_DIR", d.join("run"))
            .current_dir(d)
            .stdin(Stdio::null());
        podman::conf_env(&mut cmd, d);
        cmd
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("service.log"))
            .unwrap();
        let uri = format!("unix://{}", self.socket.display());
        let child = self
            .podman(&["system", "service", "--time=0", &uri])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("setpriv runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.get("/_ping").is_some_and(|(status, _)| status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "rootless podman system service did not answer on {} within 30 s: {}",
            self.socket.display(),
            self.log()
        );
    }

    /// What the fix for a stale rootless network namespace says: `podman system migrate` (it stops the pause
    /// process that holds the old namespaces), then the service restarted.
    fn migrate_and_restart(&mut self) {
        let out = self.podman(&["system", "migrate"]).output().unwrap();
        assert!(
            out.status.success(),
            "podman system migrate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.stop();
        self.spawn();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // setpriv execs: the child is podman itself, which re-executes itself inside the user namespace
            // and exits on SIGTERM without passing it on. The service is that second podman: signal the
            // process group the child leads (both are in it), and wait until the group is gone.
            let group = c.id() as i32;
            unsafe { libc::kill(-group, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && unsafe { libc::kill(-group, 0) } == 0 {
                let _ = c.try_wait();
                std::thread::sleep(Duration::from_millis(50));
            }
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = c.wait();
        }
        // The pause process outlives the service (it keeps the user namespace for the next podman): ours is
        // the one whose pid our tmp_dir names, if it still runs as our user.
        let pid = std::fs::read_to_string(self.dir.path().join("tmp/pause.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            let ours = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Uid:"))
                        .and_then(|ids| ids.split_whitespace().next()?.parse::<u32>().ok())
                })
                == Some(self.user.uid);
            if ours {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    /// One GET on the socket: status and body.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        podman::get(&self.socket, path, Duration::from_secs(10))
    }

    /// Containers the service still has (smoke containers must be gone).
    fn containers(&self) -> Vec<Value> {
        let (status, body) = self
            .get("/v1.41/containers/json?all=true")
            .expect("the service answers");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default()
    }

    /// A project's .dockui.toml for this service (the project dir may stay root's: the client sends the
    /// context as a tar).
    fn config(&self, image: &str, smoke: &[&str]) -> String {
        let commands: Vec<String> = smoke.iter().map(|c| format!("{c:?}")).collect();
        format!(
            "[engine]\ndocker_host = \"{}\"\n\n[build]\nimage = \"{image}\"\ntag = \"v1\"\nmax_attempts = 1\n\
             network = \"host\"\n\n[smoke]\ninfer = false\ncommands = [{}]\n",
            self.host(),
            commands.join(", ")
        )
    }
}

impl Drop for RootlessService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A program from the test's PATH (the service's PATH may not have it).
fn bin(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
        .unwrap_or_else(|| panic!("{name} is not installed"))
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    }
}

/// A base image pushed over the registry API: the host's static busybox at /bin/busybox and a home dir that
/// belongs to nobody (65534:65534), as in many public images. One uncompressed OCI layer, with its history
/// entry (without one, buildah's commit of the next step fails: "history lists 2 non-empty layers, but we
/// have 3 layers on disk").
fn push_nobody_base(host: &str, repo: &str, tag: &str) {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32, id: u64, dir: bool| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(id);
        h.set_gid(id);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("bin/", &[], 0o755, 0, true);
    add("bin/busybox", &busybox, 0o755, 0, false);
    add("home/", &[], 0o755, 0, true);
    add("home/nobody/", &[], 0o755, 65534, true);
    add("home/nobody/.profile", b"# nobody\n", 0o644, 65534, false);
    let layer = b.into_inner().unwrap();
    let layer_d = support::upload_blob(host, repo, &layer, &[]);
    let config = format!(
        r#"{{"architecture":"{}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_d}"]}},"config":{{"Cmd":["/bin/busybox","true"]}},"history":[{{"created":"2023-11-14T22:13:20Z","created_by":"dockui test base"}}]}}"#,
        arch()
    )
    .into_bytes();
    let config_d = support::upload_blob(host, repo, &config, &[]);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{0}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_d}","size":{1}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_d}","size":{2}}}]}}"#,
        dockui::registry::client::OCI_MANIFEST,
        config.len(),
        layer.len()
    );
    support::put_manifest(
        host,
        repo,
        tag,
        dockui::registry::client::OCI_MANIFEST,
        manifest.as_bytes(),
        &[],
    );
}

fn project(home: &Path, name: &str, dockerfile: &str, config: &str) -> PathBuf {
    let dir = home.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join(".dockui.toml"), config).unwrap();
    dir
}

fn build_json(home: &Path, dir: &Path) -> (Option<i32>, Value, String) {
    let out = dockui(home)
        .args(["build", "--format", "json"])
        .arg(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("build JSON ({e}): {stderr}"));
    (out.status.code(), v, stderr)
}

/// Smoke containers need a network: rootless Podman gives them slirp4netns, which opens /dev/net/tun as the
/// user. Distributions make it 0666; a machine where it is root-only cannot run rootless containers at all.
fn assert_tun_usable() {
    let mode = std::fs::metadata("/dev/net/tun")
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(
        mode & 0o006,
        0o006,
        "/dev/net/tun is not usable by users (mode {mode:o}): rootless containers cannot get a network; \
         `chmod 0666 /dev/net/tun` (the distributions' default; .ci/run does it)"
    );
}

#[test]
#[cfg_attr(
    not(dockui_rootless),
    ignore = "needs podman, uidmap and root (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn rootless_podman_builds_counts_steps_runs_its_smoke_test_and_pushes() {
    let test = "rootless_podman_builds_counts_steps_runs_its_smoke_test_and_pushes";
    assert_tun_usable();
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let user = ensure_user(FULL);
    let service = RootlessService::start(user, Some(&registry.host));
    let base = format!("{}/rl/base:nobody", registry.host);
    push_nobody_base(&registry.host, "rl/base", "nobody");
    let home = tempfile::tempdir().unwrap();
    let nonce = format!("rl-{}-{}", std::process::id(), registry.port);
    let image = format!("{}/rl/{nonce}", registry.host);
    // nobody's files from the base, a chown to 1500 and a COPY --chown: all inside a 65536-id range.
    let dockerfile = format!(
        "FROM {base}\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN echo {nonce} built && chown 1500:1500 /home/nobody\n\
         COPY --chown=1500:1500 hello.txt /opt/hello.txt\nCMD [\"/bin/busybox\", \"true\"]\n"
    );
    let config = service.config(
        &image,
        &[
            "cat /proc/self/uid_map",
            "stat -c owner=%u:%g /opt/hello.txt /home/nobody/.profile",
        ],
    );
    let dir = project(home.path(), "ok", &dockerfile, &config);

    // The port: Podman, rootless, Podman's steps.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = BollardEngine::connect(&service.host(), 120);
    let caps = rt.block_on(engine.capabilities()).unwrap();
    assert_eq!(caps.kind, dockui::docker::BackendKind::Podman);
    let info = rt.block_on(engine.ping()).unwrap();
    assert!(
        info.version.starts_with("Podman ") && info.version.ends_with(", rootless"),
        "{info:?}"
    );
    let spec = BuildSpec {
        context_dir: dir.clone(),
        dockerfile: "Dockerfile".into(),
        tag: format!("{image}:steps"),
        network: "host".into(),
        ..Default::default()
    };
    let (built, steps, lines) = podman::build_events(&rt, &engine, spec);
    assert!(built.is_ok(), "{built:?}\n{lines:#?}\n{}", service.log());
    assert_eq!(
        steps,
        [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)],
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("STEP 3/5: RUN echo")),
        "{lines:#?}"
    );

    // The binary: build (cached layers now), smoke test in the user namespace, push.
    let t0 = Instant::now();
    let (code, build, stderr) = build_json(home.path(), &dir);
    let build_s = t0.elapsed().as_secs_f64();
    assert_eq!(code, Some(0), "{stderr}\n{}", service.log());
    assert_eq!(build["success"], true);
    assert_eq!(build["backend"]["kind"], "podman");
    assert_eq!(build["backend"]["endpoint"], service.host().as_str());
    // The JSON says what the status bar says: Podman's version and that it runs rootless.
    assert_eq!(build["backend"]["rootless"], true, "{build:#}");
    assert!(
        build["backend"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("Podman ")),
        "{build:#}"
    );
    assert!(
        stderr.contains("with Podman (the legacy builder)"),
        "{stderr}"
    );
    let smoke = build["smoke"].as_array().unwrap();
    assert_eq!(smoke.len(), 2, "{build:#}");
    assert!(smoke.iter().all(|s| s["status"] == "passed"), "{build:#}");
    // Container root is the user itself; the rest of the ids come from its subordinate range.
    let uid_map: Vec<Vec<&str>> = smoke[0]["output"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (first, count) = (FULL.1.to_string(), FULL.2.to_string());
    assert_eq!(
        uid_map,
        [
            vec!["0", &user.uid.to_string(), "1"],
            vec!["1", &first, &count]
        ],
        "{build:#}"
    );
    let owners = smoke[1]["output"].as_str().unwrap();
    assert_eq!(
        owners.split_whitespace().collect::<Vec<_>>(),
        ["owner=1500:1500", "owner=65534:65534"],
        "{build:#}"
    );

    let out = dockui(home.path())
        .args(["push", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let report = common::output_ok_json(&out);
    assert_eq!(report["verdict"], "pullable", "{report:#}");
    assert!(
        report["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with(&format!("{image}@sha256:"))),
        "{report:#}"
    );
    assert_eq!(
        service.containers(),
        Vec::<Value>::new(),
        "no containers left"
    );
    eprintln!(
        "measured: dockui build (cached) + 2 smoke commands on rootless Podman {build_s:.1} s"
    );
}

#[test]
#[cfg_attr(
    not(dockui_rootless),
    ignore = "needs podman, uidmap and root (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn rootless_podman_with_too_few_subuids_fails_with_the_subuid_fix() {
    let test = "rootless_podman_with_too_few_subuids_fails_with_the_subuid_fix";
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    push_nobody_base(&registry.host, "rl/base", "nobody");
    let home = tempfile::tempdir().unwrap();
    // (project, Dockerfile, the real text's telltale, the failing step, the ids that did not fit)
    let cases = [
        (
            "pull",
            format!(
                "FROM {}/rl/base:nobody\nRUN [\"/bin/busybox\", \"true\"]\n",
                registry.host
            ),
            "potentially insufficient UIDs or GIDs available in user namespace (requested 65534:65534 for /home/nobody)",
            "STEP 1/2: FROM",
            Some("65534:65534"),
        ),
        (
            "copy",
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY --chown=1500:1500 hello.txt /opt/hello.txt\n"
                .to_string(),
            "error setting owner of \"/opt\" to 1500:1500: chown /opt: invalid argument",
            "STEP 3/3: COPY --chown=1500:1500",
            Some("1500:1500"),
        ),
        (
            "run",
            "FROM scratch\nCOPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox touch /data && /bin/busybox chown 1500:1500 /data\"]\n"
                .to_string(),
            "chown: /data: Invalid argument",
            "STEP 3/3: RUN",
            None,
        ),
    ];
    // 1000 ids: all three; no range at all (Podman maps the user alone): a pulled layer and COPY --chown.
    for (spec, wanted) in [
        (SMALL, &["pull", "copy", "run"][..]),
        (NONE, &["pull", "copy"]),
    ] {
        let service = RootlessService::start(ensure_user(spec), Some(&registry.host));
        let image = format!("localhost/dockui-test/{}-{}", spec.0, std::process::id());
        let config = service.config(&image, &[]);
        for (case, dockerfile, text, step, ids) in &cases {
            if !wanted.contains(case) {
                continue;
            }
            let name = format!("{} {case}", spec.0);
            let dir = project(home.path(), &name.replace(' ', "-"), dockerfile, &config);
            let (code, build, stderr) = build_json(home.path(), &dir);
            assert_eq!(code, Some(1), "{name}: {stderr}");
            assert_eq!(build["backend"]["kind"], "podman", "{name}");
            let d = &build["attempts"][0]["diagnosis"];
            assert_eq!(
                d["signature"], "podman-rootless-subuid",
                "{name}: {build:#}"
            );
            assert!(
                d["matched"][0][1]
                    .as_str()
                    .is_some_and(|l| l.contains(text)),
                "{name}: the real text changed: {d:#}"
            );
            assert!(
                d["failing_step"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(step)),
                "{name}: {d:#}"
            );
            assert_eq!(d["detail"].as_str(), *ids, "{name}: {d:#}");
            let todo = d["explanation"].as_str().unwrap();
            for fix in [
                "/etc/subuid",
                "usermod --add-subuids 100000-165535 --add-subgids 100000-165535",
                "uidmap",
                "podman system migrate",
            ] {
                assert!(todo.contains(fix), "{name}: {todo}");
            }
        }
        assert_eq!(
            service.containers(),
            Vec::<Value>::new(),
            "{}: no build containers left",
            spec.0
        );
    }
}

#[test]
#[cfg_attr(
    not(dockui_rootless),
    ignore = "needs podman, uidmap and root (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn doctor_names_a_rootless_podman_socket() {
    let user = ensure_user(FULL);
    let service = RootlessService::start(user, None);
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "doctor",
        "FROM scratch\n",
        &service.config("localhost/dockui-test/rl-doctor", &[]),
    );
    let out = dockui(home.path())
        .args(["doctor", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &v["candidates"][0];
    assert_eq!(first["source"], "[engine] docker_host", "{v:#}");
    assert_eq!(first["endpoint"], service.host().as_str(), "{v:#}");
    assert_eq!(first["backend"], "podman", "{v:#}");
    assert_eq!(first["reachable"], true, "{v:#}");
    assert!(
        first["version"]
            .as_str()
            .is_some_and(|s| s.starts_with("Podman ") && s.ends_with(", rootless")),
        "{v:#}"
    );
    assert_eq!(first["capabilities"]["buildkit"], false, "{v:#}");
    assert_eq!(first["capabilities"]["run"], true, "{v:#}");
    assert_eq!(v["auto"]["index"], 0, "{v:#}");
    assert_eq!(v["auto"]["usable"], true, "{v:#}");

    let out = dockui(home.path())
        .arg("doctor")
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "1. podman - [engine] docker_host - {}",
            service.host()
        )),
        "{text}"
    );
    assert!(text.contains(", rootless)"), "{text}");
    assert!(
        text.contains(&format!("auto picks 1: podman {}", service.host())),
        "{text}"
    );

    // Nothing configured: the search finds the socket in the user's runtime dir as rootless Podman's.
    std::fs::write(dir.join(".dockui.toml"), "[build]\nimage = \"rl-doctor\"\n").unwrap();
    let out = dockui(home.path())
        .args(["doctor", "--format", "json"])
        .arg(&dir)
        .env("XDG_RUNTIME_DIR", service.dir.path().join("run"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "Podman socket (rootless)")
        .unwrap_or_else(|| panic!("no rootless Podman candidate: {v:#}"));
    assert_eq!(found["endpoint"], service.host().as_str(), "{v:#}");
    assert_eq!(found["reachable"], true, "{v:#}");
    assert!(
        found["version"]
            .as_str()
            .is_some_and(|s| s.ends_with(", rootless")),
        "{v:#}"
    );
}

#[test]
#[cfg_attr(
    not(dockui_rootless),
    ignore = "needs podman, uidmap and root (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn tui_on_rootless_podman_says_rootless_counts_steps_and_shows_the_subuid_fix() {
    let user = ensure_user(SMALL);
    let service = RootlessService::start(user, None);
    let home = tempfile::tempdir().unwrap();
    let image = format!("localhost/dockui-test/rl-tui-{}", std::process::id());
    // Step 3/4 takes a few seconds, so the status bar is seen on it; step 4/4 needs id 1500, out of range.
    let dir = project(
        home.path(),
        "tui",
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sleep\", \"3\"]\n\
         COPY --chown=1500:1500 hello.txt /opt/hello.txt\n",
        &service.config(&image, &[]),
    );
    let Some(t) = common::tmux::Tmux::dockui("rootless-tui", 160, 45, home.path(), &dir) else {
        return;
    };
    t.wait_for("the engine named as rootless Podman", |s| {
        s.contains("(podman, Podman 4") && s.contains(", rootless")
    });
    t.send(&["b"]);
    t.wait_for("Podman's STEP 3/4 in the status bar", |s| {
        s.contains("step 3/4")
    });
    t.wait_for("the failure classified with its step", |s| {
        s.contains("build failed: rootless Podman: no subordinate")
            && s.contains("at STEP 4/4: COPY --chown=1500:1500")
            && s.contains("--add-subuids 100000-165535")
            && s.contains("failed after 1 attempt")
    });
    t.send(&["q"]);
    assert_eq!(
        service.containers(),
        Vec::<Value>::new(),
        "no build containers left"
    );
}

#[test]
#[cfg_attr(
    not(dockui_rootless),
    ignore = "needs podman, uidmap and root (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn rootless_podman_container_setup_failures_are_classified_with_their_fix() {
    let user = ensure_user(FULL);
    let home = tempfile::tempdir().unwrap();
    let cases = [
        (
            "tun",
            Setup {
                root_only_tun: true,
                ..Setup::default()
            },
            r#"slirp4netns failed: "open(\"/dev/net/tun\"): Permission denied"#,
            "rootless-container-network",
            "chmod 0666 /dev/net/tun",
        ),
        (
            "no-slirp4netns",
            Setup {
                no_helpers_on_path: true,
                ..Setup::default()
            },
            r#"exec: "slirp4netns": executable file not found in $PATH"#,
            "rootless-container-network",
            "apt-get install slirp4netns",
        ),
        (
            "no-cgroups",
            Setup {
                containers_extra: "cgroups = \"disabled\"",
                ..Setup::default()
            },
            "requested OCI runtime runc is not compatible with NoCgroups",
            "podman-runc-no-cgroups",
            "apt-get install crun",
        ),
    ];
    // Each case has its own service: run them side by side.
    std::thread::scope(|scope| {
        for (name, setup, text, signature, fix) in cases {
            let home = home.path().join(name);
            scope.spawn(move || {
                let home = home.as_path();
                let mut service = RootlessService::start_with(user, setup);
                let image = format!("localhost/dockui-test/rl-{name}-{}", std::process::id());
                // The build needs no container network (RUN on the host's); the smoke test's container does.
                let dir = project(
                    home,
                    name,
                    "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
                    &service.config(&image, &["echo fine"]),
                );
                let (code, build, stderr) = build_json(home, &dir);
                assert_eq!(code, Some(1), "{name}: {stderr}\n{}", service.log());
                assert!(
                    build["image_id"].as_str().is_some_and(|i| !i.is_empty()),
                    "{name}: built: {build:#}"
                );
                let smoke = &build["smoke"][0];
                assert_eq!(smoke["status"], "error", "{name}: {build:#}");
                assert!(
                    smoke["output"].as_str().is_some_and(|o| o.contains(text)),
                    "{name}: the real text changed: {smoke:#}"
                );
                let d = &smoke["diagnosis"];
                assert_eq!(d["signature"], signature, "{name}: {smoke:#}");
                assert!(
                    d["explanation"].as_str().is_some_and(|e| e.contains(fix)),
                    "{name}: {d:#}"
                );
                if name == "tun" {
                    // The device fixed, Podman still reuses its half-made network namespace; the fix the
                    // signature gives (migrate, restart the service) really cures it.
                    std::fs::set_permissions(
                        service.dir.path().join("tun"),
                        std::fs::Permissions::from_mode(0o666),
                    )
                    .unwrap();
                    let (_, build, _) = build_json(home, &dir);
                    let smoke = &build["smoke"][0];
                    assert!(
                        smoke["output"].as_str().is_some_and(
                            |o| o.contains("failed to mount runtime directory for rootless netns")
                        ),
                        "{name}: the real text changed: {smoke:#}"
                    );
                    assert_eq!(
                        smoke["diagnosis"]["signature"], "rootless-netns-stale",
                        "{smoke:#}"
                    );
                    assert!(
                        smoke["diagnosis"]["explanation"]
                            .as_str()
                            .is_some_and(|e| e.contains("podman system migrate")),
                        "{smoke:#}"
                    );
                    service.migrate_and_restart();
                    let (code, build, stderr) = build_json(home, &dir);
                    assert_eq!(code, Some(0), "after the fix: {stderr}\n{build:#}");
                    assert_eq!(build["smoke"][0]["status"], "passed", "{build:#}");
                }
                assert_eq!(
                    service.containers(),
                    Vec::<Value>::new(),
                    "{name}: no containers left"
                );
                });
        }
    });
}

/// The signature on the texts the tests above (and GNU tar / coreutils in the same user namespace, through
/// `podman unshare`) really produced, and on look-alikes that are the Dockerfile's own problem.
#[test]
fn rootless_signature_fires_on_the_real_texts_and_not_on_look_alikes() {
    let sig = |text: &str| {
        dockui::classify::classify(&text.lines().collect::<Vec<_>>())
            .map(|d| (d.signature, d.detail))
            .unwrap_or_else(|| ("none".into(), None))
    };
    let rootless = |detail: Option<&str>| {
        (
            "podman-rootless-subuid".to_string(),
            detail.map(str::to_string),
        )
    };
    // Pulling a layer with nobody's files (Podman 4.3.1, 1000 subordinate ids).
    let pull = "STEP 1/2: FROM 127.0.0.1:5391/base:nobody\nTrying to pull 127.0.0.1:5391/base:nobody...\n\
                ERROR: creating build container: writing blob: adding layer with blob \"sha256:a37dab771dd6\": \
                ApplyLayer stdout:  stderr: potentially insufficient UIDs or GIDs available in user namespace \
                (requested 65534:65534 for /home): Check /etc/subuid and /etc/subgid if configured locally and \
                run podman-system-migrate: lchown /home: invalid argument exit status 1";
    assert_eq!(sig(pull), rootless(Some("65534:65534")));
    let copy = "STEP 3/3: COPY --chown=1500:1500 busybox /opt/tool\nERROR: building at STEP \
                \"COPY --chown=1500:1500 busybox /opt/tool\": ensuring target directory exists: copier: mkdir: \
                error setting owner of \"/opt\" to 1500:1500: chown /opt: invalid argument";
    assert_eq!(sig(copy), rootless(Some("1500:1500")));
    let add = "STEP 3/4: ADD layer.tar /\nError: building at STEP \"ADD layer.tar /\": copier: put: error \
               setting ownership of \"/data\" to 65534:65534: lchown /data: invalid argument";
    assert_eq!(sig(add), rootless(Some("65534:65534")));
    // busybox chown: before, only the generic step failure matched.
    let busybox = "STEP 3/3: RUN chown 1500:1500 /data\nchown: /data: Invalid argument\nERROR: building at \
                   STEP \"RUN chown 1500:1500 /data\": while running runtime: exit status 1";
    assert_eq!(sig(busybox), rootless(None));
    let gnu_tar = "STEP 3/3: RUN tar -xf layer.tar\ntar: data/f: Cannot change ownership to uid 65534, gid \
                   65534: Invalid argument\ntar: Exiting with failure status due to previous errors\nERROR: \
                   building at STEP \"RUN tar -xf layer.tar\": while running runtime: exit status 2";
    // GNU tar names the ids apart: still one uid:gid detail, as for Podman's own texts.
    assert_eq!(sig(gnu_tar), rootless(Some("65534:65534")));
    let coreutils = "chown: changing ownership of 'y': Invalid argument";
    assert_eq!(sig(coreutils), rootless(None));

    // Containers without a network, and runc without cgroups (smoke tests through the service; the CLI's
    // wording for a missing slirp4netns too).
    let net = |text: &str| sig(text).0;
    assert_eq!(
        net(
            r#"engine answered 409: preparing container 6616419a2f41 for attach: /usr/bin/slirp4netns failed: "open(\"/dev/net/tun\"): Permission denied\nWARNING: Support for seccomp is experimental\nchild failed(1)\n""#
        ),
        "rootless-container-network"
    );
    assert_eq!(
        net(
            r#"engine answered 409: preparing container 92aeb5fef4db for attach: exec: "slirp4netns": executable file not found in $PATH"#
        ),
        "rootless-container-network"
    );
    assert_eq!(
        net(
            r#"Error: could not find slirp4netns, the network namespace can't be configured: exec: "slirp4netns": executable file not found in $PATH"#
        ),
        "rootless-container-network"
    );
    assert_eq!(
        net(
            "engine answered 409: preparing container 366362d3426a for attach: failed to mount runtime directory for rootless netns: no such file or directory"
        ),
        "rootless-netns-stale"
    );
    assert_eq!(
        net(
            "engine answered 500: container create: requested OCI runtime runc is not compatible with NoCgroups: invalid argument"
        ),
        "podman-runc-no-cgroups"
    );
    // Other tun and runtime troubles have other fixes.
    for text in [
        r#"/usr/bin/slirp4netns failed: "open(\"/dev/net/tun\"): No such file or directory""#,
        r#"exec: "crun": executable file not found in $PATH"#,
        "requested OCI runtime crun is not compatible with cgroups v1",
        "failed to mount /proc in the container: permission denied",
    ] {
        let got = net(text);
        assert!(
            ![
                "rootless-container-network",
                "podman-runc-no-cgroups",
                "rootless-netns-stale",
            ]
            .contains(&got.as_str()),
            "{text}: {got}"
        );
    }

    // A non-root user in the container may not chown: the Dockerfile's problem, not the id range.
    for text in [
        "STEP 3/3: RUN chown 1500 /data\nchown: /data: Operation not permitted\nERROR: building at STEP \
         \"RUN chown 1500 /data\": while running runtime: exit status 1",
        "tar: data/f: Cannot change ownership to uid 65534, gid 65534: Operation not permitted",
        "chown: invalid user: 'app'",
        "chown: /data: No such file or directory",
    ] {
        assert_ne!(sig(text).0, "podman-rootless-subuid", "{text}");
    }
}
