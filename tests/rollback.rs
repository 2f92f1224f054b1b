//! `dockui rollback` against a real docker-registry: two real pushes (through the engine) of different images
//! under the same tag, then the tag is pointed back to the first push and forward again by digest, each
//! verified by the digest the registry serves for the tag; the push history is kept in 0600 files.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

fn tag_digest(host: &str, repo: &str, tag: &str) -> String {
    let r = support::http(
        host,
        "HEAD",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Accept", &dockui::registry::client::accept_header())],
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    r.header("Docker-Content-Digest").unwrap().to_string()
}

fn run(home: &Path, config: &Path, args: &[&str]) -> Output {
    common::dockui(home)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_points_the_tag_back_and_forward_verified_by_the_registry() {
    let test = "rollback_points_the_tag_back_and_forward_verified_by_the_registry";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let host = registry.host.clone();
    let pid = std::process::id();
    let one = format!("dockui-test/after-rb:one-{pid}");
    let two = format!("dockui-test/after-rb:two-{pid}");
    if support::build_busybox(&engine, &one).await.is_none()
        || support::build_busybox(&engine, &two).await.is_none()
    {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[push]\nregistry = \"{host}\"\nrepository = \"after/rb\"\n[push.retry]\nattempts = 2\ninitial_delay_ms = 50\n"
        ),
    )
    .unwrap();
    let target = format!("{host}/after/rb:v1");

    // Nothing pushed yet: nothing to roll back to.
    let out = run(home.path(), &config, &["rollback", &target]);
    assert_eq!(out.status.code(), Some(2));

    let d1 = ok_json(&run(
        home.path(),
        &config,
        &["push", &one, "-t", "v1", "--format", "json"],
    ))["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let d2 = ok_json(&run(
        home.path(),
        &config,
        &["push", &two, "-t", "v1", "--format", "json"],
    ))["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(d1, d2);
    assert_eq!(tag_digest(&host, "after/rb", "v1"), d2);

    // The history: one private file for the tag, both pushes in it.
    let pushes = common::paths(home.path()).data_dir.join("pushes");
    let files: Vec<_> = std::fs::read_dir(&pushes)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains(&d1) && text.contains(&d2), "{text}");

    // Back to the previous push.
    let r = ok_json(&run(
        home.path(),
        &config,
        &["rollback", &target, "--format", "json"],
    ));
    assert_eq!(r["from"], d2.as_str());
    assert_eq!(r["to"], d1.as_str());
    assert_eq!(r["tag_points_to_target"], true);
    assert_eq!(r["verdict"], "pullable");
    assert!(r["source"].as_str().unwrap().starts_with("pushed at"));
    assert_eq!(tag_digest(&host, "after/rb", "v1"), d1);

    // No push before the first one.
    let out = run(home.path(), &config, &["rollback", &target]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no earlier push"));

    // Forward again by digest (human output).
    let out = run(home.path(), &config, &["rollback", &target, "--to", &d2]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("-> {d2}")));
    assert_eq!(tag_digest(&host, "after/rb", "v1"), d2);

    // The engine can pull the rolled tag.
    let pulled = engine.client().unwrap().create_image(
        Some(
            bollard::query_parameters::CreateImageOptionsBuilder::new()
                .from_image(&target)
                .build(),
        ),
        None,
        None,
    );
    use futures_util::StreamExt;
    let results: Vec<_> = pulled.collect().await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");

    // Bad input: a digest the registry does not have, no tag, a malformed --to.
    let zero = format!("sha256:{}", "0".repeat(64));
    let out = run(home.path(), &config, &["rollback", &target, "--to", &zero]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read manifest"));
    assert_eq!(
        tag_digest(&host, "after/rb", "v1"),
        d2,
        "a failed rollback changes nothing"
    );
    let out = run(
        home.path(),
        &config,
        &["rollback", &format!("{host}/after/rb")],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        home.path(),
        &config,
        &["rollback", &target, "--to", "yesterday"],
    );
    assert_eq!(out.status.code(), Some(2));

    support::remove_images(&engine, &[one, two, target]).await;
}
