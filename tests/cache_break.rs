//! Why the cache broke, on real rebuilds of one project: nothing changed (no break), a COPY source file
//! changed (named), a build arg value changed (the first RUN after it), a Dockerfile line edited; in the build
//! JSON (`cache_break`) and on stderr with the build log.

mod common;

use serde_json::Value;
use std::path::Path;

const DOCKERFILE: &str = "FROM scratch\nCOPY busybox /bin/busybox\nARG V=1\nCOPY app/ /app/\nRUN [\"/bin/busybox\", \"true\"]\n";

fn build(home: &Path, dir: &Path, extra: &[&str]) -> (Value, String) {
    let out = common::dockui(home)
        .args(["build", dir.to_str().unwrap(), "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilds_name_the_first_step_that_missed_the_cache_and_why() {
    let test = "rebuilds_name_the_first_step_that_missed_the_cache_and_why";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let Some(bb) = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
    else {
        assert!(
            std::env::var("DOCKUI_REQUIRE_DOCKER").as_deref() != Ok("1"),
            "{test}: no static busybox (apt-get install busybox-static)"
        );
        eprintln!("SKIPPED {test}: no static busybox");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("cacheproj");
    std::fs::create_dir_all(dir.join("app/sub")).unwrap();
    std::fs::copy(bb, dir.join("busybox")).unwrap();
    std::fs::write(dir.join("app/a.txt"), "a").unwrap();
    std::fs::write(dir.join("app/sub/b.txt"), "b").unwrap();
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"dockui-test/after-cache\"\ntag = \"{}\"\nmax_attempts = 1\n[smoke]\ninfer = false\n",
            std::process::id()
        ),
    )
    .unwrap();

    let (first, _) = build(home.path(), &dir, &[]);
    assert!(
        first["cache_break"].is_null(),
        "no previous build: {first:#}"
    );
    let (same, stderr) = build(home.path(), &dir, &[]);
    assert!(same["cache_break"].is_null(), "{same:#}");
    assert!(!stderr.contains("cache broke"));

    std::fs::write(dir.join("app/sub/b.txt"), "b changed").unwrap();
    let (copy, stderr) = build(home.path(), &dir, &[]);
    let b = &copy["cache_break"];
    assert_eq!(b["reason"], "copy_source_changed", "{copy:#}");
    assert_eq!(b["detail"], "app/sub/b.txt");
    assert_eq!(b["step"], 4);
    assert_eq!(b["line"], 4);
    assert!(
        stderr.contains(
            "cache broke at line 4 (COPY app/ /app/): a COPY source file changed: app/sub/b.txt"
        ),
        "{stderr}"
    );
    // Said once: predicted beside the build, not repeated after it when the build's inputs agree.
    assert_eq!(stderr.matches("cache broke").count(), 1, "{stderr}");
    // --quiet: only in the JSON.
    std::fs::write(dir.join("app/sub/b.txt"), "quiet change").unwrap();
    let (quiet, stderr) = build(home.path(), &dir, &["--quiet"]);
    assert!(!quiet["cache_break"].is_null(), "{quiet:#}");
    assert!(!stderr.contains("cache broke"), "{stderr}");

    let (arg, _) = build(home.path(), &dir, &["--build-arg", "V=2"]);
    assert_eq!(arg["cache_break"]["reason"], "build_arg_changed", "{arg:#}");
    assert_eq!(arg["cache_break"]["detail"], "V: 1 -> 2");
    assert_eq!(arg["cache_break"]["step"], 5);

    std::fs::write(
        dir.join("Dockerfile"),
        DOCKERFILE.replace("ARG V=1", "ARG V=3"),
    )
    .unwrap();
    let (edit, _) = build(home.path(), &dir, &["--build-arg", "V=2"]);
    assert_eq!(
        edit["cache_break"]["reason"], "dockerfile_edited",
        "{edit:#}"
    );
    assert_eq!(edit["cache_break"]["line"], 3);

    // Remove each build's image by id, with all its tags.
    let docker = engine.client().unwrap();
    for v in [&first, &same, &copy, &arg, &edit] {
        let id = v["image_id"].as_str().unwrap();
        let _ = docker
            .remove_image(
                id,
                Some(
                    bollard::query_parameters::RemoveImageOptionsBuilder::new()
                        .force(true)
                        .build(),
                ),
                None,
            )
            .await;
    }
}
