//! `type=local` cache on the real engine (issue 13, points 4, 6, 8). The engine's embedded BuildKit (20.10)
//! has the `local` cache importer: it reads the directory through the content store dockui serves in the
//! session (`src/buildkit/content.rs`). It cannot export one (inline only), and no standalone daemon can run
//! here, so the cache directory is derived from a real build: the engine builds with inline cache, `docker
//! save` gives the image config (whose `moby.buildkit.cache.v0` holds the cache records) and the layers; the
//! test writes them as a BuildKit daemon's local exporter does (gzip layer blobs, a cache config, an OCI index
//! naming both, `index.json` tagged `latest`). After removing the image and this build's cache records, the
//! rebuild with `--cache-from type=local,src=DIR` gets the RUN step CACHED; the control rebuild without it
//! runs the step.

mod common;

use dockui::docker::BuildSpec;
use sha2::Digest as _;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use common::cache::{
    RemoveImage, base_spec, build, build_ok, forget, inline_cache_build, project, records_naming,
    step_ran, step_was_cached,
};

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let d = sha(bytes);
    let hex = d.strip_prefix("sha256:").unwrap();
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("blobs/sha256").join(hex), bytes).unwrap();
    d
}

/// Write `image` (built with inline cache) as a local cache directory: what a BuildKit daemon's
/// `--cache-to type=local,dest=DIR` holds. Returns the number of cache records and the layer blob digests.
fn local_cache_from_image(image: &str, dir: &Path) -> (usize, Vec<String>) {
    let out = Command::new("docker")
        .args(["save", image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut files = std::collections::HashMap::new();
    let mut archive = tar::Archive::new(&out.stdout[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.insert(name, bytes);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&files[manifest[0]["Config"].as_str().unwrap()]).unwrap();
    // The engine keeps the inline cache in the image config, base64 of the records' JSON.
    use base64::Engine as _;
    let records_json = base64::engine::general_purpose::STANDARD
        .decode(
            config["moby.buildkit.cache.v0"]
                .as_str()
                .expect("inline cache in the config"),
        )
        .unwrap();
    let records: serde_json::Value = serde_json::from_slice(&records_json).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    let mut layers = Vec::new();
    let mut descriptors = Vec::new();
    let mut blobs = Vec::new();
    for (i, path) in manifest[0]["Layers"].as_array().unwrap().iter().enumerate() {
        let tar_bytes = &files[path.as_str().unwrap()];
        assert_eq!(sha(tar_bytes), diff_ids[i].as_str().unwrap());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(tar_bytes).unwrap();
        let blob = gz.finish().unwrap();
        let digest = put_blob(dir, &blob);
        blobs.push(digest.clone());
        layers.push(serde_json::json!({"blob": digest, "parent": i as i64 - 1}));
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest,
            "size": blob.len(),
            "annotations": {"containerd.io/uncompressed": diff_ids[i]},
        }));
    }
    let cache_config =
        serde_json::to_vec(&serde_json::json!({"layers": layers, "records": records})).unwrap();
    let config_digest = put_blob(dir, &cache_config);
    descriptors.push(serde_json::json!({
        "mediaType": "application/vnd.buildkit.cacheconfig.v0",
        "digest": config_digest,
        "size": cache_config.len(),
    }));
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": descriptors,
    }))
    .unwrap();
    let index_digest = put_blob(dir, &index);
    std::fs::write(
        dir.join("index.json"),
        serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": index_digest,
                "size": index.len(),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }],
        })
        .to_string(),
    )
    .unwrap();
    (records.as_array().map_or(0, Vec::len), blobs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_local_cache_directory_is_imported_by_the_engine_through_the_session() {
    let test = "a_local_cache_directory_is_imported_by_the_engine_through_the_session";
    let engine = common::engine_or_skip(test).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let marker = format!(
        "dockui-cachelocal-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    project(dir.path(), &marker);
    let tag = format!("dockui-test/cache-local:{}", std::process::id());
    let _cleanup = RemoveImage(tag.clone());
    let base = base_spec(dir.path(), &tag);

    // 1. A real build with inline cache; its cache records and layers become a local cache directory.
    let (lines, cold) = inline_cache_build(&engine, &base).await;
    assert!(step_ran(&lines, &marker), "{lines:#?}");
    let (records, blobs) = local_cache_from_image(&tag, cache.path());
    assert!(
        records >= 2,
        "the inline cache has the COPY and RUN records"
    );
    let mut ours = vec![marker.clone()];
    ours.extend(blobs.iter().map(|b| format!("imported {b}")));

    // 2. Forget it: the image and this build's RUN record.
    assert!(forget(&tag, &ours).await >= 1);
    let run_layer = format!("imported {}", blobs.last().unwrap());
    assert!(
        records_naming(std::slice::from_ref(&run_layer))
            .await
            .is_empty()
    );

    // 3. Rebuild importing the directory: BuildKit reads index.json's manifest, the cache config and the
    //    RUN step's layer through dockui's session content store; the step is CACHED and does not run.
    let src = format!("type=local,src={}", cache.path().display());
    let t = std::time::Instant::now();
    let lines = build_ok(
        &engine,
        BuildSpec {
            cache_from: vec![src.clone()],
            ..base.clone()
        },
    )
    .await;
    let warm = t.elapsed();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cache import type=local") && l.contains("supported")),
        "{lines:#?}"
    );
    assert!(step_was_cached(&lines, &marker), "{lines:#?}");
    assert!(!step_ran(&lines, &marker), "the step ran again: {lines:#?}");
    // The image really has the RUN step's file (its layer came from the directory).
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            &tag,
            "/bin/busybox",
            "cat",
            "/layer.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        marker,
        "{out:?}"
    );
    // The RUN step's layer came out of the directory: the engine recorded it as imported from that blob
    // (moby reads it through the content store's Info and Read).
    assert_eq!(
        records_naming(std::slice::from_ref(&run_layer)).await.len(),
        1,
        "{run_layer}"
    );
    // The BuildKit-daemon code path (`--backend buildkit`, BUILDKIT_HOST at the engine's /grpc) imports the
    // same directory through its own session.
    forget(&tag, &ours).await;
    assert!(
        records_naming(std::slice::from_ref(&run_layer))
            .await
            .is_empty()
    );
    let port = common::h2c::proxy().await;
    let daemon = dockui::buildkit::BuildkitBuilder::connect(&dockui::buildkit::Settings {
        address: format!("tcp://127.0.0.1:{port}"),
        source: "BUILDKIT_HOST",
        tls: Default::default(),
    })
    .unwrap();
    let caps = dockui::builder::BuilderPort::capabilities(&daemon)
        .await
        .unwrap();
    assert!(
        caps.cache_import
            .contains(&dockui::builder::CacheType::Local),
        "{caps:?}"
    );
    let lines = build_ok(
        &daemon,
        BuildSpec {
            cache_from: vec![src.clone()],
            ..base.clone()
        },
    )
    .await;
    assert!(step_was_cached(&lines, &marker), "{lines:#?}");
    assert!(!step_ran(&lines, &marker), "{lines:#?}");
    assert_eq!(
        records_naming(std::slice::from_ref(&run_layer)).await.len(),
        1
    );
    // Nothing was written into the source directory (BuildKit only reads it).
    assert!(!cache.path().join("ingest").exists());
    eprintln!(
        "local cache import: cold build {:.1}s, rebuild from the directory {:.1}s",
        cold.as_secs_f64(),
        warm.as_secs_f64()
    );

    // 4. Control: without the directory, after forgetting again, the step runs.
    forget(&tag, &ours).await;
    let lines = build_ok(&engine, base.clone()).await;
    assert!(step_ran(&lines, &marker), "{lines:#?}");
    assert!(!step_was_cached(&lines, &marker), "{lines:#?}");
    forget(&tag, &ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn local_cache_on_the_engine_export_is_refused_and_a_bad_source_named_before_the_build() {
    let engine = common::engine_or_skip("local_cache_refused").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "local-refused");
    let base = base_spec(
        dir.path(),
        &format!("dockui-test/cache-local-refused:{}", std::process::id()),
    );
    let dest = tempfile::tempdir().unwrap();
    let (r, lines) = build(
        &engine,
        BuildSpec {
            cache_to: vec![format!("type=local,dest={}", dest.path().display())],
            ..base.clone()
        },
    )
    .await;
    let err = r.unwrap_err();
    assert!(err.is_setup(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("exports only type=inline"), "{msg}");
    assert!(msg.contains("--cache-from type=local,src=DIR"), "{msg}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cache export type=local") && l.contains("NOT supported")),
        "{lines:#?}"
    );
    assert!(std::fs::read_dir(dest.path()).unwrap().next().is_none());

    // A source that is no cache directory: named, with what to do, nothing built.
    let empty = tempfile::tempdir().unwrap();
    let (r, lines) = build(
        &engine,
        BuildSpec {
            cache_from: vec![format!("type=local,src={}", empty.path().display())],
            ..base.clone()
        },
    )
    .await;
    let err = r.unwrap_err();
    assert!(err.is_setup(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("index.json"), "{msg}");
    assert!(msg.contains("--cache-to type=local"), "{msg}");
    assert!(!lines.iter().any(|l| l.starts_with("#1 ")), "{lines:#?}");

    // The legacy builder has no session to read a directory through: refused, not silently ignored.
    let (r, lines) = build(
        &engine,
        BuildSpec {
            cache_from: vec![format!("type=local,src={}", empty.path().display())],
            builder: dockui::builder::Builder::Legacy,
            ..base.clone()
        },
    )
    .await;
    let err = r.unwrap_err();
    assert!(err.is_setup(), "{err:?}");
    assert!(err.to_string().contains("cannot import"), "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cache import type=local") && l.contains("NOT supported")),
        "{lines:#?}"
    );
}
