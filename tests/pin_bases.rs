//! Pinning bases against a real docker-registry on loopback: `check --resolve-digests` finds the tag-only
//! FROM (DU140) with the registry's digest, `fix --pin-bases --level suggestion` writes `image:tag@sha256:...`
//! (a safe-level fix does not), a multi-platform tag pins its index digest, a tag pushed again is reported as
//! moved (DU141) and the pin updated; without the flag the pin rules stay off.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use dockui::registry::client::{OCI_INDEX, OCI_MANIFEST};
use serde_json::Value;
use std::path::Path;
use support::{Registry, put_manifest, upload_blob};

/// A small image made over the registry API: a config and a layer blob (content `seed`), an OCI manifest
/// under `tag`. Returns the manifest digest.
fn push_image(host: &str, repo: &str, tag: &str, seed: &str, arch: &str) -> String {
    let layer = format!("layer {seed}").into_bytes();
    let layer_d = upload_blob(host, repo, &layer, &[]);
    let config = format!(
        r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_d}"]}},"config":{{"Labels":{{"seed":"{seed}"}}}}}}"#
    )
    .into_bytes();
    let config_d = upload_blob(host, repo, &config, &[]);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_d}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_d}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    put_manifest(host, repo, tag, OCI_MANIFEST, manifest.as_bytes(), &[])
}

fn check(home: &Path, dir: &Path, resolve: bool) -> Value {
    let mut cmd = common::dockui(home);
    cmd.args([
        "check",
        dir.to_str().unwrap(),
        "--format",
        "json",
        "--no-host-gpu",
    ]);
    if resolve {
        cmd.arg("--resolve-digests");
    }
    let out = cmd.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn findings<'a>(a: &'a Value, rule: &str) -> Vec<&'a Value> {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn fix(home: &Path, dir: &Path, extra: &[&str]) {
    let out = common::dockui(home)
        .args(["fix", dir.to_str().unwrap(), "--pin-bases"])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pin_bases_against_a_real_registry() {
    let test = "pin_bases_against_a_real_registry";
    let Some(registry) = Registry::start(test, None) else {
        return;
    };
    let host = registry.host.clone();
    let d1 = push_image(&host, "after/base", "1", "one", "amd64");

    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    let dockerfile = dir.join("Dockerfile");
    std::fs::write(&dockerfile, format!("FROM {host}/after/base:1\nRUN true\n")).unwrap();

    // Without the flag: no pin rule.
    assert!(findings(&check(home.path(), &dir, false), "DU140").is_empty());

    let a = check(home.path(), &dir, true);
    let f = findings(&a, "DU140");
    assert_eq!(f.len(), 1, "{a:#}");
    assert_eq!(f[0]["severity"], "info");
    assert_eq!(f[0]["fixes"][0]["level"], "suggestion");
    let facts = f[0]["facts"].to_string();
    assert!(facts.contains(&d1) && facts.contains("pullable"), "{facts}");

    // Safe level shows the pin but does not write it; suggestion does.
    fix(home.path(), &dir, &[]);
    assert_eq!(
        std::fs::read_to_string(&dockerfile).unwrap(),
        format!("FROM {host}/after/base:1\nRUN true\n")
    );
    fix(home.path(), &dir, &["--level", "suggestion"]);
    assert_eq!(
        std::fs::read_to_string(&dockerfile).unwrap(),
        format!("FROM {host}/after/base:1@{d1}\nRUN true\n")
    );
    let a = check(home.path(), &dir, true);
    assert!(
        findings(&a, "DU140").is_empty() && findings(&a, "DU141").is_empty(),
        "{a:#}"
    );

    // The tag is pushed again: the pin is reported as moved, and the fix updates it.
    let d2 = push_image(&host, "after/base", "1", "two", "amd64");
    assert_ne!(d1, d2);
    let a = check(home.path(), &dir, true);
    let f = findings(&a, "DU141");
    assert_eq!(f.len(), 1, "{a:#}");
    assert!(f[0]["message"].as_str().unwrap().contains("has moved"));
    assert!(f[0]["facts"].to_string().contains(&d2));
    fix(
        home.path(),
        &dir,
        &["--level", "suggestion", "--rule", "DU141"],
    );
    assert_eq!(
        std::fs::read_to_string(&dockerfile).unwrap(),
        format!("FROM {host}/after/base:1@{d2}\nRUN true\n")
    );

    // A multi-platform tag pins the index digest.
    let amd = push_image(&host, "after/base", "amd", "a", "amd64");
    let arm = push_image(&host, "after/base", "arm", "b", "arm64");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{amd}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{arm}","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#
    );
    // Sizes must match the manifests for a pull; the registry checks the children exist.
    let size = |d: &str| {
        support::http(
            &host,
            "GET",
            &format!("/v2/after/base/manifests/{d}"),
            &[("Accept", OCI_MANIFEST)],
            &[],
        )
        .unwrap()
        .body
        .len()
    };
    let index = index
        .replacen("\"size\":1", &format!("\"size\":{}", size(&amd)), 1)
        .replacen("\"size\":1", &format!("\"size\":{}", size(&arm)), 1);
    let index_d = put_manifest(
        &host,
        "after/base",
        "multi",
        OCI_INDEX,
        index.as_bytes(),
        &[],
    );
    std::fs::write(&dockerfile, format!("FROM {host}/after/base:multi\n")).unwrap();
    let a = check(home.path(), &dir, true);
    let f = findings(&a, "DU140");
    assert!(
        f[0]["facts"]
            .to_string()
            .contains("index digest (multi-platform)"),
        "{a:#}"
    );
    fix(home.path(), &dir, &["--level", "suggestion"]);
    assert_eq!(
        std::fs::read_to_string(&dockerfile).unwrap(),
        format!("FROM {host}/after/base:multi@{index_d}\n")
    );

    // A tag the registry does not have: reported, no fix, nothing written.
    std::fs::write(&dockerfile, format!("FROM {host}/after/base:nope\n")).unwrap();
    let a = check(home.path(), &dir, true);
    let f = findings(&a, "DU140");
    assert_eq!(f.len(), 1);
    assert!(f[0]["fixes"].as_array().unwrap().is_empty());
    assert!(
        f[0]["facts"].to_string().contains("digest lookup failed"),
        "{a:#}"
    );
}
