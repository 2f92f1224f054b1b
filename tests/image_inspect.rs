//! `dockui inspect` against the real engine: an image built in the test from the host's busybox writes a
//! file and a pip cache, a later layer deletes the file; the report finds the waste through the whiteout,
//! links the cache to DL3042 on the RUN that made its layer, and the CI gate exits 1 / 0 / 2. The same image
//! saved to a file is read in Docker's layout and, rewritten by the test, in the OCI layout (gzip layer).

mod common;

use common::stdout_json as json;
use dockui::docker::{BollardEngine, BuildSpec, DockerPort};
use futures_util::StreamExt;
use serde_json::Value;
use sha2::Digest as _;
use std::io::Write;
use std::path::Path;
use std::process::Output;

const DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /data /root/.cache/pip \
    && dd if=/dev/zero of=/data/blob.bin bs=1000 count=400 \
    && dd if=/dev/zero of=/root/.cache/pip/wheel.whl bs=1000 count=300
ENV MARK=1
RUN rm -f /data/blob.bin
"#;

fn busybox() -> Option<std::path::PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

async fn build(engine: &BollardEngine, tag: &str, dockerfile: &str) -> bool {
    let Some(bb) = busybox() else {
        if std::env::var(common::REQUIRE_ENV).as_deref() == Ok("1") {
            panic!("no static busybox on the host (apt-get install busybox-static)");
        }
        eprintln!("SKIPPED: no static busybox on the host (apt-get install busybox-static)");
        return false;
    };
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy(bb, ctx.path().join("busybox")).unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile).unwrap();
    let spec = BuildSpec {
        context_dir: ctx.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: tag.to_string(),
        ..Default::default()
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    engine.build(spec, tx).await.expect("test image builds");
    true
}

