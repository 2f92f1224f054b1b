//! Multi-platform on a Docker engine, for real: `dockui build --platform linux/amd64,linux/arm64` builds each
//! platform (arm64 through QEMU binfmt), `dockui push` pushes each and puts an image index over them, and the
//! registry (read with skopeo and its HTTP API, not dockui's client) lists both platforms with the digests
//! dockui reported.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// An arm64 static busybox from Debian (apt's own download, with its package lists kept apart from the
/// system's), cached under target/ so later runs need no network.
fn arm64_busybox() -> PathBuf {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dockui-arm64-busybox");
    let bin = cache.join("busybox-arm64");
    if bin.is_file() {
        return bin;
    }
    let lists = cache.join("lists");
    std::fs::create_dir_all(lists.join("partial")).unwrap();
    let opts = [
        "-o".to_string(),
        "APT::Architecture=arm64".to_string(),
        "-o".to_string(),
        format!("Dir::State::Lists={}", lists.display()),
    ];
    let run = |args: &[&str]| {
        let out = Command::new("apt-get")
            .args(&opts)
            .args(args)
            .current_dir(&cache)
            .output()
            .expect("apt-get runs");
        assert!(
            out.status.success(),
            "apt-get {args:?} failed (the arm64 busybox comes from Debian's archive): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let deb = || {
        std::fs::read_dir(&cache)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
    };
    if deb().is_none() {
        run(&["update", "-qq"]);
        run(&["download", "busybox-static:arm64"]);
    }
    let deb = deb().expect("apt-get download left a .deb");
    let unpacked = cache.join("unpacked");
    let out = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Written under a temporary name first: a run killed half-way never leaves a truncated binary cached.
    let part = cache.join("busybox-arm64.part");
    std::fs::copy(unpacked.join("bin/busybox"), &part).unwrap();
    std::fs::rename(&part, &bin).unwrap();
    // The .deb stays (a later run unpacks it again without the network); the package lists are 26 MB.
    let _ = std::fs::remove_dir_all(&lists);
    let _ = std::fs::remove_dir_all(&unpacked);
    bin
}

fn project(home: &Path, image: &str) -> PathBuf {
    let dir = home.join("mp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox-amd64")).unwrap();
    std::fs::copy(arm64_busybox(), dir.join("busybox-arm64")).unwrap();
    // TARGETARCH picks the binary; the RUN proves each platform's image runs its own architecture (arm64 under
    // QEMU); NONCE keeps the layer cache from hiding the RUN's output.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox\nARG NONCE\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox echo \\\"$NONCE built on $(/bin/busybox uname -m)\\\"\"]\n\
         CMD [\"/bin/busybox\", \"true\"]\n",
    )
    .unwrap();
    // network none: RUN needs no network, and the shared engine's bridge is not this test's business.
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"{image}\"\ntag = \"v1\"\nnetwork = \"none\"\nmax_attempts = 1\n\n[smoke]\ninfer = false\n"
        ),
    )
    .unwrap();
    dir
}

/// What the registry serves under `image:v1`, read with skopeo and its HTTP API (not dockui's client): the
/// index must be `index_digest`; each platform it lists (os/arch, digest) has its manifest there by digest,
/// and that image's config names the same architecture.
fn served_platforms(
    registry_host: &str,
    image: &str,
    repo: &str,
    index_digest: &str,
) -> Vec<(String, String)> {
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{image}:v1"))
        .output()
        .expect("skopeo runs");
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(
        support::sha256(&raw.stdout),
        index_digest,
        "the tag serves the index dockui reported"
    );
    let served: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let listed: Vec<(String, String)> = served["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                ),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (platform, digest) in &listed {
        let r = support::http(
            registry_host,
            "GET",
            &format!("/v2/{repo}/manifests/{digest}"),
            &[(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
            )],
            &[],
        )
        .unwrap();
        assert_eq!(r.status, 200, "{platform} {digest}");
        let manifest: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let config = manifest["config"]["digest"].as_str().unwrap();
        let c = support::http(
            registry_host,
            "GET",
            &format!("/v2/{repo}/blobs/{config}"),
            &[],
            &[],
        )
        .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(
            format!("linux/{}", config["architecture"].as_str().unwrap()),
            *platform,
            "the index lists {digest} as {platform}, but its config says otherwise"
        );
    }
    listed
}

struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for r in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", r]).output();
        }
    }
}

#[test]
#[cfg_attr(
    not(all(dockui_engine, dockui_qemu)),
    ignore = "needs a Docker engine and qemu-user-static with binfmt (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn build_and_push_amd64_and_arm64_with_an_index_the_registry_serves() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let test = "build_and_push_amd64_and_arm64_with_an_index_the_registry_serves";
    let Some(engine) = rt.block_on(common::engine_or_skip(test)) else {
        return;
    };
    assert!(
        Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists(),
        "QEMU's aarch64 binfmt handler is not registered: apt-get install qemu-user-static binfmt-support, \
         update-binfmts --enable qemu-aarch64"
    );
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let nonce = format!("mp-{}-{}", std::process::id(), registry.port);
    let repo = format!("test/{nonce}");
    let image = format!("{}/{repo}", registry.host);
    let dir = project(home.path(), &image);
    let _cleanup = Cleanup(
        ["v1", "v1-amd64", "v1-arm64"]
            .iter()
            .map(|t| format!("{image}:{t}"))
            .collect(),
    );

    let t0 = std::time::Instant::now();
    let out = common::dockui(home.path())
        .args([
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "--build-arg",
            &format!("NONCE={nonce}"),
            "--format",
            "json",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let build_s = t0.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let build: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(build["success"], true);
    assert_eq!(build["backend"]["kind"], "docker");
    let platforms = build["platforms"].as_array().expect("platforms listed");
    let names: Vec<&str> = platforms
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64"]);
    assert_eq!(platforms[1]["image"], format!("{image}:v1-arm64"));
    // Each attempt says which platform it built: they are the platforms', not retries.
    let attempts: Vec<&str> = build["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["platform"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(attempts, ["linux/amd64", "linux/arm64"]);
    // Each RUN ran on its own architecture: the arm64 one through QEMU.
    assert!(
        stderr.contains(&format!("{nonce} built on x86_64")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{nonce} built on aarch64")),
        "{stderr}"
    );
    // The engine agrees on each image's architecture; the main tag is the engine's own platform.
    let arch = |r: String| {
        rt.block_on(engine.client().unwrap().inspect_image(&r))
            .unwrap()
            .architecture
            .unwrap_or_default()
    };
    assert_eq!(arch(format!("{image}:v1-amd64")), "amd64");
    assert_eq!(arch(format!("{image}:v1-arm64")), "arm64");
    assert_eq!(arch(format!("{image}:v1")), "amd64");

    let t1 = std::time::Instant::now();
    let out = common::dockui(home.path())
        .args(["push", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let push_s = t1.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "pullable");
    // A multi-platform push names its backend as a build does: the same object, kind included.
    assert_eq!(report["backend"]["kind"], "docker", "{report:#}");
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&report["backend"]), keys(&build["backend"]));
    let index = &report["index"];
    let index_digest = index["digest"].as_str().expect("index digest").to_string();
    assert_eq!(report["digest"], index_digest.as_str());
    assert_eq!(
        report["reference"],
        format!("{image}@{index_digest}").as_str(),
        "the index digest is the one to pin"
    );
    let pushed: Vec<(String, String)> = index["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["verdict"], "pullable", "{p}");
            (
                p["platform"].as_str().unwrap().to_string(),
                p["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(pushed.len(), 2);
    assert_ne!(pushed[0].1, pushed[1].1);
    // The index check went through each platform's manifest again.
    for p in report["platforms"].as_array().unwrap() {
        assert_eq!(p["verdict"], "pullable", "{p}");
    }

    assert_eq!(
        served_platforms(&registry.host, &image, &repo, &index_digest),
        pushed
    );
    // skopeo resolves the tag to the arm64 image for an arm64 client.
    let arm = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--override-arch", "arm64"])
        .arg(format!("docker://{image}:v1"))
        .output()
        .unwrap();
    let arm: serde_json::Value = serde_json::from_slice(&arm.stdout).unwrap();
    assert_eq!(arm["Architecture"], "arm64");
    eprintln!("measured: multi-platform build {build_s:.1} s, push + index + checks {push_s:.1} s");

    // A rebuild whose arm64 step fails: amd64 is built (and takes `v1-amd64` and `v1` locally), arm64 keeps
    // the old image. No set of the local tags is one build's, so `push DIR` refuses and pushes nothing.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox\nARG NONCE\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox echo \\\"$NONCE again\\\" && /bin/busybox test $(/bin/busybox uname -m) != aarch64\"]\n",
    )
    .unwrap();
    let out = common::dockui(home.path())
        .args(["build", "--platform", "linux/amd64,linux/arm64"])
        .args([
            "--build-arg",
            &format!("NONCE={nonce}-2"),
            "--format",
            "json",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let build: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(build["platforms"][0]["success"], true, "{build}");
    assert_eq!(build["platforms"][1]["success"], false, "{build}");
    let served_before = |tag: &str| {
        let raw = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{image}:{tag}"))
            .output()
            .unwrap();
        support::sha256(&raw.stdout)
    };
    let amd64_before = served_before("v1-amd64");
    for args in [&["push", "--format", "json"][..], &["push"][..]] {
        let out = common::dockui(home.path())
            .args(args)
            .arg(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{stdout}");
        assert!(
            stdout.contains("did not complete") && stdout.contains("build again"),
            "{stdout}"
        );
        if args.contains(&"json") {
            let refused: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(refused["backend"]["kind"], "docker", "{refused:#}");
        }
    }
    assert_eq!(served_before("v1"), index_digest, "the old index stays");
    assert_eq!(
        served_before("v1-amd64"),
        amd64_before,
        "nothing was pushed"
    );
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_foreign_platform_without_qemu_stops_before_building_and_says_how_to_install_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let test = "a_foreign_platform_without_qemu_stops_before_building_and_says_how_to_install_it";
    if rt.block_on(common::engine_or_skip(test)).is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\n",
    )
    .unwrap();
    let image = format!("dockui-test/noqemu-{}", std::process::id());
    std::fs::write(
        dir.join(".dockui.toml"),
        format!("[build]\nimage = \"{image}\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\n[smoke]\ninfer = false\n"),
    )
    .unwrap();
    // binfmt_misc as a host without QEMU shows it: no handlers.
    let empty = home.path().join("binfmt");
    std::fs::create_dir_all(&empty).unwrap();
    // The list from the config, and one foreign platform on its own (which failed only at its first RUN with
    // `exec format error` before: an auditor's note).
    for single in [false, true] {
        let mut cmd = common::dockui(home.path());
        cmd.env(dockui::engine::platforms::BINFMT_DIR_ENV, &empty)
            .args(["build", "--format", "json"]);
        if single {
            cmd.args(["--platform", "linux/arm64"]);
        }
        let out = cmd.arg(&dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a set-up problem: {stderr}");
        let build: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let error = build["error"].as_str().unwrap();
        assert!(error.contains("qemu-aarch64 is missing"), "{error}");
        assert!(
            error.contains("apt-get install qemu-user-static binfmt-support"),
            "{error}"
        );
        assert!(
            error.contains("update-binfmts --enable qemu-aarch64"),
            "{error}"
        );
        assert!(stderr.contains("ERROR: building linux/arm64"), "{stderr}");
        // Nothing was built, not even the engine's own platform.
        assert!(build["attempts"].as_array().unwrap().is_empty());
        for tag in ["latest-amd64", "latest"] {
            let tagged = Command::new("docker")
                .args(["image", "inspect", &format!("{image}:{tag}")])
                .output()
                .unwrap();
            assert!(!tagged.status.success(), "no image was built");
        }
    }
}

/// Podman (buildah 4) takes the layers it just built for amd64 from its cache for arm64 when the steps are the
/// same, and tags an amd64 image `v1-arm64` (an auditor's repro: the index then listed one amd64 manifest as
/// both platforms, "pullable"). dockui checks what each platform's build made, builds a wrong one again without
/// the cache, and the pushed index lists two different manifests whose configs name their own architecture.
#[test]
#[cfg_attr(
    not(all(dockui_podman, dockui_qemu)),
    ignore = "needs podman and qemu-user-static with binfmt (DOCKUI_REQUIRE_DOCKER=1 to require them)"
)]
fn podman_builds_each_platform_as_itself_and_the_index_lists_each_once() {
    let test = "podman_builds_each_platform_as_itself_and_the_index_lists_each_once";
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let service = common::podman::PodmanService::start(Some(&registry.host));
    let home = tempfile::tempdir().unwrap();
    let nonce = format!("pmp-{}-{}", std::process::id(), registry.port);
    let repo = format!("test/{nonce}");
    let image = format!("{}/{repo}", registry.host);
    let dir = home.path().join("pmp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
    // The same steps for both platforms (no TARGETARCH): what lets buildah's cache hand amd64 layers to arm64.
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {nonce} > /n\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"{image}\"\ntag = \"v1\"\nnetwork = \"host\"\nmax_attempts = 1\n\n[smoke]\ninfer = false\n"
        ),
    )
    .unwrap();
    let dockui = || {
        let mut cmd = common::dockui(home.path());
        cmd.env("DOCKER_HOST", service.host())
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CONTEXT");
        cmd
    };
    let out = dockui()
        .args([
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "--format",
            "json",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{}", service.log());
    let build: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(build["backend"]["kind"], "podman");
    let ids: Vec<&str> = build["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["image_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "one image for two platforms: {stderr}");
    // Podman's own view of each tag.
    let arch = |tag: &str| {
        let out = service
            .podman()
            .args(["image", "inspect", "--format", "{{.Architecture}}"])
            .arg(format!("{image}:{tag}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(arch("v1-amd64"), "amd64");
    assert_eq!(arch("v1-arm64"), "arm64", "{stderr}");

    let out = dockui()
        .args(["push", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let report = common::output_ok_json(&out);
    assert_eq!(report["verdict"], "pullable");
    let index_digest = report["index"]["digest"].as_str().unwrap();
    let listed = served_platforms(&registry.host, &image, &repo, index_digest);
    assert_eq!(listed.len(), 2);
    assert_ne!(listed[0].1, listed[1].1, "{listed:?}");
}

/// The push side checks on its own what each platform's image is, whoever built it: an index entry for
/// linux/arm64 over an amd64 image would install fine and fail with `exec format error` on every arm64 host.
/// Two cases, each refused before any index is put: the arm64 tag is the amd64 image itself (one manifest for
/// two platforms), and it is another image that is still amd64 (its config says so).
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_push_refuses_an_index_entry_whose_image_is_another_platform() {
    let test = "a_push_refuses_an_index_entry_whose_image_is_another_platform";
    let rt = tokio::runtime::Runtime::new().unwrap();
    if rt.block_on(common::engine_or_skip(test)).is_none() {
        return;
    }
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let nonce = format!("mpw-{}-{}", std::process::id(), registry.port);
    let image = format!("{}/test/{nonce}", registry.host);
    let _cleanup = Cleanup(
        ["v1-amd64", "v1-arm64", "other"]
            .iter()
            .map(|t| format!("{image}:{t}"))
            .collect(),
    );
    let ctx = home.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    let docker_build = |tag: &str, text: &str| {
        std::fs::write(
            ctx.join("Dockerfile"),
            format!("FROM scratch\nCOPY busybox /bin/busybox\nLABEL note={text}\n"),
        )
        .unwrap();
        let out = Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &format!("{image}:{tag}")])
            .arg(&ctx)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let push = || {
        let out = common::dockui(home.path())
            .args([
                "push",
                "--platform",
                "linux/amd64,linux/arm64",
                "--format",
                "json",
            ])
            .arg(format!("{image}:v1"))
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    let no_index = || {
        support::http(
            &registry.host,
            "HEAD",
            &format!("/v2/test/{nonce}/manifests/v1"),
            &[],
            &[],
        )
        .unwrap()
        .status
    };

    // The arm64 tag is the amd64 image.
    docker_build("v1-amd64", "a");
    let tag = Command::new("docker")
        .args([
            "tag",
            &format!("{image}:v1-amd64"),
            &format!("{image}:v1-arm64"),
        ])
        .output()
        .unwrap();
    assert!(tag.status.success());
    let (code, report) = push();
    assert_ne!(code, Some(0), "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the same manifest as linux/amd64")
            && error.contains("index was not pushed"),
        "{report}"
    );
    assert_eq!(no_index(), 404, "no index under v1");

    // The arm64 tag is another image, still amd64.
    docker_build("v1-arm64", "b");
    let (code, report) = push();
    assert_ne!(code, Some(0), "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("is a linux/amd64 image, not linux/arm64"),
        "{report}"
    );
    assert_eq!(no_index(), 404, "no index under v1");
}
