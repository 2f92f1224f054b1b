//! Smoke checks on Podman through its Docker-compatible socket, for real: the exit code as the container gave
//! it (Podman's compat wait would say 0 for a removed container; dockui reads the die event), the output, and
//! no container left. A `podman system service` of this file's
//! own on a temp socket with isolated configuration and storage, stopped and unmounted on drop.

#[path = "common/smoke.rs"]
mod smoke;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Service {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Service {
    fn start() -> Service {
        let dir = tempfile::Builder::new()
            .prefix("dockui-podman-smoke-")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path().display().to_string();
        // The sandboxes these tests run in refuse a container's rlimits near the hard limits ("error
        // setting rlimit type 7/6"): pin them to values they accept.
        let mut nofile = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a valid pointer to a rlimit for getrlimit to fill.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut nofile) };
        let hard = nofile.rlim_max.min(1 << 20);
        let files = [
            (
                "containers.conf",
                format!(
                    "[containers]\nnetns = \"host\"\ncgroupns = \"host\"\ndefault_ulimits = [\"nofile={hard}:{hard}\", \
                     \"nproc=4096:4096\"]\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                     events_logfile_path = \"{d}/events.log\"\ntmp_dir = \"{d}/tmp\"\n"
                ),
            ),
            (
                "storage.conf",
                format!(
                    "[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\nrunroot = \"{d}/run\"\n"
                ),
            ),
            (
                "registries.conf",
                "unqualified-search-registries = []\n".to_string(),
            ),
        ];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let log = std::fs::File::create(dir.path().join("service.log")).unwrap();
        let mut service = Service { child: None, dir };
        let child = service
            .podman()
            .args(["system", "service", "--time=0", &service.host()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("podman runs");
        service.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !service.socket().exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            service.socket().exists(),
            "podman system service did not start: {}",
            std::fs::read_to_string(service.dir.path().join("service.log")).unwrap_or_default()
        );
        service
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The podman CLI on this service's storage.
    fn podman(&self) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"));
        cmd
    }

    /// A `FROM scratch` image with the host's static busybox as /bin/sh.
    fn busybox_image(&self, tag: &str) {
        let ctx = self.dir.path().join("image");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
        )
        .unwrap();
        let out = self
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

    fn containers_of_this_run(&self) -> String {
        let label = format!("label=dockui={}", dockui::docker::bollard_engine::run_id());
        let out = self
            .podman()
            .args(["ps", "-aq", "--filter", &label])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Podman leaves its overlay mounted under the graph root: ours only, deepest first.
        unmount_under(self.dir.path());
    }
}

fn unmount_under(root: &Path) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_podman),
    ignore = "needs podman (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_smoke_check_on_podman_gives_the_exit_code_and_output_and_leaves_no_container() {
    let service = Service::start();
    let image = "localhost/dockui-test/podman-smoke:v1";
    service.busybox_image(image);
    let engine = dockui::docker::BollardEngine::connect(&service.host(), 60);
    let probe = engine.probe().await.unwrap();
    assert!(probe.podman, "{probe:?}");
    smoke::failing_check_gives_its_code_and_output(&engine, image).await;
    smoke::passing_check_gives_its_output(&engine, image).await;
    // AutoRemove: Podman's cleanup removes the container shortly after it stopped.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !service.containers_of_this_run().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        service.containers_of_this_run(),
        "",
        "smoke containers left"
    );
    let _ = service.podman().args(["rmi", "-af"]).output();
}