async fn remove(engine: &BollardEngine, tag: &str) {
    let _ = engine
        .client()
        .unwrap()
        .remove_image(
            tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

fn inspect(home: &Path, args: &[&str]) -> Output {
    common::dockui(home)
        .arg("inspect")
        .args(args)
        .output()
        .unwrap()
}

/// The facts every layout must give for the test image.
fn assert_report(r: &Value, busybox_size: u64) {
    assert_eq!(r["wasted_bytes"], 400_000, "{r:#}");
    let total = busybox_size + 700_000;
    assert_eq!(r["total_bytes"], total, "{r:#}");
    let eff = r["efficiency"].as_f64().unwrap();
    let expected = (total - 400_000) as f64 / total as f64;
    assert!((eff - expected).abs() < 1e-9, "{eff} vs {expected}");

    let layers = r["layers"].as_array().unwrap();
    let fs: Vec<&Value> = layers
        .iter()
        .filter(|l| !l["empty"].as_bool().unwrap())
        .collect();
    assert_eq!(fs.len(), 4, "{layers:#?}");
    assert!(
        fs[0]["instruction"].as_str().unwrap().starts_with("COPY"),
        "{:?}",
        fs[0]
    );
    assert_eq!(fs[0]["size"], busybox_size);
    assert_eq!(fs[2]["layer"], 3);
    assert_eq!(fs[2]["size"], 700_000);
    assert_eq!(fs[2]["wasted_bytes"], 400_000);
    assert!(
        fs[2]["instruction"]
            .as_str()
            .unwrap()
            .contains("dd if=/dev/zero of=/data/blob.bin")
    );
    assert!(
        fs[3]["instruction"]
            .as_str()
            .unwrap()
            .contains("rm -f /data/blob.bin")
    );
    // ENV made no layer but is listed, between layer 3 and 4.
    let env = layers
        .iter()
        .find(|l| l["instruction"].as_str().unwrap().starts_with("ENV MARK=1"))
        .expect("the ENV history entry");
    assert_eq!(env["empty"], true);
    assert!(env["layer"].is_null());

    let wasted = r["wasted"].as_array().unwrap();
    assert_eq!(wasted[0]["path"], "/data/blob.bin", "{wasted:#?}");
    assert_eq!(wasted[0]["bytes"], 400_000);
    assert_eq!(wasted[0]["layers"], serde_json::json!([3]));
    assert_eq!(wasted[0]["hidden_in"], serde_json::json!([4]));
    assert_eq!(wasted[0]["how"], "deleted");

    let caches = r["caches"].as_array().unwrap();
    assert_eq!(caches.len(), 1, "{caches:#?}");
    assert_eq!(caches[0]["rule"], "DL3042");
    assert_eq!(caches[0]["layer"], 3);
    assert_eq!(caches[0]["bytes"], 300_000);
    assert_eq!(caches[0]["example"], "/root/.cache/pip/wheel.whl");
    assert_eq!(caches[0]["still_visible"], true);
    assert!(
        caches[0]["instruction"]
            .as_str()
            .unwrap()
            .contains("dd if=/dev/zero")
    );

    let largest = r["largest_files"].as_array().unwrap();
    assert_eq!(largest[0]["path"], "/bin/busybox");
    assert_eq!(largest[1]["path"], "/root/.cache/pip/wheel.whl");
    assert!(largest.iter().all(|f| f["path"] != "/data/blob.bin"));
}

async fn save(engine: &BollardEngine, tag: &str, to: &Path) {
    let docker = engine.client().unwrap();
    let mut f = std::fs::File::create(to).unwrap();
    let mut s = docker.export_image(tag);
    while let Some(chunk) = s.next().await {
        f.write_all(&chunk.unwrap()).unwrap();
    }
}

fn sha(b: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(b))
}

/// Rewrite Docker's archive as an OCI layout: index.json -> manifest blob -> config + layer blobs (the third
/// layer gzip-compressed, as registries and skopeo store them), blobs in a shuffled order, no manifest.json.
fn to_oci(docker_tar: &Path, oci_tar: &Path) {
    let mut files = std::collections::HashMap::new();
    let mut a = tar::Archive::new(std::fs::File::open(docker_tar).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().to_string();
        let mut data = Vec::new();
        if e.header().entry_type().is_symlink() {
            let target = e
                .link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .to_string();
            files.insert(name, format!("link:{target}").into_bytes());
            continue;
        }
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let config = files[manifest[0]["Config"].as_str().unwrap()].clone();
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut layer_descs = Vec::new();
    for (i, l) in manifest[0]["Layers"].as_array().unwrap().iter().enumerate() {
        let mut key = l.as_str().unwrap().to_string();
        while let Some(t) = std::str::from_utf8(&files[&key])
            .ok()
            .and_then(|s| s.strip_prefix("link:"))
        {
            let dir = Path::new(&key).parent().unwrap();
            key = dir
                .join(t)
                .components()
                .fold(std::path::PathBuf::new(), |mut p, c| {
                    match c {
                        std::path::Component::ParentDir => {
                            p.pop();
                        }
                        c => p.push(c),
                    }
                    p
                })
                .to_string_lossy()
                .to_string();
        }
        let raw = files[&key].clone();
        let (data, media) = if i == 2 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&raw).unwrap();
            (
                gz.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (raw, "application/vnd.oci.image.layer.v1.tar")
        };
        let d = sha(&data);
        layer_descs.push(serde_json::json!({"mediaType": media, "digest": format!("sha256:{d}"), "size": data.len()}));
        blobs.push((d, data));
    }
    let config_d = sha(&config);
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_d}"), "size": config.len()},
        "layers": layer_descs,
    }))
    .unwrap();
    let m_d = sha(&m);
    blobs.push((config_d, config));
    blobs.push((m_d.clone(), m.clone()));
    blobs.reverse();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{m_d}"), "size": m.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "after-oci:1"}}],
    }))
    .unwrap();
    let mut b = tar::Builder::new(std::fs::File::create(oci_tar).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for (d, data) in &blobs {
        add(&format!("blobs/sha256/{d}"), data);
    }
    add("index.json", &index);
    b.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_finds_deleted_file_and_pip_cache_and_gates_ci() {
    let test = "inspect_finds_deleted_file_and_pip_cache_and_gates_ci";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let tag = format!("dockui-test/after-inspect:{}", std::process::id());
    if !build(&engine, &tag, DOCKERFILE).await {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let busybox_size = std::fs::metadata(busybox().unwrap()).unwrap().len();

    let out = inspect(home.path(), &[&tag, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    assert_report(&r, busybox_size);
    assert_eq!(r["layout"], "docker-archive");
    assert!(r["id"].as_str().unwrap().starts_with("sha256:"));
    assert!(r.get("gate").is_none());
    // The engine it came from, in the object every result has (kind included, as a build's).
    let b = &r["backend"];
    assert_eq!(b["kind"], "docker", "{b:#}");
    assert!(
        b["endpoint"].as_str().is_some_and(|e| !e.is_empty()),
        "{b:#}"
    );
    assert!(b["version"].as_str().is_some(), "{b:#}");
    let mut keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "context", "endpoint", "kind", "rootless", "source", "tls", "version"
        ]
    );

    // Human output names the waste and the rule on the layer.
    let out = inspect(home.path(), &[&tag]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/data/blob.bin"), "{text}");
    assert!(
        text.contains("DL3042") && text.contains("layer 3"),
        "{text}"
    );

    // The CI gate, around the real numbers.
    let eff = r["efficiency"].as_f64().unwrap();
    let below = format!("{:.3}", eff - 0.01);
    let above = format!("{:.3}", eff + 0.01);
    let code = |args: &[&str]| {
        let mut all = vec![tag.as_str()];
        all.extend_from_slice(args);
        let out = inspect(home.path(), &all);
        (out.status.code(), out)
    };
    assert_eq!(code(&["--lowest-efficiency", &above]).0, Some(1));
    assert_eq!(code(&["--lowest-efficiency", &below]).0, Some(0));
    assert_eq!(code(&["--highest-wasted-bytes", "399999"]).0, Some(1));
    assert_eq!(code(&["--highest-wasted-bytes", "400KB"]).0, Some(0));
    let (c, out) = code(&[
        "--lowest-efficiency",
        &below,
        "--highest-wasted-bytes",
        "300KB",
        "--format",
        "json",
    ]);
    assert_eq!(c, Some(1));
    let g = &json(&out)["gate"];
    assert_eq!(g["passed"], false);
    assert_eq!(g["checks"][0]["passed"], true);
    assert_eq!(g["checks"][1]["name"], "highest-wasted-bytes");
    assert_eq!(g["checks"][1]["passed"], false);
    let (c, out) = code(&["--lowest-efficiency", &above]);
    assert_eq!(c, Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("CI gate: FAIL"));

    // Usage and engine errors: 2.
    assert_eq!(code(&["--lowest-efficiency", "90"]).0, Some(2));
    assert_eq!(code(&["--highest-wasted-bytes", "lots"]).0, Some(2));
    let out = inspect(
        home.path(),
        &[
            "dockui-test/after-no-such-image:none",
            "--highest-wasted-bytes",
            "1GB",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the engine"));
    let out = common::dockui(home.path())
        .env("DOCKER_HOST", "unix:///nonexistent/after-docker.sock")
        .args(["inspect", &tag, "--lowest-efficiency", "0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The cause and what to do, once (as build and push say it), and no generic line after it.
    assert!(
        stderr.contains("no Docker socket at /nonexistent/after-docker.sock")
            && stderr.contains("what to do: start the Docker engine"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("what to do").count(), 1, "{stderr}");
    assert!(
        !stderr.contains("\nstart the Docker engine or set"),
        "{stderr}"
    );

    // The same image saved to a file: Docker's layout, then rewritten as OCI.
    let saved = home.path().join("image.tar");
    save(&engine, &tag, &saved).await;
    let out = inspect(home.path(), &[saved.to_str().unwrap(), "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_file = json(&out);
    assert_report(&from_file, busybox_size);
    assert_eq!(from_file["layout"], "docker-archive");
    let oci = home.path().join("oci.tar");
    to_oci(&saved, &oci);
    let out = inspect(home.path(), &[oci.to_str().unwrap(), "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_oci = json(&out);
    assert_report(&from_oci, busybox_size);
    assert_eq!(from_oci["layout"], "oci");
    assert_eq!(from_oci["repo_tags"], serde_json::json!(["after-oci:1"]));
    assert_eq!(from_oci["id"], r["id"]);

    // A file that is not an image archive: 2, named.
    let junk = home.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar at all").unwrap();
    let out = inspect(home.path(), &[junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an image archive"));

    remove(&engine, &tag).await;
}

/// A clean image (nothing deleted, no cache) passes the gate at 100%.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_clean_image_is_fully_efficient() {
    let test = "inspect_clean_image_is_fully_efficient";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let tag = format!("dockui-test/after-inspect-clean:{}", std::process::id());
    if !build(&engine, &tag, "FROM scratch\nCOPY busybox /bin/busybox\n").await {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = inspect(
        home.path(),
        &[
            &tag,
            "--format",
            "json",
            "--lowest-efficiency",
            "1",
            "--highest-wasted-bytes",
            "0",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    assert_eq!(r["wasted_bytes"], 0);
    assert_eq!(r["efficiency"], 1.0);
    assert_eq!(r["caches"], serde_json::json!([]));
    assert_eq!(r["gate"]["passed"], true);
    remove(&engine, &tag).await;
}

/// Streaming: a 120 MB layer is read through without the process growing anywhere near that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_streams_a_large_layer_in_bounded_memory() {
    let test = "inspect_streams_a_large_layer_in_bounded_memory";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let tag = format!("dockui-test/after-inspect-big:{}", std::process::id());
    let dockerfile = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"dd\", \"if=/dev/zero\", \"of=/big.bin\", \"bs=1000000\", \"count=120\"]\nRUN [\"/bin/busybox\", \"rm\", \"/big.bin\"]\n";
    if !build(&engine, &tag, dockerfile).await {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let child = common::dockui(home.path())
        .args([
            "inspect",
            &tag,
            "--format",
            "json",
            "--highest-wasted-bytes",
            "100MB",
        ])
        .output()
        .unwrap();
    // Max RSS over the children this test binary waited for: all are dockui runs on small images but this one.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(
        child.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let r = json(&child);
    assert_eq!(r["wasted_bytes"], 120_000_000);
    let max_rss_mb = usage.ru_maxrss / 1024;
    eprintln!("dockui inspect max RSS: {max_rss_mb} MB for a 120 MB layer");
    assert!(
        max_rss_mb < 60,
        "max RSS {max_rss_mb} MB: the layer was held in memory"
    );
    remove(&engine, &tag).await;
}
