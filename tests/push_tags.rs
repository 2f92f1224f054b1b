//! `dockui push` sends exactly the tags the user named (issue 12, point 1), against a real docker-registry and
//! the real engine: `push IMAGE:TAG` pushes TAG and nothing else, `-t` replaces it, a smoke-failed image needs
//! `--force`, and the JSON carries the registry's own manifest digest for every tag.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use std::path::Path;

/// The tags the registry holds for `repo` (empty when the repository does not exist).
fn registry_tags(host: &str, repo: &str) -> Vec<String> {
    let r = support::http(host, "GET", &format!("/v2/{repo}/tags/list"), &[], b"").unwrap();
    if r.status == 404 {
        return Vec::new();
    }
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let mut tags: Vec<String> = v["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tags.sort();
    tags
}

/// The manifest digest the registry serves for `repo:tag`.
fn registry_digest(host: &str, repo: &str, tag: &str) -> String {
    let r = support::http(
        host,
        "HEAD",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{repo}:{tag} is in the registry");
    r.header("Docker-Content-Digest").unwrap().to_string()
}

fn push(home: &Path, cwd: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = common::dockui(home)
        .current_dir(cwd)
        .arg("push")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), json, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_image_tag_pushes_exactly_that_tag_never_latest() {
    let test = "push_image_tag_pushes_exactly_that_tag_never_latest";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let image = format!("{}/team/app:v7", registry.host);
    if support::build_busybox(&engine, &image).await.is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    // A project config in the working directory that configures another target and other tags: the reference
    // on the command line wins.
    let cwd = home.path().join("work");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::write(
        cwd.join(".dockui.toml"),
        "[push]\nregistry = \"127.0.0.1:9\"\nrepository = \"elsewhere/x\"\ntags = [\"latest\", \"stable\"]\n",
    )
    .unwrap();

    let (code, report, stderr) = push(home.path(), &cwd, &[&image]);
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    assert_eq!(report["repository"], format!("{}/team/app", registry.host));
    assert_eq!(
        registry_tags(&registry.host, "team/app"),
        vec!["v7".to_string()],
        "v7 reaches the registry, latest does not"
    );
    let tags = report["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 1, "{report:#}");
    assert_eq!(tags[0]["tag"], "v7");
    let served = registry_digest(&registry.host, "team/app", "v7");
    assert_eq!(tags[0]["registry_digest"].as_str(), Some(served.as_str()));
    assert_eq!(tags[0]["digest"].as_str(), Some(served.as_str()));
    assert_eq!(report["smoke_failed"], false);

    // -t replaces the reference's tag: exactly v8 and v9 are added, v7 stays as it was, still no latest.
    let (code, report, stderr) = push(home.path(), &cwd, &[&image, "-t", "v8", "--tag", "v9"]);
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    assert_eq!(
        registry_tags(&registry.host, "team/app"),
        vec!["v7", "v8", "v9"]
    );
    let pushed: Vec<&str> = report["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    assert_eq!(pushed, vec!["v8", "v9"]);
    for t in report["tags"].as_array().unwrap() {
        let tag = t["tag"].as_str().unwrap();
        assert_eq!(
            t["registry_digest"].as_str(),
            Some(registry_digest(&registry.host, "team/app", tag).as_str())
        );
    }
    support::remove_images(
        &engine,
        &[
            image.clone(),
            format!("{}/team/app:v8", registry.host),
            format!("{}/team/app:v9", registry.host),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_failed_image_is_pushed_only_with_force_and_marked() {
    let test = "smoke_failed_image_is_pushed_only_with_force_and_marked";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let base = format!("dockui-test/pushbase:{}", std::process::id());
    if support::build_busybox(&engine, &base).await.is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {base}\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"),
    )
    .unwrap();
    let image = format!("{}/team/smoky", registry.host);
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"{image}\"\ntag = \"s1\"\nmax_attempts = 1\n[smoke]\ncommands = [\"echo broken >&2; exit 3\"]\ninfer = false\n"
        ),
    )
    .unwrap();
    let build = common::dockui(home.path())
        .args(["build", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        build.status.code(),
        Some(1),
        "the smoke test fails the build: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let outcome: serde_json::Value = serde_json::from_slice(&build.stdout).unwrap();
    assert!(outcome["image_id"].as_str().is_some(), "{outcome:#}");

    let dir_arg = dir.display().to_string();
    let (code, report, stderr) = push(home.path(), home.path(), &[&dir_arg]);
    assert_eq!(code, 2, "refused without --force: {stderr}\n{report:#}");
    assert_eq!(report["smoke_failed"], true);
    assert!(
        report["error"].as_str().unwrap().contains("--force"),
        "{report:#}"
    );
    assert!(registry_tags(&registry.host, "team/smoky").is_empty());

    let (code, report, stderr) = push(home.path(), home.path(), &[&dir_arg, "--force"]);
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    assert_eq!(report["smoke_failed"], true);
    assert_eq!(report["forced"], true);
    assert_eq!(registry_tags(&registry.host, "team/smoky"), vec!["s1"]);
    // The human output warns too.
    let human = common::dockui(home.path())
        .args(["push", "--force"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("failed its smoke tests"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
    support::remove_images(&engine, &[format!("{image}:s1"), base]).await;
}
