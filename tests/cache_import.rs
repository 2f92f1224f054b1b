//! Cache import/export on the real engine (issue 13, point 6): build with inline cache, push to a real local
//! registry, remove the image and this build's cache records from the engine, rebuild with `cache_from` the
//! registry reference: the RUN step is CACHED (it did not run again). The control: the same rebuild without
//! `cache_from` runs the step. And what the engine cannot do (registry cache export) is refused before the
//! build with the working alternative.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use dockui::docker::BuildSpec;
use std::process::Command;

use common::cache::{
    RemoveImage, base_spec, build, build_ok, forget, inline_cache_build, project, step_ran,
    step_was_cached,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn inline_cache_pushed_to_a_registry_is_imported_on_a_rebuild() {
    let test = "inline_cache_pushed_to_a_registry_is_imported_on_a_rebuild";
    let engine = common::engine_or_skip(test).await.unwrap();
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("dockui-cache-{}-{}", std::process::id(), registry.port);
    project(dir.path(), &marker);
    let image = format!("{}/dockui-test/cache", registry.host);
    let tag = format!("{image}:v1");
    let _cleanup = RemoveImage(tag.clone());
    let base = base_spec(dir.path(), &tag);

    // 1. Build with inline cache export, push.
    let (lines, cold) = inline_cache_build(&engine, &base).await;
    assert!(step_ran(&lines, &marker), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cache export type=inline: supported")),
        "{lines:#?}"
    );
    let push = Command::new("docker")
        .args(["push", &tag])
        .output()
        .unwrap();
    assert!(push.status.success(), "{push:?}");

    // 2. Forget it locally: the image and this build's cache records.
    let pruned = forget(&tag, std::slice::from_ref(&marker)).await;
    assert!(
        pruned >= 1,
        "this build's RUN record was in the engine's cache"
    );

    // 3. Rebuild importing the registry cache: the RUN step is CACHED, it did not run.
    let t1 = std::time::Instant::now();
    let lines = build_ok(
        &engine,
        BuildSpec {
            cache_from: vec![format!("type=registry,ref={tag}")],
            ..base.clone()
        },
    )
    .await;
    let warm = t1.elapsed();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("importing cache manifest from")),
        "{lines:#?}"
    );
    assert!(step_was_cached(&lines, &marker), "{lines:#?}");
    assert!(!step_ran(&lines, &marker), "the step ran again: {lines:#?}");
    eprintln!(
        "cache import: cold build {:.1}s, rebuild with the registry cache {:.1}s",
        cold.as_secs_f64(),
        warm.as_secs_f64()
    );

    // 4. Control: the same rebuild without cache_from, after forgetting again, runs the step.
    forget(&tag, std::slice::from_ref(&marker)).await;
    let lines = build_ok(&engine, base.clone()).await;
    assert!(!step_was_cached(&lines, &marker), "{lines:#?}");
    assert!(step_ran(&lines, &marker), "{lines:#?}");
    forget(&tag, std::slice::from_ref(&marker)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_registry_cache_export_on_the_engine_is_refused_before_the_build_with_the_alternative() {
    let engine = common::engine_or_skip("registry_export_refused")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "refused");
    let (r, lines) = build(
        &engine,
        BuildSpec {
            context_dir: dir.path().to_path_buf(),
            dockerfile: "Dockerfile".into(),
            tag: format!("dockui-test/cache-refused:{}", std::process::id()),
            cache_to: vec!["type=registry,ref=127.0.0.1:5999/x:cache,mode=max".into()],
            ..Default::default()
        },
    )
    .await;
    let err = r.unwrap_err();
    assert!(err.is_setup(), "exit 2, nothing built: {err:?}");
    let msg = err.to_string();
    assert!(msg.contains("exports only type=inline"), "{msg}");
    assert!(msg.contains("--cache-to type=inline"), "{msg}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cache export type=registry") && l.contains("NOT supported")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("#1")),
        "no build started: {lines:#?}"
    );
}

/// `dockui build --cache-to/--cache-from` from the outside: an unsupported exporter and a malformed entry are
/// exit 2 before anything is built, with the message on stderr and in the JSON.
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn the_cli_flags_are_checked_before_the_build() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    project(&dir, "cli-flags");
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nimage = \"dockui-test/cache-cli\"\nmax_attempts = 1\nnetwork = \"none\"\n[smoke]\ninfer = false\n",
    )
    .unwrap();
    for (flags, needle) in [
        (
            vec![
                "--cache-to",
                "type=registry,ref=127.0.0.1:5999/x:cache,mode=max",
            ],
            "exports only type=inline",
        ),
        (
            vec!["--cache-to", "type=s3,bucket=x"],
            "unknown cache type `s3`",
        ),
        (vec!["--cache-from", "type=local"], "needs src="),
        // The engine cannot write a local cache directory; the message says it can read one.
        (
            vec!["--cache-to", "type=local,dest=/nonexistent/dockui-cache"],
            "--cache-from type=local,src=DIR",
        ),
        (
            vec!["--cache-from", "type=local,src=/nonexistent/dockui-cache"],
            "is not a directory",
        ),
    ] {
        let out = common::dockui(home.path())
            .args(["build", "--format", "json"])
            .args(&flags)
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(needle), "{flags:?}: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON result");
        assert_eq!(v["success"], false);
        assert!(!stderr.contains("#1 "), "nothing was built: {stderr}");
        // Every refusal carries a diagnosis (it said "matches no known signature" for the invalid ones).
        let sig = v["attempts"][0]["diagnosis"]["signature"]
            .as_str()
            .unwrap_or("none");
        assert!(
            ["cache-entry-invalid", "cache-exporter-unknown"].contains(&sig),
            "{flags:?}: {sig}: {v:#}"
        );
        assert!(
            !stderr.contains("matches no known signature"),
            "{flags:?}: {stderr}"
        );
    }
}

/// Credentials in cache entries (`token=` of gha, `secret_access_key=` of s3/azblob, a password in a
/// reference), given as flags or in `[build] cache_to`, whether the entry parses or not: never on stdout or
/// stderr, in the JSON, the build log, the build record or dockui's own log file.
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn cache_credentials_never_leave_dockui() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    project(&dir, "cache-secrets");
    let config = |cache_to: &str| {
        format!(
            "[build]\nimage = \"dockui-test/cache-secrets\"\nmax_attempts = 1\nnetwork = \"none\"\ncache_to = [{cache_to:?}]\n[smoke]\ninfer = false\n"
        )
    };
    let secrets = [
        "SEKRITs3key",
        "SEKRITazkey",
        "SEKRITghatoken",
        "SEKRITmodetoken",
        "SEKRITrefpass",
        "SEKRITconfigtoken",
    ];
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec![
                "--cache-to",
                "type=s3,bucket=b,region=r,secret_access_key=SEKRITs3key",
            ],
            "type=inline",
            "unknown cache type `s3`",
        ),
        (
            vec![
                "--cache-from",
                "type=azblob,account_url=https://a.example,secret_access_key=SEKRITazkey",
            ],
            "type=inline",
            "unknown cache type `azblob`",
        ),
        // Parses; the engine cannot export it: refused with the entry quoted (masked).
        (
            vec![
                "--cache-to",
                "type=gha,token=SEKRITghatoken,url=http://127.0.0.1:9/",
            ],
            "type=inline",
            "token=***",
        ),
        (
            vec!["--cache-to", "type=gha,token=SEKRITmodetoken,mode=all"],
            "type=inline",
            "mode is min or max",
        ),
        (
            vec![
                "--cache-to",
                "type=registry,ref=ci:SEKRITrefpass@127.0.0.1:5999/x:cache",
            ],
            "type=inline",
            "docker login",
        ),
        // From the project's config.
        (
            vec![],
            "type=gha,token=SEKRITconfigtoken,url=http://127.0.0.1:9/",
            "token=***",
        ),
    ];
    for (flags, cache_to, needle) in cases {
        std::fs::write(dir.join(".dockui.toml"), config(cache_to)).unwrap();
        let out = common::dockui(home.path())
            .args(["build", "--format", "json"])
            .args(&flags)
            .arg(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(needle), "{flags:?}: {stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON result");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{flags:?}: {v:#}"
        );
        for s in secrets {
            assert!(!stdout.contains(s), "{flags:?}: {s} on stdout: {stdout}");
            assert!(!stderr.contains(s), "{flags:?}: {s} on stderr: {stderr}");
        }
    }
    // Every file dockui wrote (build logs, build records, its log file, history).
    let mut written = 0;
    for dir in ["state", "data", "config"] {
        for entry in walk(&home.path().join(dir)) {
            let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).to_string();
            written += 1;
            for s in secrets {
                assert!(!text.contains(s), "{s} in {}: {text}", entry.display());
            }
        }
    }
    assert!(
        written >= 6,
        "dockui wrote its logs and records: {written} files"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

/// The engine's legacy builder ([build] builder = "legacy") reads `--cache-from` images from the engine's store
/// only and never pulls them: for a reference that is not there dockui says it gives no cache (it said
/// "supported" and nothing more); for one that is there it says nothing.
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn the_legacy_builder_says_a_cache_image_it_does_not_have_gives_no_cache() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    project(&dir, "legacy-cache-from");
    let tag = format!("dockui-test/legacy-cache:{}", std::process::id());
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nbuilder = \"legacy\"\nmax_attempts = 1\nnetwork = \"none\"\n[smoke]\ninfer = false\n",
    )
    .unwrap();
    let missing = format!("127.0.0.1:5999/dockui-test/not-here:{}", std::process::id());
    let run = |cache_from: &str| {
        common::dockui(home.path())
            .args(["build", "-t", &tag, "--cache-from", cache_from])
            .arg(&dir)
            .output()
            .unwrap()
    };
    let out = run(&format!("type=registry,ref={missing}"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the legacy builder does not pull cache images, and {missing} is not in this engine"
        )),
        "{stderr}"
    );
    // The image just built is in the engine: no note.
    let out = run(&tag);
    let stderr2 = String::from_utf8_lossy(&out.stderr).to_string();
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
    assert_eq!(out.status.code(), Some(0), "{stderr2}");
    assert!(!stderr2.contains("does not pull cache images"), "{stderr2}");
}
